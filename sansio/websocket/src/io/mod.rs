//! The async layer: a [`WebSocket`] over any strait stream, driving a
//! [`Connection`] with the small loop every strait protocol
//! shares: read, `handle_input`, `poll_event`, `poll_transmit`, write, and the deadline
//! from `poll_timeout` through the context's timers.
//!
//! ```
//! use strait_streams::{block_on, duplex, when_all};
//! use strait_websocket::io::WebSocket;
//! use strait_websocket::proto::{CloseCode, Config, Message, Role};
//!
//! let (a, b) = duplex(64 * 1024);
//! let mut client = WebSocket::new(a, Role::Client, Config::default());
//! let mut server = WebSocket::new(b, Role::Server, Config::default());
//! block_on(async {
//!     let echo = async {
//!         while let Some(m) = server.next_message().await? {
//!             let text = match m { Message::Text(t) => t.to_owned(), Message::Binary(_) => continue };
//!             server.send_text(&text).await?;
//!         }
//!         Ok::<_, std::io::Error>(())
//!     };
//!     let talk = async {
//!         client.send_text("hi").await?;
//!         assert_eq!(client.next_message().await?, Some(Message::Text("hi")));
//!         client.close(CloseCode::NORMAL, "bye").await
//!     };
//!     when_all((echo, talk)).await.unwrap();
//! });
//! ```

use std::future::{poll_fn, Future};
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll};
use std::time::Instant;

use strait_streams::combinators::Delay;
use strait_streams::{delay_until, MutableBuffer, ReadStream, Stream, WriteStreamExt};

use crate::handshake::{self, HandshakeError};

use crate::proto::{
    CloseCode, Config, Connection, Error, Event, InPlaceAt, Message, MessageKind, Role,
};

#[cfg(feature = "futures")]
mod futures;
mod sender;
mod split;
#[cfg(feature = "futures")]
pub use futures::{OwnedMessage, WebSocketStream};
pub use sender::Sender;
pub use split::{WebSocketReader, WebSocketWriter};

/// Default size of the read buffer.
const READ_BUFFER: usize = 16 * 1024;

/// The largest handshake head [`accept`] and [`connect`] read.
pub const MAX_HEAD: usize = 16 * 1024;

fn handshake_error(e: HandshakeError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// Reads until `parse` finds a complete head; returns it, its length, and the bytes read.
async fn read_head<S: Stream + Unpin, T>(
    stream: &mut S,
    parse: impl Fn(&[u8]) -> Result<Option<(T, usize)>, HandshakeError>,
) -> io::Result<(T, usize, Vec<u8>)> {
    use strait_streams::ReadStreamExt;
    let mut buf = vec![0; MAX_HEAD];
    let mut filled = 0;
    loop {
        if filled == buf.len() {
            return Err(handshake_error(HandshakeError::Malformed));
        }
        let n = stream.read(&mut buf[filled..]).await?;
        if n == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the stream ended inside the handshake",
            ));
        }
        filled += n;
        if let Some((head, len)) = parse(&buf[..filled]).map_err(handshake_error)? {
            buf.truncate(filled);
            return Ok((head, len, buf));
        }
    }
}

async fn write_all_flush<S: Stream + Unpin>(stream: &mut S, bytes: &[u8]) -> io::Result<()> {
    strait_streams::write_all(stream, bytes).await.map(|_| ())
}

/// What a server agreed to in its 101 answer: the subprotocol and, with the `deflate`
/// feature, the permessage-deflate parameters. Made by [`server_handshake`]; turns the
/// upgraded stream into a [`WebSocket`].
#[derive(Debug, Clone)]
pub struct Accepted {
    protocol: Option<String>,
    #[cfg(feature = "deflate")]
    deflate: Option<crate::proto::deflate::DeflateParams>,
    config: Config,
}

impl Accepted {
    /// The subprotocol chosen.
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// Whether permessage-deflate was agreed.
    pub fn compressed(&self) -> bool {
        #[cfg(feature = "deflate")]
        return self.deflate.is_some();
        #[cfg(not(feature = "deflate"))]
        false
    }

