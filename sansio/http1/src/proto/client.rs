//! The client role.

use std::collections::VecDeque;
use std::time::Instant;

use http::{HeaderMap, Method, StatusCode, Version};

use super::body::{BodyDecoder, Step};
use super::encode::{write_decimal, write_fields, DataFrame, Encoder, Sending};
use super::framing::BodyFraming;
use super::head::{HeadIndex, HeadScanner, Headers, ResponseHead};
use super::input::Input;
use super::{BodyLength, Error, Event, Limits, SendError};

#[derive(Debug, Clone, Copy)]
struct Sent {
    head: bool,
    connect: bool,
    close: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Recv {
    Head,
    Body,
    Done,
    Upgraded,
    Failed,
    Closed,
}

/// The client side of one HTTP/1.1 connection, without I/O: requests out (in the
/// caller's buffer), responses in, in order (pipelining allowed).
///
/// ```
/// use strait_http1::proto::{BodyLength, ClientConnection, Event};
/// use http::{HeaderMap, Method};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let mut conn = ClientConnection::new(Default::default());
/// let mut out = Vec::new();
/// conn.send_request(&Method::GET, "/", "example.com", &HeaderMap::new(), BodyLength::Empty, &mut out).unwrap();
/// conn.send_end(None, &mut out).unwrap();
/// assert_eq!(out, b"GET / HTTP/1.1\r\nhost: example.com\r\n\r\n");
/// conn.handle_input(now, b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi");
/// assert!(matches!(conn.poll_event().unwrap(), Some(Event::Response(r)) if r.status() == 200));
/// assert!(matches!(conn.poll_event().unwrap(), Some(Event::Data(b"hi"))));
/// assert!(matches!(conn.poll_event().unwrap(), Some(Event::EndOfMessage)));
/// ```
#[derive(Debug)]
pub struct ClientConnection {
    limits: Limits,
    input: Input,
    scanner: HeadScanner,
    head: HeadIndex,
    body: BodyDecoder,
    recv: Recv,
    borrowed: usize,
    /// Bytes of the last data event handed back by `return_data`.
    redeliver: usize,
    sent: VecDeque<Sent>,
    encoder: Encoder,
    /// The response being read says the connection closes after it.
    closing: bool,
    upgrade_reported: bool,
    error: Option<Error>,
}

impl ClientConnection {
    /// A fresh connection.
    pub fn new(limits: Limits) -> Self {
        Self {
            limits,
            input: Input::default(),
            scanner: HeadScanner::default(),
            head: HeadIndex::default(),
            body: BodyDecoder::new(BodyFraming::Length(0)),
            recv: Recv::Head,
            borrowed: 0,
            redeliver: 0,
            sent: VecDeque::new(),
            encoder: Encoder::default(),
            closing: false,
            upgrade_reported: false,
            error: None,
        }
    }

