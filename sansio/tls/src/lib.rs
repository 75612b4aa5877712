//! TLS client and server streams over any strait stream, and a portable TLS context.
//!
//! The engine is [rustls](https://docs.rs/rustls) with its `ring` provider. A
//! [`TlsStream`] wraps any [`Stream`](strait_streams::Stream) — a TCP socket, an
//! in-memory [`duplex`](strait_streams::duplex) pair, an
//! [`AnyStream`](strait_streams::AnyStream) — and is a `Stream` itself, so protocol code
//! (HTTP/1.1, WebSocket) runs over TLS unchanged.
//!
//! ```text
//!  caller buffers ──write──▶ rustls (encrypt: one copy)  ──write_tls──▶ transport
//!  caller buffers ◀──read─── rustls (decrypted plaintext) ◀──read_tls─── transport
//! ```
//!
//! Configuration lives in a context built once: [`ClientContext`] (trust roots,
//! verification, client certificate, ALPN, SNI, versions, resumption, key logging) and
//! [`ServerContext`] (identity, client authentication, ALPN, versions, tickets).
//! Session state can be shared between contexts and threads: a
//! [`ClientSessionCache`] on clients, [`TicketKeys`] and a [`ServerSessionCache`] on
//! servers.
//! Failures are typed: [`TlsError`] says what failed (expired, wrong host, unknown
//! issuer, an alert from the peer, truncation), [`ConfigError`] what was wrong with a
//! configuration.
//!
//! Cargo features (both on by default): `webpki-roots` gives
//! [`TrustRoots::mozilla`], `native-roots` gives [`TrustRoots::platform`].
//!
//! ```
//! use strait_streams::{block_on, duplex, ReadStreamExt, WriteStreamExt};
//! use strait_tls::{ClientContext, Identity, ServerContext, ServerVerification, TlsStream, TrustRoots};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()])?;
//! # let (cert_pem, key_pem) = (cert.cert.pem(), cert.key_pair.serialize_pem());
//! let server_ctx = ServerContext::builder(Identity::from_pem(cert_pem.as_bytes(), key_pem.as_bytes())?)
//!     .alpn_protocols(&["http/1.1"])
//!     .build()?;
//! let mut roots = TrustRoots::empty();
//! roots.add_pem(cert_pem.as_bytes())?;
//! let client_ctx = ClientContext::builder(ServerVerification::Full(roots))
//!     .alpn_protocols(&["http/1.1"])
//!     .build()?;
//!
//! let (a, b) = duplex(64 * 1024);
//! let mut client = TlsStream::connect(&client_ctx, "localhost", a)?;
//! let mut server = TlsStream::accept(&server_ctx, b)?;
//! block_on(async {
//!     let echo = strait_streams::spawn(async move {
//!         let mut buf = [0u8; 5];
//!         let n = server.read(&mut buf[..]).await?; // handshakes first
//!         server.write(&buf[..n]).await?;
//!         server.shutdown().await // flush, close_notify
//!     });
//!     client.write(&b"hello"[..]).await?;
//!     client.flush().await?;
//!     let mut buf = [0u8; 5];
//!     let n = client.read(&mut buf[..]).await?;
//!     assert_eq!(&buf[..n], b"hello");
//!     assert_eq!(client.alpn_protocol(), Some(&b"http/1.1"[..]));
//!     echo.await.unwrap()
//! })?;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod context;
mod error;
mod session;
mod stream;

pub use context::{
    provider, CipherSuite, ClientAuth, ClientContext, ClientContextBuilder, Identity,
    ServerContext, ServerContextBuilder, ServerVerification, TlsContext, TlsVersion, TrustRoots,
};
pub use error::{AlertDescription, ConfigError, TlsError};
pub use rustls;
pub use session::{ClientSessionCache, ServerSessionCache, TicketKeys};
pub use stream::{Handshake, TlsStream};
