//! The tls scenarios on strait-tls over strait-native, one `IoContext` run by the
//! calling thread.

use std::io;
use std::time::{Duration, Instant};

use futures_lite::future::zip;
use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{read_exact, write_all, ReadStreamExt, WriteStreamExt};
use strait_tls::{ClientContext, ServerContext, TlsStream};

use super::{check_resumption, live_heap_bytes, per_pair, Configs, LOOPBACK, SERVER_NAME};

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    t.set_linger(Some(Duration::ZERO))
}

fn contexts(cfg: &Configs) -> (ClientContext, ServerContext) {
    (
        ClientContext::from_rustls(cfg.client.clone()),
        ServerContext::from_rustls(cfg.server.clone()),
    )
}

async fn tcp_pair(ctx: &IoContext, listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let addr = listener.local_addr()?;
    let (c, s) = zip(TcpStream::connect(ctx, addr), listener.accept()).await;
    let (c, (s, _)) = (c?, s?);
    tune(&c)?;
    tune(&s)?;
    Ok((c, s))
}

/// Fills `buf`; end of stream first is an error.
async fn read_full(
    tls: &mut (impl strait_streams::ReadStream + Unpin),
    buf: &mut [u8],
) -> io::Result<()> {
    let want = buf.len();
    if read_exact(tls, buf).await? < want {
        return Err(io::ErrorKind::UnexpectedEof.into());
    }
    Ok(())
}

/// Connect, both handshakes, one byte from the server; both ends returned open.
async fn connect(
    ctx: &IoContext,
    listener: &TcpListener,
    client: &ClientContext,
    server: &ServerContext,
) -> io::Result<(TlsStream<TcpStream>, TlsStream<TcpStream>)> {
    let addr = listener.local_addr()?;
    let client = async {
        let tcp = TcpStream::connect(ctx, addr).await?;
        tune(&tcp)?;
        let mut tls = TlsStream::connect(client, SERVER_NAME, tcp).map_err(io::Error::other)?;
        tls.handshake().await?;
        read_full(&mut tls, &mut [0u8; 1][..]).await?;
        Ok::<_, io::Error>(tls)
    };
    let server = async {
        let (tcp, _) = listener.accept().await?;
        tune(&tcp)?;
        let mut tls = TlsStream::accept(server, tcp).map_err(io::Error::other)?;
        tls.handshake().await?;
        write_all(&mut tls, &b"x"[..]).await?;
        Ok::<_, io::Error>(tls)
    };
    // The same join as the tokio side (`futures_lite::future::zip`).
    let (c, s) = zip(client, server).await;
    Ok((c?, s?))
}

/// Sequential connections until `budget` passes; handshakes per second.
pub fn handshakes(cfg: &Configs, budget: Duration, want_resumed: bool) -> io::Result<f64> {
    let ctx = IoContext::new_single_threaded()?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let (client, server) = contexts(cfg);
    ctx.block_on(async {
        // Warm-up: fills the session caches for the resumed rows.
        for _ in 0..3 {
            connect(&ctx, &listener, &client, &server).await?;
        }
        let start = Instant::now();
        let (mut n, mut resumed) = (0u64, 0u64);
        while start.elapsed() < budget {
            let (c, _s) = connect(&ctx, &listener, &client, &server).await?;
            resumed += u64::from(c.is_resumed());
            n += 1;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        check_resumption(n, resumed, want_resumed)?;
        Ok(rate)
    })
}

/// Writes `buf` whole without flushing (the socket gets what it takes at once).
async fn write_unflushed(tls: &mut TlsStream<TcpStream>, mut buf: &[u8]) -> io::Result<()> {
    while !buf.is_empty() {
        let n = tls.write(buf).await?;
        buf = &buf[n..];
    }
    Ok(())
}

/// One connection: the client writes `chunk`-byte buffers until `budget` passes, then
/// shuts down; the server reads until close_notify. Bytes per second.
pub fn throughput(cfg: &Configs, budget: Duration, chunk: usize) -> io::Result<f64> {
    let ctx = IoContext::new_single_threaded()?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let (client, server) = contexts(cfg);
    ctx.block_on(async {
        let (mut c, mut s) = connect(&ctx, &listener, &client, &server).await?;
        let start = Instant::now();
        let send = async {
            let data = vec![1u8; chunk];
            while start.elapsed() < budget {
                write_unflushed(&mut c, &data).await?;
            }
            c.shutdown().await
        };
        let receive = async {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                match s.read(&mut buf[..]).await? {
                    0 => return Ok::<_, io::Error>(total),
                    n => total += n as u64,
                }
            }
        };
        let (sent, total) = zip(send, receive).await;
        sent?;
        Ok(total? as f64 / start.elapsed().as_secs_f64())
    })
}

