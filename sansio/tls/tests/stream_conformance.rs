//! The strait stream conformance suite over a TLS client↔server pair on an in-memory
//! duplex; `pair` completes the handshake.

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
