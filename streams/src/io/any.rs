//! Type-erased streams: a tagged fat pointer (owning box or borrowed pin, three words),
//! and no allocation per operation (only `new` boxes the inner value, once).

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use strait_vocab::{buffer_copy, ConstBuffer, ConstWindow, MutableBuffer, MutableWindow};

use super::traits::{
    BufferSink, BufferSource, ReadBufs, ReadSource, ReadStream, WriteBufs, WriteSink, WriteStream,
};

/// The erased value: boxed (owning) or borrowed.
enum Erased<'a, T: ?Sized> {
    Owned(Pin<Box<T>>),
    Borrowed(Pin<&'a mut T>),
}

impl<T: ?Sized> Erased<'_, T> {
    #[inline]
    fn as_mut(&mut self) -> Pin<&mut T> {
        match self {
            Erased::Owned(b) => b.as_mut(),
            Erased::Borrowed(r) => r.as_mut(),
        }
    }
}

macro_rules! any_wrapper {
    ($(#[$doc:meta])* $name:ident, $trait:path $(, $send:ident)?) => {
        $(#[$doc])*
        pub struct $name<'a> {
            inner: Erased<'a, dyn $trait $(+ $send)? + 'a>,
        }

        impl<'a> $name<'a> {
            /// Owns `inner` (boxed once, here).
            pub fn new<T: $trait $(+ $send)? + 'a>(inner: T) -> Self {
                $name { inner: Erased::Owned(Box::pin(inner)) }
            }

            /// Borrows `inner` for `'a`; no allocation at all.
            pub fn borrowed<T: $trait $(+ $send)? + Unpin + 'a>(inner: &'a mut T) -> Self {
                let pinned: Pin<&'a mut T> = Pin::new(inner);
                $name { inner: Erased::Borrowed(pinned) }
            }

            /// Borrows an already pinned `inner`.
            pub fn borrowed_pin<T: $trait $(+ $send)? + 'a>(inner: Pin<&'a mut T>) -> Self {
                $name { inner: Erased::Borrowed(inner) }
            }
        }

        impl fmt::Debug for $name<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let kind = match self.inner {
                    Erased::Owned(_) => "owned",
                    Erased::Borrowed(_) => "borrowed",
                };
                f.debug_tuple(stringify!($name)).field(&kind).finish()
            }
        }
    };
}

any_wrapper!(
    /// A type-erased [`Stream`](super::Stream): what protocol code written once takes
    /// (`&mut AnyStream`) to run over any transport. `Send`; see [`LocalAnyStream`] for
    /// transports that are not.
    AnyStream,
    super::Stream,
    Send
);
any_wrapper!(
    /// A type-erased [`ReadStream`].
    AnyReadStream,
    ReadStream,
    Send
);
any_wrapper!(
    /// A type-erased [`WriteStream`].
    AnyWriteStream,
    WriteStream,
    Send
);
any_wrapper!(
    /// A type-erased [`ReadSource`].
    AnyReadSource,
    ReadSource,
    Send
);
any_wrapper!(
    /// A type-erased [`WriteSink`].
    AnyWriteSink,
    WriteSink,
    Send
);
any_wrapper!(
    /// [`AnyStream`] for transports that are not `Send` (thread-per-core sockets,
    /// io_uring buffers, `Rc`-based test doubles), used from local tasks
    /// ([`spawn_local`](crate::RunLoop::spawn_local)).
    LocalAnyStream,
    super::Stream
);
any_wrapper!(
    /// [`AnyReadStream`] for types that are not `Send`.
    LocalAnyReadStream,
    ReadStream
);
any_wrapper!(
    /// [`AnyWriteStream`] for types that are not `Send`.
    LocalAnyWriteStream,
    WriteStream
);

macro_rules! forward_read_stream {
    ($($name:ident),*) => {$(
        impl ReadStream for $name<'_> {
            #[inline]
            fn poll_read_some(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [MutableBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner.as_mut().poll_read_some(cx, bufs)
            }
            #[inline]
            fn poll_read_slice(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.as_mut().poll_read_slice(cx, buf)
            }
        }
    )*};
}

