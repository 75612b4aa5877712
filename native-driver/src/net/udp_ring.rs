//! UDP on the io_uring backend: completion I/O through the completion layer
//! (`uring::datagram`: one-shot `RECVMSG`/`SENDMSG` whose header, address and data live
//! in a slot-owned [`MsgBuf`]).
//!
//! The socket owns one receive at a time, not the futures that wait for it: a
//! `recv_from` dropped (or stopped, or canceled) while the receive is in flight leaves
//! it running, and the datagram it brings waits for the next `recv_from`, so no
//! datagram is lost to a drop (as on epoll, where a dropped receive consumed nothing).
//! Once a datagram is taken the next receive is submitted at once, so a busy socket
//! always has one in the kernel. A receive takes a datagram of up to
//! [`DATAGRAM_MAX`](crate::uring::datagram::DATAGRAM_MAX) bytes whole; the caller gets
//! as much as its buffer holds (the rest is discarded, as `recvfrom` does).
//!
//! Sends are one-shot operations of their future: a dropped or stopped send is
//! canceled (its datagram may still have gone out). Message blocks are recycled, so
//! steady traffic allocates nothing.

use std::future::Future;
use std::io;
use std::mem::ManuallyDrop;
use std::net::SocketAddr;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll};

use super::stream_io::stoppable;
use super::tcp_ring::{Gate, GateWaiter};
use crate::reactor::{Interest, Reactor, Registration};
use crate::sync::lock;
use crate::uring::datagram::{recv_msg, send_msg, MsgBuf};
use crate::uring::{Completions, Op};

/// Message blocks kept for reuse (beyond them, finished sends free theirs).
const SPARE_MAX: usize = 4;

/// A UDP socket on the completion layer.
pub(crate) struct RingUdp {
    wait_reg: OnceLock<Registration>,
    // Dropped by hand (see `Drop`), before the reactor settles.
    recv: ManuallyDrop<Mutex<RecvSide>>,
    /// Boxed: operations lend the kernel a `Box<MsgBuf>` (a block that does not move),
    /// and these are kept as they come back.
    #[allow(clippy::vec_box)]
    spare: Mutex<Vec<Box<MsgBuf>>>,
    readers: Gate,
    writers: Gate,
    closed: AtomicBool,
    reactor: Arc<Reactor>,
    completions: Arc<Completions>,
    fd: Arc<OwnedFd>,
}

impl std::fmt::Debug for RingUdp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingUdp")
            .field("fd", &self.fd.as_raw_fd())
            .finish_non_exhaustive()
    }
}

/// The socket's receive: in flight, or done and waiting to be taken.
#[derive(Default)]
struct RecvSide {
    op: Option<Op<Box<MsgBuf>>>,
    /// A received datagram (or a receive error) nobody took yet.
    ready: Option<(io::Result<u32>, Box<MsgBuf>)>,
    /// The block of the last datagram taken, for the next receive.
    idle: Option<Box<MsgBuf>>,
}

impl RecvSide {
    /// Submits a receive unless one is in flight or done.
    fn arm(&mut self, completions: &Arc<Completions>, fd: &Arc<OwnedFd>) -> io::Result<()> {
        if self.op.is_some() || self.ready.is_some() {
            return Ok(());
        }
        let msg = self.idle.take().unwrap_or_else(MsgBuf::new);
        self.op = Some(recv_msg(completions, fd, msg)?);
        Ok(())
    }

    /// Ready when a datagram (or an error) waits to be taken.
    fn poll_ready(
        &mut self,
        cx: &mut Context<'_>,
        completions: &Arc<Completions>,
        fd: &Arc<OwnedFd>,
    ) -> Poll<io::Result<()>> {
        loop {
            if self.ready.is_some() {
                return Poll::Ready(Ok(()));
            }
            let Some(op) = self.op.as_mut() else {
                self.arm(completions, fd)?;
                continue;
            };
            let out = std::task::ready!(Pin::new(op).poll(cx));
            self.op = None;
            self.ready = Some((out.result, out.resource));
        }
    }

    /// Takes the waiting datagram into `out` (truncated to it); its count and sender.
    fn take(&mut self, out: &mut [u8]) -> io::Result<(usize, Option<SocketAddr>)> {
        let (result, msg) = self.ready.take().expect("poll_ready said ready");
        let taken = result.map(|n| {
            let data = msg.data(n as usize);
            let k = data.len().min(out.len());
            out[..k].copy_from_slice(&data[..k]);
            (k, msg.sender())
        });
        self.idle = Some(msg);
        taken
    }
}

