//! One registered descriptor's readiness word and the tasks waiting on it, and the
//! readiness loop every I/O operation runs.
//!
//! A descriptor starts out assumed ready in both directions, so every operation tries
//! its syscall first and completes without touching a lock when it can. On `EAGAIN` it
//! clears its readiness bit, stores its task's waker, and re-checks the bit (the reactor
//! may have set it in between), so no readiness edge is lost. While the bit stays clear,
//! later attempts skip the syscall that would only return `EAGAIN` again
//! (edge-triggered: the next edge sets the bit and wakes the waiting tasks).
//!
//! Each direction has any number of waiters: the stream operation's waker (reads and
//! writes go through poll methods that see no drop, so the next one replaces it) and one
//! reusable entry per pending one-shot operation (accept, datagrams, `wait`), taken when
//! it first waits and given back when it ends. An edge wakes every waiter of its
//! direction, so two tasks accepting on one listener both see two queued connections.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::task::{Context, Poll, Waker};

use crate::sync::lock;
use crate::sys::ready;

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

/// Bits of the readiness word beside the selector's: the stream operation waiting in
/// that direction was canceled; the object was closed; its context was dropped.
const CANCEL_READ: usize = 1 << 5;
const CANCEL_WRITE: usize = 1 << 6;
const CLOSED: usize = 1 << 7;
const GONE: usize = 1 << 8;

/// Readiness flags live in the low bits; the bits above count selector events (a
/// "tick"), so an operation clears a flag only if no new event arrived since it looked.
const TICK_SHIFT: u32 = 9;
const FLAGS: usize = (1 << TICK_SHIFT) - 1;

/// Wakers taken per lock acquisition when waking a direction (woken outside the lock).
const WAKE_BATCH: usize = 32;

impl Interest {
    fn mask(self) -> usize {
        match self {
            Interest::Read => ready::READABLE | ready::READ_CLOSED | ready::ERROR,
            Interest::Write => ready::WRITABLE | ready::WRITE_CLOSED | ready::ERROR,
        }
    }

    /// The selector bit an operation clears when it finds the kernel empty (or full).
    fn edge(self) -> usize {
        match self {
            Interest::Read => ready::READABLE,
            Interest::Write => ready::WRITABLE,
        }
    }

    fn cancel_bit(self) -> usize {
        match self {
            Interest::Read => CANCEL_READ,
            Interest::Write => CANCEL_WRITE,
        }
    }
}

/// The error of an operation on an object whose [`IoContext`](crate::IoContext) was
/// dropped: nothing will ever report its readiness again.
pub(crate) fn context_gone() -> io::Error {
    io::Error::other("the IoContext this object belongs to was dropped")
}

/// Readiness and waiters of one registered descriptor.
#[derive(Debug)]
pub(crate) struct ScheduledIo {
    readiness: AtomicUsize,
    reader: Mutex<Waiters>,
    writer: Mutex<Waiters>,
}

/// The tasks waiting in one direction.
#[derive(Debug, Default)]
struct Waiters {
    /// The stream read's (or write's) waker; the next stream operation replaces it.
    stream: Option<Waker>,
    /// One entry per pending one-shot operation; entries are reused (no allocation per
    /// operation once as many have waited at once as will).
    entries: Vec<Entry>,
    free: Vec<usize>,
}

#[derive(Debug, Default)]
struct Entry {
    waker: Option<Waker>,
    /// Set by `cancel` while the operation is pending (waiting, or woken and not yet
    /// polled again); consumed where it would wait again.
    canceled: bool,
    /// Taken by a pending operation (from its first wait until it is dropped).
    in_use: bool,
}

/// Where an operation waits: the stream slot or a one-shot entry (allocated on first
/// wait into the `Option`).
enum Slot<'a> {
    Stream,
    Entry(&'a mut Option<usize>),
}

impl Default for ScheduledIo {
    fn default() -> Self {
        ScheduledIo {
            // Assume ready: the first operation in each direction tries its syscall.
            readiness: AtomicUsize::new(ready::READABLE | ready::WRITABLE),
            reader: Mutex::new(Waiters::default()),
            writer: Mutex::new(Waiters::default()),
        }
    }
}

impl ScheduledIo {
    fn waiters(&self, dir: Interest) -> &Mutex<Waiters> {
        match dir {
            Interest::Read => &self.reader,
            Interest::Write => &self.writer,
        }
    }

