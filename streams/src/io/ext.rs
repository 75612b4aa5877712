//! Async methods over the stream traits. Every future here allocates nothing and honours
//! the environment's stop token: before each attempt it checks
//! [`stop_requested`](crate::stop_requested) and, if set, completes with the canceled
//! error without touching the object. Waking on stop is the environment publisher's
//! job (see the `env` module docs), so the futures need no registration of their own;
//! a `Pending` object has moved no byte, so nothing is lost.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use strait_vocab::{ConstBuffer, ConstWindow, Consuming, MutableBuffer, MutableWindow};

use super::traits::{BufferSink, BufferSource, ReadSource, ReadStream, WriteSink, WriteStream};
use strait_vocab::{ConstBufferSequence, MutableBufferSequence};

/// Polls an operation unless the environment's stop token was triggered (then the
/// operation completes as canceled without touching the object).
macro_rules! gated {
    ($poll:expr) => {{
        if crate::stop_requested() {
            return Poll::Ready(Err(crate::canceled()));
        }
        $poll
    }};
}

/// Async methods of every [`ReadStream`].
pub trait ReadStreamExt: ReadStream {
    /// Reads at least one byte into `bufs` (any mutable buffer sequence): a partial
    /// read, as std's and tokio's `read`. See [`ReadStream::poll_read_some`].
    /// Cancel-safe: dropping it loses no data.
    #[doc(alias = "read_some")]
    fn read<B: MutableBufferSequence>(&mut self, bufs: B) -> Read<'_, Self, B>
    where
        Self: Unpin,
    {
        Read { stream: self, bufs }
    }
}

impl<T: ReadStream + ?Sized> ReadStreamExt for T {}

/// Future of [`ReadStreamExt::read`].
#[must_use = "futures do nothing unless awaited"]
pub struct Read<'a, S: ?Sized, B> {
    stream: &'a mut S,
    bufs: B,
}

impl<S: ReadStream + Unpin + ?Sized, B: MutableBufferSequence> Future for Read<'_, S, B> {
    type Output = io::Result<usize>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let stream = &mut *this.stream;
        let bufs = &mut this.bufs;
        gated!({
            if bufs.buffer_length() == 1 {
                // One region (the common case): no sequence to build or walk.
                let region = bufs.buffers_mut().next().expect("one region");
                Pin::new(&mut *stream).poll_read_slice(cx, region)
            } else {
                let mut window = MutableWindow::new(bufs);
                Pin::new(&mut *stream).poll_read_some(cx, window.as_mut_slice())
            }
        })
    }
}

/// Async methods of every [`WriteStream`].
pub trait WriteStreamExt: WriteStream {
    /// Writes at least one byte of `bufs` (any const buffer sequence): a partial
    /// write, as std's and tokio's `write`. See [`WriteStream::poll_write_some`].
    /// Cancel-safe.
    #[doc(alias = "write_some")]
    fn write<B: ConstBufferSequence>(&mut self, bufs: B) -> Write<'_, Self, B>
    where
        Self: Unpin,
    {
        Write { stream: self, bufs }
    }

    /// Pushes out what the stream holds. See [`WriteStream::poll_flush`].
    fn flush(&mut self) -> Flush<'_, Self>
    where
        Self: Unpin,
    {
        Flush { stream: self }
    }

    /// Flushes, then ends the write direction. See [`WriteStream::poll_shutdown`].
    fn shutdown(&mut self) -> Shutdown<'_, Self>
    where
        Self: Unpin,
    {
        Shutdown { stream: self }
    }
}

impl<T: WriteStream + ?Sized> WriteStreamExt for T {}

/// Future of [`WriteStreamExt::write`].
#[must_use = "futures do nothing unless awaited"]
pub struct Write<'a, S: ?Sized, B> {
    stream: &'a mut S,
    bufs: B,
}

impl<S: WriteStream + Unpin + ?Sized, B: ConstBufferSequence> Future for Write<'_, S, B> {
    type Output = io::Result<usize>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let stream = &mut *this.stream;
        let bufs = &this.bufs;
        gated!({
            if bufs.buffer_length() == 1 {
                let region = bufs.buffers().next().expect("one region");
                Pin::new(&mut *stream).poll_write_slice(cx, region)
            } else {
                let window = ConstWindow::new(bufs);
                Pin::new(&mut *stream).poll_write_some(cx, window.as_slice())
            }
        })
    }
}