/// One connection: `size`-byte requests answered by `size`-byte responses (each
/// written and flushed, read exactly) until `budget` passes; round trips per second.
pub fn request_response(cfg: &Configs, budget: Duration, size: usize) -> io::Result<f64> {
    let ctx = IoContext::new_single_threaded()?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let (client, server) = contexts(cfg);
    let (c, mut s) = ctx.block_on(async { connect(&ctx, &listener, &client, &server).await })?;
    let responder = ctx.spawn(async move {
        let mut buf = vec![0u8; size];
        loop {
            // A short count is the client's close_notify.
            if read_exact(&mut s, &mut buf[..]).await? < size {
                return Ok::<_, io::Error>(());
            }
            write_all(&mut s, &buf[..]).await?;
        }
    });
    let rate = ctx.block_on(async move {
        let mut c = c;
        let request = vec![7u8; size];
        let mut response = vec![0u8; size];
        let start = Instant::now();
        let mut trips = 0u64;
        while start.elapsed() < budget {
            write_all(&mut c, &request[..]).await?;
            read_full(&mut c, &mut response[..]).await?;
            trips += 1;
        }
        let rate = trips as f64 / start.elapsed().as_secs_f64();
        c.shutdown().await?;
        Ok::<_, io::Error>(rate)
    })?;
    ctx.block_on(responder)
        .map_err(|e| io::Error::other(e.to_string()))??;
    Ok(rate)
}

/// Live heap bytes per client+server pair with `n` pairs open and idle: TLS pairs
/// (handshaken, 4 bytes each way) or, without `tls`, bare TCP pairs that carried the
/// same bytes.
pub fn idle(cfg: &Configs, n: usize, tls: bool) -> io::Result<f64> {
    let ctx = IoContext::new_single_threaded()?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let (client, server) = contexts(cfg);
    ctx.block_on(async {
        // Warm-up: lazily built tables, caches, the reactor's first registrations.
        for _ in 0..3 {
            connect(&ctx, &listener, &client, &server).await?;
        }
        let mut buf = [0u8; 4];
        let before = live_heap_bytes();
        let mut tls_pairs = Vec::with_capacity(if tls { n } else { 0 });
        let mut tcp_pairs = Vec::with_capacity(if tls { 0 } else { n });
        for _ in 0..n {
            if tls {
                let (mut c, mut s) = connect(&ctx, &listener, &client, &server).await?;
                write_all(&mut c, &b"ping"[..]).await?;
                read_full(&mut s, &mut buf[..]).await?;
                write_all(&mut s, &b"pong"[..]).await?;
                read_full(&mut c, &mut buf[..]).await?;
                tls_pairs.push((c, s));
            } else {
                let (mut c, mut s) = tcp_pair(&ctx, &listener).await?;
                write_all(&mut c, &b"ping"[..]).await?;
                read_full(&mut s, &mut buf[..]).await?;
                write_all(&mut s, &b"pong"[..]).await?;
                read_full(&mut c, &mut buf[..]).await?;
                tcp_pairs.push((c, s));
            }
        }
        let after = live_heap_bytes();
        Ok(per_pair(before, after, n))
    })
}
