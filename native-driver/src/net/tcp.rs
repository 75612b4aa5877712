//! [`TcpListener`] and [`TcpStream`]: readiness on epoll, completion I/O on io_uring
//! (`tcp_ring`).

use std::io;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::{Arc, OnceLock};
use std::task::{ready, Context, Poll};
use std::time::Duration;

use socket2::{Domain, SockRef, Socket, Type};

use super::socket_api::dual_socket_common;
use super::stream_io;
use super::tcp_ring::{RingListener, RingStream};
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
///
/// On the io_uring backend it is a multishot accept: the kernel accepts into a queue
/// the listener owns (connections accepted and never taken are closed with it), and
/// any number of tasks may wait in `accept` at once, as on epoll.
#[derive(Debug)]
pub struct TcpListener {
    io: ListenerIo,
}

#[derive(Debug)]
enum ListenerIo {
    Ready {
        // Deregister before the socket closes: fields drop in order.
        reg: Registration,
        sock: std::net::TcpListener,
    },
    Ring(RingListener),
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
        let reactor = ctx.as_ref().reactor();
        let io = match reactor.selector.socket_completions() {
            Some(completions) => {
                if ctx.as_ref().is_closed() {
                    return Err(crate::reactor::context_gone());
                }
                ListenerIo::Ring(RingListener::new(reactor, completions, socket.into())?)
            }
            None => {
                let sock: std::net::TcpListener = socket.into();
                let reg = reactor.register(sock.as_raw_fd())?;
                ListenerIo::Ready { reg, sock }
            }
        };
        Ok(TcpListener { io })
    }

    fn fd(&self) -> BorrowedFd<'_> {
        match &self.io {
            ListenerIo::Ready { sock, .. } => sock.as_fd(),
            ListenerIo::Ring(r) => r.fd().as_fd(),
        }
    }

    /// The bound address (with the port the OS chose for port 0).
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        sock_addr(SockRef::from(&self.fd()).local_addr())
    }

    /// Accepts a connection. Cancel-safe: dropping it loses no connection. Honours the
    /// environment's stop token.
    ///
    /// # Errors
    /// Errors of `accept4` other than descriptor exhaustion (which is waited out).
    pub async fn accept(&self) -> io::Result<(TcpStream, SocketAddr)> {
        let mut backoff = Duration::from_millis(1);
        loop {
            let accepted = match &self.io {
                ListenerIo::Ready { reg, sock } => {
                    stream_io::one_shot(&reg.io, Interest::Read, || {
                        stream_io::accept_nonblocking(sock.as_fd())
                    })
                    .await
                    .and_then(|(sock, peer)| {
                        let peer = peer.as_socket().ok_or_else(|| {
                            io::Error::new(io::ErrorKind::InvalidData, "accepted a non-IP peer")
                        })?;
                        Ok((TcpStream::from_std(reg.reactor(), sock.into())?, peer))
                    })
                }
                ListenerIo::Ring(r) => r.accept_once().await.map(|(stream, peer)| {
                    (
                        TcpStream {
                            io: StreamIo::Ring(stream),
                            staging: OnceLock::new(),
                            ending: false,
                        },
                        peer,
                    )
                }),
            };
            match accepted {
                Ok(accepted) => return Ok(accepted),
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

/// A connected TCP stream: a [`Stream`](strait_streams::Stream).
///
/// On epoll its operations try the syscall first and wait on the reactor only when it
/// would block; writes use `MSG_NOSIGNAL` (a closed peer is an `EPIPE` error, never
/// `SIGPIPE`) and go straight to the kernel.
///
/// On io_uring it is completion I/O: a multishot receive fills buffers of the
/// context's shared provided-buffer ring, which reads copy from (a dropped or stopped
/// read loses nothing: unread bytes stay queued); a write goes straight to the kernel
/// when nothing is queued (a synchronous send), else into the stream's write-behind
/// buffer, sent by the kernel meanwhile (write-behind: call
/// `flush`, or a composed write that flushes such as
/// [`write_all`](strait_streams::write_all), before waiting for an answer; `shutdown`
/// flushes first). Dropping the stream still delivers what was written.
///
/// [`BufferSource`](strait_streams::BufferSource) and
/// [`BufferSink`](strait_streams::BufferSink) lend the ring's own buffers on io_uring
/// (zero copy), and a 16 KiB stage of the stream's own on epoll (made on first use).
#[derive(Debug)]
pub struct TcpStream {
    io: StreamIo,
    /// The `BufferSource`/`BufferSink` buffers on epoll (made on first use).
    staging: OnceLock<Box<stream_io::Staging>>,
    /// `poll_commit_eof` committed its bytes and waits for the shutdown.
    ending: bool,
}

#[derive(Debug)]
enum StreamIo {
    Ready {
        // Deregister before the socket closes: fields drop in order.
        reg: Registration,
        sock: std::net::TcpStream,
    },
    Ring(RingStream),
}

/// A socket address of the IP family.
fn sock_addr(addr: io::Result<socket2::SockAddr>) -> io::Result<SocketAddr> {
    addr?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket"))
}

impl TcpStream {
    fn from_std(reactor: &Arc<Reactor>, sock: std::net::TcpStream) -> io::Result<TcpStream> {
        let reg = reactor.register(sock.as_raw_fd())?;
        Ok(TcpStream {
            io: StreamIo::Ready { reg, sock },
            staging: OnceLock::new(),
            ending: false,
        })
    }

    fn sock(&self) -> SockRef<'_> {
        match &self.io {
            StreamIo::Ready { sock, .. } => SockRef::from(sock),
            StreamIo::Ring(r) => SockRef::from(r.fd()),
        }
    }

    /// Bytes written that the kernel has not taken yet (io_uring's write-behind
    /// buffer; always 0 on epoll, whose writes go straight to the kernel).
    pub fn buffered(&self) -> usize {
        match &self.io {
            StreamIo::Ready { .. } => 0,
            StreamIo::Ring(r) => r.buffered(),
        }
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
        let reactor = ctx.as_ref().reactor();
        let Some(completions) = reactor.selector.socket_completions() else {
            let stream = TcpStream::from_std(reactor, socket.into())?;
            let StreamIo::Ready { reg, sock } = &stream.io else {
                unreachable!("an epoll stream")
            };
            stream_io::finish_connect(&reg.io, &SockRef::from(sock)).await?;
            return Ok(stream);
        };
        {
            // The connect's readiness only: deregistered once it is known, so the
            // connected stream's reads and writes make no readiness events.
            let reg = reactor.register(socket.as_raw_fd())?;
            stream_io::finish_connect(&reg.io, &SockRef::from(&socket)).await?;
        }
        let fd: OwnedFd = socket.into();
        Ok(TcpStream {
            io: StreamIo::Ring(RingStream::new(reactor, completions, fd)?),
            staging: OnceLock::new(),
            ending: false,
        })
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
        sock_addr(self.sock().local_addr())
    }

    /// The peer's address.
    ///
    /// # Errors
    /// As `getpeername`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        sock_addr(self.sock().peer_addr())
    }

    /// `TCP_NODELAY`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_nodelay(&self, on: bool) -> io::Result<()> {
        self.sock().set_tcp_nodelay(on)
    }

    /// `SO_LINGER` (`Some(0)`: reset on close).
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_linger(&self, linger: Option<Duration>) -> io::Result<()> {
        self.sock().set_linger(linger)
    }

    /// `SO_KEEPALIVE`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_keepalive(&self, on: bool) -> io::Result<()> {
        self.sock().set_keepalive(on)
    }

    /// `SO_SNDBUF` / `SO_RCVBUF`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_buffer_sizes(&self, send: usize, recv: usize) -> io::Result<()> {
        let s = self.sock();
        s.set_send_buffer_size(send)?;
        s.set_recv_buffer_size(recv)
    }

    /// `IP_TTL`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_ttl(&self, ttl: u32) -> io::Result<()> {
        self.sock().set_ttl_v4(ttl)
    }

    /// Shuts down the read half (`SHUT_RD`); later reads return end of stream.
    ///
    /// # Errors
    /// As `shutdown`.
    pub fn shutdown_read(&self) -> io::Result<()> {
        self.sock().shutdown(std::net::Shutdown::Read)
    }
}

