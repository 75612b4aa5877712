//! The connection state machine: frames in, events out, frames out, deadlines out.

use std::time::Instant;

use super::close::{CloseCode, CloseFrame, MAX_CLOSE_REASON};
use super::config::{Config, Role};
use super::error::{Error, ProtocolError};
use super::frame::{
    DecoderRules, FrameHeader, HeaderDecoder, OpCode, MAX_CONTROL_PAYLOAD, MAX_HEADER_LEN,
};
use super::mask::apply_mask;
use super::mask_keys::MaskKeys;
use super::utf8::Utf8Validator;

#[cfg(feature = "deflate")]
use super::deflate::{Codec, DeflateParams};

/// Without the `deflate` feature no codec can exist: the paths that use one vanish.
#[cfg(not(feature = "deflate"))]
#[derive(Debug)]
enum Codec {}

#[cfg(not(feature = "deflate"))]
impl Codec {
    fn decompress(&mut self, _: &[u8], _: &mut Vec<u8>, _: usize) -> Result<bool, ()> {
        match *self {}
    }
    fn finish(&mut self, _: &mut Vec<u8>, _: usize) -> Result<bool, ()> {
        match *self {}
    }
    fn compress(&mut self, _: &[u8], _: &mut Vec<u8>) -> Result<(), ()> {
        match *self {}
    }
    fn min_message_size(&self) -> usize {
        match *self {}
    }
}

#[cfg(feature = "deflate")]
impl Codec {
    fn min_message_size(&self) -> usize {
        self.min_message_size
    }
}

/// The type of a data message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// UTF-8 text.
    Text,
    /// Arbitrary bytes.
    Binary,
}

/// A whole data message, borrowed from the connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Message<'a> {
    /// A text message (validated UTF-8).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl<'a> Message<'a> {
    /// The message's kind.
    pub fn kind(&self) -> MessageKind {
        match self {
            Self::Text(_) => MessageKind::Text,
            Self::Binary(_) => MessageKind::Binary,
        }
    }

    /// The payload bytes.
    pub fn as_bytes(&self) -> &'a [u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) => b,
        }
    }
}

/// What the peer sent, borrowed from the connection until the next call to
/// [`Connection::poll_event`] or [`Connection::handle_input`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event<'a> {
    /// A whole message (the default mode).
    Message(Message<'a>),
    /// A piece of a message as it arrived ([`Config::fragments`] mode). Text is
    /// validated up to the end of `data`, which may split a code point; `fin` marks the
    /// message's last piece (possibly empty).
    Fragment {
        /// The message's kind.
        kind: MessageKind,
        /// The bytes, unmasked.
        data: &'a [u8],
        /// Whether this ends the message.
        fin: bool,
    },
    /// A ping; with [`Config::auto_pong`] the pong is already queued.
    Ping(&'a [u8]),
    /// A pong.
    Pong(&'a [u8]),
    /// The peer's close frame (`None`: it carried no status code). Our answer is already
    /// queued if we had not closed first; the connection is now closed.
    Close(Option<CloseFrame<'a>>),
}

/// What [`Connection::handle_input_in_place`] did with its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InPlace<'d> {
    /// As [`Connection::handle_input`]: this many bytes were used, and any event waits in
    /// [`Connection::poll_event`].
    Used(usize),
    /// A whole message that arrived as one frame, unmasked (and validated) in place:
    /// it borrows the input. `used` counts the bytes through the frame's end.
    Message {
        /// Bytes used, the frame included.
        used: usize,
        /// The message, borrowed from the input.
        message: Message<'d>,
    },
    /// `used` bytes were used; then comes a one-frame message of `frame_len` bytes
    /// (header included) of which the input holds only a part, left unconsumed. Offer the
    /// input again from `used` with at least `frame_len` bytes to receive the message in
    /// place, or pass it to [`Connection::handle_input`] to have it copied as it arrives.
    Incomplete {
        /// Bytes used before the frame.
        used: usize,
        /// The whole frame's size, header included.
        frame_len: usize,
    },
}

/// [`InPlace`] with the message as a position in the input (text not yet validated).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InPlaceAt {
    Used(usize),
    Message {
        used: usize,
        kind: MessageKind,
        start: usize,
    },
    Incomplete {
        used: usize,
        frame_len: usize,
    },
}

/// The header of a one-frame message whose payload the caller writes itself, from
/// [`Connection::send_message_header`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DirectFrame {
    header: [u8; MAX_HEADER_LEN],
    len: u8,
    mask: Option<[u8; 4]>,
}

impl DirectFrame {
    /// The header bytes to write before the payload.
    pub fn header(&self) -> &[u8] {
        &self.header[..usize::from(self.len)]
    }

