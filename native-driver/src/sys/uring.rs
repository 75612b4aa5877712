//! The io_uring backend: readiness on a ring.
//!
//! # Design
//! This first step keeps the reactor's readiness model (`ARCHITECTURE.md`, "Readiness
//! first") and moves its waits onto an io_uring, so both backends run the same socket
//! code. Each registered descriptor gets one **multishot `IORING_OP_POLL_ADD`** for
//! `EPOLLIN | EPOLLOUT | EPOLLRDHUP`, edge-triggered (the kernel's default for poll
//! requests): the kernel posts a completion (CQE) whose result is the event mask each
//! time the descriptor's wait queue is woken with a matching event, and the reactor
//! clears readiness only on `EAGAIN`, exactly as under epoll. A CQE without
//! `IORING_CQE_F_MORE` means the request ended (the kernel could not post into a full
//! completion queue, or the request was canceled); while its registration lives it is
//! armed again, and a fresh poll reports the current readiness at once, so no edge is
//! lost. Deregistering submits an `IORING_OP_POLL_REMOVE` before the descriptor
//! closes (the request holds the file open: a peer sees the close only once it is
//! removed); a removal that meets the poll while its wake-up runs fails with
//! `EALREADY` and is submitted again, and dropping a registration drives the ring
//! until the kernel confirmed the removal (`Ring::removal_pending`), so the descriptor
//! may be closed when the drop returns even if no runner turns the context again. Tokens carry a generation, so a late CQE for a
//! reused slot is ignored.
//!
//! Waits are `io_uring_enter(GETEVENTS)` with a timeout (`IORING_FEAT_EXT_ARG`:
//! `ETIME` is the timeout, `EINTR` is retried with the time left), and they submit
//! what is queued: a registration made on a runner thread costs no syscall of its own,
//! it goes to the kernel with that runner's next wait (at once when another runner is
//! asleep in the kernel, so it never waits behind a sleeping ring). A runner wakes
//! another with an `IORING_OP_NOP`, whose CQE its own `io_uring_enter` posts; other
//! threads (and a submission queue that stays full) write an eventfd watched by a
//! multishot poll, whose wake-ups run on the thread that armed it (see
//! [`Ring::wake`]); a runner that
//! polls without blocking and finds the completion queue empty and nothing to submit
//! makes no syscall at all.
//!
//! # Several runner threads
//! [`IoContext::new`](crate::IoContext::new) contexts run on any number of threads, and
//! the kernel lets several of them wait in `io_uring_enter` at once. The submission
//! queue and the draining of the completion queue are each guarded by a mutex, and
//! neither is held across the kernel wait. Why that is sound: a queue handle
//! (`submission_shared`/`completion_shared`) caches the ring's head and tail and
//! writes its side back when dropped, so two handles of one queue at once would
//! publish stale positions and lose or repeat entries; the mutex makes every handle
//! exclusive for its lifetime, and the only way to a handle borrows the mutex's guard
//! (`CqLock::queue`, `SqLock::queue`), so the compiler refuses a handle that outlives
//! its lock (one did, as a temporary in a block's tail expression, which edition 2021
//! drops after the block's locals: its drop moved the head back and CQEs were handed
//! out twice). Against the kernel, the shared head and tail are
//! atomics (release on publish, acquire on read), entries are written before the tail
//! that publishes them and read before the head that frees them. `io_uring_enter`
//! touches no handle: several threads may submit and wait at once (the kernel
//! serializes submission itself), and a submitter only reads the published tail.
//!
//! # Where the kernel does the work
//! A poll request's wake-ups run as task work of the thread that submitted it (the
//! ring is set up without `DEFER_TASKRUN`, which would tie it to one issuer thread).
//! When that thread is a runner, this is what makes a busy single-threaded context
//! cheap: CQEs are posted when it returns from its own `send`/`recv` calls, and its
//! non-blocking polls find them without entering the kernel. The ring runs task work
//! cooperatively (`COOP_TASKRUN`): a submitter busy in user space is not interrupted
//! by an IPI per event (tens of thousands per second on a keep-alive server with two
//! runners, where epoll sends a few hundred) but runs its work at its next syscall or
//! return to user space (a timer tick at the latest); one asleep is woken as before.
//! When the submitter is a thread that does not run the context, each event waits for
//! that thread; once it has exited, the kernel ends the request at its next event
//! with `ECANCELED` without doing it (its task work falls back to a kernel worker,
//! which may not run it), and every kind goes again from the thread that drains that
//! CQE: readiness and wake polls are re-armed, multishot receives and accepts too,
//! sends and one-shot operations resubmitted (`tests::entries_a_thread_submitted_for_others_outlive_it`,
//! `tests/submitter_exit.rs`). Registrations made there cost a hop per event, and so do wake-ups from threads that run nothing (a
//! runner's are NOPs, see [`Ring::wake`]). Even on the right thread, each readiness
//! event costs a task-work run and a CQE that epoll's callback does not (~1 of each
//! per request on the http probes). Rings per runner thread, or `DEFER_TASKRUN` for
//! single-threaded contexts (batches that task work into the waits), are the way out
//! (next steps).
//!
//! # user_data layout (shared with the completion layer in `crate::uring`)
//! The top two bits of every entry's user_data name its owner: `0b00` readiness
//! registrations (reactor tokens: generation in bits 32..62, slot in bits 0..32),
//! `0b01` this module's own entries (the wake poll with generation 0, which no token
//! has; a poll removal carries the removed token), `0b10`/`0b11` the
//! completion layer's operations and housekeeping.
//!
//! # The completion layer on this ring (`Host`)
//! [`Host`] pairs the ring with `crate::uring::Completions`, which runs TCP (multishot
//! receive into a provided-buffer ring, write-behind sends, multishot accept). The
//! ring implements `uring::Submit`: an unsafe entry point whose caller keeps what the
//! entry points to alive until its final CQE (the layer's slots own it). A push
//! reaches the kernel even while another runner sleeps in `io_uring_enter` (the
//! `waiters` handshake submits at once). A drain hands the layer's CQEs (kinds `0b1x`)
//! to `Completions::complete_all`, all of them in one call, after releasing the
//! completion queue's lock (the layer pushes while it holds its own), hand over hand:
//! it takes the hand-over lock before it releases the queue's, so several runners
//! drain at once, yet a later drain's CQEs never reach the layer before an earlier
//! one's (one socket's CQEs, a multishot receive's buffers, must arrive in the order
//! the kernel posted them). No tickets, no turn to wait for: a dispatch that panics
//! releases the lock like any other, and what it left queued goes to the next one.
//! Paths that may run inside a dispatch (a socket dropped by a woken task:
//! `Reactor::settle`, `Registration`'s drop) only try the locks and leave the
//! completions to whoever holds them. Runners mark their
//! thread as running the context before they wait, so the tasks the layer wakes are
//! queued locally. The
//! probe asks for Linux 6.0 (multishot receive; the opcode probe cannot see flags)
//! and `Completions::new` for provided-buffer rings. Teardown (`Host::shut_down`, at
//! context drop): the layer cancels everything in flight, the ring is drained until
//! the kernel holds none of its operations, and the ring closes when its last `Arc`
//! (the layer's) goes, before the layer's memory. On this path: TCP and Unix streams
//! and listeners, UDP, files; Unix datagrams, signals and readiness `wait` stay on the
//! multishot polls above.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{fence, AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, TryLockError};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};

use super::epoll::EventFd;
use super::select::{simulated_failure, FallbackReason};
use super::{readiness, ready, Counters};
use crate::sync::lock;
use crate::uring::{self as completion, Completions};

thread_local! {
    /// This thread hands the completion layer its CQEs (and holds the hand-over lock,
    /// so no drain can make progress until it is done).
    static DISPATCHING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    /// The ring this thread last waited on: it runs that ring's context, and its
    /// wake-ups may submit (see [`Ring::wake`]). Only compared, never dereferenced.
    static WAITED_ON: std::cell::Cell<*const Ring> = const { std::cell::Cell::new(std::ptr::null()) };
}

/// `true` inside the completion layer's dispatch on this thread (a waker that drops a
/// future, say): waiting there for the ring to drain would only spin (see
/// [`Reactor::await_removal`](crate::reactor::Reactor)).
pub(crate) fn dispatching_here() -> bool {
    DISPATCHING.with(std::cell::Cell::get)
}

/// The longest a wait sleeps while entries the ring refused wait to be queued again.
const RETRY_WAIT: Duration = Duration::from_millis(1);
/// Submission queue entries; the completion queue is larger (readiness CQEs of many
/// descriptors can arrive between two drains).
const SQ_ENTRIES: u32 = 256;
const CQ_ENTRIES: u32 = 4096;
/// CQEs handled per wait at most; the rest stay queued for the next one.
const DRAIN_MAX: usize = 1024;

/// The top two bits of user_data: who owns the entry.
const KIND_SHIFT: u32 = 62;
/// This module's own entries.
const KIND_INTERNAL: u64 = 0b01 << KIND_SHIFT;
/// The multishot poll on the wake eventfd (generation 0, which no token has).
const WAKE_DATA: u64 = KIND_INTERNAL;
/// A wake-up's `IORING_OP_NOP` (generation 0 like `WAKE_DATA`, slot 1): its CQE is
/// posted by the waker's own `io_uring_enter` (see [`Ring::wake`]).
const WAKE_NOP: u64 = KIND_INTERNAL | 1;
/// In the re-arm list only: arm one more wake poll (after a dropped completion).
const WAKE_EXTRA: u64 = u64::MAX;
/// Low bits: everything but the kind.
const TOKEN_MASK: u64 = !(0b11 << KIND_SHIFT);

