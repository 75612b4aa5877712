//! A client connection over any strait stream.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};
use strait_streams::io::WriteBufs;
use strait_streams::{Stream, WriteSink};

use super::conn::{poll_read_into, protocol_error, send_error, with_deadline, Out};
use crate::proto::{self, BodyLength, Event, Limits};

/// A response with its whole body.
pub type Response = http::Response<Vec<u8>>;

/// An HTTP/1.1 client connection: requests in order, keep-alive reuse, pipelining
/// ([`queue`](Self::queue) several requests, then [`read_response`](Self::read_response)
/// once per request, in order) and streaming request bodies
/// ([`start_request`](Self::start_request)).
///
/// ```no_run
/// # async fn demo<S: strait_streams::Stream + Unpin>(stream: S) -> std::io::Result<()> {
/// use strait_http1::io::Client;
/// let mut client = Client::new(stream);
/// let none = http::HeaderMap::new();
/// let res = client.send(http::Method::GET, "/", "example.com", &none, b"").await?;
/// println!("{} {} bytes", res.status(), res.body().len());
///
/// // Pipelined: three requests in one write, answers read in order.
/// for path in ["/a", "/b", "/c"] {
///     client.queue(http::Method::GET, path, "example.com", &none, b"")?;
/// }
/// while client.in_flight() > 0 {
///     println!("{}", client.read_response().await?.status());
/// }
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientConnection<S> {
    stream: S,
    proto: proto::ClientConnection,
    out: Out,
    /// Requests sent (or queued) whose response was not read yet.
    in_flight: usize,
    /// How long to wait for `100 Continue` before sending a body anyway.
    pub continue_timeout: Duration,
}

impl<S: Stream + Unpin> ClientConnection<S> {
    /// A client over `stream` with default limits.
    pub fn new(stream: S) -> Self {
        Self::with_limits(stream, Limits::default())
    }

    /// A client with `limits` on what the server may send.
    pub fn with_limits(stream: S, limits: Limits) -> Self {
        Self {
            stream,
            proto: proto::ClientConnection::new(limits),
            out: Out::default(),
            in_flight: 0,
            continue_timeout: Duration::from_secs(1),
        }
    }

    /// Whether another request can go on this connection.
    pub fn is_reusable(&self) -> bool {
        self.proto.is_reusable()
    }