dual_socket_common!(TcpListener, ListenerIo);
dual_socket_common!(TcpStream, StreamIo);

/// Shared access: one task may read while another writes (one reader and one writer
/// at a time: a second concurrent reader replaces the first one's wake-up).
impl strait_streams::ReadStream for &TcpStream {
    fn poll_read_some(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &mut [strait_vocab::MutableBuffer<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        match &self.io {
            StreamIo::Ready { reg, sock } => {
                // Bytes pulled (`BufferSource`) and not consumed come first.
                if let Some(n) = self.staging.get().and_then(|st| st.read_staged(bufs)) {
                    return Poll::Ready(Ok(n));
                }
                stream_io::poll_read(&reg.io, sock, cx, bufs)
            }
            StreamIo::Ring(r) => r.poll_read(cx, bufs),
        }
    }

    fn poll_read_slice(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        match &self.io {
            StreamIo::Ready { reg, sock } => {
                if let Some(st) = self.staging.get() {
                    let bufs = &mut [strait_vocab::MutableBuffer::new(&mut *buf)];
                    if let Some(n) = st.read_staged(bufs) {
                        return Poll::Ready(Ok(n));
                    }
                }
                stream_io::poll_read_slice(&reg.io, sock, cx, buf)
            }
            StreamIo::Ring(r) => r.poll_read(cx, &mut [strait_vocab::MutableBuffer::new(buf)]),
        }
    }
}

/// Shared access, as for reads.
impl strait_streams::WriteStream for &TcpStream {
    fn poll_write_some(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[strait_vocab::ConstBuffer<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        match &self.io {
            StreamIo::Ready { reg, sock } => {
                // Bytes committed (`BufferSink`) and not sent go first.
                if let Some(st) = self.staging.get() {
                    ready!(st.poll_drain(&reg.io, sock, cx))?;
                }
                stream_io::poll_write(&reg.io, sock, cx, bufs)
            }
            StreamIo::Ring(r) => r.poll_write(cx, bufs),
        }
    }

    fn poll_write_slice(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        match &self.io {
            StreamIo::Ready { reg, sock } => {
                if let Some(st) = self.staging.get() {
                    ready!(st.poll_drain(&reg.io, sock, cx))?;
                }
                stream_io::poll_write_slice(&reg.io, sock, cx, buf)
            }
            StreamIo::Ring(r) => r.poll_write(cx, &[strait_vocab::ConstBuffer::new(buf)]),
        }
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match &self.io {
            StreamIo::Ready { reg, sock } => match self.staging.get() {
                Some(st) => st.poll_drain(&reg.io, sock, cx),
                None => Poll::Ready(Ok(())),
            },
            StreamIo::Ring(r) => r.poll_flush(cx),
        }
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        match &self.io {
            StreamIo::Ready { reg, sock } => {
                if let Some(st) = self.staging.get() {
                    ready!(st.poll_drain(&reg.io, sock, cx))?;
                }
                Poll::Ready(sock.shutdown(std::net::Shutdown::Write))
            }
            StreamIo::Ring(r) => r.poll_shutdown(cx),
        }
    }
}

impl strait_streams::ReadStream for TcpStream {
    fn poll_read_some(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &mut [strait_vocab::MutableBuffer<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut &*self).poll_read_some(cx, bufs)
    }

