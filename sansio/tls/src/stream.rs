//! [`TlsStream`]: a TLS client or server over any strait stream, itself a strait
//! stream. rustls's buffered connection does the protocol; this module moves bytes
//! between it and the transport with strait's poll traits.
//!
//! Copies (rustls 0.23): a write encrypts from the caller's buffers into a sealed
//! record (one copy, several caller buffers filling one record), which goes to the
//! transport from rustls's queue. The transport reads into rustls's receive buffer
//! directly and records are decrypted in place, but rustls then moves each decrypted
//! record into its plaintext queue (a copy and an allocation inside rustls) before a
//! read copies it into the caller's buffers. rustls's buffered API thus allocates one
//! buffer per record each way — the documented allocation exception.
//!
//! Its unbuffered API does not do better in 0.23: reads go through the same plaintext
//! queue (`ReadTraffic::next_record` pops it; in-place decryption is a rustls TODO), and
//! `WriteTraffic::encrypt` seals each record into a fresh buffer and copies it into the
//! caller's (two copies and an allocation per record). One copy each way needs rustls's
//! in-place unbuffered decryption; until then the buffered API is the cheaper engine.
//! rustls 0.24 (in development) has it: after the handshake a `SplitConnection` gives a
//! `ReceiveTraffic` that decrypts records in place in an input buffer we own
//! (`ReceivedApplicationData::data()` borrows it: one copy into the caller's buffers,
//! then `into_next()` discards) and a `SendTraffic` that seals the caller's bytes
//! straight into an output `Vec` we own and reuse (one copy, no allocation per record).

use std::future::Future;
use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use rustls::pki_types::{CertificateDer, ServerName};
use rustls::Connection;
use strait_streams::vocab::Consuming;
use strait_streams::{
    ConstBuffer, MutableBuffer, ReadSource, ReadStream, Stream, WriteSink, WriteStream,
};

use crate::context::{ClientContext, ServerContext, TlsVersion};
use crate::error::{ConfigError, TlsError};

/// Caller buffers passed to rustls in one vectored write, at most.
const MAX_IOV: usize = 16;

/// A TLS connection over the transport `S`: a client ([`TlsStream::connect`]) or a
/// server ([`TlsStream::accept`]).
///
/// The handshake runs on the first read, write or flush, or explicitly with
/// [`handshake`](Self::handshake). Writes are write-behind: bytes accepted by
/// `poll_write_some` are encrypted at once and pushed to the transport as far as it
/// takes them; [`poll_flush`](WriteStream::poll_flush) pushes the rest.
/// [`poll_shutdown`](WriteStream::poll_shutdown) sends `close_notify`, ends the
/// transport's write direction and, if [`set_wait_for_close_notify`](Self::set_wait_for_close_notify)
/// asked, waits for the peer's `close_notify`. End of stream from the transport
/// without the peer's `close_notify` is [`TlsError::Truncated`] unless
/// [`set_allow_truncation`](Self::set_allow_truncation) allows it.
///
/// TLS failures are `io::Error`s carrying a [`TlsError`] ([`TlsError::from_io`]).
/// After one, every operation fails with the same error.
#[derive(Debug)]
pub struct TlsStream<S> {
    io: S,
    conn: Connection,
    /// The failure every later operation repeats (boxed: rare, and an idle stream
    /// stays smaller).
    error: Option<Box<TlsError>>,
    handshake_done: bool,
    /// `close_notify` queued: writes fail with `BrokenPipe`.
    write_closed: bool,
    transport_shut: bool,
    transport_eof: bool,
    /// The peer's `close_notify` arrived.
    peer_closed: bool,
    allow_truncation: bool,
    wait_for_close_notify: bool,
}

