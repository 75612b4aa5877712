//! TCP on the io_uring backend: completion I/O through the completion layer
//! (`crate::uring`), not readiness. Nothing here is TCP-specific but
//! [`RingListener::accept_once`]'s peer address: Unix stream sockets (`net::unix`) run
//! on the same types.
//!
//! A stream is its descriptor (`Arc<OwnedFd>`, shared with the operation slots that
//! name it) with a multishot receive into the shared provided-buffer ring
//! ([`RecvQueue`]) and a write-behind send buffer ([`SendBehind`]); a listener is a
//! multishot accept ([`Acceptor`]). Readiness `wait` registers the descriptor with the
//! ring's readiness polls lazily, on its first use, so streams that never wait pay for
//! no poll request.
//!
//! `cancel` and `close` keep the epoll path's semantics (`socket_api`): a canceled read
//! or write completes as canceled only if it would wait (a read that finds queued data
//! returns it); received bytes stay queued, so a dropped, stopped or canceled read
//! loses none.

use std::io::{self, IoSlice, IoSliceMut};
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Wake, Waker};

use strait_vocab::{ConstBuffer, IoSliceArray, IoSliceMutArray, MutableBuffer};

use crate::reactor::{Interest, Reactor, Registration};
use crate::sync::lock;
use crate::uring::{Acceptor, Completions, RecvQueue, SendBehind};

/// A read returned `Pending` and has not completed since.
const READ_WAITING: u8 = 1;
/// A write (or flush) returned `Pending` and has not completed since.
const WRITE_WAITING: u8 = 2;
/// `cancel` found a waiting read: the next read that would wait fails as canceled.
const READ_CANCEL: u8 = 4;
const WRITE_CANCEL: u8 = 8;
/// `close` ran: every operation fails as canceled.
const CLOSED: u8 = 16;
/// The write side was shut down: writes fail with `BrokenPipe`.
const WRITE_SHUT: u8 = 32;

/// A connected TCP stream on the completion layer.
pub(crate) struct RingStream {
    // Fields drop in order: the readiness registration before the descriptor.
    wait_reg: OnceLock<Registration>,
    // Dropped by hand (see `Drop`), before the reactor settles.
    recv: ManuallyDrop<Mutex<RecvQueue>>,
    send: ManuallyDrop<Mutex<SendBehind>>,
    /// Readable-waits (`wait(Interest::Read)`), and the shared waker of the receive
    /// queue's slot, which reads register with too.
    readers: Gate,
    flags: AtomicU8,
    reactor: Arc<Reactor>,
    fd: Arc<OwnedFd>,
}

