//! Suite `net`: loopback TCP in the Corosio shapes — ping-pong latency (1, 64, 1024
//! bytes) and unidirectional throughput (64 KiB writes) — strait-native against tokio
//! (current_thread, multi_thread with 2 workers) and smol, in the same run, with
//! nodelay and linger 0. Client and server run in the same runtime.

use std::io;
use std::time::{Duration, Instant};

use crate::harness::{Better, Report};

const SUITE: &str = "net";

/// Round-trip latencies of one ping-pong run.
struct Latencies(Vec<Duration>);

impl Latencies {
    fn mean_ns(&self) -> f64 {
        self.0.iter().map(|d| d.as_nanos() as f64).sum::<f64>() / self.0.len() as f64
    }
    fn pct_ns(&mut self, p: f64) -> f64 {
        self.0.sort_unstable();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i].as_nanos() as f64
    }
}

fn rounds(report: &Report) -> usize {
    if report.quick {
        5_000
    } else {
        30_000
    }
}

pub fn run(report: &mut Report) {
    for size in [1usize, 64, 1024] {
        let scenario = format!("ping-pong {size} B");
        let n = rounds(report);
        for (subject, f) in [
            (
                "strait-native",
                strait_pingpong as fn(usize, usize) -> io::Result<Latencies>,
            ),
            ("tokio-current_thread", tokio_ct_pingpong),
            ("tokio-multi_thread-2", tokio_mt_pingpong),
            ("smol", smol_pingpong),
        ] {
            if !report.wants(subject) {
                continue;
            }
            report.progress(SUITE, &scenario, subject);
            match f(size, n) {
                Ok(mut lat) => {
                    let (mean, p50, p99) = (lat.mean_ns(), lat.pct_ns(0.5), lat.pct_ns(0.99));
                    report.push(
                        SUITE,
                        &scenario,
                        subject,
                        "latency mean",
                        "ns",
                        mean,
                        Better::Lower,
                    );
                    let p50s = format!("{scenario} p50");
                    let p99s = format!("{scenario} p99");
                    report.progress(SUITE, &p50s, subject);
                    report.push(
                        SUITE,
                        &p50s,
                        subject,
                        "latency p50",
                        "ns",
                        p50,
                        Better::Lower,
                    );
                    report.progress(SUITE, &p99s, subject);
                    report.push(
                        SUITE,
                        &p99s,
                        subject,
                        "latency p99",
                        "ns",
                        p99,
                        Better::Lower,
                    );
                }
                Err(e) => eprintln!("failed: {e}"),
            }
        }
    }
    let budget = report.budget();
    for (label, chunk) in [
        ("1 KiB", 1024usize),
        ("64 KiB", 64 * 1024),
        ("1 MiB", 1 << 20),
    ] {
        let scenario = format!("unidirectional {label} writes");
        unidirectional(report, &scenario, budget, chunk);
    }
}

type StreamBench = fn(Duration, usize) -> io::Result<f64>;

fn unidirectional(report: &mut Report, scenario: &str, budget: Duration, chunk: usize) {
    let subjects: [(&str, StreamBench); 4] = [
        ("strait-native", strait_stream),
        ("tokio-current_thread", tokio_ct_stream),
        ("tokio-multi_thread-2", tokio_mt_stream),
        ("smol", smol_stream),
    ];
    for (subject, f) in subjects {
        if !report.wants(subject) {
            continue;
        }
        report.progress(SUITE, scenario, subject);
        match f(budget, chunk) {
            Ok(bps) => report.push(
                SUITE,
                scenario,
                subject,
                "throughput",
                "MiB/s",
                bps / (1 << 20) as f64,
                Better::Higher,
            ),
            Err(e) => eprintln!("failed: {e}"),
        }
    }
}

fn tune_std(s: &std::net::TcpStream) -> io::Result<()> {
    s.set_nodelay(true)?;
    socket2::SockRef::from(s).set_linger(Some(Duration::ZERO))
}

// ---- strait-native -------------------------------------------------------------

fn strait_pair(
    ctx: &strait_native::IoContext,
) -> io::Result<(strait_native::TcpStream, strait_native::TcpStream)> {
    use strait_native::{TcpListener, TcpStream};
    let listener = TcpListener::bind(ctx, "127.0.0.1:0".parse().unwrap())?;
    let addr = listener.local_addr()?;
    let (c, (s, _)) = ctx.block_on(async {
        strait_streams::when_all((TcpStream::connect(ctx, addr), listener.accept())).await
    })?;
    for t in [&c, &s] {
        t.set_nodelay(true)?;
        t.set_linger(Some(Duration::ZERO))?;
    }
    Ok((c, s))
}

fn strait_pingpong(size: usize, n: usize) -> io::Result<Latencies> {
    use strait_streams::{read, write_all};
    let ctx = strait_native::IoContext::new()?;
    let (mut c, mut s) = strait_pair(&ctx)?;
    let server = async move {
        let mut buf = vec![0u8; size];
        for _ in 0..n {
            read(&mut s, &mut buf[..]).await?;
            write_all(&mut s, &buf[..]).await?;
        }
        Ok::<_, io::Error>(())
    };
    let client = async move {
        let msg = vec![7u8; size];
        let mut buf = vec![0u8; size];
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            write_all(&mut c, &msg[..]).await?;
            read(&mut c, &mut buf[..]).await?;
            lat.push(t.elapsed());
        }
        Ok::<_, io::Error>(lat)
    };
    let server = ctx.spawn(server);
    let lat = ctx.block_on(client)?;
    ctx.block_on(server)
        .map_err(|e| io::Error::other(e.to_string()))??;
    Ok(Latencies(lat))
}

