//! [`WebSocket::split`]: a reader and a writer over one connection, for two tasks.
//!
//! Both halves share the [`Connection`] behind a lock held only while it is called
//! (never across a wait), and the write side of the stream behind an async lock: the
//! reader writes automatic answers (pong, the close echo) through it, so a writer busy
//! on a slow peer holds them back, and the other way round. The reader drives the timers
//! (close timeout, idle ping): keep it running until it returns `None`.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::Poll;
use std::time::Instant;

use strait_streams::{
    delay_until, split, AsyncEvent, AsyncMutex, ReadHalf, Stream, WriteHalf, WriteStreamExt,
};

use super::{make_room, poll_read_or_delay, WebSocket};
use crate::proto::{CloseCode, Connection, Error, Event, InPlaceAt, Message, MessageKind};

/// The part both halves share.
struct Shared<S> {
    conn: Mutex<Connection>,
    tx: AsyncMutex<Tx<S>>,
    /// Set by the writer when the connection's deadline may have moved (a close sent):
    /// wakes a reader waiting on the old one.
    deadline_moved: AsyncEvent,
}

impl<S> Shared<S> {
    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while the connection was borrowed leaves it consistent enough to
        // report its state; go on.
        self.conn.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The write side: the stream's write half and the bytes being written.
struct Tx<S> {
    stream: WriteHalf<S>,
    buf: Vec<u8>,
    pos: usize,
    shut_down: bool,
}

impl<S: Stream + Unpin> Tx<S> {
    /// Writes everything the connection queued, then flushes.
    async fn write_queued(&mut self, conn: &Mutex<Connection>) -> io::Result<()> {
        let mut wrote = false;
        loop {
            if self.pos == self.buf.len() {
                self.buf.clear();
                self.pos = 0;
                let n = conn
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .poll_transmit(&mut self.buf);
                if n == 0 {
                    break;
                }
            }
            let n = self.stream.write(&self.buf[self.pos..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            self.pos += n;
            wrote = true;
        }
        if wrote {
            self.stream.flush().await?;
        }
        Ok(())
    }

    async fn shutdown_once(&mut self) {
        if !self.shut_down {
            self.shut_down = true;
            let _ = self.stream.shutdown().await;
        }
    }
}

/// The receiving half made by [`WebSocket::split`]. A message that arrived as one frame
/// is lent from the read buffer, as [`WebSocket`] does; others are copied out of the
/// connection into buffers of the reader's own (reused: no allocation per message once
/// they have grown to the largest).
pub struct WebSocketReader<S> {
    shared: Arc<Shared<S>>,
    stream: ReadHalf<S>,
    rbuf: Vec<u8>,
    rstart: usize,
    rend: usize,
    read_eof: bool,
    text: String,
    binary: Vec<u8>,
}

/// The sending half made by [`WebSocket::split`]. Sends wait while the connection's
/// send buffer ([`Config::max_send_buffer`](crate::proto::Config)) is full and until
/// their frame is written: a slow peer slows the sender, memory stays bounded.
pub struct WebSocketWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S> std::fmt::Debug for WebSocketReader<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketReader").finish_non_exhaustive()
    }
}

impl<S> std::fmt::Debug for WebSocketWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketWriter").finish_non_exhaustive()
    }
}

impl<S: Stream + Unpin> WebSocket<S> {
    /// Splits into a reader and a writer that can run in different tasks (with `S:
    /// Send`, on different threads). Bytes already read and frames already queued are
    /// kept. Costs two allocations (the shared state and the stream's split).
    pub fn split(self) -> (WebSocketReader<S>, WebSocketWriter<S>) {
        let (read, write) = split(self.stream);
        let shared = Arc::new(Shared {
            conn: Mutex::new(self.conn),
            tx: AsyncMutex::new(Tx {
                stream: write,
                buf: self.wbuf,
                pos: self.wpos,
                shut_down: self.shut_down,
            }),
            deadline_moved: AsyncEvent::new(),
        });
        (
            WebSocketReader {
                shared: shared.clone(),
                stream: read,
                rbuf: self.rbuf,
                rstart: self.rstart,
                rend: self.rend,
                read_eof: self.read_eof,
                text: String::new(),
                binary: Vec::new(),
            },
            WebSocketWriter { shared },
        )
    }
}

