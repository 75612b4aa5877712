//! The allocation budget on smol, counted on every thread: no allocation per read or
//! write through the adapters (both directions) or per `timeout` in steady state, no
//! more per `delay` than a plain `async_io::Timer` costs, and one per spawn (smol's
//! task; strait's task frame is recycled).
//!
//! A wait that async-io's reactor ends costs one allocation inside async-io (each
//! reactor turn that wakes anything collects the wakers into a fresh `Vec`): a `delay`
//! pays it once, as a plain smol timer does. The cases here that must show zero never
//! wait on the reactor.

use std::sync::Arc;
use std::time::Duration;

use futures_lite::{AsyncReadExt, AsyncWriteExt};
use strait_conformance::process_allocations;
use strait_smol::{FromFuturesIo, FuturesIo, SmolExecutor, TcpListener, TcpStream};
use strait_streams::{delay, duplex, read_exact, timeout, write_all, ReadStream, WriteStream};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

const ROUNDS: u64 = 200;

/// Serializes this file's tests: each counts the whole process's allocations.
static GATE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn gate() -> std::sync::MutexGuard<'static, ()> {
    GATE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The fewest allocations `$round` made over `ROUNDS` runs, in any of five windows
/// (a stray allocation elsewhere in the process does not count against us; one per
/// round shows in every window).
macro_rules! fewest_per_window {
    ($round:expr) => {{
        for _ in 0..ROUNDS {
            $round; // warm up: buffers, tables and caches reach their size
        }
        let mut fewest = u64::MAX;
        for _ in 0..5 {
            let before = process_allocations();
            for _ in 0..ROUNDS {
                $round;
            }
            fewest = fewest.min(process_allocations() - before);
        }
        fewest
    }};
}

/// A smol executor with one worker thread besides the blocking one.
fn runtime() -> SmolExecutor {
    let smol = Arc::new(async_executor::Executor::new());
    let worker = smol.clone();
    std::thread::spawn(move || {
        // Ends when the test drops its handles: the weak spawner then finds nothing.
        async_io::block_on(worker.run(std::future::pending::<()>()));
    });
    SmolExecutor::new(&smol)
}

async fn round_trip<A, B>(a: &mut A, b: &mut B)
where
    A: ReadStream + WriteStream + Unpin,
    B: ReadStream + WriteStream + Unpin,
{
    let mut buf = [0u8; 64];
    write_all(&mut *a, &[7u8; 64][..]).await.unwrap();
    read_exact(&mut *b, &mut buf[..]).await.unwrap();
    write_all(&mut *b, &buf[..]).await.unwrap();
    read_exact(&mut *a, &mut buf[..]).await.unwrap();
}

#[test]
fn reads_and_writes_allocate_nothing() {
    let _gate = gate();
    let executor = runtime();
    executor.block_on(async {
        // async-io socket as a strait stream.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut a = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut b, _) = listener.accept().await.unwrap();
        let n = fewest_per_window!(round_trip(&mut a, &mut b).await);
        assert_eq!(n, 0, "TcpStream: {n} allocations per {ROUNDS} round trips");

        // Any futures-io object (smol's own socket) as a strait stream.
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let x = smol::net::TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (y, _) = listener.accept().await.unwrap();
        let (mut x, mut y) = (FromFuturesIo::new(x), FromFuturesIo::new(y));
        let n = fewest_per_window!(round_trip(&mut x, &mut y).await);
        assert_eq!(
            n, 0,
            "FromFuturesIo: {n} allocations per {ROUNDS} round trips"
        );

        // A strait stream driven by futures-io code through `FuturesIo`.
        let (x, y) = duplex(4096);
        let (mut x, mut y) = (FuturesIo::new(x), FuturesIo::new(y));
        let mut buf = [0u8; 64];
        let n = fewest_per_window!({
            x.write_all(&[1u8; 64]).await.unwrap();
            x.flush().await.unwrap();
            y.read_exact(&mut buf).await.unwrap();
        });
        assert_eq!(n, 0, "FuturesIo: {n} allocations per {ROUNDS} round trips");
    });
}

#[test]
fn delays_and_timeouts_allocate_nothing() {
    let _gate = gate();
    let executor = runtime();
    executor.block_on(async {
        let n = fewest_per_window!(delay(Duration::from_micros(50)).await.unwrap());
        let plain = fewest_per_window!(async_io::Timer::after(Duration::from_micros(50)).await);
        println!("delay: {n}, async_io::Timer: {plain} allocations per {ROUNDS}");
        assert!(
            n <= plain.max(ROUNDS),
            "delay: {n} allocations per {ROUNDS} delays, a plain async-io timer {plain}"
        );
        let n = fewest_per_window!({
            let r = timeout(Duration::from_secs(60), async { std::io::Result::Ok(1) }).await;
            assert_eq!(r.unwrap(), 1);
        });
        assert_eq!(n, 0, "timeout: {n} allocations per {ROUNDS} timeouts");
    });
}

#[test]
fn a_spawn_allocates_once() {
    let _gate = gate();
    let executor = runtime();
    let ex = executor.clone();
    let n = executor.block_on(async move { fewest_per_window!(ex.spawn(async {}).await.unwrap()) });
    println!("{n} allocations per {ROUNDS} spawns");
    // Slack of a tenth for async-io's occasional reactor turn (its waker `Vec`) while
    // the blocked thread waits for the worker: a second allocation per spawn would
    // show as twice the rounds.
    assert!(
        n <= ROUNDS + ROUNDS / 10,
        "{n} allocations per {ROUNDS} spawns: more than one per spawn"
    );
    assert!(n >= ROUNDS, "smol allocates each task: {n} per {ROUNDS}");
}