    /// The transport back.
    pub fn into_inner(self) -> S {
        self.stream
    }

    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let n = ready!(poll_read_into(
            &mut self.stream,
            cx,
            self.proto.input_buffer()
        ))?;
        if n == 0 {
            self.proto.handle_eof(Instant::now());
        } else {
            self.proto.commit_input(Instant::now(), n);
        }
        Poll::Ready(Ok(()))
    }

    /// Writes every queued request to the stream.
    pub async fn flush(&mut self) -> io::Result<()> {
        let (out, stream) = (&mut self.out, &mut self.stream);
        poll_fn(|cx| out.poll_flush(stream, cx)).await
    }

    /// Requests sent or queued whose response was not read yet.
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    fn length_of(method: &Method, body: &[u8]) -> BodyLength {
        if body.is_empty() && method != Method::POST && method != Method::PUT {
            BodyLength::Empty
        } else {
            BodyLength::Known(body.len() as u64)
        }
    }

    /// Queues a request with a complete body behind those already queued, without
    /// writing it or waiting for an answer (pipelining: the requests go out together
    /// at the next [`flush`](Self::flush) or [`read_response`](Self::read_response)).
    /// Read one response per queued request, in order. `Expect: 100-continue` has no
    /// meaning here (use [`send`](Self::send)).
    pub fn queue(
        &mut self,
        method: Method,
        target: &str,
        host: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> io::Result<()> {
        let length = Self::length_of(&method, body);
        let start = self.out.buf.len();
        self.proto
            .send_request(&method, target, host, headers, length, &mut self.out.buf)
            .map_err(send_error)?;
        let ended = self
            .proto
            .send_data(body, &mut self.out.buf)
            .and_then(|()| self.proto.send_end(None, &mut self.out.buf));
        if let Err(e) = ended {
            // Unreachable with a length taken from `body`; keep the buffer whole anyway.
            self.out.buf.truncate(start);
            return Err(send_error(e));
        }
        self.in_flight += 1;
        Ok(())
    }

    /// Writes what is queued, then reads the response to the oldest request not yet
    /// answered, with its whole body.
    pub async fn read_response(&mut self) -> io::Result<Response> {
        if self.in_flight == 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "no request awaits a response",
            ));
        }
        self.flush().await?;
        self.read_response_after(None).await
    }

    /// Sends a request head whose body the caller streams through the returned
    /// [`RequestBody`] (a [`WriteSink`]: `write_eof` ends it, with the chunked
    /// terminator when `length` is `Unknown`); then read the answer with
    /// [`read_response`](Self::read_response). Bytes go out when 16 KiB gather, on
    /// `flush`, and at the end.
    pub async fn start_request(
        &mut self,
        method: Method,
        target: &str,
        host: &str,
        headers: &HeaderMap,
        length: BodyLength,
    ) -> io::Result<RequestBody<'_, S>> {
        self.proto
            .send_request(&method, target, host, headers, length, &mut self.out.buf)
            .map_err(send_error)?;
        self.in_flight += 1;
        Ok(RequestBody {
            client: self,
            ended: false,
        })
    }

    /// Sends a request with a complete body and reads the whole response (no other
    /// request may be in flight). With
    /// `Expect: 100-continue` in `headers`, the body waits for the server's 100 (or
    /// [`continue_timeout`](Self::continue_timeout)) and is not sent if a final answer
    /// comes first.
    pub async fn send(
        &mut self,
        method: Method,
        target: &str,
        host: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> io::Result<Response> {
        if self.in_flight > 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "read the responses of queued requests first",
            ));
        }
        let length = Self::length_of(&method, body);
        self.proto
            .send_request(&method, target, host, headers, length, &mut self.out.buf)
            .map_err(send_error)?;
        let expect = headers
            .get(http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let mut early = None;
        if expect && !body.is_empty() {
            self.flush().await?;
            early = self.await_continue().await?;
        }
        if early.is_none() {
            self.proto
                .send_data(body, &mut self.out.buf)
                .map_err(send_error)?;
        } else {
            // The server answered without wanting the body: the connection cannot carry
            // the rest of this request, so it is not reused.
            let _ = self.proto.frame_data(body.len());
        }
        let _ = self.proto.send_end(None, &mut self.out.buf);
        self.in_flight += 1;
        if early.is_none() {
            self.flush().await?;
        }
        self.read_response_after(early).await
    }

    /// Waits for a 100 (returns `None`) or a final head (returns it).
    async fn await_continue(&mut self) -> io::Result<Option<http::response::Parts>> {
        let after = self.continue_timeout;
        let proto = &mut self.proto;
        let stream = &mut self.stream;
        let waited = with_deadline(after, |cx| loop {
            match proto.poll_event() {
                Ok(Some(Event::Informational(h))) if h.status() == StatusCode::CONTINUE => {
                    return Poll::Ready(Ok(None))
                }
                Ok(Some(Event::Informational(_))) => {}
                Ok(Some(Event::Response(h))) => return Poll::Ready(Ok(Some(h.to_parts()))),
                Ok(Some(e)) => {
                    return Poll::Ready(Err(io::Error::other(format!("unexpected {e:?}"))))
                }
                Ok(None) => {
                    let n = ready!(poll_read_into(stream, cx, proto.input_buffer()))?;
                    if n == 0 {
                        proto.handle_eof(Instant::now());
                    } else {
                        proto.commit_input(Instant::now(), n);
                    }
                }
                Err(e) => return Poll::Ready(Err(protocol_error(e))),
            }
        })
        .await?;
        // No answer in time: send the body anyway (RFC 9110 §10.1.1).
        Ok(waited.flatten())
    }

    /// Reads the rest of the oldest unanswered response (its head may be in hand).
    async fn read_response_after(
        &mut self,
        mut head: Option<http::response::Parts>,
    ) -> io::Result<Response> {
        // Answered or failed, this request no longer waits.
        self.in_flight = self.in_flight.saturating_sub(1);
        let mut body = Vec::new();
        poll_fn(|cx| loop {
            match self.proto.poll_event() {
                Ok(Some(Event::Response(h))) => head = Some(h.to_parts()),
                Ok(Some(Event::Informational(_))) => {}
                Ok(Some(Event::Data(d))) => body.extend_from_slice(d),
                Ok(Some(Event::EndOfMessage)) | Ok(Some(Event::Upgrade)) => {
                    return Poll::Ready(Ok(()))
                }
                Ok(Some(Event::ConnectionClosed)) => {
                    return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()))
                }
                Ok(Some(_)) => {}
                Ok(None) => ready!(self.poll_fill(cx))?,
                Err(e) => return Poll::Ready(Err(protocol_error(e))),
            }
        })
        .await?;
        let parts = head.ok_or_else(|| io::Error::other("no response head"))?;
        Ok(http::Response::from_parts(parts, body))
    }
}

/// A streaming request body: a [`WriteSink`] whose `write_eof` ends the request.
#[derive(Debug)]
pub struct RequestBody<'a, S> {
    client: &'a mut ClientConnection<S>,
    ended: bool,
}

impl<S: Stream + Unpin> WriteSink for RequestBody<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let client = &mut *this.client;
        let proto = &mut client.proto;
        client
            .out
            .poll_frame_body(&mut client.stream, cx, bufs, |d, dst| {
                proto.send_data(d, dst)
            })
    }

    fn poll_write_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ended {
            let client = &mut *this.client;
            let proto = &mut client.proto;
            client
                .out
                .frame_all(bufs, |d, dst| proto.send_data(d, dst))?;
            this.client
                .proto
                .send_end(None, &mut this.client.out.buf)
                .map_err(send_error)?;
            this.ended = true;
        }
        let client = &mut *this.client;
        client.out.poll_flush(&mut client.stream, cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let client = &mut *self.get_mut().client;
        client.out.poll_flush(&mut client.stream, cx)
    }
}