    fn poll_read_slice(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut [u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut &*self).poll_read_slice(cx, buf)
    }
}

impl strait_streams::WriteStream for TcpStream {
    fn poll_write_some(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[strait_vocab::ConstBuffer<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut &*self).poll_write_some(cx, bufs)
    }

    fn poll_write_slice(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        std::pin::Pin::new(&mut &*self).poll_write_slice(cx, buf)
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut &*self).poll_flush(cx)
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::pin::Pin::new(&mut &*self).poll_shutdown(cx)
    }
}

/// Zero copy on io_uring: the window is the front buffer the kernel received into
/// (the context's shared provided-buffer ring), held until consumed. On epoll, a
/// buffer of the stream's own (16 KiB, made on first pull) filled by one read. Either
/// way bytes pulled and not consumed are what the next pull or read returns first.
impl strait_streams::BufferSource for TcpStream {
    fn poll_pull<'s>(
        self: std::pin::Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<strait_vocab::ConstWindow<'s>>> {
        let this = self.get_mut();
        let bytes = match &mut this.io {
            StreamIo::Ready { reg, sock } => {
                if this.staging.get().is_none() {
                    let _ = this.staging.set(Box::default());
                }
                let st = this.staging.get_mut().expect("set above");
                stream_io::stoppable(cx, |cx| st.poll_pull(&reg.io, &*sock, cx))
            }
            StreamIo::Ring(r) => stream_io::stoppable(cx, |cx| r.poll_fill(cx)),
        };
        bytes.map_ok(strait_vocab::ConstWindow::new)
    }

