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
//! `EALREADY` and is submitted again. Tokens carry a generation, so a late CQE for a
//! reused slot is ignored.
//!
//! Waits are `io_uring_enter(GETEVENTS)` with a timeout (`IORING_FEAT_EXT_ARG`:
//! `ETIME` is the timeout, `EINTR` is retried with the time left), and they submit
//! what is queued: a registration made on a runner thread costs no syscall of its own,
//! it goes to the kernel with that runner's next wait (at once when another runner is
//! asleep in the kernel, so it never waits behind a sleeping ring). Cross-thread
//! wake-ups write an eventfd that a multishot poll watches on the ring; a runner that
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
//! exclusive for its lifetime. Against the kernel, the shared head and tail are
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
//! non-blocking polls find them without entering the kernel. When it is another
//! thread, each event first interrupts that thread (or, once it has exited, a kernel
//! worker runs it): registrations and the wake eventfd's poll made on a thread that
//! does not run the context cost a hop per event. Rings per runner thread, or
//! `DEFER_TASKRUN` for single-threaded contexts, are the way out (next steps).
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
//! `waiters` handshake submits at once). Drains copy the layer's CQEs (kinds `0b1x`)
//! out of the completion queue into a `Batch`; the runner hands them to
//! `Completions::complete` after releasing the queue's lock (the layer pushes while it
//! holds its own) and after dispatching readiness, so the tasks it wakes are queued
//! locally. Batches carry tickets taken under the queue's lock and are handed over in
//! ticket order: several runners drain at once, but one socket's CQEs (a multishot
//! receive's buffers) must reach the layer in the order the kernel posted them. The
//! probe asks for Linux 6.0 (multishot receive; the opcode probe cannot see flags)
//! and `Completions::new` for provided-buffer rings. Teardown (`Host::shut_down`, at
//! context drop): the layer cancels everything in flight, the ring is drained until
//! the kernel holds none of its operations, and the ring closes when its last `Arc`
//! (the layer's) goes, before the layer's memory. Only TCP is on this path: UDP, Unix
//! sockets, signals and file readiness stay on the multishot polls above.

use std::io;
use std::os::fd::RawFd;
use std::sync::atomic::{fence, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, IoUring, Probe};

use super::epoll::EventFd;
use super::select::{simulated_failure, FallbackReason};
use super::{readiness, ready, Counters};
use crate::sync::lock;
use crate::uring::{self as completion, Completions};

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
/// Low bits: everything but the kind.
const TOKEN_MASK: u64 = !(0b11 << KIND_SHIFT);

/// What a readiness registration polls for (edge-triggered: poll requests are unless
/// `IORING_POLL_ADD_LEVEL` is asked for).
const POLL_EVENTS: u32 = (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP) as u32;

/// An io_uring that reports readiness like an epoll instance.
pub(crate) struct Ring {
    ring: IoUring,
    /// Guards every `submission_shared` handle.
    sq: Mutex<()>,
    /// Guards every `completion_shared` handle.
    cq: Mutex<()>,
    /// Live registrations by slot (the token's low 32 bits): `(token, fd)`, so a poll
    /// the kernel ended is armed again, and one of a dropped registration is not.
    live: Mutex<Vec<Option<(u64, RawFd)>>>,
    waker: EventFd,
    /// Threads in (or about to enter) a blocking `io_uring_enter`: entries queued
    /// while one sleeps are submitted at once.
    waiters: AtomicUsize,
    /// Completion-layer batches in completion queue order: `(next ticket, turn,
    /// threads waiting for their turn)`.
    /// Runners drain and dispatch in parallel, but a socket's CQEs (a multishot
    /// receive's buffers) must reach the layer in the order the kernel posted them.
    order: Mutex<(u64, u64, u32)>,
    turn: Condvar,
    pub(crate) counters: Counters,
}