/// What a readiness registration polls for (edge-triggered: poll requests are unless
/// `IORING_POLL_ADD_LEVEL` is asked for).
const POLL_EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP) as u32;

/// An io_uring that reports readiness like an epoll instance.
pub(crate) struct Ring {
    ring: IoUring,
    /// Guards every `submission_shared` handle: only [`SqLock::queue`] makes one.
    sq: Mutex<()>,
    /// Guards every `completion_shared` handle: only [`CqLock::queue`] makes one.
    cq: Mutex<()>,
    /// The completion layer's CQEs on their way to it, in completion queue order. A
    /// drain locks this before it releases `cq` and hands its CQEs over after (see
    /// [`Ring::drain`]); what a panicking dispatcher left here goes first next time.
    handover: Mutex<VecDeque<(u64, i32, u32)>>,
    /// A dispatch panicked and left CQEs in `handover`: the next drain hands them
    /// over even if it took none of the layer's.
    handover_left: AtomicBool,
    /// Live registrations by slot (the token's low 32 bits): `(token, fd)`, so a poll
    /// the kernel ended is armed again, and one of a dropped registration is not.
    live: Mutex<Vec<Option<(u64, RawFd)>>>,
    /// Polls to arm again and removals to retry that could not be queued yet (a full
    /// submission queue): kept by the ring, so no runner's return loses them.
    rearm: Mutex<Vec<u64>>,
    /// `rearm` is not empty (checked without its lock on every wait).
    rearm_pending: AtomicBool,
    /// Tokens whose poll removal the kernel has not confirmed yet (`deregister` waits
    /// for it: the poll holds the descriptor's file open).
    removing: Mutex<Vec<u64>>,
    waker: EventFd,
    /// Threads in (or about to enter) a blocking `io_uring_enter`: entries queued
    /// while one sleeps are submitted at once.
    waiters: AtomicUsize,
    /// The kernel reported a dropped completion: waits `poll(2)` the ring's
    /// descriptor from then on (see [`Ring::poll_wait`]).
    waits_by_poll: AtomicBool,
    /// The completion layer had an entry refused (a submission queue that stays
    /// full): the host has it retry ([`Completions::retry_pending`]) after each wait.
    layer_refused: AtomicBool,
    /// Test hooks: the next wait fails with `EBADR` (a CQE the kernel dropped); the
    /// next removal is answered `EALREADY` without reaching the kernel.
    #[cfg(test)]
    simulate: Mutex<Simulate>,
    pub(crate) counters: Counters,
}

#[cfg(test)]
#[derive(Debug, Default)]
struct Simulate {
    dropped_cqe: bool,
    removal_busy: bool,
    /// The next this many pushes fail as a submission queue that stays full would.
    refuse_pushes: usize,
}

/// The `cq` mutex held: the only way to the completion queue's handle.
struct CqLock<'a> {
    ring: &'a IoUring,
    _held: MutexGuard<'a, ()>,
}

impl CqLock<'_> {
    /// The completion queue. The handle caches the head and publishes it when dropped,
    /// so it must never outlive the lock (a late drop would move the head back and
    /// hand CQEs out twice): it borrows the lock, so the compiler sees to that.
    fn queue(&mut self) -> cqueue::CompletionQueue<'_> {
        // SAFETY: the `cq` mutex is held for as long as the handle lives (it borrows
        // this guard), so no other completion queue handle exists.
        unsafe { self.ring.completion_shared() }
    }
}

/// The `sq` mutex held: the only way to the submission queue's handle.
struct SqLock<'a> {
    ring: &'a IoUring,
    _held: MutexGuard<'a, ()>,
}

impl SqLock<'_> {
    /// The submission queue; like [`CqLock::queue`], bound to the lock.
    fn queue(&mut self) -> squeue::SubmissionQueue<'_> {
        // SAFETY: the `sq` mutex is held for as long as the handle lives.
        unsafe { self.ring.submission_shared() }
    }
}

/// How a drain takes the locks it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Take {
    /// Waits for them (a runner's wait).
    Wait,
    /// Gives up at once when one is held (`settle`, `deregister`: they may run inside
    /// a dispatch, whose thread holds the hand-over lock).
    Try,
}

impl std::fmt::Debug for Ring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ring")
            .field("params", self.ring.params())
            .field("waiters", &self.waiters)
            .finish_non_exhaustive()
    }
}

impl Ring {
    /// Sets up a ring and checks everything this backend relies on; the reason when
    /// the kernel (or `STRAIT_NATIVE_URING_PROBE_FAIL`) says no.
    pub(crate) fn open() -> Result<Ring, FallbackReason> {
        if let Some(reason) = simulated_failure() {
            return Err(reason);
        }
        // Multishot receive (the TCP path's reads) came with Linux 6.0; the opcode
        // probe cannot see flags, so the version decides.
        if !kernel_at_least(6, 0) {
            return Err(FallbackReason::MissingFeature(MULTISHOT_RECV));
        }
        // Cooperative task running: a readiness poll's or an operation's wake-up runs
        // on its submitter's next entry into the kernel (a syscall, or a timer tick's
        // return to user space; a sleeping submitter is woken as before) instead of
        // interrupting it with an IPI. Measured on the http bench: ~20 000 rescheduling
        // IPIs per keep-alive row without it, ~800 with it (epoll ~450). The flag makes
        // `has_pending_work` see task work still to run (`sq.taskrun()`).
        let ring = IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .setup_clamp()
            .setup_coop_taskrun()
            .setup_taskrun_flag()
            .build(SQ_ENTRIES)
            .map_err(|e| FallbackReason::from_setup_error(&e))?;
        let params = ring.params();
        if !params.is_feature_ext_arg() {
            return Err(FallbackReason::MissingFeature("EXT_ARG"));
        }
        if !params.is_feature_nodrop() {
            return Err(FallbackReason::MissingFeature("NODROP"));
        }
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| FallbackReason::from_setup_error(&e))?;
        for (code, name) in [
            (opcode::PollAdd::CODE, "POLL_ADD"),
            (opcode::PollRemove::CODE, "POLL_REMOVE"),
            (opcode::Nop::CODE, "NOP"),
            (opcode::Recv::CODE, "RECV"),
            (opcode::Send::CODE, "SEND"),
            (opcode::Accept::CODE, "ACCEPT"),
            (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
        ] {
            if !probe.is_supported(code) {
                return Err(FallbackReason::MissingOpcode(name));
            }
        }
        let waker = EventFd::new().map_err(|e| FallbackReason::from_setup_error(&e))?;
        let ring = Ring {
            ring,
            sq: Mutex::new(()),
            cq: Mutex::new(()),
            handover: Mutex::new(VecDeque::new()),
            handover_left: AtomicBool::new(false),
            live: Mutex::new(Vec::new()),
            rearm: Mutex::new(Vec::new()),
            rearm_pending: AtomicBool::new(false),
            removing: Mutex::new(Vec::new()),
            waker,
            waiters: AtomicUsize::new(0),
            waits_by_poll: AtomicBool::new(false),
            layer_refused: AtomicBool::new(false),
            #[cfg(test)]
            simulate: Mutex::new(Simulate::default()),
            counters: Counters::default(),
        };
        ring.arm_waker()?;
        Ok(ring)
    }

    /// Arms the wake poll and checks the kernel keeps it (multishot poll: Linux 5.13):
    /// one wake-up must come back with `IORING_CQE_F_MORE`.
    fn arm_waker(&self) -> Result<(), FallbackReason> {
        let os = |e: io::Error| FallbackReason::Os(e.raw_os_error().unwrap_or(0));
        self.push(wake_poll(self.waker.as_raw_fd())).map_err(os)?;
        self.waker.wake();
        self.ring.submitter().submit_and_wait(1).map_err(os)?;
        let mut held = self.lock_cq();
        let cqe = held
            .queue()
            .next()
            .ok_or(FallbackReason::MissingFeature("multishot poll"))?;
        if cqe.user_data() != WAKE_DATA || cqe.result() < 0 || !cqueue::more(cqe.flags()) {
            return Err(FallbackReason::MissingFeature("multishot poll"));
        }
        self.waker.drain();
        Ok(())
    }

