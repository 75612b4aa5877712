//! [`Backend::Auto`](super::Backend::Auto): epoll drives the context, a second io_uring
//! serves files.
//!
//! # Why two kernel interfaces
//! Measured side by side (`strait-bench`, docs/bench/2026-11-30-s21): sockets waiting
//! for readiness on a ring cost more kernel work per event than epoll (a task-work run
//! and a CQE per event that epoll's callback does not make) and trail it on the http
//! rows (keep-alive 0.99 vs 1.15 of hyper, close-every-10 0.88 vs 1.05); completion
//! sockets trail epoll on throughput (0.53–0.73). Files are the other way round: one
//! `io_uring_enter` per `read_at` against ~7.7 syscalls through the blocking pool. So
//! under `Auto` the [`epoll`](super::epoll) selector does everything it does under
//! `Backend::Epoll` (every socket, signals, timers' timeouts, wake-ups), and a
//! [`FileRing`] used only by the completion layer's file operations (`uring::file`)
//! sits beside it.
//!
//! # Nobody waits in `io_uring_enter`
//! Runners sleep in `epoll_wait`, so the ring's own descriptor is registered in epoll
//! (edge-triggered, for reading: it is readable while the completion queue holds
//! entries) under [`RING_TOKEN`]; when epoll reports it, the runner drains the ring
//! until it is empty and hands the CQEs to the completion layer. No completion is
//! lost between a drain and the next `epoll_wait`: the kernel wakes the ring's poll
//! queue on every CQE it posts, which queues a new edge whether or not a drain is
//! running; a CQE drained already leaves only a spurious report (an empty drain).
//!
//! Submission: a push submits at once (`io_uring_enter` with nothing to wait for), from
//! whichever thread makes it, so no entry sits in the queue while every runner sleeps
//! in `epoll_wait`. A page-cache hit completes inside that very call; its CQE is there
//! for the runner's next wait. An entry queued whose submit failed (`EBUSY`/`EAGAIN`)
//! is submitted again before the next `epoll_wait` ([`Hybrid::wait`]).
//!
//! Completion wake-ups: the ring is set up **without** `COOP_TASKRUN`. A read that
//! waits for the disk (or a FIFO) completes as task work of the thread that submitted
//! it; with `COOP_TASKRUN` that work would wait for the thread's next syscall, and a
//! runner asleep in `epoll_wait` with nothing else to do would never make one. Without
//! it the kernel signals the thread (`TWA_SIGNAL`): `epoll_wait` returns `EINTR` (no
//! events: the runner loops), the task work posts the CQE, and the ring's descriptor
//! turns readable. A thread outside the context that started an operation is
//! interrupted the same way (a blocking call of its own returns `EINTR`, which the
//! standard library retries), and after it exited a kernel worker runs its work.
//!
//! Teardown is the completion layer's (`Completions::shutdown`): everything in flight
//! is canceled and the ring drained until the kernel holds none of its operations, so
//! every buffer lives until its final CQE ([`FileHost::shut_down`]).
//!
//! Not handled yet: a completion the kernel drops (`NODROP` rings, when it has no
//! memory for an overflow entry) is reported only to a waiting `io_uring_enter`
//! (`EBADR`), which this ring never makes; an operation whose CQE was lost would wait
//! until the context drops (teardown then gives up after 2 s and leaks its slot,
//! never frees it under the kernel). `uring::Ring` recovers with
//! `Completions::completions_lost`; here that would need a periodic waiting enter.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{AsRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use io_uring::{opcode, squeue, IoUring, Probe};

use super::select::{simulated_failure, FallbackReason};
use super::{epoll, Counters};
use crate::sync::lock;
use crate::uring::{self as completion, Completions};

/// The ring's token in epoll (user_data kind `0b01` like epoll's own wake token, slot
/// 1: never a reactor token).
const RING_TOKEN: u64 = 1 << 62 | 1;
/// Submission queue entries (one-shot file operations; a full queue is submitted to
/// make room).
const SQ_ENTRIES: u32 = 64;
/// Completion queue entries (overflow goes to the kernel's list: `NODROP`).
const CQ_ENTRIES: u32 = 512;
/// The longest a wait sleeps while an entry the ring refused waits to be retried.
const RETRY_WAIT: Duration = Duration::from_millis(1);
/// Waits in a row that may hand over file completions already posted without calling
/// `epoll_wait` (see [`Hybrid::wait`]); the next one asks epoll, so sockets' readiness
/// is collected at least every `SKIPS_MAX + 1` waits of a runner.
const SKIPS_MAX: u32 = 8;

