//! The server role.

use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

use http::{HeaderMap, Method, StatusCode, Version};

use super::body::{BodyDecoder, Step};
use super::encode::{
    write_decimal, write_fields, write_status_line, DataFrame, DateCache, Encoder, Sending,
};
use super::framing::{wants_upgrade, BodyFraming};
use super::head::{HeadIndex, HeadScanner, Headers, RequestHead};
use super::input::Input;
use super::{BodyLength, Error, Event, Limits, SendError, Timeouts};

/// The smallest request head: `X / HTTP/1.1` and two CRLFs.
const MIN_REQUEST_HEAD: usize = 16;

/// A request read but not yet fully answered.
#[derive(Debug, Clone, Copy)]
struct Pending {
    version: Version,
    head: bool,
    connect: bool,
    upgrade: bool,
    persistent: bool,
    expects_continue: bool,
    continue_sent: bool,
    body_done: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recv {
    /// Waiting for (or reading) a request head.
    Head,
    Body,
    /// An upgrade or CONNECT request ended: paused until its answer decides.
    AwaitUpgrade,
    /// No further request will be read (close after the answers).
    Done,
    /// A 101 or a 2xx to CONNECT went out: the bytes belong to the new protocol.
    Upgraded,
    Failed,
    /// The peer closed between requests; reported once.
    Closed,
}

/// Configuration of a [`ServerConnection`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerConfig {
    /// Byte and count limits.
    pub limits: Limits,
    /// Head-read and keep-alive idle timeouts.
    pub timeouts: Timeouts,
    /// A moment and the wall-clock time at that moment: with it, responses carry a
    /// Date header derived from each call's `now`. Without it, no Date is sent.
    pub date_anchor: Option<(Instant, SystemTime)>,
}

/// The server side of one HTTP/1.1 connection, without I/O.
///
/// # Driving it
/// - Inputs: [`handle_input`](Self::handle_input) (or [`input_buffer`](Self::input_buffer)
///   and [`commit_input`](Self::commit_input) to read in place),
///   [`handle_eof`](Self::handle_eof), [`handle_timeout`](Self::handle_timeout).
/// - Events: call [`poll_event`](Self::poll_event) until it returns `Ok(None)`.
/// - Answers: [`send_response`](Self::send_response), then body through
///   [`send_data`](Self::send_data) or [`frame_data`](Self::frame_data), then
///   [`send_end`](Self::send_end), each writing into the caller's buffer; answers go
///   in request order.
/// - Outputs: [`poll_transmit`](Self::poll_transmit) for bytes the connection writes
///   itself (error answers); [`poll_timeout`](Self::poll_timeout) for the next deadline;
///   [`wants_close`](Self::wants_close) once everything is sent.
///
/// ```
/// use strait_http1::proto::{BodyLength, Event, ServerConnection};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let mut conn = ServerConnection::new(Default::default(), now);
/// conn.handle_input(now, b"GET /hi HTTP/1.1\r\nHost: a\r\n\r\n");
/// match conn.poll_event().unwrap() {
///     Some(Event::Request(req)) => assert_eq!(req.target(), "/hi"),
///     other => panic!("{other:?}"),
/// }
/// assert!(matches!(conn.poll_event().unwrap(), Some(Event::EndOfMessage)));
/// let mut out = Vec::new();
/// conn.send_response(now, http::StatusCode::OK, &http::HeaderMap::new(), BodyLength::Known(2), &mut out).unwrap();
/// conn.send_data(b"hi", &mut out).unwrap();
/// conn.send_end(None, &mut out).unwrap();
/// assert!(out.starts_with(b"HTTP/1.1 200 OK\r\n"));
/// assert!(out.ends_with(b"content-length: 2\r\n\r\nhi"));
/// ```
#[derive(Debug)]
pub struct ServerConnection {
    config: ServerConfig,
    input: Input,
    scanner: HeadScanner,
    head: HeadIndex,
    body: BodyDecoder,
    recv: Recv,
    /// Bytes the last event borrowed, consumed at the next `poll_event`.
    borrowed: usize,
    /// Bytes of the last data event handed back by `return_data`.
    redeliver: usize,
    pending: VecDeque<Pending>,
    encoder: Encoder,
    /// Bytes the connection itself wants to send.
    out: Vec<u8>,
    /// The answer owed for a protocol error, sent once earlier answers are done.
    error_status: Option<StatusCode>,
    error: Option<Error>,
    date: DateCache,
    now: Instant,
    idle_since: Instant,
    head_started: Option<Instant>,
    /// When the request body last made progress (its head ended, or bytes came in).
    body_progress: Instant,
}

