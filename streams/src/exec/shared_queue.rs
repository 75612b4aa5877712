//! [`SharedQueue`]: the run queue of a context that several threads post to and run:
//! posts are lock-free ([`Inject`]); consumers take them under a mutex, in batches, and
//! sleep on a condition variable when there is nothing to run.

use std::sync::atomic::Ordering::SeqCst;
use std::time::Instant;

use super::inject::Inject;
use super::RunQueue;
// Through the loom shim, so `loom_models` below checks this very handshake.
use crate::sync::{fence, lock, AtomicUsize, Condvar, Mutex, MutexGuard};
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
        // Dekker handshake (modelled in `loom_models` below): push, fence, look for sleepers
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

/// loom models of the real handshake above (this module is private to `exec`, so the
/// models live here rather than in `crate::loom_models`). loom reports a deadlock if a
/// consumer can sleep through a post or a `notify_all`.
#[cfg(all(test, loom))]
mod loom_models {
    use loom::sync::atomic::AtomicBool;
    use loom::sync::Arc;
    use loom::thread;
    use std::sync::atomic::Ordering::SeqCst;

    use super::SharedQueue;
    use crate::{AnyExecutor, Executor, FrameAlloc, IoEnv, Runnable};

    struct Exec(SharedQueue);

    impl Executor for Exec {
        fn post(&self, task: Runnable) {
            self.0.post(task);
        }
    }

    #[test]
    fn a_post_never_slips_past_a_consumer_going_to_sleep() {
        loom::model(|| {
            let exec = std::sync::Arc::new(Exec(SharedQueue::new()));
            let ran = Arc::new(AtomicBool::new(false));
            let poster = {
                let env = IoEnv {
                    frame_allocator: FrameAlloc::system(),
                    ..IoEnv::new(AnyExecutor::from_arc(exec.clone()))
                };
                let ran = ran.clone();
                thread::spawn(move || {
                    crate::task::spawn_with_env(async move { ran.store(true, SeqCst) }, env)
                        .detach();
                })
            };
            let mut queue = exec.0.lock();
            while queue.is_empty() {
                queue = exec.0.wait(queue, None, || false);
            }
            let task = queue.pop().expect("non-empty");
            drop(queue);
            task.run();
            poster.join().unwrap();
            assert!(ran.load(SeqCst));
        });
    }

    #[test]
    fn notify_all_never_slips_past_a_consumer_going_to_sleep() {
        loom::model(|| {
            let queue = Arc::new(SharedQueue::new());
            let done = Arc::new(AtomicBool::new(false));
            let setter = {
                let (queue, done) = (queue.clone(), done.clone());
                thread::spawn(move || {
                    done.store(true, SeqCst);
                    queue.notify_all();
                })
            };
            let mut guard = queue.lock();
            while !done.load(SeqCst) {
                guard = queue.wait(guard, None, || done.load(SeqCst));
            }
            drop(guard);
            setter.join().unwrap();
        });
    }
}