/// An io_uring for the completion layer's file operations, driven from epoll.
pub(crate) struct FileRing {
    ring: IoUring,
    /// Guards every `submission_shared` handle and the submits (so the queue length
    /// the submitter reads is never written meanwhile).
    sq: Mutex<()>,
    /// Guards every `completion_shared` handle.
    cq: Mutex<()>,
    /// CQEs on their way to the layer, in the order the kernel posted them: a drain
    /// locks this before it releases `cq` (hand over hand, as `uring::Ring` does), and
    /// what a panicking dispatch left goes first next time.
    handover: Mutex<VecDeque<(u64, i32, u32)>>,
    /// An entry was queued but its submit failed: the next wait submits it.
    unsubmitted: AtomicBool,
    /// The layer had an entry refused (a queue that stays full): the host has it retry.
    refused: AtomicBool,
    pub(crate) counters: FileCounters,
}

/// The file ring's counts (relaxed atomics: statistics).
#[derive(Debug, Default)]
pub(crate) struct FileCounters {
    pub(crate) enters: AtomicU64,
    pub(crate) submitted: AtomicU64,
    pub(crate) completions: AtomicU64,
}

impl std::fmt::Debug for FileRing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileRing")
            .field("fd", &self.ring.as_raw_fd())
            .field("counters", &self.counters)
            .finish_non_exhaustive()
    }
}

impl FileRing {
    /// Sets up the ring and checks what file operations need; the reason when the
    /// kernel (or `STRAIT_NATIVE_URING_PROBE_FAIL`) says no.
    fn open() -> Result<FileRing, FallbackReason> {
        if let Some(reason) = simulated_failure() {
            return Err(reason);
        }
        // No COOP_TASKRUN (module docs): a runner asleep in epoll_wait must be
        // interrupted to run a completion's task work.
        let ring = IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .setup_clamp()
            .build(SQ_ENTRIES)
            .map_err(|e| FallbackReason::from_setup_error(&e))?;
        if !ring.params().is_feature_nodrop() {
            return Err(FallbackReason::MissingFeature("NODROP"));
        }
        let mut probe = Probe::new();
        ring.submitter()
            .register_probe(&mut probe)
            .map_err(|e| FallbackReason::from_setup_error(&e))?;
        for (code, name) in [
            (opcode::Read::CODE, "READ"),
            (opcode::Write::CODE, "WRITE"),
            (opcode::Fsync::CODE, "FSYNC"),
            (opcode::AsyncCancel::CODE, "ASYNC_CANCEL"),
        ] {
            if !probe.is_supported(code) {
                return Err(FallbackReason::MissingOpcode(name));
            }
        }
        Ok(FileRing {
            ring,
            sq: Mutex::new(()),
            cq: Mutex::new(()),
            handover: Mutex::new(VecDeque::new()),
            unsubmitted: AtomicBool::new(false),
            refused: AtomicBool::new(false),
            counters: FileCounters::default(),
        })
    }

    fn fd(&self) -> RawFd {
        self.ring.as_raw_fd()
    }

    /// The completion queue holds CQEs (a load of its head and tail, no syscall).
    fn has_completions(&self) -> bool {
        let _held = lock(&self.cq);
        // SAFETY: the `cq` mutex is held for as long as the handle lives.
        let cq = unsafe { self.ring.completion_shared() };
        !cq.is_empty()
    }