    /// The completion queue's lock (waits for it).
    fn lock_cq(&self) -> CqLock<'_> {
        CqLock {
            ring: &self.ring,
            _held: lock(&self.cq),
        }
    }

    /// The completion queue's lock, unless another holds it.
    fn try_lock_cq(&self) -> Option<CqLock<'_>> {
        try_lock(&self.cq).map(|held| CqLock {
            ring: &self.ring,
            _held: held,
        })
    }

    fn lock_sq(&self) -> SqLock<'_> {
        SqLock {
            ring: &self.ring,
            _held: lock(&self.sq),
        }
    }

    /// Registers `fd` under `token` (kind `0b00`): a multishot poll request, queued for
    /// the next `io_uring_enter`.
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        debug_assert_eq!(token >> KIND_SHIFT, 0, "readiness tokens are kind 0b00");
        {
            let mut live = lock(&self.live);
            let slot = slot(token);
            if live.len() <= slot {
                live.resize(slot + 1, None);
            }
            live[slot] = Some((token, fd));
        }
        let pushed = self.push(readiness_poll(fd, token));
        if pushed.is_err() {
            lock(&self.live)[slot(token)] = None;
        }
        pushed
    }

    /// Removes the poll request of `token` and submits the removal now. The request
    /// holds the descriptor's file open until the kernel removed it, which it may
    /// refuse for a moment (`EALREADY`, retried by the drain that sees it): until
    /// [`removal_pending`](Self::removal_pending) says otherwise, the caller drives
    /// the ring ([`Host::poll_now`]) before it closes the descriptor.
    pub(crate) fn deregister(&self, token: u64) -> io::Result<()> {
        {
            let mut live = lock(&self.live);
            match live.get_mut(slot(token)) {
                Some(entry) if entry.is_some_and(|(t, _)| t == token) => *entry = None,
                _ => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
            }
        }
        lock(&self.removing).push(token);
        #[cfg(test)]
        if std::mem::take(&mut lock(&self.simulate).removal_busy) {
            // As if the kernel had answered EALREADY: retried by the next drain.
            self.queue_rearm(&[KIND_INTERNAL | token]);
            return Ok(());
        }
        if self.push(poll_remove(token)).is_err() {
            // A submission queue that stays full for a moment: the re-arm list asks
            // again (the live entry is gone, so nothing else would, and the poll would
            // hold the file open until the ring closes).
            self.queue_rearm(&[KIND_INTERNAL | token]);
            return Ok(());
        }
        self.submit()
    }

    /// Test hook: the next removal is answered `EALREADY` without reaching the kernel
    /// (the poll's wake-up running), as the kernel does now and then.
    #[cfg(test)]
    pub(crate) fn simulate_removal_busy(&self) {
        lock(&self.simulate).removal_busy = true;
    }

    /// Test hook: the next `n` pushes fail as a submission queue that stays full does.
    #[cfg(test)]
    pub(crate) fn simulate_refused_pushes(&self, n: usize) {
        lock(&self.simulate).refuse_pushes = n;
    }

    /// Test hook: holds the completion queue's lock, as a drain on another thread does.
    #[cfg(test)]
    pub(crate) fn hold_completion_queue(&self) -> MutexGuard<'_, ()> {
        lock(&self.cq)
    }

    /// The kernel has not confirmed the removal of `token`'s poll yet.
    pub(crate) fn removal_pending(&self, token: u64) -> bool {
        lock(&self.removing).contains(&token)
    }

    /// Interrupts a wait from any thread.
    ///
    /// From a runner (a thread that has waited on this ring), with an
    /// `IORING_OP_NOP`: a NOP completes while it is submitted, so its CQE is posted by
    /// the waker's own `io_uring_enter` (at once when a runner sleeps in the kernel, by
    /// the next wait's submission otherwise), which wakes the sleeping runner
    /// directly. The eventfd's poll, by contrast, runs its wake-up as task work of the
    /// thread that armed it (the one that opened the ring, often not a runner): each
    /// wake-up woke that thread first, a context switch and usually an interrupt, and
    /// with `COOP_TASKRUN` waited for it when it was busy. Other threads keep the
    /// eventfd: their `io_uring_enter` would submit every entry queued meanwhile, and
    /// a request's wake-ups run as task work of its submitter, so a readiness poll a
    /// runner queued would hop through that thread for the socket's lifetime. The
    /// eventfd is also the fallback for a submission queue that stays full.
    pub(crate) fn wake(&self) {
        Counters::add(&self.counters.wakeups, 1);
        let runner = WAITED_ON.with(|w| std::ptr::eq(w.get(), self));
        if !runner || self.push(wake_nop()).is_err() {
            // The eventfd is never drained here: each write wakes its wait queue, which
            // the multishot poll reports as a new CQE; the counter cannot reach its limit.
            self.waker.wake();
        }
    }

    /// Queues `entry`; when the queue is full, submits what it holds first. Submits at
    /// once when a runner sleeps in the kernel (it would not see the entry otherwise).
    /// `Err` only when the entry was not queued.
    ///
    /// Only for entries that point at no memory (polls, removals, no-ops): that is the
    /// safety argument below.
    fn push(&self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: the entries pushed here carry no pointer (see the doc above), so
        // nothing the kernel reads or writes can be freed before it completes.
        unsafe { self.push_owned(&entry) }
    }

    /// Queues an entry that may point at memory (the completion layer's operations).
    ///
    /// # Safety
    /// As [`completion::Submit::push`]: what `entry` points to stays valid until its
    /// final CQE has been handed to the completion layer.
    unsafe fn push_owned(&self, entry: &squeue::Entry) -> io::Result<()> {
        #[cfg(test)]
        {
            let mut simulate = lock(&self.simulate);
            if simulate.refuse_pushes > 0 {
                simulate.refuse_pushes -= 1;
                return Err(queue_full());
            }
        }
        {
            let mut held = self.lock_sq();
            let mut sq = held.queue();
            // SAFETY: the caller keeps the entry's memory valid until its final CQE.
            while unsafe { sq.push(entry) }.is_err() {
                sq.sync();
                self.enter_submit()?;
                sq.sync();
                if sq.is_full() {
                    return Err(queue_full());
                }
            }
            Counters::add(&self.counters.submitted, 1);
        }
        // As in `push`: a runner asleep in the kernel would not see the entry.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            // The entry is queued: an error now must not reach the caller, who would
            // take it as "not queued": `register` would forget a poll the kernel still
            // holds, and the layer would free what the entry points to
            // (`Submit::push`'s contract). The next wait submits it.
            if let Err(e) = self.submit() {
                log::warn!(
                    "io_uring: submitting a queued entry failed ({e}); the next wait submits it"
                );
            }
        }
        Ok(())
    }

    /// Submits what is queued, without waiting.
    fn submit(&self) -> io::Result<()> {
        self.enter_submit().map(drop)
    }

    fn enter_submit(&self) -> io::Result<usize> {
        Counters::add(&self.counters.enters, 1);
        match self.ring.submitter().submit() {
            // EBUSY: completions wait in the kernel's overflow list (NODROP); the next
            // wait flushes them. EAGAIN: no memory for requests now; the next wait
            // submits again.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => Ok(0),
            other => other,
        }
    }

    /// [`wait_batched`](Self::wait_batched) with a per-CQE `layer` (the tests').
    #[cfg(test)]
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, usize)>,
        layer: &dyn Fn(u64, i32, u32),
        awake: &mut dyn FnMut(),
    ) -> io::Result<bool> {
        self.wait_batched(timeout, out, &each(layer), awake)
    }

    /// Waits up to `timeout` for completions (none: forever; zero: no wait, and no
    /// syscall when nothing is queued either way), then turns them into readiness
    /// (`out`) and hands the completion layer's (kinds `0b10`/`0b11`) to `layer`, in
    /// the order the kernel posted them, with no ring lock held (the layer pushes
    /// entries), a drain at a time: `layer` pulls every one from the iterator (what
    /// it leaves, should it panic, goes to the next drain). `awake` runs once the
    /// kernel wait is over, before any of that. `Ok(true)` when the kernel said it
    /// dropped a completion (`EBADR`): every live registration was reported ready and
    /// armed again (see [`recover_dropped`](Self::recover_dropped)); the caller tells
    /// the layer.
    pub(crate) fn wait_batched(
        &self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, usize)>,
        layer: &Batch<'_>,
        awake: &mut dyn FnMut(),
    ) -> io::Result<bool> {
        WAITED_ON.with(|w| w.set(self));
        let mut dropped = false;
        if timeout != Some(Duration::ZERO) && self.cq_is_empty() {
            self.waiters.fetch_add(1, Ordering::SeqCst);
            // Pairs with the fence in `push`.
            fence(Ordering::SeqCst);
            let waited = self.enter_wait(timeout);
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            awake();
            dropped = waited?;
        } else {
            awake();
            if self.has_pending_work() {
                self.submit()?;
            }
        }
        if dropped {
            self.recover_dropped(out);
        }
        self.drain(out, layer, Take::Wait);
        self.rearm();
        Ok(dropped)
    }

    /// Submits what is queued and handles the completions already there, without
    /// waiting and without waiting for a lock: another thread draining (or a dispatch
    /// on this thread, which holds the hand-over lock) leaves the completions to that
    /// one. `Ok(false)` when it could not drain.
    pub(crate) fn poll_now(
        &self,
        out: &mut Vec<(u64, usize)>,
        layer: &Batch<'_>,
    ) -> io::Result<bool> {
        if self.has_pending_work() {
            self.submit()?;
        }
        let drained = self.drain(out, layer, Take::Try);
        self.rearm();
        Ok(drained)
    }

    /// Entries queued for the kernel, or completions held in its overflow list.
    fn has_pending_work(&self) -> bool {
        let mut held = self.lock_sq();
        let sq = held.queue();
        !sq.is_empty() || sq.cq_overflow() || sq.taskrun()
    }

    fn cq_is_empty(&self) -> bool {
        let mut held = self.lock_cq();
        let empty = held.queue().is_empty();
        empty
    }

    /// `io_uring_enter`: submit what is queued and wait for a completion or the
    /// timeout. No lock is held: other runners submit and drain meanwhile. `Ok(true)`
    /// when the kernel reports a dropped completion (`EBADR`).
    fn enter_wait(&self, timeout: Option<Duration>) -> io::Result<bool> {
        #[cfg(test)]
        if std::mem::take(&mut lock(&self.simulate).dropped_cqe) {
            self.waits_by_poll.store(true, Ordering::Relaxed);
            return Ok(true);
        }
        if self.waits_by_poll.load(Ordering::Relaxed) {
            return self.poll_wait(timeout).map(|()| false);
        }
        let deadline = timeout.and_then(|t| Instant::now().checked_add(t));
        loop {
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            let ts = left.map(types::Timespec::from);
            let args = types::SubmitArgs::new();
            let args = match &ts {
                Some(ts) => args.timespec(ts),
                None => args,
            };
            Counters::add(&self.counters.enters, 1);
            match self.ring.submitter().submit_with_args(1, &args) {
                Ok(_) => return Ok(false),
                Err(e) => match e.raw_os_error() {
                    Some(libc::ETIME) => return Ok(false),
                    // A signal: wait on for the time left (a zero wait just returns).
                    Some(libc::EINTR) if left != Some(Duration::ZERO) => continue,
                    Some(libc::EINTR) => return Ok(false),
                    // Overflowed completions could not all be flushed (EBUSY), or
                    // requests could not be allocated (EAGAIN): drain, then try again
                    // with the next wait.
                    Some(libc::EBUSY | libc::EAGAIN) => return Ok(false),
                    // The kernel could not allocate an overflow entry and dropped a
                    // completion (NODROP rings, Linux 5.19+): recovered by the caller.
                    Some(libc::EBADR) => {
                        self.waits_by_poll.store(true, Ordering::Relaxed);
                        return Ok(true);
                    }
                    _ => return Err(e),
                },
            }
        }
    }

    /// Waits after a dropped completion: the kernel keeps the ring marked, and
    /// kernels that check the mark fail every waiting `io_uring_enter` with `EBADR`
    /// at once from then on (a busy loop, were it retried). So waits submit what is
    /// queued, then `poll(2)` the ring's descriptor, readable while the completion
    /// queue holds entries: one syscall more per wait, only on a ring that lost a
    /// completion.
    fn poll_wait(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.submit()?;
        let ms = timeout.map_or(-1, |t| {
            i32::try_from(t.as_nanos().div_ceil(1_000_000)).unwrap_or(i32::MAX)
        });
        let mut fd = libc::pollfd {
            fd: self.ring.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        Counters::add(&self.counters.enters, 1);
        // SAFETY: one valid pollfd, for the duration of the call.
        if unsafe { libc::poll(&mut fd, 1, ms) } == -1 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() != Some(libc::EINTR) {
                return Err(e);
            }
        }
        Ok(())
    }

    /// The kernel dropped a completion (out of memory for its overflow list), and
    /// nobody can tell whose. Whatever it was, no task may wait for it for ever: every
    /// live registration is reported readable and writable (its operations try their
    /// syscalls and meet the real state) and its poll removed, which arms it again
    /// either way (a removed poll ends with `ECANCELED`, re-armed while it lives; a
    /// poll already gone, its final CQE the lost one, answers `ENOENT`, re-armed
    /// too), a removal still unconfirmed is asked again, and a fresh wake poll is
    /// armed (two wake polls only wake twice). Counted in `Counters::dropped`.
    fn recover_dropped(&self, out: &mut Vec<(u64, usize)>) {
        Counters::add(&self.counters.dropped, 1);
        log::error!(
            "io_uring: the kernel dropped a completion (no memory for its overflow list); \
             every registration is re-armed and reported ready"
        );
        let mut retry = Vec::new();
        {
            let live = lock(&self.live);
            for &(token, _) in live.iter().flatten() {
                out.push((token, ready::READABLE | ready::WRITABLE));
                if self.push(poll_remove(token)).is_err() {
                    // Armed again by the re-arm list instead (should the poll live
                    // on, it is doubled: both report, and one outlives a removal).
                    retry.push(token);
                }
            }
        }
        retry.extend(lock(&self.removing).iter().map(|&t| KIND_INTERNAL | t));
        retry.push(WAKE_EXTRA);
        self.queue_rearm(&retry);
    }

    /// Takes up to `DRAIN_MAX` completions: readiness into `out`, ended polls and
    /// removals to retry into the ring's re-arm list, the completion layer's handed
    /// to `layer` after the queue's lock is released. Hand over hand: the hand-over
    /// lock is taken before the queue's lock is released, so a later drain (another
    /// runner's) cannot hand its CQEs over before these (a multishot receive's
    /// buffers must reach the layer in the order the kernel posted them), and a
    /// dispatch that panics releases it like any other. `false` when `take` is `Try`
    /// and a lock was held.
    fn drain(&self, out: &mut Vec<(u64, usize)>, layer: &Batch<'_>, take: Take) -> bool {
        let (mut held, mut handover) = match take {
            Take::Wait => (self.lock_cq(), None),
            // Both locks before the first CQE is taken: what is taken is handed over.
            Take::Try => match (self.try_lock_cq(), try_lock(&self.handover)) {
                (Some(held), Some(handover)) => (held, Some(handover)),
                _ => return false,
            },
        };
        let mut rearm = Vec::new();
        let (mut n, mut woken) = (0, false);
        for cqe in held.queue().take(DRAIN_MAX) {
            n += 1;
            let (data, result, flags) = (cqe.user_data(), cqe.result(), cqe.flags());
            let ended = !cqueue::more(flags);
            match data >> KIND_SHIFT {
                0b00 => {
                    if result >= 0 {
                        out.push((data, readiness(result as u32)));
                        if ended {
                            rearm.push(data);
                        }
                    } else if result == -libc::ECANCELED {
                        // Ours (a removal: the registration is gone, the re-arm below
                        // sees that) or the kernel's; re-armed while the registration
                        // lives.
                        rearm.push(data);
                    } else if ended {
                        // The poll failed for good (EBADF, EINVAL, ENOMEM): let the
                        // operations try their syscalls and meet the real error rather
                        // than re-arm into the same failure forever.
                        out.push((data, ready::ERROR | ready::READABLE | ready::WRITABLE));
                    }
                }
                0b01 if data == WAKE_DATA || data == WAKE_NOP => {
                    woken = true;
                    if ended && data == WAKE_DATA {
                        rearm.push(data);
                    }
                }
                0b01 => {
                    // A removal (user_data: kind 0b01 | the removed token). EALREADY: the
                    // poll was being run (its task work pending) and could not be
                    // canceled: try again, it holds the descriptor's file open. 0 and
                    // ENOENT (the poll had ended): the removal is done.
                    // ENOENT for a live registration (a removal of `recover_dropped`):
                    // its poll was gone, arm it again (`rearm` checks it lives).
                    if result == -libc::EALREADY {
                        rearm.push(data);
                    } else {
                        let token = data & TOKEN_MASK;
                        let mut removing = lock(&self.removing);
                        if let Some(i) = removing.iter().position(|&t| t == token) {
                            removing.swap_remove(i);
                        }
                        if result == -libc::ENOENT {
                            rearm.push(token);
                        }
                    }
                }
                // Kinds 0b10/0b11 belong to the completion layer.
                _ => handover
                    .get_or_insert_with(|| lock(&self.handover))
                    .push_back((data, result, flags)),
            }
        }
        if handover.is_none() && self.handover_left.load(Ordering::Acquire) {
            handover = Some(lock(&self.handover));
        }
        drop(held);
        Counters::add(&self.counters.completions, n);
        if woken && take == Take::Try {
            // A wake-up is for a runner about to sleep (or asleep) in the kernel, not
            // for a socket's drop that drained on the way: pass it on.
            self.wake();
        }
        if !rearm.is_empty() {
            self.queue_rearm(&rearm);
        }
        if let Some(mut handover) = handover {
            // All at once (the layer takes its lock once per drain and wakes each task
            // once), yet popped one at a time: should `layer` panic, the rest stays
            // queued, in order, and the next drain hands it over (the guard is
            // released by the unwind like any other).
            let unwinding = Unwinding(&self.handover_left);
            let dispatching = Dispatching::enter();
            while !handover.is_empty() {
                let before = handover.len();
                layer(&mut std::iter::from_fn(|| handover.pop_front()));
                assert!(
                    handover.len() < before,
                    "the completion layer takes its CQEs"
                );
            }
            drop(dispatching);
            std::mem::forget(unwinding);
            self.handover_left.store(false, Ordering::Release);
        }
        true
    }

    /// Adds to the ring's re-arm list (see [`rearm`](Self::rearm)).
    fn queue_rearm(&self, tokens: &[u64]) {
        let mut rearm = lock(&self.rearm);
        rearm.extend_from_slice(tokens);
        self.rearm_pending.store(true, Ordering::Release);
    }

    /// Arms again the polls the kernel ended whose registrations still live, and
    /// retries the removals the kernel could not do yet. What cannot be queued now
    /// (a submission queue that stays full) stays in the ring's list for the next
    /// wait, whichever runner makes it.
    fn rearm(&self) {
        if !self.rearm_pending.load(Ordering::Acquire) {
            return;
        }
        let mut rearm = lock(&self.rearm);
        // Held while pushing: a deregistration after this check queues its removal
        // behind the new poll, so the removal finds it.
        let live = lock(&self.live);
        let mut removals = false;
        while let Some(&token) = rearm.last() {
            let entry = if token == WAKE_DATA || token == WAKE_EXTRA {
                Some(wake_poll(self.waker.as_raw_fd()))
            } else if token >> KIND_SHIFT == 0b01 {
                // Not the removal of a live registration (`recover_dropped`'s, which
                // met the poll running: it lives on, and is wanted).
                let target = token & TOKEN_MASK;
                match live.get(slot(target)) {
                    Some(Some((t, _))) if *t == target => None,
                    _ => {
                        removals = true;
                        Some(poll_remove(target))
                    }
                }
            } else {
                match live.get(slot(token)) {
                    Some(Some((t, fd))) if *t == token => Some(readiness_poll(*fd, token)),
                    _ => None,
                }
            };
            if let Some(entry) = entry {
                if self.push(entry).is_err() {
                    break;
                }
                Counters::add(&self.counters.rearms, 1);
            }
            rearm.pop();
        }
        self.rearm_pending
            .store(!rearm.is_empty(), Ordering::Release);
        drop((live, rearm));
        if removals {
            // The poll holds its file open until removed, and the thread that dropped
            // the registration may not wait for this (another thread drained, see
            // `Reactor::await_removal`): submit now rather than at the next wait of a
            // context that may not run again. Only after `EALREADY` or a full queue.
            if let Err(e) = self.submit() {
                log::debug!("io_uring: submitting a retried poll removal failed ({e})");
            }
        }
    }
}

