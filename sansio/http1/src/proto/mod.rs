//! The HTTP/1.1 state machines: bytes and `now` in; events, bytes and deadlines out.
//!
//! [`ServerConnection`] and [`ClientConnection`] share the sans-I/O vocabulary of
//! every strait protocol: `handle_input`/`handle_eof`/`handle_timeout` feed them,
//! `poll_event` reports what the peer said, `send_*` and `poll_transmit` write bytes
//! into the caller's buffer, and `poll_timeout` gives the next deadline.
//!
//! # Design decisions
//! - **Strict by default.** Every ambiguity that has led to request smuggling (both
//!   Content-Length and Transfer-Encoding, repeated or malformed lengths, bare LF or
//!   CR, obs-fold, a final coding other than chunked, chunk-size overflow, a chunk not
//!   followed by CRLF) is an [`Error`] with the status to answer before closing.
//! - **Heads are tokenized in one pass; the rules have one home.** A head that arrived
//!   whole is read once by our tokenizer (start line and fields validated as they are
//!   scanned, eight bytes at a time). A head that arrives in pieces is found by a
//!   scanner that looks at each byte once across any split, then tokenized. The
//!   tokenizer takes only clean heads; anything else goes to the scanner and `httparse`,
//!   which decide the exact error, so every split of the input meets the same one. The
//!   parsed head is kept as offsets into the input buffer and lent to the
//!   application as [`RequestHead`]/[`ResponseHead`] (method, version and status as
//!   `http` types; [`RequestHead::to_parts`] builds `http::request::Parts` when wanted).
//!   Building a `HeaderMap` and `Uri` per request would allocate: lending views is how
//!   the state machine stays at zero allocations per message.
//! - **One input buffer, grown once.** It grows up to [`Limits::max_buffered`] and is
//!   reused; [`ServerConnection::input_buffer`] lets a driver read into it in place.
//! - **The application frames nothing.** It declares a [`BodyLength`]; the connection
//!   writes Content-Length or chunked framing, omits bodies where the RFC forbids them,
//!   and adds `Connection: close` when the connection will not persist.

mod body;
mod client;
mod encode;
mod error;
mod event;
mod framing;
mod head;
mod input;
mod limits;
mod server;
mod tokenize;

pub use client::ClientConnection;
pub use encode::{imf_fixdate, BodyLength, DataFrame};
pub use error::{Error, SendError};
pub use event::Event;
pub use head::{Headers, OwnedRequestHead, RequestHead, ResponseHead};
pub use limits::{Limits, Timeouts, MAX_HEADERS_CAP};
pub use server::{ServerConfig, ServerConnection};
