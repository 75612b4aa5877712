//! Suite `adapters`: what running strait protocol code on a foreign runtime costs. The
//! same echo ping-pong (64 B) and 64 KiB throughput programs, written once with
//! strait's stream traits and run on tokio through `strait-tokio` (and on smol through
//! `strait-smol`), against the same programs written with plain tokio (and plain smol)
//! I/O, in the same run.
//!
//! Like for like: one thread (tokio current_thread; one smol `Executor` run by the
//! blocking thread), loopback TCP with `TCP_NODELAY` on both ends, the echo server
//! spawned as one runtime task (through the adapter's spawn hook on the strait side),
//! the same 64 KiB buffers, end of stream by a half-close on both sides.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_streams::{write_all, ReadStream, ReadStreamExt, WriteStream, WriteStreamExt};

use crate::harness::{Better, Report};

const SUITE: &str = "adapters";
const PING: usize = 64;
const CHUNK: usize = 64 * 1024;

pub fn run(report: &mut Report) {
    let scenario = format!("echo ping-pong {PING} B");
    report
        .row(SUITE, &scenario, "round trips", "1/s", Better::Higher)
        .subject("strait on tokio", |budget| {
            on_strait_tokio(strait_pingpong::<OnTokio>(budget))
        })
        .subject("tokio", |budget| on_tokio(tokio_io::pingpong(budget)))
        .subject("strait on smol", |budget| {
            on_strait_smol(strait_pingpong::<OnSmol>(budget))
        })
        .subject("smol", |budget| on_smol(|ex| smol_io::pingpong(ex, budget)))
        .pair("strait on tokio", "tokio")
        .pair("strait on smol", "smol")
        .run(report);

    let scenario = format!("throughput {} KiB writes", CHUNK / 1024);
    report
        .row(SUITE, &scenario, "throughput", "MiB/s", Better::Higher)
        .subject("strait on tokio", |budget| {
            mib(on_strait_tokio(strait_throughput::<OnTokio>(budget)))
        })
        .subject("tokio", |budget| {
            mib(on_tokio(tokio_io::throughput(budget)))
        })
        .subject("strait on smol", |budget| {
            mib(on_strait_smol(strait_throughput::<OnSmol>(budget)))
        })
        .subject("smol", |budget| {
            mib(on_smol(|ex| smol_io::throughput(ex, budget)))
        })
        .pair("strait on tokio", "tokio")
        .pair("strait on smol", "smol")
        .run(report);
}

fn mib(bytes_per_sec: f64) -> f64 {
    bytes_per_sec / (1 << 20) as f64
}

/// A failed measurement is reported and recorded as NaN.
fn or_nan(result: io::Result<f64>) -> f64 {
    result.unwrap_or_else(|e| {
        eprintln!("failed: {e}");
        f64::NAN
    })
}

// ---- The protocol code, written once with strait's traits. ----

/// A connected pair of the driver's TCP streams, `TCP_NODELAY` on both.
trait Driver {
    type Stream: ReadStream + WriteStream + Send + Unpin + 'static;
    fn pair() -> impl Future<Output = io::Result<(Self::Stream, Self::Stream)>>;
}

async fn strait_echo<S: ReadStream + WriteStream + Unpin>(mut s: S) -> io::Result<()> {
    let mut buf = vec![0u8; CHUNK];
    loop {
        match s.read(&mut buf[..]).await? {
            0 => return s.shutdown().await,
            n => write_all(&mut s, &buf[..n]).await.map(drop)?,
        }
    }
}

async fn strait_drain<S: ReadStream + Unpin>(mut s: S) -> io::Result<u64> {
    let mut buf = vec![0u8; CHUNK];
    let mut total = 0;
    loop {
        match s.read(&mut buf[..]).await? {
            0 => return Ok(total),
            n => total += n as u64,
        }
    }
}

async fn strait_pingpong<D: Driver>(budget: Duration) -> io::Result<f64> {
    let (mut client, server) = D::pair().await?;
    let server = strait_streams::env().executor().spawn(strait_echo(server));
    let msg = [7u8; PING];
    let mut buf = [0u8; PING];
    let start = Instant::now();
    let mut trips = 0u64;
    while start.elapsed() < budget {
        write_all(&mut client, &msg[..]).await?;
        strait_streams::read_exact(&mut client, &mut buf[..]).await?;
        trips += 1;
    }
    let rate = trips as f64 / start.elapsed().as_secs_f64();
    client.shutdown().await?;
    server
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
    Ok(rate)
}

