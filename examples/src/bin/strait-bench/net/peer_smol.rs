//! The net scenarios on smol: one `LocalExecutor` (client and server tasks on it)
//! driven by `smol::block_on`.

use std::io;
use std::pin::pin;
use std::time::{Duration, Instant};

use futures_lite::future::poll_once;
use futures_lite::{AsyncReadExt, AsyncWriteExt};
use smol::net::{TcpListener, TcpStream};
use smol::LocalExecutor;

use super::{Latencies, LOOPBACK};

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

async fn echo(mut s: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match s.read(&mut buf).await? {
            0 => return Ok(()),
            n => s.write_all(&buf[..n]).await?,
        }
    }
}

fn on_executor<T>(f: impl AsyncFnOnce(&LocalExecutor<'static>) -> T) -> T {
    let ex = LocalExecutor::new();
    smol::block_on(ex.run(f(&ex)))
}

pub fn pingpong(size: usize, n: usize) -> io::Result<Latencies> {
    on_executor(async |ex| {
        let (mut c, s) = pair().await?;
        let server = ex.spawn(echo(s));
        let msg = vec![7u8; size];
        let mut buf = vec![0u8; size];
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            c.write_all(&msg).await?;
            c.read_exact(&mut buf).await?;
            lat.push(t.elapsed());
        }
        c.close().await?;
        server.await?;
        Ok(Latencies(lat))
    })
}

pub fn pairs(pairs: usize, size: usize, budget: Duration) -> io::Result<f64> {
    on_executor(async |ex| {
        let mut clients = Vec::new();
        for _ in 0..pairs {
            let (c, s) = pair().await?;
            ex.spawn(echo(s)).detach();
            clients.push(c);
        }
        let start = Instant::now();
        let handles: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                ex.spawn(async move {
                    let msg = vec![7u8; size];
                    let mut buf = vec![0u8; size];
                    let mut trips = 0u64;
                    while start.elapsed() < budget {
                        c.write_all(&msg).await?;
                        c.read_exact(&mut buf).await?;
                        trips += 1;
                    }
                    c.close().await?;
                    Ok::<_, io::Error>(trips)
                })
            })
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await?;
        }
        Ok(total as f64 / start.elapsed().as_secs_f64())
    })
}

async fn send_for(
    mut w: TcpStream,
    chunk: usize,
    start: Instant,
    budget: Duration,
) -> io::Result<()> {
    let data = vec![1u8; chunk];
    while start.elapsed() < budget {
        w.write_all(&data).await?;
    }
    w.close().await
}

async fn drain(mut r: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0u64;
    loop {
        match r.read(&mut buf).await? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

pub fn unidirectional(budget: Duration, chunk: usize) -> io::Result<f64> {
    on_executor(async |ex| {
        let (c, s) = pair().await?;
        // Extra handles keep both sockets open until the reader is done (linger 0 would
        // reset a socket closed with data in flight).
        let _open = (c.clone(), s.clone());
        let reader = ex.spawn(drain(s));
        let start = Instant::now();
        send_for(c, chunk, start, budget).await?;
        let total = reader.await?;
        Ok(total as f64 / start.elapsed().as_secs_f64())
    })
}

pub fn bidirectional(budget: Duration, chunk: usize) -> io::Result<f64> {
    on_executor(async |ex| {
        let (c, s) = pair().await?;
        let start = Instant::now();
        let _open = (c.clone(), s.clone()); // as in `unidirectional`
        let mut readers = Vec::new();
        for sock in [c, s] {
            // smol streams are cloneable handles: one for each direction.
            ex.spawn(send_for(sock.clone(), chunk, start, budget))
                .detach();
            readers.push(ex.spawn(drain(sock)));
        }
        let mut total = 0;
        for h in readers {
            total += h.await?;
        }
        Ok(total as f64 / start.elapsed().as_secs_f64())
    })
}

pub fn timer_churn(budget: Duration) -> io::Result<f64> {
    smol::block_on(async {
        let start = Instant::now();
        let mut n = 0u64;
        while start.elapsed() < budget {
            for _ in 0..1000 {
                let mut d = pin!(smol::Timer::after(Duration::from_secs(10)));
                assert!(poll_once(d.as_mut()).await.is_none());
            }
            n += 1000;
        }
        Ok(n as f64 / start.elapsed().as_secs_f64())
    })
}

pub fn timer_fire(n: usize) -> io::Result<f64> {
    on_executor(async |ex| {
        let round = async || {
            let start = Instant::now();
            let handles: Vec<_> = (0..n)
                .map(|i| {
                    let at = start + Duration::from_micros((i % 5000) as u64);
                    ex.spawn(smol::Timer::at(at))
                })
                .collect();
            for h in handles {
                h.await;
            }
            n as f64 / start.elapsed().as_secs_f64()
        };
        round().await; // warm-up
        Ok(round().await)
    })
}

pub fn accept_churn(budget: Duration) -> io::Result<f64> {
    smol::block_on(async {
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