/// The completion layer's CQEs `(user_data, result, flags)` copied out by one drain,
/// with their place in the order of batches.
#[derive(Debug, Default)]
pub(crate) struct Batch {
    cqes: Vec<(u64, i32, u32)>,
    ticket: Option<u64>,
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
        let ring = IoUring::builder()
            .setup_cqsize(CQ_ENTRIES)
            .setup_clamp()
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
            live: Mutex::new(Vec::new()),
            waker,
            waiters: AtomicUsize::new(0),
            order: Mutex::new((0, 0, 0)),
            turn: Condvar::new(),
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
        let _cq = lock(&self.cq);
        // SAFETY: the `cq` mutex is held, so no other completion queue handle exists.
        let mut cq = unsafe { self.ring.completion_shared() };
        let cqe = cq
            .next()
            .ok_or(FallbackReason::MissingFeature("multishot poll"))?;
        if cqe.user_data() != WAKE_DATA || cqe.result() < 0 || !cqueue::more(cqe.flags()) {
            return Err(FallbackReason::MissingFeature("multishot poll"));
        }
        self.waker.drain();
        Ok(())
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

    /// Removes the poll request of `token` and submits the removal now: the caller
    /// closes the descriptor next, and the request holds the file open until removed.
    pub(crate) fn deregister(&self, token: u64) -> io::Result<()> {
        {
            let mut live = lock(&self.live);
            match live.get_mut(slot(token)) {
                Some(entry) if entry.is_some_and(|(t, _)| t == token) => *entry = None,
                _ => return Err(io::Error::from_raw_os_error(libc::ENOENT)),
            }
        }
        self.push(poll_remove(token))?;
        self.submit()
    }

    /// Interrupts a wait from any thread.
    pub(crate) fn wake(&self) {
        Counters::add(&self.counters.wakeups, 1);
        // The eventfd is never drained here: each write wakes its wait queue, which the
        // multishot poll reports as a new CQE; the counter cannot reach its limit.
        self.waker.wake();
    }

    /// Queues `entry`; when the queue is full, submits what it holds first. Submits at
    /// once when a runner sleeps in the kernel (it would not see the entry otherwise).
    ///
    /// Only for entries that point at no memory (polls, removals, no-ops): that is the
    /// safety argument below. The completion layer's submission seam
    /// (`uring::Submit::push`, see the io_uring contract) will need its own, whose
    /// caller keeps an operation's buffers alive until its completion.
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
        {
            let _sq = lock(&self.sq);
            // SAFETY: the `sq` mutex is held, so no other submission queue handle
            // exists.
            let mut sq = unsafe { self.ring.submission_shared() };
            // SAFETY: the caller keeps the entry's memory valid until its final CQE.
            while unsafe { sq.push(entry) }.is_err() {
                sq.sync();
                self.enter_submit()?;
                sq.sync();
                if sq.is_full() {
                    return Err(io::Error::new(
                        io::ErrorKind::WouldBlock,
                        "io_uring submission queue stays full",
                    ));
                }
            }
            Counters::add(&self.counters.submitted, 1);
        }
        // As in `push`: a runner asleep in the kernel would not see the entry.
        fence(Ordering::SeqCst);
        if self.waiters.load(Ordering::SeqCst) > 0 {
            // The entry is queued: an error now must not reach the caller, who would
            // free what the entry points to (`Submit::push`'s contract). The next
            // wait submits it.
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

    /// Waits up to `timeout` for completions (none: forever; zero: no wait, and no
    /// syscall when nothing is queued either way), then turns them into readiness.
    ///
    /// The completion layer's CQEs (kinds `0b10`/`0b11`) are copied into `ops`, for the
    /// caller to hand to [`Completions::complete`] once the completion queue's lock is
    /// released (the layer pushes entries while it holds its own lock).
    pub(crate) fn wait(
        &self,
        rearm: &mut Vec<u64>,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, usize)>,
        ops: &mut Batch,
    ) -> io::Result<()> {
        if timeout != Some(Duration::ZERO) && self.cq_is_empty() {
            self.waiters.fetch_add(1, Ordering::SeqCst);
            // Pairs with the fence in `push`.
            fence(Ordering::SeqCst);
            let waited = self.enter_wait(timeout);
            self.waiters.fetch_sub(1, Ordering::SeqCst);
            waited?;
        } else if self.has_pending_work() {
            self.submit()?;
        }
        self.drain(rearm, out, ops);
        self.rearm(rearm);
        Ok(())
    }

