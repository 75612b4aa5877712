//! I/O both ways, without allocation per operation.
//!
//! - [`FromTokioIo`] presents any tokio `AsyncRead`/`AsyncWrite` (a `TcpStream`, a
//!   `UnixStream`, a `tokio-rustls` stream) as a strait [`ReadStream`]/[`WriteStream`].
//! - [`TokioIo`] presents any strait stream as tokio `AsyncRead`/`AsyncWrite`, so hyper,
//!   `tokio-rustls`, `tokio-util` codecs and the rest of that ecosystem run over strait
//!   transports.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use strait_streams::{BufferSource, ConstBuffer, MutableBuffer, ReadStream, WriteStream};
use strait_vocab::{ConstWindow, IoSliceArray};
use tokio::io::{AsyncBufRead, AsyncRead, AsyncWrite, ReadBuf};

/// A tokio I/O object as a strait stream.
///
/// - **Reads** go into the caller's first non-empty buffer through a [`ReadBuf`] that
///   tokio is told is already initialised (the caller's bytes are), so nothing is
///   zero-filled, not even by readers that call `initialize_unfilled`. tokio's
///   `AsyncRead` has no vectored read; [`TcpStream`](crate::TcpStream) and
///   [`UnixStream`](crate::UnixStream) read vectored through their sockets instead.
/// - **Writes** are forwarded with `poll_write_vectored` when the object
///   `is_write_vectored` (up to [`MAX_WINDOW`](strait_vocab::MAX_WINDOW) buffers), with
///   `poll_write` of the first non-empty buffer otherwise.
/// - **`poll_flush`** is tokio's `poll_flush`; **`poll_shutdown`** is tokio's
///   `poll_shutdown`, which on tokio's `TcpStream` and `UnixStream` is a real
///   `shutdown(Write)`: the peer reads end of stream while this end can still read.
///   After it, writes fail with [`io::ErrorKind::BrokenPipe`] whatever the inner object
///   would do (the strait contract).
///
/// ```
/// use strait_streams::{read_exact, write_all};
/// use strait_tokio::FromTokioIo;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (a, b) = tokio::io::duplex(64);
/// let (mut a, mut b) = (FromTokioIo::new(a), FromTokioIo::new(b));
/// write_all(&mut a, "ping").await?;
/// let mut buf = [0u8; 4];
/// read_exact(&mut b, &mut buf[..]).await?;
/// assert_eq!(&buf, b"ping");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct FromTokioIo<T> {
    inner: T,
    write_shut: bool,
}

impl<T> FromTokioIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        FromTokioIo {
            inner,
            write_shut: false,
        }
    }
    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
    /// The wrapped value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }
    /// Unwraps.
    pub fn into_inner(self) -> T {
        self.inner
    }
    fn project(self: Pin<&mut Self>) -> (Pin<&mut T>, &mut bool) {
        // SAFETY: `inner` is structurally pinned (never moved while pinned);
        // `write_shut` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        (
            unsafe { Pin::new_unchecked(&mut this.inner) },
            &mut this.write_shut,
        )
    }
}

/// Reads from a tokio reader into `buf` without zero-filling it.
pub(crate) fn poll_read_into<R: AsyncRead + ?Sized>(
    reader: Pin<&mut R>,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    // `ReadBuf::new` marks the whole slice initialised (it is: it is a `&mut [u8]`), so
    // neither we nor the reader zero it; `ReadBuf::uninit` would make a reader that
    // calls `initialize_unfilled` zero it on every read.
    let start = buf.as_ptr();
    let mut read_buf = ReadBuf::new(buf);
    ready!(reader.poll_read(cx, &mut read_buf))?;
    // A reader may legally assign a new `ReadBuf` to `*read_buf` (tokio cannot stop
    // it); its bytes would then not be in the caller's buffer.
    if read_buf.filled().as_ptr() != start {
        return Poll::Ready(Err(io::Error::other(
            "AsyncRead implementation replaced the ReadBuf it was given",
        )));
    }
    Poll::Ready(Ok(read_buf.filled().len()))
}

/// Writes `bufs` to a tokio writer, vectored when it says it benefits.
pub(crate) fn poll_write_bufs<W: AsyncWrite + ?Sized>(
    writer: Pin<&mut W>,
    cx: &mut Context<'_>,
    bufs: &[ConstBuffer<'_>],
) -> Poll<io::Result<usize>> {
    if writer.is_write_vectored() {
        let slices = IoSliceArray::from_buffers(bufs);
        if slices.is_empty() {
            return Poll::Ready(Ok(0));
        }
        writer.poll_write_vectored(cx, &slices)
    } else {
        match bufs.iter().find(|b| !b.is_empty()) {
            Some(buf) => writer.poll_write(cx, buf.as_slice()),
            None => Poll::Ready(Ok(0)),
        }
    }
}

/// Writes one slice to a tokio writer: `Ok(0)` at once for an empty one, as the
/// sequence path does.
pub(crate) fn poll_write_slice<W: AsyncWrite + ?Sized>(
    writer: Pin<&mut W>,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    if buf.is_empty() {
        return Poll::Ready(Ok(0));
    }
    writer.poll_write(cx, buf)
}

pub(crate) fn write_after_shutdown() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown")
}

