//! Write-behind sends: with nothing queued, `poll_write` (and `commit`) first offer the
//! bytes to a synchronous non-blocking `sendmsg` — no copy, no operation, nothing to
//! flush when the socket takes them all, and sound because the kernel is done with
//! the caller's memory when the call returns. The rest is copied into the socket's
//! driver-owned block, or a zero-copy writer fills the block in place (`poll_prepare`,
//! then `commit`); one `SEND` at a time carries the unsent bytes to the kernel, a short send
//! resubmits the rest in order, and `poll_flush` completes once every byte written has
//! been accepted by the kernel. A send error is reported by the next write or flush.
//!
//! The buffer belongs to the slot: a send's bytes `[sent, len)` are never moved or
//! freed before its CQE. New bytes go past `len`, within the block's capacity (it only
//! grows while no send is in flight), and compaction only runs between sends and never
//! while a prepared window is lent out. Dropping the writer lets the slot finish
//! delivering what was written, then frees it; within bounds (`Completions::set_linger`).
//!
//! Large unsent runs may go as `SEND_ZC` instead (opt-in, `send_zc`): their block stays
//! put until the kernel's notification, the send's final CQE. A zero-copy writer's
//! `commit` of such a run skips the direct `sendmsg` (which would copy it).

use std::io::{self, IoSlice};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::task::{Context, Poll};

use io_uring::{squeue, types};

use super::ops::{Body, Key, Phase};
use super::send_zc::{self, Flight, Policy, ZcCqe};
use super::{count_ready, to_error, Completions, Counters, Next};

/// Smallest write-behind block allocated (unless the limit is smaller).
const MIN_BLOCK: usize = 4096;

/// Bytes of drained write-behind blocks the layer keeps for reuse.
const POOL_BYTES: usize = 1 << 20;

/// `sendmsg(MSG_DONTWAIT | MSG_NOSIGNAL)` of `bufs` on `fd`: synchronous, so the
/// kernel is done with the caller's memory when it returns.
fn send_direct(fd: i32, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    // SAFETY: a zeroed msghdr is valid (no name, no control data).
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    // `IoSlice` is ABI-compatible with `iovec`; the kernel only reads through it.
    msg.msg_iov = bufs.as_ptr().cast_mut().cast();
    msg.msg_iovlen = bufs.len().min(1024) as _;
    loop {
        // SAFETY: `msg` points at `bufs`, alive for the call; the call is synchronous.
        let n = unsafe { libc::sendmsg(fd, &msg, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL) };
        if n >= 0 {
            return Ok(n as usize);
        }
        let e = io::Error::last_os_error();
        if e.kind() != io::ErrorKind::Interrupted {
            return Err(e);
        }
    }
}

/// Drained write-behind blocks (emptied, capacity kept), up to [`POOL_BYTES`]: a
/// socket whose sends drained holds no block, and the next one to need a block takes
/// one from here instead of allocating.
#[derive(Default)]
pub(crate) struct BlockPool {
    blocks: Vec<Vec<u8>>,
    bytes: usize,
}

impl BlockPool {
    /// Bytes of the blocks kept.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.bytes
    }

    /// A block (empty, maybe with capacity) for a socket that has none.
    fn take(&mut self) -> Vec<u8> {
        let block = self.blocks.pop().unwrap_or_default();
        self.bytes -= block.capacity();
        block
    }

    /// Keeps `block` for reuse, or frees it when the pool is full.
    fn put(&mut self, mut block: Vec<u8>) {
        if block.capacity() == 0 || self.bytes + block.capacity() > POOL_BYTES {
            return;
        }
        block.clear();
        self.bytes += block.capacity();
        self.blocks.push(block);
    }
}

