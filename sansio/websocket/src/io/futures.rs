//! futures' [`Stream`](futures_core::Stream) and [`Sink`] for users of those traits
//! (feature `futures`): [`WebSocket::into_stream`] gives a [`WebSocketStream`] that
//! yields [`OwnedMessage`]s and takes [`Message`]s or [`OwnedMessage`]s.
//!
//! The stream answers pings and the peer's close as [`WebSocket::next_message`] does,
//! drives the close and idle-ping timers, and ends (`None`) once the close handshake is
//! over. The sink's `poll_ready` waits while the send buffer is full (back-pressure);
//! `poll_close` sends a normal close and flushes it, the stream then sees the peer's
//! answer. Each received message is copied into an owned buffer (one allocation per
//! message: the price of items that outlive the poll).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Instant;

use futures_sink::Sink;
use strait_streams::combinators::Delay;
use strait_streams::{delay_until, ConstBuffer, MutableBuffer, Stream};

use super::WebSocket;
use crate::proto::{CloseCode, Error, Event, Message};

/// A received message that owns its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnedMessage {
    /// A text message.
    Text(String),
    /// A binary message.
    Binary(Vec<u8>),
}

impl From<Message<'_>> for OwnedMessage {
    fn from(m: Message<'_>) -> Self {
        match m {
            Message::Text(t) => Self::Text(t.to_owned()),
            Message::Binary(b) => Self::Binary(b.to_owned()),
        }
    }
}

impl OwnedMessage {
    /// The message, borrowed.
    pub fn as_message(&self) -> Message<'_> {
        match self {
            Self::Text(t) => Message::Text(t),
            Self::Binary(b) => Message::Binary(b),
        }
    }
}

/// A [`WebSocket`] as a futures `Stream` of messages and a `Sink` for them; made by
/// [`WebSocket::into_stream`].
#[derive(Debug)]
pub struct WebSocketStream<S> {
    ws: WebSocket<S>,
    timer: Option<Pin<Box<Delay>>>,
    need_flush: bool,
    /// A protocol failure whose close frame is being written before it is reported.
    failing: Option<io::Error>,
    done: bool,
}

impl<S: Stream + Unpin> WebSocket<S> {
    /// This connection as a futures `Stream` + `Sink` (feature `futures`). Needs
    /// whole-message mode.
    pub fn into_stream(self) -> WebSocketStream<S> {
        WebSocketStream {
            ws: self,
            timer: None,
            need_flush: false,
            failing: None,
            done: false,
        }
    }
}

impl<S: Stream + Unpin> WebSocketStream<S> {
    /// The connection.
    pub fn get_ref(&self) -> &WebSocket<S> {
        &self.ws
    }

    /// The connection back.
    pub fn into_inner(self) -> WebSocket<S> {
        self.ws
    }

