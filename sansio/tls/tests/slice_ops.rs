//! `TlsStream`'s one-slice operations (`poll_read_slice` copies plaintext out of the
//! session into one buffer, `poll_write_slice` feeds one buffer to it): one-region
//! `read`/`write`, through an `AnyStream` or directly, give byte for byte what the
//! sequence path gives (data, empty buffers, `close_notify`, truncation, a stopped
//! environment, writes after shutdown), and the session reaches its transport through
//! the transport's own one-slice methods.

mod common;

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use common::*;
use strait_conformance::faults::{ChunkLimit, PendingEvery};
use strait_conformance::{assert_outcome, slice_parity, TransportFactory};
use strait_streams::{
    duplex, AnyStream, ConstBuffer, DuplexStream, MutableBuffer, ReadStream, ReadStreamExt,
    WriteStream, WriteStreamExt,
};
use strait_tls::{TlsError, TlsStream};

struct Contexts {
    client: strait_tls::ClientContext,
    server: strait_tls::ServerContext,
}

impl Contexts {
    fn new() -> Self {
        let ca = Ca::new("slice CA");
        Self {
            client: client_ctx(&ca),
            server: server_ctx(ca.issue(&["localhost"])),
        }
    }
}

/// TLS over an in-memory pipe, handshaken.
struct OverDuplex(Contexts);

impl TransportFactory for OverDuplex {
    type Client = Tls;
    type Server = Tls;
    async fn pair(&self) -> io::Result<(Tls, Tls)> {
        let (mut c, mut s) = pair(&self.0.client, "localhost", &self.0.server);
        let (rc, rs) = handshake_both(&mut c, &mut s).await;
        rc?;
        rs?;
        Ok((c, s))
    }
}

type Hostile = PendingEvery<ChunkLimit<DuplexStream>>;

/// TLS over a transport that moves at most 7 bytes per operation and is `Pending`
/// every other time: records arrive in pieces, through the fault injectors' one-slice
/// forwarding.
struct OverHostile(Contexts);

impl TransportFactory for OverHostile {
    type Client = TlsStream<Hostile>;
    type Server = TlsStream<Hostile>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let (a, b) = duplex(4096);
        let hostile = |s| PendingEvery::new(ChunkLimit::new(s, 7));
        let mut c = TlsStream::connect(&self.0.client, "localhost", hostile(a))
            .map_err(io::Error::other)?;
        let mut s = TlsStream::accept(&self.0.server, hostile(b)).map_err(io::Error::other)?;
        strait_streams::when_all((c.handshake(), s.handshake())).await?;
        Ok((c, s))
    }
}

#[test]
fn slice_parity_over_a_pipe() {
    assert_outcome(
        "slice_parity",
        slice_parity::run(&OverDuplex(Contexts::new())),
    );
}

#[test]
fn slice_parity_over_a_hostile_transport() {
    assert_outcome(
        "slice_parity",
        slice_parity::run(&OverHostile(Contexts::new())),
    );
}

/// End of stream from the transport without `close_notify`: the same typed error (or,
/// allowed, the same clean end) on both paths, and it sticks.
#[test]
fn truncation_reads_the_same_on_both_paths() {
    let ctx = Contexts::new();
    for allow in [false, true] {
        let mut outcomes = Vec::new();
        for one_region in [true, false] {
            let outcome = run_bounded(async {
                let (mut c, mut s) = connected(&ctx.client, "localhost", &ctx.server).await;
                s.set_allow_truncation(allow);
                c.write(&b"tail"[..]).await.unwrap();
                c.flush().await.unwrap();
                // The transport ends without a `close_notify`.
                c.get_mut().shutdown().await.unwrap();
                let mut any = AnyStream::borrowed(&mut s);
                let mut log = Vec::new();
                for _ in 0..3 {
                    let mut buf = [0u8; 16];
                    let mut none = [0u8; 0];
                    let r = if one_region {
                        any.read(&mut buf[..]).await
                    } else {
                        let mut two = [
                            MutableBuffer::new(&mut buf[..]),
                            MutableBuffer::new(&mut none[..]),
                        ];
                        any.read(&mut two[..]).await
                    };
                    log.push(match r {
                        Ok(n) => format!("Ok({:?})", String::from_utf8_lossy(&buf[..n])),
                        Err(e) => format!("{:?}", TlsError::from_io(&e)),
                    });
                }
                log
            });
            outcomes.push(outcome);
        }
        assert_eq!(outcomes[0], outcomes[1], "allow_truncation = {allow}");
        let end = if allow {
            "Ok(\"\")".to_owned()
        } else {
            format!("{:?}", Some(&TlsError::Truncated))
        };
        assert_eq!(outcomes[0], ["Ok(\"tail\")".to_owned(), end.clone(), end]);
    }
}

/// A transport that counts which of its entry points the session used.
struct Counted {
    inner: DuplexStream,
    /// `[read_some, read_slice, write_some, write_slice]`.
    calls: Arc<[AtomicUsize; 4]>,
}

impl Counted {
    fn bump(&self, i: usize) {
        self.calls[i].fetch_add(1, Ordering::Relaxed);
    }
}

impl ReadStream for Counted {
    fn poll_read_some(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.bump(0);
        Pin::new(&mut self.inner).poll_read_some(cx, bufs)
    }
    fn poll_read_slice(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.bump(1);
        Pin::new(&mut self.inner).poll_read_slice(cx, buf)
    }
}

impl WriteStream for Counted {
    fn poll_write_some(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.bump(2);
        Pin::new(&mut self.inner).poll_write_some(cx, bufs)
    }
    fn poll_write_slice(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.bump(3);
        Pin::new(&mut self.inner).poll_write_slice(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[test]
fn the_session_reads_its_transport_through_the_one_slice_read() {
    let ctx = Contexts::new();
    let calls: Arc<[AtomicUsize; 4]> = Arc::default();
    let (a, b) = duplex(64 * 1024);
    let a = Counted {
        inner: a,
        calls: calls.clone(),
    };
    let mut c = TlsStream::connect(&ctx.client, "localhost", a).unwrap();
    let mut s = TlsStream::accept(&ctx.server, b).unwrap();
    run_bounded(async {
        strait_streams::when_all((c.handshake(), s.handshake()))
            .await
            .unwrap();
        s.write(&b"to the client"[..]).await.unwrap();
        s.flush().await.unwrap();
        let mut buf = [0u8; 32];
        let n = c.read(&mut buf[..]).await.unwrap();
        assert_eq!(&buf[..n], b"to the client");
        c.write(&b"to the server"[..]).await.unwrap();
        c.flush().await.unwrap();
        let n = s.read(&mut buf[..]).await.unwrap();
        assert_eq!(&buf[..n], b"to the server");
    });
    let [read_some, read_slice, _, write_slice] =
        calls.each_ref().map(|c| c.load(Ordering::Relaxed));
    assert_eq!(
        read_some, 0,
        "rustls reads into one buffer: the one-slice read"
    );
    assert!(read_slice > 0);
    assert!(
        write_slice > 0,
        "a single queued record goes out as one slice"
    );
}