/// The write-behind buffer of one socket (a slot body).
pub(crate) struct SendState {
    /// Bytes written and not yet accepted by the kernel start at `sent`. Allocated on
    /// first write and grown (doubling, up to `limit`) only while no send is in flight,
    /// so the block never moves under the kernel; an idle socket that never wrote
    /// holds no block, and one that did keeps its high-water block (no allocation per
    /// write in steady state).
    buf: Vec<u8>,
    sent: usize,
    limit: usize,
    error: Option<i32>,
    /// The last write returned `Pending` (for the inline/waited counters).
    waited: bool,
    /// A window past `len` is lent to a zero-copy writer (`poll_prepare`): the bytes
    /// below it must not move until it is committed or given up.
    lent: bool,
    /// When unsent runs go zero-copy (`send_zc`).
    zero_copy: Policy,
    /// The send in flight, and whether the kernel may still read the block after it.
    flight: Flight,
}

impl SendState {
    fn new(limit: usize, zero_copy: Policy) -> Self {
        Self {
            buf: Vec::new(),
            sent: 0,
            limit: limit.max(1),
            error: None,
            lent: false,
            waited: false,
            zero_copy,
            flight: Flight::Plain { fallback: false },
        }
    }

    /// Makes room for `want` more bytes if it can (no send in flight), within the limit.
    fn grow(&mut self, want: usize) {
        let need = (self.buf.len() + want).min(self.limit);
        if need > self.buf.capacity() {
            let target = need
                .max((self.buf.capacity() * 2).min(self.limit))
                .max(MIN_BLOCK.min(self.limit));
            self.buf.reserve_exact(target - self.buf.len());
            // Initialise the spare capacity once, so windows lent past `len` are plain
            // bytes (truncating and compacting never de-initialise them).
            self.buf
                .spare_capacity_mut()
                .fill(std::mem::MaybeUninit::new(0));
        }
    }

    /// With no send in flight and no window lent: drops what was sent and moves the
    /// unsent bytes to the front.
    fn compact(&mut self) {
        debug_assert!(!self.flight.pins_block(), "compacting a pinned block");
        if self.sent == 0 {
            return;
        }
        self.buf.copy_within(self.sent.., 0);
        self.buf.truncate(self.buf.len() - self.sent);
        self.sent = 0;
    }

    /// Bytes written and not yet accepted by the kernel.
    pub(super) fn unsent(&self) -> usize {
        self.buf.len() - self.sent
    }

    /// Bytes that can be appended without moving the block.
    fn room(&self) -> usize {
        self.buf
            .capacity()
            .min(self.limit)
            .saturating_sub(self.buf.len())
    }

    /// The `SEND` (or `SEND_ZC`, for a run the policy finds large enough) for every
    /// unsent byte; records which went in flight.
    pub(super) fn entry(&mut self, fd: types::Fd) -> squeue::Entry {
        let unsent = &self.buf[self.sent..];
        // One SEND carries at most 4 GiB - 1; a short send resubmits the rest.
        let len = u32::try_from(unsent.len()).unwrap_or(u32::MAX);
        let (entry, flight) = send_zc::entry(&self.zero_copy, fd, unsent.as_ptr(), len);
        self.flight = flight;
        entry
    }

    /// A zero-copy writer's commit of `len` unsent bytes goes zero-copy: no direct
    /// `sendmsg` first (it would copy them).
    fn wants_zero_copy(&self) -> bool {
        self.zero_copy.zero_copy(self.unsent())
    }

    /// Handles a CQE of the send in flight (a `SEND`'s, or a `SEND_ZC`'s result or
    /// notification): what the slot does next once it is the final one.
    pub(super) fn on_cqe(
        &mut self,
        result: i32,
        flags: u32,
        orphaned: bool,
        counters: &mut Counters,
    ) -> Next {
        let flight = std::mem::replace(&mut self.flight, Flight::Plain { fallback: false });
        match send_zc::classify(flight, &mut self.zero_copy, result, flags, counters) {
            ZcCqe::Result {
                notification_follows,
            } => {
                let verdict = self.apply(result);
                if notification_follows {
                    // The bytes are counted as sent, but the block stays put until the
                    // notification (the final CQE; this one has `F_MORE`).
                    self.flight = Flight::Notification {
                        verdict,
                        refused: false,
                    };
                    return Next::Done;
                }
                verdict.unwrap_or_else(|| self.after_send(orphaned))
            }
            ZcCqe::Refused {
                notification_follows,
            } => {
                // Nothing was sent: the same bytes go again as a plain send.
                let verdict = if self.error.is_none() {
                    Next::Resubmit
                } else {
                    Next::Done
                };
                if notification_follows {
                    self.flight = Flight::Notification {
                        verdict: Some(verdict),
                        refused: true,
                    };
                    return Next::Done;
                }
                verdict
            }
            ZcCqe::Notified { verdict, .. } => verdict.unwrap_or_else(|| self.after_send(orphaned)),
            ZcCqe::Lost => {
                // The kernel may read the block until a notification that may never
                // come (or came and was dropped): never free or reuse it.
                std::mem::forget(std::mem::take(&mut self.buf));
                self.sent = 0;
                self.lent = false;
                self.error.get_or_insert(super::LOST);
                Next::Done
            }
            ZcCqe::Stray => {
                self.flight = flight;
                Next::Done
            }
        }
    }

