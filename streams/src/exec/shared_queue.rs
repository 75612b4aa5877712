//! [`SharedQueue`]: the run queue of a context that several threads post to and run:
//! posts are lock-free ([`Inject`]); consumers take them under a mutex, in batches, and
//! sleep on a condition variable when there is nothing to run.

use std::sync::atomic::Ordering::SeqCst;
use std::sync::atomic::{fence, AtomicUsize};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Instant;

use super::inject::Inject;
use super::RunQueue;
use crate::sync::lock;
use crate::Runnable;

/// Lock-free posting side plus the consumers' locked queue.
#[derive(Debug)]
pub(crate) struct SharedQueue {
    inject: Inject,
    queue: Mutex<RunQueue>,
    ready: Condvar,
    /// Consumers that announced they are about to sleep: a post pays for the mutex and
    /// a futex wake only when this is non-zero.
    sleepers: AtomicUsize,
}

impl SharedQueue {
    pub(crate) fn new() -> Self {
        SharedQueue {
            inject: Inject::new(),
            queue: Mutex::new(RunQueue::new()),
            ready: Condvar::new(),
            sleepers: AtomicUsize::new(0),
        }
    }

    /// Posts `task` from any thread without a lock; wakes one sleeping consumer.
    pub(crate) fn post(&self, task: Runnable) {
        self.inject.push(task);
        // Dekker handshake (modelled in `loom_models`): push, fence, look for sleepers
        // here; announce, fence, look at the stack in `wait`. One sees the other.
        fence(SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            // Taking the mutex means the announced consumer is inside `wait` by now.
            drop(lock(&self.queue));
            self.ready.notify_one();
        }
    }

    /// Locks the consumer side, with every posted runnable moved in behind what it
    /// already held.
    pub(crate) fn lock(&self) -> MutexGuard<'_, RunQueue> {
        let mut queue = lock(&self.queue);
        queue.append(self.inject.take());
        queue
    }

    /// Sleeps until a post, a [`notify_all`](Self::notify_all) or `deadline`, unless
    /// posts arrived or `done` holds after announcing the sleep. Conditions `done`
    /// reads must be set before their setter calls `notify_all`.
    pub(crate) fn wait<'a>(
        &'a self,
        mut queue: MutexGuard<'a, RunQueue>,
        deadline: Option<Instant>,
        done: impl Fn() -> bool,
    ) -> MutexGuard<'a, RunQueue> {
        self.sleepers.fetch_add(1, SeqCst);
        fence(SeqCst);
        queue.append(self.inject.take());
        if queue.is_empty() && !done() {
            queue = match deadline {
                None => self
                    .ready
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    self.ready
                        .wait_timeout(queue, left)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
            };
        }
        self.sleepers.fetch_sub(1, SeqCst);
        queue.append(self.inject.take());
        queue
    }

    /// Wakes every sleeping consumer to re-check its conditions (stop, work finished,
    /// a `block_on` future woken). Call after setting the condition.
    pub(crate) fn notify_all(&self) {
        fence(SeqCst);
        if self.sleepers.load(SeqCst) > 0 {
            drop(lock(&self.queue));
            self.ready.notify_all();
        }
    }

    /// Queued and posted runnables.
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }

    /// Everything queued and posted (to drop outside the lock).
    pub(crate) fn take_all(&self) -> RunQueue {
        self.lock().take()
    }
}