    /// The server's connection, wrapping the stream the 101 went out on; `leftover`:
    /// bytes read past the request head, the first of the WebSocket stream.
    pub fn into_websocket<S: Stream + Unpin>(self, stream: S, leftover: &[u8]) -> WebSocket<S> {
        #[cfg(feature = "deflate")]
        let conn = match &self.deflate {
            Some(params) => Connection::with_deflate(Role::Server, self.config, params),
            None => Connection::new(Role::Server, self.config),
        };
        #[cfg(not(feature = "deflate"))]
        let conn = Connection::new(Role::Server, self.config);
        let mut ws = WebSocket::from_connection(stream, conn, leftover);
        ws.protocol = self.protocol;
        ws
    }
}

/// The server's decision on a handshake request head, without I/O: the 101 answer and
/// what it agreed (the first of `protocols`, in the server's order of preference, that
/// the client offered; permessage-deflate when `config.compression` asks for it and the
/// client offered parameters it can honour), or the refusal to send (400, or 426 for a
/// version other than 13) with its reason.
///
/// # Errors
/// The [`HandshakeError`] and its answer.
pub fn server_handshake(
    parts: &http::request::Parts,
    config: Config,
    protocols: &[&str],
) -> Result<(http::Response<()>, Accepted), (http::Response<()>, HandshakeError)> {
    let offer = handshake::validate_request(parts).map_err(|e| (e.response(), e))?;
    let protocol = offer.select_protocol(protocols);
    #[allow(unused_mut)]
    let mut response = offer.response(protocol);
    #[cfg(feature = "deflate")]
    let mut deflate = None;
    #[cfg(feature = "deflate")]
    if let Some(dc) = &config.compression {
        // The first offer we can honour (RFC 7692 §5).
        if let Some((params, answer)) = offer.extensions().find_map(|o| dc.accept_offer(o).ok()) {
            let value = http::HeaderValue::from_str(&answer).expect("parameters are tokens");
            response
                .headers_mut()
                .insert(handshake::SEC_WEBSOCKET_EXTENSIONS, value);
            deflate = Some(params);
        }
    }
    let accepted = Accepted {
        protocol: protocol.map(str::to_owned),
        #[cfg(feature = "deflate")]
        deflate,
        config,
    };
    Ok((response, accepted))
}

/// The server side of the opening handshake, standalone over a raw stream: reads the
/// request head, validates it, answers 101 (as [`server_handshake`] decides) and
/// returns the connection with the request's head. Bytes the client sent after its
/// head are kept. Behind an HTTP server, use its upgrade hand-off instead (with the
/// `http1` feature: the `http1` module).
///
/// # Errors
/// A refused request is answered (400, or 426 for a version other than 13) and
/// reported as `InvalidData` wrapping the [`HandshakeError`]; the stream's errors.
pub async fn accept<S: Stream + Unpin>(
    mut stream: S,
    config: Config,
    protocols: &[&str],
) -> io::Result<(WebSocket<S>, http::request::Parts)> {
    let (parts, len, buf) = read_head(&mut stream, handshake::parse_request).await?;
    let mut out = Vec::new();
    match server_handshake(&parts, config, protocols) {
        Ok((response, accepted)) => {
            handshake::write_response(&response, &mut out);
            write_all_flush(&mut stream, &out).await?;
            Ok((accepted.into_websocket(stream, &buf[len..]), parts))
        }
        Err((response, e)) => {
            handshake::write_response(&response, &mut out);
            write_all_flush(&mut stream, &out).await?;
            let _ = stream.shutdown().await;
            Err(handshake_error(e))
        }
    }
}

