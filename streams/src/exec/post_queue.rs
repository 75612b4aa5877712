//! [`PostQueue`]: runnables posted to a runtime adapter's executor, run by one
//! long-lived task on that runtime (no allocation per post: the queue links through the
//! task headers).

use std::future::{poll_fn, Future};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::thread::ThreadId;

use crate::exec::RunQueue;
use crate::task::OwnedTasks;
use crate::Runnable;

/// Most posted runnables the runner runs per poll before it yields the runtime's thread.
const BATCH: usize = 64;

/// The posts of an executor that adapts a foreign runtime: tasks spawned on it become the
/// runtime's own tasks ([`ForeignTask`](crate::driver::ForeignTask)), but a plain
/// [`Executor::post`](crate::Executor::post) (a strand's invoker woken, a driver's timer
/// firing) needs somewhere to go. Posts queue here, intrusively, and one long-lived task
/// on the runtime ([`runner`](Self::runner)) runs them in batches.
///
/// For a local (`!Send`) executor, give the owner thread: runnables are then run, aborted
/// and dropped only there (elsewhere they are leaked), and [`owned`](Self::owned) is the
/// executor's [`OwnedTasks`], aborted on that thread when the queue closes.
pub struct PostQueue {
    state: Mutex<PostState>,
    /// The thread that alone may run or drop the runnables (a local executor's);
    /// `None` when any thread may.
    owner: Option<ThreadId>,
    /// The waiting tasks of a local executor (its `owned_tasks`): aborted on the owner
    /// thread when the queue closes, so a `!Send` future is never dropped by whichever
    /// thread happens to release its task last. Unused by other executors.
    owned: OwnedTasks,
}

#[derive(Default)]
struct PostState {
    queue: RunQueue,
    /// The runner's waker while it waits for posts.
    runner: Option<Waker>,
    /// The runner is scheduled or running (it will see new posts).
    active: bool,
    /// No runner any more: posts are dropped (their tasks abort).
    closed: bool,
}

impl PostQueue {
    /// An open queue; `owner` is the thread of a local executor (`None`: any thread).
    pub fn new(owner: Option<ThreadId>) -> Arc<PostQueue> {
        Arc::new(PostQueue {
            state: Mutex::default(),
            owner,
            owned: OwnedTasks::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, PostState> {
        // The queue is consistent between operations; a panic cannot leave it half-linked.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The tasks of a local executor that have waited (see [`Executor::owned_tasks`]).
    ///
    /// [`Executor::owned_tasks`]: crate::Executor::owned_tasks
    pub fn owned(&self) -> &OwnedTasks {
        &self.owned
    }

    /// `true` on a thread other than a local executor's.
    fn off_owner_thread(&self) -> bool {
        self.owner
            .is_some_and(|owner| owner != std::thread::current().id())
    }

    /// Drops runnables that will never run (aborting their tasks) where that is
    /// allowed; on a thread other than a local executor's, leaks them instead (a local
    /// task must not be dropped elsewhere).
    fn discard(&self, tasks: RunQueue) {
        if self.off_owner_thread() {
            std::mem::forget(tasks);
        } else {
            drop(tasks);
        }
    }

    /// Queues `task` and wakes the runner; after [`close`](Self::close) the task is
    /// aborted (or, off a local executor's thread, leaked).
    pub fn push(&self, task: Runnable) {
        let mut state = self.lock();
        if state.closed {
            drop(state);
            let mut orphan = RunQueue::new();
            orphan.push_back(task);
            self.discard(orphan);
            return;
        }
        state.queue.push_back(task);
        let runner = if state.active {
            None
        } else {
            state.active = true;
            state.runner.take()
        };
        drop(state);
        if let Some(runner) = runner {
            runner.wake();
        }
    }

    /// Ends the runner and aborts (or, off a local executor's thread, leaks) what is
    /// queued; later posts are treated the same way.
    pub fn close(&self) {
        let (queue, runner) = {
            let mut state = self.lock();
            state.closed = true;
            (state.queue.take(), state.runner.take())
        };
        // Waiting tasks no runner will ever run: their futures are dropped here on the
        // owner thread (or leaked elsewhere), as are the queued ones; later spawns and
        // waits are aborted.
        if self.off_owner_thread() {
            self.owned.close();
        } else {
            self.owned.close_and_abort_all();
        }
        self.discard(queue); // outside the lock: dropping a runnable may post
        if let Some(runner) = runner {
            runner.wake();
        }
    }

    /// The runner task: spawn it once on the runtime (on the runtime's local executor
    /// for a local adapter). Dropping it (the runtime shutting down) closes the queue.
    pub fn runner(self: Arc<Self>) -> impl Future<Output = ()> + Send + 'static {
        let runner = CloseOnDrop(self);
        async move {
            let runner = runner;
            poll_fn(|cx| runner.0.run(cx)).await;
        }
    }

    /// One poll of the runner task.
    fn run(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut batch = {
            let mut state = self.lock();
            if state.closed {
                return Poll::Ready(());
            }
            let batch = state.queue.pop_batch(BATCH);
            if batch.is_empty() {
                state.active = false;
                match &state.runner {
                    Some(w) if w.will_wake(cx.waker()) => {}
                    _ => state.runner = Some(cx.waker().clone()),
                }
                return Poll::Pending;
            }
            batch
        };
        // Each runnable publishes its own environment while it runs.
        while let Some(task) = batch.pop() {
            task.run();
        }
        // More may be queued: yield the runtime's thread, come back.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Closes the queue when the runner task ends or is dropped.
struct CloseOnDrop(Arc<PostQueue>);

impl Drop for CloseOnDrop {
    fn drop(&mut self) {
        self.0.close();
    }
}

impl std::fmt::Debug for PostQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.lock();
        f.debug_struct("PostQueue")
            .field("queued", &state.queue.len())
            .field("closed", &state.closed)
            .field("owner", &self.owner)
            .finish()
    }
}
