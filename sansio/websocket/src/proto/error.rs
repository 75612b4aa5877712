//! The protocol's error type and its mapping to close codes.

use std::fmt;

use super::close::CloseCode;

/// A violation of the framing rules (close code 1002).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// RSV bits set that no negotiated extension claims.
    ReservedBits,
    /// An opcode reserved for future use (0x3–0x7, 0xB–0xF).
    ReservedOpcode,
    /// A control frame without FIN.
    FragmentedControl,
    /// A control frame with more than 125 bytes of payload.
    ControlTooLong,
    /// A 64-bit payload length with its most significant bit set.
    LengthOverflow,
    /// A server received an unmasked frame.
    UnmaskedFrame,
    /// A client received a masked frame.
    MaskedFrame,
    /// A continuation frame with no message in progress.
    UnexpectedContinuation,
    /// A new text or binary frame while a fragmented message is in progress.
    ExpectedContinuation,
    /// A close frame with a one-byte payload.
    CloseLength,
    /// A close frame with a code that may not appear on the wire.
    InvalidCloseCode(u16),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ReservedBits => f.write_str("reserved bits set without an extension"),
            Self::ReservedOpcode => f.write_str("reserved opcode"),
            Self::FragmentedControl => f.write_str("fragmented control frame"),
            Self::ControlTooLong => f.write_str("control frame payload over 125 bytes"),
            Self::LengthOverflow => f.write_str("payload length with its top bit set"),
            Self::UnmaskedFrame => f.write_str("unmasked frame from a client"),
            Self::MaskedFrame => f.write_str("masked frame from a server"),
            Self::UnexpectedContinuation => f.write_str("continuation frame outside a message"),
            Self::ExpectedContinuation => f.write_str("new message inside a fragmented message"),
            Self::CloseLength => f.write_str("close frame with a one-byte payload"),
            Self::InvalidCloseCode(c) => write!(f, "close code {c} is not valid on the wire"),
        }
    }
}

/// Why a connection failed or refused an operation.
///
/// Errors from the peer's input fail the connection: a close frame carrying
/// [`close_code`](Self::close_code) is queued for transmission (unless a close frame was
/// already sent) and the connection takes no more input.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the framing rules (1002).
    Protocol(ProtocolError),
    /// A text message or close reason was not valid UTF-8 (1007).
    InvalidUtf8,
    /// A compressed message could not be inflated (1007).
    InvalidCompressedData,
    /// A frame's payload exceeded [`Config::max_frame_size`](super::Config::max_frame_size) (1009).
    FrameTooLarge {
        /// The frame's payload length.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message exceeded [`Config::max_message_size`](super::Config::max_message_size) (1009).
    MessageTooLarge {
        /// The message's size so far, including the frame that crossed the limit.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// The application refused the peer's input (1008), through
    /// [`Connection::fail`](super::Connection::fail).
    PolicyViolation,
    /// An internal failure, such as an extension failing to process a message (1011).
    Internal,
    /// The peer did not answer our close frame in time, or an idle ping went unanswered.
    TimedOut,
    /// The operation needs an open connection: a message after our close frame, or
    /// input after the connection closed or failed.
    Closed,
    /// Sending would grow the transmit buffer past
    /// [`Config::max_send_buffer`](super::Config::max_send_buffer); drain it with
    /// [`Connection::poll_transmit`](super::Connection::poll_transmit) first.
    SendBufferFull,
    /// A control payload over 125 bytes, or a close reason over 123 bytes.
    ControlPayloadTooLong,
    /// A close code that may not be sent.
    InvalidCloseCode(u16),
    /// A fragment sent with no message in progress, or a new message while one is.
    FragmentOrder,
}

impl Error {
    /// The close code this error puts on the wire, when it fails the connection.
    pub fn close_code(&self) -> Option<CloseCode> {
        Some(match self {
            Self::Protocol(_) => CloseCode::PROTOCOL_ERROR,
            Self::InvalidUtf8 | Self::InvalidCompressedData => CloseCode::INVALID_PAYLOAD,
            Self::FrameTooLarge { .. } | Self::MessageTooLarge { .. } => CloseCode::MESSAGE_TOO_BIG,
            Self::PolicyViolation => CloseCode::POLICY_VIOLATION,
            Self::Internal => CloseCode::INTERNAL_ERROR,
            _ => return None,
        })
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Self::Protocol(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "protocol error: {e}"),
            Self::InvalidUtf8 => f.write_str("invalid UTF-8 in a text message or close reason"),
            Self::FrameTooLarge { size, limit } => {
                write!(f, "frame of {size} bytes over the limit of {limit}")
            }
            Self::MessageTooLarge { size, limit } => {
                write!(f, "message of {size} bytes over the limit of {limit}")
            }
            Self::PolicyViolation => f.write_str("policy violation"),
            Self::Internal => f.write_str("internal error"),
            Self::InvalidCompressedData => f.write_str("compressed message could not be inflated"),
            Self::TimedOut => f.write_str("the peer did not answer in time"),
            Self::Closed => f.write_str("the connection is closing or closed"),
            Self::SendBufferFull => f.write_str("the send buffer is full"),
            Self::ControlPayloadTooLong => f.write_str("control payload over 125 bytes"),
            Self::InvalidCloseCode(c) => write!(f, "close code {c} may not be sent"),
            Self::FragmentOrder => f.write_str("fragment out of order"),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for std::io::Error {
    fn from(e: Error) -> Self {
        let kind = match e {
            Error::TimedOut => std::io::ErrorKind::TimedOut,
            Error::Closed => std::io::ErrorKind::NotConnected,
            Error::SendBufferFull => std::io::ErrorKind::WouldBlock,
            Error::ControlPayloadTooLong | Error::InvalidCloseCode(_) | Error::FragmentOrder => {
                std::io::ErrorKind::InvalidInput
            }
            _ => std::io::ErrorKind::InvalidData,
        };
        std::io::Error::new(kind, e)
    }
}