    /// Entries queued for the kernel, or completions held in its overflow list.
    fn has_pending_work(&self) -> bool {
        let _sq = lock(&self.sq);
        // SAFETY: the `sq` mutex is held, so no other submission queue handle exists.
        let sq = unsafe { self.ring.submission_shared() };
        !sq.is_empty() || sq.cq_overflow() || sq.taskrun()
    }

    fn cq_is_empty(&self) -> bool {
        let _cq = lock(&self.cq);
        // SAFETY: the `cq` mutex is held, so no other completion queue handle exists.
        unsafe { self.ring.completion_shared() }.is_empty()
    }

    /// `io_uring_enter`: submit what is queued and wait for a completion or the
    /// timeout. No lock is held: other runners submit and drain meanwhile.
    fn enter_wait(&self, timeout: Option<Duration>) -> io::Result<()> {
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
                Ok(_) => return Ok(()),
                Err(e) => match e.raw_os_error() {
                    Some(libc::ETIME) => return Ok(()),
                    // A signal: wait on for the time left (a zero wait just returns).
                    Some(libc::EINTR) if left != Some(Duration::ZERO) => continue,
                    Some(libc::EINTR) => return Ok(()),
                    // Overflowed completions could not all be flushed (EBUSY), or
                    // requests could not be allocated (EAGAIN): drain, then try again
                    // with the next wait.
                    Some(libc::EBUSY | libc::EAGAIN) => return Ok(()),
                    _ => return Err(e),
                },
            }
        }
    }

    /// Takes up to `DRAIN_MAX` completions: readiness into `out`, ended polls into
    /// `rearm`, the completion layer's into `ops`.
    fn drain(&self, rearm: &mut Vec<u64>, out: &mut Vec<(u64, usize)>, ops: &mut Batch) {
        let _cq = lock(&self.cq);
        // SAFETY: the `cq` mutex is held, so no other completion queue handle exists.
        let cq = unsafe { self.ring.completion_shared() };
        let mut n = 0;
        for cqe in cq.take(DRAIN_MAX) {
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
                0b01 if data == WAKE_DATA => {
                    if ended {
                        rearm.push(data);
                    }
                }
                0b01 => {
                    // A removal (user_data: kind 0b01 | the removed token). EALREADY: the
                    // poll was being run (its task work pending) and could not be
                    // canceled: try again, it holds the descriptor's file open. 0 and
                    // ENOENT (the poll had ended) need nothing.
                    if result == -libc::EALREADY {
                        rearm.push(data);
                    }
                }
                // Kinds 0b10/0b11 belong to the completion layer: copied out, handed
                // to `Completions::complete` after this lock is released.
                _ => ops.cqes.push((data, result, flags)),
            }
        }
        if !ops.cqes.is_empty() && ops.ticket.is_none() {
            // Taken under the `cq` lock: tickets follow the completion queue's order.
            let mut order = lock(&self.order);
            ops.ticket = Some(order.0);
            order.0 += 1;
        }
        Counters::add(&self.counters.completions, n);
    }

    /// Arms again the polls the kernel ended whose registrations still live, and
    /// retries the removals the kernel could not do yet. What cannot be queued now
    /// (a submission queue that stays full) stays in `rearm` for this runner's next
    /// wait.
    fn rearm(&self, rearm: &mut Vec<u64>) {
        if rearm.is_empty() {
            return;
        }
        // Held while pushing: a deregistration after this check queues its removal
        // behind the new poll, so the removal finds it.
        let live = lock(&self.live);
        while let Some(&token) = rearm.last() {
            let entry = if token == WAKE_DATA {
                Some(wake_poll(self.waker.as_raw_fd()))
            } else if token >> KIND_SHIFT == 0b01 {
                Some(poll_remove(token & TOKEN_MASK))
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
    }
}

// SAFETY (of the impl): `push` is `push_owned`, whose contract is the trait's.
impl completion::Submit for Ring {
    unsafe fn push(&self, entry: squeue::Entry) -> io::Result<()> {
        // SAFETY: the caller upholds `Submit::push`'s contract, which is `push_owned`'s.
        unsafe { self.push_owned(&entry) }
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

    /// Hands the completion layer's CQEs copied out by a wait to it (no ring lock is
    /// held here: the layer may push entries).
    ///
    /// Batches are handed over in the order they were drained (a runner whose batch
    /// was drained after another's waits for that one to be handed over first).
    pub(crate) fn complete(&self, ops: &mut Batch) {
        let Some(ticket) = ops.ticket.take() else {
            return;
        };
        let ring = &*self.ring;
        {
            let mut order = lock(&ring.order);
            while order.1 != ticket {
                order.2 += 1;
                order = ring
                    .turn
                    .wait(order)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                order.2 -= 1;
            }
        }
        for (data, result, flags) in ops.cqes.drain(..) {
            self.completions.complete(data, result, flags);
        }
        let mut order = lock(&ring.order);
        order.1 += 1;
        // No syscall when nobody waits (the usual case).
        if order.2 > 0 {
            ring.turn.notify_all();
        }
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
        let (mut rearm, mut out, mut ops) = (Vec::new(), Vec::new(), Batch::default());
        while self.completions.in_kernel() > 0 && Instant::now() < deadline {
            let step = Some(Duration::from_millis(10));
            if self
                .ring
                .wait(&mut rearm, step, &mut out, &mut ops)
                .is_err()
            {
                break;
            }
            out.clear();
            self.complete(&mut ops);
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

fn wake_poll(fd: RawFd) -> squeue::Entry {
    opcode::PollAdd::new(types::Fd(fd), libc::EPOLLIN as u32)
        .multi(true)
        .build()
        .user_data(WAKE_DATA)
}

#[cfg(test)]
mod tests {
    use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
    use std::sync::Arc;

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
        ring.wait(
            &mut Vec::new(),
            Some(timeout),
            &mut out,
            &mut Batch::default(),
        )
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
        ring.wait(&mut Vec::new(), None, &mut out, &mut Batch::default())
            .unwrap();
        assert!(out.is_empty(), "a wake-up reports nothing");
        assert!(start.elapsed() < Duration::from_secs(5));
        waker.join().unwrap();
        // The wake poll is still armed: a second wake ends a second wait.
        ring.wake();
        ring.wait(&mut Vec::new(), None, &mut out, &mut Batch::default())
            .unwrap();
        assert_eq!(ring.counters.wakeups.load(Ordering::Relaxed), 2);
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
                        &mut Vec::new(),
                        Some(Duration::from_secs(10)),
                        &mut out,
                        &mut Batch::default(),
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
        let (mut seen, mut ops) = (Vec::new(), Batch::default());
        let start = Instant::now();
        while ops.cqes.len() < 2 {
            let step = Some(Duration::from_millis(100));
            ring.wait(&mut Vec::new(), step, &mut seen, &mut ops)
                .unwrap();
            assert!(start.elapsed() < Duration::from_secs(5));
        }
        assert!(seen.is_empty(), "{seen:?}");
        let kinds: Vec<u64> = ops.cqes.iter().map(|(d, _, _)| d >> KIND_SHIFT).collect();
        assert_eq!(kinds, [0b10, 0b11]);
    }

    #[test]
    fn kernel_versions_compare() {
        assert!(kernel_at_least(2, 6));
        assert!(!kernel_at_least(999, 0));
    }
}