    /// The key to mask the payload with ([`apply_mask`](super::apply_mask) from offset 0)
    /// before writing it: `Some` in the client role.
    pub fn mask(&self) -> Option<[u8; 4]> {
        self.mask
    }
}

/// A frame carrying a whole message, seen by [`Connection::peek_single`].
struct SingleFrame {
    header_len: usize,
    payload_len: usize,
    mask: Option<[u8; 4]>,
    kind: MessageKind,
}

/// The payload still to read of the current frame.
#[derive(Debug, Clone, Copy)]
struct Payload {
    opcode: OpCode,
    fin: bool,
    mask: Option<[u8; 4]>,
    remaining: u64,
    /// Payload bytes already read, modulo 4 (the masking key's phase).
    phase: usize,
}

/// An event ready for `poll_event`, or delivered and awaiting release.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    Message(MessageKind),
    Fragment(MessageKind, bool),
    Ping,
    Pong,
    Close,
}

/// A WebSocket connection after the opening handshake, as a pure state machine.
///
/// It owns no socket and reads no clock. Call, in a loop:
///
/// - **inputs**: [`handle_input`](Self::handle_input) with bytes read from the transport
///   and the current time; [`handle_timeout`](Self::handle_timeout) when the deadline from
///   [`poll_timeout`](Self::poll_timeout) passes;
/// - **outputs**: [`poll_event`](Self::poll_event) until it returns `None` after each
///   input (input stops at each event, so feed the rest after polling);
///   [`poll_transmit`](Self::poll_transmit) to take bytes to write;
///   [`poll_timeout`](Self::poll_timeout) for the next deadline;
/// - **sends**: [`send_text`](Self::send_text), [`send_binary`](Self::send_binary),
///   [`send_fragment`](Self::send_fragment), [`send_ping`](Self::send_ping),
///   [`send_pong`](Self::send_pong), [`close`](Self::close).
///
/// Once [`is_closed`](Self::is_closed) holds, write what `poll_transmit` still gives and
/// close the transport.
///
/// # Memory
/// The receive buffer grows to the largest message seen (at most
/// [`Config::max_message_size`]) and is reused; the transmit buffer is swapped with the
/// caller's by `poll_transmit`. In steady state no call allocates.
///
/// # Examples
/// ```
/// use std::time::Instant;
/// use strait_websocket::proto::{Config, Connection, Event, Message, Role};
/// let now = Instant::now();
/// let mut client = Connection::new(Role::Client, Config::default());
/// let mut server = Connection::new(Role::Server, Config::default());
/// client.send_text("hello").unwrap();
/// let mut wire = Vec::new();
/// client.poll_transmit(&mut wire);
/// assert_eq!(server.handle_input(now, &wire), Ok(wire.len()));
/// assert_eq!(server.poll_event(), Some(Event::Message(Message::Text("hello"))));
/// assert_eq!(server.poll_event(), None);
/// ```
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    decoder: HeaderDecoder,
    payload: Option<Payload>,
    /// The kind of the incoming message in progress, if any.
    message: Option<MessageKind>,
    message_len: u64,
    utf8: Utf8Validator,
    msg_buf: Vec<u8>,
    ctrl_buf: [u8; MAX_CONTROL_PAYLOAD],
    ctrl_len: usize,
    ready: Option<Ready>,
    delivered: Option<Ready>,
    tx: Vec<u8>,
    /// The kind of the outgoing fragmented message in progress, if any.
    sending: Option<MessageKind>,
    keys: MaskKeys,
    /// permessage-deflate, when negotiated.
    codec: Option<Codec>,
    /// Whether the incoming message in progress is compressed (RSV1 on its first frame).
    compressed: bool,
    /// Decompressed bytes of the incoming message so far.
    inflated: usize,
    /// Scratch for compressed payloads (in and out); grows to the largest and is reused.
    zbuf: Vec<u8>,
    close_sent: bool,
    close_received: bool,
    closed: bool,
    error: Option<Error>,
    close_deadline: Option<Instant>,
    last_input: Option<Instant>,
    ping_outstanding: bool,
}

impl Connection {
    /// A connection in the open state, right after the handshake.
    pub fn new(role: Role, config: Config) -> Self {
        let rules = match role {
            Role::Server => DecoderRules::SERVER,
            Role::Client => DecoderRules::CLIENT,
        };
        Self {
            role,
            config,
            decoder: HeaderDecoder::new(rules),
            payload: None,
            message: None,
            message_len: 0,
            utf8: Utf8Validator::new(),
            msg_buf: Vec::new(),
            ctrl_buf: [0; MAX_CONTROL_PAYLOAD],
            ctrl_len: 0,
            ready: None,
            delivered: None,
            tx: Vec::new(),
            sending: None,
            keys: MaskKeys::new(),
            codec: None,
            compressed: false,
            inflated: 0,
            zbuf: Vec::new(),
            close_sent: false,
            close_received: false,
            closed: false,
            error: None,
            close_deadline: None,
            last_input: None,
            ping_outstanding: false,
        }
    }

