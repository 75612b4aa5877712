//! The backend contract and its two Linux implementations.
//!
//! A backend provides a [`Selector`] that registers a descriptor once (edge-triggered,
//! for reading and writing), waits for readiness with a timeout, reports
//! `(token, readiness)` pairs, and can be woken from any thread. The reactor above it
//! knows nothing else about the OS: it sees tokens and [`ready`] bits whichever backend
//! runs. Two backends implement it: `epoll` (edge-triggered epoll plus an eventfd) and
//! `uring` (multishot poll requests on an io_uring, see its module docs); `file_ring`
//! pairs epoll with a ring that serves files only (`Backend::Auto`). `select` chooses
//! at run time.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

pub(crate) mod epoll;
pub(crate) mod file_ring;
pub(crate) mod select;
pub(crate) mod uring;

pub use select::{Backend, FallbackReason};

/// Readiness bits reported by [`Selector::wait`].
pub(crate) mod ready {
    pub(crate) const READABLE: usize = 1;
    pub(crate) const WRITABLE: usize = 2;
    pub(crate) const READ_CLOSED: usize = 4;
    pub(crate) const WRITE_CLOSED: usize = 8;
    pub(crate) const ERROR: usize = 16;
}

/// Turns a poll mask (`EPOLL*` bits: epoll events and io_uring poll results use the
/// same values) into [`ready`] bits.
pub(crate) fn readiness(mask: u32) -> usize {
    let bits = mask as i32;
    let mut r = 0;
    if bits & (libc::EPOLLIN | libc::EPOLLPRI) != 0 {
        r |= ready::READABLE;
    }
    if bits & libc::EPOLLOUT != 0 {
        r |= ready::WRITABLE;
    }
    if bits & (libc::EPOLLRDHUP | libc::EPOLLHUP) != 0 {
        r |= ready::READ_CLOSED | ready::READABLE;
    }
    if bits & libc::EPOLLHUP != 0 {
        r |= ready::WRITE_CLOSED | ready::WRITABLE;
    }
    if bits & libc::EPOLLERR != 0 {
        r |= ready::ERROR | ready::READABLE | ready::WRITABLE;
    }
    r
}

/// Runs a libc call and turns `-1` into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        let res = libc::$fn($($arg),*);
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;

/// The running backend: the reactor calls these and never looks inside.
#[derive(Debug)]
// One per context, inside the reactor's `Arc`: its size costs nothing, a box would cost
// a pointer chase on every wait and registration.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Selector {
    Epoll(epoll::Selector),
    Uring(uring::Host),
    /// `Backend::Auto`: epoll drives, a ring serves files (see `file_ring`).
    Hybrid(file_ring::Hybrid),
}

/// Per-runner scratch space for a wait.
#[derive(Debug)]
pub(crate) struct Events {
    /// Filled by `epoll_wait` (io_uring keeps what outlives a wait in the ring).
    epoll: Vec<libc::epoll_event>,
    /// `Backend::Auto`: waits in a row that handed over file completions without an
    /// `epoll_wait` (see `file_ring::Hybrid::wait`).
    file_skips: u32,
}

impl Events {
    pub(crate) fn with_capacity(n: usize) -> Events {
        Events {
            epoll: Vec::with_capacity(n),
            file_skips: 0,
        }
    }
}

impl Selector {
    /// Which backend drives the context (never `Auto`: epoll under `Auto`, whose files
    /// run on a ring of their own, see [`files_on_ring`](Self::files_on_ring)).
    pub(crate) fn backend(&self) -> Backend {
        match self {
            Selector::Epoll(_) | Selector::Hybrid(_) => Backend::Epoll,
            Selector::Uring(_) => Backend::IoUring,
        }
    }