    /// Writes what the connection queued, then flushes.
    fn poll_write_queued(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let ws = &mut self.ws;
        loop {
            if ws.wpos == ws.wbuf.len() {
                ws.wbuf.clear();
                ws.wpos = 0;
                if ws.conn.poll_transmit(&mut ws.wbuf) == 0 {
                    break;
                }
            }
            let bufs = [ConstBuffer::new(&ws.wbuf[ws.wpos..])];
            let n = ready!(Pin::new(&mut ws.stream).poll_write_some(cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            ws.wpos += n;
            self.need_flush = true;
        }
        if self.need_flush {
            ready!(Pin::new(&mut ws.stream).poll_flush(cx))?;
            self.need_flush = false;
        }
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown_once(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if !self.ws.shut_down {
            // The peer may already be gone; the close handshake is what mattered.
            let _ = ready!(Pin::new(&mut self.ws.stream).poll_shutdown(cx));
            self.ws.shut_down = true;
        }
        Poll::Ready(())
    }

    fn end(&mut self, r: io::Result<OwnedMessage>) -> Poll<Option<io::Result<OwnedMessage>>> {
        self.done = true;
        Poll::Ready(Some(r))
    }
}

impl<S: Stream + Unpin> futures_core::Stream for WebSocketStream<S> {
    type Item = io::Result<OwnedMessage>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if this.failing.is_some() {
                // Best effort to deliver the close frame, then report.
                let _ = ready!(this.poll_write_queued(cx));
                ready!(this.poll_shutdown_once(cx));
                let e = this.failing.take().expect("checked");
                return this.end(Err(e));
            }
            if let Err(e) = ready!(this.poll_write_queued(cx)) {
                return this.end(Err(e));
            }
            let ws = &mut this.ws;
            if ws.conn.has_event() {
                if let Some(Event::Message(m)) = ws.conn.poll_event() {
                    return Poll::Ready(Some(Ok(m.into())));
                }
                // A control event: its answer (if any) is written on the next turn.
                continue;
            }
            if ws.conn.is_closed() {
                ready!(this.poll_shutdown_once(cx));
                this.done = true;
                return Poll::Ready(None);
            }
            if ws.rstart < ws.rend {
                match ws
                    .conn
                    .handle_input(Instant::now(), &ws.rbuf[ws.rstart..ws.rend])
                {
                    Ok(n) => ws.rstart += n,
                    Err(e) => this.failing = Some(e.into()),
                }
                continue;
            }
            if ws.read_eof {
                return this.end(Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended without a close frame",
                )));
            }
            let mut bufs = [MutableBuffer::new(&mut ws.rbuf[..])];
            match Pin::new(&mut ws.stream).poll_read_some(cx, &mut bufs) {
                Poll::Ready(Ok(0)) => ws.read_eof = true,
                Poll::Ready(Ok(n)) => (ws.rstart, ws.rend) = (0, n),
                Poll::Ready(Err(e)) => return this.end(Err(e)),
                Poll::Pending => {
                    let Some(deadline) = ws.conn.poll_timeout() else {
                        return Poll::Pending;
                    };
                    let timer = this
                        .timer
                        .get_or_insert_with(|| Box::pin(delay_until(deadline)));
                    if timer.deadline() != deadline {
                        timer.as_mut().reset(deadline);
                    }
                    match timer.as_mut().poll(cx) {
                        Poll::Pending => return Poll::Pending,
                        Poll::Ready(Err(e)) => return this.end(Err(e)),
                        Poll::Ready(Ok(())) => {
                            if let Err(e) = this.ws.conn.handle_timeout(Instant::now()) {
                                this.failing = Some(e.into());
                            }
                        }
                    }
                }
            }
        }
    }
}

impl<S: Stream + Unpin> WebSocketStream<S> {
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let conn = &self.ws.conn;
        if conn.pending_transmit() > 0 && conn.pending_transmit() >= conn.config().max_send_buffer {
            ready!(self.poll_write_queued(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    fn queue(&mut self, m: Message<'_>) -> io::Result<()> {
        let r = match m {
            Message::Text(t) => self.ws.conn.send_text(t),
            Message::Binary(b) => self.ws.conn.send_binary(b),
        };
        r.map_err(Into::into)
    }

    fn poll_close_inner(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.ws.conn.is_close_sent() && !self.ws.conn.is_closed() {
            match self.ws.conn.close(Instant::now(), CloseCode::NORMAL, "") {
                Ok(()) | Err(Error::Closed) => {}
                Err(e) => return Poll::Ready(Err(e.into())),
            }
        }
        self.poll_write_queued(cx)
    }
}

impl<'a, S: Stream + Unpin> Sink<Message<'a>> for WebSocketStream<S> {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message<'a>) -> io::Result<()> {
        self.get_mut().queue(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_queued(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_inner(cx)
    }
}

impl<S: Stream + Unpin> Sink<OwnedMessage> for WebSocketStream<S> {
    type Error = io::Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_room(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: OwnedMessage) -> io::Result<()> {
        self.get_mut().queue(item.as_message())
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_queued(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_close_inner(cx)
    }
}