/// A submission queue that stays full after an `io_uring_enter` (the kernel out of
/// memory for requests, or overflowed completions to flush first): transient. `EBUSY`,
/// the kernel's own word for it, so that a caller that fails on it says something true.
/// A completion-layer CQE as the drain copies it out: `(user_data, result, flags)`.
pub(crate) type Cqe = (u64, i32, u32);

/// Where a drain hands the completion layer's CQEs: all of one drain in one call.
pub(crate) type Batch<'a> = dyn Fn(&mut dyn Iterator<Item = Cqe>) + 'a;

/// A per-CQE `layer` as a [`Batch`] (the tests' layers).
#[cfg(test)]
fn each(layer: &dyn Fn(u64, i32, u32)) -> impl Fn(&mut dyn Iterator<Item = Cqe>) + '_ {
    move |cqes| {
        for (data, result, flags) in cqes {
            layer(data, result, flags);
        }
    }
}

fn queue_full() -> io::Error {
    io::Error::from_raw_os_error(libc::EBUSY)
}

// SAFETY (of the impl): `push` is `push_owned`, whose contract is the trait's.
impl completion::Submit for Ring {
    unsafe fn push(&self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: the caller upholds `Submit::push`'s contract, which is `push_owned`'s.
        let pushed = unsafe { self.push_owned(&entry) };
        if pushed.is_err() {
            self.layer_refused.store(true, Ordering::Release);
        }
        pushed
    }