    /// Applies a send's result: `Some` when it decides what comes next (an error, a
    /// resend), `None` when the bytes it sent were counted.
    fn apply(&mut self, result: i32) -> Option<Next> {
        if result == -libc::ECANCELED && self.error.is_none() && self.unsent() > 0 {
            // Not ours (a shutdown's arrives as the context-gone error): the kernel
            // ended the send because the thread that submitted it exited. Send again.
            return Some(Next::Resubmit);
        }
        if result < 0 {
            self.error.get_or_insert(-result);
            return Some(Next::Done);
        }
        if result == 0 {
            // A stream socket that takes nothing of a non-empty send will not take more.
            self.error.get_or_insert(libc::EPIPE);
            return Some(Next::Done);
        }
        self.sent += result as usize;
        None
    }

    /// After a send's final CQE that sent bytes: compacts, and says whether the rest
    /// goes out.
    fn after_send(&mut self, orphaned: bool) -> Next {
        // A dropped writer lent nothing any more.
        if !self.lent || orphaned {
            self.compact();
        }
        if self.unsent() == 0 || self.error.is_some() {
            // Delivered, or given up (a lingering send canceled): nothing more.
            Next::Done
        } else {
            Next::Resubmit
        }
    }

    /// After a final CQE: a drained block (nothing unsent, no window lent, no
    /// notification awaited) goes back to `pool`, so an idle socket holds no send
    /// memory.
    pub(super) fn release_block(&mut self, pool: &mut BlockPool) {
        if self.unsent() == 0 && !self.lent && !self.flight.pins_block() && self.buf.capacity() > 0
        {
            self.sent = 0;
            pool.put(std::mem::take(&mut self.buf));
        }
    }

    /// Records a failed submission.
    pub(super) fn fail(&mut self, errno: i32) {
        self.error.get_or_insert(errno);
    }

    /// A send failed: nothing more will be delivered.
    pub(super) fn failed(&self) -> bool {
        self.error.is_some()
    }
}

/// The sending half of a socket on the ring (write-behind). Dropping it delivers what
/// was written, then frees the slot (and its reference to the descriptor).
pub(crate) struct SendBehind {
    completions: Arc<Completions>,
    key: Key,
}

impl SendBehind {
    /// A write-behind buffer for `fd` (a connected stream socket), holding up to the
    /// configured capacity (allocated as it is first needed).
    pub(crate) fn new(completions: &Arc<Completions>, fd: Arc<OwnedFd>) -> io::Result<Self> {
        let state = SendState::new(completions.send_capacity, completions.zero_copy.policy());
        let key = completions.open(Body::Send(state), fd, false)?;
        Ok(Self {
            completions: completions.clone(),
            key,
        })
    }