impl std::fmt::Debug for RingStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingStream")
            .field("fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

impl RingStream {
    /// Arms the receive of a connected socket `fd`.
    pub(crate) fn new(
        reactor: &Arc<Reactor>,
        completions: &Arc<Completions>,
        fd: OwnedFd,
    ) -> io::Result<RingStream> {
        let fd = Arc::new(fd);
        let send = SendBehind::new(completions, fd.clone())?;
        let recv = RecvQueue::new(completions, fd.clone())?;
        Ok(RingStream {
            wait_reg: OnceLock::new(),
            recv: ManuallyDrop::new(Mutex::new(recv)),
            send: ManuallyDrop::new(Mutex::new(send)),
            readers: Gate::default(),
            flags: AtomicU8::new(0),
            reactor: reactor.clone(),
            fd,
        })
    }

    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    fn closed(&self) -> bool {
        self.flags.load(Ordering::Acquire) & CLOSED != 0
    }

    /// What a poll that returned `Pending` becomes: the canceled error when `cancel`
    /// (or `close`) aimed at it, else `Pending` marked as waiting.
    fn pending<T>(&self, waiting: u8, cancel: u8) -> Poll<io::Result<T>> {
        pending_flags(&self.flags, waiting, cancel)
    }

    /// A poll completed: no longer waiting, and a cancel it outran is spent.
    fn done<T>(&self, waiting: u8, cancel: u8, r: io::Result<T>) -> Poll<io::Result<T>> {
        self.flags.fetch_and(!(cancel | waiting), Ordering::AcqRel);
        Poll::Ready(r)
    }

    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.closed() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        if !crate::budget::charge() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let shared = Waker::from(self.readers.waiters.clone());
        let mut shared_cx = Context::from_waker(&shared);
        // The guard is held until the flags say how this poll ended: `cancel` changes
        // flags and wakes under the same lock, so it cannot slip in between.
        let mut recv = lock(&self.recv);
        let mut polled = read_into(&mut recv, &mut shared_cx, bufs);
        if polled.is_pending() && self.flags.load(Ordering::Acquire) & READ_CANCEL != 0 {
            // A cancel aimed at an earlier read would end this one: first hand over the
            // completions already posted (a direct send on loopback posts the peer's
            // receive before anyone waits), so a read that has data gets it. Settling
            // hands completions to the layer: not under this stream's lock.
            drop(recv);
            self.reactor.settle();
            recv = lock(&self.recv);
            polled = read_into(&mut recv, &mut shared_cx, bufs);
        }
        if polled.is_pending() {
            self.readers.waiters.add(cx.waker());
            // A completion handled on another runner between the poll and `add` woke
            // the shared waker before this task's waker was in it: look again.
            if recv.poll_readable(&mut shared_cx).is_ready() {
                cx.waker().wake_by_ref();
            }
        }
        let end = match polled {
            Poll::Ready(r) => self.done(READ_WAITING, READ_CANCEL, r),
            Poll::Pending => self.pending(READ_WAITING, READ_CANCEL),
        };
        drop(recv);
        end
    }

    /// `BufferSource::poll_pull`: the front received buffer, with zero copy (empty at
    /// end of stream). `&mut self`: nobody else reads while the bytes are borrowed.
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        if self.closed() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        let shared = Waker::from(self.readers.waiters.clone());
        // Registered first: a completion handled before the poll ends wakes it.
        self.readers.waiters.add(cx.waker());
        let flags = &self.flags;
        let recv: &mut RecvQueue = self.recv.get_mut().unwrap_or_else(|e| e.into_inner());
        match recv.poll_fill(&mut Context::from_waker(&shared)) {
            Poll::Ready(r) => {
                flags.fetch_and(!(READ_CANCEL | READ_WAITING), Ordering::AcqRel);
                Poll::Ready(r)
            }
            Poll::Pending => pending_flags(flags, READ_WAITING, READ_CANCEL),
        }
    }

    /// `BufferSource::consume`: the first `n` bytes of the last fill are read.
    pub(crate) fn consume(&mut self, n: usize) {
        self.recv
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .consume(n);
    }

    /// `BufferSink::poll_prepare`: the free part of the write-behind block, filled in
    /// place (sent by `commit`).
    pub(crate) fn poll_prepare(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut [u8]>> {
        if self.closed() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        if self.flags.load(Ordering::Acquire) & WRITE_SHUT != 0 {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the stream's write side was shut down",
            )));
        }
        let flags = &self.flags;
        let send: &mut SendBehind = self.send.get_mut().unwrap_or_else(|e| e.into_inner());
        match send.poll_prepare(cx) {
            Poll::Ready(r) => {
                flags.fetch_and(!(WRITE_CANCEL | WRITE_WAITING), Ordering::AcqRel);
                Poll::Ready(r)
            }
            Poll::Pending => pending_flags(flags, WRITE_WAITING, WRITE_CANCEL),
        }
    }

    /// `BufferSink::poll_commit`: hands `n` prepared bytes to the kernel.
    pub(crate) fn commit(&mut self, n: usize) -> io::Result<()> {
        self.send
            .get_mut()
            .unwrap_or_else(|e| e.into_inner())
            .commit(n)
    }

    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.closed() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        if !crate::budget::charge() {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if self.flags.load(Ordering::Acquire) & WRITE_SHUT != 0 && !strait_vocab::buffer_empty(bufs)
        {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after the stream's write side was shut down",
            )));
        }
        let mut send = lock(&self.send);
        let polled = if let [one] = bufs {
            send.poll_write_vectored(cx, &[IoSlice::new(one.as_slice())])
        } else {
            send.poll_write_vectored(cx, &IoSliceArray::from_buffers(bufs))
        };
        match polled {
            Poll::Ready(r) => self.done(WRITE_WAITING, WRITE_CANCEL, r),
            Poll::Pending => self.pending(WRITE_WAITING, WRITE_CANCEL),
        }
    }

    pub(crate) fn poll_flush(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closed() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        let mut send = lock(&self.send);
        match send.poll_flush(cx) {
            Poll::Ready(r) => self.done(WRITE_WAITING, WRITE_CANCEL, r),
            Poll::Pending => self.pending(WRITE_WAITING, WRITE_CANCEL),
        }
    }

    pub(crate) fn poll_shutdown(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.closed() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        let mut send = lock(&self.send);
        match send.poll_shutdown(cx) {
            Poll::Ready(r) => {
                if r.is_ok() {
                    self.flags.fetch_or(WRITE_SHUT, Ordering::AcqRel);
                }
                self.done(WRITE_WAITING, WRITE_CANCEL, r)
            }
            Poll::Pending => self.pending(WRITE_WAITING, WRITE_CANCEL),
        }
    }

    /// Bytes written and not yet taken by the kernel.
    pub(crate) fn buffered(&self) -> usize {
        lock(&self.send).buffered()
    }

    /// The readiness registration, made on first use.
    fn registration(&self) -> io::Result<&Registration> {
        if let Some(reg) = self.wait_reg.get() {
            return Ok(reg);
        }
        let reg = self.reactor.register(self.fd.as_raw_fd())?;
        // A racing registration loses: it deregisters on drop.
        let _ = self.wait_reg.set(reg);
        Ok(self.wait_reg.get().expect("set above"))
    }

    /// Readable: a read would not wait (the receive already moved the socket's bytes
    /// into the queue, so the kernel's readiness would not say). Writable: the
    /// socket's readiness, registered on first use.
    pub(crate) async fn wait(&self, interest: Interest) -> io::Result<()> {
        if self.closed() {
            return Err(strait_streams::canceled());
        }
        if interest == Interest::Write {
            let reg = self.registration()?;
            return super::stream_io::wait(&reg.io, self.fd.as_fd(), interest).await;
        }
        let mut waiter = GateWaiter::new(&self.readers);
        std::future::poll_fn(|cx| {
            super::stream_io::stoppable(cx, |cx| {
                if self.closed() {
                    return Poll::Ready(Err(strait_streams::canceled()));
                }
                waiter.poll(cx, |cx| lock(&self.recv).poll_readable(cx))
            })
        })
        .await
    }

    /// See `socket_common`'s `cancel`.
    pub(crate) fn cancel(&self) -> bool {
        let mut any = self.wait_reg.get().is_some_and(|reg| reg.io.cancel());
        any |= self.readers.cancel();
        // Under each direction's lock: a poll's flags and waker change together.
        {
            let _recv = lock(&self.recv);
            if self.flags.load(Ordering::Acquire) & READ_WAITING != 0 {
                self.flags.fetch_or(READ_CANCEL, Ordering::AcqRel);
                Wake::wake_by_ref(&self.readers.waiters);
                any = true;
            }
        }
        {
            let send = lock(&self.send);
            if self.flags.load(Ordering::Acquire) & WRITE_WAITING != 0 {
                self.flags.fetch_or(WRITE_CANCEL, Ordering::AcqRel);
                if let Some(w) = send.take_waker() {
                    w.wake();
                }
                any = true;
            }
        }
        any
    }

    /// See `socket_common`'s `close`.
    pub(crate) fn close(&self) {
        let _ = socket2::SockRef::from(&*self.fd).shutdown(std::net::Shutdown::Both);
        self.flags.fetch_or(CLOSED, Ordering::AcqRel);
        if let Some(reg) = self.wait_reg.get() {
            reg.io.close();
        }
        Wake::wake_by_ref(&self.readers.waiters);
        if let Some(w) = lock(&self.send).take_waker() {
            w.wake();
        }
    }
}