macro_rules! forward_write_stream {
    ($($name:ident),*) => {$(
        impl WriteStream for $name<'_> {
            #[inline]
            fn poll_write_some(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[ConstBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                self.inner.as_mut().poll_write_some(cx, bufs)
            }
            #[inline]
            fn poll_write_slice(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                self.inner.as_mut().poll_write_slice(cx, buf)
            }
            #[inline]
            fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.inner.as_mut().poll_flush(cx)
            }
            #[inline]
            fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                self.inner.as_mut().poll_shutdown(cx)
            }
        }
    )*};
}

impl<'a> AnyStream<'a> {
    /// Splits the stream into halves two tasks can own; see [`split`](super::split).
    /// `AnyReadStream::new(read_half)` erases a half again.
    pub fn split(self) -> (super::ReadHalf<Self>, super::WriteHalf<Self>) {
        super::split(self)
    }
}

forward_read_stream!(AnyStream, AnyReadStream, LocalAnyStream, LocalAnyReadStream);
forward_write_stream!(
    AnyStream,
    AnyWriteStream,
    LocalAnyStream,
    LocalAnyWriteStream
);

impl ReadSource for AnyReadSource<'_> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_read(cx, bufs)
    }
}

impl WriteSink for AnyWriteSink<'_> {
    #[inline]
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_write(cx, bufs)
    }
    #[inline]
    fn poll_write_eof(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_write_eof(cx, bufs)
    }
    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }
}

/// A [`BufferSource`] whose erased vtable may also carry a direct [`ReadSource`] path.
trait ErasedSource: BufferSource {
    /// `Some` when the inner type reads into caller buffers itself (zero copies).
    fn poll_read_direct(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Option<Poll<io::Result<()>>>;
}

/// Wraps a source that only pulls.
struct PullOnly<T>(T);
/// Wraps a source that also reads into caller buffers.
struct PullAndRead<T>(T);

macro_rules! buffer_source_passthrough {
    ($($w:ident),*) => {$(
        impl<T: BufferSource> BufferSource for $w<T> {
            fn poll_pull<'s>(self: Pin<&'s mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<ConstWindow<'s>>> {
                // SAFETY: the wrapper's only field is structurally pinned.
                unsafe { self.map_unchecked_mut(|w| &mut w.0) }.poll_pull(cx)
            }
            #[inline]
            fn consume(self: Pin<&mut Self>, n: usize) {
                // SAFETY: as above.
                unsafe { self.map_unchecked_mut(|w| &mut w.0) }.consume(n)
            }
        }
    )*};
}
buffer_source_passthrough!(PullOnly, PullAndRead);

impl<T: BufferSource> ErasedSource for PullOnly<T> {
    fn poll_read_direct(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _bufs: &mut ReadBufs<'_, '_>,
    ) -> Option<Poll<io::Result<()>>> {
        None
    }
}

impl<T: BufferSource + ReadSource> ErasedSource for PullAndRead<T> {
    fn poll_read_direct(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Option<Poll<io::Result<()>>> {
        // SAFETY: the wrapper's only field is structurally pinned.
        Some(unsafe { self.map_unchecked_mut(|w| &mut w.0) }.poll_read(cx, bufs))
    }
}

/// A type-erased [`BufferSource`] that also offers [`ReadSource`]: with zero copies when
/// made by [`with_read_source`](Self::with_read_source) from a type that has both, with
/// one copy (from the pulled buffers) otherwise.
pub struct AnyBufferSource<'a> {
    inner: Erased<'a, dyn ErasedSource + Send + 'a>,
}