    fn unregister_buf_ring(&self, bgid: u16) -> Option<io::Result<()>> {
        // The ring is open: `Completions` holds this `Ring`'s `Arc`. No lock is taken.
        Some(self.ring.submitter().unregister_buf_ring(bgid))
    }
}

/// Marks this thread as dispatching ([`dispatching_here`]) until dropped (an unwind
/// included).
struct Dispatching(bool);

impl Dispatching {
    fn enter() -> Dispatching {
        Dispatching(DISPATCHING.with(|d| d.replace(true)))
    }
}

impl Drop for Dispatching {
    fn drop(&mut self) {
        DISPATCHING.with(|d| d.set(self.0));
    }
}

/// Sets its flag when dropped, which only an unwind does (it is forgotten otherwise).
struct Unwinding<'a>(&'a AtomicBool);

impl Drop for Unwinding<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
    }
}

/// Locks `m` unless another holds it (poisoning ignored, as `lock` does).
fn try_lock<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    match m.try_lock() {
        Ok(guard) => Some(guard),
        Err(TryLockError::Poisoned(p)) => Some(p.into_inner()),
        Err(TryLockError::WouldBlock) => None,
    }
}

/// The io_uring backend: the ring (readiness for every descriptor that asks, see the
/// module docs) and the completion layer on it (the TCP path).
#[derive(Debug)]
pub(crate) struct Host {
    pub(crate) ring: Arc<Ring>,
    pub(crate) completions: Arc<Completions>,
}

impl Host {
    /// Opens the ring and the completion layer on it (its provided-buffer ring needs
    /// Linux 5.19; `Ring::open` already asked for 6.0).
    pub(crate) fn open() -> Result<Host, FallbackReason> {
        let ring = Arc::new(Ring::open()?);
        let submit: Arc<dyn completion::Submit + Send + Sync> = ring.clone();
        let completions = Completions::new(
            &ring.ring.submitter(),
            submit,
            completion::Config::default(),
        )
        .map_err(|e| match e.raw_os_error() {
            Some(libc::EINVAL) => FallbackReason::MissingFeature("provided buffer rings"),
            _ => FallbackReason::from_setup_error(&e),
        })?;
        Ok(Host { ring, completions })
    }

    /// Has the completion layer send runs of `threshold` bytes or more with
    /// `IORING_OP_SEND_ZC` (`None`: never), as far as the kernel can: the opcode
    /// probe says whether it has `SEND_ZC` (Linux 6.0), the release whether its
    /// notifications report copies (6.2); without it, such sends stay plain and are
    /// counted as fallbacks.
    pub(crate) fn set_zero_copy_send(&self, threshold: Option<usize>) {
        let mut probe = Probe::new();
        let has_opcode = self
            .ring
            .ring
            .submitter()
            .register_probe(&mut probe)
            .is_ok()
            && probe.is_supported(opcode::SendZc::CODE);
        let support = if !has_opcode {
            completion::ZeroCopySupport::Unsupported
        } else if kernel_at_least(6, 2) {
            completion::ZeroCopySupport::ReportsUsage
        } else {
            completion::ZeroCopySupport::Supported
        };
        self.completions.set_zero_copy_send(threshold, support);
    }

    /// A runner's wait ([`Ring::wait`]), the completion layer's CQEs handed to it.
    pub(crate) fn wait(
        &self,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, usize)>,
        awake: &mut dyn FnMut(),
    ) -> io::Result<()> {
        let complete = |cqes: &mut dyn Iterator<Item = Cqe>| self.completions.complete_all(cqes);
        // Entries refused for a moment are asked again after a short wait at most,
        // should nothing else wake a runner.
        let timeout = if self.retry_refused() {
            Some(timeout.map_or(RETRY_WAIT, |t| t.min(RETRY_WAIT)))
        } else {
            timeout
        };
        let lost = self.ring.wait_batched(timeout, out, &complete, awake);
        self.retry_refused();
        if lost? {
            // Whose completion was lost nobody knows: the layer ends what it must.
            self.completions.completions_lost();
        }
        Ok(())
    }

    /// Has the completion layer queue what the ring refused before (the wait made
    /// room). `true` when something is still refused (the layer's or the ring's own).
    fn retry_refused(&self) -> bool {
        if self.ring.layer_refused.swap(false, Ordering::AcqRel) {
            self.completions.retry_pending();
        }
        self.ring.layer_refused.load(Ordering::Acquire)
            || self.ring.rearm_pending.load(Ordering::Acquire)
    }

    /// Submits and handles what is there without waiting for the kernel or a lock
    /// ([`Ring::poll_now`]); `false` when another thread (or a dispatch on this one)
    /// was draining.
    pub(crate) fn poll_now(&self, out: &mut Vec<(u64, usize)>) -> bool {
        let complete = |cqes: &mut dyn Iterator<Item = Cqe>| self.completions.complete_all(cqes);
        let drained = self.ring.poll_now(out, &complete).unwrap_or(false);
        self.retry_refused();
        drained
    }

    /// Teardown, when the context is dropped: the completion layer cancels everything
    /// in flight (its handles' operations end with the context-gone error), then the
    /// ring is drained until the kernel holds none of the layer's operations (or
    /// `limit` passed: what is left is leaked, never freed under the kernel). The ring
    /// closes when its last `Arc` goes (the layer's, once no socket refers to it), and
    /// the layer's memory after that.
    pub(crate) fn shut_down(&self, limit: Duration) {
        self.completions.shutdown();
        let deadline = Instant::now() + limit;
        let mut out = Vec::new();
        while self.completions.in_kernel() > 0 && Instant::now() < deadline {
            if self
                .wait(Some(Duration::from_millis(10)), &mut out, &mut || {})
                .is_err()
            {
                break;
            }
            out.clear();
        }
        if self.completions.in_kernel() == 0 {
            // No receive can pick a buffer any more: unregister the group, so the
            // layer frees its buffer memory when it drops (otherwise leaked, never
            // unmapped under a registered group).
            let _ = self.completions.unregister(&self.ring.ring.submitter());
        }
    }
}

