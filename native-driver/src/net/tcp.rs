//! [`TcpListener`] and [`TcpStream`] on the context's reactor.

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd};
use std::sync::Arc;
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};

use super::socket_api::{socket_common, stream_traits};
use super::stream_io;
use super::ToSocketAddr;
use crate::context::Handle;
use crate::reactor::{Interest, Reactor, Registration};

/// Backlog used by [`TcpListener::bind`].
pub const DEFAULT_BACKLOG: i32 = 1024;

/// A listening TCP socket.
///
/// Bound with `SO_REUSEADDR`; an IPv6 unspecified address (`[::]`) accepts IPv4 too
/// (dual-stack). Accepting under descriptor exhaustion (`EMFILE`/`ENFILE`) backs off
/// (1 ms, doubling to 100 ms) instead of spinning, and recovers when descriptors free up.
#[derive(Debug)]
pub struct TcpListener {
    // Deregister before the socket closes: fields drop in order.
    reg: Registration,
    sock: std::net::TcpListener,
}

impl TcpListener {
    /// Binds and listens on `addr` with the default backlog, on the context `ctx`
    /// (`&IoContext` or a [`Handle`]).
    ///
    /// # Errors
    /// Any error of `socket`, `bind`, `listen` or the reactor registration;
    /// `InvalidInput` for an address that is not numeric; the context-gone error.
    pub fn bind(ctx: impl AsRef<Handle>, addr: impl ToSocketAddr) -> io::Result<TcpListener> {
        Self::bind_with(ctx, addr, DEFAULT_BACKLOG, false)
    }

    /// Binds with an explicit backlog and, with `reuse_port`, `SO_REUSEPORT` (one
    /// listener per context for thread-per-core servers).
    ///
    /// # Errors
    /// As [`bind`](Self::bind).
    pub fn bind_with(
        ctx: impl AsRef<Handle>,
        addr: impl ToSocketAddr,
        backlog: i32,
        reuse_port: bool,
    ) -> io::Result<TcpListener> {
        let addr = addr.to_socket_addr()?;
        let socket = Socket::new(Domain::for_address(addr), Type::STREAM.cloexec(), None)?;
        socket.set_reuse_address(true)?;
        if reuse_port {
            socket.set_reuse_port(true)?;
        }
        if addr.is_ipv6() {
            socket.set_only_v6(false)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        socket.listen(backlog)?;
        let sock: std::net::TcpListener = socket.into();
        let reg = ctx.as_ref().reactor().register(sock.as_raw_fd())?;
        Ok(TcpListener { reg, sock })
    }

    /// The bound address (with the port the OS chose for port 0).
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// Accepts a connection. Cancel-safe: dropping it loses no connection. Honours the
    /// environment's stop token.
    ///
    /// # Errors
    /// Errors of `accept4` other than descriptor exhaustion (which is waited out).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut backoff = Duration::from_millis(1);
        loop {
            let accepted = stream_io::one_shot(&self.reg.io, Interest::Read, || {
                stream_io::accept_nonblocking(self.sock.as_fd())
            })
            .await;
            match accepted {
                Ok((sock, peer)) => {
                    let peer = peer.as_socket().ok_or_else(|| {
                        io::Error::new(io::ErrorKind::InvalidData, "accepted a non-IP peer")
                    })?;
                    return Ok((TcpStream::from_std(self.reg.reactor(), sock.into())?, peer));
                }
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE | libc::ENFILE)) => {
                    // Out of descriptors: wait, then try again (the pending connection
                    // stays in the backlog).
                    strait_streams::delay(backoff).await?;
                    backoff = (backoff * 2).min(Duration::from_millis(100));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// A connected TCP stream: a [`Stream`](strait_streams::Stream) whose operations try
/// the syscall first and wait on the reactor only when it would block. Writes use
/// `MSG_NOSIGNAL`: a closed peer is an `EPIPE` error, never `SIGPIPE`.
#[derive(Debug)]
pub struct TcpStream {
    reg: Registration,
    sock: std::net::TcpStream,
}

impl TcpStream {
    fn from_std(reactor: &Arc<Reactor>, sock: std::net::TcpStream) -> io::Result<TcpStream> {
        let reg = reactor.register(sock.as_raw_fd())?;
        Ok(TcpStream { reg, sock })
    }

    /// Connects to `addr` on the context `ctx` (`&IoContext` or a [`Handle`]). Honours
    /// the environment's stop token while connecting.
    ///
    /// # Errors
    /// `ConnectionRefused`, `TimedOut` and the other errors of `connect`;
    /// `InvalidInput` for an address that is not numeric; the context-gone error.
    pub async fn connect(
        ctx: impl AsRef<Handle>,
        addr: impl ToSocketAddr,
    ) -> io::Result<TcpStream> {
        let addr = addr.to_socket_addr()?;
        let socket = Socket::new(
            Domain::for_address(addr),
            Type::STREAM.nonblocking().cloexec(),
            None,
        )?;
        match socket.connect(&addr.into()) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EINPROGRESS) => {}
            Err(e) => return Err(e),
        }
        let stream = TcpStream::from_std(ctx.as_ref().reactor(), socket.into())?;
        stream_io::finish_connect(&stream.reg.io, &SockRef::from(&stream.sock)).await?;
        Ok(stream)
    }

    /// Connects to each address in turn (resolver results), returning the first that
    /// accepts; the error of the last attempt otherwise.
    ///
    /// # Errors
    /// `InvalidInput` for an empty list; else the last connect error.
    pub async fn connect_any(
        ctx: impl AsRef<Handle>,
        addrs: &[SocketAddr],
    ) -> io::Result<TcpStream> {
        let ctx = ctx.as_ref();
        let mut last = io::Error::new(io::ErrorKind::InvalidInput, "no addresses to connect to");
        for &addr in addrs {
            match TcpStream::connect(ctx, addr).await {
                Ok(s) => return Ok(s),
                Err(e) if strait_streams::is_canceled(&e) => return Err(e),
                Err(e) => last = e,
            }
        }
        Err(last)
    }

    /// The local address.
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.sock.local_addr()
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.sock.peer_addr()
    }

    /// `TCP_NODELAY`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.sock.set_nodelay(on)
    }

    /// `SO_LINGER` (`Some(0)`: reset on close).
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        SockRef::from(&self.sock).set_linger(linger)
    }

    /// `SO_KEEPALIVE`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        SockRef::from(&self.sock).set_keepalive(on)
    }

    /// `SO_SNDBUF` / `SO_RCVBUF`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_buffer_sizes(&self, send: usize, recv: usize) -> io::Result<()> {
        let s = SockRef::from(&self.sock);
        s.set_send_buffer_size(send)?;
        s.set_recv_buffer_size(recv)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock.set_ttl(ttl)
    }

    /// Shuts down the read half (`SHUT_RD`); later reads return end of stream.
    ///
    /// # Errors
    /// As `shutdown`.
    pub fn shutdown_read(&self) -> io::Result<()> {
        self.sock.shutdown(std::net::Shutdown::Read)
    }
}

socket_common!(TcpListener);
socket_common!(TcpStream);
stream_traits!(TcpStream);