impl Drop for RingStream {
    fn drop(&mut self) {
        if let Some(reg) = self.wait_reg.take() {
            drop(reg);
        }
        // SAFETY: both fields are dropped once, here, and never used again.
        unsafe {
            ManuallyDrop::drop(&mut self.recv);
            ManuallyDrop::drop(&mut self.send);
        }
        // The receive's cancellation is queued: have the kernel run it and its CQE
        // handled, so the descriptor closes now (unless a send lingers).
        self.reactor.settle();
    }
}

/// [`RingStream::pending`] on the stream's `flags`.
fn pending_flags<T>(flags: &AtomicU8, waiting: u8, cancel: u8) -> Poll<io::Result<T>> {
    if flags.load(Ordering::Acquire) & (cancel | CLOSED) != 0 {
        flags.fetch_and(!(cancel | waiting), Ordering::AcqRel);
        return Poll::Ready(Err(strait_streams::canceled()));
    }
    flags.fetch_or(waiting, Ordering::AcqRel);
    Poll::Pending
}

/// Wakes every task waiting on one queue (a listener's accepts, a stream's reads and
/// readable-waits): the queue's slot keeps one waker, this one.
#[derive(Default)]
struct Waiters {
    wakers: Mutex<Vec<Waker>>,
}

impl Waiters {
    fn add(&self, waker: &Waker) {
        let mut wakers = lock(&self.wakers);
        if !wakers.iter().any(|w| w.will_wake(waker)) {
            wakers.push(waker.clone());
        }
    }
}