impl ServerConnection {
    /// A connection that starts idle at `now`.
    pub fn new(config: ServerConfig, now: Instant) -> Self {
        Self {
            date: DateCache::new(config.date_anchor),
            config,
            input: Input::default(),
            scanner: HeadScanner::default(),
            head: HeadIndex::default(),
            body: BodyDecoder::new(BodyFraming::Length(0)),
            recv: Recv::Head,
            borrowed: 0,
            redeliver: 0,
            pending: VecDeque::new(),
            encoder: Encoder::default(),
            out: Vec::new(),
            error_status: None,
            error: None,
            now,
            idle_since: now,
            head_started: None,
            body_progress: now,
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> &Limits {
        &self.config.limits
    }

    fn reading(&self) -> bool {
        matches!(
            self.recv,
            Recv::Head | Recv::Body | Recv::AwaitUpgrade | Recv::Upgraded
        )
    }

    // ----- inputs -----

    /// Buffers bytes received from the client and returns how many it took: all of
    /// them unless `max_buffered` unconsumed bytes are already held (then the caller
    /// keeps the rest and offers it again after polling events). Bytes arriving after
    /// the connection stopped reading are taken and dropped.
    pub fn handle_input(&mut self, now: Instant, data: &[u8]) -> usize {
        self.now = now;
        if !self.reading() {
            return data.len();
        }
        if self.recv == Recv::Body && !data.is_empty() {
            self.body_progress = now;
        }
        self.input.push(data, self.config.limits.max_buffered)
    }

    /// Room to read client bytes into, in place; empty while `max_buffered` bytes
    /// wait for `poll_event`. Follow with [`commit_input`](Self::commit_input).
    pub fn input_buffer(&mut self) -> &mut [u8] {
        self.consume_borrowed();
        self.input.spare(self.config.limits.max_buffered)
    }

    /// Records that `n` bytes were read into [`input_buffer`](Self::input_buffer).
    pub fn commit_input(&mut self, now: Instant, n: usize) {
        self.now = now;
        self.input.commit(n);
        if self.recv == Recv::Body && n > 0 {
            self.body_progress = now;
        }
        if !self.reading() {
            let len = self.input.len();
            self.input.consume(len);
        }
    }

    /// Records that the client ended its direction (read returned end of stream).
    pub fn handle_eof(&mut self, now: Instant) {
        self.now = now;
        self.input.eof = true;
    }

    /// Applies the deadline from [`poll_timeout`](Self::poll_timeout) if `now` passed
    /// it: a head not received in time is answered 408; an idle keep-alive connection
    /// stops reading (and [`wants_close`](Self::wants_close) turns true).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.now = now;
        match self.poll_timeout() {
            Some(deadline) if now >= deadline => {
                if self.recv == Recv::Body {
                    self.fail(Error::BodyTimeout);
                } else if self.head_started.is_some() {
                    self.fail(Error::HeadTimeout);
                } else {
                    self.recv = Recv::Done;
                }
            }
            _ => {}
        }
    }

    // ----- events -----

    /// Hands back the last `n` bytes of the last [`Event::Data`]: the caller had no
    /// room for them, and the next `poll_event` delivers them again. Call it before
    /// any other method.
    ///
    /// # Panics
    /// If `n` exceeds the last event's data.
    pub fn return_data(&mut self, n: usize) {
        assert!(
            n <= self.borrowed,
            "returning more than the last data event held"
        );
        if n == 0 {
            return;
        }
        let used = self.borrowed - n;
        self.input.consume(used);
        self.borrowed = 0;
        self.redeliver = n;
    }

    fn consume_borrowed(&mut self) {
        if self.borrowed > 0 {
            self.input.consume(self.borrowed);
            self.borrowed = 0;
        }
    }

    fn fail(&mut self, e: Error) -> Error {
        if self.recv == Recv::Body {
            // The failing request gets the error answer instead of its own, unless its
            // answer has begun (then the connection just closes).
            let answering = self.encoder.is_open() && self.pending.len() == 1;
            if !answering {
                self.pending.pop_back();
            }
            self.error_status = if answering { None } else { e.status() };
        } else {
            self.error_status = e.status();
        }
        self.recv = Recv::Failed;
        self.error = Some(e);
        e
    }

    /// The next event, or `Ok(None)` when more input (or an answer, when
    /// `max_pipelined` requests wait or an upgrade is pending) is needed. Data in an
    /// event stays valid until the next call. After an `Err`, the connection stops
    /// reading; the error's answer comes out of [`poll_transmit`](Self::poll_transmit).
    pub fn poll_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        self.consume_borrowed();
        if self.redeliver > 0 {
            self.borrowed = std::mem::take(&mut self.redeliver);
            return Ok(Some(Event::Data(&self.input.data()[..self.borrowed])));
        }
        match self.recv {
            Recv::Head => self.poll_head(),
            Recv::Body => self.poll_body(),
            Recv::AwaitUpgrade | Recv::Done | Recv::Upgraded | Recv::Failed => Ok(None),
            Recv::Closed => Ok(None),
        }
    }

