//! tokio sockets that are strait streams: connect and bind helpers for the one file of
//! a program that names its runtime.
//!
//! Like every tokio socket, these must be made inside a tokio runtime (in a task, in
//! `block_on`, or after `Runtime::enter`).

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use strait_streams::driver::stoppable;

use strait_streams::{ConstBuffer, MutableBuffer, ReadStream, WriteStream};
use strait_vocab::IoSliceMutArray;
use tokio::io::AsyncWrite;

use crate::io::{poll_read_into, poll_write_bufs, poll_write_slice, write_after_shutdown};

/// Defines a strait stream over a tokio socket type: reads into one buffer through
/// tokio's `poll_read`, into several through the socket's readiness and
/// `try_read_vectored` (tokio's `AsyncRead` has no vectored read), vectored writes, a
/// real `shutdown(Write)`.
macro_rules! socket_stream {
    ($(#[$doc:meta])* $name:ident, $tokio:ty) => {
        $(#[$doc])*
        #[derive(Debug)]
        pub struct $name {
            inner: $tokio,
            write_shut: bool,
        }

        impl $name {
            /// Adopts a connected tokio socket.
            pub fn from_tokio(inner: $tokio) -> Self {
                $name { inner, write_shut: false }
            }
            /// The tokio socket (for options and addresses).
            pub fn get_ref(&self) -> &$tokio {
                &self.inner
            }
            /// The tokio socket, mutably.
            pub fn get_mut(&mut self) -> &mut $tokio {
                &mut self.inner
            }
            /// Gives the tokio socket back.
            pub fn into_tokio(self) -> $tokio {
                self.inner
            }
        }

        impl From<$tokio> for $name {
            fn from(inner: $tokio) -> Self {
                $name::from_tokio(inner)
            }
        }

        impl ReadStream for $name {
            fn poll_read_some(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                bufs: &mut [MutableBuffer<'_>],
            ) -> Poll<io::Result<usize>> {
                let socket = &mut self.get_mut().inner;
                match bufs.iter().filter(|b| !b.is_empty()).count() {
                    0 => return Poll::Ready(Ok(0)),
                    // One buffer (the common case) takes tokio's own read: after a short
                    // read it knows the socket is drained and waits for the next edge
                    // without a `read` that would fail with `EAGAIN`.
                    1 => {
                        let buf = bufs.iter_mut().find(|b| !b.is_empty()).expect("counted");
                        return poll_read_into(Pin::new(socket), cx, buf.as_mut_slice());
                    }
                    _ => {}
                }
                let socket = &*socket;
                loop {
                    ready!(socket.poll_read_ready(cx))?;
                    let mut slices = IoSliceMutArray::from_buffers(bufs);
                    #[cfg(unix)]
                    let (result, short) = {
                        // As tokio's `poll_read`: a short read drained the socket, so
                        // report "would block" to `try_io`, which clears the readiness
                        // it observed before the read (a newer edge survives), and keep
                        // the count. The next read then waits instead of failing.
                        let total: usize = slices.iter().map(|s| s.len()).sum();
                        let mut short = None;
                        let result = socket.try_io(tokio::io::Interest::READABLE, || {
                            let n = rustix::io::readv(socket, &mut slices)?;
                            if n > 0 && n < total {
                                short = Some(n);
                                return Err(io::ErrorKind::WouldBlock.into());
                            }
                            Ok(n)
                        });
                        (result, short)
                    };
                    #[cfg(not(unix))]
                    let (result, short) = (socket.try_read_vectored(&mut slices), None);
                    match (result, short) {
                        (_, Some(n)) => return Poll::Ready(Ok(n)),
                        // Readiness was stale; tokio cleared it, so the next
                        // `poll_read_ready` registers the waker.
                        (Err(e), None) if e.kind() == io::ErrorKind::WouldBlock => continue,
                        (result, None) => return Poll::Ready(result),
                    }
                }
            }

            /// tokio's own read into `buf` (see the one-buffer case above).
            fn poll_read_slice(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &mut [u8],
            ) -> Poll<io::Result<usize>> {
                if buf.is_empty() {
                    return Poll::Ready(Ok(0));
                }
                poll_read_into(Pin::new(&mut self.get_mut().inner), cx, buf)
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
                poll_write_bufs(Pin::new(&mut this.inner), cx, bufs)
            }

            /// tokio's `poll_write` of `buf`: one `send`, no vectored write.
            fn poll_write_slice(
                self: Pin<&mut Self>,
                cx: &mut Context<'_>,
                buf: &[u8],
            ) -> Poll<io::Result<usize>> {
                let this = self.get_mut();
                if this.write_shut {
                    return Poll::Ready(Err(write_after_shutdown()));
                }
                poll_write_slice(Pin::new(&mut this.inner), cx, buf)
            }

            fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                Pin::new(&mut self.get_mut().inner).poll_flush(cx)
            }

            /// `shutdown(Write)` (tokio's `poll_shutdown` on this socket): the peer
            /// reads end of stream; this end can still read.
            fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
                let this = self.get_mut();
                this.write_shut = true;
                Pin::new(&mut this.inner).poll_shutdown(cx)
            }
        }
    };
}

socket_stream!(
    /// A TCP connection on tokio's reactor as a strait stream (and, boxed, an
    /// [`AnyStream`](strait_streams::AnyStream)).
    ///
    /// ```
    /// use strait_streams::{read_exact, write_all, AnyStream};
    ///
    /// # tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap().block_on(async {
    /// let listener = strait_tokio::TcpListener::bind("127.0.0.1:0").await?;
    /// let client = strait_tokio::TcpStream::connect(listener.local_addr()?).await?;
    /// let (mut server, _) = listener.accept().await?;
    /// let mut client = AnyStream::new(client); // protocol code sees no runtime
    /// write_all(&mut client, "hi").await?;
    /// let mut buf = [0u8; 2];
    /// read_exact(&mut server, &mut buf[..]).await?;
    /// assert_eq!(&buf, b"hi");
    /// # std::io::Result::Ok(()) }).unwrap();
    /// ```
    TcpStream,
    tokio::net::TcpStream
);

impl TcpStream {
    /// Connects to `addr` (each resolved address in turn, as tokio does).
    ///
    /// # Errors
    /// The last connection or resolution error.
    pub async fn connect(addr: impl tokio::net::ToSocketAddrs) -> io::Result<TcpStream> {
        stoppable(tokio::net::TcpStream::connect(addr))
            .await
            .map(TcpStream::from_tokio)
    }
    /// The local address.
    ///
    /// # Errors
    /// The OS error of `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
    /// The peer's address.
    ///
    /// # Errors
    /// The OS error of `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.inner.peer_addr()
    }
    /// Sets `TCP_NODELAY`.
    ///
    /// # Errors
    /// The OS error of `setsockopt`.
    pub fn set_nodelay(&self, nodelay: bool) -> io::Result<()> {
        self.inner.set_nodelay(nodelay)
    }
}