impl<S: Stream + Unpin> WebSocketReader<S> {
    /// The next whole message; control frames are answered (automatic pong, close
    /// echo) and skipped. `Ok(None)` once the connection is over (the stream is then
    /// shut down). Needs whole-message mode (fragments are not delivered here).
    ///
    /// # Errors
    /// As [`WebSocket::next_event`].
    pub async fn next_message(&mut self) -> io::Result<Option<Message<'_>>> {
        loop {
            let delivered = {
                let mut conn = self.shared.conn();
                let mut got = None;
                while let Some(event) = conn.poll_event() {
                    if let Event::Message(m) = event {
                        got = Some(match m {
                            Message::Text(t) => {
                                self.text.clear();
                                self.text.push_str(t);
                                true
                            }
                            Message::Binary(b) => {
                                self.binary.clear();
                                self.binary.extend_from_slice(b);
                                false
                            }
                        });
                        break;
                    }
                }
                got
            };
            let pending = self.shared.conn().pending_transmit() > 0;
            if pending {
                self.shared
                    .tx
                    .lock()
                    .await?
                    .write_queued(&self.shared.conn)
                    .await?;
            }
            match delivered {
                Some(true) => return Ok(Some(Message::Text(&self.text))),
                Some(false) => return Ok(Some(Message::Binary(&self.binary))),
                None => {}
            }
            if self.shared.conn().is_closed() {
                let mut tx = self.shared.tx.lock().await?;
                tx.write_queued(&self.shared.conn).await?;
                tx.shutdown_once().await;
                return Ok(None);
            }
            let mut gather = false;
            if self.rstart < self.rend && !self.read_eof {
                // A message that arrived as one frame is lent from the read buffer.
                let r = self
                    .shared
                    .conn()
                    .handle_input_at(Instant::now(), &mut self.rbuf[self.rstart..self.rend]);
                match r {
                    Ok(InPlaceAt::Used(n)) => self.rstart += n,
                    Ok(InPlaceAt::Message { used, kind, start }) => {
                        let (start, end) = (self.rstart + start, self.rstart + used);
                        self.rstart = end;
                        let payload = &self.rbuf[start..end];
                        if kind == MessageKind::Binary {
                            return Ok(Some(Message::Binary(&self.rbuf[start..end])));
                        }
                        if std::str::from_utf8(payload).is_err() {
                            let e = self.shared.conn().fail(Error::InvalidUtf8);
                            return Err(self.abort(e).await);
                        }
                        let text = std::str::from_utf8(&self.rbuf[start..end]);
                        return Ok(Some(Message::Text(text.expect("checked above"))));
                    }
                    Ok(InPlaceAt::Incomplete { used, frame_len }) => {
                        self.rstart += used;
                        make_room(&mut self.rbuf, &mut self.rstart, &mut self.rend, frame_len);
                        gather = true;
                    }
                    Err(e) => return Err(self.abort(e).await),
                }
                if !gather {
                    continue;
                }
            } else if self.rstart < self.rend {
                // The stream ended: what is left goes to the connection as it is.
                let r = self
                    .shared
                    .conn()
                    .handle_input(Instant::now(), &self.rbuf[self.rstart..self.rend]);
                match r {
                    Ok(n) => self.rstart += n,
                    Err(e) => return Err(self.abort(e).await),
                }
                continue;
            }
            if self.read_eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the stream ended without a close frame",
                ));
            }
            match self.read_or_deadline().await? {
                Some(0) => self.read_eof = true,
                Some(n) => self.rend += n,
                None => {
                    let r = self.shared.conn().handle_timeout(Instant::now());
                    if let Err(e) = r {
                        return Err(self.abort(e).await);
                    }
                }
            }
        }
    }

    /// One read after the bytes buffered (into the whole buffer when it is drained), or
    /// `None` when the connection's deadline passes (or moves) first.
    async fn read_or_deadline(&mut self) -> io::Result<Option<usize>> {
        if self.rstart == self.rend {
            (self.rstart, self.rend) = (0, 0);
        }
        let shared = &*self.shared;
        shared.deadline_moved.clear();
        let delay = shared.conn().poll_timeout().map(delay_until);
        let mut delay = pin!(delay);
        let mut moved = pin!(shared.deadline_moved.wait());
        let Self {
            stream, rbuf, rend, ..
        } = self;
        let rend = *rend;
        poll_fn(|cx| {
            if let Poll::Ready(r) =
                poll_read_or_delay(cx, stream, &mut rbuf[rend..], delay.as_mut())
            {
                return Poll::Ready(r);
            }
            if let Poll::Ready(r) = moved.as_mut().poll(cx) {
                return Poll::Ready(r.map(|()| None));
            }
            Poll::Pending
        })
        .await
    }

    async fn abort(&mut self, e: Error) -> io::Error {
        if let Ok(mut tx) = self.shared.tx.lock().await {
            let _ = tx.write_queued(&self.shared.conn).await;
            tx.shutdown_once().await;
        }
        e.into()
    }
}

impl<S: Stream + Unpin> WebSocketWriter<S> {
    /// Sends a text message, waiting while the send buffer is full and until it is
    /// written.
    ///
    /// # Errors
    /// [`Error::Closed`] (as `io::Error`) after a close; the stream's errors.
    pub async fn send_text(&self, text: &str) -> io::Result<()> {
        self.send_with(|c| c.send_text(text)).await
    }

    /// Sends a binary message, as [`send_text`](Self::send_text).
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_binary(&self, data: &[u8]) -> io::Result<()> {
        self.send_with(|c| c.send_binary(data)).await
    }

    /// Sends a ping (its pong reaches the reader's connection and is skipped there).
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text); a payload over 125 bytes.
    pub async fn send_ping(&self, payload: &[u8]) -> io::Result<()> {
        self.send_with(|c| c.send_ping(payload)).await
    }

    /// Starts the close handshake: sends our close frame. The reader sees the peer's
    /// answer (its `next_message` then returns `None`) or fails with `TimedOut` after the
    /// close timeout.
    ///
    /// # Errors
    /// An invalid code or reason (nothing is sent); the stream's errors.
    pub async fn close(&self, code: CloseCode, reason: &str) -> io::Result<()> {
        {
            let mut conn = self.shared.conn();
            if !conn.is_close_sent() {
                conn.close(Instant::now(), code, reason)?;
            }
        }
        self.shared.deadline_moved.set();
        self.flush().await
    }

    /// Writes whatever the connection has queued.
    ///
    /// # Errors
    /// The stream's errors.
    pub async fn flush(&self) -> io::Result<()> {
        self.shared
            .tx
            .lock()
            .await?
            .write_queued(&self.shared.conn)
            .await
    }

    async fn send_with(
        &self,
        mut send: impl FnMut(&mut Connection) -> Result<(), Error>,
    ) -> io::Result<()> {
        loop {
            let r = send(&mut self.shared.conn());
            match r {
                // Back-pressure: write out what is queued, then try again. A frame is
                // always accepted into an empty buffer.
                Err(Error::SendBufferFull) => self.flush().await?,
                r => {
                    r?;
                    break;
                }
            }
        }
        self.flush().await
    }
}