/// Future of [`WriteStreamExt::flush`].
#[must_use = "futures do nothing unless awaited"]
pub struct Flush<'a, S: ?Sized> {
    stream: &'a mut S,
}

impl<S: WriteStream + Unpin + ?Sized> Future for Flush<'_, S> {
    type Output = io::Result<()>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let stream = &mut *this.stream;
        gated!(Pin::new(&mut *stream).poll_flush(cx))
    }
}

/// Future of [`WriteStreamExt::shutdown`].
#[must_use = "futures do nothing unless awaited"]
pub struct Shutdown<'a, S: ?Sized> {
    stream: &'a mut S,
}

impl<S: WriteStream + Unpin + ?Sized> Future for Shutdown<'_, S> {
    type Output = io::Result<()>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let stream = &mut *this.stream;
        gated!(Pin::new(&mut *stream).poll_shutdown(cx))
    }
}

/// Async methods of every [`ReadSource`].
pub trait ReadSourceExt: ReadSource {
    /// Fills `bufs` completely, or up to the end of the source. Returns the number of
    /// bytes read: less than `bufs`' size only at end of source. On error the bytes
    /// read before it are in `bufs` and their count is in the error
    /// ([`bytes_transferred`](crate::bytes_transferred)). Not cancel-safe (a drop loses
    /// the count). The papers' complete `read`.
    #[doc(alias = "read")]
    fn read_exact<'b, 'c>(
        &'b mut self,
        bufs: &'b mut [MutableBuffer<'c>],
    ) -> ReadExact<'b, 'c, Self>
    where
        Self: Unpin,
    {
        ReadExact {
            source: self,
            bufs: Consuming::new(bufs),
        }
    }
}

impl<T: ReadSource + ?Sized> ReadSourceExt for T {}

/// Future of [`ReadSourceExt::read_exact`].
#[must_use = "futures do nothing unless awaited"]
pub struct ReadExact<'b, 'c, S: ?Sized> {
    source: &'b mut S,
    bufs: Consuming<&'b mut [MutableBuffer<'c>]>,
}

impl<'b, 'c, S: ?Sized> ReadExact<'b, 'c, S> {
    /// Bytes read so far (observable after an error or cancellation).
    pub fn transferred(&self) -> usize {
        self.bufs.consumed()
    }
}

impl<S: ReadSource + Unpin + ?Sized> Future for ReadExact<'_, '_, S> {
    type Output = io::Result<usize>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let source = &mut *this.source;
        let bufs = &mut this.bufs;
        let r: Poll<io::Result<()>> = gated!(Pin::new(&mut *source).poll_read(cx, bufs));
        let done = this.bufs.consumed();
        r.map(|r| {
            r.map(|()| done)
                .map_err(|e| crate::error::after_transfer(e, done))
        })
    }
}

