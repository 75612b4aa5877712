//! The reactor: descriptors registered once with the selector, per-descriptor
//! readiness and wakers, and the readiness loop every I/O operation uses.
//!
//! A descriptor starts out assumed ready in both directions, so every operation tries
//! its syscall first and completes without touching the reactor when it can. On
//! `EAGAIN` it clears its readiness bit, stores the task's waker, and re-checks the bit
//! (the reactor may have set it in between), so no readiness edge is lost. While the bit
//! stays clear, later attempts skip the syscall that would only return `EAGAIN` again
//! (edge-triggered: the next edge sets the bit and wakes the task).

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::sys::epoll::{ready, Selector};

/// Which half of a descriptor an operation (or a readiness [`wait`]) is about.
///
/// [`wait`]: crate::TcpStream::wait
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Interest {
    /// Data to read, a connection to accept, or the peer's end of stream.
    Read,
    /// Room to write, or a finished connect.
    Write,
}

/// Bits of the readiness word beside the selector's: a pending operation in that
/// direction was canceled, or the object was closed.
const CANCEL_READ: usize = 32;
const CANCEL_WRITE: usize = 64;
const CLOSED: usize = 128;

impl Interest {
    fn mask(self) -> usize {
        match self {
            Interest::Read => ready::READABLE | ready::READ_CLOSED | ready::ERROR,
            Interest::Write => ready::WRITABLE | ready::WRITE_CLOSED | ready::ERROR,
        }
    }

    fn cancel_bit(self) -> usize {
        match self {
            Interest::Read => CANCEL_READ,
            Interest::Write => CANCEL_WRITE,
        }
    }
}

/// Readiness and wakers of one registered descriptor.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

impl Default for ScheduledIo {
    fn default() -> Self {
        ScheduledIo {
            // Assume ready: the first operation in each direction tries its syscall.
            readiness: AtomicUsize::new(ready::READABLE | ready::WRITABLE),
            reader: Mutex::new(None),
            writer: Mutex::new(None),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Readiness flags live in the low bits; the bits above count selector events (a
/// "tick"), so an operation clears a flag only if no new event arrived since it looked.
const TICK_SHIFT: u32 = 8;
const FLAGS: usize = (1 << TICK_SHIFT) - 1;

impl ScheduledIo {
    /// Records readiness from the selector and wakes the waiting tasks.
    pub(crate) fn set_readiness(&self, bits: usize) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                let tick = (r >> TICK_SHIFT).wrapping_add(1);
                Some((tick << TICK_SHIFT) | (r & FLAGS) | bits)
            });
        if bits & Interest::Read.mask() != 0 {
            if let Some(w) = lock(&self.reader).take() {
                w.wake();
            }
        }
        if bits & Interest::Write.mask() != 0 {
            if let Some(w) = lock(&self.writer).take() {
                w.wake();
            }
        }
    }

    /// Wakes both directions (close/cancel): their operations re-run and see the state.
    pub(crate) fn wake_all(&self) {
        if let Some(w) = lock(&self.reader).take() {
            w.wake();
        }
        if let Some(w) = lock(&self.writer).take() {
            w.wake();
        }
    }

    /// Completes the operations waiting now as canceled: each direction whose slot holds
    /// a waker gets its cancel bit, consumed by that operation's next poll. Returns
    /// whether anything was waiting.
    pub(crate) fn cancel(&self) -> bool {
        let mut any = false;
        for dir in [Interest::Read, Interest::Write] {
            let waker = {
                let mut slot = lock(self.slot(dir));
                let waker = slot.take();
                if waker.is_some() {
                    self.readiness.fetch_or(dir.cancel_bit(), Ordering::AcqRel);
                }
                waker
            };
            if let Some(w) = waker {
                any = true;
                w.wake();
            }
        }
        any
    }

    /// Fails every pending and later operation as canceled.
    pub(crate) fn close(&self) {
        self.readiness.fetch_or(CLOSED, Ordering::AcqRel);
        self.wake_all();
    }

    /// `Some(canceled)` when the object was closed or the operation waiting in `dir`
    /// was canceled (consuming that cancellation).
    fn take_cancel(&self, dir: Interest, r: usize) -> Option<io::Error> {
        if r & CLOSED != 0 {
            return Some(strait_streams::canceled());
        }
        if r & dir.cancel_bit() != 0 {
            self.readiness
                .fetch_and(!dir.cancel_bit(), Ordering::AcqRel);
            return Some(strait_streams::canceled());
        }
        None
    }

    /// Removes `waker` from the slot of `dir` if it is still the one stored there (a
    /// pending operation was dropped).
    pub(crate) fn forget(&self, dir: Interest, waker: &Waker) {
        let mut slot = lock(self.slot(dir));
        if slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *slot = None;
        }
    }

