//! A private ring and a tiny loop for the completion layer's tests.

use std::io;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::{Arc, Mutex, PoisonError};

use io_uring::{squeue, types, IoUring};

use super::{Completions, Config, Submit};

/// A private `IoUring` implementing [`Submit`] (honouring its contract: `Err` only
/// when the entry was not queued), with knobs that model a busy host.
pub(crate) struct TestRing {
    ring: Mutex<IoUring>,
    /// The next `refuse` pushes fail with `EBUSY` without queueing their entry (a host
    /// whose submission queue is full and cannot be drained just now).
    pub(crate) refuse: AtomicUsize,
    /// The next `fail_after_queue` pushes queue their entry, then the submit that
    /// follows fails (`EBUSY`). The entry is queued, so the push reports `Ok` and the
    /// entry goes to the kernel at the next turn: returning the submit's error here
    /// would break [`Submit`]'s contract and let the layer free memory the kernel
    /// writes.
    pub(crate) fail_after_queue: AtomicUsize,
}

/// Decrements `knob` if it is positive; `true` when it was.
fn consume(knob: &AtomicUsize) -> bool {
    knob.fetch_update(SeqCst, SeqCst, |n| n.checked_sub(1))
        .is_ok()
}

impl Submit for TestRing {
    unsafe fn push(&self, entry: squeue::Entry) -> io::Result<()> {
        if consume(&self.refuse) {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            // SAFETY: every entry this layer pushes points only into memory its slot owns
            // until the final CQE (module docs of `uring`).
            if unsafe { ring.submission().push(&entry) }.is_ok() {
                break;
            }
            // Not queued yet: an error here leaves nothing in the queue.
            ring.submit()?;
        }
        // A host that submits here may see that submit fail (`fail_after_queue` models
        // it): the entry is queued all the same, so the push succeeds and the entry
        // goes to the kernel at the next enter (the next turn).
        let _submit_failed = consume(&self.fail_after_queue);
        Ok(())
    }

    fn unregister_buf_ring(&self, bgid: u16) -> Option<io::Result<()>> {
        // The ring is open: `Completions` keeps this `TestRing` alive.
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        Some(ring.submitter().unregister_buf_ring(bgid))
    }
}

/// CQEs dispatched per batch.
const BATCH: usize = 64;

impl TestRing {
    /// A ring of `entries` SQEs, or `None` (with a note) where io_uring is unavailable.
    pub(crate) fn new(entries: u32) -> Option<Arc<Self>> {
        match IoUring::new(entries) {
            Ok(ring) => Some(Arc::new(Self {
                ring: Mutex::new(ring),
                refuse: AtomicUsize::new(0),
                fail_after_queue: AtomicUsize::new(0),
            })),
            Err(e) => {
                eprintln!("skipped: io_uring unavailable here ({e})");
                None
            }
        }
    }

    /// The completion layer on this ring.
    pub(crate) fn completions(self: &Arc<Self>, config: Config) -> Arc<Completions> {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        let submit: Arc<dyn Submit + Send + Sync> = self.clone();
        Completions::new(&ring.submitter(), submit, config).expect("register the buffer ring")
    }

    /// Submits what is queued, waits up to 100 ms for one CQE when `wait`, and
    /// dispatches every CQE there is. Returns how many were dispatched.
    pub(crate) fn turn(&self, completions: &Completions, wait: bool) -> usize {
        self.turn_for(completions, wait.then_some(100_000_000))
    }

    /// [`turn`](Self::turn), waiting up to `wait_ns` nanoseconds when given. The ring
    /// stays locked while it waits, so a thread pushing meanwhile waits too: a host
    /// thread that waits while others push uses a short timeout.
    pub(crate) fn turn_for(&self, completions: &Completions, wait_ns: Option<u32>) -> usize {
        let mut batch = [(0u64, 0i32, 0u32); BATCH];
        let mut total = 0;
        let mut first = true;
        loop {
            let n = {
                let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
                let submitted = if let (Some(ns), true) = (wait_ns, first) {
                    let ts = types::Timespec::new().nsec(ns);
                    let args = types::SubmitArgs::new().timespec(&ts);
                    ring.submitter().submit_with_args(1, &args)
                } else {
                    ring.submit()
                };
                match submitted {
                    Ok(_) => {}
                    Err(e)
                        if matches!(
                            e.raw_os_error(),
                            Some(libc::ETIME | libc::EINTR | libc::EBUSY)
                        ) => {}
                    Err(e) => panic!("io_uring_enter: {e}"),
                }
                let mut n = 0;
                for cqe in ring.completion().take(BATCH) {
                    batch[n] = (cqe.user_data(), cqe.result(), cqe.flags());
                    n += 1;
                }
                n
            };
            first = false;
            for &(user_data, _, _) in &batch[..n] {
                assert!(
                    super::is_completion(user_data),
                    "foreign user_data {user_data:#x}"
                );
            }
            // A drain's worth at once, as the host hands them over.
            completions.complete_all(&mut batch[..n].iter().copied());
            total += n;
            if n < BATCH {
                completions.retry_pending(); // as the host does after each wait
                return total;
            }
        }
    }

    /// Like `turn(c, true)`, but CQEs for which `lose` holds are dropped (as
    /// the kernel does when it cannot allocate an overflow entry: EBADR).
    pub(crate) fn turn_losing(
        &self,
        completions: &Completions,
        lose: &mut dyn FnMut(u64, i32, u32) -> bool,
    ) -> usize {
        let mut got = Vec::new();
        {
            let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
            let ts = types::Timespec::new().nsec(100_000_000);
            let args = types::SubmitArgs::new().timespec(&ts);
            let _ = ring.submitter().submit_with_args(1, &args);
            for cqe in ring.completion() {
                got.push((cqe.user_data(), cqe.result(), cqe.flags()));
            }
        }
        let n = got.len();
        for (u, r, f) in got {
            if !lose(u, r, f) {
                completions.complete(u, r, f);
            }
        }
        n
    }

    /// Turns until `done` holds (panics after `limit` idle turns of 100 ms).
    pub(crate) fn run_until(&self, completions: &Completions, mut done: impl FnMut() -> bool) {
        let mut idle = 0;
        while !done() {
            if self.turn(completions, true) == 0 {
                idle += 1;
                assert!(idle < 50, "no progress for 5 s");
            } else {
                idle = 0;
            }
        }
    }

    /// Unregisters the buffer ring of `completions` (teardown).
    pub(crate) fn unregister(&self, completions: &Completions) {
        let ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        completions
            .unregister(&ring.submitter())
            .expect("unregister the buffer ring");
    }
}