/// The client side of the opening handshake over a raw stream: sends a request for `uri`
/// offering `protocols`, checks the answer and returns the connection. Bytes the server
/// sent after its head are kept.
///
/// # Errors
/// A refusal or an invalid answer as `InvalidData` wrapping the [`HandshakeError`]; the
/// stream's errors.
pub async fn connect<S: Stream + Unpin>(
    mut stream: S,
    uri: http::Uri,
    protocols: &[&str],
    config: Config,
) -> io::Result<WebSocket<S>> {
    #[allow(unused_mut)]
    let (mut request, key) = handshake::client_request(uri, protocols);
    #[cfg(feature = "deflate")]
    if let Some(deflate) = &config.compression {
        let value = http::HeaderValue::from_str(&deflate.offer()).expect("parameters are tokens");
        request
            .headers_mut()
            .insert(handshake::SEC_WEBSOCKET_EXTENSIONS, value);
    }
    let mut out = Vec::new();
    handshake::write_request(&request, &mut out);
    write_all_flush(&mut stream, &out).await?;
    let (parts, len, buf) = read_head(&mut stream, handshake::parse_response).await?;
    #[cfg(feature = "deflate")]
    let (protocol, conn) = match &config.compression {
        Some(deflate) => {
            let (protocol, params) =
                handshake::verify_response_deflate(&parts, &key, protocols, deflate)
                    .map_err(handshake_error)?;
            let protocol = protocol.map(str::to_owned);
            match params {
                Some(p) => (protocol, Connection::with_deflate(Role::Client, config, &p)),
                None => (protocol, Connection::new(Role::Client, config)),
            }
        }
        None => {
            let protocol =
                handshake::verify_response(&parts, &key, protocols).map_err(handshake_error)?;
            (
                protocol.map(str::to_owned),
                Connection::new(Role::Client, config),
            )
        }
    };
    #[cfg(not(feature = "deflate"))]
    let (protocol, conn) = {
        let protocol =
            handshake::verify_response(&parts, &key, protocols).map_err(handshake_error)?;
        (
            protocol.map(str::to_owned),
            Connection::new(Role::Client, config),
        )
    };
    let mut ws = WebSocket::from_connection(stream, conn, &buf[len..]);
    ws.protocol = protocol;
    Ok(ws)
}

/// A WebSocket connection over a stream, after the opening handshake.
///
/// Sends write their frame out (and flush) before returning: a slow peer slows the
/// sender. A message that arrives as one frame is delivered from the read buffer, unmasked
/// in place, without a copy: the read buffer (16 KiB at first) grows, by doubling as the
/// bytes arrive, to the largest such message (at most [`Config::max_message_size`]) and
/// is reused. A server writes large messages straight from the caller's bytes. [`split`](Self::split) gives a reader and a writer for two tasks. Every method is cancel-safe: dropping its future loses no received byte
/// and no queued frame (positions live in `self`), the next call continues.
/// Cancellation through the environment's stop token reaches the pending read, write
/// or timer and ends the call with the canceled error.
#[derive(Debug)]
pub struct WebSocket<S> {
    stream: S,
    conn: Connection,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    wbuf: Vec<u8>,
    wpos: usize,
    read_eof: bool,
    shut_down: bool,
    protocol: Option<String>,
    /// The message last delivered in place: its kind and payload range in `rbuf`
    /// (start `usize::MAX`: the first `end` bytes of `mbuf`).
    inplace: Option<(MessageKind, usize, usize)>,
    /// A message copied out of the connection for [`next_message_with_sender`](Self::next_message_with_sender).
    mbuf: Vec<u8>,
}

impl<S: Stream + Unpin> WebSocket<S> {
    /// Wraps `stream`, on which the handshake has completed.
    pub fn new(stream: S, role: Role, config: Config) -> Self {
        Self::with_leftover(stream, role, config, &[])
    }

    /// Wraps `stream` with `leftover`: bytes the HTTP layer read past the handshake,
    /// which are the start of the WebSocket stream.
    pub fn with_leftover(stream: S, role: Role, config: Config, leftover: &[u8]) -> Self {
        Self::from_connection(stream, Connection::new(role, config), leftover)
    }

