//! `serve_connection`: one HTTP/1.1 connection over any strait stream.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::{Instant, SystemTime};

use http::{header, HeaderMap, HeaderValue, StatusCode};
use strait_streams::combinators::Delay;
use strait_streams::io::{ReadBufs, WriteBufs};
use strait_streams::vocab::buffer_copy;
use strait_streams::vocab::ConstWindow;
use strait_streams::{delay_until, BufferSource, ReadSource, Stream, WriteSink, WriteStreamExt};

use super::conn::{poll_read_into, protocol_error, send_error, Out};
use crate::proto::{
    BodyLength, Event, OwnedRequestHead, RequestHead, ServerConfig, ServerConnection,
};

/// How a served connection ended.
#[derive(Debug)]
#[non_exhaustive]
pub enum Served<S> {
    /// The connection closed (the client left, a close was asked for, a timeout, or a
    /// graceful shutdown between requests).
    Closed,
    /// A 101 (or a 2xx to CONNECT) went out: the stream and the bytes already read
    /// past the request belong to the new protocol.
    Upgraded {
        /// The transport.
        stream: S,
        /// Bytes read after the upgrade request.
        leftover: Vec<u8>,
    },
}

/// Options of [`serve_connection_with`].
#[derive(Debug, Clone, Copy)]
pub struct ServeOptions {
    /// Limits and timeouts of the state machine (its Date anchor is set from the
    /// system clock when the connection starts).
    pub config: ServerConfig,
    /// Most request-body bytes read and dropped to keep a connection alive when the
    /// service answers without reading the body (default 64 KiB; beyond it the
    /// connection closes after the answer).
    pub max_drain: u64,
    /// Answers of at most this many body bytes are gathered behind the head and
    /// written with the next read (pipelined answers share one write); larger ones
    /// are written at once (default 16 KiB).
    pub coalesce_below: usize,
}

impl Default for ServeOptions {
    fn default() -> Self {
        Self {
            config: ServerConfig::default(),
            max_drain: 64 * 1024,
            coalesce_below: 16 * 1024,
        }
    }
}

struct Conn<S> {
    stream: S,
    proto: ServerConnection,
    out: Out,
    /// The request being served, copied out of the input buffer (storage reused).
    head: OwnedRequestHead,
    /// The state machine's deadline (head, keep-alive or body timeout) while a read
    /// waits; made at the first such wait, then reset (one allocation per connection
    /// at most, no timer set-up per wait).
    timer: Option<Pin<Box<Delay>>>,
    body_done: bool,
    responded: bool,
    options: ServeOptions,
}

impl<S: Stream + Unpin> Conn<S> {
    fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let n = ready!(poll_read_into(
            &mut self.stream,
            cx,
            self.proto.input_buffer()
        ))?;
        let now = Instant::now();
        if n == 0 {
            self.proto.handle_eof(now);
        } else {
            self.proto.commit_input(now, n);
        }
        Poll::Ready(Ok(()))
    }

    /// Reads more input, bounded by the state machine's deadline.
    async fn fill(&mut self) -> io::Result<()> {
        let filled = poll_fn(|cx| {
            if self.poll_fill(cx)?.is_ready() {
                return Poll::Ready(io::Result::Ok(true));
            }
            ready!(self.poll_deadline(cx))?;
            Poll::Ready(Ok(false))
        })
        .await?;
        if !filled {
            self.proto.handle_timeout(self.timer_now());
        }
        Ok(())
    }

    async fn flush(&mut self) -> io::Result<()> {
        self.proto.poll_transmit(&mut self.out.buf);
        let (out, stream) = (&mut self.out, &mut self.stream);
        poll_fn(|cx| out.poll_flush(stream, cx)).await
    }

    /// The next piece of the request body: `Ok(true)` when it delivered data through
    /// `f` (which returns how much it used), `Ok(false)` at the end of the body.
    fn poll_body(
        &mut self,
        cx: &mut Context<'_>,
        mut f: impl FnMut(&[u8]) -> usize,
    ) -> Poll<io::Result<bool>> {
        loop {
            if self.body_done {
                return Poll::Ready(Ok(false));
            }
            if self.proto.awaits_continue() {
                self.proto.send_continue(&mut self.out.buf);
            }
            match self.proto.poll_event() {
                Ok(Some(Event::Data(d))) => {
                    let len = d.len();
                    let used = f(d);
                    self.proto.return_data(len - used);
                    return Poll::Ready(io::Result::Ok(true));
                }
                Ok(Some(Event::EndOfMessage)) => self.body_done = true,
                Ok(Some(_)) => {}
                Ok(None) => {
                    // Before waiting for the client, send what it may be waiting for
                    // (a 100, earlier pipelined answers); never before: answers to
                    // pipelined requests share one write.
                    if !self.out.is_empty() {
                        ready!(self.out.poll_flush(&mut self.stream, cx))?;
                    }
                    if self.poll_fill(cx)?.is_pending() {
                        ready!(self.poll_deadline(cx))?;
                        // The body timeout passed: the state machine failed with it.
                        self.proto.handle_timeout(self.timer_now());
                        if let Some(e) = self.proto.error() {
                            return Poll::Ready(Err(protocol_error(e)));
                        }
                    }
                }
                Err(e) => return Poll::Ready(Err(protocol_error(e))),
            }
        }
    }

    /// The time to hand the state machine once the timer fired: at least the timer's
    /// deadline. The timer runs on its service's clock ([`TimerService::now`]), which
    /// may run ahead of the system's (a driver over tokio's paused time); with the
    /// system clock alone the state machine would see its deadline still ahead, and the
    /// fired timer would wake the task again at once, forever.
    ///
    /// [`TimerService::now`]: strait_streams::driver::TimerService::now
    fn timer_now(&self) -> Instant {
        let now = Instant::now();
        self.timer
            .as_ref()
            .map_or(now, |timer| now.max(timer.deadline()))
    }

    /// Ready when the state machine's deadline has passed (pending without one; a
    /// read must be pending too, so the task wakes on either).
    fn poll_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let Some(deadline) = self.proto.poll_timeout() else {
            return Poll::Pending;
        };
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(delay_until(deadline)));
        timer.as_mut().reset(deadline);
        timer.as_mut().poll(cx)
    }

    /// Reads and drops the rest of the request body, up to `max_drain` bytes.
    async fn drain(&mut self) -> io::Result<()> {
        if self.body_done || self.proto.awaits_continue() {
            return Ok(());
        }
        let mut left = self.options.max_drain;
        while left > 0 {
            let more = poll_fn(|cx| {
                self.poll_body(cx, |d| {
                    let n = (d.len() as u64).min(left) as usize;
                    left -= n as u64;
                    n
                })
            })
            .await?;
            if !more {
                break;
            }
        }
        Ok(())
    }
}