    fn poll_head(&mut self) -> Result<Option<Event<'_>>, Error> {
        // Borrowed, not copied: this runs for every byte that arrives alone.
        let limits = &self.config.limits;
        if self.pending.len() >= limits.max_pipelined {
            return Ok(None);
        }
        if !self.scanner.started() {
            // RFC 9112 §2.2: ignore empty lines before a request line.
            while self.input.data().starts_with(b"\r\n") {
                self.input.consume(2);
            }
            if self.input.data() == b"\r" && !self.input.eof {
                // Maybe the first half of another empty line.
                return Ok(None);
            }
        }
        if self.input.is_empty() {
            if self.input.eof {
                self.recv = Recv::Closed;
                return Ok(Some(Event::ConnectionClosed));
            }
            return Ok(None);
        }
        // A head that arrived whole is tokenized in one pass. Anything else is found
        // incrementally by the scanner (from where the tokenizer ran out, when it did),
        // then tokenized (resuming there); a head the tokenizer does not take is parsed
        // by httparse, which (with the scanner) reports the exact error.
        // (Fewer bytes than the smallest request head: not worth a try.)
        let whole = if self.scanner.started() || self.input.len() < MIN_REQUEST_HEAD {
            None
        } else {
            let tokenized = self.head.tokenize_request(self.input.data(), limits);
            self.scanner.after_tokenizer(tokenized)
        };
        let (len, parsed) = match whole {
            Some(len) => (len, Ok(())),
            None => {
                let found = self.scanner.scan(
                    self.input.data(),
                    limits.max_request_line,
                    limits.max_head_bytes,
                    Error::HeadTooLarge,
                );
                let len = match found {
                    Err(e) => return Err(self.fail(e)),
                    Ok(None) if self.input.eof || self.input.len() >= limits.max_buffered => {
                        return Err(self.fail(Error::IncompleteHead))
                    }
                    Ok(None) => {
                        // The head timeout runs from its first byte (a head that
                        // arrives whole never needs it).
                        if self.head_started.is_none() {
                            self.head_started = Some(self.now);
                        }
                        return Ok(None);
                    }
                    Ok(Some(len)) => len,
                };
                let data = &self.input.data()[..len];
                match self.head.tokenize_request(data, limits) {
                    Ok(_) => (len, Ok(())),
                    Err(_) => {
                        self.head.resume = 0;
                        (len, self.head.parse_request(data, limits))
                    }
                }
            }
        };
        let framing = parsed.and_then(|()| {
            let framing = self.head.summary.request_framing(self.head.version)?;
            if let BodyFraming::Length(n) = framing {
                if n > limits.max_body {
                    return Err(Error::BodyTooLarge);
                }
            }
            Ok(framing)
        });
        let framing = match framing {
            Ok(v) => v,
            Err(e) => return Err(self.fail(e)),
        };
        let summary = &self.head.summary;
        let version = self.head.version;
        let connect = self.head.method == Method::CONNECT;
        let expects_continue = summary.expect_continue && version == Version::HTTP_11;
        self.pending.push_back(Pending {
            version,
            head: self.head.method == Method::HEAD,
            connect,
            upgrade: wants_upgrade(&self.head.method, summary),
            persistent: summary.persistent(version),
            expects_continue,
            continue_sent: false,
            body_done: false,
        });
        self.body = BodyDecoder::new(framing);
        self.recv = Recv::Body;
        self.body_progress = self.now;
        self.scanner.reset(false);
        self.head_started = None;
        self.borrowed = len;
        let data = &self.input.data()[..len];
        Ok(Some(Event::Request(RequestHead::new(
            data,
            &self.head,
            expects_continue,
        ))))
    }

    fn poll_body(&mut self) -> Result<Option<Event<'_>>, Error> {
        let step = if self.body.at_end() {
            Ok(Step::End { consumed: 0 })
        } else {
            self.body
                .step(self.input.data(), self.input.eof, &self.config.limits)
        };
        match step {
            Err(e) => Err(self.fail(e)),
            Ok(Step::NeedMore { consumed }) => {
                self.input.consume(consumed);
                Ok(None)
            }
            Ok(Step::Data { skip, len }) => {
                self.input.consume(skip);
                self.borrowed = len;
                Ok(Some(Event::Data(&self.input.data()[..len])))
            }
            Ok(Step::Trailers { skip, len }) => {
                self.input.consume(skip);
                let section = &self.input.data()[..len];
                if let Err(e) = self.head.parse_trailers(section, &self.config.limits) {
                    return Err(self.fail(e));
                }
                self.borrowed = len;
                let data = &self.input.data()[..len];
                Ok(Some(Event::Trailers(Headers::new(data, &self.head.fields))))
            }
            Ok(Step::End { consumed }) => {
                self.input.consume(consumed);
                let last = self.pending.back_mut().expect("a request is being read");
                last.body_done = true;
                self.recv = if last.upgrade {
                    Recv::AwaitUpgrade
                } else if last.persistent {
                    Recv::Head
                } else {
                    Recv::Done
                };
                Ok(Some(Event::EndOfMessage))
            }
        }
    }

    // ----- answers -----

    /// Writes "100 Continue" for the oldest unanswered request if it asked for one and
    /// neither a 100 nor a final answer went out yet; returns whether it wrote.
    pub fn send_continue(&mut self, dst: &mut Vec<u8>) -> bool {
        match self.pending.front_mut() {
            Some(p) if p.expects_continue && !p.continue_sent && !self.encoder.is_open() => {
                p.continue_sent = true;
                dst.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
                true
            }
            _ => false,
        }
    }

    /// Writes the head of the answer to the oldest unanswered request into `dst`.
    ///
    /// `headers` must not hold Content-Length or Transfer-Encoding: the connection
    /// frames the body from `body` (Content-Length, chunked, or close-delimited for an
    /// HTTP/1.0 client), omits the body for HEAD, 204 and 304, adds Date (when it has a
    /// clock anchor and `headers` has none) and `Connection: close` when the connection
    /// will not persist. A 1xx other than 101 is interim: a final answer follows. A 101
    /// (or a 2xx to CONNECT) hands the connection over: see
    /// [`take_leftover`](Self::take_leftover).
    pub fn send_response(
        &mut self,
        now: Instant,
        status: StatusCode,
        headers: &HeaderMap,
        body: BodyLength,
        dst: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.now = now;
        if self.recv == Recv::Upgraded {
            return Err(SendError::Closed);
        }
        let front = *self.pending.front().ok_or(SendError::NotExpected)?;
        if self.encoder.is_open() {
            return Err(SendError::NotExpected);
        }
        let start = dst.len();
        let switch =
            status == StatusCode::SWITCHING_PROTOCOLS || (front.connect && status.is_success());
        if status == StatusCode::SWITCHING_PROTOCOLS && !front.upgrade {
            return Err(SendError::UnexpectedUpgrade);
        }
        if status.is_informational() && !switch {
            write_status_line(dst, status);
            if let Err(e) = write_fields(dst, headers, true) {
                dst.truncate(start);
                return Err(e);
            }
            dst.extend_from_slice(b"\r\n");
            if status == StatusCode::CONTINUE {
                self.pending[0].continue_sent = true;
            }
            return Ok(());
        }
        let user_close = headers.get_all(http::header::CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        });
        let no_body = front.head
            || switch
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED;
        let sending = match body {
            _ if no_body => Sending::Nothing,
            BodyLength::Empty => Sending::Length(0),
            BodyLength::Known(n) => Sending::Length(n),
            BodyLength::Unknown if front.version == Version::HTTP_11 => Sending::Chunked,
            BodyLength::Unknown => Sending::Close,
        };
        let persistent = front.persistent && !user_close && sending != Sending::Close;
        write_status_line(dst, status);
        if let Err(e) = write_fields(dst, headers, true) {
            dst.truncate(start);
            return Err(e);
        }
        if !headers.contains_key(http::header::DATE) {
            if let Some(date) = self.date.get(now) {
                dst.extend_from_slice(b"date: ");
                dst.extend_from_slice(date);
                dst.extend_from_slice(b"\r\n");
            }
        }
        let declared = match (sending, body) {
            (Sending::Length(n), _) => Some(n),
            (Sending::Nothing, BodyLength::Known(n)) if front.head => Some(n),
            _ => None,
        };
        let status_forbids_length = status == StatusCode::NO_CONTENT || switch;
        match declared {
            Some(n) if !status_forbids_length && status != StatusCode::NOT_MODIFIED => {
                dst.extend_from_slice(b"content-length: ");
                write_decimal(dst, n);
                dst.extend_from_slice(b"\r\n");
            }
            _ => {}
        }
        if sending == Sending::Chunked {
            dst.extend_from_slice(b"transfer-encoding: chunked\r\n");
        }
        if !switch {
            if !persistent && !user_close {
                dst.extend_from_slice(b"connection: close\r\n");
            } else if persistent && front.version == Version::HTTP_10 {
                dst.extend_from_slice(b"connection: keep-alive\r\n");
            }
        }
        dst.extend_from_slice(b"\r\n");
        if switch {
            self.recv = Recv::Upgraded;
            self.pending.clear();
            return Ok(());
        }
        self.pending[0].persistent = persistent;
        self.encoder.sending = Some(sending);
        Ok(())
    }

    /// Writes body bytes of the answer being sent, framed, into `dst` (a copy; see
    /// [`frame_data`](Self::frame_data) for a vectored write).
    pub fn send_data(&mut self, data: &[u8], dst: &mut Vec<u8>) -> Result<(), SendError> {
        self.encoder.data(data, dst)
    }

    /// Accounts for `len` body bytes the caller sends itself and returns the framing
    /// to put around them. For a HEAD answer, 204 or 304 the caller must send nothing
    /// (then `len` must be 0).
    pub fn frame_data(&mut self, len: usize) -> Result<DataFrame, SendError> {
        self.encoder.frame(len)
    }

    /// Ends the answer being sent (the last chunk and `trailers` for a chunked body).
    /// If the request's body was not read to its end, the connection will close after
    /// this answer rather than guess where the next request starts.
    pub fn send_end(
        &mut self,
        trailers: Option<&HeaderMap>,
        dst: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        let close_delimited = self.encoder.end(trailers, dst)?;
        let done = self.pending.pop_front().expect("an answer was being sent");
        if !done.persistent || !done.body_done || close_delimited {
            if matches!(self.recv, Recv::Head | Recv::Body | Recv::AwaitUpgrade) {
                self.recv = Recv::Done;
            }
            self.pending.clear();
        } else if self.recv == Recv::AwaitUpgrade && self.pending.is_empty() {
            self.recv = Recv::Head;
        }
        if self.pending.is_empty() {
            self.idle_since = self.now;
        }
        Ok(())
    }

    // ----- outputs -----

    /// Appends the bytes the connection writes on its own (the answer to a protocol
    /// error, once earlier answers are done) to `dst`; returns whether it added any.
    pub fn poll_transmit(&mut self, dst: &mut Vec<u8>) -> bool {
        if self.pending.is_empty() && !self.encoder.is_open() {
            if let Some(status) = self.error_status.take() {
                write_status_line(&mut self.out, status);
                if let Some(date) = self.date.get(self.now) {
                    self.out.extend_from_slice(b"date: ");
                    self.out.extend_from_slice(date);
                    self.out.extend_from_slice(b"\r\n");
                }
                self.out
                    .extend_from_slice(b"content-length: 0\r\nconnection: close\r\n\r\n");
            }
        }
        if self.out.is_empty() {
            return false;
        }
        dst.extend_from_slice(&self.out);
        self.out.clear();
        true
    }

    /// The next deadline: the end of the head-read timeout while a head arrives, of
    /// the keep-alive timeout while idle, or of the body timeout while a request body
    /// is being read (measured from its last progress; none while a `100 Continue` is
    /// owed: the client waits for us).
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.recv == Recv::Body {
            let owed_continue = self
                .pending
                .back()
                .is_some_and(|p| p.expects_continue && !p.continue_sent);
            if owed_continue {
                return None;
            }
            return self.config.timeouts.body.map(|d| self.body_progress + d);
        }
        if self.recv != Recv::Head || !self.pending.is_empty() {
            return None;
        }
        match self.head_started {
            Some(t) => self.config.timeouts.head.map(|d| t + d),
            None => self.config.timeouts.keep_alive.map(|d| self.idle_since + d),
        }
    }

    /// Whether the connection has nothing left to do: it stopped reading (a close was
    /// asked for, an error, a timeout, the client left) and every answer, the error
    /// answer included, went out through the caller's buffers. The caller then closes.
    pub fn wants_close(&self) -> bool {
        matches!(self.recv, Recv::Done | Recv::Failed | Recv::Closed)
            && self.pending.is_empty()
            && !self.encoder.is_open()
            && self.error_status.is_none()
            && self.out.is_empty()
    }

    /// Whether the answer being sent carries body bytes (not a HEAD answer, 204 or 304).
    pub fn sends_body(&self) -> bool {
        self.encoder.sends_body()
    }

    /// Whether a 101 or a 2xx to CONNECT went out: the bytes now belong to the new
    /// protocol.
    pub fn is_upgraded(&self) -> bool {
        self.recv == Recv::Upgraded
    }

    /// Whether the client's answer to the request being read has to wait for a
    /// decision on `Expect: 100-continue` (it asked, and neither a 100 nor a final
    /// answer went out).
    pub fn awaits_continue(&self) -> bool {
        !self.encoder.is_open()
            && self
                .pending
                .front()
                .is_some_and(|p| p.expects_continue && !p.continue_sent && !p.body_done)
    }

    /// The protocol error that stopped the connection, if any.
    pub fn error(&self) -> Option<Error> {
        self.error
    }

    /// Moves every buffered byte not yet delivered as an event into `dst`: after an
    /// upgrade, the first bytes of the new protocol.
    pub fn take_leftover(&mut self, dst: &mut Vec<u8>) {
        self.consume_borrowed();
        self.input.take_into(dst);
    }
}