    /// Wraps `stream` and a connection set up by the caller (for example with
    /// permessage-deflate negotiated), with `leftover` bytes as in
    /// [`with_leftover`](Self::with_leftover).
    pub fn from_connection(stream: S, conn: Connection, leftover: &[u8]) -> Self {
        let mut rbuf = vec![0; READ_BUFFER.max(leftover.len())];
        rbuf[..leftover.len()].copy_from_slice(leftover);
        Self {
            stream,
            conn,
            rbuf,
            rstart: 0,
            rend: leftover.len(),
            wbuf: Vec::new(),
            wpos: 0,
            read_eof: false,
            shut_down: false,
            protocol: None,
            inplace: None,
            mbuf: Vec::new(),
        }
    }

    /// The state machine.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The subprotocol negotiated by [`accept`] or [`connect`].
    pub fn protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &S {
        &self.stream
    }

    /// Gives the stream back.
    pub fn into_inner(self) -> S {
        self.stream
    }

    /// The next event from the peer: a message, a fragment, a ping, a pong or the peer's
    /// close. Automatic answers (pong, the close echo) are written first. `Ok(None)`
    /// once the connection is over; the stream is then shut down.
    ///
    /// # Errors
    /// The peer's protocol violation (written to the peer as a close frame first; the
    /// `io::Error` wraps a [`proto::Error`](Error)), `UnexpectedEof` when the stream ends
    /// without a close, `TimedOut` from the close or idle-ping timers, the stream's own
    /// errors.
    pub async fn next_event(&mut self) -> io::Result<Option<Event<'_>>> {
        self.drive().await?;
        if self.inplace.is_some() {
            return Ok(Some(Event::Message(self.inplace_message())));
        }
        if self.conn.has_event() {
            return Ok(self.conn.poll_event());
        }
        self.shutdown_once().await;
        Ok(None)
    }

    /// The next whole message, skipping control events; `Ok(None)` once the connection
    /// is over. For [`Config::fragments`] mode use [`next_event`](Self::next_event).
    ///
    /// # Errors
    /// As [`next_event`](Self::next_event); `InvalidInput` in fragment mode.
    pub async fn next_message(&mut self) -> io::Result<Option<Message<'_>>> {
        if self.conn.config().fragments {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "next_message needs whole-message mode; use next_event for fragments",
            ));
        }
        loop {
            self.drive().await?;
            if self.inplace.is_some() {
                return Ok(Some(self.inplace_message()));
            }
            if self.conn.has_message_event() {
                return Ok(match self.conn.poll_event() {
                    Some(Event::Message(m)) => Some(m),
                    _ => unreachable!("a message is ready"),
                });
            }
            if !self.conn.has_event() {
                self.shutdown_once().await;
                return Ok(None);
            }
            let _ = self.conn.poll_event();
        }
    }

    /// The next whole message, as [`next_message`](Self::next_message), with a
    /// [`Sender`] that can send while the message is borrowed: an echo or a reply built
    /// from the message, without copying it out first.
    ///
    /// # Errors
    /// As [`next_message`](Self::next_message).
    ///
    /// # Examples
    /// ```no_run
    /// # async fn echo<S: strait_streams::Stream + Unpin>(mut ws: strait_websocket::io::WebSocket<S>) -> std::io::Result<()> {
    /// use strait_websocket::proto::Message;
    /// while let Some((message, mut tx)) = ws.next_message_with_sender().await? {
    ///     match message {
    ///         Message::Text(t) => tx.send_text(t).await?,
    ///         Message::Binary(b) => tx.send_binary(b).await?,
    ///     }
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn next_message_with_sender(
        &mut self,
    ) -> io::Result<Option<(Message<'_>, Sender<'_, S>)>> {
        if self.conn.config().fragments {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "next_message_with_sender needs whole-message mode",
            ));
        }
        loop {
            self.drive().await?;
            if self.inplace.is_some() {
                break;
            }
            if self.conn.has_message_event() {
                // A fragmented or compressed message lives in the connection, which
                // the sender needs: copy it out.
                if let Some(Event::Message(m)) = self.conn.poll_event() {
                    self.mbuf.clear();
                    self.mbuf.extend_from_slice(m.as_bytes());
                    let len = self.mbuf.len();
                    self.inplace = Some((m.kind(), usize::MAX, len));
                }
                break;
            }
            if !self.conn.has_event() {
                self.shutdown_once().await;
                return Ok(None);
            }
            let _ = self.conn.poll_event();
        }
        let (kind, start, end) = self.inplace.expect("a message is ready");
        let Self {
            stream,
            conn,
            rbuf,
            mbuf,
            wbuf,
            wpos,
            ..
        } = self;
        let payload = if start == usize::MAX {
            &mbuf[..end]
        } else {
            &rbuf[start..end]
        };
        let message = match kind {
            MessageKind::Binary => Message::Binary(payload),
            MessageKind::Text => Message::Text(std::str::from_utf8(payload).expect("validated")),
        };
        let sender = Sender {
            stream,
            conn,
            wbuf,
            wpos,
        };
        Ok(Some((message, sender)))
    }

    /// Sends a text message.
    ///
    /// # Errors
    /// [`Error::Closed`] (as `io::Error`) after a close; the stream's errors.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        self.sender().send_text(text).await
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        self.sender().send_binary(data).await
    }

    /// Sends a binary message; a client masks a large `data` in place rather than a
    /// copy of it, as [`Sender::send_binary_mut`] explains.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_binary_mut(&mut self, data: &mut [u8]) -> io::Result<()> {
        self.sender().send_binary_mut(data).await
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text); a payload over 125 bytes.
    pub async fn send_ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.sender().send_ping(payload).await
    }

    /// The sending side, borrowing what sends need (not the read buffer).
    fn sender(&mut self) -> Sender<'_, S> {
        Sender {
            stream: &mut self.stream,
            conn: &mut self.conn,
            wbuf: &mut self.wbuf,
            wpos: &mut self.wpos,
        }
    }

    async fn flush_tx(&mut self) -> io::Result<()> {
        self.sender().flush_tx().await
    }

    /// Closes: sends our close frame, then reads (discarding messages) until the peer's
    /// close arrives or the close timeout passes, and shuts the stream down.
    ///
    /// # Errors
    /// An invalid code or reason (nothing is sent), `TimedOut`, the stream's errors.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> io::Result<()> {
        if !self.conn.is_close_sent() {
            self.conn.close(Instant::now(), code, reason)?;
        }
        loop {
            self.drive().await?;
            if self.inplace.is_some() {
                continue;
            }
            if !self.conn.has_event() {
                self.shutdown_once().await;
                return Ok(());
            }
            let _ = self.conn.poll_event();
        }
    }

    /// The message [`drive`](Self::drive) found in place (its text already validated).
    fn inplace_message(&self) -> Message<'_> {
        let (kind, start, end) = self.inplace.expect("a message in place");
        let payload = &self.rbuf[start..end];
        match kind {
            MessageKind::Binary => Message::Binary(payload),
            MessageKind::Text => {
                Message::Text(std::str::from_utf8(payload).expect("validated by drive"))
            }
        }
    }

    /// Reads, feeds and writes until an event is ready or the connection is over
    /// (`Ok` with no event ready).
    /// Messages that arrive as one frame are found in place in the read buffer
    /// (`self.inplace`); a partial one is gathered there, the buffer growing as its
    /// bytes arrive.
    async fn drive(&mut self) -> io::Result<()> {
        self.inplace = None;
        loop {
            self.flush_tx().await?;
            if self.conn.has_event() || self.conn.is_closed() {
                return Ok(());
            }
            if self.rstart < self.rend {
                let r = self
                    .conn
                    .handle_input_at(Instant::now(), &mut self.rbuf[self.rstart..self.rend]);
                match r {
                    Ok(InPlaceAt::Used(n)) => {
                        self.rstart += n;
                        continue;
                    }
                    Ok(InPlaceAt::Message { used, kind, start }) => {
                        let (start, end) = (self.rstart + start, self.rstart + used);
                        self.rstart = end;
                        if kind == MessageKind::Text
                            && std::str::from_utf8(&self.rbuf[start..end]).is_err()
                        {
                            let e = self.conn.fail(Error::InvalidUtf8);
                            return Err(self.abort(e).await);
                        }
                        self.inplace = Some((kind, start, end));
                        return Ok(());
                    }
                    Ok(InPlaceAt::Incomplete { used, frame_len }) => {
                        self.rstart += used;
                        make_room(&mut self.rbuf, &mut self.rstart, &mut self.rend, frame_len);
                    }
                    Err(e) => return Err(self.abort(e).await),
                }
            }
            if self.read_eof {
                if self.rstart < self.rend {
                    // A message cut short: let the connection see what there is.
                    let r = self
                        .conn
                        .handle_input(Instant::now(), &self.rbuf[self.rstart..self.rend]);
                    match r {
                        Ok(n) => self.rstart += n,
                        Err(e) => return Err(self.abort(e).await),
                    }
                    if self.conn.has_event() || self.conn.is_closed() {
                        continue;
                    }
                }
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended without a close frame",
                ));
            }
            match self.read_or_deadline().await? {
                Some(0) => self.read_eof = true,
                Some(n) => self.rend += n,
                None => {
                    if let Err(e) = self.conn.handle_timeout(Instant::now()) {
                        return Err(self.abort(e).await);
                    }
                }
            }
        }
    }

    /// One read after the bytes buffered (into the whole buffer when it is drained),
    /// or `None` when the connection's deadline passes first.
    async fn read_or_deadline(&mut self) -> io::Result<Option<usize>> {
        if self.rstart == self.rend {
            (self.rstart, self.rend) = (0, 0);
        }
        let delay = self.conn.poll_timeout().map(delay_until);
        let mut delay = pin!(delay);
        let Self {
            stream, rbuf, rend, ..
        } = self;
        let rend = *rend;
        poll_fn(|cx| poll_read_or_delay(cx, stream, &mut rbuf[rend..], delay.as_mut())).await
    }

    /// After a failure: best effort to deliver the close frame, then shut down.
    async fn abort(&mut self, e: Error) -> io::Error {
        let _ = self.flush_tx().await;
        self.shutdown_once().await;
        e.into()
    }

    async fn shutdown_once(&mut self) {
        if !self.shut_down {
            self.shut_down = true;
            // The peer may already be gone; the close handshake is what mattered.
            let _ = self.stream.shutdown().await;
        }
    }
}

