//! The async layer: the state machines of [`proto`](crate::proto) driven over any
//! strait [`Stream`](strait_streams::Stream) — the native driver's sockets, adapters'
//! sockets, TLS, in-memory pipes, `AnyStream`.
//!
//! The state machine owns the input buffer (reads land in it in place, no second
//! copy), so this layer needs no separate buffered reader.
//!
//! ```
//! use http::{HeaderMap, StatusCode};
//! use strait_http1::io::{serve_connection, Exchange};
//! use strait_streams::{block_on, duplex, when_all, write_all, DuplexStream, ReadStreamExt, WriteStreamExt};
//!
//! let (server_end, mut client_end) = duplex(4096);
//! let server = serve_connection(server_end, async |ex: &mut Exchange<'_, DuplexStream>| {
//!     let hello = format!("hello {}", ex.request().path());
//!     ex.respond(StatusCode::OK, &HeaderMap::new(), hello.as_bytes()).await
//! });
//! let client = async move {
//!     write_all(&mut client_end, &b"GET /you HTTP/1.1\r\nHost: a\r\n\r\n"[..]).await?;
//!     let mut buf = vec![0u8; 1024];
//!     let mut got = 0;
//!     while !buf[..got].ends_with(b"hello /you") {
//!         got += client_end.read(&mut buf[got..]).await?;
//!     }
//!     client_end.shutdown().await?;
//!     Ok(String::from_utf8(buf[..got].to_vec()).unwrap())
//! };
//! let (_, answer) = block_on(when_all((server, client))).unwrap();
//! assert!(answer.starts_with("HTTP/1.1 200 OK\r\n"));
//! ```

mod accept;
mod client;
mod conn;
mod server;

#[cfg(feature = "native")]
pub use accept::accept_loop;
pub use accept::{accept_loop_with, ConnectionLimit};
pub use client::{ClientConnection as Client, RequestBody as ClientRequestBody, Response};
pub use server::{
    serve_connection, serve_connection_with, Exchange, RequestBody, ResponseBody, ServeOptions,
    Served,
};