/// One request and its answer, as the service sees them.
pub struct Exchange<'c, S> {
    conn: &'c mut Conn<S>,
}

impl<S> std::fmt::Debug for Exchange<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exchange")
            .field("request", &self.conn.head)
            .finish()
    }
}

impl<'c, S: Stream + Unpin> Exchange<'c, S> {
    /// The request head, lent without allocating: method, target, path and query,
    /// version, header fields as received.
    pub fn request(&self) -> RequestHead<'_> {
        self.conn.head.get()
    }

    /// The request head as `http::request::Parts` (allocates: `Uri` and `HeaderMap`
    /// own their bytes). A target that `http::Uri` refuses is
    /// [`Error::InvalidTarget`](crate::proto::Error::InvalidTarget) inside an
    /// `InvalidData` error; returned from the service before it answers (with `?`),
    /// it is answered 400 and the connection closes.
    pub fn to_parts(&self) -> io::Result<http::request::Parts> {
        self.conn.head.get().to_parts().map_err(protocol_error)
    }

    /// The request body (Content-Length or chunked, decoded) as a [`ReadSource`] that
    /// copies into the caller's buffers, or a [`BufferSource`] that lends the bytes in
    /// the connection's input buffer (no copy). The first read answers
    /// `Expect: 100-continue` with a 100.
    ///
    /// [`BufferSource`]: strait_streams::BufferSource
    pub fn body(&mut self) -> RequestBody<'_, S> {
        RequestBody {
            conn: self.conn,
            held: 0,
        }
    }

    /// Reads the rest of the request body into `dst`, refusing more than `limit` bytes
    /// (an `InvalidData` error; the connection then closes after the answer).
    pub async fn read_body_to_end(&mut self, dst: &mut Vec<u8>, limit: usize) -> io::Result<usize> {
        let start = dst.len();
        loop {
            let mut over = false;
            let more = poll_fn(|cx| {
                self.conn.poll_body(cx, |d| {
                    if dst.len() - start + d.len() > limit {
                        over = true;
                        return 0;
                    }
                    dst.extend_from_slice(d);
                    d.len()
                })
            })
            .await?;
            if over {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "request body over the limit",
                ));
            }
            if !more {
                return Ok(dst.len() - start);
            }
        }
    }

    /// Answers with a complete body (sent with Content-Length). A small answer waits
    /// in the output buffer for the next read, so pipelined answers share one write.
    pub async fn respond(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
    ) -> io::Result<()> {
        let conn = &mut *self.conn;
        if !status.is_informational() {
            conn.drain().await?;
        }
        let length = if body.is_empty() {
            BodyLength::Empty
        } else {
            BodyLength::Known(body.len() as u64)
        };
        conn.proto
            .send_response(Instant::now(), status, headers, length, &mut conn.out.buf)
            .map_err(send_error)?;
        if status.is_informational() && status != StatusCode::SWITCHING_PROTOCOLS {
            return conn.flush().await;
        }
        if conn.proto.is_upgraded() {
            conn.responded = true;
            return conn.flush().await;
        }
        // A HEAD answer, 204 or 304 declares a length but carries no body.
        let send_body = conn.proto.sends_body();
        if send_body {
            // A known length: no framing around the bytes.
            conn.proto.frame_data(body.len()).map_err(send_error)?;
        }
        if body.len() < conn.options.coalesce_below || !send_body {
            if send_body {
                conn.out.buf.extend_from_slice(body);
            }
        } else {
            let mut pos = 0;
            let (out, stream) = (&mut conn.out, &mut conn.stream);
            poll_fn(|cx| out.poll_write_with(stream, cx, body, &mut pos)).await?;
        }
        conn.proto
            .send_end(None, &mut conn.out.buf)
            .map_err(send_error)?;
        conn.responded = true;
        Ok(())
    }

    /// Starts an answer whose body the service writes through the returned
    /// [`ResponseBody`] (a [`WriteSink`]: `write_eof` ends it, with the chunked
    /// terminator when the length was `Unknown`).
    pub async fn start_response(
        &mut self,
        status: StatusCode,
        headers: &HeaderMap,
        length: BodyLength,
    ) -> io::Result<ResponseBody<'_, S>> {
        let conn = &mut *self.conn;
        conn.proto
            .send_response(Instant::now(), status, headers, length, &mut conn.out.buf)
            .map_err(send_error)?;
        Ok(ResponseBody { conn, ended: false })
    }
}

