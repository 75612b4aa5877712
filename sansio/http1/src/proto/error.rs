//! The protocol error: one `#[non_exhaustive]` enum, each variant mapped to the status
//! a server answers with before it closes.

use std::fmt;

use http::StatusCode;

/// Why a peer's bytes were refused. Every error ends the connection: a server answers
/// with [`Error::status`] (when it has not started a response already) and closes; a
/// client closes.
///
/// The section in each variant's doc is the RFC rule it enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// An LF not preceded by CR in the head or in a chunk line (RFC 9112 §2.2: we take
    /// the strict option and reject it).
    BareLf,
    /// A CR not followed by LF (RFC 9112 §2.2).
    BareCr,
    /// A header line starting with whitespace: obsolete line folding (RFC 9112 §5.2).
    ObsFold,
    /// A malformed request line or status line (RFC 9112 §3, §4).
    InvalidStartLine,
    /// A method that is not a token (RFC 9110 §9.1).
    InvalidMethod,
    /// A request target with forbidden characters, or in a form its method does not
    /// take (RFC 9112 §3.2).
    InvalidTarget,
    /// A header name that is not a token, or whitespace before the colon (RFC 9112 §5.1).
    InvalidHeaderName,
    /// Control characters in a header value (RFC 9110 §5.5).
    InvalidHeaderValue,
    /// A status code that is not three digits (RFC 9112 §4).
    InvalidStatus,
    /// A protocol version other than HTTP/1.0 or HTTP/1.1 (RFC 9112 §2.3; answered 505).
    UnsupportedVersion,
    /// An HTTP/1.1 request without Host (RFC 9112 §3.2).
    MissingHost,
    /// A request with more than one Host (RFC 9112 §3.2).
    RepeatedHost,
    /// A Content-Length that is not a plain decimal number: sign, hex, inner whitespace,
    /// empty, or beyond `u64` (RFC 9112 §6.3 item 5, RFC 9110 §8.6).
    InvalidContentLength,
    /// Several Content-Length values that differ (RFC 9112 §6.3 item 5).
    ConflictingContentLength,
    /// Both Content-Length and Transfer-Encoding (RFC 9112 §6.3 item 3: rejected, the
    /// classic request-smuggling vector).
    ContentLengthAndTransferEncoding,
    /// A request Transfer-Encoding whose final coding is not `chunked`, or `chunked`
    /// applied twice (RFC 9112 §6.1, §6.3 item 4).
    ChunkedNotFinal,
    /// A transfer coding other than `chunked` on a request (RFC 9112 §6.1: answered 501).
    UnsupportedTransferEncoding,
    /// Transfer-Encoding on an HTTP/1.0 message (RFC 9112 §6.1: framing is faulty).
    TransferEncodingInHttp10,
    /// A chunk size that is not hex digits, or a malformed chunk line (RFC 9112 §7.1).
    InvalidChunkSize,
    /// A chunk size beyond `u64` (RFC 9112 §7.1).
    ChunkSizeOverflow,
    /// Chunk data not followed by CRLF (RFC 9112 §7.1).
    MissingChunkCrlf,
    /// Forbidden bytes in a chunk extension (RFC 9112 §7.1.1).
    InvalidChunkExtension,
    /// Malformed trailer fields (RFC 9112 §7.1.2).
    InvalidTrailers,
    /// A trailer field that must not be sent as a trailer: framing, routing,
    /// authentication, content processing and the like (RFC 9110 §6.5.1).
    ForbiddenTrailer,
    /// The request line is longer than [`Limits::max_request_line`](super::Limits)
    /// (RFC 9112 §3: answered 414).
    RequestLineTooLong,
    /// The head is larger than [`Limits::max_head_bytes`](super::Limits) (RFC 6585 §5:
    /// answered 431).
    HeadTooLarge,
    /// More header fields than [`Limits::max_headers`](super::Limits) (answered 431).
    TooManyHeaders,
    /// A chunk line longer than [`Limits::max_chunk_line`](super::Limits).
    ChunkExtensionTooLong,
    /// The trailer section exceeds [`Limits::max_trailer_bytes`](super::Limits) or the
    /// header count limit (answered 431).
    TrailersTooLarge,
    /// The body exceeds [`Limits::max_body`](super::Limits) (RFC 9110 §15.5.14: 413).
    BodyTooLarge,
    /// The head did not arrive within the head timeout (RFC 9110 §15.5.9: 408).
    HeadTimeout,
    /// The next bytes of a request body did not arrive in time (answered 408).
    BodyTimeout,
    /// The peer closed in the middle of a head.
    IncompleteHead,
    /// The peer closed before the body's declared end (RFC 9112 §8).
    IncompleteBody,
    /// A response arrived that no request asked for (client role).
    UnexpectedResponse,
}