/// A TCP listener on tokio's reactor whose connections are strait streams.
#[derive(Debug)]
pub struct TcpListener {
    inner: tokio::net::TcpListener,
}

impl TcpListener {
    /// Binds to `addr` (the first resolved address that binds).
    ///
    /// # Errors
    /// The last bind or resolution error.
    pub async fn bind(addr: impl tokio::net::ToSocketAddrs) -> io::Result<TcpListener> {
        tokio::net::TcpListener::bind(addr)
            .await
            .map(TcpListener::from_tokio)
    }
    /// Adopts a tokio listener.
    pub fn from_tokio(inner: tokio::net::TcpListener) -> Self {
        TcpListener { inner }
    }
    /// The tokio listener.
    pub fn get_ref(&self) -> &tokio::net::TcpListener {
        &self.inner
    }
    /// Gives the tokio listener back.
    pub fn into_tokio(self) -> tokio::net::TcpListener {
        self.inner
    }
    /// Accepts a connection.
    ///
    /// # Errors
    /// The OS error of `accept`.
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let (stream, addr) = stoppable(self.inner.accept()).await?;
        Ok((TcpStream::from_tokio(stream), addr))
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
    /// A Unix stream socket on tokio's reactor as a strait stream.
    UnixStream,
    tokio::net::UnixStream
);

#[cfg(unix)]
impl UnixStream {
    /// Connects to the socket at `path`.
    ///
    /// # Errors
    /// The OS error of `connect`.
    pub async fn connect(path: impl AsRef<std::path::Path>) -> io::Result<UnixStream> {
        stoppable(tokio::net::UnixStream::connect(path))
            .await
            .map(UnixStream::from_tokio)
    }
    /// Two connected ends (`socketpair`).
    ///
    /// # Errors
    /// The OS error of `socketpair`.
    pub fn pair() -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = tokio::net::UnixStream::pair()?;
        Ok((UnixStream::from_tokio(a), UnixStream::from_tokio(b)))
    }
}

#[cfg(unix)]
/// A Unix stream listener on tokio's reactor whose connections are strait streams.
#[derive(Debug)]
pub struct UnixListener {
    inner: tokio::net::UnixListener,
}

#[cfg(unix)]
impl UnixListener {
    /// Binds to `path`.
    ///
    /// # Errors
    /// The OS error of `bind` or `listen`.
    pub fn bind(path: impl AsRef<std::path::Path>) -> io::Result<UnixListener> {
        tokio::net::UnixListener::bind(path).map(|inner| UnixListener { inner })
    }
    /// Accepts a connection.
    ///
    /// # Errors
    /// The OS error of `accept`.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let (stream, _) = stoppable(self.inner.accept()).await?;
        Ok(UnixStream::from_tokio(stream))
    }
    /// The tokio listener.
    pub fn get_ref(&self) -> &tokio::net::UnixListener {
        &self.inner
    }
}