impl Wake for Waiters {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        for w in lock(&self.wakers).drain(..) {
            w.wake();
        }
    }
}

impl Drop for RingListener {
    fn drop(&mut self) {
        if let Some(reg) = self.wait_reg.take() {
            drop(reg);
        }
        // SAFETY: dropped once, here, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.acceptor) };
        // As for streams: the listening socket closes now, so connects are refused.
        self.reactor.settle();
    }
}

/// Waits that `cancel` completes: each counts itself in `pending` while it waits and
/// remembers the `epoch` it saw; `cancel` bumps the epoch when any waits.
#[derive(Default)]
pub(super) struct Gate {
    waiters: Arc<Waiters>,
    pending: AtomicU64,
    epoch: AtomicU64,
}

impl Gate {
    /// Completes the current waits as canceled; whether any was waiting.
    pub(super) fn cancel(&self) -> bool {
        if self.pending.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Wake::wake_by_ref(&self.waiters);
        true
    }

    /// Completes every current wait as canceled (`close`: later waits are refused by
    /// their owner's closed flag).
    pub(super) fn close(&self) {
        self.epoch.fetch_add(1, Ordering::AcqRel);
        Wake::wake_by_ref(&self.waiters);
    }
}

/// One pending wait through a [`Gate`].
pub(super) struct GateWaiter<'a> {
    gate: &'a Gate,
    /// The cancel epoch seen when it first waited.
    epoch: Option<u64>,
}

impl<'a> GateWaiter<'a> {
    pub(super) fn new(gate: &'a Gate) -> Self {
        Self { gate, epoch: None }
    }

