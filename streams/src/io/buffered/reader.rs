//! [`BufReader`]: a read stream as a buffer source.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use strait_vocab::{
    buffer_copy, buffer_size, ConstBuffer, ConstWindow, DynamicBuffer, MutableBuffer,
    MutableWindow, OwnedBuffer,
};

use super::DEFAULT_BUF_SIZE;
use crate::io::traits::{BufferSource, ReadBufs, ReadSource, ReadStream, WriteStream};

/// Reads from a [`ReadStream`] in large chunks into an owned buffer and serves the
/// bytes as a [`BufferSource`] (pull/consume, zero copy), a [`ReadSource`] (complete
/// reads) and again a [`ReadStream`].
///
/// A parser pulls what arrived, consumes what it parsed, and calls
/// [`fill_more`](Self::fill_more) when it needs more bytes than are buffered; unread
/// bytes stay buffered across calls and are returned by
/// [`into_parts`](Self::into_parts) (the hand-off after an HTTP upgrade). Reads as
/// large as the buffer bypass it when it is empty.
///
/// ```
/// use strait_streams::{block_on, duplex, write_all, BufReader, BufferSource, BufferSourceExt};
/// use std::pin::Pin;
///
/// let (mut a, b) = duplex(64);
/// let mut reader = BufReader::new(b);
/// block_on(async {
///     write_all(&mut a, "GET / HTTP/1.1\r\n").await?;
///     let n = reader.fill().await?; // bytes now buffered
///     assert_eq!(reader.buffer(), &b"GET / HTTP/1.1\r\n"[..n]);
///     Pin::new(&mut reader).consume(4);
///     assert_eq!(reader.buffer(), b"/ HTTP/1.1\r\n");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct BufReader<S> {
    inner: S,
    buf: OwnedBuffer,
    /// Bytes asked of the inner stream per read.
    chunk: usize,
}

impl<S> BufReader<S> {
    /// A reader with an 8 KiB buffer that never grows (reads arrive in chunks of at
    /// most that size).
    pub fn new(inner: S) -> Self {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// A reader with a `capacity`-byte buffer (at least 1 byte) that never grows.
    pub fn with_capacity(capacity: usize, inner: S) -> Self {
        let capacity = capacity.max(1);
        Self::with_buffer(OwnedBuffer::with_capacity(capacity, capacity), inner)
    }

    /// A reader over `buf` (which may already hold bytes read earlier). Reads ask for
    /// its capacity (at least 1 KiB); [`fill_more`](Self::fill_more) may grow it up to
    /// its max size.
    pub fn with_buffer(buf: OwnedBuffer, inner: S) -> Self {
        let chunk = buf.capacity().max(1024);
        BufReader { inner, buf, chunk }
    }

    /// The bytes buffered and not consumed yet.
    pub fn buffer(&self) -> &[u8] {
        self.buf.as_slice()
    }

    /// The buffer itself (to consume, clear, or change its max size).
    pub fn buffer_mut(&mut self) -> &mut OwnedBuffer {
        &mut self.buf
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably. Reading from it directly skips buffered bytes.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped stream; buffered bytes are lost (see [`into_parts`](Self::into_parts)).
    pub fn into_inner(self) -> S {
        self.inner
    }

    /// The wrapped stream and the buffer with the bytes read but not consumed.
    pub fn into_parts(self) -> (S, OwnedBuffer) {
        (self.inner, self.buf)
    }
}

impl<S: ReadStream + Unpin> BufReader<S> {
    /// Reads once from the stream, appending to the buffer even when it already holds
    /// bytes (a parser that needs more than what is buffered). Returns the bytes added;
    /// 0 means end of stream. Fails with `ErrorKind::OutOfMemory` when the buffer is at
    /// its max size.
    pub fn poll_fill_more(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // Saturating: the max size may have been lowered below what is buffered.
        let room = self.buf.max_size().saturating_sub(self.buf.size());
        if room == 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "BufReader: the buffer is full (at its max size)",
            )));
        }
        let want = self.chunk.min(room);
        let n = {
            let prepared = self.buf.prepare(want).map_err(io::Error::from)?;
            ready!(Pin::new(&mut self.inner)
                .poll_read_some(cx, &mut [MutableBuffer::new(prepared.into_slice())]))?
        };
        self.buf.commit(n);
        Poll::Ready(Ok(n))
    }

    /// Future of [`poll_fill_more`](Self::poll_fill_more), checking the environment's
    /// stop token first. Cancel-safe: bytes read are in the buffer.
    pub fn fill_more(&mut self) -> FillMore<'_, S> {
        FillMore { reader: self }
    }
}

