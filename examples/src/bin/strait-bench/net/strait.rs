//! The net scenarios on strait-native: one `IoContext`, run by the calling thread (and,
//! for `runners > 1`, extra threads running the same context), on the backend the
//! subject names (explicitly: `STRAIT_NATIVE_BACKEND` does not change a row).

use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_lite::future::poll_once;
use strait_native::{Backend, IoContext, TcpListener, TcpStream};
use strait_streams::{
    delay, read_exact, when_all, write_all, BufferSource, BufferSourceExt, ReadStreamExt,
    WriteStreamExt,
};

use super::{Latencies, LOOPBACK};

std::thread_local! {
    /// The share of completion-path reads (io_uring) that completed inline in the last
    /// scenario run on this thread, in percent; `None` when it made none (epoll).
    static INLINE: std::cell::Cell<Option<f64>> = const { std::cell::Cell::new(None) };
}

/// Records `ctx`'s inline-read share (see [`take_inline`]).
fn note(ctx: &IoContext) {
    let stats = ctx.stats();
    let reads = stats.reads_inline + stats.reads_waited;
    INLINE.set((reads > 0).then(|| 100.0 * stats.inline_read_fraction()));
}

/// The inline-read share recorded by the last scenario (io_uring subjects), taken.
pub fn take_inline() -> Option<f64> {
    INLINE.take()
}

/// A context on `backend`, for one runner thread or several.
fn context(backend: Backend, single_threaded: bool) -> io::Result<IoContext> {
    IoContext::builder()
        .backend(backend)
        .single_threaded(single_threaded)
        .build()
}

fn join_err(e: strait_streams::JoinError) -> io::Error {
    io::Error::other(e.to_string())
}

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    t.set_linger(Some(Duration::ZERO))
}

fn pair(ctx: &IoContext) -> io::Result<(TcpStream, TcpStream)> {
    let listener = TcpListener::bind(ctx, LOOPBACK)?;
    let addr = listener.local_addr()?;
    let (c, (s, _)) =
        ctx.block_on(async { when_all((TcpStream::connect(ctx, addr), listener.accept())).await })?;
    tune(&c)?;
    tune(&s)?;
    Ok((c, s))
}

/// Runs `main` on this thread with `runners - 1` extra threads running `ctx` until its
/// spawned tasks are done.
fn with_runners<T>(ctx: &Arc<IoContext>, runners: usize, main: impl FnOnce() -> T) -> T {
    let extra: Vec<_> = (1..runners)
        .map(|_| {
            let ctx = ctx.clone();
            std::thread::spawn(move || ctx.run())
        })
        .collect();
    let out = main();
    for t in extra {
        let _ = t.join();
    }
    out
}

/// Echoes every byte until end of stream.
async fn echo(mut s: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf[..]).await? {
            0 => return Ok(()),
            n => write_all(&mut s, &buf[..n]).await?,
        };
    }
}

pub fn pingpong(backend: Backend, size: usize, n: usize) -> io::Result<Latencies> {
    let ctx = context(backend, true)?;
    let (mut c, s) = pair(&ctx)?;
    let server = ctx.spawn(echo(s));
    let lat = ctx.block_on(async {
        let msg = vec![7u8; size];
        let mut buf = vec![0u8; size];
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            write_all(&mut c, &msg[..]).await?;
            read_exact(&mut c, &mut buf[..]).await?;
            lat.push(t.elapsed());
        }
        c.shutdown().await?;
        Ok::<_, io::Error>(lat)
    })?;
    ctx.block_on(server).map_err(join_err)??;
    note(&ctx);
    Ok(Latencies(lat))
}

/// Kernel calls the reactor makes per round trip (`IoStats::enters`: `epoll_wait` and
/// `epoll_ctl`, or `io_uring_enter`) over `n` ping-pong round trips of `size` bytes on
/// one connection, client and server in the same single-threaded context. The
/// sockets' own `send`/`recv` calls, the same on both backends, are not counted.
pub fn reactor_calls_per_trip(backend: Backend, size: usize, n: usize) -> io::Result<f64> {
    let ctx = context(backend, true)?;
    let (mut c, s) = pair(&ctx)?;
    let server = ctx.spawn(echo(s));
    let before = ctx.stats();
    ctx.block_on(async {
        let msg = vec![7u8; size];
        let mut buf = vec![0u8; size];
        for _ in 0..n {
            write_all(&mut c, &msg[..]).await?;
            read_exact(&mut c, &mut buf[..]).await?;
        }
        Ok::<_, io::Error>(())
    })?;
    let calls = ctx.stats().enters - before.enters;
    ctx.block_on(async { c.shutdown().await })?;
    ctx.block_on(server).map_err(join_err)??;
    Ok(calls as f64 / n as f64)
}

