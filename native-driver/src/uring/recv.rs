//! Per-socket multishot `RECV` with buffer selection.
//!
//! Each data CQE names a provided buffer; the socket's queue holds `(buffer id, len)`
//! in arrival order until a reader has taken every byte, then the buffer goes back to
//! the ring. A reader copies (`poll_read`, `poll_read_vectored`) or borrows the front
//! buffer with zero copy (`poll_fill` / `consume`); partially read buffers keep an
//! offset, so a read that is dropped or returns early loses nothing. End of stream and
//! errors are delivered after the data that arrived before them. The receive is
//! re-armed after a final CQE that did not end the stream, and after `ENOBUFS` once
//! buffers come back to the ring.
//!
//! Fair share: a queue that reaches `Config::socket_buffers` buffers pauses its
//! receive (cancels the multishot; that `ECANCELED` is no error) and re-arms once the
//! reader consumed half. Shares alone do not keep the ring live (`buf_entries /
//! socket_buffers` paused sockets hold all of it, and a burst may land before a pause),
//! so when the ring runs dry while other sockets starve, a paused socket's buffers
//! except its front one are copied into a spill it owns and returned
//! (`spill_excess`): a reader that does not read (a proxy waiting on its other side)
//! cannot stall the others.
//!
//! Direct reads: a read into a large buffer (`DIRECT_MIN`) that finds a backlog queued
//! (`PARK_BACKLOG` buffers: data arrives faster than the reader takes it) *parks* the
//! receive: it cancels the multishot like a pause. Once its final CQE is in (nothing
//! of this socket is left in the kernel or on its way) and the queue is read, reads
//! `recvmsg` straight into the caller's buffers (one copy, no operation, like the
//! epoll path). One that would block waits for readability with a one-shot
//! `POLL_ADD` in the slot (it takes no bytes) and reads directly again when it fires;
//! if what it finds then is small (the stream went sparse), or a reader waits without
//! reading (`poll_fill`, `poll_readable`), the multishot is re-armed instead. Ordering
//! holds by construction: a direct read runs only with the queue empty and no receive
//! in the kernel, so no byte can be received ahead of it, and only the reader (its
//! `&mut self`) re-arms a parked receive.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::task::{Context, Poll};

use io_uring::cqueue;

use super::buf_ring::BufRing;
use super::ops::{Body, Key, Phase};
use super::{count_ready, to_error, Completions, Counters, Next};

/// Buffers a spilled queue keeps: the front one, which a reader may be borrowing.
const SPILL_FLOOR: usize = 1;

/// How the stream ended (delivered after the queued data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Error(i32),
}

/// The receive queue of one socket (a slot body).
pub(crate) struct RecvState {
    /// Received buffers `(id, len)`, oldest first.
    queue: VecDeque<(u16, u32)>,
    /// Bytes of the front buffer already read.
    offset: usize,
    end: Option<End>,
    /// The last read returned `Pending` (for the inline/waited counters).
    waited: bool,
    /// Buffers this queue may hold before the receive pauses.
    cap: usize,
    /// The queue holds its share: no receive until the reader consumed half.
    paused: bool,
    /// A cancellation for the pause is in flight: its `ECANCELED` is no error.
    pausing: bool,
    /// Bytes that followed the queued buffers, copied out of the ring when this paused
    /// socket held more than its share while others starved (`spill_excess`); read
    /// after the queue, and the receive stays paused until they are.
    spill: Vec<u8>,
    spill_pos: usize,
    /// Reads go straight to the socket: the multishot is canceled (with `paused`
    /// set, so nothing re-arms it but the reader).
    parked: bool,
    /// The slot's operation is a readiness poll (parked), not the multishot.
    polling: bool,
    /// The poll fired since the last direct read (that read decides whether to stay
    /// parked).
    polled: bool,
}

/// The smallest read (bytes) that parks a streaming receive to read directly: below
/// a provided buffer's size, one syscall per read costs more than the copy it saves.
const DIRECT_MIN: usize = 16 * 1024;
/// Queued buffers that say the socket streams (the reader is behind).
const PARK_BACKLOG: usize = 2;

