//! futures-io types and strait streams, both ways, without allocation per operation.
//!
//! - [`FromFuturesIo`] presents any futures-io `AsyncRead`/`AsyncWrite` as a strait
//!   stream (vectored reads and writes forwarded; futures-io reads take initialised
//!   buffers, so nothing is ever zero-filled); `shutdown` is `poll_close`.
//! - [`FuturesIo`] presents any strait stream as futures-io `AsyncRead`/`AsyncWrite`
//!   (and a `BufferSource` as `AsyncBufRead`), so futures-io code (async-tls,
//!   async-h1, `futures::io` combinators) runs over strait transports.
//! - [`FuturesSocket`] presents a futures-io **socket** as a strait stream whose
//!   `shutdown` is a real `shutdown(Write)`, whatever the socket's `poll_close` does.
//!   Use it for sockets whose `poll_close` only flushes: async-io's `Async<TcpStream>`
//!   and everything built on it without a close of its own, such as async-std's
//!   `TcpStream` (a peer would otherwise never see end of stream).
//!
//! The first two are strait-streams' own adapters, re-exported here so a smol program
//! finds them with the rest of its driver.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use futures_io::{AsyncRead, AsyncWrite};
use strait_streams::{ConstBuffer, MutableBuffer, ReadStream, WriteStream};
use strait_vocab::{IoSliceArray, IoSliceMutArray};

pub use strait_streams::io::{FromFuturesIo, FuturesIo};

pub(crate) fn write_after_shutdown() -> io::Error {
    io::Error::new(io::ErrorKind::BrokenPipe, "write after shutdown")
}

/// A futures-io socket as a strait stream with a real half-close.
///
/// - **Reads** go to `poll_read_vectored` with every non-empty buffer (up to
///   [`MAX_WINDOW`](strait_vocab::MAX_WINDOW)); futures-io reads take initialised
///   buffers, so nothing is zero-filled.
/// - **Writes** go to `poll_write_vectored`.
/// - **One-slice** reads and writes ([`ReadStream::poll_read_slice`],
///   [`WriteStream::poll_write_slice`]) go to `poll_read` and `poll_write`.
/// - **`poll_flush`** is the socket's `poll_flush`.
/// - **`poll_shutdown`** flushes, then calls `shutdown(Write)` on the socket's
///   descriptor: the peer reads end of stream while this end can still read. The
///   socket's own `poll_close` is never called (on async-io's `Async<TcpStream>` and on
///   async-std's `TcpStream` it only flushes). After it, writes fail with
///   [`io::ErrorKind::BrokenPipe`].
///
/// ```
/// use std::io::Read;
/// use strait_streams::{write_all, WriteStreamExt};
/// use strait_smol::FuturesSocket;
///
/// let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
/// let addr = listener.local_addr().unwrap();
/// # async_io::block_on(async {
/// // async-io's own TcpStream: its `poll_close` sends no FIN.
/// let socket = async_io::Async::<std::net::TcpStream>::connect(addr).await?;
/// let mut stream = FuturesSocket::new(socket);
/// write_all(&mut stream, "bye").await?;
/// stream.shutdown().await?; // FIN
/// let (mut peer, _) = listener.accept()?;
/// let mut got = String::new();
/// peer.read_to_string(&mut got)?; // returns: end of stream
/// assert_eq!(got, "bye");
/// # std::io::Result::Ok(()) }).unwrap();
/// ```
#[derive(Debug)]
pub struct FuturesSocket<T> {
    inner: T,
    /// A shutdown was asked for: writes are refused from then on.
    write_shut: bool,
    /// The `shutdown(Write)` was made.
    fin_sent: bool,
}

impl<T> FuturesSocket<T> {
    /// Wraps a connected socket.
    pub fn new(inner: T) -> Self {
        FuturesSocket {
            inner,
            write_shut: false,
            fin_sent: false,
        }
    }
    /// The wrapped socket.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }
    /// The wrapped socket, mutably.
    pub fn get_mut(&mut self) -> &mut T {
        &mut self.inner
    }
    /// Unwraps.
    pub fn into_inner(self) -> T {
        self.inner
    }
}

impl<T> From<T> for FuturesSocket<T> {
    fn from(inner: T) -> Self {
        FuturesSocket::new(inner)
    }
}

impl<T: AsyncRead + Unpin> ReadStream for FuturesSocket<T> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if strait_vocab::buffer_empty(&*bufs) {
            return Poll::Ready(Ok(0));
        }
        let mut slices = IoSliceMutArray::from_buffers(bufs);
        Pin::new(&mut self.get_mut().inner).poll_read_vectored(cx, &mut slices)
    }

    /// The socket's `poll_read` into `buf`.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

#[cfg(unix)]
impl<T: AsyncWrite + std::os::fd::AsFd + Unpin> WriteStream for FuturesSocket<T> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_shut {
            return Poll::Ready(Err(write_after_shutdown()));
        }
        if strait_vocab::buffer_empty(bufs) {
            return Poll::Ready(Ok(0));
        }
        let slices = IoSliceArray::from_buffers(bufs);
        Pin::new(&mut this.inner).poll_write_vectored(cx, &slices)
    }

    /// The socket's `poll_write` of `buf`.
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.write_shut {
            return Poll::Ready(Err(write_after_shutdown()));
        }
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // Refuse writes from the first attempt on: a shutdown in progress must not be
        // overtaken by new bytes.
        this.write_shut = true;
        if this.fin_sent {
            return Poll::Ready(Ok(()));
        }
        // Nor may it overtake bytes the socket layer still holds.
        ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
        socket2::SockRef::from(&this.inner).shutdown(std::net::Shutdown::Write)?;
        this.fin_sent = true;
        Poll::Ready(Ok(()))
    }
}