/// Async methods of every [`WriteSink`].
pub trait WriteSinkExt: WriteSink {
    /// Writes all of `bufs` and flushes the sink (an empty `bufs` only flushes).
    /// Returns the number of bytes written; on error the count written before it is in
    /// the error ([`bytes_transferred`](crate::bytes_transferred)). The papers' complete
    /// `write`.
    #[doc(alias = "write")]
    fn write_all<'b, 'c>(&'b mut self, bufs: &'b [ConstBuffer<'c>]) -> WriteAll<'b, 'c, Self>
    where
        Self: Unpin,
    {
        WriteAll {
            sink: self,
            bufs: Consuming::new(bufs),
            eof: false,
            flushing: false,
        }
    }

    /// Writes all of `bufs`, then ends the sink, as one operation.
    fn write_eof<'b, 'c>(&'b mut self, bufs: &'b [ConstBuffer<'c>]) -> WriteAll<'b, 'c, Self>
    where
        Self: Unpin,
    {
        WriteAll {
            sink: self,
            bufs: Consuming::new(bufs),
            eof: true,
            flushing: false,
        }
    }

    /// Ends the sink without more data.
    fn close(&mut self) -> WriteAll<'_, 'static, Self>
    where
        Self: Unpin,
    {
        self.write_eof(&[])
    }
}

impl<T: WriteSink + ?Sized> WriteSinkExt for T {}

/// Future of [`WriteSinkExt::write_all`] and [`WriteSinkExt::write_eof`].
#[must_use = "futures do nothing unless awaited"]
pub struct WriteAll<'b, 'c, S: ?Sized> {
    sink: &'b mut S,
    bufs: Consuming<&'b [ConstBuffer<'c>]>,
    eof: bool,
    /// Every byte is written; a plain write now flushes (`write_eof` flushes itself).
    flushing: bool,
}

impl<S: ?Sized> WriteAll<'_, '_, S> {
    /// Bytes written so far (observable after an error or cancellation).
    pub fn transferred(&self) -> usize {
        self.bufs.consumed()
    }
}

impl<S: WriteSink + Unpin + ?Sized> Future for WriteAll<'_, '_, S> {
    type Output = io::Result<usize>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let sink = &mut *this.sink;
        let bufs = &mut this.bufs;
        let eof = this.eof;
        let mut r: Poll<io::Result<()>> = gated!({
            if eof {
                Pin::new(&mut *sink).poll_write_eof(cx, bufs)
            } else if this.flushing {
                Pin::new(&mut *sink).poll_flush(cx)
            } else {
                Pin::new(&mut *sink).poll_write(cx, bufs)
            }
        });
        if !eof && !this.flushing && matches!(r, Poll::Ready(Ok(()))) {
            this.flushing = true;
            r = Pin::new(&mut *sink).poll_flush(cx);
        }
        let done = this.bufs.consumed();
        r.map(|r| {
            r.map(|()| done)
                .map_err(|e| crate::error::after_transfer(e, done))
        })
    }
}

/// Async methods of every [`BufferSource`].
pub trait BufferSourceExt: BufferSource {
    /// Waits until the source has bytes (or ended) and returns how many are pulled and
    /// ready in [`poll_pull`](BufferSource::poll_pull)'s window; 0 means end of source.
    /// ReadExact them with a following `poll_pull`, which returns at once, then `consume`.
    fn fill(&mut self) -> Fill<'_, Self>
    where
        Self: Unpin,
    {
        Fill { source: self }
    }
}

impl<T: BufferSource + ?Sized> BufferSourceExt for T {}

/// Future of [`BufferSourceExt::fill`].
#[must_use = "futures do nothing unless awaited"]
pub struct Fill<'a, S: ?Sized> {
    source: &'a mut S,
}

impl<S: BufferSource + Unpin + ?Sized> Future for Fill<'_, S> {
    type Output = io::Result<usize>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let source = &mut *this.source;
        gated!(Pin::new(&mut *source).poll_pull(cx).map_ok(|w| w.size()))
    }
}

/// Async methods of every [`BufferSink`].
pub trait BufferSinkExt: BufferSink {
    /// Waits until the sink has room; returns how many bytes the next
    /// [`poll_prepare`](BufferSink::poll_prepare) window holds.
    fn reserve(&mut self) -> Reserve<'_, Self>
    where
        Self: Unpin,
    {
        Reserve { sink: self }
    }

    /// Hands `n` prepared bytes to the sink.
    fn commit(&mut self, n: usize) -> Commit<'_, Self>
    where
        Self: Unpin,
    {
        Commit {
            sink: self,
            n,
            eof: false,
        }
    }

    /// Hands `n` prepared bytes to the sink and ends it.
    fn commit_eof(&mut self, n: usize) -> Commit<'_, Self>
    where
        Self: Unpin,
    {
        Commit {
            sink: self,
            n,
            eof: true,
        }
    }
}

impl<T: BufferSink + ?Sized> BufferSinkExt for T {}

/// Future of [`BufferSinkExt::reserve`].
#[must_use = "futures do nothing unless awaited"]
pub struct Reserve<'a, S: ?Sized> {
    sink: &'a mut S,
}

impl<S: BufferSink + Unpin + ?Sized> Future for Reserve<'_, S> {
    type Output = io::Result<usize>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let sink = &mut *this.sink;
        gated!(Pin::new(&mut *sink).poll_prepare(cx).map_ok(|w| w.size()))
    }
}

/// Future of [`BufferSinkExt::commit`] and [`BufferSinkExt::commit_eof`].
#[must_use = "futures do nothing unless awaited"]
pub struct Commit<'a, S: ?Sized> {
    sink: &'a mut S,
    n: usize,
    eof: bool,
}

impl<S: BufferSink + Unpin + ?Sized> Future for Commit<'_, S> {
    type Output = io::Result<()>;
    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: no field is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        let sink = &mut *this.sink;
        let (n, eof) = (this.n, this.eof);
        gated!({
            if eof {
                Pin::new(&mut *sink).poll_commit_eof(cx, n)
            } else {
                Pin::new(&mut *sink).poll_commit(cx, n)
            }
        })
    }
}