    /// The submission queue's lock; [`SqHeld::queue`] is the only way to its handle.
    fn lock_sq(&self) -> SqHeld<'_> {
        SqHeld {
            ring: &self.ring,
            _held: lock(&self.sq),
        }
    }

    /// `io_uring_enter`: submits what is queued (the `sq` lock held by the caller),
    /// and with `flush` asks the kernel to move overflowed completions into the queue.
    fn enter(&self, _held: &SqHeld<'_>, flush: bool) -> io::Result<usize> {
        Counters::add(&self.counters.enters, 1);
        let submitter = self.ring.submitter();
        let entered = if flush {
            submitter.submit_and_wait(0)
        } else {
            submitter.submit()
        };
        match entered {
            // EBUSY: completions wait in the overflow list; EAGAIN: no memory for
            // requests now. Both pass: the next wait submits again.
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => Err(e),
            Err(e) if e.raw_os_error() == Some(libc::EINTR) => Ok(0),
            other => other,
        }
    }

    /// Queues `entry` and submits it at once (module docs); `Err` only when it was not
    /// queued.
    ///
    /// # Safety
    /// As [`completion::Submit::push`].
    unsafe fn push_owned(&self, entry: &squeue::Entry) -> io::Result<()> {
        let held = self.lock_sq();
        {
            let mut sq = held.queue();
            // SAFETY: the caller keeps what the entry points to valid until its final CQE.
            while unsafe { sq.push(entry) }.is_err() {
                // Full: submit what is there to make room (not queued yet: an error
                // here may reach the caller).
                drop(sq);
                self.enter(&held, false)?;
                sq = held.queue();
                if sq.is_full() {
                    return Err(io::Error::from_raw_os_error(libc::EBUSY));
                }
            }
            Counters::add(&self.counters.submitted, 1);
        }
        // Queued: from here on an error must not reach the caller (it would free what
        // the entry points to); the next wait submits it.
        if let Err(e) = self.enter(&held, false) {
            log::debug!("io_uring (files): submit failed ({e}); the next wait submits it");
            self.unsubmitted.store(true, Ordering::Release);
        }
        Ok(())
    }

    /// Submits entries whose submit failed before (a runner about to sleep).
    fn flush(&self) {
        if self.unsubmitted.swap(false, Ordering::AcqRel) {
            let held = self.lock_sq();
            if !held.queue().is_empty() && self.enter(&held, false).is_err() {
                self.unsubmitted.store(true, Ordering::Release);
            }
        }
    }

    /// Hands every CQE there is to `layer`, in the kernel's order, until the queue and
    /// the kernel's overflow list are empty; the number handed over.
    fn drain(&self, layer: &dyn Fn(u64, i32, u32)) -> u64 {
        let mut total = 0;
        loop {
            let held = lock(&self.cq);
            // SAFETY: the `cq` mutex is held for as long as the handle lives (it is
            // dropped before `held`, below).
            let mut cq = unsafe { self.ring.completion_shared() };
            let mut handover = lock(&self.handover);
            let mut n = 0;
            for cqe in &mut cq {
                handover.push_back((cqe.user_data(), cqe.result(), cqe.flags()));
                n += 1;
            }
            drop(cq);
            let overflow = n == 0 && {
                let sq = self.lock_sq();
                let overflow = sq.queue().cq_overflow();
                if overflow {
                    let _ = self.enter(&sq, true);
                }
                overflow
            };
            drop(held);
            // Popped one at a time: should `layer` panic, the rest stays queued, in
            // order, for the next drain.
            while let Some((data, result, flags)) = handover.pop_front() {
                layer(data, result, flags);
            }
            drop(handover);
            total += n;
            if n == 0 && !overflow {
                break;
            }
        }
        Counters::add(&self.counters.completions, total);
        total
    }
}

/// The `sq` mutex held: the only way to the submission queue's handle.
struct SqHeld<'a> {
    ring: &'a IoUring,
    _held: MutexGuard<'a, ()>,
}

impl SqHeld<'_> {
    /// The submission queue, bound to the lock (it publishes its tail when dropped).
    fn queue(&self) -> squeue::SubmissionQueue<'_> {
        // SAFETY: the `sq` mutex is held for as long as the handle lives (it borrows
        // this guard), and `SqHeld::queue` is the only place a handle is made.
        unsafe { self.ring.submission_shared() }
    }
}

// SAFETY (of the impl): `push` is `push_owned`, whose contract is the trait's.
impl completion::Submit for FileRing {
    unsafe fn push(&self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: the caller upholds `Submit::push`'s contract, which is `push_owned`'s.
        let pushed = unsafe { self.push_owned(&entry) };
        if pushed.is_err() {
            self.refused.store(true, Ordering::Release);
        }
        pushed
    }

    fn unregister_buf_ring(&self, bgid: u16) -> Option<io::Result<()>> {
        Some(self.ring.submitter().unregister_buf_ring(bgid))
    }
}