impl<S: Stream + Unpin> TlsStream<S> {
    /// A client connection to `server_name` (a DNS name or an IP address: checked
    /// against the server's certificate, and sent as SNI if the context enables it).
    /// Nothing is sent until the first I/O or [`handshake`](Self::handshake).
    pub fn connect(ctx: &ClientContext, server_name: &str, io: S) -> Result<Self, ConfigError> {
        let name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| ConfigError::InvalidServerName(server_name.to_owned()))?;
        let conn = rustls::ClientConnection::new(ctx.config.clone(), name)?;
        Ok(Self::new(io, conn.into()))
    }

    /// A server connection. Nothing is read until the first I/O or
    /// [`handshake`](Self::handshake).
    pub fn accept(ctx: &ServerContext, io: S) -> Result<Self, ConfigError> {
        let conn = rustls::ServerConnection::new(ctx.config.clone())?;
        Ok(Self::new(io, conn.into()))
    }

    fn new(io: S, conn: Connection) -> Self {
        Self {
            io,
            conn,
            error: None,
            handshake_done: false,
            write_closed: false,
            transport_shut: false,
            transport_eof: false,
            peer_closed: false,
            allow_truncation: false,
            wait_for_close_notify: false,
        }
    }

    /// Completes the handshake (at once if it is done). Honours the environment's stop
    /// token. Cancel-safe: dropping it loses nothing; the next I/O resumes it.
    pub fn handshake(&mut self) -> Handshake<'_, S> {
        Handshake { stream: self }
    }

    /// Drives the handshake to its end, then pushes its last flight.
    pub fn poll_handshake(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.handshake_done {
            return Poll::Ready(Ok(()));
        }
        self.check_failed()?;
        while self.conn.is_handshaking() {
            // Our flight goes out, through a write-behind transport too, before we
            // wait for the answer.
            ready!(self.poll_push(cx))?;
            if !self.conn.is_handshaking() {
                break;
            }
            if self.conn.wants_read() {
                if ready!(self.poll_read_tls(cx))? == 0 {
                    return Poll::Ready(Err(self.fail(TlsError::HandshakeEof)));
                }
            } else if !self.conn.wants_write() {
                // rustls wants neither: nothing can make progress.
                let err = TlsError::Rustls(rustls::Error::General("handshake stalled".into()));
                return Poll::Ready(Err(self.fail(err)));
            }
        }
        ready!(self.poll_push(cx))?;
        self.handshake_done = true;
        Poll::Ready(Ok(()))
    }

    fn check_failed(&self) -> io::Result<()> {
        match &self.error {
            Some(err) => Err(TlsError::clone(err).into()),
            None => Ok(()),
        }
    }

    fn fail(&mut self, err: TlsError) -> io::Error {
        self.error = Some(Box::new(err.clone()));
        err.into()
    }

    /// Writes what rustls has queued to the transport, until all is taken.
    fn poll_write_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let mut io = Adapter {
                io: &mut self.io,
                cx,
            };
            match self.conn.write_tls(&mut io) {
                Ok(0) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
                Err(e) => return Poll::Ready(Err(e)),
            }
        }
        Poll::Ready(Ok(()))
    }

    /// Writes everything queued and flushes the transport.
    fn poll_push(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_write_tls(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    /// Reads from the transport into rustls and processes what arrived. `Ok(0)` is the
    /// transport's end of stream (rustls records it).
    fn poll_read_tls(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<usize>> {
        let mut io = Adapter {
            io: &mut self.io,
            cx,
        };
        let n = match self.conn.read_tls(&mut io) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Poll::Pending,
            Err(e) => return Poll::Ready(Err(e)),
        };
        if n == 0 {
            self.transport_eof = true;
        }
        match self.conn.process_new_packets() {
            Ok(state) => self.peer_closed |= state.peer_has_closed(),
            Err(err) => {
                // rustls queued the alert that tells the peer why; send it if the
                // transport takes it now, without waiting.
                let _ = self.poll_write_tls(cx);
                return Poll::Ready(Err(self.fail(err.into())));
            }
        }
        Poll::Ready(Ok(n))
    }

    /// Copies decrypted bytes into `bufs`: `Ok(0)` after the peer's `close_notify`,
    /// `WouldBlock` when nothing is buffered.
    fn read_plaintext(&mut self, bufs: &mut [MutableBuffer<'_>]) -> io::Result<usize> {
        let mut total = 0;
        for buf in bufs.iter_mut().filter(|b| !b.is_empty()) {
            match self.conn.reader().read(buf.as_mut_slice()) {
                Ok(n) => {
                    total += n;
                    if n < buf.len() {
                        break;
                    }
                }
                Err(e) if total > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if total > 0 && e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e),
            }
        }
        Ok(total)
    }

    /// Whether end of stream without `close_notify` reads as a clean end (default:
    /// no, it is [`TlsError::Truncated`]). Allow it only for protocols that detect
    /// truncation themselves (HTTP with `Content-Length`, say).
    pub fn set_allow_truncation(&mut self, allow: bool) {
        self.allow_truncation = allow;
    }

    /// Whether `shutdown` waits for the peer's `close_notify` after sending ours
    /// (default: no). Bytes the peer sends meanwhile stay readable; if they fill
    /// rustls's receive buffer before the peer's `close_notify`, shutdown fails
    /// rather than drop them.
    pub fn set_wait_for_close_notify(&mut self, wait: bool) {
        self.wait_for_close_notify = wait;
    }

    /// Whether the handshake is still to complete.
    pub fn is_handshaking(&self) -> bool {
        !self.handshake_done
    }

    /// The application protocol agreed by ALPN.
    pub fn alpn_protocol(&self) -> Option<&[u8]> {
        self.conn.alpn_protocol()
    }

    /// The protocol version agreed.
    pub fn protocol_version(&self) -> Option<TlsVersion> {
        match self.conn.protocol_version()? {
            rustls::ProtocolVersion::TLSv1_2 => Some(TlsVersion::Tls12),
            rustls::ProtocolVersion::TLSv1_3 => Some(TlsVersion::Tls13),
            _ => None,
        }
    }

    /// The cipher suite agreed, by its IANA name (`TLS13_AES_128_GCM_SHA256`, ...).
    pub fn cipher_suite(&self) -> Option<&'static str> {
        self.conn.negotiated_cipher_suite()?.suite().as_str()
    }

    /// The name the client asked for (SNI), on a server.
    pub fn sni_hostname(&self) -> Option<&str> {
        match &self.conn {
            Connection::Server(conn) => conn.server_name(),
            Connection::Client(_) => None,
        }
    }

    /// The peer's certificate chain (end entity first), once received.
    pub fn peer_certificates(&self) -> Option<&[CertificateDer<'static>]> {
        self.conn.peer_certificates()
    }

    /// Whether this session was resumed (no full handshake).
    pub fn is_resumed(&self) -> bool {
        matches!(
            self.conn.handshake_kind(),
            Some(rustls::HandshakeKind::Resumed)
        )
    }

    /// The transport.
    pub fn get_ref(&self) -> &S {
        &self.io
    }

    /// The transport. Reading or writing it directly corrupts the TLS session.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.io
    }

    /// The rustls connection, for what this type does not wrap.
    pub fn connection(&self) -> &Connection {
        &self.conn
    }

    /// The transport and the rustls connection.
    pub fn into_parts(self) -> (S, Connection) {
        (self.io, self.conn)
    }
}

