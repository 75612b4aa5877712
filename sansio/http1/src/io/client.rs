//! A client connection over any strait stream.

use std::future::poll_fn;
use std::io;
use std::task::{ready, Context, Poll};
use std::time::{Duration, Instant};

use http::{HeaderMap, Method, StatusCode};
use strait_streams::Stream;

use super::conn::{poll_read_into, protocol_error, send_error, with_deadline, Out};
use crate::proto::{self, BodyLength, Event, Limits};

/// A response with its whole body.
pub type Response = http::Response<Vec<u8>>;

/// An HTTP/1.1 client connection: requests in order, keep-alive reuse.
///
/// ```no_run
/// # async fn demo<S: strait_streams::Stream + Unpin>(stream: S) -> std::io::Result<()> {
/// use strait_http1::io::Client;
/// let mut client = Client::new(stream);
/// let res = client.send(http::Method::GET, "/", "example.com", &http::HeaderMap::new(), b"").await?;
/// println!("{} {} bytes", res.status(), res.body().len());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientConnection<S> {
    stream: S,
    proto: proto::ClientConnection,
    out: Out,
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

    async fn flush(&mut self) -> io::Result<()> {
        let (out, stream) = (&mut self.out, &mut self.stream);
        poll_fn(|cx| out.poll_flush(stream, cx)).await
    }

    /// Sends a request with a complete body and reads the whole response. With
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
        let length = if body.is_empty() && method != Method::POST && method != Method::PUT {
            BodyLength::Empty
        } else {
            BodyLength::Known(body.len() as u64)
        };
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
        if early.is_none() {
            self.flush().await?;
        }
        self.read_response(early).await
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

    async fn read_response(
        &mut self,
        mut head: Option<http::response::Parts>,
    ) -> io::Result<Response> {
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
