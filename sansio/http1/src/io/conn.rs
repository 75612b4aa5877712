//! A stream and a state machine's input and output buffers, driven by poll functions.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use strait_streams::vocab::{ConstBuffer, MutableBuffer};
use strait_streams::{ReadStream, WriteStream};

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
