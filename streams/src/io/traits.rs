//! The stream concepts: object-safe `poll_*` traits. See the [module docs](super) for
//! the semantics every implementation keeps.

use std::io;
use std::ops::DerefMut;
use std::pin::Pin;
use std::task::{Context, Poll};

use strait_vocab::{ConstBuffer, ConstWindow, Consuming, MutableBuffer, MutableWindow};

/// Progress of a complete read: the caller's buffers and how much of them is filled.
/// It lives in the operation's future, so a source never has to remember it.
pub type ReadBufs<'a, 'b> = Consuming<&'a mut [MutableBuffer<'b>]>;

/// Progress of a complete write: the caller's buffers and how much was written.
pub type WriteBufs<'a, 'b> = Consuming<&'a [ConstBuffer<'b>]>;

/// Partial reads: the papers' `ReadStream`.
pub trait ReadStream {
    /// Reads at least one byte into `bufs` (in order) when `bufs` is non-empty, and
    /// returns how many. `Ok(0)` with non-empty `bufs` means end of stream; an empty
    /// `bufs` completes at once with `Ok(0)` without I/O. On `Pending`, nothing was
    /// read and the waker is registered.
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>>;

    /// [`poll_read_some`](Self::poll_read_some) into one contiguous buffer, with the
    /// same contract (`Ok(0)` for a non-empty `buf` is end of stream; an empty `buf`
    /// completes at once with `Ok(0)`). [`ReadStreamExt::read`](crate::ReadStreamExt::read)
    /// with a single region goes through it.
    ///
    /// The default wraps `buf` in a one-element sequence. A stream whose natural read
    /// takes one slice (a socket's `recv`, a futures-io object, an in-memory pipe)
    /// overrides it to skip building and walking the sequence; type-erased and
    /// forwarding wrappers ([`AnyReadStream`](crate::AnyReadStream), `&mut S`,
    /// `Box<S>`, `Pin<P>`, split halves, buffered wrappers) forward it, so the override
    /// is reached through them with one dynamic call.
    #[inline]
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_some(cx, &mut [MutableBuffer::new(buf)])
    }
}

/// Partial writes: the papers' `WriteStream`.
pub trait WriteStream {
    /// Writes at least one byte of `bufs` (in order) when `bufs` is non-empty, and
    /// returns how many. An empty `bufs` completes at once with `Ok(0)`. On `Pending`,
    /// nothing was written.
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>>;

    /// [`poll_write_some`](Self::poll_write_some) of one contiguous buffer, with the
    /// same contract (an empty `buf` completes at once with `Ok(0)`).
    /// [`WriteStreamExt::write`](crate::WriteStreamExt::write) with a single region goes
    /// through it.
    ///
    /// The default wraps `buf` in a one-element sequence; streams whose natural write
    /// takes one slice override it, and forwarding wrappers forward it (see
    /// [`ReadStream::poll_read_slice`]).
    #[inline]
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_some(cx, &[ConstBuffer::new(buf)])
    }

    /// Pushes out bytes this stream reported written but still holds (write-behind:
    /// a TLS record being filled, a buffered writer, an io_uring send buffer). Completes
    /// when every byte written before the call has been handed to the layer below. The
    /// default completes at once: a stream that writes straight to the OS holds nothing.
    ///
    /// Write-behind is allowed: `poll_write_some` may report bytes written that reach
    /// the peer only after a flush, a `shutdown`, or when the layer's buffer fills.
    /// Code that waits for an answer after writing must flush first (the composed
    /// writes that end an exchange, such as [`write_all`](crate::write_all), do).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }

    /// Ends the write direction (a half-close, like `shutdown(SHUT_WR)`) after flushing
    /// what the stream holds: the peer reads end of stream after the bytes already
    /// written. Writing afterwards fails with `ErrorKind::BrokenPipe`.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>>;
}

/// A duplex stream: both [`ReadStream`] and [`WriteStream`].
pub trait Stream: ReadStream + WriteStream {}

impl<T: ReadStream + WriteStream + ?Sized> Stream for T {}

/// Complete reads: the papers' `ReadSource`.
pub trait ReadSource {
    /// Fills the unconsumed part of `bufs`, consuming what it fills, and completes when
    /// `bufs` is full or the source ended (then bytes remain unconsumed). Partial
    /// progress before `Pending` or an error stays recorded in `bufs`.
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Poll<io::Result<()>>;
}

/// Complete writes with end-of-stream as part of the write: the papers' `WriteSink`.
pub trait WriteSink {
    /// Writes all of the unconsumed part of `bufs`, consuming what it writes. Partial
    /// progress before `Pending` or an error stays recorded in `bufs`.
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>>;