    /// Copies as much of `data` as fits; `Pending` when the buffer is full.
    pub(crate) fn poll_write(
        &mut self,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(data)])
    }

    /// Writes `bufs` (in order): with nothing queued and no send in flight, straight
    /// from the caller's buffers in a synchronous `sendmsg` (the kernel copies the
    /// bytes before the call returns, so it never holds memory the caller may free);
    /// what the socket does not take then is copied into the write-behind block, as
    /// much as fits, and sent by a `SEND` operation. `Pending` when the block is full.
    pub(crate) fn poll_write_vectored(
        &mut self,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a send buffer's slot lives with it");
        let Body::Send(send) = &mut slot.body else {
            unreachable!("send slot")
        };
        if let Some(errno) = send.error {
            return Poll::Ready(Err(to_error(errno)));
        }
        // `&mut self`: no window is lent any more.
        send.lent = false;
        let total: usize = bufs.iter().map(|b| b.len()).sum();
        if total == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut direct = 0;
        if !slot.phase.in_kernel() && send.unsent() == 0 {
            // Found room: an inline write, whatever the socket takes.
            count_ready(
                &mut send.waited,
                &mut driver.counters.writes_inline,
                &mut driver.counters.writes_waited,
            );
            let fd = slot.raw_fd();
            // Without the lock: only this handle (`&mut self`) starts sends on the
            // slot, and with none in flight no CQE touches it; the descriptor stays
            // open (the slot keeps it).
            drop(guard);
            match send_direct(fd, bufs) {
                Ok(n) if n == total => {
                    self.completions
                        .sends_direct
                        .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    return Poll::Ready(Ok(n));
                }
                Ok(n) => direct = n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    let errno = e.raw_os_error().unwrap_or(libc::EIO);
                    let mut guard = self.completions.lock();
                    if let Some(Body::Send(send)) =
                        guard.slots.get_mut(self.key).map(|s| &mut s.body)
                    {
                        send.fail(errno);
                    }
                    return Poll::Ready(Err(e));
                }
            }
            guard = self.completions.lock();
        }
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a send buffer's slot lives with it");
        let Body::Send(send) = &mut slot.body else {
            unreachable!("send slot")
        };
        if direct == 0 {
            if let Some(errno) = send.error {
                // The layer shut down meanwhile.
                return Poll::Ready(Err(to_error(errno)));
            }
        }
        if !slot.phase.in_kernel() {
            send.compact();
            if send.buf.capacity() == 0 {
                send.buf = driver.send_blocks.take();
            }
            send.grow(total - direct);
        }
        let mut room = send.room();
        if room == 0 {
            if direct > 0 {
                return Poll::Ready(Ok(direct));
            }
            send.waited = true;
            slot.set_waker(cx.waker());
            return Poll::Pending;
        }
        if direct == 0 {
            count_ready(
                &mut send.waited,
                &mut driver.counters.writes_inline,
                &mut driver.counters.writes_waited,
            );
        }
        let mut copied = 0;
        let mut skip = direct;
        for b in bufs {
            let k = skip.min(b.len());
            skip -= k;
            let b = &b[k..];
            if b.is_empty() {
                continue;
            }
            let n = b.len().min(room);
            // Within capacity: the block does not move under a send in flight.
            send.buf.extend_from_slice(&b[..n]);
            copied += n;
            room -= n;
            if room == 0 {
                break;
            }
        }
        if slot.phase == Phase::Idle && send.unsent() > 0 {
            let submit = &*self.completions.submit;
            if let Err(e) = driver.submit_again(submit, self.key) {
                // The copied bytes were not accepted after all.
                return Poll::Ready(if direct > 0 { Ok(direct) } else { Err(e) });
            }
        }
        Poll::Ready(Ok(direct + copied))
    }

    /// Completes when every byte written has been accepted by the kernel.
    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut driver = self.completions.lock();
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a send buffer's slot lives with it");
        let Body::Send(send) = &slot.body else {
            unreachable!("send slot")
        };
        if let Some(errno) = send.error {
            return Poll::Ready(Err(to_error(errno)));
        }
        if send.unsent() == 0 {
            return Poll::Ready(Ok(()));
        }
        slot.set_waker(cx.waker());
        Poll::Pending
    }

    /// Flushes, then shuts the socket's write side (`SHUT_WR`): the peer reads every
    /// byte written, then end of stream.
    pub(crate) fn poll_shutdown(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if let Err(e) = std::task::ready!(self.poll_flush(cx)) {
            return Poll::Ready(Err(e));
        }
        let mut driver = self.completions.lock();
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a send buffer's slot lives with it");
        // SAFETY: plain syscall on the descriptor the slot keeps open.
        if unsafe { libc::shutdown(slot.raw_fd(), libc::SHUT_WR) } == -1 {
            return Poll::Ready(Err(io::Error::last_os_error()));
        }
        Poll::Ready(Ok(()))
    }

    /// Bytes written and not yet accepted by the kernel.
    pub(crate) fn buffered(&self) -> usize {
        let mut driver = self.completions.lock();
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a send buffer's slot lives with it");
        let Body::Send(send) = &slot.body else {
            unreachable!("send slot")
        };
        send.unsent()
    }

    /// Lends the free part of the write-behind buffer for a zero-copy writer to fill;
    /// `Pending` while it is full. Hand the bytes over with [`commit`](Self::commit).
    pub(crate) fn poll_prepare(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&mut [u8]>> {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a send buffer's slot lives with it");
        let Body::Send(send) = &mut slot.body else {
            unreachable!("send slot")
        };
        if let Some(errno) = send.error {
            return Poll::Ready(Err(to_error(errno)));
        }
        if !slot.phase.in_kernel() {
            send.lent = false;
            send.compact();
            if send.buf.capacity() == 0 {
                send.buf = driver.send_blocks.take();
            }
            // With zero copy on, the whole block (the largest send it can make): its
            // commit then goes as one zero-copy send rather than several small ones.
            let want = if send.zero_copy.window() > 0 {
                send.limit
            } else {
                MIN_BLOCK
            };
            if send.room() < want {
                send.grow(want);
            }
        }
        let room = send.room();
        let counters = &mut driver.counters;
        if room == 0 {
            send.waited = true;
            slot.set_waker(cx.waker());
            return Poll::Pending;
        }
        count_ready(
            &mut send.waited,
            &mut counters.writes_inline,
            &mut counters.writes_waited,
        );
        send.lent = true;
        // SAFETY: `len + room <= capacity`, inside the block.
        let window = unsafe { send.buf.as_mut_ptr().add(send.buf.len()) };
        drop(guard);
        // SAFETY: the bytes `[len, len + room)` are initialised (`grow` zeroes spare
        // capacity) and nobody else touches them while this borrow lives: the kernel
        // reads only `[sent, len)`, the completion side neither compacts nor grows while
        // `lent` is set, and every other use of the block goes through `&mut self`,
        // which this borrow holds. The block lives in the slot, which `self` keeps.
        Poll::Ready(Ok(unsafe { std::slice::from_raw_parts_mut(window, room) }))
    }

    /// Hands the first `n` bytes of the window from [`poll_prepare`](Self::poll_prepare)
    /// to the kernel (write-behind, like `poll_write`).
    ///
    /// # Panics
    /// If no window was prepared or `n` exceeds it.
    pub(crate) fn commit(&mut self, n: usize) -> io::Result<()> {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a send buffer's slot lives with it");
        let fd = slot.raw_fd();
        let Body::Send(send) = &mut slot.body else {
            unreachable!("send slot")
        };
        assert!(send.lent, "commit without a prepared window");
        assert!(n <= send.room(), "committing past the prepared window");
        send.lent = false;
        // SAFETY: the `n` bytes past `len` lie within capacity and are initialised
        // (`grow` zeroes spare capacity; the writer filled them).
        unsafe { send.buf.set_len(send.buf.len() + n) };
        if let Some(errno) = send.error {
            return Err(to_error(errno));
        }
        if slot.phase == Phase::Idle && send.unsent() > 0 && !send.wants_zero_copy() {
            // As `poll_write`: a direct send first (the block is the slot's, and with
            // no send in flight only this handle touches it), a `SEND` for the rest.
            match send_direct(fd, &[IoSlice::new(&send.buf[send.sent..])]) {
                Ok(n) => send.sent += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => {
                    send.fail(e.raw_os_error().unwrap_or(libc::EIO));
                    return Err(e);
                }
            }
            if send.unsent() == 0 {
                self.completions
                    .sends_direct
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                send.release_block(&mut driver.send_blocks);
                return Ok(());
            }
        }
        if slot.phase == Phase::Idle && send.unsent() > 0 {
            driver.submit_again(&*self.completions.submit, self.key)?;
        }
        Ok(())
    }
}

