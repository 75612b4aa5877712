//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] (a stream, with socket pairs)
//! and [`UnixDatagram`].

use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net as std_unix;
use std::path::Path;

use socket2::{Domain, SockAddr, Socket, Type};

use super::socket_api::{socket_common, stream_traits};
use super::stream_io;
use crate::context::Handle;
use crate::reactor::{Interest, Registration};

/// A listening Unix-domain stream socket.
#[derive(Debug)]
pub struct UnixListener {
    reg: Registration,
    sock: std_unix::UnixListener,
}

impl UnixListener {
    /// Binds and listens on `path` (which must not exist).
    ///
    /// # Errors
    /// As `bind`/`listen`, e.g. `AddrInUse` when `path` exists.
    pub fn bind(ctx: impl AsRef<Handle>, path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let sock = std_unix::UnixListener::bind(path)?;
        sock.set_nonblocking(true)?;
        let reg = ctx.as_ref().reactor().register(sock.as_raw_fd())?;
        Ok(UnixListener { reg, sock })
    }

    /// Accepts a connection. Cancel-safe; honours the stop token.
    ///
    /// # Errors
    /// As `accept4`.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        let (sock, _) = stream_io::one_shot(&self.reg.io, Interest::Read, || {
            stream_io::accept_nonblocking(self.sock.as_fd())
        })
        .await?;
        UnixStream::from_std(self.reg.reactor(), sock.into())
    }
}

/// A connected Unix-domain stream socket: a [`Stream`](strait_streams::Stream).
#[derive(Debug)]
pub struct UnixStream {
    reg: Registration,
    sock: std_unix::UnixStream,
}

impl UnixStream {
    fn from_std(
        reactor: &std::sync::Arc<crate::reactor::Reactor>,
        sock: std_unix::UnixStream,
    ) -> io::Result<UnixStream> {
        let reg = reactor.register(sock.as_raw_fd())?;
        Ok(UnixStream { reg, sock })
    }

    /// Connects to the listener at `path`.
    ///
    /// # Errors
    /// `NotFound`, `ConnectionRefused` and the other errors of `connect`.
    pub async fn connect(
        ctx: impl AsRef<Handle>,
        path: impl AsRef<Path>,
    ) -> io::Result<UnixStream> {
        let socket = Socket::new(Domain::UNIX, Type::STREAM.nonblocking().cloexec(), None)?;
        match socket.connect(&SockAddr::unix(path)?) {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::EINPROGRESS | libc::EAGAIN)) => {}
            Err(e) => return Err(e),
        }
        let stream = UnixStream::from_std(ctx.as_ref().reactor(), socket.into())?;
        stream_io::finish_connect(&stream.reg.io, &socket2::SockRef::from(&stream.sock)).await?;
        Ok(stream)
    }

    /// A connected pair (`socketpair(2)`).
    ///
    /// # Errors
    /// As `socketpair` or the reactor registration.
    pub fn pair(ctx: impl AsRef<Handle>) -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std_unix::UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        Ok((
            UnixStream::from_std(ctx.as_ref().reactor(), a)?,
            UnixStream::from_std(ctx.as_ref().reactor(), b)?,
        ))
    }

    /// Shuts down the read half; later reads return end of stream.
    ///
    /// # Errors
    /// As `shutdown`.
    pub fn shutdown_read(&self) -> io::Result<()> {
        self.sock.shutdown(std::net::Shutdown::Read)
    }
}

socket_common!(UnixListener);
socket_common!(UnixStream);
stream_traits!(UnixStream);

/// A Unix-domain datagram socket.
#[derive(Debug)]
pub struct UnixDatagram {
    reg: Registration,
    sock: std_unix::UnixDatagram,
}

impl UnixDatagram {
    /// Binds to `path`.
    ///
    /// # Errors
    /// As `bind`.
    pub fn bind(ctx: impl AsRef<Handle>, path: impl AsRef<Path>) -> io::Result<UnixDatagram> {
        Self::wrap(ctx.as_ref(), std_unix::UnixDatagram::bind(path)?)
    }

    /// A connected pair.
    ///
    /// # Errors
    /// As `socketpair`.
    pub fn pair(ctx: impl AsRef<Handle>) -> io::Result<(UnixDatagram, UnixDatagram)> {
        let (a, b) = std_unix::UnixDatagram::pair()?;
        let ctx = ctx.as_ref();
        Ok((Self::wrap(ctx, a)?, Self::wrap(ctx, b)?))
    }

    fn wrap(ctx: &Handle, sock: std_unix::UnixDatagram) -> io::Result<UnixDatagram> {
        sock.set_nonblocking(true)?;
        let reg = ctx.reactor().register(sock.as_raw_fd())?;
        Ok(UnixDatagram { reg, sock })
    }

    /// Sets the default peer.
    ///
    /// # Errors
    /// As `connect`.
    pub fn connect(&self, path: impl AsRef<Path>) -> io::Result<()> {
        self.sock.connect(path)
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    /// As `send`.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        stream_io::one_shot(&self.reg.io, Interest::Write, || self.sock.send(buf)).await
    }

    /// Receives one datagram.
    ///
    /// # Errors
    /// As `recv`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        stream_io::one_shot(&self.reg.io, Interest::Read, || self.sock.recv(buf)).await
    }

    /// Sends one datagram to the socket bound at `path`.
    ///
    /// # Errors
    /// As `sendto`.
    pub async fn send_to(&self, buf: &[u8], path: impl AsRef<Path>) -> io::Result<usize> {
        let path = path.as_ref();
        stream_io::one_shot(&self.reg.io, Interest::Write, || {
            self.sock.send_to(buf, path)
        })
        .await
    }
}

socket_common!(UnixDatagram);