impl RingUdp {
    /// A bound UDP socket `fd` on the completion layer (no operation submitted yet).
    pub(crate) fn new(reactor: &Arc<Reactor>, completions: &Arc<Completions>, fd: OwnedFd) -> Self {
        RingUdp {
            wait_reg: OnceLock::new(),
            recv: ManuallyDrop::new(Mutex::new(RecvSide::default())),
            spare: Mutex::new(Vec::new()),
            readers: Gate::default(),
            writers: Gate::default(),
            closed: AtomicBool::new(false),
            reactor: reactor.clone(),
            completions: completions.clone(),
            fd: Arc::new(fd),
        }
    }

    pub(crate) fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Receives one datagram into `buf` (truncated to it): its length and sender.
    pub(crate) async fn recv_from(
        &self,
        buf: &mut [u8],
    ) -> io::Result<(usize, Option<SocketAddr>)> {
        let mut waiter = GateWaiter::new(&self.readers);
        std::future::poll_fn(|cx| {
            stoppable(cx, |cx| {
                if self.closed() {
                    return Poll::Ready(Err(strait_streams::canceled()));
                }
                waiter.poll(cx, |cx| {
                    let mut recv = lock(&self.recv);
                    std::task::ready!(recv.poll_ready(cx, &self.completions, &self.fd))?;
                    let taken = recv.take(buf);
                    // The next datagram lands while this one is handled; a failure to
                    // submit shows at the next receive.
                    let _ = recv.arm(&self.completions, &self.fd);
                    Poll::Ready(taken)
                })
            })
        })
        .await
    }

    /// Sends one datagram to `target` (none: the connected peer).
    pub(crate) async fn send_to(
        &self,
        buf: &[u8],
        target: Option<SocketAddr>,
    ) -> io::Result<usize> {
        if self.closed() || strait_streams::stop_requested() {
            return Err(strait_streams::canceled()); // starts nothing
        }
        let mut msg = lock(&self.spare).pop().unwrap_or_else(MsgBuf::new);
        msg.fill(buf, target);
        let mut op = send_msg(&self.completions, &self.fd, msg)?;
        let mut waiter = GateWaiter::new(&self.writers);
        let out = std::future::poll_fn(|cx| {
            stoppable(cx, |cx| {
                if self.closed() {
                    return Poll::Ready(Err(strait_streams::canceled()));
                }
                waiter.poll(cx, |cx| Pin::new(&mut op).poll(cx).map(Ok))
            })
        })
        .await?;
        let mut spare = lock(&self.spare);
        if spare.len() < SPARE_MAX {
            spare.push(out.resource);
        }
        out.result.map(|n| n as usize)
    }

    fn registration(&self) -> io::Result<&Registration> {
        if let Some(reg) = self.wait_reg.get() {
            return Ok(reg);
        }
        let reg = self.reactor.register(self.fd.as_raw_fd())?;
        let _ = self.wait_reg.set(reg);
        Ok(self.wait_reg.get().expect("set above"))
    }

    /// Readable: a receive would not wait (a datagram or an error was received: the
    /// socket's receive is armed by this wait if it was not). Writable: the socket's
    /// readiness, registered on first use.
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
            stoppable(cx, |cx| {
                if self.closed() {
                    return Poll::Ready(Err(strait_streams::canceled()));
                }
                waiter.poll(cx, |cx| {
                    lock(&self.recv).poll_ready(cx, &self.completions, &self.fd)
                })
            })
        })
        .await
    }

    pub(crate) fn cancel(&self) -> bool {
        let waits = self.wait_reg.get().is_some_and(|reg| reg.io.cancel());
        self.readers.cancel() | self.writers.cancel() | waits
    }

    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::Release);
        if let Some(reg) = self.wait_reg.get() {
            reg.io.close();
        }
        self.readers.close();
        self.writers.close();
    }
}

impl Drop for RingUdp {
    fn drop(&mut self) {
        if let Some(reg) = self.wait_reg.take() {
            drop(reg);
        }
        // SAFETY: dropped once, here, and never used again.
        unsafe { ManuallyDrop::drop(&mut self.recv) };
        // The receive's cancellation is queued: have the kernel run it and its CQE
        // handled, so the descriptor closes now.
        self.reactor.settle();
    }
}
