//! The net scenarios on tokio: current_thread or multi_thread with 2 workers; client and
//! server tasks in the same runtime.

use std::io;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures_lite::future::poll_once;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;

use super::{Latencies, LOOPBACK};

/// `current_thread` (`workers == 0`) or `multi_thread` with `workers` workers.
pub fn runtime(workers: usize) -> io::Result<Runtime> {
    if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .enable_all()
            .build()
    }
}

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    socket2::SockRef::from(t).set_linger(Some(Duration::ZERO))
}

async fn connect_accept(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let addr = listener.local_addr()?;
    let (c, s) = futures_lite::future::zip(TcpStream::connect(addr), listener.accept()).await;
    let (c, (s, _)) = (c?, s?);
    tune(&c)?;
    tune(&s)?;
    Ok((c, s))
}

async fn pair() -> io::Result<(TcpStream, TcpStream)> {
    connect_accept(&TcpListener::bind(LOOPBACK).await?).await
}

async fn echo<S: AsyncReadExt + AsyncWriteExt + Unpin>(mut s: S) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf).await? {
            0 => return Ok(()),
            n => s.write_all(&buf[..n]).await?,
        }
    }
}

pub fn pingpong(rt: &Runtime, size: usize, n: usize) -> io::Result<Latencies> {
    rt.block_on(async {
        let (mut c, s) = pair().await?;
        let server = tokio::spawn(echo(s));
        let msg = vec![7u8; size];
        let mut buf = vec![0u8; size];
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            c.write_all(&msg).await?;
            c.read_exact(&mut buf).await?;
            lat.push(t.elapsed());
        }
        c.shutdown().await?;
        server.await.map_err(io::Error::other)??;
        Ok(Latencies(lat))
    })
}

pub fn pairs(rt: &Runtime, pairs: usize, size: usize, budget: Duration) -> io::Result<f64> {
    rt.block_on(async {
        let mut clients = Vec::new();
        for _ in 0..pairs {
            let (c, s) = pair().await?;
            tokio::spawn(echo(s));
            clients.push(c);
        }
        let start = Instant::now();
        let handles: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                tokio::spawn(async move {
                    let msg = vec![7u8; size];
                    let mut buf = vec![0u8; size];
                    let mut trips = 0u64;
                    while start.elapsed() < budget {
                        c.write_all(&msg).await?;
                        c.read_exact(&mut buf).await?;
                        trips += 1;
                    }
                    c.shutdown().await?;
                    Ok::<_, io::Error>(trips)
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await.map_err(io::Error::other)??;
        }
        Ok(total as f64 / start.elapsed().as_secs_f64())
    })
}

/// Writes until `budget` passes, then shuts down; hands the writer back, so the socket
/// stays open (linger 0 would reset it on close) until every reader is done.
async fn send_for<W: AsyncWriteExt + Unpin>(
    mut w: W,
    chunk: usize,
    start: Instant,
    budget: Duration,
) -> io::Result<W> {
    let data = vec![1u8; chunk];
    while start.elapsed() < budget {
        w.write_all(&data).await?;
    }
    w.shutdown().await?;
    Ok(w)
}

/// Reads until end of stream; returns the count and the reader (kept open, as above).
async fn drain<R: AsyncReadExt + Unpin>(mut r: R) -> io::Result<(u64, R)> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf).await? {
            0 => return Ok((total, r)),
            n => total += n as u64,
        }
    }
}

pub fn unidirectional(rt: &Runtime, budget: Duration, chunk: usize) -> io::Result<f64> {
    rt.block_on(async {
        let (c, s) = pair().await?;
        let reader = tokio::spawn(drain(s));
        let start = Instant::now();
        let _writer = send_for(c, chunk, start, budget).await?;
        let (total, _reader) = reader.await.map_err(io::Error::other)??;
        Ok(total as f64 / start.elapsed().as_secs_f64())
    })
}

pub fn bidirectional(rt: &Runtime, budget: Duration, chunk: usize) -> io::Result<f64> {
    rt.block_on(async {
        let (c, s) = pair().await?;
        let start = Instant::now();
        let (mut readers, mut writers) = (Vec::new(), Vec::new());
        for sock in [c, s] {
            let (r, w) = sock.into_split();
            writers.push(tokio::spawn(send_for(w, chunk, start, budget)));
            readers.push(tokio::spawn(drain(r)));
        }
        let (mut total, mut open) = (0, Vec::new());
        for h in readers {
            let (n, r) = h.await.map_err(io::Error::other)??;
            total += n;
            open.push(r);
        }
        let elapsed = start.elapsed();
        for h in writers {
            h.await.map_err(io::Error::other)??;
        }
        Ok(total as f64 / elapsed.as_secs_f64())
    })
}

pub fn timer_churn(rt: &Runtime, budget: Duration) -> io::Result<f64> {
    rt.block_on(async {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            for _ in 0..1000 {
                let mut d = pin!(tokio::time::sleep(Duration::from_secs(10)));
                assert!(poll_once(d.as_mut()).await.is_none());
            }
            n += 1000;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })
}

pub fn timer_fire(rt: &Runtime, n: usize) -> io::Result<f64> {
    timer_fire_round(rt, n)?; // warm-up
    timer_fire_round(rt, n)
}

fn timer_fire_round(rt: &Runtime, n: usize) -> io::Result<f64> {
    rt.block_on(async {
        let start = Instant::now();
        let handles: Vec<_> = (0..n)
            .map(|i| {
                let at = start + Duration::from_micros((i % 5000) as u64);
                tokio::spawn(tokio::time::sleep_until(at.into()))
            })
            .collect();
        for h in handles {
            h.await.map_err(io::Error::other)?;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })
}

pub fn accept_churn(rt: &Runtime, budget: Duration) -> io::Result<f64> {
    rt.block_on(async {
        let listener = TcpListener::bind(LOOPBACK).await?;
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            connect_accept(&listener).await?;
            n += 1;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })
}