impl RecvState {
    fn new(capacity: usize, cap: usize) -> Self {
        Self {
            queue: VecDeque::with_capacity(capacity),
            offset: 0,
            end: None,
            waited: false,
            cap,
            paused: false,
            pausing: false,
            spill: Vec::new(),
            spill_pos: 0,
            parked: false,
            polling: false,
            polled: false,
        }
    }

    /// The operation to (re-)submit on `fd`: the multishot receive, or, parked, the
    /// readiness poll.
    pub(super) fn entry(&mut self, fd: io_uring::types::Fd, bgid: u16) -> io_uring::squeue::Entry {
        self.polling = self.parked;
        if self.parked {
            io_uring::opcode::PollAdd::new(fd, (libc::POLLIN | libc::POLLRDHUP) as u32).build()
        } else {
            io_uring::opcode::RecvMulti::new(fd, bgid).build()
        }
    }

    /// Handles one CQE of the multishot receive.
    pub(super) fn on_cqe(
        &mut self,
        result: i32,
        flags: u32,
        orphaned: bool,
        bufs: &mut BufRing,
        counters: &mut Counters,
    ) -> Next {
        let more = cqueue::more(flags);
        if !more {
            self.pausing = false;
        }
        if self.polling {
            // The parked receive's readiness poll (one-shot: always final). It takes
            // no bytes; its reader reads them.
            self.polling = false;
            self.polled = true;
            if cqueue::buffer_select(flags).is_some() {
                counters.anomalies += 1;
            }
            if result < 0 && result != -libc::ECANCELED && !orphaned {
                self.end.get_or_insert(End::Error(-result));
            } else if result == -libc::ECANCELED && !orphaned && self.end.is_none() {
                // The kernel's (its submitting thread exited), not ours: read again.
                self.parked = false;
                self.paused = false;
                return Next::Resubmit;
            }
            return Next::Done;
        }
        let bid = cqueue::buffer_select(flags);
        if result > 0 && bid.is_none() {
            // Data without a buffer cannot happen with buffer selection.
            counters.anomalies += 1;
        }
        if let Some(bid) = bid {
            if bufs.take(bid).is_err() {
                // Not a buffer the kernel handed over (out of range, or held already,
                // maybe by this very queue): neither queue nor return it.
                counters.anomalies += 1;
            } else if result > 0 && !orphaned && self.end.is_none() {
                self.queue.push_back((bid, result as u32));
            } else if bufs.put(bid).is_err() {
                counters.anomalies += 1;
            }
        }
        match result {
            r if r > 0 => {
                if orphaned {
                    return Next::Done;
                }
                if self.queue.len() >= self.cap && !self.paused {
                    self.paused = true;
                    counters.pauses += 1;
                    if more {
                        self.pausing = true;
                        return Next::Pause;
                    }
                }
                if self.paused {
                    Next::Done
                } else {
                    Next::Resubmit // only acted on when the multishot ended
                }
            }
            0 => {
                self.end.get_or_insert(End::Eof);
                Next::Done
            }
            r if r == -libc::ENOBUFS => {
                counters.buffer_exhaustions += 1;
                if orphaned {
                    Next::Done
                } else {
                    Next::Starved
                }
            }
            // Ours (an orphan, a pause), or the kernel's: a request whose submitting
            // thread exited has its wake-ups run by a kernel worker, which ends it
            // with ECANCELED. Only an orphan or a pause stays stopped.
            r if r == -libc::ECANCELED => {
                if orphaned || self.paused || self.end.is_some() {
                    Next::Done
                } else {
                    Next::Resubmit // the reader caught up, or the kernel ended it
                }
            }
            r => {
                self.end.get_or_insert(End::Error(-r));
                Next::Done
            }
        }
    }

    /// Records a failed (re-)submission as the stream's end.
    pub(super) fn fail(&mut self, errno: i32) {
        self.end.get_or_insert(End::Error(errno));
    }