impl Error {
    /// The status a server answers with, then closes; `None` for errors that close
    /// without an answer (the peer left, or the client role).
    pub fn status(&self) -> Option<StatusCode> {
        use Error::*;
        Some(match self {
            RequestLineTooLong => StatusCode::URI_TOO_LONG,
            HeadTooLarge | TooManyHeaders | TrailersTooLarge => {
                StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE
            }
            BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            UnsupportedVersion => StatusCode::HTTP_VERSION_NOT_SUPPORTED,
            UnsupportedTransferEncoding => StatusCode::NOT_IMPLEMENTED,
            HeadTimeout | BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            IncompleteHead | IncompleteBody | UnexpectedResponse => return None,
            _ => StatusCode::BAD_REQUEST,
        })
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Error::*;
        let s = match self {
            BareLf => "bare LF",
            BareCr => "bare CR",
            ObsFold => "obsolete line folding",
            InvalidStartLine => "malformed start line",
            InvalidMethod => "invalid method",
            InvalidTarget => "invalid request target",
            InvalidHeaderName => "invalid header name",
            InvalidHeaderValue => "invalid header value",
            InvalidStatus => "invalid status code",
            UnsupportedVersion => "unsupported HTTP version",
            MissingHost => "missing Host header",
            RepeatedHost => "repeated Host header",
            InvalidContentLength => "invalid Content-Length",
            ConflictingContentLength => "conflicting Content-Length values",
            ContentLengthAndTransferEncoding => "both Content-Length and Transfer-Encoding",
            ChunkedNotFinal => "chunked is not the final transfer coding",
            UnsupportedTransferEncoding => "unsupported transfer coding",
            TransferEncodingInHttp10 => "Transfer-Encoding in an HTTP/1.0 message",
            InvalidChunkSize => "invalid chunk size",
            ChunkSizeOverflow => "chunk size overflows",
            MissingChunkCrlf => "chunk data not followed by CRLF",
            InvalidChunkExtension => "invalid chunk extension",
            InvalidTrailers => "invalid trailer fields",
            ForbiddenTrailer => "a field not allowed in trailers",
            RequestLineTooLong => "request line too long",
            HeadTooLarge => "head too large",
            TooManyHeaders => "too many header fields",
            ChunkExtensionTooLong => "chunk line too long",
            TrailersTooLarge => "trailer section too large",
            BodyTooLarge => "body too large",
            HeadTimeout => "head not received in time",
            BodyTimeout => "request body bytes not received in time",
            IncompleteHead => "connection closed in the middle of a head",
            IncompleteBody => "connection closed before the end of the body",
            UnexpectedResponse => "response without a request",
        };
        f.write_str(s)
    }
}

impl std::error::Error for Error {}

/// A misuse of the sending half: the application asked for something the protocol
/// state does not allow. Nothing was written when this is returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SendError {
    /// No request is waiting for a response (server), or a response or request head
    /// was sent while a body was still open.
    NotExpected,
    /// Body data or an end of message with no message open.
    NoMessage,
    /// More body bytes than the declared Content-Length, or body bytes on a message that
    /// has none (HEAD response, 204, 304, 1xx).
    BodyTooLong,
    /// The message ended before its declared Content-Length.
    BodyTooShort,
    /// The application set Content-Length or Transfer-Encoding itself: framing is the
    /// connection's job (declare it with [`BodyLength`](super::BodyLength)).
    FramingHeader,
    /// A trailer field that must not be sent as a trailer (RFC 9110 §6.5.1), such as
    /// Host, Authorization or Content-Type.
    ForbiddenTrailer,
    /// A 101 answer to a request that asked for no upgrade.
    UnexpectedUpgrade,
    /// A header name or value the wire cannot carry.
    InvalidHeader,
    /// The connection is closed or failed.
    Closed,
}

impl fmt::Display for SendError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use SendError::*;
        let s = match self {
            NotExpected => "no message expected in this state",
            NoMessage => "no message open",
            BodyTooLong => "body longer than declared",
            BodyTooShort => "body shorter than declared",
            FramingHeader => "Content-Length/Transfer-Encoding set by the application",
            ForbiddenTrailer => "a field not allowed in trailers",
            UnexpectedUpgrade => "101 without an upgrade request",
            InvalidHeader => "header cannot be serialized",
            Closed => "connection closed",
        };
        f.write_str(s)
    }
}

impl std::error::Error for SendError {}