    fn consume(self: std::pin::Pin<&mut Self>, n: usize) {
        let this = self.get_mut();
        match &mut this.io {
            StreamIo::Ready { .. } => match this.staging.get_mut() {
                Some(st) => st.consume(n),
                None => assert_eq!(n, 0, "consumed past the pulled bytes"),
            },
            StreamIo::Ring(r) => r.consume(n),
        }
    }
}

/// Zero copy on io_uring: the window is the free part of the stream's write-behind
/// block, which commit hands to the kernel (a direct send, a `SEND` for what the
/// socket does not take). On epoll, a buffer of the stream's own (16 KiB, made on
/// first prepare) whose committed bytes are sent at once as far as the socket takes
/// them, the rest by the next write, prepare or flush.
impl strait_streams::BufferSink for TcpStream {
    fn poll_prepare<'s>(
        self: std::pin::Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<strait_vocab::MutableWindow<'s>>> {
        let this = self.get_mut();
        let window = match &mut this.io {
            StreamIo::Ready { reg, sock } => {
                if this.staging.get().is_none() {
                    let _ = this.staging.set(Box::default());
                }
                let st = this.staging.get_mut().expect("set above");
                stream_io::stoppable(cx, |cx| st.poll_prepare(&reg.io, &*sock, cx))
            }
            StreamIo::Ring(r) => stream_io::stoppable(cx, |cx| r.poll_prepare(cx)),
        };
        window.map_ok(strait_vocab::MutableWindow::new)
    }

    fn poll_commit(
        self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        Poll::Ready(match &mut this.io {
            StreamIo::Ready { reg, sock } => match this.staging.get_mut() {
                Some(st) => st.commit(&reg.io, &*sock, cx, n),
                None if n == 0 => Ok(()),
                None => panic!("commit without a prepared window"),
            },
            StreamIo::Ring(r) => r.commit(n),
        })
    }

    fn poll_commit_eof(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        if !self.ending && n > 0 {
            ready!(self.as_mut().poll_commit(cx, n))?;
        }
        self.ending = true;
        let done = ready!(strait_streams::WriteStream::poll_shutdown(
            self.as_mut(),
            cx
        ));
        self.ending = false;
        Poll::Ready(done)
    }

    fn poll_flush(self: std::pin::Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        strait_streams::WriteStream::poll_flush(self, cx)
    }
}

/// `BufferSource`/`BufferSink` on `TcpStream`, through the conformance kit's source and
/// sink suites, on each backend; and zero copy on the ring.
#[cfg(test)]
mod buffer_tests {
    use std::io::Read;
    use std::sync::Mutex;

    use strait_conformance::{SinkFactory, SourceFactory};
    use strait_streams::{AnyBufferSink, AnyBufferSource, BufferSource, BufferSourceExt};

    use super::*;
    use crate::{Backend, IoContext};

    /// Loopback pairs on one context: the strait end under test, a std end as peer.
    struct Loopback {
        ctx: IoContext,
        /// The peer of the last sink made (non-blocking), its bytes so far, and
        /// whether it saw the end.
        peer: Mutex<Option<(std::net::TcpStream, Vec<u8>, bool)>>,
    }

    impl Loopback {
        fn new(backend: Backend) -> Option<Loopback> {
            let ctx = IoContext::builder().backend(backend).build().ok()?;
            Some(Loopback {
                ctx,
                peer: Mutex::new(None),
            })
        }