    /// Still expects data (not ended, not paused): worth re-arming.
    pub(super) fn wants_data(&self) -> bool {
        self.end.is_none() && !self.paused
    }

    /// The pause could not cancel the receive: it goes on past the share (a park is
    /// given up: the receive goes on as before).
    pub(super) fn pause_failed(&mut self) {
        self.pausing = false;
        if std::mem::take(&mut self.parked) {
            self.paused = false;
        }
    }

    /// Reads go to the socket from now on; the caller cancels the multishot.
    pub(super) fn park(&mut self) {
        self.parked = true;
        self.paused = true;
        self.pausing = true;
    }

    /// Receives through the multishot again; the caller re-arms it.
    fn unpark(&mut self) {
        self.parked = false;
        self.paused = false;
    }

    /// Ends a pause once the reader consumed half the share; `true` when the receive
    /// must be re-armed by the caller.
    fn resume_if_drained(&mut self) -> bool {
        if self.paused && !self.parked && self.queue.len() <= self.cap / 2 && self.spill.is_empty()
        {
            self.paused = false;
            // While the pause's cancel is in flight its final CQE re-arms instead.
            return !self.pausing && self.end.is_none();
        }
        false
    }

    /// Paused with buffers beyond its front one and no spill yet: a candidate for
    /// `spill_excess`.
    pub(super) fn spillable(&self) -> bool {
        self.paused && self.queue.len() > SPILL_FLOOR && self.spill.is_empty()
    }

    /// Copies every buffer but the front one out of the ring (into `spill`) and returns
    /// them, so sockets starved by readers that do not read can go on. Only while no
    /// receive is in flight (nothing can arrive behind the spill), and allocates: it is
    /// the overload path, counted in `Counters::spills`.
    pub(super) fn spill_excess(&mut self, bufs: &mut BufRing) -> bool {
        if !self.spillable() {
            return false;
        }
        // The front buffer may be partly read, or lent to a zero-copy reader
        // (`poll_fill`): it always stays queued.
        let keep = SPILL_FLOOR;
        let bytes: usize = self
            .queue
            .iter()
            .skip(keep)
            .map(|&(_, len)| len as usize)
            .sum();
        let mut spill = Vec::with_capacity(bytes);
        for (bid, len) in self.queue.drain(keep..) {
            spill.extend_from_slice(bufs.bytes(bid, len as usize));
            bufs.put(bid).expect("a queued buffer is held");
        }
        self.spill = spill;
        self.spill_pos = 0;
        true
    }

    /// Bytes queued and not read (buffers and spill).
    fn unread(&self) -> usize {
        self.queue
            .iter()
            .map(|&(_, len)| len as usize)
            .sum::<usize>()
            - self.offset
            + (self.spill.len() - self.spill_pos)
    }

    /// Something to read (queued buffers or spilled bytes).
    fn has_data(&self) -> bool {
        !self.queue.is_empty() || self.spill_pos < self.spill.len()
    }

    /// The unread bytes at the front: the front buffer's, else the spill's.
    fn front_raw(&self, bufs: &BufRing) -> Option<(*const u8, usize)> {
        if let Some(&(bid, len)) = self.queue.front() {
            // SAFETY: `offset <= len <= buffer size`, inside the held buffer.
            let ptr = unsafe { bufs.raw(bid).add(self.offset) };
            return Some((ptr, len as usize - self.offset));
        }
        self.spill
            .get(self.spill_pos..)
            .filter(|rest| !rest.is_empty())
            .map(|rest| (rest.as_ptr(), rest.len()))
    }

    /// Returns every queued buffer to the ring (the queue's owner is gone).
    pub(super) fn return_all(&mut self, bufs: &mut BufRing, counters: &mut Counters) {
        for (bid, _) in self.queue.drain(..) {
            if bufs.put(bid).is_err() {
                counters.anomalies += 1;
            }
        }
        self.offset = 0;
        self.spill = Vec::new();
        self.spill_pos = 0;
    }