/// The request body: a [`ReadSource`] and a [`BufferSource`] over the connection.
pub struct RequestBody<'a, S> {
    conn: &'a mut Conn<S>,
    /// Bytes of the last data event lent by `poll_pull` and not yet consumed.
    held: usize,
}

impl<S> RequestBody<'_, S> {
    /// Hands lent bytes back to the state machine: the next event delivers them again.
    fn give_back(&mut self) {
        if self.held > 0 {
            self.conn.proto.return_data(self.held);
            self.held = 0;
        }
    }
}

impl<S> Drop for RequestBody<'_, S> {
    fn drop(&mut self) {
        // Pulled but not consumed bytes stay in the body for the next reader.
        self.give_back();
    }
}

impl<S: Stream + Unpin> BufferSource for RequestBody<'_, S> {
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>> {
        let this = self.get_mut();
        this.give_back();
        // Wait for body bytes without taking them (they are redelivered) ...
        if !ready!(this.conn.poll_body(cx, |_| 0))? {
            return Poll::Ready(Ok(ConstWindow::new(&b""[..])));
        }
        // ... then borrow them from the input buffer until `consume`.
        match this.conn.proto.poll_event() {
            Ok(Some(Event::Data(d))) => {
                this.held = d.len();
                Poll::Ready(Ok(ConstWindow::new(d)))
            }
            Ok(_) => Poll::Ready(Err(io::Error::other(
                "strait-http1: body bytes were not redelivered",
            ))),
            Err(e) => Poll::Ready(Err(protocol_error(e))),
        }
    }

    fn consume(self: Pin<&mut Self>, n: usize) {
        let this = self.get_mut();
        assert!(n <= this.held, "consuming more than was pulled");
        // The rest is delivered again; all of it used is taken at the next event.
        this.conn.proto.return_data(this.held - n);
        this.held = 0;
    }
}

impl<S: Stream + Unpin> ReadSource for RequestBody<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.give_back();
        while !bufs.is_empty() {
            let more = ready!(this.conn.poll_body(cx, |d| {
                let n = buffer_copy(&mut *bufs, d, usize::MAX);
                bufs.consume(n);
                n
            }))?;
            if !more {
                break;
            }
        }
        Poll::Ready(Ok(()))
    }
}

/// A streaming response body: a [`WriteSink`] whose `write_eof` ends the answer.
/// Bytes are framed into the connection's output buffer and written when it holds
/// 16 KiB or more, on `flush`, and at the end.
pub struct ResponseBody<'a, S> {
    conn: &'a mut Conn<S>,
    ended: bool,
}