/// One poll of a read into `buf` raced against the connection's deadline: `Some(n)` when
/// the read completed, `None` when `delay` fired first (shared by the whole and the split
/// connection).
fn poll_read_or_delay<S: ReadStream + Unpin>(
    cx: &mut Context<'_>,
    stream: &mut S,
    buf: &mut [u8],
    delay: Pin<&mut Option<Delay>>,
) -> Poll<io::Result<Option<usize>>> {
    let mut bufs = [MutableBuffer::new(buf)];
    if let Poll::Ready(r) = Pin::new(stream).poll_read_some(cx, &mut bufs) {
        return Poll::Ready(r.map(Some));
    }
    if let Some(d) = delay.as_pin_mut() {
        if let Poll::Ready(r) = d.poll(cx) {
            return Poll::Ready(r.map(|()| None));
        }
    }
    Poll::Pending
}

/// Room after `rend` for a frame of `frame_len` bytes starting at `rstart`: the partial
/// frame moves to the front if it would not fit, and a full buffer grows (at most
/// doubling, so memory follows the bytes that actually arrived) to the frame plus
/// [`GATHER_SLACK`].
fn make_room(rbuf: &mut Vec<u8>, rstart: &mut usize, rend: &mut usize, frame_len: usize) {
    if *rstart + frame_len > rbuf.len() && *rstart > 0 {
        rbuf.copy_within(*rstart..*rend, 0);
        *rend -= *rstart;
        *rstart = 0;
    }
    if *rend == rbuf.len() {
        let grown = (rbuf.len() * 2).min(*rstart + frame_len + GATHER_SLACK);
        rbuf.resize(grown, 0);
    }
}

/// Room kept past a gathered frame: the read that completes it is then a short read,
/// after which a driver waits for readiness rather than trying a read that would block.
const GATHER_SLACK: usize = 4096;
