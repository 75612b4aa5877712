//! A stream and a state machine's input and output buffers, driven by poll functions.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use strait_streams::io::WriteBufs;
use strait_streams::vocab::{ConstBuffer, MutableBuffer};
use strait_streams::{ReadStream, WriteStream};

use crate::proto::SendError;

/// Bytes a streaming body frames into the output buffer before it must flush: a large
/// write goes out in pieces instead of being copied whole.
const BODY_HIGH_WATER: usize = 16 * 1024;

/// Output bytes waiting for the stream, and how many of them went out already.
#[derive(Debug, Default)]
pub(crate) struct Out {
    pub(crate) buf: Vec<u8>,
    pos: usize,
}

impl Out {
    pub(crate) fn is_empty(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// Writes every pending byte (then flushes the stream).
    pub(crate) fn poll_flush<S: WriteStream + Unpin>(
        &mut self,
        stream: &mut S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pos < self.buf.len() {
            let bufs = [ConstBuffer::from(&self.buf[self.pos..])];
            let n = ready!(Pin::new(&mut *stream).poll_write_some(cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.pos += n;
        }
        self.buf.clear();
        self.pos = 0;
        Pin::new(stream).poll_flush(cx)
    }

    /// Frames all of `bufs` into the buffer through `frame` (the state machine's
    /// `send_data`), consuming them; a body writer's last write, flushed by the caller.
    pub(crate) fn frame_all(
        &mut self,
        bufs: &mut WriteBufs<'_, '_>,
        frame: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), SendError>,
    ) -> io::Result<()> {
        self.frame_upto(bufs, usize::MAX, frame)
    }

    /// A streaming body's write: frames `bufs` into the buffer through `frame`,
    /// flushing to `stream` whenever [`BODY_HIGH_WATER`] bytes are waiting. If this
    /// waits, what was taken so far stays recorded in `bufs`.
    pub(crate) fn poll_frame_body<S: WriteStream + Unpin>(
        &mut self,
        stream: &mut S,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
        mut frame: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), SendError>,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.buf.len() >= BODY_HIGH_WATER {
                ready!(self.poll_flush(stream, cx))?;
            }
            if bufs.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let room = BODY_HIGH_WATER.saturating_sub(self.buf.len());
            self.frame_upto(bufs, room.max(1), &mut frame)?;
        }
    }

    /// Frames at most `max` bytes of `bufs` into the buffer, consuming them.
    fn frame_upto(
        &mut self,
        bufs: &mut WriteBufs<'_, '_>,
        max: usize,
        mut frame: impl FnMut(&[u8], &mut Vec<u8>) -> Result<(), SendError>,
    ) -> io::Result<()> {
        let mut left = max;
        while !bufs.is_empty() && left > 0 {
            let window = bufs.window();
            let mut n = 0;
            for b in window.as_slice() {
                let part = &b.as_slice()[..b.len().min(left - n)];
                frame(part, &mut self.buf).map_err(send_error)?;
                n += part.len();
                if n == left {
                    break;
                }
            }
            bufs.consume(n);
            left -= n;
        }
        Ok(())
    }

    /// Writes pending bytes then `body` as one vectored write where the stream allows.
    pub(crate) fn poll_write_with<S: WriteStream + Unpin>(
        &mut self,
        stream: &mut S,
        cx: &mut Context<'_>,
        body: &[u8],
        body_pos: &mut usize,
    ) -> Poll<io::Result<()>> {
        loop {
            let head = &self.buf[self.pos..];
            let rest = &body[*body_pos..];
            if head.is_empty() && rest.is_empty() {
                self.buf.clear();
                self.pos = 0;
                return Poll::Ready(Ok(()));
            }
            let bufs = [ConstBuffer::from(head), ConstBuffer::from(rest)];
            let n = ready!(Pin::new(&mut *stream).poll_write_some(cx, &bufs))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            let from_head = n.min(head.len());
            self.pos += from_head;
            *body_pos += n - from_head;
        }
    }
}

/// Reads once from `stream` into `buf`; `Ok(0)` is end of stream.
pub(crate) fn poll_read_into<S: ReadStream + Unpin>(
    stream: &mut S,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Err(io::Error::other("HTTP input buffer full")));
    }
    let mut bufs = [MutableBuffer::from(buf)];
    Pin::new(stream).poll_read_some(cx, &mut bufs)
}

/// Polls `f` until it completes or `after` passes (`Ok(None)`). The pending poll is
/// simply dropped at the deadline: the poll functions raced here lose nothing when
/// dropped (a partial read never happens, a read either completed or did not start).
/// A `strait_streams::timeout` would instead wait for its child to observe the stop,
/// which a bare `poll_read_some` does not.
pub(crate) async fn with_deadline<T>(
    after: std::time::Duration,
    mut f: impl FnMut(&mut Context<'_>) -> Poll<io::Result<T>>,
) -> io::Result<Option<T>> {
    let mut sleep = std::pin::pin!(strait_streams::delay(after));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = f(cx) {
            return Poll::Ready(r.map(Some));
        }
        match std::future::Future::poll(sleep.as_mut(), cx) {
            Poll::Ready(Ok(_)) => Poll::Ready(Ok(None)),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// A protocol error as an I/O error (kind `InvalidData`, the protocol error as source).
pub(crate) fn protocol_error(e: crate::proto::Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, e)
}

/// An application misuse as an I/O error (kind `InvalidInput`).
pub(crate) fn send_error(e: crate::proto::SendError) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, e)
}