    /// Writes all of `bufs` and then ends the sink, as one operation (a TLS record plus
    /// `close_notify`, a chunked body plus its terminator), flushing everything the
    /// sink holds. With empty `bufs` it only ends the sink. Writing after the end fails
    /// with `ErrorKind::BrokenPipe`.
    fn poll_write_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>>;

    /// Pushes out what the sink accepted but still holds; see
    /// [`WriteStream::poll_flush`]. The default completes at once.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }
}

/// Callee-owned read buffers: the papers' `BufferSource`.
pub trait BufferSource {
    /// Waits for data and returns a window of the source's own buffers; an empty window
    /// means end of source. Pulling again without `consume` returns the same bytes.
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>>;

    /// Marks the first `n` pulled bytes as used.
    fn consume(self: Pin<&mut Self>, n: usize);
}

/// Callee-owned write buffers: the papers' `BufferSink`.
pub trait BufferSink {
    /// Waits for room and returns a window of the sink's own writable buffers (never
    /// empty unless the sink ended).
    fn poll_prepare<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<MutableWindow<'s>>>;

    /// Hands the first `n` bytes of the prepared window to the sink.
    fn poll_commit(self: Pin<&mut Self>, cx: &mut Context<'_>, n: usize) -> Poll<io::Result<()>>;

    /// Commits `n` bytes and ends the sink, as one operation, flushing what it holds.
    fn poll_commit_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>>;

    /// Pushes out committed bytes the sink still holds; see
    /// [`WriteStream::poll_flush`]. The default completes at once.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let _ = cx;
        Poll::Ready(Ok(()))
    }
}

macro_rules! forward_pointer_impls {
    ($($ptr:ty),*) => {$(
        impl<T: ReadStream + Unpin + ?Sized> ReadStream for $ptr {
            #[inline]
            fn poll_read_some(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [MutableBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut **self).poll_read_some(cx, bufs)
            }
            #[inline]
            fn poll_read_slice(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut **self).poll_read_slice(cx, buf)
            }
        }
        impl<T: WriteStream + Unpin + ?Sized> WriteStream for $ptr {
            #[inline]
            fn poll_write_some(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[ConstBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut **self).poll_write_some(cx, bufs)
            }
            #[inline]
            fn poll_write_slice(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut **self).poll_write_slice(cx, buf)
            }
            #[inline]
            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut **self).poll_flush(cx)
            }
            fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut **self).poll_shutdown(cx)
            }
        }
        impl<T: ReadSource + Unpin + ?Sized> ReadSource for $ptr {
            #[inline]
            fn poll_read(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut ReadBufs<'_, '_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut **self).poll_read(cx, bufs)
            }
        }
        impl<T: WriteSink + Unpin + ?Sized> WriteSink for $ptr {
            #[inline]
            fn poll_write(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut WriteBufs<'_, '_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut **self).poll_write(cx, bufs)
            }
            #[inline]
            fn poll_write_eof(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut WriteBufs<'_, '_>,
            ) -> Poll<io::Result<()>> {
                Pin::new(&mut **self).poll_write_eof(cx, bufs)
            }
            #[inline]
            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut **self).poll_flush(cx)
            }
        }
    )*};
}

forward_pointer_impls!(&mut T, Box<T>);

impl<P> ReadStream for Pin<P>
where
    P: DerefMut<Target: ReadStream> + Unpin,
{
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_read_some(cx, bufs)
    }
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_read_slice(cx, buf)
    }
}

impl<P> WriteStream for Pin<P>
where
    P: DerefMut<Target: WriteStream> + Unpin,
{
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_write_some(cx, bufs)
    }
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().as_mut().poll_write_slice(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().as_mut().poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().as_mut().poll_shutdown(cx)
    }
}

impl<T: BufferSource + Unpin + ?Sized> BufferSource for &mut T {
    #[inline]
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>> {
        Pin::new(&mut **self.get_mut()).poll_pull(cx)
    }
    #[inline]
    fn consume(mut self: Pin<&mut Self>, n: usize) {
        Pin::new(&mut **self).consume(n)
    }
}

impl<T: BufferSink + Unpin + ?Sized> BufferSink for &mut T {
    #[inline]
    fn poll_prepare<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<MutableWindow<'s>>> {
        Pin::new(&mut **self.get_mut()).poll_prepare(cx)
    }
    #[inline]
    fn poll_commit(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut **self).poll_commit(cx, n)
    }
    #[inline]
    fn poll_commit_eof(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut **self).poll_commit_eof(cx, n)
    }
    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut **self).poll_flush(cx)
    }
}
