//! Interop with futures-io, both ways, without allocation per operation.
//!
//! - [`FuturesIo`] presents a strait stream as `futures_io::AsyncRead` / `AsyncWrite`
//!   (and a [`BufferSource`] as `AsyncBufRead`), for code written against futures-io
//!   (and, through tokio-util's compat layer, tokio).
//! - [`FromFuturesIo`] presents a futures-io object as a strait [`ReadStream`] /
//!   [`WriteStream`] (and an `AsyncBufRead` as a [`BufferSource`]).

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_io::{AsyncBufRead, AsyncRead, AsyncWrite};
use strait_vocab::{ConstBuffer, ConstWindow, IoSliceArray, IoSliceMutArray, MutableBuffer};

use super::traits::{BufferSource, ReadStream, WriteStream};

/// A strait stream as a futures-io object: `poll_flush` is
/// [`WriteStream::poll_flush`] and `poll_close` is [`WriteStream::poll_shutdown`].
#[derive(Debug, Default)]
pub struct FuturesIo<T> {
    inner: T,
}

impl<T> FuturesIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        FuturesIo { inner }
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

impl<T: ReadStream> AsyncRead for FuturesIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.pinned().poll_read_slice(cx, buf)
    }

    fn poll_read_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [io::IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut window = strait_vocab::MutableWindow::new(bufs);
        self.pinned().poll_read_some(cx, window.as_mut_slice())
    }
}

impl<T: WriteStream> AsyncWrite for FuturesIo<T> {
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

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_shutdown(cx)
    }
}

impl<T: ReadStream + BufferSource> AsyncBufRead for FuturesIo<T> {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        self.pinned()
            .poll_pull(cx)
            .map_ok(|window| window.as_slice().first().map_or(&[][..], |b| b.as_slice()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        BufferSource::consume(self.pinned(), amt);
    }
}

/// A futures-io object as a strait stream: `poll_flush` is `AsyncWrite::poll_flush`,
/// `poll_shutdown` is `poll_close` (which flushes first, as futures-io requires).
#[derive(Debug, Default)]
pub struct FromFuturesIo<T> {
    inner: T,
}

impl<T> FromFuturesIo<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        FromFuturesIo { inner }
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

impl<T: AsyncRead> ReadStream for FromFuturesIo<T> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if strait_vocab::buffer_empty(&*bufs) {
            return Poll::Ready(Ok(0));
        }
        let mut slices = IoSliceMutArray::from_buffers(bufs);
        self.pinned().poll_read_vectored(cx, &mut slices)
    }

    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.pinned().poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> WriteStream for FromFuturesIo<T> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if strait_vocab::buffer_empty(bufs) {
            return Poll::Ready(Ok(0));
        }
        let slices = IoSliceArray::from_buffers(bufs);
        self.pinned().poll_write_vectored(cx, &slices)
    }

    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.pinned().poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.pinned().poll_close(cx)
    }
}

impl<T: AsyncBufRead> BufferSource for FromFuturesIo<T> {
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>> {
        self.pinned().poll_fill_buf(cx).map_ok(ConstWindow::new)
    }

    fn consume(self: Pin<&mut Self>, n: usize) {
        AsyncBufRead::consume(self.pinned(), n);
    }
}