/// The file ring and the completion layer on it.
#[derive(Debug)]
pub(crate) struct FileHost {
    pub(crate) ring: Arc<FileRing>,
    pub(crate) completions: Arc<Completions>,
}

impl FileHost {
    fn open() -> Result<FileHost, FallbackReason> {
        let ring = Arc::new(FileRing::open()?);
        let submit: Arc<dyn completion::Submit + Send + Sync> = ring.clone();
        // Files take no provided buffers (those are for multishot receives): the layer
        // gets the smallest group it accepts.
        let config = completion::Config {
            buf_entries: 1,
            buf_size: 64,
            ..completion::Config::default()
        };
        let completions =
            Completions::new(&ring.ring.submitter(), submit, config).map_err(|e| {
                match e.raw_os_error() {
                    Some(libc::EINVAL) => FallbackReason::MissingFeature("provided buffer rings"),
                    _ => FallbackReason::from_setup_error(&e),
                }
            })?;
        Ok(FileHost { ring, completions })
    }

    /// Hands the ring's CQEs to the layer (until empty); then what the ring refused
    /// before is asked again.
    fn drain(&self) {
        let complete = |data, result, flags| self.completions.complete(data, result, flags);
        self.ring.drain(&complete);
        self.retry_refused();
    }

    /// `true` when something the ring refused is still waiting.
    fn retry_refused(&self) -> bool {
        if self.ring.refused.swap(false, Ordering::AcqRel) {
            self.completions.retry_pending();
        }
        self.ring.refused.load(Ordering::Acquire) || self.ring.unsubmitted.load(Ordering::Acquire)
    }

    /// Teardown, when the context is dropped: the layer cancels everything in flight,
    /// then the ring is drained until the kernel holds none of its operations (or
    /// `limit` passed: what is left is leaked, never freed under the kernel).
    pub(crate) fn shut_down(&self, limit: Duration) {
        self.completions.shutdown();
        let deadline = Instant::now() + limit;
        loop {
            self.ring.flush();
            self.drain();
            if self.completions.in_kernel() == 0 || Instant::now() >= deadline {
                break;
            }
            let mut fd = libc::pollfd {
                fd: self.ring.fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call. EINTR (a
            // completion's task work, see the module docs) just loops.
            unsafe { libc::poll(&mut fd, 1, 10) };
        }
        if self.completions.in_kernel() == 0 {
            // No operation can pick a buffer any more: unregister the group so the
            // layer frees its memory when it drops.
            let _ = self.completions.unregister(&self.ring.ring.submitter());
        }
    }
}

/// `Backend::Auto` on a kernel with io_uring: epoll for everything, a ring for files.
#[derive(Debug)]
pub(crate) struct Hybrid {
    pub(crate) epoll: epoll::Selector,
    pub(crate) files: FileHost,
}

impl Hybrid {
    /// The epoll selector with the file ring beside it; the epoll selector alone and
    /// the reason when the kernel refuses the ring.
    pub(crate) fn open() -> io::Result<Result<Hybrid, (epoll::Selector, FallbackReason)>> {
        let epoll = epoll::Selector::new()?;
        let files = match FileHost::open() {
            Ok(files) => files,
            Err(reason) => return Ok(Err((epoll, reason))),
        };
        epoll.register_readable(files.ring.fd(), RING_TOKEN)?;
        Ok(Ok(Hybrid { epoll, files }))
    }

    /// A runner's wait: entries left unsubmitted go to the kernel first, then
    /// `epoll_wait`; a report of the ring's descriptor drains the ring into the
    /// completion layer (and is not passed on to the reactor).
    ///
    /// A page-cache read completes inside the `io_uring_enter` that submits it, so its
    /// CQE is usually there before the runner waits: then the wait hands it over and
    /// returns without an `epoll_wait` (a read loop costs one syscall per read, not
    /// two), at most [`SKIPS_MAX`] times in a row (`skips`, the runner's count), so
    /// socket readiness is never starved by a stream of file completions. The edge
    /// epoll queued for such a CQE is reported by a later `epoll_wait` and drains
    /// nothing.
    pub(crate) fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        skips: &mut u32,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, usize)>,
        awake: &mut dyn FnMut(),
    ) -> io::Result<()> {
        self.files.ring.flush();
        if *skips < SKIPS_MAX && self.files.ring.has_completions() {
            *skips += 1;
            awake();
            self.files.drain();
            return Ok(());
        }
        *skips = 0;
        let timeout = if self.files.retry_refused() {
            Some(timeout.map_or(RETRY_WAIT, |t| t.min(RETRY_WAIT)))
        } else {
            timeout
        };
        let start = out.len();
        let waited = self.epoll.wait(events, timeout, out);
        awake();
        let mut ring_ready = false;
        let mut i = start;
        while i < out.len() {
            if out[i].0 == RING_TOKEN {
                out.swap_remove(i);
                ring_ready = true;
            } else {
                i += 1;
            }
        }
        if ring_ready {
            self.files.drain();
        }
        waited
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use io_uring::cqueue;

    #[test]
    fn a_nop_posted_by_a_push_makes_epoll_report_the_ring_and_the_drain_hands_it_over() {
        let hybrid = match Hybrid::open().unwrap() {
            Ok(h) => h,
            Err((_, reason)) => panic!("no io_uring here: {reason}"),
        };
        let nop = opcode::Nop::new().build().user_data(0b10 << 62 | 9);
        // SAFETY: a NOP points at nothing.
        unsafe { completion::Submit::push(&*hybrid.files.ring, nop) }.unwrap();
        // Submitted by the push: epoll sees the ring readable without any other enter.
        let mut events = Vec::with_capacity(8);
        let mut out = Vec::new();
        hybrid
            .epoll
            .wait(&mut events, Some(Duration::from_secs(5)), &mut out)
            .unwrap();
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0, RING_TOKEN);
        let seen = Mutex::new(Vec::new());
        let n = hybrid
            .files
            .ring
            .drain(&|data, _, flags| lock(&seen).push((data, !cqueue::more(flags))));
        assert_eq!(n, 1);
        assert_eq!(*lock(&seen), [(0b10 << 62 | 9, true)]);
        // Edge-triggered, drained: nothing more to report.
        out.clear();
        hybrid
            .epoll
            .wait(&mut events, Some(Duration::ZERO), &mut out)
            .unwrap();
        assert!(out.is_empty(), "{out:?}");
    }