    /// A connection that negotiated permessage-deflate with `params`; compression level
    /// and thresholds come from [`Config::compression`] (defaults when `None`).
    #[cfg(feature = "deflate")]
    pub fn with_deflate(role: Role, config: Config, params: &DeflateParams) -> Self {
        let deflate = config.compression.unwrap_or_default();
        let mut conn = Self::new(role, config);
        conn.codec = Some(Codec::new(params, role == Role::Server, &deflate));
        let mut rules = conn.decoder.rules();
        rules.allowed_rsv = 0b100;
        conn.decoder.set_rules(rules);
        conn
    }

    /// Whether permessage-deflate is in use.
    pub fn is_compressed(&self) -> bool {
        self.codec.is_some()
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The settings in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Whether the connection is over: both close frames exchanged, the connection
    /// failed, or a timer gave up. Flush [`poll_transmit`](Self::poll_transmit), then
    /// close the transport.
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether we sent (or queued) a close frame.
    pub fn is_close_sent(&self) -> bool {
        self.close_sent
    }

    /// Whether the peer's close frame arrived.
    pub fn is_close_received(&self) -> bool {
        self.close_received
    }

    /// Why the connection failed, if it did.
    pub fn error(&self) -> Option<&Error> {
        self.error.as_ref()
    }

    // ---- inputs ----

    /// Reads bytes from the peer, up to and including the next complete event; returns
    /// how many were used. Feed the rest after [`poll_event`](Self::poll_event).
    ///
    /// Input after the connection closed is discarded (all of it reported used).
    ///
    /// # Errors
    /// A protocol, UTF-8 or size violation fails the connection: a close frame with the
    /// error's [`close_code`](Error::close_code) is queued, and the error is returned
    /// once (later input is discarded).
    pub fn handle_input(&mut self, now: Instant, mut data: &[u8]) -> Result<usize, Error> {
        self.release();
        let len = data.len();
        if self.closed {
            return Ok(len);
        }
        if !data.is_empty() {
            self.last_input = Some(now);
            self.ping_outstanding = false;
        }
        while !data.is_empty() && self.ready.is_none() {
            let used = match self.payload {
                None => self.read_header(data),
                Some(p) => self.read_payload(p, data),
            };
            match used {
                Ok(n) => data = &data[n..],
                Err(e) => return Err(self.fail(e)),
            }
            if self.closed {
                break;
            }
        }
        Ok(len - data.len())
    }

    /// [`handle_input`](Self::handle_input) without copying messages: a whole message
    /// that arrived as one frame and lies entirely in `data` is unmasked in place there
    /// and returned borrowed from it ([`InPlace::Message`]); a binary one that lies only
    /// partly in `data` is left unconsumed ([`InPlace::Incomplete`], with the frame's
    /// size) so the caller can gather it and call again. Text still arriving, fragmented
    /// and compressed messages and control frames go through the connection as with
    /// `handle_input` ([`InPlace::Used`]): text is then checked piece by piece, failing
    /// on the first invalid byte. `data` may be modified (unmasked) up to the bytes used.
    ///
    /// # Errors
    /// As [`handle_input`](Self::handle_input).
    ///
    /// # Examples
    /// ```
    /// use std::time::Instant;
    /// use strait_websocket::proto::{Config, Connection, InPlace, Message, Role};
    /// let now = Instant::now();
    /// let mut client = Connection::new(Role::Client, Config::default());
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// client.send_binary(b"abc").unwrap();
    /// let mut wire = Vec::new();
    /// client.poll_transmit(&mut wire);
    /// let n = wire.len();
    /// assert_eq!(
    ///     server.handle_input_in_place(now, &mut wire[..n - 1]),
    ///     Ok(InPlace::Incomplete { used: 0, frame_len: n })
    /// );
    /// assert_eq!(
    ///     server.handle_input_in_place(now, &mut wire),
    ///     Ok(InPlace::Message { used: n, message: Message::Binary(b"abc") })
    /// );
    /// ```
    pub fn handle_input_in_place<'d>(
        &mut self,
        now: Instant,
        data: &'d mut [u8],
    ) -> Result<InPlace<'d>, Error> {
        Ok(match self.handle_input_at(now, data)? {
            InPlaceAt::Used(n) => InPlace::Used(n),
            InPlaceAt::Incomplete { used, frame_len } => InPlace::Incomplete { used, frame_len },
            InPlaceAt::Message { used, kind, start } => {
                let data: &'d [u8] = data;
                let payload = &data[start..used];
                let message = match kind {
                    MessageKind::Binary => Message::Binary(payload),
                    MessageKind::Text => Message::Text(
                        std::str::from_utf8(payload).map_err(|_| self.fail(Error::InvalidUtf8))?,
                    ),
                };
                InPlace::Message { used, message }
            }
        })
    }

    /// [`handle_input_in_place`](Self::handle_input_in_place) with the message as a
    /// position: the caller validates a text message's UTF-8 (failing the connection
    /// with [`Error::InvalidUtf8`]) when it makes the `&str`.
    pub(crate) fn handle_input_at(
        &mut self,
        now: Instant,
        data: &mut [u8],
    ) -> Result<InPlaceAt, Error> {
        self.release();
        let len = data.len();
        if self.closed {
            return Ok(InPlaceAt::Used(len));
        }
        if len != 0 {
            self.last_input = Some(now);
            self.ping_outstanding = false;
        }
        let mut at = 0;
        while at < len && self.ready.is_none() {
            if self.payload.is_none() && self.message.is_none() && !self.config.fragments {
                let single = match self.peek_single(&data[at..]) {
                    Ok(single) => single,
                    Err(e) => return Err(self.fail(e)),
                };
                if let Some(f) = single {
                    let frame_len = f.header_len + f.payload_len;
                    if len - at >= frame_len {
                        let start = at + f.header_len;
                        let end = at + frame_len;
                        if let Some(key) = f.mask {
                            apply_mask(&mut data[start..end], key, 0);
                        }
                        return Ok(InPlaceAt::Message {
                            used: end,
                            kind: f.kind,
                            start,
                        });
                    }
                    if f.kind == MessageKind::Binary {
                        return Ok(InPlaceAt::Incomplete {
                            used: at,
                            frame_len,
                        });
                    }
                    // Text still arriving takes the copying path, whose UTF-8 check
                    // fails on the first bad piece rather than at the frame's end.
                }
            }
            let rest = &data[at..];
            let used = match self.payload {
                None => self.read_header(rest),
                Some(p) => self.read_payload(p, rest),
            };
            match used {
                Ok(n) => at += n,
                Err(e) => return Err(self.fail(e)),
            }
            if self.closed {
                break;
            }
        }
        Ok(InPlaceAt::Used(at))
    }

    /// The frame at the start of `data`, when its header is all there and it carries a
    /// whole uncompressed message within the limits: header size, payload size, masking
    /// key and kind. Anything else is left to the copying path (which reports errors
    /// the header alone does not show).
    #[inline]
    fn peek_single(&self, data: &[u8]) -> Result<Option<SingleFrame>, Error> {
        let Some((header_len, h)) = self.decoder.peek(data)? else {
            return Ok(None);
        };
        let kind = match h.opcode {
            OpCode::Binary => MessageKind::Binary,
            OpCode::Text => MessageKind::Text,
            _ => return Ok(None),
        };
        let limit = self.config.max_frame_size.min(self.config.max_message_size) as u64;
        if !h.fin || h.rsv != 0 || h.payload_len > limit {
            return Ok(None);
        }
        Ok(Some(SingleFrame {
            header_len,
            payload_len: h.payload_len as usize,
            mask: h.mask,
            kind,
        }))
    }

    /// Tells the connection that `now` has reached the deadline from
    /// [`poll_timeout`](Self::poll_timeout) (earlier calls do nothing).
    ///
    /// # Errors
    /// [`Error::TimedOut`] when the close handshake or an idle ping went unanswered;
    /// the connection is then closed.
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        if self.closed {
            return Ok(());
        }
        if self.close_deadline.is_some_and(|d| now >= d) {
            self.closed = true;
            self.error = Some(Error::TimedOut);
            return Err(Error::TimedOut);
        }
        if let Some(deadline) = self.idle_deadline() {
            if now >= deadline {
                if self.ping_outstanding {
                    return Err(self.fail(Error::TimedOut));
                }
                self.ping_outstanding = true;
                self.last_input = Some(now);
                self.write_frame(OpCode::Ping, true, &[]);
            }
        }
        Ok(())
    }

    // ---- outputs ----

    /// The next event, if one is ready. The event borrows the connection; its data is
    /// released by the next call to this or to [`handle_input`](Self::handle_input).
    pub fn poll_event(&mut self) -> Option<Event<'_>> {
        self.release();
        let ready = self.ready.take()?;
        self.delivered = Some(ready);
        Some(match ready {
            Ready::Message(MessageKind::Text) => Event::Message(Message::Text(
                std::str::from_utf8(&self.msg_buf).expect("validated as it arrived"),
            )),
            Ready::Message(MessageKind::Binary) => Event::Message(Message::Binary(&self.msg_buf)),
            Ready::Fragment(kind, fin) => Event::Fragment {
                kind,
                data: &self.msg_buf,
                fin,
            },
            Ready::Ping => Event::Ping(&self.ctrl_buf[..self.ctrl_len]),
            Ready::Pong => Event::Pong(&self.ctrl_buf[..self.ctrl_len]),
            Ready::Close => Event::Close(
                parse_close(&self.ctrl_buf[..self.ctrl_len]).expect("validated on arrival"),
            ),
        })
    }

    /// Whether [`poll_event`](Self::poll_event) has an event to give.
    pub fn has_event(&self) -> bool {
        self.ready.is_some()
    }

    /// Whether the ready event is a whole data message (for loops that skip control
    /// events without borrowing).
    #[cfg(feature = "io")]
    pub(crate) fn has_message_event(&self) -> bool {
        matches!(self.ready, Some(Ready::Message(_)))
    }

    /// Moves the bytes to write to the transport into `buf` and returns how many.
    ///
    /// When `buf` is empty the buffers are swapped rather than copied: keep passing the
    /// same (drained) vector and neither side allocates in steady state.
    pub fn poll_transmit(&mut self, buf: &mut Vec<u8>) -> usize {
        let n = self.tx.len();
        if buf.is_empty() {
            std::mem::swap(buf, &mut self.tx);
        } else {
            buf.extend_from_slice(&self.tx);
            self.tx.clear();
        }
        n
    }

    /// Bytes waiting for [`poll_transmit`](Self::poll_transmit).
    pub fn pending_transmit(&self) -> usize {
        self.tx.len()
    }

    /// The next deadline: the close timeout, or the idle ping.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        match (self.close_deadline, self.idle_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    // ---- sends ----

    /// Queues a text message in one frame.
    ///
    /// # Errors
    /// [`Error::Closed`] after our close frame, [`Error::FragmentOrder`] while a
    /// fragmented message is being sent, [`Error::SendBufferFull`].
    pub fn send_text(&mut self, text: &str) -> Result<(), Error> {
        self.send_data(OpCode::Text, true, text.as_bytes())
    }

    /// Queues a binary message in one frame.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub fn send_binary(&mut self, data: &[u8]) -> Result<(), Error> {
        self.send_data(OpCode::Binary, true, data)
    }

    /// Queues one fragment of a message: the first fragment starts a message of `kind`,
    /// later ones continue it (with the same `kind`), and `fin` ends it. Text fragments
    /// may split code points; the whole must be UTF-8.
    ///
    /// # Errors
    /// [`Error::FragmentOrder`] when `kind` differs from the message in progress; else as
    /// [`send_text`](Self::send_text).
    pub fn send_fragment(
        &mut self,
        kind: MessageKind,
        data: &[u8],
        fin: bool,
    ) -> Result<(), Error> {
        let opcode = match (self.sending, kind) {
            (None, MessageKind::Text) => OpCode::Text,
            (None, MessageKind::Binary) => OpCode::Binary,
            (Some(k), _) if k == kind => OpCode::Continuation,
            _ => return Err(Error::FragmentOrder),
        };
        self.send_data(opcode, fin, data)?;
        self.sending = if fin { None } else { Some(kind) };
        Ok(())
    }

    /// Starts a one-frame message of `len` bytes whose payload the caller writes itself,
    /// typically header and payload in one vectored write, without copying the payload
    /// into the connection. Checks as [`send_binary`](Self::send_binary) does (but not
    /// the send buffer, which the message bypasses).
    ///
    /// `Ok(None)`: send the message with [`send_text`](Self::send_text) or
    /// [`send_binary`](Self::send_binary) instead — permessage-deflate would compress
    /// it, or output is still queued. Otherwise write, before anything the connection
    /// queues later, the frame's [`header`](DirectFrame::header) and then the payload,
    /// masked with [`mask`](DirectFrame::mask) when there is one (client role). A text
    /// payload must be UTF-8.
    ///
    /// # Errors
    /// [`Error::Closed`] after our close frame, [`Error::FragmentOrder`] while a
    /// fragmented message is being sent.
    ///
    /// # Examples
    /// ```
    /// use strait_websocket::proto::{Config, Connection, MessageKind, Role};
    /// let mut server = Connection::new(Role::Server, Config::default());
    /// let frame = server.send_message_header(MessageKind::Binary, 300).unwrap().unwrap();
    /// assert_eq!(frame.header(), &[0x82, 126, 0x01, 0x2C]);
    /// assert_eq!(frame.mask(), None);
    /// ```
    pub fn send_message_header(
        &mut self,
        kind: MessageKind,
        len: usize,
    ) -> Result<Option<DirectFrame>, Error> {
        if self.close_sent || self.closed {
            return Err(Error::Closed);
        }
        if self.sending.is_some() {
            return Err(Error::FragmentOrder);
        }
        let compress = self
            .codec
            .as_ref()
            .is_some_and(|c| len >= c.min_message_size());
        if compress || !self.tx.is_empty() {
            return Ok(None);
        }
        let mask = match self.role {
            Role::Client => Some(self.keys.next()),
            Role::Server => None,
        };
        let opcode = match kind {
            MessageKind::Text => OpCode::Text,
            MessageKind::Binary => OpCode::Binary,
        };
        let mut frame = DirectFrame {
            header: [0; MAX_HEADER_LEN],
            len: 0,
            mask,
        };
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode,
            mask,
            payload_len: len as u64,
        };
        frame.len = header.encode(&mut frame.header) as u8;
        Ok(Some(frame))
    }

    /// Queues a ping.
    ///
    /// # Errors
    /// [`Error::ControlPayloadTooLong`] over 125 bytes, [`Error::Closed`],
    /// [`Error::SendBufferFull`].
    pub fn send_ping(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Ping, payload)
    }

    /// Queues an unsolicited pong (a heartbeat), or a manual answer when
    /// [`Config::auto_pong`] is off.
    ///
    /// # Errors
    /// As [`send_ping`](Self::send_ping).
    pub fn send_pong(&mut self, payload: &[u8]) -> Result<(), Error> {
        self.send_control(OpCode::Pong, payload)
    }

    /// Starts the closing handshake: queues a close frame and arms the close timeout from
    /// `now`. Incoming messages are still delivered until the peer's close arrives.
    ///
    /// # Errors
    /// [`Error::InvalidCloseCode`] for a code that may not be sent,
    /// [`Error::ControlPayloadTooLong`] for a reason over 123 bytes, [`Error::Closed`]
    /// when a close frame was already sent.
    pub fn close(&mut self, now: Instant, code: CloseCode, reason: &str) -> Result<(), Error> {
        if self.close_sent || self.closed {
            return Err(Error::Closed);
        }
        if !code.is_valid_on_wire() {
            return Err(Error::InvalidCloseCode(code.0));
        }
        if reason.len() > MAX_CLOSE_REASON {
            return Err(Error::ControlPayloadTooLong);
        }
        self.write_close(code, reason.as_bytes());
        self.close_deadline = self.config.close_timeout.map(|t| now + t);
        Ok(())
    }

    /// Fails the connection on the application's behalf (for example
    /// [`Error::PolicyViolation`] for a message it refuses): queues a close frame with
    /// the error's code, if it has one and no close was sent, and closes. Returns `error`.
    pub fn fail(&mut self, error: Error) -> Error {
        if !self.close_sent {
            if let Some(code) = error.close_code() {
                self.write_close(code, &[]);
            }
        }
        self.closed = true;
        self.close_deadline = None;
        self.ready = None;
        self.error = Some(error.clone());
        error
    }

    // ---- receive internals ----

    /// Frees what the last delivered event borrowed.
    fn release(&mut self) {
        match self.delivered.take() {
            Some(Ready::Message(_) | Ready::Fragment(..)) => self.msg_buf.clear(),
            Some(Ready::Ping | Ready::Pong | Ready::Close) => self.ctrl_len = 0,
            None => {}
        }
    }

    fn read_header(&mut self, data: &[u8]) -> Result<usize, Error> {
        let (used, header) = self.decoder.decode(data)?;
        if let Some(h) = header {
            self.start_frame(h)?;
        }
        Ok(used)
    }

    fn start_frame(&mut self, h: FrameHeader) -> Result<(), Error> {
        if h.opcode.is_control() && h.rsv != 0 {
            return Err(ProtocolError::ReservedBits.into());
        }
        if !h.opcode.is_control() {
            let kind = match (h.opcode, self.message) {
                (OpCode::Continuation, Some(kind)) => kind,
                (OpCode::Continuation, None) => {
                    return Err(ProtocolError::UnexpectedContinuation.into())
                }
                (_, Some(_)) => return Err(ProtocolError::ExpectedContinuation.into()),
                (OpCode::Text, None) => MessageKind::Text,
                _ => MessageKind::Binary,
            };
            let rsv1 = h.rsv & 0b100 != 0;
            if self.message.is_none() {
                self.compressed = rsv1;
                self.inflated = 0;
            } else if rsv1 {
                // RSV1 marks a message, on its first frame only (RFC 7692 §6.1).
                return Err(ProtocolError::ReservedBits.into());
            }
            if h.payload_len > self.config.max_frame_size as u64 {
                return Err(Error::FrameTooLarge {
                    size: h.payload_len,
                    limit: self.config.max_frame_size,
                });
            }
            let size = self.message_len + h.payload_len;
            if size > self.config.max_message_size as u64 {
                return Err(Error::MessageTooLarge {
                    size,
                    limit: self.config.max_message_size,
                });
            }
            if self.message.is_none() {
                self.utf8.reset();
            }
            self.message = Some(kind);
            self.message_len = size;
        }
        let p = Payload {
            opcode: h.opcode,
            fin: h.fin,
            mask: h.mask,
            remaining: h.payload_len,
            phase: 0,
        };
        if h.payload_len == 0 {
            self.end_frame(p)
        } else {
            self.payload = Some(p);
            Ok(())
        }
    }

    fn read_payload(&mut self, mut p: Payload, data: &[u8]) -> Result<usize, Error> {
        let take = usize::try_from(p.remaining).map_or(data.len(), |r| r.min(data.len()));
        let chunk = &data[..take];
        if p.opcode.is_control() {
            let buf = &mut self.ctrl_buf[self.ctrl_len..self.ctrl_len + take];
            buf.copy_from_slice(chunk);
            if let Some(key) = p.mask {
                apply_mask(buf, key, p.phase);
            }
            self.ctrl_len += take;
        } else if self.compressed {
            self.zbuf.clear();
            self.zbuf.extend_from_slice(chunk);
            if let Some(key) = p.mask {
                apply_mask(&mut self.zbuf, key, p.phase);
            }
            let zbuf = std::mem::take(&mut self.zbuf);
            let r = self.inflate(&zbuf, false);
            self.zbuf = zbuf;
            r?;
        } else {
            let start = self.msg_buf.len();
            self.msg_buf.extend_from_slice(chunk);
            let new = &mut self.msg_buf[start..];
            if let Some(key) = p.mask {
                apply_mask(new, key, p.phase);
            }
            if self.message == Some(MessageKind::Text) && self.utf8.feed(new).is_err() {
                return Err(Error::InvalidUtf8);
            }
        }
        p.remaining -= take as u64;
        p.phase = (p.phase + take) & 3;
        if p.remaining == 0 {
            self.payload = None;
            self.end_frame(p)?;
        } else {
            self.payload = Some(p);
            if self.config.fragments && !p.opcode.is_control() && take > 0 {
                let kind = self.message.expect("data frame inside a message");
                self.ready = Some(Ready::Fragment(kind, false));
            }
        }
        Ok(take)
    }

    fn end_frame(&mut self, p: Payload) -> Result<(), Error> {
        match p.opcode {
            OpCode::Ping => {
                if self.config.auto_pong && !self.close_sent {
                    let (buf, len) = (self.ctrl_buf, self.ctrl_len);
                    self.write_frame(OpCode::Pong, true, &buf[..len]);
                }
                self.ready = Some(Ready::Ping);
            }
            OpCode::Pong => self.ready = Some(Ready::Pong),
            OpCode::Close => {
                parse_close(&self.ctrl_buf[..self.ctrl_len])?;
                self.close_received = true;
                if !self.close_sent {
                    // Echo the code (RFC 6455 §5.5.1), without the reason.
                    let mut code = [0; 2];
                    let echo = if self.ctrl_len >= 2 {
                        code.copy_from_slice(&self.ctrl_buf[..2]);
                        &code[..]
                    } else {
                        &[]
                    };
                    self.write_frame(OpCode::Close, true, echo);
                    self.close_sent = true;
                }
                self.closed = true;
                self.close_deadline = None;
                self.ready = Some(Ready::Close);
            }
            OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                let kind = self.message.expect("data frame inside a message");
                if p.fin {
                    if self.compressed {
                        self.inflate(&[], true)?;
                    }
                    if kind == MessageKind::Text && self.utf8.finish().is_err() {
                        return Err(Error::InvalidUtf8);
                    }
                    self.message = None;
                    self.message_len = 0;
                    self.ready = Some(if self.config.fragments {
                        Ready::Fragment(kind, true)
                    } else {
                        Ready::Message(kind)
                    });
                } else if self.config.fragments && !self.msg_buf.is_empty() {
                    self.ready = Some(Ready::Fragment(kind, false));
                }
            }
        }
        Ok(())
    }

    /// Inflates a piece of a compressed message (`end`: the message's end) onto the
    /// message buffer, within the message limit, validating text as it appears.
    fn inflate(&mut self, input: &[u8], end: bool) -> Result<(), Error> {
        let max = self.config.max_message_size;
        let start = self.msg_buf.len();
        let limit = start + max.saturating_sub(self.inflated);
        let codec = self
            .codec
            .as_mut()
            .ok_or(Error::Protocol(ProtocolError::ReservedBits))?;
        let within = if end {
            codec.finish(&mut self.msg_buf, limit)
        } else {
            codec.decompress(input, &mut self.msg_buf, limit)
        }
        .map_err(|_| Error::InvalidCompressedData)?;
        self.inflated += self.msg_buf.len() - start;
        if !within {
            return Err(Error::MessageTooLarge {
                size: self.inflated as u64 + 1,
                limit: max,
            });
        }
        if self.message == Some(MessageKind::Text)
            && self.utf8.feed(&self.msg_buf[start..]).is_err()
        {
            return Err(Error::InvalidUtf8);
        }
        Ok(())
    }

    // ---- send internals ----

    fn send_data(&mut self, opcode: OpCode, fin: bool, data: &[u8]) -> Result<(), Error> {
        if self.close_sent || self.closed {
            return Err(Error::Closed);
        }
        if opcode != OpCode::Continuation && self.sending.is_some() {
            return Err(Error::FragmentOrder);
        }
        let compress = fin
            && opcode != OpCode::Continuation
            && self
                .codec
                .as_ref()
                .is_some_and(|c| data.len() >= c.min_message_size());
        if compress {
            let mut zbuf = std::mem::take(&mut self.zbuf);
            let codec = self.codec.as_mut().expect("checked above");
            let r = codec.compress(data, &mut zbuf).map_err(|_| Error::Internal);
            let r = r.and_then(|()| self.check_send_room(zbuf.len()));
            if r.is_ok() {
                self.write_frame_rsv(opcode, fin, 0b100, &zbuf);
            }
            self.zbuf = zbuf;
            return r;
        }
        self.check_send_room(data.len())?;
        self.write_frame(opcode, fin, data);
        Ok(())
    }

    fn send_control(&mut self, opcode: OpCode, payload: &[u8]) -> Result<(), Error> {
        if self.close_sent || self.closed {
            return Err(Error::Closed);
        }
        if payload.len() > MAX_CONTROL_PAYLOAD {
            return Err(Error::ControlPayloadTooLong);
        }
        self.check_send_room(payload.len())?;
        self.write_frame(opcode, true, payload);
        Ok(())
    }

    fn check_send_room(&self, payload: usize) -> Result<(), Error> {
        if !self.tx.is_empty()
            && self.tx.len() + payload + super::frame::MAX_HEADER_LEN > self.config.max_send_buffer
        {
            return Err(Error::SendBufferFull);
        }
        Ok(())
    }

    fn write_close(&mut self, code: CloseCode, reason: &[u8]) {
        let mut buf = [0; MAX_CONTROL_PAYLOAD];
        buf[..2].copy_from_slice(&code.0.to_be_bytes());
        buf[2..2 + reason.len()].copy_from_slice(reason);
        self.write_frame(OpCode::Close, true, &buf[..2 + reason.len()]);
        self.close_sent = true;
    }

    fn write_frame(&mut self, opcode: OpCode, fin: bool, payload: &[u8]) {
        self.write_frame_rsv(opcode, fin, 0, payload);
    }

    fn write_frame_rsv(&mut self, opcode: OpCode, fin: bool, rsv: u8, payload: &[u8]) {
        let mask = match self.role {
            Role::Client => Some(self.keys.next()),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        header.encode_to_vec(&mut self.tx);
        let start = self.tx.len();
        self.tx.extend_from_slice(payload);
        if let Some(key) = mask {
            apply_mask(&mut self.tx[start..], key, 0);
        }
    }

    fn idle_deadline(&self) -> Option<Instant> {
        let interval = self.config.ping_interval?;
        Some(self.last_input? + interval)
    }
}

/// Validates a close payload: empty, or a sendable code and a UTF-8 reason.
fn parse_close(payload: &[u8]) -> Result<Option<CloseFrame<'_>>, Error> {
    match payload {
        [] => Ok(None),
        [_] => Err(ProtocolError::CloseLength.into()),
        [hi, lo, reason @ ..] => {
            let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
            if !code.is_valid_on_wire() {
                return Err(ProtocolError::InvalidCloseCode(code.0).into());
            }
            let reason = std::str::from_utf8(reason).map_err(|_| Error::InvalidUtf8)?;
            Ok(Some(CloseFrame { code, reason }))
        }
    }
}
