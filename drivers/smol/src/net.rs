//! async-io sockets (the ones under `smol::net`) that are strait streams: connect and
//! bind helpers for the one file of a program that names its runtime.
//!
//! They talk to the socket directly through async-io's readiness: reads and writes are
//! vectored (`smol::net::TcpStream`'s `AsyncRead` reads one buffer at a time), and
//! `shutdown` is `shutdown(Write)`.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use strait_streams::driver::stoppable;

use async_io::Async;
use strait_streams::{ConstBuffer, MutableBuffer, ReadStream, WriteStream};
use strait_vocab::{IoSliceArray, IoSliceMutArray};

use crate::io::write_after_shutdown;

/// Runs `op` until it does not would-block, waiting between tries for the readiness
/// future `make` gives (kept in `slot` across polls, cleared once `op` completes).
fn poll_until_done<W: Future<Output = io::Result<()>> + Unpin>(
    slot: &mut Option<W>,
    make: impl Fn() -> W,
    cx: &mut Context<'_>,
    mut op: impl FnMut() -> io::Result<usize>,
) -> Poll<io::Result<usize>> {
    loop {
        match op() {
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
            result => {
                *slot = None;
                return Poll::Ready(result);
            }
        }
        let wait = slot.get_or_insert_with(&make);
        ready!(Pin::new(wait).poll(cx))?;
        *slot = None;
    }
}

/// Defines a strait stream over an async-io socket: vectored reads and writes tried
/// first, then a wait for readiness; a real `shutdown(Write)`.
///
/// The waits are async-io's `Readable`/`Writable` futures, kept across polls as
/// `smol::net` does, not `Async::poll_readable`: that one reports an event already
/// consumed by the last successful read as new, which costs a second failing `read`
/// per wait.
macro_rules! socket_stream {
    ($(#[$doc:meta])* $name:ident, $std:ty, $smol:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            inner: Arc<Async<$std>>,
            /// The pending wait for readability, if a read found nothing.
            readable: Option<async_io::ReadableOwned<$std>>,
            /// The pending wait for writability, if a write found no room.
            writable: Option<async_io::WritableOwned<$std>>,
            write_shut: bool,
        }

        impl $name {
            /// Adopts a connected async-io socket (a `smol::Async`).
            pub fn from_async(inner: Async<$std>) -> Self {
                $name::from_arc(Arc::new(inner))
            }
            /// Adopts a connected socket shared with other async-io users.
            pub fn from_arc(inner: Arc<Async<$std>>) -> Self {
                $name { inner, readable: None, writable: None, write_shut: false }
            }
            /// Registers a connected `std` socket with async-io's reactor.
            ///
            /// # Errors
            /// The OS error of making it non-blocking or registering it.
            pub fn from_std(socket: $std) -> io::Result<Self> {
                Async::new(socket).map($name::from_async)
            }
            /// The async-io socket (for options and addresses).
            pub fn get_ref(&self) -> &Async<$std> {
                &self.inner
            }
            /// The shared async-io socket, as `smol::net` holds it.
            pub fn into_arc(self) -> Arc<Async<$std>> {
                self.inner
            }
        }

        impl From<$smol> for $name {
            fn from(socket: $smol) -> Self {
                $name::from_arc(Arc::from(socket))
            }
        }

        impl $name {
            /// Runs `op` on the socket until it does not would-block, waiting for
            /// readability between tries.
            fn poll_read_with(
                &mut self,
                cx: &mut Context<'_>,
                mut op: impl FnMut(&$std) -> io::Result<usize>,
            ) -> Poll<io::Result<usize>> {
                let inner = &self.inner;
                poll_until_done(&mut self.readable, || inner.clone().readable_owned(), cx, || {
                    op(inner.get_ref())
                })
            }

            /// Runs `op` on the socket until it does not would-block, waiting for
            /// writability between tries.
            fn poll_write_with(
                &mut self,
                cx: &mut Context<'_>,
                mut op: impl FnMut(&$std) -> io::Result<usize>,
            ) -> Poll<io::Result<usize>> {
                let inner = &self.inner;
                poll_until_done(&mut self.writable, || inner.clone().writable_owned(), cx, || {
                    op(inner.get_ref())
                })
            }
        }

        impl ReadStream for $name {
            fn poll_read_some(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [MutableBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                if strait_vocab::buffer_empty(&*bufs) {
                    return Poll::Ready(Ok(0));
                }
                self.get_mut().poll_read_with(cx, |mut socket| {
                    socket.read_vectored(&mut IoSliceMutArray::from_buffers(&mut *bufs))
                })
            }

            /// One `read` into `buf`.
            fn poll_read_slice(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                if buf.is_empty() {
                    return Poll::Ready(Ok(0));
                }
                self.get_mut().poll_read_with(cx, |mut socket| socket.read(&mut *buf))
            }
        }

        impl WriteStream for $name {
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
                this.poll_write_with(cx, |mut socket| socket.write_vectored(&slices))
            }

            /// One `write` of `buf`.
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
                this.poll_write_with(cx, |mut socket| socket.write(buf))
            }

            /// Ready at once: the socket holds no bytes back.
            fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                Poll::Ready(Ok(()))
            }

            /// `shutdown(Write)`: the peer reads end of stream; this end can still read.
            fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                let first = !std::mem::replace(&mut this.write_shut, true);
                // A repeated shutdown is a no-op, whatever the OS says of a second one.
                if first {
                    this.inner.get_ref().shutdown(Shutdown::Write)?;
                }
                Poll::Ready(Ok(()))
            }
        }
    };
}

