//! Strait code on async-std sees the adapter: spawns become async-std tasks that see
//! the adapter's executor, `delay`/`timeout` run on its timer, strands work; and the
//! allocation budget (one allocation per spawn at most, none per read or write).

use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_async_std::{AsyncStdExecutor, TcpListener, TcpStream};
use strait_conformance::process_allocations;
use strait_streams::{delay, env, read_exact, timeout, write_all, Strand};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

/// Serializes this file's tests: the allocation test counts the whole process.
static GATE: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn gate() -> std::sync::MutexGuard<'static, ()> {
    GATE.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

#[test]
fn spawned_tasks_are_async_std_tasks_and_see_the_adapter() {
    let _gate = gate();
    let executor = AsyncStdExecutor::new();
    let ex = executor.executor();
    let seen = executor.block_on(async move {
        env()
            .executor()
            .spawn(async move {
                (
                    async_std::task::try_current().is_some(),
                    env().executor() == ex,
                )
            })
            .await
            .unwrap()
    });
    assert_eq!(seen, (true, true));
}

#[test]
fn delays_and_timeouts_run_on_the_adapters_timer() {
    let _gate = gate();
    let executor = AsyncStdExecutor::new();
    let timer = executor.timer().clone();
    executor.block_on(async {
        let start = Instant::now();
        delay(Duration::from_millis(20)).await.unwrap();
        assert!(start.elapsed() >= Duration::from_millis(20));
        let err = timeout(Duration::from_millis(20), delay(Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
    });
    assert_eq!(timer.scheduled(), 0);
}

#[test]
fn strands_run_through_posts() {
    let _gate = gate();
    let executor = AsyncStdExecutor::new();
    let strand = Strand::new(executor.executor());
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let log = log.clone();
            strand.spawn(async move {
                strait_streams::yield_now().await;
                log.lock().unwrap().push(i);
            })
        })
        .collect();
    executor.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.lock().unwrap(), (0..50).collect::<Vec<_>>());
}

const ROUNDS: u64 = 200;

/// The fewest allocations `$round` made over `ROUNDS` runs, in any of five windows.
macro_rules! fewest_per_window {
    ($round:expr) => {{
        for _ in 0..ROUNDS {
            $round;
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

#[test]
fn allocation_budget() {
    let _gate = gate();
    let executor = AsyncStdExecutor::new();
    let ex = executor.clone();
    executor.block_on(async move {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let mut a = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (mut b, _) = listener.accept().await.unwrap();
        let mut buf = [0u8; 64];
        let n = fewest_per_window!({
            write_all(&mut a, &[7u8; 64][..]).await.unwrap();
            read_exact(&mut b, &mut buf[..]).await.unwrap();
        });
        assert_eq!(n, 0, "TcpStream: {n} allocations per {ROUNDS} round trips");

        let n = fewest_per_window!(ex.spawn(async {}).await.unwrap());
        println!("{n} allocations per {ROUNDS} spawns");
        // As on smol, slack for async-io's occasional reactor turn; a second
        // allocation per spawn would show as twice the rounds.
        assert!(
            n <= ROUNDS + ROUNDS / 10,
            "{n} allocations per {ROUNDS} spawns: more than one per spawn"
        );
    });
}

#[test]
fn local_tasks_run_beside_async_std() {
    let _gate = gate();
    let smol = std::rc::Rc::new(async_executor::LocalExecutor::new());
    let local = strait_async_std::LocalExecutor::new(&smol);
    let shared = std::rc::Rc::new(std::cell::Cell::new(0));
    let s = shared.clone();
    let task = local.spawn_local(async move {
        // An async-std socket inside a `!Send` strait task.
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut client = TcpStream::connect(listener.local_addr()?).await?;
        let (mut server, _) = listener.accept().await?;
        write_all(&mut client, "x").await?;
        let mut buf = [0u8; 1];
        read_exact(&mut server, &mut buf[..]).await?;
        s.set(s.get() + 1); // `Rc` across awaits
        std::io::Result::Ok(buf[0])
    });
    assert_eq!(local.block_on(task).unwrap().unwrap(), b'x');
    assert_eq!(shared.get(), 1);
}