    /// Registers `fd` once, edge-triggered, for reading, writing and hang-ups; events
    /// carry `token` (its top two bits must be 0: see `uring`'s user_data layout).
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        match self {
            Selector::Epoll(s) => s.register(fd, token),
            Selector::Hybrid(h) => h.epoll.register(fd, token),
            Selector::Uring(h) => h.ring.register(fd, token),
        }
    }

    /// Stops the events of `fd` registered with `token`. On epoll the descriptor may
    /// be closed once this returns; on io_uring the kernel may confirm the removal a
    /// moment later (`uring::Ring::removal_pending`), which the reactor waits for.
    pub(crate) fn deregister(&self, fd: RawFd, token: u64) -> io::Result<()> {
        match self {
            Selector::Epoll(s) => s.deregister(fd),
            Selector::Hybrid(h) => h.epoll.deregister(fd),
            Selector::Uring(h) => h.ring.deregister(token),
        }
    }

    /// Waits up to `timeout` (forever when `None`, not at all when zero) and appends
    /// `(token, readiness)` pairs to `out`. Wake-ups are handled inside: they only end
    /// the wait. A signal ends the wait early with what has arrived. On io_uring the
    /// completion layer's CQEs are handed to it inside, before this returns (so the
    /// caller marks its thread as running the context first: the tasks they wake are
    /// queued locally). `awake` runs once, as soon as the kernel wait is over (before
    /// anything is dispatched): the caller stops counting itself as a sleeper there, so
    /// the wake-ups the dispatch raises need no eventfd write.
    pub(crate) fn wait(
        &self,
        events: &mut Events,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, usize)>,
        awake: &mut dyn FnMut(),
    ) -> io::Result<()> {
        match self {
            Selector::Epoll(s) => {
                let waited = s.wait(&mut events.epoll, timeout, out);
                awake();
                waited
            }
            Selector::Uring(h) => h.wait(timeout, out, awake),
            Selector::Hybrid(h) => h.wait(
                &mut events.epoll,
                &mut events.file_skips,
                timeout,
                out,
                awake,
            ),
        }
    }

    /// Interrupts a wait, from any thread.
    pub(crate) fn wake(&self) {
        match self {
            Selector::Epoll(s) => s.wake(),
            Selector::Hybrid(h) => h.epoll.wake(),
            Selector::Uring(h) => h.ring.wake(),
        }
    }

    /// The completion layer, on io_uring (under `Auto`, the file ring's).
    pub(crate) fn completions(&self) -> Option<&std::sync::Arc<crate::uring::Completions>> {
        match self {
            Selector::Uring(h) => Some(&h.completions),
            Selector::Hybrid(h) => Some(&h.files.completions),
            Selector::Epoll(_) => None,
        }
    }

    /// Files run on an io_uring completion layer (`IoUring`, or `Auto` on a kernel
    /// that allows it).
    pub(crate) fn files_on_ring(&self) -> bool {
        self.completions().is_some()
    }

    /// The completion layer when sockets run on it (io_uring asked for by name).
    pub(crate) fn socket_completions(&self) -> Option<&std::sync::Arc<crate::uring::Completions>> {
        match self {
            Selector::Uring(h) => Some(&h.completions),
            _ => None,
        }
    }

    /// Zero-copy sends of `threshold` bytes and up on the completion layer (see
    /// [`uring::Host::set_zero_copy_send`]); nothing on epoll.
    pub(crate) fn set_zero_copy_send(&self, threshold: Option<usize>) {
        if let Selector::Uring(h) = self {
            h.set_zero_copy_send(threshold);
        }
    }

    /// The context is dropped: see [`uring::Host::shut_down`].
    pub(crate) fn shut_down(&self) {
        match self {
            Selector::Uring(h) => h.shut_down(Duration::from_secs(2)),
            Selector::Hybrid(h) => h.files.shut_down(Duration::from_secs(2)),
            Selector::Epoll(_) => {}
        }
    }

    /// The counters, the completion layer's merged in.
    pub(crate) fn stats(&self) -> IoStats {
        let mut stats = self.counters().snapshot(self.backend());
        if let Some(c) = self.completions() {
            let c = c.counters();
            stats.reads_inline = c.reads_inline;
            stats.reads_waited = c.reads_waited;
            stats.reads_direct = c.reads_direct;
            stats.receives_parked = c.parks;
            stats.writes_inline = c.writes_inline;
            stats.writes_waited = c.writes_waited;
            stats.buffer_exhaustions = c.buffer_exhaustions;
            stats.cancellations = c.canceled;
            stats.zero_copy_sends = c.zc_sends;
            stats.zero_copy_notifications = c.zc_notifications;
            stats.zero_copy_copied = c.zc_copied;
            stats.zero_copy_fallbacks = c.zc_fallbacks;
            stats.completion_operations = c.finished;
        }
        if let Selector::Hybrid(h) = self {
            let files = &h.files.ring.counters;
            stats.file_ring_enters = files.enters.load(Ordering::Relaxed);
            stats.file_ring_completions = files.completions.load(Ordering::Relaxed);
        }
        stats
    }

    pub(crate) fn counters(&self) -> &Counters {
        match self {
            Selector::Epoll(s) => &s.counters,
            Selector::Hybrid(h) => &h.epoll.counters,
            Selector::Uring(h) => &h.ring.counters,
        }
    }
}

