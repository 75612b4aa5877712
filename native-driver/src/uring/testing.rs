//! A private ring and a tiny loop for the completion layer's tests.

use std::io;
use std::sync::{Arc, Mutex, PoisonError};

use io_uring::{squeue, types, IoUring};

use super::{Completions, Config, Submit};

/// A private `IoUring` implementing [`Submit`].
pub(crate) struct TestRing {
    ring: Mutex<IoUring>,
}

impl Submit for TestRing {
    unsafe fn push(&self, entry: squeue::Entry) -> io::Result<()> {
        let mut ring = self.ring.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            // SAFETY: every entry this layer pushes points only into memory its slot owns
            // until the final CQE (module docs of `uring`).
            if unsafe { ring.submission().push(&entry) }.is_ok() {
                return Ok(());
            }
            ring.submit()?;
        }
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
            for &(user_data, result, flags) in &batch[..n] {
                assert!(
                    super::is_completion(user_data),
                    "foreign user_data {user_data:#x}"
                );
                completions.complete(user_data, result, flags);
            }
            total += n;
            if n < BATCH {
                return total;
            }
        }
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
