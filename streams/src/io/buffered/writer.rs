//! [`BufWriter`]: a write stream as a buffer sink.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use strait_vocab::{
    buffer_copy, buffer_size, ConstBuffer, DynamicBuffer, MutableBuffer, MutableWindow, OwnedBuffer,
};

use super::DEFAULT_BUF_SIZE;
use crate::io::traits::{BufferSink, ReadStream, WriteBufs, WriteSink, WriteStream};

/// Collects writes in an owned buffer and hands them to a [`WriteStream`] in large
/// chunks: on [`flush`](crate::WriteStreamExt::flush), when the buffer fills, and at
/// shutdown. It is a [`WriteStream`] (write-behind: writes complete once buffered), a
/// [`BufferSink`] (callers serialize straight into its buffer, zero copy) and a
/// [`WriteSink`] (complete writes; `write_eof` flushes and shuts down).
///
/// Writes as large as the buffer go straight to the stream once the buffer is empty.
/// Bytes still buffered when the writer is dropped are lost: flush or shut down first
/// ([`write_all`](crate::write_all) flushes at its end).
///
/// ```
/// use strait_streams::{block_on, duplex, BufWriter, ReadStreamExt, WriteStreamExt};
///
/// let (a, mut b) = duplex(64);
/// let mut writer = BufWriter::new(a);
/// block_on(async {
///     writer.write("he").await?;
///     writer.write("llo").await?; // both still in the buffer
///     writer.flush().await?; // one write to the stream
///     let mut got = [0u8; 8];
///     let n = b.read(&mut got[..]).await?;
///     assert_eq!(&got[..n], b"hello");
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
#[derive(Debug)]
pub struct BufWriter<S> {
    inner: S,
    buf: OwnedBuffer,
    /// Where the write direction is: once ending, writes fail with `BrokenPipe`.
    end: End,
}

/// Progress of `shutdown`/`write_eof`/`commit_eof`, so a re-poll of one of them
/// finishes it rather than failing as a write after the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    Ending,
    Ended,
}

impl<S> BufWriter<S> {
    /// A writer with an 8 KiB buffer.
    pub fn new(inner: S) -> Self {
        Self::with_capacity(DEFAULT_BUF_SIZE, inner)
    }

    /// A writer with a `capacity`-byte buffer (at least 1 byte).
    pub fn with_capacity(capacity: usize, inner: S) -> Self {
        let capacity = capacity.max(1);
        BufWriter {
            inner,
            buf: OwnedBuffer::with_capacity(capacity, capacity),
            end: End::Open,
        }
    }

    /// The bytes written but not yet handed to the stream.
    pub fn buffer(&self) -> &[u8] {
        self.buf.as_slice()
    }

    /// The wrapped stream.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped stream, mutably. Writing to it directly overtakes buffered bytes.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped stream and the bytes that were never handed to it.
    pub fn into_parts(self) -> (S, OwnedBuffer) {
        (self.inner, self.buf)
    }

    fn room(&self) -> usize {
        self.buf.capacity() - self.buf.size()
    }

    /// After the end, only an empty end (a repeated close) is allowed.
    fn check_open_or_empty(&self, empty: bool) -> io::Result<()> {
        if empty {
            Ok(())
        } else {
            self.check_open()
        }
    }

    fn check_open(&self) -> io::Result<()> {
        if self.end != End::Open {
            Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "BufWriter: write after shutdown",
            ))
        } else {
            Ok(())
        }
    }
}

impl<S: WriteStream + Unpin> BufWriter<S> {
    /// Hands every buffered byte to the stream (without flushing the stream itself).
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.buf.size() > 0 {
            let n = ready!(Pin::new(&mut self.inner)
                .poll_write_some(cx, &[ConstBuffer::new(self.buf.as_slice())]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.buf.consume(n);
        }
        Poll::Ready(Ok(()))
    }

    fn poll_flush_all(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_end(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.end == End::Open {
            self.end = End::Ending;
        }
        ready!(self.poll_drain(cx))?;
        ready!(Pin::new(&mut self.inner).poll_shutdown(cx))?;
        self.end = End::Ended;
        Poll::Ready(Ok(()))
    }

    /// Accepts what fits of `bufs`, making room or writing through first as needed.
    fn poll_accept(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.check_open()?;
        let total = buffer_size(bufs);
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        if total > self.room() {
            ready!(self.poll_drain(cx))?;
        }
        if total >= self.buf.capacity() {
            // A buffer's worth or more, with the buffer empty: write it through.
            return Pin::new(&mut self.inner).poll_write_some(cx, bufs);
        }
        let n = {
            let room = self.room();
            let prepared = self.buf.prepare(room).map_err(io::Error::from)?;
            buffer_copy(
                &mut [MutableBuffer::new(prepared.into_slice())],
                bufs,
                usize::MAX,
            )
        };
        self.buf.commit(n);
        Poll::Ready(Ok(n))
    }
}

impl<S: WriteStream + Unpin> WriteStream for BufWriter<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_accept(cx, bufs)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_end(cx)
    }
}

impl<S: WriteStream + Unpin> WriteSink for BufWriter<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        while !bufs.is_empty() {
            let n = {
                let window = bufs.window();
                ready!(this.poll_accept(cx, window.as_slice()))?
            };
            bufs.consume(n);
        }
        Poll::Ready(Ok(()))
    }
    fn poll_write_eof(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        match self.end {
            End::Open => ready!(self.as_mut().poll_write(cx, bufs))?,
            // A re-poll finishing its own end has no bytes left; bytes here belong to
            // another `write_eof` after an unfinished (canceled) one: too late for them.
            End::Ending | End::Ended => self.check_open_or_empty(bufs.is_empty())?,
        }
        self.get_mut().poll_end(cx)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }
}

impl<S: WriteStream + Unpin> BufferSink for BufWriter<S> {
    fn poll_prepare<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<MutableWindow<'s>>> {
        let this = self.get_mut();
        this.check_open()?;
        if this.room() == 0 {
            ready!(this.poll_drain(cx))?;
        }
        let room = this.room();
        let prepared = this.buf.prepare(room).map_err(io::Error::from)?;
        Poll::Ready(Ok(MutableWindow::new(prepared.into_slice())))
    }
    fn poll_commit(self: Pin<&mut Self>, _cx: &mut Context<'_>, n: usize) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check_open()?;
        this.buf.commit(n);
        Poll::Ready(Ok(()))
    }
    fn poll_commit_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match this.end {
            End::Open => this.buf.commit(n),
            End::Ending => {}
            End::Ended => this.check_open_or_empty(n == 0)?,
        }
        this.poll_end(cx)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_flush_all(cx)
    }
}

impl<S: ReadStream + Unpin> ReadStream for BufWriter<S> {
    fn poll_read_some(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read_some(cx, bufs)
    }
    fn poll_read_slice(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read_slice(cx, buf)
    }
}