/// `pairs` connections each doing round trips of `size` bytes until `budget` passes;
/// round trips per second over all of them.
pub fn pairs(
    backend: Backend,
    runners: usize,
    pairs: usize,
    size: usize,
    budget: Duration,
) -> io::Result<f64> {
    let ctx = Arc::new(context(backend, false)?);
    let mut clients = Vec::new();
    for _ in 0..pairs {
        let (c, s) = pair(&ctx)?;
        ctx.spawn(echo(s)).detach();
        clients.push(c);
    }
    let start = Instant::now();
    let handles: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            ctx.spawn(async move {
                let msg = vec![7u8; size];
                let mut buf = vec![0u8; size];
                let mut trips = 0u64;
                while start.elapsed() < budget {
                    write_all(&mut c, &msg[..]).await?;
                    read_exact(&mut c, &mut buf[..]).await?;
                    trips += 1;
                }
                c.shutdown().await?;
                Ok::<_, io::Error>(trips)
            })
        })
        .collect();
    let total = with_runners(&ctx, runners, || {
        ctx.block_on(async {
            let mut total = 0;
            for h in handles {
                total += h.await.map_err(join_err)??;
            }
            Ok::<_, io::Error>(total)
        })
    })?;
    note(&ctx);
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Writes `chunk`-sized buffers until `budget` passes, then shuts down.
async fn send_for(
    mut w: &TcpStream,
    chunk: usize,
    start: Instant,
    budget: Duration,
) -> io::Result<()> {
    let data = vec![1u8; chunk];
    while start.elapsed() < budget {
        write_all(&mut w, &data[..]).await?;
    }
    w.shutdown().await
}

/// Reads until end of stream; returns the byte count.
async fn drain(mut r: &TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf[..]).await? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