    /// Copies queued bytes into `dst`, returning fully read buffers to the ring.
    fn copy_out(&mut self, bufs: &mut BufRing, dst: &mut [IoSliceMut<'_>]) -> usize {
        let mut copied = 0;
        for out in dst.iter_mut() {
            let mut filled = 0;
            while filled < out.len() {
                let n = if let Some(&(bid, len)) = self.queue.front() {
                    let src = &bufs.bytes(bid, len as usize)[self.offset..];
                    let n = src.len().min(out.len() - filled);
                    out[filled..filled + n].copy_from_slice(&src[..n]);
                    n
                } else if self.spill_pos < self.spill.len() {
                    let src = &self.spill[self.spill_pos..];
                    let n = src.len().min(out.len() - filled);
                    out[filled..filled + n].copy_from_slice(&src[..n]);
                    n
                } else {
                    break;
                };
                filled += n;
                self.advance(bufs, n);
            }
            copied += filled;
            if !self.has_data() {
                break;
            }
        }
        copied
    }

    /// Marks `n` bytes at the front read; a finished buffer goes back to the ring, a
    /// finished spill is freed.
    fn advance(&mut self, bufs: &mut BufRing, n: usize) {
        if let Some(&(bid, len)) = self.queue.front() {
            self.offset += n;
            assert!(
                self.offset <= len as usize,
                "consumed past the front buffer"
            );
            if self.offset == len as usize {
                self.queue.pop_front();
                self.offset = 0;
                bufs.put(bid).expect("a queued buffer is held");
            }
            return;
        }
        self.spill_pos += n;
        assert!(
            self.spill_pos <= self.spill.len(),
            "consumed past the received bytes"
        );
        if self.spill_pos == self.spill.len() {
            self.spill = Vec::new();
            self.spill_pos = 0;
        }
    }

    fn end_result(&self) -> Option<io::Result<()>> {
        match self.end? {
            End::Eof => Some(Ok(())),
            End::Error(errno) => Some(Err(to_error(errno))),
        }
    }
}

/// The receiving half of a socket on the ring: a multishot receive and its queue.
/// Dropping it cancels the receive and returns the queued buffers.
pub(crate) struct RecvQueue {
    completions: Arc<Completions>,
    key: Key,
}

impl RecvQueue {
    /// Arms a multishot receive on `fd` (a connected stream socket).
    pub(crate) fn new(completions: &Arc<Completions>, fd: Arc<OwnedFd>) -> io::Result<Self> {
        // Grows to the socket's high-water mark, then never allocates again.
        let state = RecvState::new(8, usize::from(completions.socket_buffers));
        let key = completions.open(Body::Recv(state), fd, true)?;
        Ok(Self {
            completions: completions.clone(),
            key,
        })
    }

    /// Reads into `dst`: queued bytes at once, else waits. `Ok(0)` is end of stream
    /// (or an empty `dst`).
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_vectored(cx, &mut [IoSliceMut::new(dst)])
    }

    /// Reads into `dst` in order, like [`poll_read`](Self::poll_read).
    pub(crate) fn poll_read_vectored(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        if dst.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &mut slot.body else {
            unreachable!("receive slot")
        };
        let counters = &mut driver.counters;
        if recv.has_data() {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            // A backlog first: most reads (request/response) stop there.
            let park = recv.queue.len() >= PARK_BACKLOG
                && !recv.parked
                && recv.end.is_none()
                && dst.iter().map(|b| b.len()).sum::<usize>() >= DIRECT_MIN;
            let mut cancel = false;
            if park && recv.paused {
                // Paused at its share: stays so, its reader reads directly next.
                recv.parked = true;
                counters.parks += 1;
            } else if park {
                cancel = slot.phase == Phase::InFlight;
            }
            let n = recv.copy_out(&mut driver.bufs, dst);
            let resume = recv.resume_if_drained();
            if cancel {
                driver.park(&*self.completions.submit, self.key);
            }
            self.after_read(driver, resume);
            self.completions.unlock(guard);
            return Poll::Ready(Ok(n));
        }
        if let Some(end) = recv.end_result() {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            return Poll::Ready(end.map(|()| 0));
        }
        if recv.parked && slot.phase == Phase::Idle {
            // Nothing queued, nothing in the kernel, and only this reader re-arms
            // a parked receive: the socket's next bytes are the stream's next.
            let fd = slot.raw_fd();
            drop(guard);
            let got = recv_direct(fd, dst);
            return self.after_direct(cx, got);
        }
        recv.waited = true;
        slot.set_waker(cx.waker());
        Poll::Pending
    }