        fn connect(&self) -> (TcpStream, std::net::TcpStream) {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let addr = listener.local_addr().unwrap();
            let stream = self
                .ctx
                .block_on(TcpStream::connect(&self.ctx, addr))
                .unwrap();
            (stream, listener.accept().unwrap().0)
        }

        /// Everything the last sink's peer received so far, and whether it ended.
        fn drain_peer(&self) -> (Vec<u8>, bool) {
            let mut guard = crate::sync::lock(&self.peer);
            let (peer, got, ended) = guard.as_mut().expect("a sink was made");
            let mut buf = [0u8; 8192];
            while !*ended {
                match peer.read(&mut buf) {
                    Ok(0) => *ended = true,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => panic!("peer read: {e}"),
                }
            }
            (got.clone(), *ended)
        }
    }

    impl SourceFactory for Loopback {
        type Source = AnyBufferSource<'static>;

        fn source(&self, data: &[u8]) -> Self::Source {
            let (stream, mut peer) = self.connect();
            let data = data.to_vec();
            std::thread::spawn(move || {
                use std::io::Write;
                let _ = peer.write_all(&data);
                let _ = peer.shutdown(std::net::Shutdown::Write);
                // Held until the reader is done with the stream (a reset otherwise).
                let _ = peer.read(&mut [0u8; 1]);
            });
            AnyBufferSource::new(stream)
        }

        fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
            self.ctx.block_on(f)
        }
    }

    impl SinkFactory for Loopback {
        type Sink = AnyBufferSink<'static>;

        fn sink(&self) -> Self::Sink {
            let (stream, peer) = self.connect();
            peer.set_nonblocking(true).unwrap();
            *crate::sync::lock(&self.peer) = Some((peer, Vec::new(), false));
            AnyBufferSink::new(stream)
        }

        fn written(&self, _sink: &Self::Sink) -> Vec<u8> {
            self.drain_peer().0
        }

        fn ended(&self, _sink: &Self::Sink) -> bool {
            self.drain_peer().1
        }

        fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
            self.ctx.block_on(f)
        }
    }

    fn suites(backend: Backend) {
        let Some(f) = Loopback::new(backend) else {
            assert_eq!(backend, Backend::IoUring, "epoll is always there");
            return;
        };
        let report = strait_conformance::sources::run(&f);
        assert!(report.passed(), "{backend:?} source suite:\n{report}");
        let report = strait_conformance::sources::run_sinks(&f);
        assert!(report.passed(), "{backend:?} sink suite:\n{report}");
    }

    #[test]
    fn source_and_sink_suites_pass_on_epoll() {
        suites(Backend::Epoll);
    }

    #[test]
    fn source_and_sink_suites_pass_on_io_uring() {
        suites(Backend::IoUring);
    }

    /// On the ring a pull lends the received buffer itself: two pulls without a
    /// consume see the same bytes at the same address; a plain read after a partial
    /// consume goes on where it stopped.
    #[test]
    fn a_pull_on_the_ring_lends_the_received_buffer() {
        let Some(f) = Loopback::new(Backend::IoUring) else {
            return;
        };
        let (mut stream, mut peer) = f.connect();
        std::io::Write::write_all(&mut peer, b"zero copy").unwrap();
        let (first, again) = f.ctx.block_on(async {
            stream.fill().await.unwrap();
            let a = std::future::poll_fn(|cx| {
                std::pin::Pin::new(&mut stream)
                    .poll_pull(cx)
                    .map_ok(|w| w.as_slice()[0].as_slice().as_ptr() as usize)
            })
            .await
            .unwrap();
            let b = std::future::poll_fn(|cx| {
                std::pin::Pin::new(&mut stream)
                    .poll_pull(cx)
                    .map_ok(|w| w.as_slice()[0].as_slice().as_ptr() as usize)
            })
            .await
            .unwrap();
            (a, b)
        });
        assert_eq!(first, again, "the same buffer, not a copy");
        std::pin::Pin::new(&mut stream).consume(5);
        let mut rest = [0u8; 16];
        let n = f
            .ctx
            .block_on(strait_streams::ReadStreamExt::read(
                &mut stream,
                &mut rest[..],
            ))
            .unwrap();
        assert_eq!(&rest[..n], b"copy");
    }
}
