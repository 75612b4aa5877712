//! WebSocket (RFC 6455) for strait, written once as a sans-I/O state machine.
//!
//! This crate is deterministic: it performs no networking and reads no clock. The
//! [`proto`] module turns bytes and the current time into events, bytes to send and
//! deadlines; [`handshake`] holds the opening handshake's pieces over the `http` crate's
//! types. (The only system call is the client's masking-key source, see
//! [`proto::Connection`].) The design is described in the repository's `ARCHITECTURE.md`.
//!
//! ```
//! use std::time::Instant;
//! use strait_websocket::proto::{CloseCode, Config, Connection, Event, Role};
//!
//! let now = Instant::now();
//! let mut client = Connection::new(Role::Client, Config::default());
//! let mut server = Connection::new(Role::Server, Config::default());
//! let mut wire = Vec::new();
//!
//! client.close(now, CloseCode::NORMAL, "bye").unwrap();
//! client.poll_transmit(&mut wire);
//! server.handle_input(now, &wire).unwrap();
//! match server.poll_event() {
//!     Some(Event::Close(Some(frame))) => assert_eq!(frame.reason, "bye"),
//!     other => panic!("{other:?}"),
//! }
//! // The server echoed the close: both ends are done once it is delivered.
//! wire.clear();
//! server.poll_transmit(&mut wire);
//! client.handle_input(now, &wire).unwrap();
//! assert!(matches!(client.poll_event(), Some(Event::Close(Some(_)))));
//! assert!(client.is_closed() && server.is_closed());
//! ```
#![forbid(unsafe_code)]

pub mod handshake;
#[cfg(feature = "io")]
pub mod io;
pub mod proto;