impl<T: AsyncRead> ReadStream for FromTokioIo<T> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(buf) = bufs.iter_mut().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        poll_read_into(self.project().0, cx, buf.as_mut_slice())
    }

    /// tokio's `poll_read` into `buf`, without a sequence to walk.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        poll_read_into(self.project().0, cx, buf)
    }
}

impl<T: AsyncWrite> WriteStream for FromTokioIo<T> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let (inner, write_shut) = self.project();
        if *write_shut {
            return Poll::Ready(Err(write_after_shutdown()));
        }
        poll_write_bufs(inner, cx, bufs)
    }

    /// tokio's `poll_write` of `buf` (one slice needs no vectored write).
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let (inner, write_shut) = self.project();
        if *write_shut {
            return Poll::Ready(Err(write_after_shutdown()));
        }
        poll_write_slice(inner, cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().0.poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let (inner, write_shut) = self.project();
        // Refuse writes from the first attempt on: a shutdown in progress must not be
        // overtaken by new bytes.
        *write_shut = true;
        inner.poll_shutdown(cx)
    }
}

/// A tokio `AsyncBufRead` (a `tokio::io::BufReader`) as a strait [`BufferSource`]:
/// its buffer is lent without a copy.
impl<T: AsyncBufRead> BufferSource for FromTokioIo<T> {
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>> {
        self.project().0.poll_fill_buf(cx).map_ok(ConstWindow::new)
    }

    fn consume(self: Pin<&mut Self>, n: usize) {
        AsyncBufRead::consume(self.project().0, n);
    }
}

/// A strait stream as a tokio I/O object: `poll_flush` is [`WriteStream::poll_flush`],
/// `poll_shutdown` is [`WriteStream::poll_shutdown`] (a half-close on strait sockets),
/// vectored writes reach [`WriteStream::poll_write_some`] whole, and one-buffer reads
/// and writes reach [`ReadStream::poll_read_slice`] and [`WriteStream::poll_write_slice`].
///
/// Reads hand the strait stream the `ReadBuf`'s unfilled part. A strait stream takes
/// initialised buffers, so the part tokio does not know to be initialised is zeroed
/// first (`ReadBuf::initialize_unfilled`); a `ReadBuf` made over initialised memory,
/// or reused across reads, is never zeroed again.
///
/// ```
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
/// use strait_tokio::TokioIo;
///
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let (a, b) = strait_streams::duplex(64);
/// let (mut a, mut b) = (TokioIo::new(a), TokioIo::new(b));
/// a.write_all(b"pong").await?;
/// a.shutdown().await?; // end of stream for the peer
/// let mut text = String::new();
/// b.read_to_string(&mut text).await?;
/// assert_eq!(text, "pong");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug, Default)]
pub struct TokioIo<T> {
    inner: T,
}

impl<T> TokioIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        TokioIo { inner }
    }
    /// The wrapped value.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
    /// The wrapped value, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }
    /// Unwraps.
    pub fn into_inner(self) -> T {
        self.inner
    }
    fn pinned(self: Pin<&mut Self>) -> Pin<&mut T> {
        // SAFETY: `inner` is structurally pinned; we never move it.
        unsafe { self.map_unchecked_mut(|s| &mut s.inner) }
    }
}

impl<T: ReadStream> AsyncRead for TokioIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        if buf.remaining() == 0 {
            return Poll::Ready(Ok(()));
        }
        let unfilled = buf.initialize_unfilled();
        let n = ready!(self.pinned().poll_read_slice(cx, unfilled))?;
        // A stream reporting more than it was given breaks its contract; do not let it
        // make `advance` panic.
        if n > buf.remaining() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "strait stream reported more bytes than the buffer holds",
            )));
        }
        buf.advance(n);
        Poll::Ready(Ok(()))
    }
}

/// A strait [`BufferSource`] (a [`BufReader`](strait_streams::BufReader)) as tokio's
/// `AsyncBufRead`: its first buffered region, without a copy.
impl<T: ReadStream + BufferSource> AsyncBufRead for TokioIo<T> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.pinned()
            .poll_pull(cx)
            .map_ok(|window| window.as_slice().first().map_or(&[][..], |b| b.as_slice()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        BufferSource::consume(self.pinned(), amt);
    }
}

impl<T: WriteStream> AsyncWrite for TokioIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_write_slice(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let window = ConstWindow::new(bufs);
        self.pinned().poll_write_some(cx, window.as_slice())
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_shutdown(cx)
    }
}