socket_stream!(
    /// A TCP connection on async-io's reactor as a strait stream (and, boxed, an
    /// [`AnyStream`](strait_streams::AnyStream)).
    ///
    /// ```
    /// use strait_streams::{read_exact, write_all, AnyStream};
    ///
    /// # async_io::block_on(async {
    /// let listener = strait_smol::TcpListener::bind("127.0.0.1:0").await?;
    /// let client = strait_smol::TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// let mut client = AnyStream::new(client); // protocol code sees no runtime
    /// write_all(&mut client, "hi").await?;
    /// let mut buf = [0u8; 2];
    /// read_exact(&mut server, &mut buf[..]).await?;
    /// assert_eq!(&buf, b"hi");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    TcpStream,
    std::net::TcpStream,
    async_net::TcpStream
);

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn, as smol does).
    ///
    /// # Errors
    /// The last connection or resolution error.
    pub async fn connect(addr: impl async_net::AsyncToSocketAddrs) -> io::Result<TcpStream> {
        stoppable(async_net::TcpStream::connect(addr))
            .await
            .map(TcpStream::from)
    }
    /// The local address.
    ///
    /// # Errors
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().local_addr()
    }
    /// The peer's address.
    ///
    /// # Errors
    /// The OS error of `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.get_ref().peer_addr()
    }
    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    /// The OS error of `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.get_ref().set_nodelay(nodelay)
    }
}

/// A TCP listener on async-io's reactor whose connections are strait streams.
#[derive(Debug)]
pub struct TcpListener {
    inner: async_net::TcpListener,
}

impl TcpListener {
    /// Binds to `addr` (the first resolved address that binds).
    ///
    /// # Errors
    /// The last bind or resolution error.
    pub async fn bind(addr: impl async_net::AsyncToSocketAddrs) -> io::Result<TcpListener> {
        async_net::TcpListener::bind(addr)
            .await
            .map(TcpListener::from_smol)
    }
    /// Adopts a smol listener.
    pub fn from_smol(inner: async_net::TcpListener) -> Self {
        TcpListener { inner }
    }
    /// The smol listener.
    pub fn get_ref(&self) -> &async_net::TcpListener {
        &self.inner
    }
    /// Gives the smol listener back.
    pub fn into_smol(self) -> async_net::TcpListener {
        self.inner
    }
    /// Accepts a connection.
    ///
    /// # Errors
    /// The OS error of `accept`.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = stoppable(self.inner.accept()).await?;
        Ok((TcpStream::from(stream), addr))
    }
    /// The bound address.
    ///
    /// # Errors
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

#[cfg(unix)]
socket_stream!(
    /// A Unix stream socket on async-io's reactor as a strait stream.
    UnixStream,
    std::os::unix::net::UnixStream,
    async_net::unix::UnixStream
);

#[cfg(unix)]
impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// The OS error of `connect`.
    pub async fn connect(path: impl AsRef<std::path::Path>) -> io::Result<UnixStream> {
        stoppable(async_net::unix::UnixStream::connect(path))
            .await
            .map(UnixStream::from)
    }
    /// Two connected ends (`socketpair`).
    ///
    /// # Errors
    /// The OS error of `socketpair` or of registering the ends.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = Async::<std::os::unix::net::UnixStream>::pair()?;
        Ok((UnixStream::from_async(a), UnixStream::from_async(b)))
    }
}

#[cfg(unix)]
/// A Unix stream listener on async-io's reactor whose connections are strait streams.
#[derive(Debug)]
pub struct UnixListener {
    inner: async_net::unix::UnixListener,
}

#[cfg(unix)]
impl UnixListener {
    /// Binds to `path`.
    ///
    /// # Errors
    /// The OS error of `bind` or `listen`.
    pub fn bind(path: impl AsRef<std::path::Path>) -> io::Result<UnixListener> {
        async_net::unix::UnixListener::bind(path).map(|inner| UnixListener { inner })
    }
    /// Accepts a connection.
    ///
    /// # Errors
    /// The OS error of `accept`.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let (stream, _) = stoppable(self.inner.accept()).await?;
        Ok(UnixStream::from(stream))
    }
    /// The smol listener.
    pub fn get_ref(&self) -> &async_net::unix::UnixListener {
        &self.inner
    }
}