impl<S: Stream + Unpin> TlsStream<S> {
    /// The read loop both read forms share: `copy` moves decrypted bytes out of the
    /// session (`WouldBlock` when none are buffered); records are read from the
    /// transport until it copies some or the stream ends.
    fn poll_read_with(
        &mut self,
        cx: &mut Context<'_>,
        mut copy: impl FnMut(&mut Self) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_handshake(cx))?;
        loop {
            match copy(self) {
                Ok(n) => return Poll::Ready(Ok(n)),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(if self.allow_truncation {
                        Ok(0)
                    } else {
                        Err(self.fail(TlsError::Truncated))
                    });
                }
                Err(e) => return Poll::Ready(Err(e)),
            }
            self.check_failed()?;
            // Records rustls queues while reading (a key update's answer) go out with
            // the next write or flush: writing here would register this task's waker
            // for the transport's write side, in place of a writer task's (split).
            ready!(self.poll_read_tls(cx))?;
        }
    }

    /// The write path both write forms share: checks, the handshake, then `seal`
    /// (rustls's writer taking the caller's bytes) until it takes some.
    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        mut seal: impl FnMut(&mut Connection) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        if self.write_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        self.check_failed()?;
        ready!(self.poll_handshake(cx))?;
        loop {
            let n = seal(&mut self.conn)?;
            if n > 0 {
                // Push what the transport takes now; the rest waits for flush or the
                // next write (a transport error shows there).
                let _ = self.poll_write_tls(cx);
                return Poll::Ready(Ok(n));
            }
            // rustls's send buffer is full: make room first.
            ready!(self.poll_write_tls(cx))?;
        }
    }
}

impl<S: Stream + Unpin> ReadStream for TlsStream<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        self.get_mut()
            .poll_read_with(cx, |this| this.read_plaintext(bufs))
    }

    /// Copies plaintext out of the session straight into `buf`.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.get_mut()
            .poll_read_with(cx, |this| this.conn.reader().read(buf))
    }
}