/// Future of [`BufReader::fill_more`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct FillMore<'a, S> {
    reader: &'a mut BufReader<S>,
}

impl<S: ReadStream + Unpin> Future for FillMore<'_, S> {
    type Output = io::Result<usize>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        if crate::stop_requested() {
            return Poll::Ready(Err(crate::canceled()));
        }
        self.reader.poll_fill_more(cx)
    }
}

impl<S: ReadStream + Unpin> BufferSource for BufReader<S> {
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>> {
        let this = self.get_mut();
        if this.buf.size() == 0 {
            ready!(this.poll_fill_more(cx))?;
        }
        Poll::Ready(Ok(ConstWindow::new(this.buf.as_slice())))
    }

    fn consume(self: Pin<&mut Self>, n: usize) {
        self.get_mut().buf.consume(n);
    }
}

impl<S: ReadStream + Unpin> ReadStream for BufReader<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buf.size() == 0 {
            if buffer_size(&*bufs) >= this.chunk {
                // As large as a buffer's worth: no point copying twice.
                return Pin::new(&mut this.inner).poll_read_some(cx, bufs);
            }
            if buffer_size(&*bufs) == 0 {
                return Poll::Ready(Ok(0));
            }
            ready!(this.poll_fill_more(cx))?;
        }
        let n = buffer_copy(
            &mut *bufs,
            &[ConstBuffer::new(this.buf.as_slice())],
            usize::MAX,
        );
        this.buf.consume(n);
        Poll::Ready(Ok(n))
    }

    /// [`poll_read_some`](Self::poll_read_some) into one slice: a large read goes to
    /// the inner stream's one-slice read.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.buf.size() == 0 {
            if buf.len() >= this.chunk {
                return Pin::new(&mut this.inner).poll_read_slice(cx, buf);
            }
            if buf.is_empty() {
                return Poll::Ready(Ok(0));
            }
            ready!(this.poll_fill_more(cx))?;
        }
        let held = this.buf.as_slice();
        let n = held.len().min(buf.len());
        buf[..n].copy_from_slice(&held[..n]);
        this.buf.consume(n);
        Poll::Ready(Ok(n))
    }
}

impl<S: ReadStream + Unpin> ReadSource for BufReader<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.buf.size() > 0 {
                let n = {
                    let mut window = bufs.window_mut();
                    buffer_copy(
                        window.as_mut_slice(),
                        &[ConstBuffer::new(this.buf.as_slice())],
                        usize::MAX,
                    )
                };
                this.buf.consume(n);
                bufs.consume(n);
            }
            if bufs.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let n = if bufs.remaining() >= this.chunk {
                let mut window: MutableWindow<'_> = bufs.window_mut();
                let n =
                    ready!(Pin::new(&mut this.inner).poll_read_some(cx, window.as_mut_slice()))?;
                bufs.consume(n);
                n
            } else {
                ready!(this.poll_fill_more(cx))?
            };
            if n == 0 {
                // End of stream: a short complete read.
                return Poll::Ready(Ok(()));
            }
        }
    }
}

impl<S: WriteStream + Unpin> WriteStream for BufReader<S> {
    fn poll_write_some(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_some(cx, bufs)
    }
    fn poll_write_slice(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_slice(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}
