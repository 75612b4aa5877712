//! HTTP/1.1 for strait: a sans-I/O state machine ([`proto`]) and its async layer over
//! strait streams (`io`, feature `io`, on by default; its accept loop for strait-native,
//! `io::accept_loop`, with feature `native`).
//!
//! The state machine is deterministic: it does no networking, reads no clock and
//! spawns nothing. It takes bytes and `now`, and gives events, bytes (written into the
//! caller's buffer) and its next deadline, so the same code serves HTTP on the native
//! driver, on tokio, on smol, or in a test that feeds it one byte at a time. See the
//! repository's `ARCHITECTURE.md` for where it sits.
//!
//! ```text
//!                  handle_input(now, bytes)        poll_event()
//!   socket bytes ─────────────────────────▶ ┌──────────────────┐ ──────────▶ Request, Data,
//!                                           │ ServerConnection │             Trailers, EndOfMessage
//!   caller's Vec ◀───────────────────────── └──────────────────┘ ──────────▶ poll_timeout(): deadline
//!                  send_response/send_data/send_end, poll_transmit
//! ```
#![forbid(unsafe_code)]

#[cfg(feature = "io")]
pub mod io;
pub mod proto;
