//! The runner side of an [`IoContext`](crate::IoContext)'s run queue: shared by every
//! runner thread under a mutex, or — in single-threaded mode — owned by the one thread
//! that runs the context and touched without any lock.

use std::cell::UnsafeCell;
use std::sync::Mutex;
use std::sync::OnceLock;
use std::thread::ThreadId;

use strait_streams::driver::RunQueue;

use crate::sync::lock;

/// Where runners take batches from.
#[derive(Debug)]
pub(crate) enum RunnerQueue {
    /// Any number of runner threads.
    Shared(Mutex<RunQueue>),
    /// One runner thread, claimed by the first access.
    Owned(Owned),
}

#[derive(Debug)]
pub(crate) struct Owned {
    /// The owning thread, set by the first access. A `ThreadId` is never reused (a
    /// thread-local's address is: a new thread may get an exited one's TLS block).
    owner: OnceLock<ThreadId>,
    queue: UnsafeCell<RunQueue>,
}

// SAFETY: `queue` is only reached through `RunnerQueue::with`, which lets exactly one
// thread (the owner, checked on every access) use it, never reentrantly; runnables are
// `Send`.
unsafe impl Sync for Owned {}

/// The calling thread's id, cached (`thread::current()` clones an `Arc`).
fn this_thread() -> ThreadId {
    std::thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.with(|id| *id)
}

impl RunnerQueue {
    pub(crate) fn shared() -> Self {
        RunnerQueue::Shared(Mutex::new(RunQueue::new()))
    }

    pub(crate) fn owned() -> Self {
        RunnerQueue::Owned(Owned {
            owner: OnceLock::new(),
            queue: UnsafeCell::new(RunQueue::new()),
        })
    }

    /// Runs `f` on the queue: under the mutex, or on the owner thread's own queue.
    ///
    /// # Panics
    /// A single-threaded context used from a thread other than the first that ran it.
    pub(crate) fn with<R>(&self, f: impl FnOnce(&mut RunQueue) -> R) -> R {
        match self {
            RunnerQueue::Shared(m) => f(&mut lock(m)),
            RunnerQueue::Owned(o) => {
                let me = this_thread();
                let owner = *o.owner.get_or_init(|| me);
                assert!(
                    owner == me,
                    "a single-threaded IoContext is run by one thread only (the first that ran it)"
                );
                // SAFETY: only the owner thread gets here, and `f` cannot re-enter `with`
                // (callers pass closures that only move runnables between queues).
                f(unsafe { &mut *o.queue.get() })
            }
        }
    }

    /// `true` when the calling thread may run the context: always for a shared queue,
    /// only on the owner thread (or before any thread claimed it) for an owned one.
    pub(crate) fn is_runnable_here(&self) -> bool {
        match self {
            RunnerQueue::Shared(_) => true,
            RunnerQueue::Owned(o) => o.owner.get().is_none_or(|owner| *owner == this_thread()),
        }
    }

    /// Takes everything, from any thread.
    ///
    /// # Safety
    /// No thread may be running the context (in `with`) meanwhile: the caller is the
    /// context's drop, and runners borrow the context.
    pub(crate) unsafe fn take_all(&self) -> RunQueue {
        match self {
            RunnerQueue::Shared(m) => lock(m).take(),
            // SAFETY: per the contract, nobody else uses the queue now.
            RunnerQueue::Owned(o) => unsafe { &mut *o.queue.get() }.take(),
        }
    }
}