    /// Polls `op` with the gate's shared waker, `cx`'s waker registered with it.
    pub(super) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let gate = self.gate;
        let shared = Waker::from(gate.waiters.clone());
        // Registered before polling: a completion handled in between wakes it.
        gate.waiters.add(cx.waker());
        match op(&mut Context::from_waker(&shared)) {
            Poll::Ready(r) => {
                self.end();
                Poll::Ready(r)
            }
            Poll::Pending => match self.epoch {
                Some(seen) if seen != gate.epoch.load(Ordering::Acquire) => {
                    self.end();
                    Poll::Ready(Err(strait_streams::canceled()))
                }
                Some(_) => Poll::Pending,
                None => {
                    gate.pending.fetch_add(1, Ordering::AcqRel);
                    self.epoch = Some(gate.epoch.load(Ordering::Acquire));
                    Poll::Pending
                }
            },
        }
    }

    fn end(&mut self) {
        if self.epoch.take().is_some() {
            self.gate.pending.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for GateWaiter<'_> {
    fn drop(&mut self) {
        self.end();
    }
}

/// A listening TCP socket on the completion layer: a multishot accept.
pub(crate) struct RingListener {
    wait_reg: OnceLock<Registration>,
    // Dropped by hand (see `Drop`), before the reactor settles.
    acceptor: ManuallyDrop<Mutex<Acceptor>>,
    /// Pending accepts.
    gate: Gate,
    closed: std::sync::atomic::AtomicBool,
    reactor: Arc<Reactor>,
    completions: Arc<Completions>,
    fd: Arc<OwnedFd>,
}

impl std::fmt::Debug for RingListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingListener")
            .field("fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

impl RingListener {
    /// Arms the multishot accept of a listening socket `fd`.
    pub(crate) fn new(
        reactor: &Arc<Reactor>,
        completions: &Arc<Completions>,
        fd: OwnedFd,
    ) -> io::Result<RingListener> {
        let fd = Arc::new(fd);
        let acceptor = Acceptor::new(completions, fd.clone())?;
        Ok(RingListener {
            wait_reg: OnceLock::new(),
            acceptor: ManuallyDrop::new(Mutex::new(acceptor)),
            gate: Gate::default(),
            closed: Default::default(),
            reactor: reactor.clone(),
            completions: completions.clone(),
            fd,
        })
    }

    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// The next connection, as a ring stream, with its peer's address (`getpeername`:
    /// multishot accept reports none).
    pub(crate) async fn accept_once(&self) -> io::Result<(RingStream, SocketAddr)> {
        let stream = self.accept_stream().await?;
        let peer = socket2::SockRef::from(stream.fd())
            .peer_addr()?
            .as_socket()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidData, "accepted a non-IP peer"))?;
        Ok((stream, peer))
    }

    /// The next connection, as a ring stream, of any socket family (Unix listeners
    /// use it too).
    pub(crate) async fn accept_stream(&self) -> io::Result<RingStream> {
        let mut waiter = GateWaiter::new(&self.gate);
        let fd = std::future::poll_fn(|cx| {
            super::stream_io::stoppable(cx, |cx| {
                if self.closed.load(Ordering::Acquire) {
                    return Poll::Ready(Err(strait_streams::canceled()));
                }
                waiter.poll(cx, |cx| lock(&self.acceptor).poll_accept(cx))
            })
        })
        .await?;
        RingStream::new(&self.reactor, &self.completions, fd)
    }

    fn registration(&self) -> io::Result<&Registration> {
        if let Some(reg) = self.wait_reg.get() {
            return Ok(reg);
        }
        let reg = self.reactor.register(self.fd.as_raw_fd())?;
        let _ = self.wait_reg.set(reg);
        Ok(self.wait_reg.get().expect("set above"))
    }

    /// Readable: an accept would not wait (the multishot accept already took the
    /// connections out of the kernel's backlog, so its readiness would not say).
    pub(crate) async fn wait(&self, interest: Interest) -> io::Result<()> {
        if self.closed.load(Ordering::Acquire) {
            return Err(strait_streams::canceled());
        }
        if interest == Interest::Write {
            let reg = self.registration()?;
            return super::stream_io::wait(&reg.io, self.fd.as_fd(), interest).await;
        }
        let mut waiter = GateWaiter::new(&self.gate);
        std::future::poll_fn(|cx| {
            super::stream_io::stoppable(cx, |cx| {
                if self.closed.load(Ordering::Acquire) {
                    return Poll::Ready(Err(strait_streams::canceled()));
                }
                waiter.poll(cx, |cx| lock(&self.acceptor).poll_acceptable(cx))
            })
        })
        .await
    }

    pub(crate) fn cancel(&self) -> bool {
        let waits = self.wait_reg.get().is_some_and(|reg| reg.io.cancel());
        self.gate.cancel() | waits
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(reg) = self.wait_reg.get() {
            reg.io.close();
        }
        self.gate.close();
    }
}