impl<S: Stream + Unpin> WriteSink for ResponseBody<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let conn = &mut *this.conn;
        let proto = &mut conn.proto;
        conn.out
            .poll_frame_body(&mut conn.stream, cx, bufs, |d, dst| proto.send_data(d, dst))
    }

    fn poll_write_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.ended {
            let conn = &mut *this.conn;
            let proto = &mut conn.proto;
            conn.out.frame_all(bufs, |d, dst| proto.send_data(d, dst))?;
            this.conn
                .proto
                .send_end(None, &mut this.conn.out.buf)
                .map_err(send_error)?;
            this.conn.responded = true;
            this.ended = true;
        }
        this.conn.out.poll_flush(&mut this.conn.stream, cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.conn.out.poll_flush(&mut this.conn.stream, cx)
    }
}

/// Serves HTTP/1.1 on `stream` with default options; see [`serve_connection_with`].
pub async fn serve_connection<S, F>(stream: S, service: F) -> io::Result<Served<S>>
where
    S: Stream + Unpin,
    F: AsyncFnMut(&mut Exchange<'_, S>) -> io::Result<()>,
{
    serve_connection_with(stream, ServeOptions::default(), service).await
}

/// Serves HTTP/1.1 on `stream`: reads requests (pipelined ones too), calls `service`
/// for each in order, and writes its answers, until the client leaves, a close is
/// asked for, a timeout passes, a protocol error is answered, an upgrade happens, or
/// the environment's stop token is triggered (checked between requests: the request
/// in flight finishes first).
///
/// The service answers through its [`Exchange`]; if it returns without answering,
/// the client gets `500 Internal Server Error`. A protocol error is answered with its
/// status and returned as an `InvalidData` error whose source is the
/// [`proto::Error`](crate::proto::Error).
///
/// To spawn the connection on a multi-threaded context its future must be `Send`:
/// today's rustc cannot prove that for an async closure that captures a reference
/// ("implementation of `Send` is not general enough"), so let the closure capture
/// nothing borrowed and call an `async fn` (the `http-server` example keeps its
/// shared headers in a `static`).
pub async fn serve_connection_with<S, F>(
    stream: S,
    options: ServeOptions,
    mut service: F,
) -> io::Result<Served<S>>
where
    S: Stream + Unpin,
    F: AsyncFnMut(&mut Exchange<'_, S>) -> io::Result<()>,
{
    let mut config = options.config;
    config.date_anchor = Some((Instant::now(), SystemTime::now()));
    let mut conn = Conn {
        stream,
        proto: ServerConnection::new(config, Instant::now()),
        out: Out::default(),
        head: OwnedRequestHead::default(),
        timer: None,
        body_done: false,
        responded: false,
        options,
    };
    loop {
        loop {
            if strait_streams::stop_requested() {
                conn.flush().await?;
                let _ = conn.stream.shutdown().await;
                return Ok(Served::Closed);
            }
            match conn.proto.poll_event() {
                Ok(Some(Event::Request(head))) => {
                    conn.head.copy_from(&head);
                    break;
                }
                Ok(Some(Event::ConnectionClosed)) => {
                    conn.flush().await?;
                    return Ok(Served::Closed);
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    if conn.proto.is_upgraded() {
                        conn.flush().await?;
                        let mut leftover = Vec::new();
                        conn.proto.take_leftover(&mut leftover);
                        return Ok(Served::Upgraded {
                            stream: conn.stream,
                            leftover,
                        });
                    }
                    conn.flush().await?;
                    if conn.proto.wants_close() {
                        let _ = conn.stream.shutdown().await;
                        return Ok(Served::Closed);
                    }
                    if let Err(e) = conn.fill().await {
                        if strait_streams::is_canceled(&e) {
                            return Ok(Served::Closed);
                        }
                        return Err(e);
                    }
                }
                Err(e) => {
                    conn.flush().await?;
                    let _ = conn.stream.shutdown().await;
                    return Err(protocol_error(e));
                }
            }
        }
        conn.body_done = false;
        conn.responded = false;
        let result = service(&mut Exchange { conn: &mut conn }).await;
        if conn.responded {
            result?;
            continue;
        }
        let Err(e) = result else {
            Exchange { conn: &mut conn }
                .respond(StatusCode::INTERNAL_SERVER_ERROR, &HeaderMap::new(), b"")
                .await?;
            continue;
        };
        if conn.proto.error().is_none() {
            // The service failed before answering: the status of a protocol error
            // it returned (a target `http::Uri` refuses is 400), else 500; then close.
            let status = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<crate::proto::Error>())
                .and_then(|pe| pe.status())
                .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            let mut close = HeaderMap::new();
            close.insert(header::CONNECTION, HeaderValue::from_static("close"));
            let _ = Exchange { conn: &mut conn }
                .respond(status, &close, b"")
                .await;
        }
        // A protocol error in the body owes the client its status, which the state
        // machine queued itself.
        let _ = conn.flush().await;
        let _ = conn.stream.shutdown().await;
        return Err(e);
    }
}
