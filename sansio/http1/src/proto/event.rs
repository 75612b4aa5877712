//! What a connection reports to its application.

use super::head::{Headers, RequestHead, ResponseHead};

/// One step of the peer's side of the conversation, borrowed from the connection's
/// buffer until the next call to `poll_event`.
///
/// A message is `Request`/`Response`, then zero or more `Data`, at most one
/// `Trailers`, then `EndOfMessage`. A client may see `Informational` heads (1xx)
/// before a response.
#[derive(Debug)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A request head (server role).
    Request(RequestHead<'a>),
    /// An interim 1xx response other than 101 (client role).
    Informational(ResponseHead<'a>),
    /// A final response head, or 101 (client role).
    Response(ResponseHead<'a>),
    /// Body bytes.
    Data(&'a [u8]),
    /// The trailer section of a chunked body (sent only when not empty).
    Trailers(Headers<'a>),
    /// The current message is complete.
    EndOfMessage,
    /// The protocol switched (101, or a 2xx to CONNECT) after the head just seen
    /// (client role): what follows is the new protocol's, see `take_leftover`.
    Upgrade,
    /// The peer closed cleanly between messages.
    ConnectionClosed,
}