pub fn unidirectional(backend: Backend, budget: Duration, chunk: usize) -> io::Result<f64> {
    let ctx = context(backend, true)?;
    let (c, s) = pair(&ctx)?;
    let reader = ctx.spawn(async move { drain(&s).await });
    let start = Instant::now();
    ctx.block_on(send_for(&c, chunk, start, budget))?;
    let total = ctx.block_on(reader).map_err(join_err)??;
    note(&ctx);
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Pulls (`BufferSource`) until end of stream without touching the bytes; returns
/// the byte count.
async fn drain_pull(mut r: TcpStream) -> io::Result<u64> {
    let mut total = 0u64;
    loop {
        match r.fill().await? {
            0 => return Ok(total),
            n => {
                std::pin::Pin::new(&mut r).consume(n);
                total += n as u64;
            }
        }
    }
}

/// [`unidirectional`] with a pulling reader ([`drain_pull`]).
pub fn unidirectional_pull(backend: Backend, budget: Duration, chunk: usize) -> io::Result<f64> {
    let ctx = context(backend, true)?;
    let (c, s) = pair(&ctx)?;
    let reader = ctx.spawn(drain_pull(s));
    let start = Instant::now();
    ctx.block_on(send_for(&c, chunk, start, budget))?;
    let total = ctx.block_on(reader).map_err(join_err)??;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Both ends send and receive at once (a reader and a writer task per socket, sharing
/// it by reference); bytes per second over both directions.
pub fn bidirectional(backend: Backend, budget: Duration, chunk: usize) -> io::Result<f64> {
    let ctx = context(backend, true)?;
    let (c, s) = pair(&ctx)?;
    let (c, s) = (Arc::new(c), Arc::new(s));
    let start = Instant::now();
    let mut readers = Vec::new();
    for sock in [&c, &s] {
        let w = sock.clone();
        ctx.spawn(async move { send_for(&w, chunk, start, budget).await })
            .detach();
        let r = sock.clone();
        readers.push(ctx.spawn(async move { drain(&r).await }));
    }
    let total = ctx.block_on(async {
        let mut total = 0;
        for h in readers {
            total += h.await.map_err(join_err)??;
        }
        Ok::<_, io::Error>(total)
    })?;
    note(&ctx);
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Timers scheduled (first poll) and canceled (drop) per second.
pub fn timer_churn(backend: Backend, budget: Duration) -> io::Result<f64> {
    let ctx = context(backend, true)?;
    ctx.block_on(async {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            for _ in 0..1000 {
                let mut d = pin!(delay(Duration::from_secs(10)));
                assert!(poll_once(d.as_mut()).await.is_none());
            }
            n += 1000;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })
}

/// `n` tasks each waiting on a timer due within 5 ms; timers fired per second, from
/// the first spawn to the last firing. The second of two rounds on one context counts.
pub fn timer_fire(backend: Backend, n: usize) -> io::Result<f64> {
    let ctx = context(backend, true)?;
    let round = || {
        let start = Instant::now();
        for i in 0..n {
            let at = start + Duration::from_micros((i % 5000) as u64);
            ctx.spawn(async move { strait_streams::delay_until(at).await })
                .detach();
        }
        ctx.run();
        n as f64 / start.elapsed().as_secs_f64()
    };
    round(); // warm-up
    Ok(round())
}

/// Sequential connections: connect, accept, both close (linger 0); connections per
/// second.
pub fn accept_churn(backend: Backend, budget: Duration) -> io::Result<f64> {
    let ctx = context(backend, true)?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let addr = listener.local_addr()?;
    ctx.block_on(async {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            let (c, (s, _)) = when_all((TcpStream::connect(&ctx, addr), listener.accept())).await?;
            tune(&c)?;
            tune(&s)?;
            n += 1;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })
}

/// Raises this process's soft descriptor limit to the hard limit; the limit now.
/// How many idle connections [`idle_memory`] can hold within the descriptor limit.
pub fn idle_connections_allowed() -> usize {
    (raise_fd_limit() as usize).saturating_sub(64) / 2
}

fn raise_fd_limit() -> u64 {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `getrlimit`/`setrlimit` read and write the one valid struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) == 0 && lim.rlim_cur < lim.rlim_max {
            lim.rlim_cur = lim.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
            libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        }
    }
    lim.rlim_cur
}

/// Live heap bytes (glibc malloc's statistics; the bench runs on the system allocator).
fn live_heap_bytes() -> f64 {
    // SAFETY: `mallinfo2` only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as f64
}

/// Resident set size in bytes (`/proc/self/statm`).
fn rss_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(f64::NAN);
    // SAFETY: `sysconf` only reads a system constant.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as f64
}

/// Memory per idle connection with `n` loopback connections open on `backend` (both
/// ends in this context, so a connection is a client and a server socket; each carried
/// one 4-byte exchange each way, then idles): `(live heap bytes, RSS bytes)` per
/// connection, measured from after the context, its listener and a warm-up connection
/// exist (so io_uring's shared buffer ring is not counted per connection: that is the
/// point of it).
pub fn idle_memory(backend: Backend, n: usize) -> io::Result<(f64, f64)> {
    let limit = raise_fd_limit();
    if (limit as usize) < 2 * n + 64 {
        return Err(io::Error::other(format!(
            "RLIMIT_NOFILE is {limit}: {n} connections need {}",
            2 * n + 64
        )));
    }
    let ctx = context(backend, true)?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let addr = listener.local_addr()?;
    let open = || async {
        let (mut c, (mut s, _)) =
            when_all((TcpStream::connect(&ctx, addr), listener.accept())).await?;
        tune(&c)?;
        let mut buf = [0u8; 4];
        write_all(&mut c, &b"ping"[..]).await?;
        read_exact(&mut s, &mut buf[..]).await?;
        write_all(&mut s, &b"pong"[..]).await?;
        read_exact(&mut c, &mut buf[..]).await?;
        Ok::<_, io::Error>((c, s))
    };
    ctx.block_on(async {
        let warm = open().await?;
        let (heap, rss) = (live_heap_bytes(), rss_bytes());
        let mut held = Vec::with_capacity(n);
        for _ in 0..n {
            held.push(open().await?);
        }
        let per = |after: f64, before: f64| (after - before) / n as f64;
        let out = (per(live_heap_bytes(), heap), per(rss_bytes(), rss));
        drop((warm, held));
        Ok(out)
    })
}