/// The selector's running counts (relaxed atomics: statistics, not synchronization).
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) enters: AtomicU64,
    pub(crate) submitted: AtomicU64,
    pub(crate) completions: AtomicU64,
    pub(crate) wakeups: AtomicU64,
    pub(crate) rearms: AtomicU64,
    pub(crate) dropped: AtomicU64,
}

impl Counters {
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self, backend: Backend) -> IoStats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        IoStats {
            backend,
            enters: get(&self.enters),
            submitted: get(&self.submitted),
            completions: get(&self.completions),
            wakeups: get(&self.wakeups),
            rearms: get(&self.rearms),
            dropped_completions: get(&self.dropped),
            reads_inline: 0,
            reads_waited: 0,
            reads_direct: 0,
            receives_parked: 0,
            writes_inline: 0,
            writes_waited: 0,
            buffer_exhaustions: 0,
            cancellations: 0,
            zero_copy_sends: 0,
            zero_copy_notifications: 0,
            zero_copy_copied: 0,
            zero_copy_fallbacks: 0,
            completion_operations: 0,
            file_ring_enters: 0,
            file_ring_completions: 0,
        }
    }
}

/// Counters of an [`IoContext`](crate::IoContext)'s reactor since it was made, read with
/// [`IoContext::stats`](crate::IoContext::stats). Counts are exact but read without a
/// common lock: a snapshot taken while runners work may mix slightly different moments.
/// More counters may join these, hence `non_exhaustive`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct IoStats {
    /// The backend that runs (never [`Backend::Auto`]).
    pub backend: Backend,
    /// Calls into the kernel made by the reactor: `io_uring_enter` (waits and
    /// submissions) on io_uring; `epoll_wait` and `epoll_ctl` on epoll.
    pub enters: u64,
    /// Requests handed to the kernel: submission queue entries on io_uring (poll
    /// requests, their re-arms and removals); `epoll_ctl` calls on epoll.
    pub submitted: u64,
    /// Completions handled: completion queue entries on io_uring, events returned by
    /// `epoll_wait` on epoll (wake-ups included on both).
    pub completions: u64,
    /// Cross-thread wake-ups: writes to the context's eventfd, made when a task is
    /// posted (or a timer moved earlier, or the context stopped) while a runner sleeps.
    pub wakeups: u64,
    /// io_uring only: multishot poll requests the kernel ended (a sign of completion
    /// queue pressure, or of a canceled request) that were armed again, and poll
    /// removals submitted again (the kernel answers `EALREADY` while the poll's
    /// wake-up runs).
    pub rearms: u64,
    /// io_uring only: times the kernel reported a dropped completion (`EBADR`: no
    /// memory for its overflow list). Each one re-armed every registration and ended
    /// the completion path's streams with an error (their state was unknown); 0 on a
    /// healthy machine. Non-zero also means the context is degraded for the rest of
    /// its life: the kernel keeps the ring marked, so its waits `poll(2)` the ring
    /// (one syscall more each), and a further dropped completion can no longer be
    /// detected (an operation whose completion it was would wait for ever). A service
    /// that sees it should replace the context.
    pub dropped_completions: u64,
    /// io_uring only (the completion path: TCP streams): reads that found data, or the
    /// end of the stream, already received when first polled.
    pub reads_inline: u64,
    /// io_uring only: reads that had to wait for the kernel (returned `Pending` first).
    pub reads_waited: u64,
    /// io_uring only: reads of a streaming socket made by `recvmsg` straight into the
    /// caller's buffers (one copy, as on epoll) while its multishot receive is parked
    /// (a large read found several received buffers waiting; the receive resumes when
    /// reads get small or a pull or readiness wait arrives). Counted among
    /// `reads_inline`/`reads_waited` too.
    pub reads_direct: u64,
    /// io_uring only: how many times a streaming socket parked its multishot receive
    /// for direct reads.
    pub receives_parked: u64,
    /// io_uring only: writes that found room in the socket's write-behind buffer when
    /// first polled.
    pub writes_inline: u64,
    /// io_uring only: writes that waited for room (the kernel had not taken the
    /// bytes before them yet).
    pub writes_waited: u64,
    /// io_uring only: multishot receives stopped because the shared provided-buffer
    /// ring was empty (re-armed as buffers come back).
    pub buffer_exhaustions: u64,
    /// io_uring only: cancellations submitted (`IORING_OP_ASYNC_CANCEL`): dropped or
    /// stopped operations, paused receives, teardown.
    pub cancellations: u64,
    /// io_uring only, with
    /// [`zero_copy_send_threshold`](crate::IoContextBuilder::zero_copy_send_threshold)
    /// set: sends made as `IORING_OP_SEND_ZC` (counted when their result arrives).
    pub zero_copy_sends: u64,
    /// io_uring only: zero-copy notifications received (the kernel let go of a
    /// zero-copy send's buffer, which only then is reused).
    pub zero_copy_notifications: u64,
    /// io_uring only: notifications saying the kernel copied the bytes anyway
    /// (`IORING_NOTIF_USAGE_ZC_COPIED`, reported from Linux 6.2): loopback, or a device
    /// without scatter-gather. When this follows `zero_copy_notifications` one for
    /// one, zero copy only costs a CQE per send here: turn it off.
    pub zero_copy_copied: u64,
    /// io_uring only: sends that reached the threshold but went as plain `SEND`s: the
    /// kernel has no `SEND_ZC` (before Linux 6.0), or the socket refused it (a Unix
    /// stream).
    pub zero_copy_fallbacks: u64,
    /// Operations of the completion layer whose final CQE arrived: every socket
    /// and file operation on [`Backend::IoUring`]; file reads, writes and syncs (and
    /// their cancellations' targets) under [`Backend::Auto`] when files run on a ring
    /// ([`IoContext::completion_files`](crate::IoContext::completion_files)); 0 on
    /// epoll.
    pub completion_operations: u64,
    /// [`Backend::Auto`] with files on a ring only: `io_uring_enter` calls of the ring
    /// that serves files (one per submitted operation: nobody waits in it, epoll
    /// reports its completions). Not in `enters`, which counts epoll's calls.
    pub file_ring_enters: u64,
    /// [`Backend::Auto`] with files on a ring only: CQEs taken from that ring.
    pub file_ring_completions: u64,
}

impl IoStats {
    /// The fraction of completion-path reads that completed without waiting
    /// (`reads_inline / (reads_inline + reads_waited)`; 0 before any read, and always
    /// on epoll, whose reads are counted nowhere).
    pub fn inline_read_fraction(&self) -> f64 {
        let all = self.reads_inline + self.reads_waited;
        if all == 0 {
            0.0
        } else {
            self.reads_inline as f64 / all as f64
        }
    }

    /// Submitted requests per kernel call (`submitted / enters`; 0 before any call): a
    /// measure of batching. epoll makes one `epoll_ctl` per change, so its figure stays
    /// below 1; io_uring hands changes over with the waits.
    pub fn submissions_per_enter(&self) -> f64 {
        if self.enters == 0 {
            0.0
        } else {
            self.submitted as f64 / self.enters as f64
        }
    }
}
