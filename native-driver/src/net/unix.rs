//! Unix-domain sockets: [`UnixListener`], [`UnixStream`] (a stream, with socket pairs)
//! and [`UnixDatagram`].
//!
//! Stream sockets run as TCP does: readiness on epoll, the completion layer on
//! io_uring (`tcp_ring`'s `RingStream`/`RingListener`: multishot receive into the
//! shared buffer ring, write-behind sends, multishot accept). Datagram sockets run on
//! readiness on both backends.

use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::net as std_unix;
use std::path::Path;
use std::sync::Arc;

use socket2::{Domain, SockAddr, SockRef, Socket, Type};

use super::socket_api::{dual_socket_common, dual_stream_traits, socket_common};
use super::stream_io;
use super::tcp_ring::{RingListener, RingStream};
use crate::context::Handle;
use crate::reactor::{Interest, Reactor, Registration};

/// A listening Unix-domain stream socket.
///
/// On io_uring it is a multishot accept (as [`TcpListener`](crate::TcpListener)):
/// connections accepted and never taken are closed with it.
#[derive(Debug)]
pub struct UnixListener {
    io: ListenerIo,
}

#[derive(Debug)]
enum ListenerIo {
    Ready {
        // Deregister before the socket closes: fields drop in order.
        reg: Registration,
        sock: std_unix::UnixListener,
    },
    Ring(RingListener),
}

impl UnixListener {
    /// Binds and listens on `path` (which must not exist).
    ///
    /// # Errors
    /// As `bind`/`listen`, e.g. `AddrInUse` when `path` exists; the context-gone error.
    pub fn bind(ctx: impl AsRef<Handle>, path: impl AsRef<Path>) -> io::Result<UnixListener> {
        let sock = std_unix::UnixListener::bind(path)?;
        sock.set_nonblocking(true)?;
        let handle = ctx.as_ref();
        let reactor = handle.reactor();
        let io = match reactor.selector.socket_completions() {
            Some(completions) => {
                if handle.is_closed() {
                    return Err(crate::reactor::context_gone());
                }
                ListenerIo::Ring(RingListener::new(reactor, completions, sock.into())?)
            }
            None => {
                let reg = reactor.register(sock.as_raw_fd())?;
                ListenerIo::Ready { reg, sock }
            }
        };
        Ok(UnixListener { io })
    }

    /// Accepts a connection. Cancel-safe; honours the stop token.
    ///
    /// # Errors
    /// As `accept4`.
    pub async fn accept(&self) -> io::Result<UnixStream> {
        match &self.io {
            ListenerIo::Ready { reg, sock } => {
                let (sock, _) = stream_io::one_shot(&reg.io, Interest::Read, || {
                    stream_io::accept_nonblocking(sock.as_fd())
                })
                .await?;
                UnixStream::from_fd(reg.reactor(), sock.into())
            }
            ListenerIo::Ring(r) => Ok(UnixStream {
                io: StreamIo::Ring(r.accept_stream().await?),
            }),
        }
    }
}

/// A connected Unix-domain stream socket: a [`Stream`](strait_streams::Stream).
///
/// As [`TcpStream`](crate::TcpStream): on epoll reads and writes go straight to the
/// kernel; on io_uring reads copy from a multishot receive's queue (a dropped read
/// loses nothing) and writes are write-behind (call `flush`, or a composed write that
/// flushes, before waiting for an answer; dropping the stream still delivers what was
/// written).
#[derive(Debug)]
pub struct UnixStream {
    io: StreamIo,
}

#[derive(Debug)]
enum StreamIo {
    Ready {
        reg: Registration,
        sock: std_unix::UnixStream,
    },
    Ring(RingStream),
}

impl UnixStream {
    /// A connected socket `fd` on `reactor`'s backend.
    fn from_fd(reactor: &Arc<Reactor>, fd: OwnedFd) -> io::Result<UnixStream> {
        let io = match reactor.selector.socket_completions() {
            Some(completions) => StreamIo::Ring(RingStream::new(reactor, completions, fd)?),
            None => {
                let sock = std_unix::UnixStream::from(fd);
                let reg = reactor.register(sock.as_raw_fd())?;
                StreamIo::Ready { reg, sock }
            }
        };
        Ok(UnixStream { io })
    }

    fn sock(&self) -> SockRef<'_> {
        match &self.io {
            StreamIo::Ready { sock, .. } => SockRef::from(sock),
            StreamIo::Ring(r) => SockRef::from(r.fd()),
        }
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
        let reactor = ctx.as_ref().reactor();
        if reactor.selector.socket_completions().is_none() {
            let stream = UnixStream::from_fd(reactor, socket.into())?;
            let StreamIo::Ready { reg, sock } = &stream.io else {
                unreachable!("an epoll stream")
            };
            stream_io::finish_connect(&reg.io, &SockRef::from(sock)).await?;
            return Ok(stream);
        }
        {
            // The connect's readiness only: deregistered once it is known, so the
            // connected stream's reads and writes make no readiness events.
            let reg = reactor.register(socket.as_raw_fd())?;
            stream_io::finish_connect(&reg.io, &SockRef::from(&socket)).await?;
        }
        UnixStream::from_fd(reactor, socket.into())
    }

    /// A connected pair (`socketpair(2)`).
    ///
    /// # Errors
    /// As `socketpair` or the reactor registration.
    pub fn pair(ctx: impl AsRef<Handle>) -> io::Result<(UnixStream, UnixStream)> {
        let (a, b) = std_unix::UnixStream::pair()?;
        a.set_nonblocking(true)?;
        b.set_nonblocking(true)?;
        let reactor = ctx.as_ref().reactor();
        Ok((
            UnixStream::from_fd(reactor, a.into())?,
            UnixStream::from_fd(reactor, b.into())?,
        ))
    }

    /// Bytes written that the kernel has not taken yet (io_uring's write-behind
    /// buffer; always 0 on epoll, whose writes go straight to the kernel).
    pub fn buffered(&self) -> usize {
        match &self.io {
            StreamIo::Ready { .. } => 0,
            StreamIo::Ring(r) => r.buffered(),
        }
    }

    /// Shuts down the read half; later reads return end of stream.
    ///
    /// # Errors
    /// As `shutdown`.
    pub fn shutdown_read(&self) -> io::Result<()> {
        self.sock().shutdown(std::net::Shutdown::Read)
    }
}

dual_socket_common!(UnixListener, ListenerIo);
dual_socket_common!(UnixStream, StreamIo);
dual_stream_traits!(UnixStream, StreamIo);

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
