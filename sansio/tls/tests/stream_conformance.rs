//! The strait stream conformance suite over a TLS client↔server pair, on an in-memory
//! duplex and on loopback TCP (strait's native reactor); `pair` completes the
//! handshake.

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

mod common;

use std::io;

use common::*;

struct TlsPair {
    client: strait_tls::ClientContext,
    server: strait_tls::ServerContext,
}

impl TlsPair {
    fn new() -> Self {
        let ca = Ca::new("conformance CA");
        Self {
            client: client_ctx(&ca),
            server: server_ctx(ca.issue(&["localhost"])),
        }
    }
}

impl strait_conformance::TransportFactory for TlsPair {
    type Client = Tls;
    type Server = Tls;

    async fn pair(&self) -> io::Result<(Tls, Tls)> {
        let (mut c, mut s) = pair(&self.client, "localhost", &self.server);
        let (rc, rs) = handshake_both(&mut c, &mut s).await;
        rc?;
        rs?;
        Ok((c, s))
    }

    fn large_transfer_bytes(&self) -> u64 {
        // Debug-build crypto is slow; 4 MiB each way still spans hundreds of records.
        4 << 20
    }

    fn allocation_exception(&self) -> Option<&'static str> {
        Some(
            "rustls's buffered API allocates one buffer per TLS record: each record it \
             encrypts, and each record it decrypts (it moves the plaintext into its \
             receive queue); expect 2 per write/read round trip",
        )
    }
}

strait_conformance::stream_pair_suite!(tls_over_duplex, super::TlsPair::new());

/// The same over loopback TCP on strait's native reactor.
struct TlsTcp {
    tls: TlsPair,
    ctx: strait_native::IoContext,
}

impl strait_conformance::TransportFactory for TlsTcp {
    type Client = strait_tls::TlsStream<strait_native::TcpStream>;
    type Server = strait_tls::TlsStream<strait_native::TcpStream>;

    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        use strait_native::{TcpListener, TcpStream};
        let listener = TcpListener::bind(&self.ctx, "127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let (tcp_c, (tcp_s, _)) =
            strait_streams::when_all((TcpStream::connect(&self.ctx, addr), listener.accept()))
                .await?;
        tcp_c.set_nodelay(true)?;
        tcp_s.set_nodelay(true)?;
        let mut c = strait_tls::TlsStream::connect(&self.tls.client, "localhost", tcp_c)
            .map_err(io::Error::other)?;
        let mut s =
            strait_tls::TlsStream::accept(&self.tls.server, tcp_s).map_err(io::Error::other)?;
        strait_streams::when_all((c.handshake(), s.handshake())).await?;
        Ok((c, s))
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.ctx.block_on(f)
    }

    fn large_transfer_bytes(&self) -> u64 {
        4 << 20
    }

    fn allocation_exception(&self) -> Option<&'static str> {
        self.tls.allocation_exception()
    }
}

impl TlsTcp {
    fn new() -> Self {
        Self {
            tls: TlsPair::new(),
            ctx: strait_native::IoContext::new().expect("io context"),
        }
    }
}

strait_conformance::stream_pair_suite!(tls_over_tcp, super::TlsTcp::new());

/// The same over a hostile in-memory transport: every read and write moves at most 7
/// bytes, and every other operation is first `Pending`, so records and handshake
/// messages arrive in pieces.
struct TlsHostile(TlsPair);

type Hostile = strait_conformance::faults::PendingEvery<
    strait_conformance::faults::ChunkLimit<strait_streams::DuplexStream>,
>;

impl strait_conformance::TransportFactory for TlsHostile {
    type Client = strait_tls::TlsStream<Hostile>;
    type Server = strait_tls::TlsStream<Hostile>;

    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        use strait_conformance::faults::{ChunkLimit, PendingEvery};
        let (a, b) = strait_streams::duplex(4096);
        let (a, b) = (
            PendingEvery::new(ChunkLimit::new(a, 7)),
            PendingEvery::new(ChunkLimit::new(b, 7)),
        );
        let mut c = strait_tls::TlsStream::connect(&self.0.client, "localhost", a)
            .map_err(io::Error::other)?;
        let mut s = strait_tls::TlsStream::accept(&self.0.server, b).map_err(io::Error::other)?;
        strait_streams::when_all((c.handshake(), s.handshake())).await?;
        Ok((c, s))
    }

    fn large_transfer_bytes(&self) -> u64 {
        64 * 1024
    }

    fn allocation_exception(&self) -> Option<&'static str> {
        self.0.allocation_exception()
    }
}

strait_conformance::stream_pair_suite!(tls_over_hostile, super::TlsHostile(super::TlsPair::new()));