impl<S: Stream + Unpin> WriteStream for TlsStream<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if bufs.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let mut slices = [IoSlice::new(&[]); MAX_IOV];
        let mut count = 0;
        for buf in bufs.iter().filter(|b| !b.is_empty()).take(MAX_IOV) {
            slices[count] = IoSlice::new(buf);
            count += 1;
        }
        self.get_mut()
            .poll_write_with(cx, |conn| conn.writer().write_vectored(&slices[..count]))
    }

    /// Feeds `buf` to the session (no sequence to gather).
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        self.get_mut()
            .poll_write_with(cx, |conn| conn.writer().write(buf))
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        this.check_failed()?;
        ready!(this.poll_handshake(cx))?;
        this.poll_push(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_closed {
            ready!(this.poll_handshake(cx))?;
            this.conn.send_close_notify();
            this.write_closed = true;
        }
        ready!(this.poll_push(cx))?;
        if !this.transport_shut {
            ready!(Pin::new(&mut this.io).poll_shutdown(cx))?;
            this.transport_shut = true;
        }
        if this.wait_for_close_notify {
            while !this.peer_closed {
                this.check_failed()?;
                if this.transport_eof {
                    if this.allow_truncation {
                        break;
                    }
                    return Poll::Ready(Err(this.fail(TlsError::Truncated)));
                }
                // Plaintext that arrives meanwhile stays queued for reads; rustls
                // refuses to read on once its queue is full (an error, not a loss).
                ready!(this.poll_read_tls(cx))?;
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: Stream + Unpin> ReadSource for TlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut Consuming<&mut [MutableBuffer<'_>]>,
    ) -> Poll<io::Result<()>> {
        loop {
            let mut window = bufs.window_mut();
            if window.is_empty() {
                return Poll::Ready(Ok(()));
            }
            let n = ready!(self.as_mut().poll_read_some(cx, window.as_mut_slice()))?;
            if n == 0 {
                return Poll::Ready(Ok(()));
            }
            bufs.consume(n);
        }
    }
}

impl<S: Stream + Unpin> TlsStream<S> {
    fn poll_write_all(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &mut Consuming<&[ConstBuffer<'_>]>,
    ) -> Poll<io::Result<()>> {
        while !bufs.is_empty() {
            let window = bufs.window();
            let n = ready!(Pin::new(&mut *self).poll_write_some(cx, window.as_slice()))?;
            bufs.consume(n);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: Stream + Unpin> WriteSink for TlsStream<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut Consuming<&[ConstBuffer<'_>]>,
    ) -> Poll<io::Result<()>> {
        self.get_mut().poll_write_all(cx, bufs)
    }

    /// Writes `bufs`, then sends `close_notify` (see [`WriteStream::poll_shutdown`]).
    fn poll_write_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut Consuming<&[ConstBuffer<'_>]>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_write_all(cx, bufs))?;
        WriteStream::poll_shutdown(Pin::new(this), cx)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        WriteStream::poll_flush(self, cx)
    }
}

/// Future of [`TlsStream::handshake`].
#[must_use = "futures do nothing unless awaited"]
#[derive(Debug)]
pub struct Handshake<'a, S> {
    stream: &'a mut TlsStream<S>,
}

impl<S: Stream + Unpin> Future for Handshake<'_, S> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if strait_streams::stop_requested() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        self.get_mut().stream.poll_handshake(cx)
    }
}

/// The transport as `std::io` for rustls: `Pending` becomes `WouldBlock` (with the
/// waker registered by the transport).
struct Adapter<'a, 'b, S> {
    io: &'a mut S,
    cx: &'a mut Context<'b>,
}

impl<S: ReadStream + Unpin> Read for Adapter<'_, '_, S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_read_slice(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }
}

impl<S: WriteStream + Unpin> Write for Adapter<'_, '_, S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match Pin::new(&mut *self.io).poll_write_slice(self.cx, buf) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn write_vectored(&mut self, slices: &[IoSlice<'_>]) -> io::Result<usize> {
        if let [one] = slices {
            // One record (the common case): the transport's one-slice write.
            return self.write(one);
        }
        let mut bufs = [ConstBuffer::default(); MAX_IOV];
        let mut count = 0;
        for slice in slices.iter().take(MAX_IOV) {
            bufs[count] = ConstBuffer::from(&**slice);
            count += 1;
        }
        match Pin::new(&mut *self.io).poll_write_some(self.cx, &bufs[..count]) {
            Poll::Ready(r) => r,
            Poll::Pending => Err(io::ErrorKind::WouldBlock.into()),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