/// The feature named when the kernel is older than 6.0.
pub(crate) const MULTISHOT_RECV: &str = "multishot recv (Linux 6.0)";

/// Whether the running kernel's release (`uname -r`) is at least `major.minor`; an
/// unreadable release counts as new enough (the probe and the first operations then
/// tell).
fn kernel_at_least(major: u32, minor: u32) -> bool {
    // SAFETY: `uname` fills the zeroed struct it is given.
    let mut name: libc::utsname = unsafe { std::mem::zeroed() };
    // SAFETY: `name` is a valid, writable utsname.
    if unsafe { libc::uname(&mut name) } != 0 {
        return true;
    }
    // SAFETY: the kernel NUL-terminates `release` within the array.
    let release = unsafe { std::ffi::CStr::from_ptr(name.release.as_ptr()) };
    let release = release.to_string_lossy();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .map(|p| p.parse::<u32>().ok());
    match (parts.next().flatten(), parts.next().flatten()) {
        (Some(a), Some(b)) => (a, b) >= (major, minor),
        _ => true,
    }
}

/// The slab slot of a reactor token.
fn slot(token: u64) -> usize {
    (token & 0xFFFF_FFFF) as usize
}

fn readiness_poll(fd: RawFd, token: u64) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), POLL_EVENTS)
        .multi(true)
        .build()
        .user_data(token)
}

/// Removes the poll of `token`; the CQE's user_data names the token too, to retry.
fn poll_remove(token: u64) -> squeue::Entry {
    opcode::PollRemove::new(token)
        .build()
        .user_data(KIND_INTERNAL | token)
}

/// A wake-up (see [`Ring::wake`]).
fn wake_nop() -> squeue::Entry {
    opcode::Nop::new().build().user_data(WAKE_NOP)
}