    #[test]
    fn a_completion_posted_after_a_drain_is_reported_by_the_next_wait() {
        let hybrid = Hybrid::open().unwrap().ok().unwrap();
        let ring = &hybrid.files.ring;
        let mut events = Vec::with_capacity(8);
        for round in 0..200u64 {
            let nop = opcode::Nop::new().build().user_data(0b10 << 62 | round);
            // SAFETY: a NOP points at nothing.
            unsafe { completion::Submit::push(&**ring, nop) }.unwrap();
            let mut out = Vec::new();
            hybrid
                .epoll
                .wait(&mut events, Some(Duration::from_secs(5)), &mut out)
                .unwrap();
            assert!(out.iter().any(|&(t, _)| t == RING_TOKEN), "round {round}");
            let got = ring.drain(&|_, _, _| {});
            // A spurious report drains nothing; a real one drains exactly this NOP.
            assert!(got <= 1);
        }
        assert_eq!(ring.counters.completions.load(Ordering::Relaxed), 200);
    }

    #[test]
    fn overflowed_completions_are_all_drained() {
        let hybrid = Hybrid::open().unwrap().ok().unwrap();
        let ring = &hybrid.files.ring;
        let cq_len = ring.ring.params().cq_entries() as u64;
        let total = cq_len * 2 + 7;
        for i in 0..total {
            let nop = opcode::Nop::new().build().user_data(0b10 << 62 | i);
            // SAFETY: a NOP points at nothing.
            unsafe { completion::Submit::push(&**ring, nop) }.unwrap();
        }
        let seen = Mutex::new(Vec::new());
        let start = Instant::now();
        while (lock(&seen).len() as u64) < total {
            ring.drain(&|data, _, _| lock(&seen).push(data & !(0b11 << 62)));
            assert!(
                start.elapsed() < Duration::from_secs(5),
                "{}",
                lock(&seen).len()
            );
        }
        assert_eq!(*lock(&seen), (0..total).collect::<Vec<_>>());
    }
}
