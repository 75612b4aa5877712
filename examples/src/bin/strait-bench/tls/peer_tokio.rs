//! The tls scenarios on tokio-rustls over tokio current_thread; client and server in
//! the same runtime.

use std::io;
use std::time::{Duration, Instant};

use futures_lite::future::zip;
use strait_tls::rustls::pki_types::ServerName;
use strait_tls::rustls::HandshakeKind;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::runtime::Runtime;
use tokio_rustls::{client, server, TlsAcceptor, TlsConnector};

use super::{check_resumption, live_heap_bytes, per_pair, Configs, LOOPBACK, SERVER_NAME};

fn runtime() -> io::Result<Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    socket2::SockRef::from(t).set_linger(Some(Duration::ZERO))
}

struct Stacks {
    connector: TlsConnector,
    acceptor: TlsAcceptor,
    name: ServerName<'static>,
}

impl Stacks {
    fn new(cfg: &Configs) -> Self {
        Self {
            connector: TlsConnector::from(cfg.client.clone()),
            acceptor: TlsAcceptor::from(cfg.server.clone()),
            name: ServerName::try_from(SERVER_NAME).expect("a valid DNS name"),
        }
    }

    /// Connect, both handshakes, one byte from the server; both ends returned open.
    async fn connect(
        &self,
        listener: &TcpListener,
    ) -> io::Result<(client::TlsStream<TcpStream>, server::TlsStream<TcpStream>)> {
        let addr = listener.local_addr()?;
        let client = async {
            let tcp = TcpStream::connect(addr).await?;
            tune(&tcp)?;
            let mut tls = self.connector.connect(self.name.clone(), tcp).await?;
            tls.read_exact(&mut [0u8; 1]).await?;
            Ok::<_, io::Error>(tls)
        };
        let server = async {
            let (tcp, _) = listener.accept().await?;
            tune(&tcp)?;
            let mut tls = self.acceptor.accept(tcp).await?;
            tls.write_all(b"x").await?;
            tls.flush().await?;
            Ok::<_, io::Error>(tls)
        };
        let (c, s) = zip(client, server).await;
        Ok((c?, s?))
    }
}

async fn tcp_pair(listener: &TcpListener) -> io::Result<(TcpStream, TcpStream)> {
    let addr = listener.local_addr()?;
    let (c, s) = zip(TcpStream::connect(addr), listener.accept()).await;
    let (c, (s, _)) = (c?, s?);
    tune(&c)?;
    tune(&s)?;
    Ok((c, s))
}

/// Sequential connections until `budget` passes; handshakes per second.
pub fn handshakes(cfg: &Configs, budget: Duration, want_resumed: bool) -> io::Result<f64> {
    let stacks = Stacks::new(cfg);
    runtime()?.block_on(async {
        let listener = TcpListener::bind(LOOPBACK).await?;
        for _ in 0..3 {
            stacks.connect(&listener).await?;
        }
        let start = Instant::now();
        let (mut n, mut resumed) = (0u64, 0u64);
        while start.elapsed() < budget {
            let (c, _s) = stacks.connect(&listener).await?;
            resumed += u64::from(c.get_ref().1.handshake_kind() == Some(HandshakeKind::Resumed));
            n += 1;
        }
        let rate = n as f64 / start.elapsed().as_secs_f64();
        check_resumption(n, resumed, want_resumed)?;
        Ok(rate)
    })
}

/// One connection: the client writes `chunk`-byte buffers (no flush: tokio-rustls
/// pushes what the socket takes at once) until `budget` passes, then shuts down; the
/// server reads until close_notify. Bytes per second.
pub fn throughput(cfg: &Configs, budget: Duration, chunk: usize) -> io::Result<f64> {
    let stacks = Stacks::new(cfg);
    runtime()?.block_on(async {
        let listener = TcpListener::bind(LOOPBACK).await?;
        let (mut c, mut s) = stacks.connect(&listener).await?;
        let start = Instant::now();
        let send = async {
            let data = vec![1u8; chunk];
            while start.elapsed() < budget {
                c.write_all(&data).await?;
            }
            c.shutdown().await
        };
        let receive = async {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0u64;
            loop {
                match s.read(&mut buf).await? {
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
    let stacks = Stacks::new(cfg);
    runtime()?.block_on(async {
        let listener = TcpListener::bind(LOOPBACK).await?;
        let (mut c, mut s) = stacks.connect(&listener).await?;
        let responder = tokio::spawn(async move {
            let mut buf = vec![0u8; size];
            loop {
                match s.read_exact(&mut buf).await {
                    Ok(_) => {
                        s.write_all(&buf).await?;
                        s.flush().await?;
                    }
                    Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(()),
                    Err(e) => return Err(e),
                }
            }
        });
        let request = vec![7u8; size];
        let mut response = vec![0u8; size];
        let start = Instant::now();
        let mut trips = 0u64;
        while start.elapsed() < budget {
            c.write_all(&request).await?;
            c.flush().await?;
            c.read_exact(&mut response).await?;
            trips += 1;
        }
        let rate = trips as f64 / start.elapsed().as_secs_f64();
        c.shutdown().await?;
        responder.await.map_err(io::Error::other)??;
        Ok(rate)
    })
}

/// Live heap bytes per client+server pair with `n` pairs open and idle: TLS pairs
/// (handshaken, 4 bytes each way) or, without `tls`, bare TCP pairs that carried the
/// same bytes.
pub fn idle(cfg: &Configs, n: usize, tls: bool) -> io::Result<f64> {
    let stacks = Stacks::new(cfg);
    runtime()?.block_on(async {
        let listener = TcpListener::bind(LOOPBACK).await?;
        for _ in 0..3 {
            stacks.connect(&listener).await?;
        }
        let mut buf = [0u8; 4];
        let before = live_heap_bytes();
        let mut tls_pairs = Vec::with_capacity(if tls { n } else { 0 });
        let mut tcp_pairs = Vec::with_capacity(if tls { 0 } else { n });
        for _ in 0..n {
            if tls {
                let (mut c, mut s) = stacks.connect(&listener).await?;
                c.write_all(b"ping").await?;
                c.flush().await?;
                s.read_exact(&mut buf).await?;
                s.write_all(b"pong").await?;
                s.flush().await?;
                c.read_exact(&mut buf).await?;
                tls_pairs.push((c, s));
            } else {
                let (mut c, mut s) = tcp_pair(&listener).await?;
                c.write_all(b"ping").await?;
                s.read_exact(&mut buf).await?;
                s.write_all(b"pong").await?;
                c.read_exact(&mut buf).await?;
                tcp_pairs.push((c, s));
            }
        }
        let after = live_heap_bytes();
        Ok(per_pair(before, after, n))
    })
}
