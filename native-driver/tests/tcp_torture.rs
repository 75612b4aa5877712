//! Cancellation torture through the public `TcpStream`/`TcpListener` API (on the
//! backend `STRAIT_NATIVE_BACKEND` names; `ci.sh` runs it on both): reads, writes and
//! accepts dropped mid-flight (timeouts), stopped (stop tokens) and canceled
//! (`cancel()`) at random points, while the bytes on every stream are checked end to
//! end (length and checksum: nothing lost, nothing duplicated), and no descriptor
//! outlives its socket.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{
    delay, is_canceled, timeout, with_stop_token, ReadStreamExt, StopSource, WriteStreamExt,
};

/// A small deterministic generator (xorshift64*).
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The byte at stream offset `i` (a pattern both ends can compute).
fn byte_at(i: u64) -> u8 {
    (i.wrapping_mul(2_654_435_761) >> 13) as u8
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

const CONNS: u64 = 8;
const BYTES: u64 = 6 * 1024 * 1024;

/// Writes `BYTES` of the pattern, with writes dropped, stopped and canceled at random;
/// the bytes a write reports written are the only ones counted.
async fn writer(stream: Arc<TcpStream>, seed: u64, ops: Arc<AtomicU64>) -> io::Result<()> {
    let mut rng = Rng(seed | 1);
    let mut pos = 0u64;
    let mut chunk = vec![0u8; 16 * 1024];
    while pos < BYTES {
        let n = (1 + rng.below(chunk.len() as u64)).min(BYTES - pos) as usize;
        for (k, b) in chunk[..n].iter_mut().enumerate() {
            *b = byte_at(pos + k as u64);
        }
        ops.fetch_add(1, Ordering::Relaxed);
        let mut s = &*stream;
        let r = match rng.below(4) {
            0 => match timeout(Duration::from_micros(rng.below(200)), s.write(&chunk[..n])).await {
                Ok(r) => Ok(r),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => continue, // dropped
                Err(e) => Err(e),
            },
            1 => {
                let source = StopSource::new();
                if rng.below(2) == 0 {
                    source.request_stop();
                }
                with_stop_token(source.token(), s.write(&chunk[..n])).await
            }
            _ => s.write(&chunk[..n]).await,
        };
        match r {
            Ok(w) => pos += w as u64,
            Err(e) if is_canceled(&e) => {}
            Err(e) => return Err(e),
        }
        if rng.below(8) == 0 {
            let _ = stream.cancel();
        }
    }
    // The other task's `cancel()` may complete a waiting flush as canceled: again.
    loop {
        match (&*stream).shutdown().await {
            Err(e) if is_canceled(&e) => continue,
            other => return other,
        }
    }
}

/// Reads to the end, with reads dropped, stopped and canceled at random; checks every
/// byte against the pattern and the total length.
async fn reader(stream: Arc<TcpStream>, seed: u64, ops: Arc<AtomicU64>) -> io::Result<u64> {
    let mut rng = Rng(seed | 1);
    let mut pos = 0u64;
    let mut buf = vec![0u8; 8 * 1024];
    loop {
        let len = 1 + rng.below(buf.len() as u64) as usize;
        ops.fetch_add(1, Ordering::Relaxed);
        let mut s = &*stream;
        let r = match rng.below(4) {
            0 => match timeout(
                Duration::from_micros(rng.below(300)),
                s.read(&mut buf[..len]),
            )
            .await
            {
                Ok(r) => Ok(r),
                Err(e) if e.kind() == io::ErrorKind::TimedOut => continue, // dropped
                Err(e) => Err(e),
            },
            1 => {
                let source = StopSource::new();
                if rng.below(2) == 0 {
                    source.request_stop();
                }
                with_stop_token(source.token(), s.read(&mut buf[..len])).await
            }
            _ => s.read(&mut buf[..len]).await,
        };
        match r {
            Ok(0) => return Ok(pos),
            Ok(n) => {
                for (k, &b) in buf[..n].iter().enumerate() {
                    if b != byte_at(pos + k as u64) {
                        return Err(io::Error::other(format!(
                            "byte {} differs: lost or duplicated data",
                            pos + k as u64
                        )));
                    }
                }
                pos += n as u64;
            }
            Err(e) if is_canceled(&e) => {}
            Err(e) => return Err(e),
        }
        if rng.below(8) == 0 {
            let _ = stream.cancel();
        }
    }
}

#[test]
fn reads_writes_and_accepts_dropped_stopped_and_canceled_lose_nothing() {
    let fds_before = open_fds();
    let ops = Arc::new(AtomicU64::new(0));
    {
        let ctx = IoContext::new().unwrap();
        let listener = Arc::new(TcpListener::bind(&ctx, "127.0.0.1:0").unwrap());
        let addr = listener.local_addr().unwrap();
        let acceptor = {
            let listener = listener.clone();
            let ops = ops.clone();
            ctx.spawn(async move {
                let mut rng = Rng(99);
                let mut accepted = Vec::new();
                while (accepted.len() as u64) < CONNS {
                    ops.fetch_add(1, Ordering::Relaxed);
                    let r = match rng.below(3) {
                        0 => {
                            match timeout(Duration::from_micros(rng.below(500)), listener.accept())
                                .await
                            {
                                Ok(r) => Ok(r),
                                Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
                                Err(e) => Err(e),
                            }
                        }
                        1 => {
                            let source = StopSource::new();
                            source.request_stop();
                            with_stop_token(source.token(), listener.accept()).await
                        }
                        _ => listener.accept().await,
                    };
                    match r {
                        Ok((s, _)) => accepted.push(s),
                        Err(e) if is_canceled(&e) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok::<_, io::Error>(accepted)
            })
        };
        let connects: Vec<_> = (0..CONNS)
            .map(|i| {
                let h = ctx.handle();
                ctx.spawn(async move {
                    delay(Duration::from_millis(i)).await?;
                    TcpStream::connect(&h, addr).await
                })
            })
            .collect();
        let servers = ctx.block_on(acceptor).unwrap().unwrap();
        let clients: Vec<_> = connects
            .into_iter()
            .map(|c| ctx.block_on(c).unwrap().unwrap())
            .collect();
        let mut tasks = Vec::new();
        for (i, (c, s)) in clients.into_iter().zip(servers).enumerate() {
            let (c, s) = (Arc::new(c), Arc::new(s));
            let seed = 1000 + i as u64;
            // Both directions at once on each connection.
            tasks.push(ctx.spawn(writer(c.clone(), seed, ops.clone())));
            tasks.push(ctx.spawn(writer(s.clone(), seed + 7, ops.clone())));
            let (r1, r2) = (
                ctx.spawn(reader(s, seed + 13, ops.clone())),
                ctx.spawn(reader(c, seed + 17, ops.clone())),
            );
            tasks.push(ctx.spawn(async move {
                for r in [r1.await, r2.await] {
                    let got = r.map_err(|e| io::Error::other(e.to_string()))??;
                    if got != BYTES {
                        return Err(io::Error::other(format!("read {got} of {BYTES} bytes")));
                    }
                }
                Ok(())
            }));
        }
        for t in tasks {
            ctx.block_on(t).unwrap().unwrap();
        }
        drop(listener);
    }
    assert!(ops.load(Ordering::Relaxed) > 1000, "the torture ran");
    // The context and its sockets are gone: no descriptor outlives them.
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while open_fds() > fds_before && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(open_fds(), fds_before, "descriptors leaked");
}