    /// Records readiness from the selector and wakes the waiting tasks.
    pub(crate) fn set_readiness(&self, bits: usize) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                let tick = (r >> TICK_SHIFT).wrapping_add(1);
                Some((tick << TICK_SHIFT) | (r & FLAGS) | bits)
            });
        for dir in [Interest::Read, Interest::Write] {
            if bits & dir.mask() != 0 {
                self.wake(dir, false);
            }
        }
    }

    /// Wakes every waiter of `dir` outside the lock, marking each as canceled first
    /// when `cancel`; returns whether any was waiting.
    fn wake(&self, dir: Interest, cancel: bool) -> bool {
        // The common case: no one-shot operation pending, at most the stream's waker
        // (no batch array to fill and drop on every readiness edge).
        let stream = {
            let mut w = lock(self.waiters(dir));
            if w.entries.len() == w.free.len() {
                let stream = w.stream.take();
                if cancel && stream.is_some() {
                    self.readiness.fetch_or(dir.cancel_bit(), Ordering::AcqRel);
                }
                Some(stream)
            } else {
                None
            }
        };
        if let Some(stream) = stream {
            let any = stream.is_some();
            if let Some(waker) = stream {
                waker.wake();
            }
            return any;
        }
        let mut any = false;
        // Index 0 is the stream slot, `i + 1` entry `i`.
        let mut next = 0;
        loop {
            let mut batch: [Option<Waker>; WAKE_BATCH] = Default::default();
            let mut n = 0;
            let done = {
                let mut w = lock(self.waiters(dir));
                if next == 0 {
                    next = 1;
                    if let Some(waker) = w.stream.take() {
                        if cancel {
                            self.readiness.fetch_or(dir.cancel_bit(), Ordering::AcqRel);
                        }
                        batch[n] = Some(waker);
                        n += 1;
                    }
                }
                while n < WAKE_BATCH && next <= w.entries.len() {
                    let entry = &mut w.entries[next - 1];
                    next += 1;
                    if cancel && entry.in_use {
                        // Also an operation already woken (say, by a connection that
                        // another accept took) that has not polled again: it would
                        // wait again, and that wait is what this cancels.
                        entry.canceled = true;
                        any = true;
                    }
                    if let Some(waker) = entry.waker.take() {
                        batch[n] = Some(waker);
                        n += 1;
                    }
                }
                next > w.entries.len()
            };
            any |= n > 0;
            for waker in batch[..n].iter_mut().filter_map(Option::take) {
                waker.wake();
            }
            if done {
                return any;
            }
        }
    }

    /// Wakes both directions: their operations re-run and see the state.
    pub(crate) fn wake_all(&self) {
        self.wake(Interest::Read, false);
        self.wake(Interest::Write, false);
    }

    /// Completes the operations waiting now as canceled; returns whether any was
    /// waiting. A one-shot operation's cancellation is its own; the stream slot's is a
    /// bit consumed by the next stream operation in that direction that would wait
    /// (cleared by one that completes instead).
    pub(crate) fn cancel(&self) -> bool {
        let read = self.wake(Interest::Read, true);
        let write = self.wake(Interest::Write, true);
        read || write
    }

    /// Fails every pending and later operation as canceled.
    pub(crate) fn close(&self) {
        self.readiness.fetch_or(CLOSED, Ordering::AcqRel);
        self.wake_all();
    }

    /// Fails every pending and later operation: the context is gone.
    pub(crate) fn shut_down(&self) {
        self.readiness.fetch_or(GONE, Ordering::AcqRel);
        self.wake_all();
    }

    /// Clears `mask` unless a selector event arrived after `tick` was read.
    fn clear_if_unchanged(&self, mask: usize, tick: usize) {
        let _ = self
            .readiness
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |r| {
                (r >> TICK_SHIFT == tick).then_some(r & !mask)
            });
    }

    /// A stream read or write: runs `op` until it completes or would block; on
    /// would-block, stores the task's waker in the stream slot. When `drained` says a
    /// completed operation emptied the kernel buffer (a short read or write), the
    /// readiness flag is cleared too, so the next attempt waits for the next edge
    /// instead of paying for an `EAGAIN`.
    pub(crate) fn poll_stream<T>(
        &self,
        dir: Interest,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        self.poll_ready(dir, cx, Slot::Stream, op, drained)
    }

    /// The readiness loop shared by stream and one-shot operations.
    fn poll_ready<T>(
        &self,
        dir: Interest,
        cx: &mut Context<'_>,
        mut slot: Slot<'_>,
        mut op: impl FnMut() -> io::Result<T>,
        drained: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        if !crate::budget::charge() {
            // This task completed its share of operations for this poll: let others run.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        let stream = matches!(slot, Slot::Stream);
        loop {
            let r = self.readiness.load(Ordering::Acquire);
            if let Some(e) = ended(r) {
                return Poll::Ready(Err(e));
            }
            // A pending stream cancellation applies only if the kernel says the
            // operation would block: try it even before the reactor reported an edge.
            let cancel = if stream { r & dir.cancel_bit() } else { 0 };
            if r & dir.mask() != 0 || cancel != 0 {
                let tick = r >> TICK_SHIFT;
                match op() {
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Ok(v) => {
                        if drained(&v) {
                            self.clear_if_unchanged(dir.edge(), tick);
                        }
                        if cancel != 0 {
                            // A cancel aimed at a waiting stream operation (or at a
                            // dropped one's waker) that this one outran: spent.
                            self.readiness
                                .fetch_and(!dir.cancel_bit(), Ordering::AcqRel);
                        }
                        return Poll::Ready(Ok(v));
                    }
                    Err(e) => return Poll::Ready(Err(e)),
                }
                // Clear our readiness edge (unless a new event came in), then register,
                // then re-check: an edge between the syscall and the registration is
                // seen here. An error flag goes too: the kernel just said there is
                // nothing pending (a reported socket error is consumed by the operation
                // that returned it), and a sticky flag would make this loop spin.
                self.clear_if_unchanged(dir.edge() | ready::ERROR, tick);
            }
            // The operation would wait: only here does a cancellation apply.
            if let Some(e) = self.register(dir, cx.waker(), &mut slot) {
                return Poll::Ready(Err(e));
            }
            let mut wake_on = dir.mask() | CLOSED | GONE;
            if stream {
                wake_on |= dir.cancel_bit();
            }
            if self.readiness.load(Ordering::Acquire) & wake_on == 0 {
                return Poll::Pending;
            }
        }
    }

    /// Stores `waker` in `slot`, or consumes the slot's cancellation and returns the
    /// canceled error.
    fn register(&self, dir: Interest, waker: &Waker, slot: &mut Slot<'_>) -> Option<io::Error> {
        match slot {
            Slot::Stream => {
                let bit = dir.cancel_bit();
                if self.readiness.load(Ordering::Acquire) & bit != 0 {
                    self.readiness.fetch_and(!bit, Ordering::AcqRel);
                    return Some(strait_streams::canceled());
                }
                store(&mut lock(self.waiters(dir)).stream, waker);
            }
            Slot::Entry(index) => {
                let mut w = lock(self.waiters(dir));
                let i = match **index {
                    Some(i) => i,
                    None => {
                        let i = w.free.pop().unwrap_or_else(|| {
                            w.entries.push(Entry::default());
                            w.entries.len() - 1
                        });
                        **index = Some(i);
                        w.entries[i].in_use = true;
                        i
                    }
                };
                let entry = &mut w.entries[i];
                if std::mem::take(&mut entry.canceled) {
                    return Some(strait_streams::canceled());
                }
                store(&mut entry.waker, waker);
            }
        }
        None
    }

    /// Gives back a one-shot operation's entry.
    fn release(&self, dir: Interest, index: usize) {
        let stale = {
            let mut w = lock(self.waiters(dir));
            w.free.push(index);
            std::mem::take(&mut w.entries[index]).waker
        };
        // Dropped outside the lock: the last reference to a task may free it.
        drop(stale);
    }
}