    fn slot(&self, dir: Interest) -> &Mutex<Option<Waker>> {
        match dir {
            Interest::Read => &self.reader,
            Interest::Write => &self.writer,
        }
    }

    /// Clears `mask` unless a selector event arrived after `tick` was read.
    fn clear_if_unchanged(&self, mask: usize, tick: usize) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                (r >> TICK_SHIFT == tick).then_some(r & !mask)
            });
    }

    /// Runs `op` until it completes or would block; on would-block, arranges a wake-up.
    /// When `drained` says a completed operation emptied the kernel buffer (a short
    /// read or write), the readiness flag is cleared too, so the next attempt waits for
    /// the next edge instead of paying for an `EAGAIN`.
    pub(crate) fn poll_io<T>(
        &self,
        dir: Interest,
        cx: &mut Context<'_>,
        mut op: impl FnMut() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        let mask = match dir {
            Interest::Read => ready::READABLE,
            Interest::Write => ready::WRITABLE,
        };
        if !crate::budget::charge() {
            // This task completed its share of operations for this poll: let others run.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        loop {
            let r = self.readiness.load(Ordering::Acquire);
            if let Some(e) = self.take_cancel(dir, r) {
                return Poll::Ready(Err(e));
            }
            if r & dir.mask() != 0 {
                let tick = r >> TICK_SHIFT;
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(v) => {
                        if drained(&v) {
                            self.clear_if_unchanged(mask, tick);
                        }
                        return Poll::Ready(Ok(v));
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
                // Clear our readiness edge (unless a new event came in), then register,
                // then re-check: an edge between the syscall and the registration is
                // seen here.
                self.clear_if_unchanged(mask, tick);
            }
            {
                let mut slot = lock(self.slot(dir));
                match &mut *slot {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    s => *s = Some(cx.waker().clone()),
                }
            }
            let r = self.readiness.load(Ordering::Acquire);
            if r & (dir.mask() | dir.cancel_bit() | CLOSED) == 0 {
                return Poll::Pending;
            }
        }
    }
}

/// Registered descriptors: a slab indexed by token, with generations so a stale event
/// never reaches a reused slot.
#[derive(Debug)]
pub(crate) struct Reactor {
    pub(crate) selector: Selector,
    slots: Mutex<Slab>,
}

#[derive(Debug, Default)]
struct Slab {
    entries: Vec<(u32, Option<Arc<ScheduledIo>>)>,
    free: Vec<usize>,
}

/// Token of the context's own eventfd.
pub(crate) const WAKE_TOKEN: u64 = u64::MAX;

impl Reactor {
    pub(crate) fn new() -> io::Result<Reactor> {
        Ok(Reactor {
            selector: Selector::new()?,
            slots: Mutex::new(Slab::default()),
        })
    }

    /// Registers `fd`; the returned registration deregisters on drop.
    pub(crate) fn register(self: &Arc<Self>, fd: RawFd) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo::default());
        let token = {
            let mut slab = lock(&self.slots);
            let index = match slab.free.pop() {
                Some(i) => i,
                None => {
                    slab.entries.push((0, None));
                    slab.entries.len() - 1
                }
            };
            let entry = &mut slab.entries[index];
            entry.0 = entry.0.wrapping_add(1);
            entry.1 = Some(io.clone());
            (u64::from(entry.0) << 32) | index as u64
        };
        if let Err(e) = self.selector.register(fd, token) {
            self.release(token);
            return Err(e);
        }
        Ok(Registration {
            io,
            token,
            fd,
            reactor: self.clone(),
        })
    }

    fn release(&self, token: u64) {
        let mut slab = lock(&self.slots);
        let index = (token & 0xFFFF_FFFF) as usize;
        if let Some(entry) = slab.entries.get_mut(index) {
            if u64::from(entry.0) == token >> 32 && entry.1.is_some() {
                entry.1 = None;
                slab.free.push(index);
            }
        }
    }

    /// Delivers one selector event.
    pub(crate) fn dispatch(&self, token: u64, bits: usize) {
        let io = {
            let slab = lock(&self.slots);
            let index = (token & 0xFFFF_FFFF) as usize;
            match slab.entries.get(index) {
                Some((generation, Some(io))) if u64::from(*generation) == token >> 32 => io.clone(),
                _ => return,
            }
        };
        io.set_readiness(bits);
    }
}

/// A descriptor registered with a reactor; deregisters on drop (the descriptor itself
/// is owned and closed by the I/O object, after this).
#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) io: Arc<ScheduledIo>,
    token: u64,
    fd: RawFd,
    reactor: Arc<Reactor>,
}

impl Registration {
    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        let _ = self.reactor.selector.deregister(self.fd);
        self.reactor.release(self.token);
        // Pending operations (there can be none: they borrow the object) and stale
        // wakers are released.
        self.io.wake_all();
    }
}
