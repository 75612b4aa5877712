//! WebSocket (RFC 6455, with permessage-deflate, RFC 7692) for strait, written once as a
//! sans-I/O state machine.
//!
//! This crate is deterministic: its state machine performs no networking and reads no
//! clock. Bytes and the current time go in; events, bytes to send and deadlines come
//! out. (The one system call is the client's masking-key source, see
//! [`proto::Connection`].) The layout and decisions shared with the other strait crates
//! are in the repository's `ARCHITECTURE.md`.
//!
//! - [`proto`]: the frame codec ([`proto::frame`]), masking, incremental UTF-8
//!   validation, close codes, the error type with its close-code mapping, and
//!   [`proto::Connection`] for both roles; [`proto::deflate`] with the `deflate` feature.
//! - [`handshake`]: the opening handshake over the `http` crate's types (validation,
//!   accept keys, subprotocols), plus head parsing and writing for standalone use.
//! - [`io`] (feature `io`, default): [`io::WebSocket`] over any strait stream, and
//!   [`io::accept`]/[`io::connect`] for the handshake over a raw stream;
//!   [`io::WebSocket::split`] for a reader task and a writer task; with the `futures`
//!   feature, futures' `Stream`/`Sink` through `io::WebSocket::into_stream`.
//! - `http1` (feature `http1`): endpoints in a `strait-http1` server, through its
//!   upgrade hand-off.
//!
//! # Decisions
//! - Input stops at each event ([`proto::Connection::handle_input`] returns the bytes it
//!   used) and events borrow the connection's buffer: no allocation and no copy beyond
//!   the one that unmasks. The receive buffer grows to the largest message and is reused.
//! - Zero-copy paths beside it, still sans-I/O:
//!   [`proto::Connection::handle_input_in_place`] unmasks a message that arrived as one
//!   frame in the caller's buffer and lends it from there (the async layer gathers such a
//!   frame in its read buffer, which grows as the bytes arrive);
//!   [`proto::Connection::send_message_header`] encodes only the header, for a vectored
//!   write of header and payload. [`io::WebSocket::next_message_with_sender`] answers a
//!   message while it is borrowed; [`io::WebSocket::send_binary_mut`] lets a client mask
//!   in place.
//! - Payload is unmasked, inflated and UTF-8 checked as it arrives: invalid text fails on
//!   the piece that holds the first bad byte, oversized frames on their header, bombs as
//!   they inflate.
//! - Errors from the peer fail the connection with the close code of RFC 6455 §7.4.1
//!   (1002, 1007, 1009) queued; the application can fail it with 1008 or 1011.
//! - Minimal length encoding is written but not required of the peer (as most stacks).
//! - permessage-deflate compresses with an encoder of this crate (LZ77, fixed Huffman
//!   codes, tables sized by the window) and inflates with zlib-rs: 66 KiB per connection
//!   at the defaults, none between messages without context takeover (figures in
//!   [`proto::deflate`]); zlib's own compressor would cost 150–350 KiB.
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
#[cfg(feature = "http1")]
pub mod http1;
#[cfg(feature = "io")]
pub mod io;
pub mod proto;