fn wake_poll(fd: RawFd) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), libc::EPOLLIN as u32)
        .multi(true)
        .build()
        .user_data(WAKE_DATA)
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::Arc;
    use std::task::{Context, Poll};

    use super::*;

    fn pipe() -> (OwnedFd, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: pipe2 writes two descriptors into `fds`.
        assert_eq!(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }, 0);
        // SAFETY: both descriptors are fresh and owned by nothing else.
        unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) }
    }

    fn put(w: &OwnedFd) {
        // SAFETY: writes one byte from a valid buffer to an open pipe.
        let n = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(n, 1);
    }

    fn wait(ring: &Ring, timeout: Duration) -> Vec<(u64, usize)> {
        let mut out = Vec::new();
        ring.wait(Some(timeout), &mut out, &|_, _, _| {}, &mut || {})
            .unwrap();
        out
    }

    const TOKEN: u64 = (1 << 32) | 3;

    #[test]
    fn readiness_arrives_and_a_removal_stops_it() {
        let ring = Ring::open().unwrap();
        let (r, w) = pipe();
        ring.register(r.as_raw_fd(), TOKEN).unwrap();
        assert!(
            wait(&ring, Duration::ZERO).is_empty(),
            "an empty pipe is not readable"
        );
        put(&w);
        let out = wait(&ring, Duration::from_secs(5));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, TOKEN);
        assert_ne!(out[0].1 & ready::READABLE, 0);
        ring.deregister(TOKEN).unwrap();
        put(&w);
        let out = wait(&ring, Duration::from_millis(30));
        assert!(out.iter().all(|(t, _)| *t != TOKEN), "{out:?}");
        // The slot again, with a new generation: only the new registration reports.
        let next = (2 << 32) | 3;
        let (r2, w2) = pipe();
        ring.register(r2.as_raw_fd(), next).unwrap();
        put(&w2);
        let out = wait(&ring, Duration::from_secs(5));
        assert_eq!(out.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [next]);
        assert_eq!(
            ring.deregister(TOKEN).unwrap_err().raw_os_error(),
            Some(libc::ENOENT)
        );
        drop((r, w));
    }

    #[test]
    fn waits_time_out_and_a_wake_ends_them() {
        let ring = Arc::new(Ring::open().unwrap());
        let start = Instant::now();
        assert!(wait(&ring, Duration::from_millis(20)).is_empty());
        assert!(start.elapsed() >= Duration::from_millis(20));
        let waker = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(20));
                ring.wake();
            })
        };
        let start = Instant::now();
        let mut out = Vec::new();
        ring.wait(None, &mut out, &|_, _, _| {}, &mut || {})
            .unwrap();
        assert!(out.is_empty(), "a wake-up reports nothing");
        assert!(start.elapsed() < Duration::from_secs(5));
        waker.join().unwrap();
        // The wake poll is still armed: a second wake ends a second wait.
        ring.wake();
        ring.wait(None, &mut out, &|_, _, _| {}, &mut || {})
            .unwrap();
        assert_eq!(ring.counters.wakeups.load(Ordering::Relaxed), 2);
    }

    #[test]
    fn closing_a_polled_descriptor_does_not_end_its_poll_only_a_removal_does() {
        // Why `deregister` removes the poll before the descriptor closes instead of
        // letting the close end it: the request holds the file, so closing the
        // descriptor neither ends the poll (no final CQE) nor closes the file (the
        // writer still has a reader); the removal does both.
        let ring = Ring::open().unwrap();
        let (r, w) = pipe();
        ring.register(r.as_raw_fd(), TOKEN).unwrap();
        assert!(wait(&ring, Duration::ZERO).is_empty());
        drop(r);
        assert!(
            wait(&ring, Duration::from_millis(30)).is_empty(),
            "the close ended the poll"
        );
        // SAFETY: writes one byte from a valid buffer to an open pipe.
        let n = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(
            n, 1,
            "the pipe lost its reader: the poll did not hold the file"
        );
        let out = wait(&ring, Duration::from_secs(5));
        assert_eq!(out.iter().map(|(t, _)| *t).collect::<Vec<_>>(), [TOKEN]);
        ring.deregister(TOKEN).unwrap();
        let start = Instant::now();
        while ring.removal_pending(TOKEN) {
            assert!(start.elapsed() < Duration::from_secs(5), "never removed");
            wait(&ring, Duration::from_millis(10));
        }
        // SAFETY: as above. SIGPIPE is ignored by the test harness's runtime.
        let n = unsafe { libc::write(w.as_raw_fd(), b"x".as_ptr().cast(), 1) };
        assert_eq!(n, -1, "the removal closed the file");
        assert_eq!(io::Error::last_os_error().raw_os_error(), Some(libc::EPIPE));
    }

    /// A readiness poll's wake-up runs as task work of the thread that submitted it.
    /// Measures how long a runner asleep in the kernel waits for an event of a poll
    /// whose submitter is busy in user space (another runner, in a long task; under
    /// `COOP_TASKRUN` it is not interrupted) against one whose submitter sleeps. Prints
    /// the median and worst of 20 each; asserts only that every event arrives. Run
    /// with `--ignored --nocapture`.
    #[test]
    #[ignore = "a measurement, timing-dependent"]
    fn measure_event_latency_when_the_polls_submitter_is_busy() {
        // (submitter busy, another thread busy): the third keeps a CPU as busy as the
        // second does, so only whose CPU it is differs.
        for (busy, other) in [(false, false), (false, true), (true, false)] {
            let spinner = other.then(|| {
                let stop = Arc::new(AtomicBool::new(false));
                let s = stop.clone();
                let t = std::thread::spawn(move || {
                    while !s.load(Ordering::Relaxed) {
                        std::hint::spin_loop();
                    }
                });
                (stop, t)
            });
            let mut took: Vec<Duration> = (0..20).map(|_| event_latency(busy)).collect();
            if let Some((stop, t)) = spinner {
                stop.store(true, Ordering::Relaxed);
                t.join().unwrap();
            }
            took.sort();
            eprintln!(
                "submitter {}, another thread {}: median {:?}, worst {:?}",
                if busy { "busy in user space" } else { "asleep" },
                if other { "spinning" } else { "idle" },
                took[10],
                took[19]
            );
        }
    }

    fn event_latency(busy: bool) -> Duration {
        let ring = Arc::new(Ring::open().unwrap());
        let (r, w) = pipe();
        let stop = Arc::new(AtomicBool::new(false));
        let submitter = {
            let (ring, stop) = (ring.clone(), stop.clone());
            let fd = r.as_raw_fd();
            std::thread::spawn(move || {
                ring.register(fd, TOKEN).unwrap();
                ring.submit().unwrap();
                while !stop.load(Ordering::Relaxed) {
                    if busy {
                        std::hint::spin_loop();
                    } else {
                        std::thread::sleep(Duration::from_millis(1));
                    }
                }
            })
        };
        std::thread::sleep(Duration::from_millis(2));
        let sleeper = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                while out.is_empty() {
                    ring.wait(
                        Some(Duration::from_secs(5)),
                        &mut out,
                        &|_, _, _| {},
                        &mut || {},
                    )
                    .unwrap();
                }
                Instant::now()
            })
        };
        while ring.waiters.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(2));
        let sent = Instant::now();
        put(&w);
        let seen = sleeper.join().unwrap();
        stop.store(true, Ordering::Relaxed);
        submitter.join().unwrap();
        drop(r);
        seen - sent
    }

    /// This thread's voluntary context switches so far (`/proc/thread-self/status`).
    fn voluntary_switches() -> u64 {
        let status = std::fs::read_to_string("/proc/thread-self/status").unwrap();
        status
            .lines()
            .find_map(|l| l.strip_prefix("voluntary_ctxt_switches:"))
            .and_then(|v| v.trim().parse().ok())
            .unwrap()
    }

    #[test]
    fn a_wake_up_reaches_a_sleeping_runner_without_a_hop_through_the_ring_opener() {
        // The thread that opens the ring is often not a runner (`IoContext::new` made on
        // a main thread that then blocks). A wake-up must reach the runner asleep in
        // the kernel directly: a wake eventfd's poll would run each one as task work
        // of the opener, waking it (a context switch) on every wake-up.
        const WAKES: u64 = 40;
        let (ring_tx, ring_rx) = std::sync::mpsc::channel();
        let (r, w) = pipe();
        let opener = std::thread::spawn(move || {
            ring_tx.send(Arc::new(Ring::open().unwrap())).unwrap();
            let before = voluntary_switches();
            // Asleep in the kernel (interruptibly) until the test is done.
            let mut byte = 0u8;
            // SAFETY: reads one byte into a valid buffer from an open pipe.
            let n = unsafe { libc::read(r.as_raw_fd(), (&raw mut byte).cast(), 1) };
            assert_eq!(n, 1);
            voluntary_switches() - before
        });
        let ring: Arc<Ring> = ring_rx.recv().unwrap();
        let waited = Arc::new(AtomicUsize::new(0));
        let waker = {
            let (ring, waited) = (ring.clone(), waited.clone());
            std::thread::spawn(move || {
                // A runner (another one, between two tasks): it has waited on the ring.
                assert!(wait(&ring, Duration::ZERO).is_empty());
                for i in 0..WAKES as usize {
                    // The runner is in its i-th wait, asleep in the kernel.
                    while waited.load(Ordering::SeqCst) != i
                        || ring.waiters.load(Ordering::SeqCst) == 0
                    {
                        std::thread::yield_now();
                    }
                    std::thread::sleep(Duration::from_millis(1));
                    ring.wake();
                }
            })
        };
        let start = Instant::now();
        for _ in 0..WAKES {
            assert!(wait(&ring, Duration::from_secs(5)).is_empty());
            waited.fetch_add(1, Ordering::SeqCst);
        }
        waker.join().unwrap();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "a wake-up was lost"
        );
        put(&w);
        let opener_switches = opener.join().unwrap();
        assert!(
            opener_switches < WAKES / 4,
            "the opener woke {opener_switches} times for {WAKES} wake-ups"
        );
        assert_eq!(ring.counters.wakeups.load(Ordering::Relaxed), WAKES);
    }

    #[test]
    fn a_wake_up_from_a_thread_that_runs_nothing_submits_nothing_queued() {
        // A request's wake-ups run as task work of its submitter: a thread outside the
        // context (a pool thread posting a result, say) that submitted a runner's queued
        // registration would carry that socket's readiness for its lifetime.
        let ring = Arc::new(Ring::open().unwrap());
        let (r, _w) = pipe();
        ring.register(r.as_raw_fd(), TOKEN).unwrap();
        // A runner between announcing its sleep and entering the kernel (its enter
        // submits the registration itself): the moment a waker submits for it.
        ring.waiters.fetch_add(1, Ordering::SeqCst);
        let outsider = {
            let ring = ring.clone();
            std::thread::spawn(move || ring.wake())
        };
        outsider.join().unwrap();
        let queued = ring.lock_sq().queue().len();
        ring.waiters.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(queued, 1, "the wake-up submitted the registration");
        // The wake-up still ends the next wait (through the eventfd).
        let start = Instant::now();
        assert!(wait(&ring, Duration::from_secs(5)).is_empty());
        assert!(start.elapsed() < Duration::from_secs(4));
    }

    #[test]
    fn a_registration_while_another_thread_sleeps_in_the_kernel_reaches_it() {
        let ring = Arc::new(Ring::open().unwrap());
        let sleeper = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let mut out = Vec::new();
                while out.is_empty() {
                    ring.wait(
                        Some(Duration::from_secs(10)),
                        &mut out,
                        &|_, _, _| {},
                        &mut || {},
                    )
                    .unwrap();
                }
                out
            })
        };
        // Let the sleeper enter the kernel, then register and make the pipe readable
        // from here: the queued poll must be submitted for it.
        while ring.waiters.load(Ordering::SeqCst) == 0 {
            std::thread::yield_now();
        }
        std::thread::sleep(Duration::from_millis(10));
        let (r, w) = pipe();
        let start = Instant::now();
        ring.register(r.as_raw_fd(), TOKEN).unwrap();
        put(&w);
        let out = sleeper.join().unwrap();
        assert_eq!(out[0].0, TOKEN);
        assert!(start.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn completions_of_the_completion_layer_are_copied_out_not_reported_as_readiness() {
        let ring = Ring::open().unwrap();
        for kind in [0b10u64, 0b11] {
            let nop = opcode::Nop::new().build().user_data(kind << KIND_SHIFT | 7);
            ring.push(nop).unwrap();
        }
        let (mut seen, ops) = (Vec::new(), Mutex::new(Vec::new()));
        let layer = |data: u64, _, _| lock(&ops).push(data);
        let start = Instant::now();
        while lock(&ops).len() < 2 {
            let step = Some(Duration::from_millis(100));
            ring.wait(step, &mut seen, &layer, &mut || {}).unwrap();
            assert!(start.elapsed() < Duration::from_secs(5));
        }
        assert!(seen.is_empty(), "{seen:?}");
        let kinds: Vec<u64> = lock(&ops).iter().map(|d| d >> KIND_SHIFT).collect();
        assert_eq!(kinds, [0b10, 0b11]);
    }

    /// `n` no-ops for the completion layer, user_data `0b10 | sequence number`, pushed
    /// while `runners` threads drain the ring at once; returns what reached the layer
    /// (in hand-over order) once `n - skip` arrived. `panic_at`: the layer panics on
    /// that number once (on whichever runner hands it over).
    fn hand_over_under_runners(runners: usize, n: u64, panic_at: Option<u64>) -> Vec<u64> {
        let ring = Arc::new(Ring::open().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let panicked = Arc::new(AtomicBool::new(false));
        let expected = n as usize - usize::from(panic_at.is_some());
        let done = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..runners)
            .map(|_| {
                let (ring, seen, panicked, done) =
                    (ring.clone(), seen.clone(), panicked.clone(), done.clone());
                std::thread::spawn(move || {
                    let layer = |data: u64, _, _| {
                        let seq = data & TOKEN_MASK;
                        if Some(seq) == panic_at && !panicked.swap(true, Ordering::SeqCst) {
                            panic!("the layer panics on {seq} (on purpose)");
                        }
                        lock(&seen).push(seq);
                    };
                    let mut out = Vec::new();
                    while !done.load(Ordering::SeqCst) {
                        let step = Some(Duration::from_millis(2));
                        let waited = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            ring.wait(step, &mut out, &layer, &mut || {}).unwrap()
                        }));
                        assert!(waited.is_ok() || panic_at.is_some());
                        out.clear();
                    }
                })
            })
            .collect();
        for seq in 0..n {
            let nop = opcode::Nop::new()
                .build()
                .user_data(0b10 << KIND_SHIFT | seq);
            while ring.push(nop.clone()).is_err() {
                std::thread::yield_now();
            }
            if seq % 16 == 0 {
                std::thread::yield_now();
            }
        }
        let start = Instant::now();
        while lock(&seen).len() < expected && start.elapsed() < Duration::from_secs(30) {
            std::thread::sleep(Duration::from_millis(5));
        }
        done.store(true, Ordering::SeqCst);
        for _ in 0..runners {
            ring.wake();
        }
        for t in threads {
            t.join().unwrap();
        }
        let seen = lock(&seen).clone();
        seen
    }

    #[test]
    fn runners_draining_at_once_hand_every_layer_cqe_over_once_and_in_order() {
        // Several runners drain the completion queue at once, each many small batches
        // (a multishot receive's buffers arrive like this, across batches): every CQE
        // reaches the layer exactly once, in the kernel's order. (A queue handle that
        // outlived its lock once moved the head back: CQEs were handed out twice.)
        let n = 200_000;
        let seen = hand_over_under_runners(3, n, None);
        assert_eq!(seen.len(), n as usize, "lost or repeated CQEs");
        let out_of_order = seen.windows(2).position(|w| w[1] != w[0] + 1);
        assert_eq!(out_of_order, None, "CQEs handed over out of order");
    }

    #[test]
    fn a_panic_while_handing_over_does_not_wedge_the_other_runners() {
        let n = 5_000;
        let seen = hand_over_under_runners(3, n, Some(100));
        let expected: Vec<u64> = (0..n).filter(|&s| s != 100).collect();
        assert_eq!(seen.len(), expected.len(), "the other runners stopped");
        assert_eq!(seen, expected);
    }

    #[test]
    fn a_dropped_completion_reports_every_registration_ready_and_rearms_it() {
        let ring = Ring::open().unwrap();
        let (r, w) = pipe();
        ring.register(r.as_raw_fd(), TOKEN).unwrap();
        assert!(wait(&ring, Duration::ZERO).is_empty());
        lock(&ring.simulate).dropped_cqe = true;
        let mut out = Vec::new();
        let dropped = ring
            .wait(
                Some(Duration::from_secs(1)),
                &mut out,
                &|_, _, _| {},
                &mut || {},
            )
            .unwrap();
        assert!(dropped, "EBADR is reported, not an error");
        assert!(
            out.contains(&(TOKEN, ready::READABLE | ready::WRITABLE)),
            "{out:?}"
        );
        assert_eq!(ring.counters.dropped.load(Ordering::Relaxed), 1);
        // Let the removal and the re-arm run (the re-armed poll reports what is
        // there), then one write: one report, so one poll (not the old one and a new
        // one), and wake-ups still work.
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(100) {
            wait(&ring, Duration::from_millis(10));
        }
        assert_eq!(lock(&ring.rearm).len(), 0);
        put(&w);
        let start = Instant::now();
        let mut reports = Vec::new();
        while start.elapsed() < Duration::from_millis(200) {
            reports.extend(wait(&ring, Duration::from_millis(20)));
        }
        let readable = reports
            .iter()
            .filter(|(t, bits)| *t == TOKEN && bits & ready::READABLE != 0)
            .count();
        assert_eq!(readable, 1, "{reports:?}");
        ring.wake();
        let start = Instant::now();
        wait(&ring, Duration::from_secs(5));
        assert!(start.elapsed() < Duration::from_secs(4));
        drop((r, w));
    }

    #[test]
    fn a_removal_answered_ealready_is_retried_and_reported_pending_until_done() {
        let ring = Ring::open().unwrap();
        let (r, _w) = pipe();
        ring.register(r.as_raw_fd(), TOKEN).unwrap();
        wait(&ring, Duration::ZERO);
        lock(&ring.simulate).removal_busy = true;
        ring.deregister(TOKEN).unwrap();
        assert!(ring.removal_pending(TOKEN), "not confirmed yet");
        let start = Instant::now();
        while ring.removal_pending(TOKEN) {
            assert!(ring
                .poll_now(&mut Vec::new(), &each(&|_, _, _| {}))
                .unwrap());
            assert!(start.elapsed() < Duration::from_secs(5), "never retried");
        }
        assert!(ring.counters.rearms.load(Ordering::Relaxed) >= 1);
    }

    /// Polls `poll` until it is ready, running the host's waits in between.
    fn drive<T>(host: &Host, mut poll: impl FnMut(&mut Context<'_>) -> Poll<T>) -> T {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let start = Instant::now();
        loop {
            if let Poll::Ready(v) = poll(&mut cx) {
                return v;
            }
            assert!(start.elapsed() < Duration::from_secs(5), "never ready");
            host.wait(Some(Duration::from_millis(10)), &mut Vec::new(), &mut || {})
                .unwrap();
        }
    }

    #[test]
    fn a_dropped_completion_fails_the_streams_in_flight_with_a_clear_error() {
        let host = Host::open().unwrap();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let fd = Arc::new(OwnedFd::from(a));
        let mut recv = completion::RecvQueue::new(&host.completions, fd).unwrap();
        (&b).write_all(b"before").unwrap();
        let mut buf = [0u8; 16];
        let n = drive(&host, |cx| recv.poll_read(cx, &mut buf)).unwrap();
        assert_eq!(&buf[..n], b"before");
        lock(&host.ring.simulate).dropped_cqe = true;
        while ring_counter(&host.ring.counters.dropped) == 0 {
            host.wait(Some(Duration::from_millis(10)), &mut Vec::new(), &mut || {})
                .unwrap();
        }
        // Whether a byte was lost nobody knows: the stream ends with an error that
        // says so, rather than going on (or waiting for ever).
        let err = drive(&host, |cx| recv.poll_read(cx, &mut buf)).unwrap_err();
        assert!(err.to_string().contains("dropped a completion"), "{err}");
        drop(recv);
        host.shut_down(Duration::from_secs(2));
        assert_eq!(host.completions.in_kernel(), 0, "the receive ended");
    }

    #[test]
    fn entries_a_thread_submitted_for_others_outlive_it() {
        // A push made while a runner sleeps in the kernel submits, from the pushing
        // thread, every entry queued at that moment. A request's wake-ups run as task
        // work of the thread that submitted it; once that thread has exited, the
        // kernel ends the request at its next event with ECANCELED, without doing it.
        // Whatever others had queued must not die with that thread.
        let host = Host::open().unwrap();
        let udp = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let addr = udp.local_addr().unwrap();
        let udp = Arc::new(OwnedFd::from(udp));
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        let (r, w) = pipe();
        // Queued, not submitted: nobody sleeps in the kernel.
        let mut datagram = crate::uring::datagram::recv_msg(
            &host.completions,
            &udp,
            crate::uring::datagram::MsgBuf::new(),
        )
        .unwrap();
        let mut stream =
            completion::RecvQueue::new(&host.completions, Arc::new(OwnedFd::from(a))).unwrap();
        host.ring.register(r.as_raw_fd(), TOKEN).unwrap();
        assert_eq!(host.ring.lock_sq().queue().len(), 3);
        // A runner between announcing its sleep and entering the kernel: a thread
        // outside the context pushes (and so submits) meanwhile, then exits.
        host.ring.waiters.fetch_add(1, Ordering::SeqCst);
        let ring = host.ring.clone();
        std::thread::spawn(move || ring.push(wake_nop()).unwrap())
            .join()
            .unwrap();
        host.ring.waiters.fetch_sub(1, Ordering::SeqCst);
        assert_eq!(
            host.ring.lock_sq().queue().len(),
            0,
            "the outsider submitted them"
        );
        // An event for each.
        let sender = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sender.send_to(b"datagram", addr).unwrap();
        (&b).write_all(b"stream").unwrap();
        put(&w);
        let got = drive(&host, |cx| {
            std::future::Future::poll(std::pin::Pin::new(&mut datagram), cx)
        });
        assert_eq!(got.result.unwrap(), 8, "the datagram receive failed");
        assert_eq!(got.resource.data(8), b"datagram");
        let mut buf = [0u8; 16];
        let n = drive(&host, |cx| stream.poll_read(cx, &mut buf)).unwrap();
        assert_eq!(&buf[..n], b"stream", "the stream failed");
        // The waits above took the pipe's first event (or its poll's end): another.
        put(&w);
        let mut ready = Vec::new();
        drive(&host, |_| {
            let mut out = Vec::new();
            host.wait(Some(Duration::ZERO), &mut out, &mut || {})
                .unwrap();
            ready.extend(out.into_iter().map(|(t, _)| t));
            if ready.contains(&TOKEN) {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        });
        drop((datagram, stream));
        host.ring.deregister(TOKEN).unwrap();
        host.shut_down(Duration::from_secs(2));
        assert_eq!(host.completions.in_kernel(), 0);
    }

    #[test]
    fn a_receive_the_ring_refuses_for_a_moment_is_armed_by_a_later_wait() {
        let host = Host::open().unwrap();
        let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
        host.ring.simulate_refused_pushes(1);
        // Its first arming is refused: the stream opens anyway, and the host's next
        // wait arms it.
        let mut recv =
            completion::RecvQueue::new(&host.completions, Arc::new(OwnedFd::from(a))).unwrap();
        (&b).write_all(b"later").unwrap();
        let mut buf = [0u8; 16];
        let n = drive(&host, |cx| recv.poll_read(cx, &mut buf)).unwrap();
        assert_eq!(&buf[..n], b"later");
        drop(recv);
        host.shut_down(Duration::from_secs(2));
        assert_eq!(host.completions.in_kernel(), 0);
    }

    #[test]
    fn a_layer_dropped_without_the_host_shutdown_unregisters_its_buffer_ring() {
        // Else its mapping (4 MiB by default) is leaked for every such context.
        let host = Host::open().unwrap();
        let ring = host.ring.clone();
        drop(host); // no `shut_down`: the layer's drop unregisters, or leaks
        let again = ring.ring.submitter().unregister_buf_ring(0);
        assert!(again.is_err(), "the buffer group was still registered");
    }

    #[test]
    fn accepted_sockets_are_non_blocking_and_close_on_exec() {
        let host = Host::open().unwrap();
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let fd = Arc::new(OwnedFd::from(listener));
        let mut acceptor = completion::Acceptor::new(&host.completions, fd).unwrap();
        let _client = std::net::TcpStream::connect(addr).unwrap();
        let accepted = drive(&host, |cx| acceptor.poll_accept(cx)).unwrap();
        // SAFETY: F_GETFL/F_GETFD on a descriptor this test owns.
        let (flags, fd_flags) = unsafe {
            (
                libc::fcntl(accepted.as_raw_fd(), libc::F_GETFL),
                libc::fcntl(accepted.as_raw_fd(), libc::F_GETFD),
            )
        };
        assert_ne!(flags & libc::O_NONBLOCK, 0, "blocking: {flags:o}");
        assert_ne!(fd_flags & libc::FD_CLOEXEC, 0);
        drop(acceptor);
        host.shut_down(Duration::from_secs(2));
    }

    fn ring_counter(c: &std::sync::atomic::AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }

    #[test]
    fn kernel_versions_compare() {
        assert!(kernel_at_least(2, 6));
        assert!(!kernel_at_least(999, 0));
    }
}