impl<'a> AnyBufferSource<'a> {
    /// Owns a source that only pulls; its `ReadSource` copies from pulled buffers.
    pub fn new<T: BufferSource + Send + 'a>(inner: T) -> Self {
        AnyBufferSource {
            inner: Erased::Owned(Box::pin(PullOnly(inner))),
        }
    }

    /// Owns a source that also reads into caller buffers itself.
    pub fn with_read_source<T: BufferSource + ReadSource + Send + 'a>(inner: T) -> Self {
        AnyBufferSource {
            inner: Erased::Owned(Box::pin(PullAndRead(inner))),
        }
    }

    /// Borrows `inner` for `'a` (boxes a one-pointer wrapper once; no allocation per
    /// operation). Its `ReadSource` copies from pulled buffers.
    pub fn borrowed<T: BufferSource + Send + Unpin + 'a>(inner: &'a mut T) -> Self {
        AnyBufferSource::new(inner)
    }
}

impl BufferSource for AnyBufferSource<'_> {
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>> {
        self.get_mut().inner.as_mut().poll_pull(cx)
    }
    #[inline]
    fn consume(mut self: Pin<&mut Self>, n: usize) {
        self.inner.as_mut().consume(n)
    }
}

impl ReadSource for AnyBufferSource<'_> {
    #[inline]
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        if let Some(direct) = self.inner.as_mut().poll_read_direct(cx, bufs) {
            return direct;
        }
        // One copy: from the source's buffers into the caller's.
        while !bufs.is_empty() {
            let copied = {
                let window = match self.inner.as_mut().poll_pull(cx) {
                    Poll::Ready(Ok(w)) => w,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                if window.is_empty() {
                    return Poll::Ready(Ok(())); // end of source
                }
                let mut dst = bufs.window_mut();
                buffer_copy(dst.as_mut_slice(), window.as_slice(), usize::MAX)
            };
            self.inner.as_mut().consume(copied);
            bufs.consume(copied);
        }
        Poll::Ready(Ok(()))
    }
}

/// A [`BufferSink`] whose erased vtable may also carry a direct [`WriteSink`] path.
trait ErasedSink: BufferSink {
    fn poll_write_direct(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
        eof: bool,
    ) -> Option<Poll<io::Result<()>>>;
}

struct PrepareOnly<T>(T);
struct PrepareAndWrite<T>(T);

macro_rules! buffer_sink_passthrough {
    ($($w:ident),*) => {$(
        impl<T: BufferSink> BufferSink for $w<T> {
            fn poll_prepare<'s>(self: Pin<&'s mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<MutableWindow<'s>>> {
                // SAFETY: the wrapper's only field is structurally pinned.
                unsafe { self.map_unchecked_mut(|w| &mut w.0) }.poll_prepare(cx)
            }
            #[inline]
            fn poll_commit(self: Pin<&mut Self>, cx: &mut Context<'_>, n: usize) -> Poll<io::Result<()>> {
                // SAFETY: as above.
                unsafe { self.map_unchecked_mut(|w| &mut w.0) }.poll_commit(cx, n)
            }
            #[inline]
            fn poll_commit_eof(self: Pin<&mut Self>, cx: &mut Context<'_>, n: usize) -> Poll<io::Result<()>> {
                // SAFETY: as above.
                unsafe { self.map_unchecked_mut(|w| &mut w.0) }.poll_commit_eof(cx, n)
            }
            #[inline]
            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                // SAFETY: as above.
                unsafe { self.map_unchecked_mut(|w| &mut w.0) }.poll_flush(cx)
            }
        }
    )*};
}
buffer_sink_passthrough!(PrepareOnly, PrepareAndWrite);

impl<T: BufferSink> ErasedSink for PrepareOnly<T> {
    fn poll_write_direct(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        _bufs: &mut WriteBufs<'_, '_>,
        _eof: bool,
    ) -> Option<Poll<io::Result<()>>> {
        None
    }
}

impl<T: BufferSink + WriteSink> ErasedSink for PrepareAndWrite<T> {
    fn poll_write_direct(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
        eof: bool,
    ) -> Option<Poll<io::Result<()>>> {
        // SAFETY: the wrapper's only field is structurally pinned.
        let inner = unsafe { self.map_unchecked_mut(|w| &mut w.0) };
        Some(if eof {
            inner.poll_write_eof(cx, bufs)
        } else {
            inner.poll_write(cx, bufs)
        })
    }
}