fn strait_stream(budget: Duration, chunk: usize) -> io::Result<f64> {
    use strait_streams::{write_all, ReadStreamExt, WriteStreamExt};
    let ctx = strait_native::IoContext::new()?;
    let (mut c, mut s) = strait_pair(&ctx)?;
    let reader = ctx.spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            match s.read_some(&mut buf[..]).await? {
                0 => return Ok::<_, io::Error>(total),
                n => total += n as u64,
            }
        }
    });
    let start = Instant::now();
    ctx.block_on(async {
        let data = vec![1u8; chunk];
        while start.elapsed() < budget {
            write_all(&mut c, &data[..]).await?;
        }
        c.shutdown().await
    })?;
    let total = ctx
        .block_on(reader)
        .map_err(|e| io::Error::other(e.to_string()))??;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

// ---- tokio -----------------------------------------------------------------------

async fn tokio_pair() -> io::Result<(tokio::net::TcpStream, tokio::net::TcpStream)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (c, s) =
        futures_lite::future::zip(tokio::net::TcpStream::connect(addr), listener.accept()).await;
    let (c, (s, _)) = (c?, s?);
    for t in [&c, &s] {
        t.set_nodelay(true)?;
        socket2::SockRef::from(t).set_linger(Some(Duration::ZERO))?;
    }
    Ok((c, s))
}

async fn tokio_pingpong_in(size: usize, n: usize) -> io::Result<Latencies> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut c, mut s) = tokio_pair().await?;
    let server = tokio::spawn(async move {
        let mut buf = vec![0u8; size];
        for _ in 0..n {
            s.read_exact(&mut buf).await?;
            s.write_all(&buf).await?;
        }
        Ok::<_, io::Error>(())
    });
    let msg = vec![7u8; size];
    let mut buf = vec![0u8; size];
    let mut lat = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        c.write_all(&msg).await?;
        c.read_exact(&mut buf).await?;
        lat.push(t.elapsed());
    }
    server.await.map_err(io::Error::other)??;
    Ok(Latencies(lat))
}

async fn tokio_stream_in(budget: Duration, chunk: usize) -> io::Result<f64> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (mut c, mut s) = tokio_pair().await?;
    let reader = tokio::spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf).await? {
                0 => return Ok::<_, io::Error>(total),
                n => total += n as u64,
            }
        }
    });
    let start = Instant::now();
    let data = vec![1u8; chunk];
    while start.elapsed() < budget {
        c.write_all(&data).await?;
    }
    c.shutdown().await?;
    let total = reader.await.map_err(io::Error::other)??;
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

fn tokio_ct() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn tokio_mt() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

fn tokio_ct_pingpong(size: usize, n: usize) -> io::Result<Latencies> {
    tokio_ct()?.block_on(tokio_pingpong_in(size, n))
}

fn tokio_mt_pingpong(size: usize, n: usize) -> io::Result<Latencies> {
    tokio_mt()?.block_on(tokio_pingpong_in(size, n))
}

fn tokio_ct_stream(budget: Duration, chunk: usize) -> io::Result<f64> {
    tokio_ct()?.block_on(tokio_stream_in(budget, chunk))
}

fn tokio_mt_stream(budget: Duration, chunk: usize) -> io::Result<f64> {
    tokio_mt()?.block_on(tokio_stream_in(budget, chunk))
}

// ---- smol ------------------------------------------------------------------------

async fn smol_pair() -> io::Result<(smol::net::TcpStream, smol::net::TcpStream)> {
    let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (c, s) =
        futures_lite::future::zip(smol::net::TcpStream::connect(addr), listener.accept()).await;
    let (c, (s, _)) = (c?, s?);
    for t in [&c, &s] {
        t.set_nodelay(true)?;
    }
    let _ = tune_std;
    Ok((c, s))
}

fn smol_pingpong(size: usize, n: usize) -> io::Result<Latencies> {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        let (mut c, mut s) = smol_pair().await?;
        let server = ex.spawn(async move {
            let mut buf = vec![0u8; size];
            for _ in 0..n {
                s.read_exact(&mut buf).await?;
                s.write_all(&buf).await?;
            }
            Ok::<_, io::Error>(())
        });
        let msg = vec![7u8; size];
        let mut buf = vec![0u8; size];
        let mut lat = Vec::with_capacity(n);
        for _ in 0..n {
            let t = Instant::now();
            c.write_all(&msg).await?;
            c.read_exact(&mut buf).await?;
            lat.push(t.elapsed());
        }
        server.await?;
        Ok(Latencies(lat))
    }))
}

fn smol_stream(budget: Duration, chunk: usize) -> io::Result<f64> {
    use futures_lite::{AsyncReadExt, AsyncWriteExt};
    let ex = smol::LocalExecutor::new();
    smol::block_on(ex.run(async {
        let (mut c, mut s) = smol_pair().await?;
        let reader = ex.spawn(async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                match s.read(&mut buf).await? {
                    0 => return Ok::<_, io::Error>(total),
                    n => total += n as u64,
                }
            }
        });
        let start = Instant::now();
        let data = vec![1u8; chunk];
        while start.elapsed() < budget {
            c.write_all(&data).await?;
        }
        c.close().await?;
        let total = reader.await?;
        Ok(total as f64 / start.elapsed().as_secs_f64())
    }))
}