async fn strait_throughput<D: Driver>(budget: Duration) -> io::Result<f64> {
    let (mut client, server) = D::pair().await?;
    let reader = strait_streams::env().executor().spawn(strait_drain(server));
    let data = vec![1u8; CHUNK];
    let start = Instant::now();
    while start.elapsed() < budget {
        write_all(&mut client, &data[..]).await?;
    }
    client.shutdown().await?;
    let total = reader
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

// ---- Runtimes. ----

fn current_thread() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

/// Runs a strait program on a current-thread tokio runtime through the adapter.
fn on_strait_tokio(program: impl Future<Output = io::Result<f64>>) -> f64 {
    or_nan(current_thread().and_then(|rt| {
        let executor = strait_tokio::TokioExecutor::new(rt.handle());
        executor.block_on(&rt, program)
    }))
}

/// Runs a plain tokio program on a current-thread tokio runtime.
fn on_tokio(program: impl Future<Output = io::Result<f64>>) -> f64 {
    or_nan(current_thread().and_then(|rt| rt.block_on(program)))
}

/// Runs a strait program on a smol executor (run by this thread) through the adapter.
fn on_strait_smol(program: impl Future<Output = io::Result<f64>>) -> f64 {
    let smol = Arc::new(smol::Executor::new());
    let executor = strait_smol::SmolExecutor::new(&smol);
    or_nan(executor.block_on(program))
}

/// Runs a plain smol program on a smol executor run by this thread.
fn on_smol<F: Future<Output = io::Result<f64>>>(
    program: impl FnOnce(Arc<smol::Executor<'static>>) -> F,
) -> f64 {
    let ex = Arc::new(smol::Executor::new());
    or_nan(smol::block_on(ex.run(program(ex.clone()))))
}

struct OnTokio;

impl Driver for OnTokio {
    type Stream = strait_tokio::TcpStream;
    async fn pair() -> io::Result<(Self::Stream, Self::Stream)> {
        let listener = strait_tokio::TcpListener::bind("127.0.0.1:0").await?;
        let (client, (server, _)) = strait_streams::when_all((
            strait_tokio::TcpStream::connect(listener.local_addr()?),
            listener.accept(),
        ))
        .await?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        Ok((client, server))
    }
}

struct OnSmol;

impl Driver for OnSmol {
    type Stream = strait_smol::TcpStream;
    async fn pair() -> io::Result<(Self::Stream, Self::Stream)> {
        let listener = strait_smol::TcpListener::bind("127.0.0.1:0").await?;
        let (client, (server, _)) = strait_streams::when_all((
            strait_smol::TcpStream::connect(listener.local_addr()?),
            listener.accept(),
        ))
        .await?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        Ok((client, server))
    }
}

// ---- The same programs with plain tokio and plain smol I/O. ----

mod tokio_io {
    use std::io;
    use std::time::{Duration, Instant};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::{TcpListener, TcpStream};

    use super::{CHUNK, PING};

    async fn pair() -> io::Result<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let connect = tokio::spawn(TcpStream::connect(addr));
        let (server, _) = listener.accept().await?;
        let client = connect.await??;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        Ok((client, server))
    }

    async fn echo(mut s: TcpStream) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match s.read(&mut buf).await? {
                0 => return s.shutdown().await,
                n => s.write_all(&buf[..n]).await?,
            }
        }
    }

    async fn drain(mut s: TcpStream) -> io::Result<u64> {
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        loop {
            match s.read(&mut buf).await? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }

    pub async fn pingpong(budget: Duration) -> io::Result<f64> {
        let (mut client, server) = pair().await?;
        let server = tokio::spawn(echo(server));
        let msg = [7u8; PING];
        let mut buf = [0u8; PING];
        let start = Instant::now();
        let mut trips = 0u64;
        while start.elapsed() < budget {
            client.write_all(&msg).await?;
            client.read_exact(&mut buf).await?;
            trips += 1;
        }
        let rate = trips as f64 / start.elapsed().as_secs_f64();
        client.shutdown().await?;
        server.await??;
        Ok(rate)
    }

    pub async fn throughput(budget: Duration) -> io::Result<f64> {
        let (mut client, server) = pair().await?;
        let reader = tokio::spawn(drain(server));
        let data = vec![1u8; CHUNK];
        let start = Instant::now();
        while start.elapsed() < budget {
            client.write_all(&data).await?;
        }
        client.shutdown().await?;
        let total = reader.await??;
        Ok(total as f64 / start.elapsed().as_secs_f64())
    }
}

mod smol_io {
    use std::io;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    use smol::net::{TcpListener, TcpStream};

    use super::{CHUNK, PING};

    async fn pair() -> io::Result<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let (client, accepted) = futures_lite::future::zip(
            TcpStream::connect(listener.local_addr()?),
            listener.accept(),
        )
        .await;
        let (client, (server, _)) = (client?, accepted?);
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        Ok((client, server))
    }

    async fn echo(mut s: TcpStream) -> io::Result<()> {
        let mut buf = vec![0u8; CHUNK];
        loop {
            match s.read(&mut buf).await? {
                0 => return s.close().await, // smol's close is `shutdown(Write)`
                n => s.write_all(&buf[..n]).await?,
            }
        }
    }

    async fn drain(mut s: TcpStream) -> io::Result<u64> {
        let mut buf = vec![0u8; CHUNK];
        let mut total = 0;
        loop {
            match s.read(&mut buf).await? {
                0 => return Ok(total),
                n => total += n as u64,
            }
        }
    }

    pub async fn pingpong(ex: Arc<smol::Executor<'static>>, budget: Duration) -> io::Result<f64> {
        let (mut client, server) = pair().await?;
        let server = ex.spawn(echo(server));
        let msg = [7u8; PING];
        let mut buf = [0u8; PING];
        let start = Instant::now();
        let mut trips = 0u64;
        while start.elapsed() < budget {
            client.write_all(&msg).await?;
            client.read_exact(&mut buf).await?;
            trips += 1;
        }
        let rate = trips as f64 / start.elapsed().as_secs_f64();
        client.close().await?;
        server.await?;
        Ok(rate)
    }

    pub async fn throughput(ex: Arc<smol::Executor<'static>>, budget: Duration) -> io::Result<f64> {
        let (mut client, server) = pair().await?;
        let reader = ex.spawn(drain(server));
        let data = vec![1u8; CHUNK];
        let start = Instant::now();
        while start.elapsed() < budget {
            client.write_all(&data).await?;
        }
        client.close().await?;
        let total = reader.await?;
        Ok(total as f64 / start.elapsed().as_secs_f64())
    }
}