impl SendBehind {
    /// Capacity of the write-behind block this socket holds (0: none).
    #[cfg(test)]
    pub(crate) fn block_capacity(&self) -> usize {
        let mut driver = self.completions.lock();
        match &driver.slots.get_mut(self.key).expect("live").body {
            Body::Send(send) => send.buf.capacity(),
            _ => unreachable!("send slot"),
        }
    }

    /// Takes the waker its last `Pending` poll stored (a `cancel` wakes it).
    pub(crate) fn take_waker(&self) -> Option<std::task::Waker> {
        self.completions.take_waker(self.key)
    }
}

impl Drop for SendBehind {
    fn drop(&mut self) {
        self.completions.release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_block_is_allocated_on_demand_and_bounded() {
        let mut send = SendState::new(10_000, Policy::OFF);
        assert_eq!(
            (send.buf.capacity(), send.room()),
            (0, 0),
            "an idle socket holds nothing"
        );
        send.grow(10);
        assert_eq!(send.buf.capacity(), MIN_BLOCK);
        send.buf.extend_from_slice(&[0; 4000]);
        send.grow(1000);
        assert_eq!(send.buf.capacity(), 8192, "doubles");
        send.grow(1 << 20);
        assert_eq!(send.buf.capacity(), 10_000, "never past the limit");
        assert_eq!(send.room(), 6000);
        let mut tiny = SendState::new(100, Policy::OFF);
        tiny.grow(1);
        assert_eq!(tiny.room(), 100);
    }

    /// A zero-copy send's block stays put (not compacted, not pooled) from its
    /// result CQE to its notification; a short one resends the rest only then.
    #[test]
    fn a_zero_copy_block_waits_for_its_notification() {
        const MORE: u32 = 1 << 1; // IORING_CQE_F_MORE
        const NOTIF: u32 = 1 << 3; // IORING_CQE_F_NOTIF
        let zc = super::super::send_zc::ZeroCopy::default();
        assert!(!zc.policy().zero_copy(1 << 20), "off by default");
        let mut send = SendState::new(64 * 1024, Policy::OFF);
        send.zero_copy = Policy::for_test(1024);
        send.grow(8192);
        send.buf.extend_from_slice(&[7; 8192]);
        let _ = send.entry(types::Fd(-1));
        assert_eq!(send.flight, Flight::ZeroCopy);
        let block = send.buf.as_ptr();
        let mut counters = Counters::default();
        let mut pool = BlockPool::default();
        // A short send: 5000 of 8192 went; the notification follows.
        assert_eq!(send.on_cqe(5000, MORE, false, &mut counters), Next::Done);
        assert!(send.flight.pins_block());
        assert_eq!((send.sent, send.unsent()), (5000, 3192), "not compacted");
        send.release_block(&mut pool);
        assert_eq!((pool.bytes(), send.buf.as_ptr()), (0, block), "not pooled");
        // The notification (the kernel copied): now the rest goes, compacted.
        let copied = i32::MIN; // IORING_NOTIF_USAGE_ZC_COPIED
        assert_eq!(
            send.on_cqe(copied, NOTIF, false, &mut counters),
            Next::Resubmit
        );
        assert_eq!((send.sent, send.unsent()), (0, 3192));
        let _ = send.entry(types::Fd(-1));
        assert_eq!(send.on_cqe(3192, MORE, false, &mut counters), Next::Done);
        assert_eq!(send.on_cqe(0, NOTIF, false, &mut counters), Next::Done);
        send.release_block(&mut pool);
        assert!(pool.bytes() > 0, "drained and notified: pooled");
        assert_eq!(
            (
                counters.zc_sends,
                counters.zc_notifications,
                counters.zc_copied
            ),
            (2, 2, 1)
        );
    }
}