/// A type-erased [`BufferSink`] that also offers [`WriteSink`]: with zero copies when
/// made by [`with_write_sink`](Self::with_write_sink) from a type that has both, with one
/// copy (into prepared buffers) otherwise.
pub struct AnyBufferSink<'a> {
    inner: Erased<'a, dyn ErasedSink + Send + 'a>,
    /// A copying write's commit that returned `Pending`: `(bytes, ends the sink)`. The
    /// bytes are already in the sink, so a re-poll finishes the commit, never re-copies.
    pending: Option<(usize, bool)>,
}

impl<'a> AnyBufferSink<'a> {
    /// Owns a sink that only prepares/commits; its `WriteSink` copies into prepared buffers.
    pub fn new<T: BufferSink + Send + 'a>(inner: T) -> Self {
        AnyBufferSink {
            inner: Erased::Owned(Box::pin(PrepareOnly(inner))),
            pending: None,
        }
    }

    /// Owns a sink that also writes caller buffers itself.
    pub fn with_write_sink<T: BufferSink + WriteSink + Send + 'a>(inner: T) -> Self {
        AnyBufferSink {
            inner: Erased::Owned(Box::pin(PrepareAndWrite(inner))),
            pending: None,
        }
    }

    /// Borrows `inner` for `'a` (boxes a one-pointer wrapper once; no allocation per
    /// operation). Its `WriteSink` copies into prepared buffers.
    pub fn borrowed<T: BufferSink + Send + Unpin + 'a>(inner: &'a mut T) -> Self {
        AnyBufferSink::new(inner)
    }

    fn poll_copy(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
        eof: bool,
    ) -> Poll<io::Result<()>> {
        if self.pending.is_none() {
            if let Some(direct) = self.inner.as_mut().poll_write_direct(cx, bufs, eof) {
                return direct;
            }
        }
        loop {
            if let Some((n, ends)) = self.pending {
                let committed = if ends {
                    self.inner.as_mut().poll_commit_eof(cx, n)
                } else {
                    self.inner.as_mut().poll_commit(cx, n)
                };
                match committed {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(r) => {
                        self.pending = None;
                        r?;
                        if ends {
                            return Poll::Ready(Ok(()));
                        }
                    }
                }
            }
            if bufs.is_empty() {
                if eof {
                    self.pending = Some((0, true));
                    continue;
                }
                return Poll::Ready(Ok(()));
            }
            let copied = {
                let mut window = match self.inner.as_mut().poll_prepare(cx) {
                    Poll::Ready(Ok(w)) => w,
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                };
                if window.is_empty() {
                    return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
                }
                buffer_copy(window.as_mut_slice(), bufs.window().as_slice(), usize::MAX)
            };
            bufs.consume(copied);
            self.pending = Some((copied, eof && bufs.is_empty()));
        }
    }
}

impl BufferSink for AnyBufferSink<'_> {
    fn poll_prepare<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<MutableWindow<'s>>> {
        self.get_mut().inner.as_mut().poll_prepare(cx)
    }
    #[inline]
    fn poll_commit(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_commit(cx, n)
    }
    #[inline]
    fn poll_commit_eof(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_commit_eof(cx, n)
    }
    #[inline]
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.inner.as_mut().poll_flush(cx)
    }
}

impl WriteSink for AnyBufferSink<'_> {
    #[inline]
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_copy(cx, bufs, false)
    }
    #[inline]
    fn poll_write_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_copy(cx, bufs, true)
    }
    /// Finishes a copying write's pending commit, then flushes the sink.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.pending.is_some() {
            let mut none = strait_vocab::Consuming::new(&[][..]);
            std::task::ready!(this.poll_copy(cx, &mut none, false))?;
        }
        this.inner.as_mut().poll_flush(cx)
    }
}

impl fmt::Debug for AnyBufferSource<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyBufferSource").finish_non_exhaustive()
    }
}

impl fmt::Debug for AnyBufferSink<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AnyBufferSink").finish_non_exhaustive()
    }
}