    /// Writes a request head into `dst`. `target` is the request target as sent
    /// (usually the path and query); `host` is written as the Host field unless
    /// `headers` has one. `headers` must not hold Content-Length or Transfer-Encoding:
    /// the body is framed from `body` (`Unknown` is chunked).
    pub fn send_request(
        &mut self,
        method: &Method,
        target: &str,
        host: &str,
        headers: &HeaderMap,
        body: BodyLength,
        dst: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        if self.encoder.is_open() {
            return Err(SendError::NotExpected);
        }
        if matches!(self.recv, Recv::Failed | Recv::Closed | Recv::Upgraded) || self.closing {
            return Err(SendError::Closed);
        }
        if target.bytes().any(|b| !b.is_ascii_graphic())
            || host.bytes().any(|b| !b.is_ascii_graphic())
        {
            return Err(SendError::InvalidHeader);
        }
        let start = dst.len();
        dst.extend_from_slice(method.as_str().as_bytes());
        dst.push(b' ');
        dst.extend_from_slice(target.as_bytes());
        dst.extend_from_slice(b" HTTP/1.1\r\n");
        if !headers.contains_key(http::header::HOST) {
            dst.extend_from_slice(b"host: ");
            dst.extend_from_slice(host.as_bytes());
            dst.extend_from_slice(b"\r\n");
        }
        if let Err(e) = write_fields(dst, headers, true) {
            dst.truncate(start);
            return Err(e);
        }
        let sending = match body {
            BodyLength::Empty => Sending::Length(0),
            BodyLength::Known(n) => {
                dst.extend_from_slice(b"content-length: ");
                write_decimal(dst, n);
                dst.extend_from_slice(b"\r\n");
                Sending::Length(n)
            }
            BodyLength::Unknown => {
                dst.extend_from_slice(b"transfer-encoding: chunked\r\n");
                Sending::Chunked
            }
        };
        dst.extend_from_slice(b"\r\n");
        let close = headers.get_all(http::header::CONNECTION).iter().any(|v| {
            v.as_bytes()
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"close"))
        });
        self.sent.push_back(Sent {
            head: method == Method::HEAD,
            connect: method == Method::CONNECT,
            close,
        });
        self.encoder.sending = Some(sending);
        Ok(())
    }

    /// Writes request body bytes, framed, into `dst`.
    pub fn send_data(&mut self, data: &[u8], dst: &mut Vec<u8>) -> Result<(), SendError> {
        self.encoder.data(data, dst)
    }

    /// Accounts for `len` body bytes the caller sends itself; returns their framing.
    pub fn frame_data(&mut self, len: usize) -> Result<DataFrame, SendError> {
        self.encoder.frame(len)
    }

    /// Ends the request being sent.
    pub fn send_end(
        &mut self,
        trailers: Option<&HeaderMap>,
        dst: &mut Vec<u8>,
    ) -> Result<(), SendError> {
        self.encoder.end(trailers, dst)?;
        Ok(())
    }

    /// Buffers bytes from the server; returns how many it took (see
    /// [`ServerConnection::handle_input`](super::ServerConnection::handle_input)).
    pub fn handle_input(&mut self, _now: Instant, data: &[u8]) -> usize {
        self.input.push(data, self.limits.max_buffered)
    }

    /// Room to read server bytes into, in place.
    pub fn input_buffer(&mut self) -> &mut [u8] {
        self.consume_borrowed();
        self.input.spare(self.limits.max_buffered)
    }

    /// Records `n` bytes read into [`input_buffer`](Self::input_buffer).
    pub fn commit_input(&mut self, _now: Instant, n: usize) {
        self.input.commit(n);
    }

    /// Records that the server ended its direction.
    pub fn handle_eof(&mut self, _now: Instant) {
        self.input.eof = true;
    }

    /// The client role keeps no timers of its own: always `None` (callers bound a
    /// whole exchange with their own timeout).
    pub fn poll_timeout(&self) -> Option<Instant> {
        None
    }

    /// Nothing to do: the client role has no deadline.
    pub fn handle_timeout(&mut self, _now: Instant) {}

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
        self.recv = Recv::Failed;
        self.error = Some(e);
        e
    }

    /// The next event (responses, in the order of the requests), or `Ok(None)` when
    /// more input is needed.
    pub fn poll_event(&mut self) -> Result<Option<Event<'_>>, Error> {
        self.consume_borrowed();
        if self.redeliver > 0 {
            self.borrowed = std::mem::take(&mut self.redeliver);
            return Ok(Some(Event::Data(&self.input.data()[..self.borrowed])));
        }
        match self.recv {
            Recv::Head => self.poll_head(),
            Recv::Body => self.poll_body(),
            Recv::Done if self.input.eof => {
                self.recv = Recv::Closed;
                Ok(Some(Event::ConnectionClosed))
            }
            Recv::Upgraded if !self.upgrade_reported => {
                self.upgrade_reported = true;
                Ok(Some(Event::Upgrade))
            }
            Recv::Done | Recv::Upgraded | Recv::Failed | Recv::Closed => Ok(None),
        }
    }

    fn poll_head(&mut self) -> Result<Option<Event<'_>>, Error> {
        let limits = self.limits;
        if self.input.is_empty() {
            if self.input.eof {
                if self.sent.is_empty() {
                    self.recv = Recv::Closed;
                    return Ok(Some(Event::ConnectionClosed));
                }
                return Err(self.fail(Error::IncompleteHead));
            }
            return Ok(None);
        }
        let Some(&request) = self.sent.front() else {
            return Err(self.fail(Error::UnexpectedResponse));
        };
        // As the server reads requests: a whole head tokenized in one pass, anything
        // else found by the scanner, then tokenized, or parsed by httparse for the
        // exact error.
        let whole = if self.scanner.started() {
            None
        } else {
            let tokenized = self.head.tokenize_response(self.input.data(), &limits);
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
                    Ok(None) => return Ok(None),
                    Ok(Some(len)) => len,
                };
                let data = &self.input.data()[..len];
                match self.head.tokenize_response(data, &limits) {
                    Ok(_) => (len, Ok(())),
                    Err(_) => {
                        self.head.resume = 0;
                        (len, self.head.parse_response(data, &limits))
                    }
                }
            }
        };
        let parsed = parsed.and_then(|()| {
            let summary = self.head.summary;
            let framing =
                summary.response_framing(self.head.version, request.head, self.head.status)?;
            Ok((summary, framing))
        });
        let (summary, framing) = match parsed {
            Ok(v) => v,
            Err(e) => return Err(self.fail(e)),
        };
        let status = self.head.status;
        self.scanner.reset(false);
        self.borrowed = len;
        let switch =
            status == StatusCode::SWITCHING_PROTOCOLS || (request.connect && status.is_success());
        let data = &self.input.data()[..len];
        let head = ResponseHead::new(data, &self.head);
        if switch {
            self.sent.clear();
            self.recv = Recv::Upgraded;
            return Ok(Some(Event::Response(head)));
        }
        if status.is_informational() {
            return Ok(Some(Event::Informational(head)));
        }
        self.closing = request.close
            || !summary.persistent(self.head.version)
            || framing == BodyFraming::Close;
        self.body = BodyDecoder::new(framing);
        self.recv = Recv::Body;
        Ok(Some(Event::Response(head)))
    }

    fn poll_body(&mut self) -> Result<Option<Event<'_>>, Error> {
        let step = if self.body.at_end() {
            Ok(Step::End { consumed: 0 })
        } else {
            self.body
                .step(self.input.data(), self.input.eof, &self.limits)
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
                if let Err(e) = self
                    .head
                    .parse_trailers(&self.input.data()[..len], &self.limits)
                {
                    return Err(self.fail(e));
                }
                self.borrowed = len;
                let data = &self.input.data()[..len];
                Ok(Some(Event::Trailers(Headers::new(data, &self.head.fields))))
            }
            Ok(Step::End { consumed }) => {
                self.input.consume(consumed);
                self.sent.pop_front();
                self.recv = if self.closing { Recv::Done } else { Recv::Head };
                Ok(Some(Event::EndOfMessage))
            }
        }
    }

    /// Whether the connection can carry another request (no close was announced or
    /// needed, no error, no upgrade).
    pub fn is_reusable(&self) -> bool {
        matches!(self.recv, Recv::Head | Recv::Body) && !self.closing
    }

    /// Whether an upgrade (101, or a 2xx to CONNECT) was received.
    pub fn is_upgraded(&self) -> bool {
        self.recv == Recv::Upgraded
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

    /// HTTP version of the last response head.
    pub fn last_version(&self) -> Version {
        self.head.version
    }
}