    /// Accounts a direct read; one that would block re-arms the multishot and waits.
    fn after_direct(
        &mut self,
        cx: &mut Context<'_>,
        got: io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &mut slot.body else {
            unreachable!("receive slot")
        };
        let counters = &mut driver.counters;
        let polled = std::mem::take(&mut recv.polled);
        let errno = match got {
            Ok(n) => {
                if polled && n > 0 && n < DIRECT_MIN && recv.end.is_none() {
                    // Woken for little: the stream went sparse, the multishot (no
                    // syscall per read) serves it better.
                    recv.unpark();
                    counters.rearms += 1;
                    let _ = driver.submit_again(&*self.completions.submit, self.key);
                    let slot = driver.slots.get_mut(self.key).expect("a live slot");
                    let Body::Recv(recv) = &mut slot.body else {
                        unreachable!("receive slot")
                    };
                    count_ready(
                        &mut recv.waited,
                        &mut driver.counters.reads_inline,
                        &mut driver.counters.reads_waited,
                    );
                    driver.counters.reads_direct += 1;
                    return Poll::Ready(Ok(n));
                }
                counters.reads_direct += 1;
                count_ready(
                    &mut recv.waited,
                    &mut counters.reads_inline,
                    &mut counters.reads_waited,
                );
                if n == 0 {
                    recv.end.get_or_insert(End::Eof);
                }
                return Poll::Ready(Ok(n));
            }
            Err(e) => e.raw_os_error().unwrap_or(libc::EIO),
        };
        if errno != libc::EAGAIN && errno != libc::EWOULDBLOCK {
            recv.end.get_or_insert(End::Error(errno));
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            return Poll::Ready(Err(to_error(errno)));
        }
        if polled {
            // Woken, yet nothing to read (a spurious or consumed wake-up): the
            // multishot takes over.
            recv.unpark();
        }
        recv.waited = true;
        slot.set_waker(cx.waker());
        counters.rearms += 1;
        // The readiness poll (parked) or the multishot; a failure is recorded as the
        // stream's end: reported at once.
        if driver
            .submit_again(&*self.completions.submit, self.key)
            .is_err()
        {
            let slot = driver.slots.get_mut(self.key).expect("a live slot");
            slot.waker = None;
            let Body::Recv(recv) = &mut slot.body else {
                unreachable!("receive slot")
            };
            count_ready(
                &mut recv.waited,
                &mut driver.counters.reads_inline,
                &mut driver.counters.reads_waited,
            );
            if let Some(end) = recv.end_result() {
                return Poll::Ready(end.map(|()| 0));
            }
        }
        Poll::Pending
    }

    /// A parked receive with nothing queued is re-armed, so a wait for data that
    /// does not read (`poll_readable`, `poll_fill`) hears of it.
    fn unpark_to_wait(&self, driver: &mut super::Driver) {
        let Some(slot) = driver.slots.get_mut(self.key) else {
            return;
        };
        let Body::Recv(recv) = &mut slot.body else {
            return;
        };
        if recv.parked && slot.phase == Phase::Idle && !recv.has_data() && recv.end.is_none() {
            recv.unpark();
            driver.counters.rearms += 1;
            // A failure is recorded as the stream's end (the caller looks again).
            let _ = driver.submit_again(&*self.completions.submit, self.key);
        }
    }

