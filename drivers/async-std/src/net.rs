//! async-std sockets that are strait streams: each is a [`FuturesSocket`] over the
//! async-std socket, so a strait `shutdown` is a real `shutdown(Write)` (async-std's
//! own `poll_close` only flushes).
//!
//! TCP reads and writes are vectored (async-std forwards them to async-io); async-std's
//! `UnixStream` reads and writes one buffer at a time.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};
use strait_streams::driver::stoppable;

use strait_smol::FuturesSocket;
use strait_streams::{ConstBuffer, MutableBuffer, ReadStream, WriteStream};

/// Defines a strait stream over an async-std socket through [`FuturesSocket`].
macro_rules! socket_stream {
    ($(#[$doc:meta])* $name:ident, $inner:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            inner: FuturesSocket<$inner>,
        }

        impl $name {
            /// Adopts a connected async-std socket.
            pub fn from_async_std(socket: $inner) -> Self {
                $name { inner: FuturesSocket::new(socket) }
            }
            /// The async-std socket (for options and addresses).
            pub fn get_ref(&self) -> &$inner {
                self.inner.get_ref()
            }
            /// Gives the async-std socket back.
            pub fn into_async_std(self) -> $inner {
                self.inner.into_inner()
            }
        }

        impl From<$inner> for $name {
            fn from(socket: $inner) -> Self {
                $name::from_async_std(socket)
            }
        }

        impl ReadStream for $name {
            fn poll_read_some(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [MutableBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.get_mut().inner).poll_read_some(cx, bufs)
            }

            /// The socket's `poll_read` (see [`FuturesSocket`]).
            fn poll_read_slice(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.get_mut().inner).poll_read_slice(cx, buf)
            }
        }

        impl WriteStream for $name {
            fn poll_write_some(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &[ConstBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.get_mut().inner).poll_write_some(cx, bufs)
            }

            /// The socket's `poll_write` (see [`FuturesSocket`]).
            fn poll_write_slice(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                Pin::new(&mut self.get_mut().inner).poll_write_slice(cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.get_mut().inner).poll_flush(cx)
            }

            /// `shutdown(Write)`: the peer reads end of stream; this end can still read.
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
            }
        }
    };
}

socket_stream!(
    /// An async-std TCP connection as a strait stream (and, boxed, an
    /// [`AnyStream`](strait_streams::AnyStream)).
    TcpStream,
    async_std::net::TcpStream
);

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn, as async-std does).
    ///
    /// # Errors
    /// The last connection or resolution error.
    pub async fn connect(addr: impl async_std::net::ToSocketAddrs) -> io::Result<TcpStream> {
        stoppable(async_std::net::TcpStream::connect(addr))
            .await
            .map(TcpStream::from)
    }
    /// The local address.
    ///
    /// # Errors
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().local_addr()
    }
    /// The peer's address.
    ///
    /// # Errors
    /// The OS error of `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.get_ref().peer_addr()
    }
    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    /// The OS error of `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.get_ref().set_nodelay(nodelay)
    }
}

/// An async-std TCP listener whose connections are strait streams.
#[derive(Debug)]
pub struct TcpListener {
    inner: async_std::net::TcpListener,
}

impl TcpListener {
    /// Binds to `addr` (the first resolved address that binds).
    ///
    /// # Errors
    /// The last bind or resolution error.
    pub async fn bind(addr: impl async_std::net::ToSocketAddrs) -> io::Result<TcpListener> {
        async_std::net::TcpListener::bind(addr)
            .await
            .map(|inner| TcpListener { inner })
    }
    /// The async-std listener.
    pub fn get_ref(&self) -> &async_std::net::TcpListener {
        &self.inner
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
    /// An async-std Unix stream socket as a strait stream.
    UnixStream,
    async_std::os::unix::net::UnixStream
);

#[cfg(unix)]
impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// The OS error of `connect`.
    pub async fn connect(path: impl AsRef<std::path::Path>) -> io::Result<UnixStream> {
        stoppable(async_std::os::unix::net::UnixStream::connect(path.as_ref()))
            .await
            .map(UnixStream::from)
    }
    /// Two connected ends (`socketpair`).
    ///
    /// # Errors
    /// The OS error of `socketpair`.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = async_std::os::unix::net::UnixStream::pair()?;
        Ok((UnixStream::from(a), UnixStream::from(b)))
    }
}

#[cfg(unix)]
/// An async-std Unix stream listener whose connections are strait streams.
#[derive(Debug)]
pub struct UnixListener {
    inner: async_std::os::unix::net::UnixListener,
}

#[cfg(unix)]
impl UnixListener {
    /// Binds to `path`.
    ///
    /// # Errors
    /// The OS error of `bind` or `listen`.
    pub async fn bind(path: impl AsRef<std::path::Path>) -> io::Result<UnixListener> {
        async_std::os::unix::net::UnixListener::bind(path.as_ref())
            .await
            .map(|inner| UnixListener { inner })
    }
    /// Accepts a connection.
    ///
    /// # Errors
    /// The OS error of `accept`.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let (stream, _) = stoppable(self.inner.accept()).await?;
        Ok(UnixStream::from(stream))
    }
    /// The async-std listener.
    pub fn get_ref(&self) -> &async_std::os::unix::net::UnixListener {
        &self.inner
    }
}