/// The error of every operation once the object was closed or its context dropped.
fn ended(r: usize) -> Option<io::Error> {
    if r & GONE != 0 {
        Some(context_gone())
    } else if r & CLOSED != 0 {
        Some(strait_streams::canceled())
    } else {
        None
    }
}

/// Stores `waker` unless the stored one already wakes the same task.
fn store(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        s => *s = Some(waker.clone()),
    }
}

/// A one-shot operation (accept, a datagram, a readiness `wait`) on one descriptor: its
/// own waiter entry, taken when it first waits and given back when it is dropped.
pub(crate) struct OneShot<'a> {
    io: &'a ScheduledIo,
    dir: Interest,
    entry: Option<usize>,
}

impl<'a> OneShot<'a> {
    pub(crate) fn new(io: &'a ScheduledIo, dir: Interest) -> Self {
        OneShot {
            io,
            dir,
            entry: None,
        }
    }

    /// Runs `op` until it completes or would block; on would-block, stores the task's
    /// waker in this operation's entry. Never treats a success as draining readiness.
    pub(crate) fn poll<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnMut() -> io::Result<T>,
    ) -> Poll<io::Result<T>> {
        self.io
            .poll_ready(self.dir, cx, Slot::Entry(&mut self.entry), op, |_| false)
    }
}

impl Drop for OneShot<'_> {
    fn drop(&mut self) {
        if let Some(i) = self.entry {
            self.io.release(self.dir, i);
        }
    }
}

impl std::fmt::Debug for OneShot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OneShot")
            .field("dir", &self.dir)
            .field("entry", &self.entry)
            .finish()
    }
}