    /// Ready when a read would not wait (data or the end queued; the context-gone
    /// error once the layer shut down); else stores the waker. Counts nothing and
    /// consumes nothing.
    pub(crate) fn poll_readable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut driver = self.completions.lock();
        self.unpark_to_wait(&mut driver);
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &slot.body else {
            unreachable!("receive slot")
        };
        if recv.has_data() {
            return Poll::Ready(Ok(()));
        }
        match recv.end {
            Some(End::Error(super::GONE)) => Poll::Ready(Err(to_error(super::GONE))),
            Some(_) => Poll::Ready(Ok(())),
            None => {
                slot.set_waker(cx.waker());
                Poll::Pending
            }
        }
    }

    /// Borrows the unread bytes of the front buffer with zero copy; empty at end of
    /// stream. They stay queued until [`consume`](Self::consume).
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let mut guard = self.completions.lock();
        self.unpark_to_wait(&mut guard);
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &mut slot.body else {
            unreachable!("receive slot")
        };
        let counters = &mut driver.counters;
        if let Some((ptr, len)) = recv.front_raw(&driver.bufs) {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            drop(guard);
            // SAFETY: the front bytes are this queue's own: a held buffer the kernel
            // does not write, or the spill, which only a reader or `spill_excess` (never
            // while the spill is non-empty) changes. Only `consume`/`poll_read*` (which
            // need `&mut self`, so cannot run while this borrow lives) or dropping
            // `self` (likewise) give them up. The memory lives in the buffer mapping or
            // the spill's heap block, kept by the slot that `self` keeps.
            let bytes = unsafe { std::slice::from_raw_parts(ptr, len) };
            return Poll::Ready(Ok(bytes));
        }
        if let Some(end) = recv.end_result() {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            return Poll::Ready(end.map(|()| &[][..]));
        }
        recv.waited = true;
        slot.set_waker(cx.waker());
        Poll::Pending
    }

    /// Marks the first `n` bytes returned by [`poll_fill`](Self::poll_fill) as read.
    ///
    /// # Panics
    /// If `n` exceeds what `poll_fill` returned.
    pub(crate) fn consume(&mut self, n: usize) {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &mut slot.body else {
            unreachable!("receive slot")
        };
        recv.advance(&mut driver.bufs, n);
        let resume = recv.resume_if_drained();
        self.after_read(driver, resume);
        self.completions.unlock(guard);
    }

    /// After buffers went back: re-arms this receive if its pause ended, and starved
    /// ones as the returned buffers allow.
    fn after_read(&self, driver: &mut super::Driver, resume: bool) {
        let submit = &*self.completions.submit;
        if resume
            && driver
                .slots
                .get_mut(self.key)
                .is_some_and(|slot| slot.phase == super::ops::Phase::Idle)
        {
            driver.counters.rearms += 1;
            // A failure is recorded as the stream's end.
            let _ = driver.submit_again(submit, self.key);
        }
        driver.rearm_starved(submit);
    }

    /// Bytes queued and not yet read.
    pub(crate) fn queued(&self) -> usize {
        let mut driver = self.completions.lock();
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &slot.body else {
            unreachable!("receive slot")
        };
        recv.unread()
    }
}

impl Drop for RecvQueue {
    fn drop(&mut self) {
        self.completions.release(self.key);
    }
}

/// A non-blocking `recvmsg` into `dst` (retried on `EINTR`).
fn recv_direct(fd: i32, dst: &mut [IoSliceMut<'_>]) -> io::Result<usize> {
    // SAFETY: a zeroed msghdr is valid (no name, no control).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSliceMut` is ABI-compatible with `iovec` on Unix.
    msg.msg_iov = dst.as_mut_ptr().cast();
    msg.msg_iovlen = dst.len().min(libc::UIO_MAXIOV as usize) as _;
    loop {
        // SAFETY: `msg` names `dst`'s buffers, writable for their lengths and borrowed
        // for the call; the descriptor is the slot's, alive while the queue lives.
        let n = unsafe { libc::recvmsg(fd, &mut msg, libc::MSG_DONTWAIT) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::EINTR) {
            return Err(e);
        }
    }
}
