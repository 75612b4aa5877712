//! The async layer: the state machines of [`proto`](crate::proto) driven over any
//! strait [`Stream`](strait_streams::Stream) — the native driver's sockets, adapters'
//! sockets, TLS, in-memory pipes, `AnyStream`.
//!
//! The state machine owns the input buffer (reads land in it in place, no second
//! copy), so this layer needs no separate buffered reader.

mod client;
mod conn;
mod server;

pub use client::{ClientConnection as Client, Response};
pub use server::{
    serve_connection, serve_connection_with, Exchange, RequestBody, ResponseBody, ServeOptions,
    Served,
};
