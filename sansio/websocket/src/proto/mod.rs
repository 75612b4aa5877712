//! The sans-I/O core: the frame codec and the connection state machine.
//!
//! Nothing here performs I/O or reads a clock: bytes and `now` go in, events, bytes and
//! deadlines come out. See [`Connection`] for the calling order.

mod close;
mod config;
mod connection;
#[cfg(feature = "deflate")]
pub mod deflate;
mod error;
pub mod frame;
mod mask;
mod mask_keys;
mod utf8;

pub use close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
pub use config::{Config, Role};
#[cfg(feature = "io")]
pub(crate) use connection::InPlaceAt;
pub use connection::{Connection, DirectFrame, Event, InPlace, Message, MessageKind};
pub use error::{Error, ProtocolError};
pub use frame::{
    DecoderRules, FrameHeader, HeaderDecoder, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
pub use mask::apply_mask;
pub use utf8::{InvalidUtf8, Utf8Validator};