/// One read from the receive queue into `bufs`; one buffer (the usual read) needs no
/// window of slices.
fn read_into(
    recv: &mut RecvQueue,
    cx: &mut Context<'_>,
    bufs: &mut [MutableBuffer<'_>],
) -> Poll<io::Result<usize>> {
    if let [one] = bufs {
        recv.poll_read_vectored(cx, &mut [IoSliceMut::new(one.as_mut_slice())])
    } else {
        recv.poll_read_vectored(cx, &mut IoSliceMutArray::from_buffers(bufs))
    }
}

/// Not checks: fixed-size workloads shaped like `strait-bench net`'s rows, to profile
/// (callgrind: two runs of different lengths cancel out the start-up) on the backend
/// `STRAIT_PROFILE_BACKEND` names (`epoll` or `io_uring`, completion sockets).
/// `cargo test --release -p strait-native --lib -- --ignored profile_`
#[cfg(test)]
mod profile {
    use std::io;
    use std::sync::Arc;
    use std::time::Duration;

    use strait_streams::{
        read_exact, write_all, BufferSource, BufferSourceExt, ReadStreamExt, WriteStreamExt,
    };

    use crate::{Backend, IoContext, TcpListener, TcpStream};

    fn knob(name: &str, default: usize) -> usize {
        std::env::var(name)
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    }

    fn context(runners: usize) -> IoContext {
        let backend = match std::env::var("STRAIT_PROFILE_BACKEND").as_deref() {
            Ok("epoll") => Backend::Epoll,
            _ => Backend::IoUring,
        };
        IoContext::builder()
            .backend(backend)
            .single_threaded(runners == 1)
            .build()
            .unwrap()
    }

    fn pair(ctx: &IoContext) -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind(ctx, "127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (c, (s, _)) = ctx
            .block_on(async {
                strait_streams::when_all((TcpStream::connect(ctx, addr), listener.accept())).await
            })
            .unwrap();
        for t in [&c, &s] {
            t.set_nodelay(true).unwrap();
            t.set_linger(Some(Duration::ZERO)).unwrap();
        }
        (c, s)
    }

    /// The throughput row: `STRAIT_PROFILE_MIB` MiB in `STRAIT_PROFILE_CHUNK`-byte
    /// writes, read 64 KiB at a time (or pulled, `STRAIT_PROFILE_PULL=1`).
    #[test]
    #[ignore = "a profiling workload, run by hand"]
    fn profile_throughput() {
        let ctx = context(1);
        let (c, s) = pair(&ctx);
        let total = knob("STRAIT_PROFILE_MIB", 64) << 20;
        let chunk = knob("STRAIT_PROFILE_CHUNK", 64 * 1024);
        let pull = knob("STRAIT_PROFILE_PULL", 0) == 1;
        let reader = ctx.spawn(async move {
            let mut s = s;
            let mut got = 0usize;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = if pull {
                    let n = s.fill().await?;
                    std::pin::Pin::new(&mut s).consume(n);
                    n
                } else {
                    s.read(&mut buf[..]).await?
                };
                if n == 0 {
                    return Ok::<_, io::Error>(got);
                }
                got += n;
            }
        });
        ctx.block_on(async {
            let mut c = &c;
            let data = vec![1u8; chunk];
            let mut sent = 0;
            while sent < total {
                write_all(&mut c, &data[..]).await?;
                sent += chunk;
            }
            c.shutdown().await
        })
        .unwrap();
        let got = ctx.block_on(reader).unwrap().unwrap();
        assert!(got >= total);
        eprintln!(
            "{} MiB on {:?}: {:?}",
            got >> 20,
            ctx.backend(),
            ctx.stats()
        );
        if let Some(c) = ctx.handle().reactor().selector.completions() {
            eprintln!("layer: {:?}", c.counters());
        }
    }

    /// The 16-pairs row: `STRAIT_PROFILE_PAIRS` echo pairs of 64-byte round trips,
    /// `STRAIT_PROFILE_TRIPS` each, on `STRAIT_PROFILE_RUNNERS` runner threads.
    #[test]
    #[ignore = "a profiling workload, run by hand"]
    fn profile_pairs() {
        let runners = knob("STRAIT_PROFILE_RUNNERS", 1);
        let ctx = Arc::new(context(runners));
        let trips = knob("STRAIT_PROFILE_TRIPS", 2000);
        let size = knob("STRAIT_PROFILE_SIZE", 64);
        let mut clients = Vec::new();
        for _ in 0..knob("STRAIT_PROFILE_PAIRS", 16) {
            let (c, mut s) = pair(&ctx);
            ctx.spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                loop {
                    match s.read(&mut buf[..]).await? {
                        0 => return Ok::<_, io::Error>(()),
                        n => {
                            write_all(&mut s, &buf[..n]).await?;
                        }
                    }
                }
            })
            .detach();
            clients.push(c);
        }
        let handles: Vec<_> = clients
            .into_iter()
            .map(|mut c| {
                ctx.spawn(async move {
                    let msg = vec![7u8; size];
                    let mut buf = vec![0u8; size];
                    for _ in 0..trips {
                        write_all(&mut c, &msg[..]).await?;
                        read_exact(&mut c, &mut buf[..]).await?;
                    }
                    c.shutdown().await
                })
            })
            .collect();
        let extra: Vec<_> = (1..runners)
            .map(|_| {
                let ctx = ctx.clone();
                std::thread::spawn(move || ctx.run())
            })
            .collect();
        ctx.block_on(async {
            for h in handles {
                h.await.unwrap().unwrap();
            }
        });
        for t in extra {
            t.join().unwrap();
        }
        eprintln!("pairs on {:?}: {:?}", ctx.backend(), ctx.stats());
    }
}
