//! [`RunLoop`]: a single-threaded execution context, the base driver I/O contexts build on.

use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::ThreadId;
use std::time::{Duration, Instant};

use super::shared_queue::SharedQueue;
use super::{AnyExecutor, ExecutionContext, Executor, RunQueue, Services};
use crate::alloc::FrameAlloc;
use crate::env::{EnvGuard, IoEnv};
use crate::task::{JoinHandle, OwnedTasks, Runnable};

/// A run loop: tasks posted to its executor run on whichever thread calls
/// [`run`](Self::run) (or `run_one`, `poll`, `run_for`, `block_on`).
///
/// `run` returns when the loop is [stopped](Self::stop) or when no outstanding work
/// remains (no unfinished spawned task and no [`WorkGuard`]). After a stop, further
/// `run` calls return at once until [`restart`](Self::restart).
///
/// ```
/// use strait_streams::RunLoop;
/// let rl = RunLoop::new();
/// let answer = rl.spawn(async { 6 * 7 });
/// rl.run();
/// assert_eq!(rl.block_on(answer).unwrap(), 42);
/// ```
pub struct RunLoop {
    shared: Arc<LoopShared>,
}

struct LoopShared {
    queue: SharedQueue,
    work: AtomicUsize,
    stopped: AtomicBool,
    services: Services,
    frame_allocator: FrameAlloc,
    /// Every unfinished task of the loop, aborted when the loop is dropped.
    owned: OwnedTasks,
    /// The thread local tasks are bound to, once one was spawned: only it may run the
    /// loop from then on.
    local_owner: OnceLock<ThreadId>,
}

std::thread_local! {
    /// The loop this thread is running, for `running_in_this_thread`.
    static RUNNING: Cell<*const LoopShared> = const { Cell::new(std::ptr::null()) };
    /// Tasks dispatched from inside the running loop: they run right after the current
    /// task, ahead of the rest of the batch.
    static RUN_NEXT: std::cell::RefCell<RunQueue> = const { std::cell::RefCell::new(RunQueue::new()) };
}

/// Most tasks taken from the shared queue per lock acquisition.
const BATCH: usize = 32;

impl Executor for LoopShared {
    fn post(&self, task: Runnable) {
        self.queue.post(task);
        // A post racing with the loop's drop (it closes `owned`, then drains the
        // queue): `post` fenced after pushing, so either the drain takes this task or
        // we see the close and abort what no runner will take.
        if self.owned.is_closed() {
            if !self.is_local_owner() {
                // Local futures must not be dropped here: leave them queued, where the
                // owner's drop (which closed the list) drains them, or they leak.
                return;
            }
            drop(self.queue.take_all());
        }
    }

    fn dispatch(&self, task: Runnable) {
        if self.running_in_this_thread() {
            RUN_NEXT.with(|next| next.borrow_mut().push_back(task));
        } else {
            self.post(task);
        }
    }

    fn running_in_this_thread(&self) -> bool {
        std::ptr::eq(RUNNING.with(Cell::get), self)
    }

    fn on_work_started(&self) {
        self.work.fetch_add(1, Ordering::Relaxed);
    }

    fn on_work_finished(&self) {
        if self.work.fetch_sub(1, Ordering::SeqCst) == 1 {
            // Wake a `run` blocked with an empty queue so it can return.
            self.queue.notify_all();
        }
    }

    fn services(&self) -> Option<&Services> {
        Some(&self.services)
    }

    fn owned_tasks(&self) -> Option<&OwnedTasks> {
        Some(&self.owned)
    }
}

impl LoopShared {
    /// `true` unless local tasks bind the loop to another thread than the caller.
    fn is_local_owner(&self) -> bool {
        self.local_owner
            .get()
            .is_none_or(|owner| *owner == this_thread_id())
    }

    /// Panics when local tasks bind the loop to another thread than the caller. Runners
    /// call it under the queue's lock before taking tasks (`spawn_local` binds under the
    /// same lock), so a runner that started before the loop was bound never takes a
    /// local task.
    #[track_caller]
    fn check_local_owner(&self) {
        if let Some(owner) = self.local_owner.get() {
            assert!(
                *owner == this_thread_id(),
                "this RunLoop has local (!Send) tasks bound to thread {owner:?}: only that \
                 thread may run it"
            );
        }
    }
}

/// The calling thread's id, cached (`thread::current()` clones an `Arc`).
fn this_thread_id() -> ThreadId {
    std::thread_local! {
        static ID: ThreadId = std::thread::current().id();
    }
    ID.with(|id| *id)
}

/// Marks this thread as running `shared` until dropped. A loop run from inside another
/// loop's task (nested) gets its own run-next queue: the outer loop's dispatched tasks
/// are set aside and restored, so they never run on, or end up queued in, the inner one.
struct Running<'a> {
    shared: &'a LoopShared,
    outer: *const LoopShared,
    outer_next: RunQueue,
}

impl<'a> Running<'a> {
    fn enter(shared: &'a LoopShared) -> Running<'a> {
        Running {
            shared,
            outer: RUNNING.with(|r| r.replace(shared)),
            outer_next: RUN_NEXT.with(|n| n.borrow_mut().take()),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(self.outer));
        let ours =
            RUN_NEXT.with(|n| std::mem::replace(&mut *n.borrow_mut(), self.outer_next.take()));
        // Normally empty (runners drain it after every task); after a panic, what was
        // dispatched to this loop goes to its queue.
        if !ours.is_empty() {
            let mut queue = self.shared.queue.lock();
            queue.append(ours);
        }
    }
}

/// Keeps a [`RunLoop`]'s `run` from returning for lack of work while it lives.
pub struct WorkGuard {
    executor: AnyExecutor,
}

impl Drop for WorkGuard {
    fn drop(&mut self) {
        self.executor.on_work_finished();
    }
}

impl std::fmt::Debug for WorkGuard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkGuard").finish_non_exhaustive()
    }
}

#[derive(Clone, Copy)]
enum Wait {
    /// Return at once when nothing is ready.
    No,
    /// Block until work arrives or none is outstanding.
    Forever,
    /// Block until the deadline.
    Until(Instant),
}

impl RunLoop {
    /// An empty loop whose tasks allocate from the recycling allocator.
    pub fn new() -> Self {
        Self::with_frame_allocator(FrameAlloc::recycling())
    }

    /// An empty loop whose spawned tasks allocate from `alloc` by default.
    pub fn with_frame_allocator(alloc: FrameAlloc) -> Self {
        RunLoop {
            shared: Arc::new(LoopShared {
                queue: SharedQueue::new(),
                work: AtomicUsize::new(0),
                stopped: AtomicBool::new(false),
                services: Services::new(),
                frame_allocator: alloc,
                owned: OwnedTasks::new(),
                local_owner: OnceLock::new(),
            }),
        }
    }

    fn env(&self) -> IoEnv {
        IoEnv {
            frame_allocator: self.shared.frame_allocator.clone(),
            ..IoEnv::new(self.executor())
        }
    }

    /// This loop's executor.
    pub fn executor(&self) -> AnyExecutor {
        AnyExecutor::from_arc(self.shared.clone())
    }

    /// Spawns `future` on this loop (never stops; the loop's frame allocator).
    #[inline(always)]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let env = self.env();
        crate::task::SpawnBlock::allocate(&env).spawn(future, env)
    }

    /// Spawns a future that is not `Send` on this loop, bound to the calling thread
    /// (tokio's `spawn_local`, for thread-per-core code, `Rc` state and local streams).
    ///
    /// The first local spawn binds the loop to the calling thread: from then on only
    /// that thread may run it (`run`, `poll`, `block_on`, …), and running it elsewhere
    /// panics. The output must be `Send` (it may be dropped by whichever thread releases
    /// the task last). Dropping the loop on another thread leaks its unfinished tasks
    /// instead of dropping local futures there.
    ///
    /// # Panics
    ///
    /// When the loop is already bound to another thread.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use strait_streams::RunLoop;
    /// let rl = RunLoop::new();
    /// let state = Rc::new(std::cell::Cell::new(1)); // !Send
    /// let s = state.clone();
    /// let handle = rl.spawn_local(async move {
    ///     s.set(s.get() + 1);
    ///     s.get()
    /// });
    /// assert_eq!(rl.block_on(handle).unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let me = this_thread_id();
        // Bound under the queue's lock, where runners check it before taking tasks.
        let owner = {
            let _queue = self.shared.queue.lock();
            *self.shared.local_owner.get_or_init(|| me)
        };
        assert!(
            owner == me,
            "RunLoop::spawn_local: the loop's local tasks are bound to thread {owner:?}"
        );
        // SAFETY: the loop now runs only on this thread (every run entry point checks
        // `local_owner`), its executor posts rather than handing tasks to a foreign
        // scheduler, and its drop aborts local tasks only on this thread.
        unsafe {
            let env = self.env();
            crate::task::SpawnBlock::allocate(&env).spawn_local(future, env)
        }
    }

    /// Counts as outstanding work until dropped.
    pub fn work_guard(&self) -> WorkGuard {
        let executor = self.executor();
        executor.on_work_started();
        WorkGuard { executor }
    }

    /// Runs tasks until stopped or no work is outstanding. Returns how many ran.
    pub fn run(&self) -> usize {
        let mut n = 0;
        loop {
            match self.run_batch(Wait::Forever, BATCH) {
                0 => return n,
                ran => n += ran,
            }
        }
    }

    /// Runs at most one task, blocking until one is ready (or no work is outstanding).
    pub fn run_one(&self) -> usize {
        self.run_batch(Wait::Forever, 1)
    }

    /// Runs every task that is ready now, without blocking.
    pub fn poll(&self) -> usize {
        let mut n = 0;
        loop {
            match self.run_batch(Wait::No, BATCH) {
                0 => return n,
                ran => n += ran,
            }
        }
    }

    /// Runs at most one ready task, without blocking.
    pub fn poll_one(&self) -> usize {
        self.run_batch(Wait::No, 1)
    }

    /// Like `run`, but returns after `timeout` at the latest.
    pub fn run_for(&self, timeout: Duration) -> usize {
        // A deadline past what `Instant` can represent (`Duration::MAX`) means none.
        let wait = Instant::now()
            .checked_add(timeout)
            .map_or(Wait::Forever, Wait::Until);
        let mut n = 0;
        loop {
            match self.run_batch(wait, BATCH) {
                0 => return n,
                ran => n += ran,
            }
        }
    }

    /// Makes `run` and friends return as soon as the current task finishes.
    pub fn stop(&self) {
        self.shared.stopped.store(true, Ordering::SeqCst);
        self.shared.queue.notify_all();
    }

    /// `true` after `stop` until `restart`.
    pub fn stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    /// Clears a previous `stop`.
    pub fn restart(&self) {
        self.shared.stopped.store(false, Ordering::Release);
    }

    /// Number of unfinished spawned tasks and live work guards.
    pub fn outstanding_work(&self) -> usize {
        self.shared.work.load(Ordering::Acquire)
    }

    /// Takes up to `max` tasks under one lock acquisition (waiting as the policy allows)
    /// and runs them; returns how many ran, 0 when the caller should return.
    fn run_batch(&self, wait: Wait, max: usize) -> usize {
        let shared = &*self.shared;
        let mut batch = {
            let mut queue = shared.queue.lock();
            loop {
                shared.check_local_owner();
                if self.stopped() {
                    return 0;
                }
                if !queue.is_empty() {
                    break queue.pop_batch(max);
                }
                if shared.work.load(Ordering::Acquire) == 0 {
                    return 0;
                }
                let deadline = match wait {
                    Wait::No => return 0,
                    Wait::Forever => None,
                    Wait::Until(deadline) => Some(deadline),
                };
                queue = shared.queue.wait(queue, deadline, || {
                    self.stopped() || shared.work.load(Ordering::SeqCst) == 0
                });
                if deadline.is_some_and(|d| Instant::now() >= d) && queue.is_empty() {
                    return 0;
                }
            }
        };
        let _running = Running::enter(shared);
        let mut ran = 0;
        let mut next = RunQueue::new();
        loop {
            // Run-next tasks go first, but only within this batch's budget.
            let Some(task) = next.pop().or_else(|| batch.pop()) else {
                break;
            };
            task.run();
            ran += 1;
            next.prepend(RUN_NEXT.with(|n| n.borrow_mut().take()));
            if ran == max || self.stopped() {
                break;
            }
        }
        if !batch.is_empty() || !next.is_empty() {
            // Untouched batch tasks keep their place at the front; run-next tasks that
            // did not fit go to the back, so a task dispatching itself cannot starve
            // the rest of the queue.
            let mut queue = shared.queue.lock();
            queue.prepend(batch.take());
            while let Some(task) = next.pop() {
                queue.push_back(task);
            }
        }
        ran
    }

    /// Runs `future` to completion on the calling thread, running this loop's tasks
    /// while it waits. The future sees this loop's executor in its environment.
    ///
    /// # Panics
    ///
    /// When called from inside a task that a strait context is running on this thread:
    /// blocking there would stall that context's other tasks, which may be the ones the
    /// future waits for (a silent deadlock otherwise). Await the future instead.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        crate::launch::assert_not_in_task("RunLoop::block_on");
        self.shared.check_local_owner();
        let env = self.env();
        let signal = Arc::new(BlockOnSignal {
            woken: AtomicBool::new(true),
            shared: self.shared.clone(),
        });
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let shared = &*self.shared;
        // Tasks dispatched by the future or by the tasks run here run next, before the
        // shared queue, as in `run`.
        let mut next = RunQueue::new();
        let result = loop {
            if signal.woken.swap(false, Ordering::AcqRel) {
                let _running = Running::enter(shared);
                // SAFETY: `env` outlives the guard, a local.
                let _env = unsafe { EnvGuard::enter(&env) };
                let poll = future.as_mut().poll(&mut cx);
                next.append(RUN_NEXT.with(|n| n.borrow_mut().take()));
                if let Poll::Ready(out) = poll {
                    break out;
                }
            }
            if let Some(task) = next.pop() {
                let _running = Running::enter(shared);
                task.run();
                next.prepend(RUN_NEXT.with(|n| n.borrow_mut().take()));
                continue;
            }
            let task = {
                let mut queue = shared.queue.lock();
                loop {
                    shared.check_local_owner();
                    if signal.woken.load(Ordering::SeqCst) {
                        break None;
                    }
                    if let Some(task) = queue.pop() {
                        break Some(task);
                    }
                    queue = shared
                        .queue
                        .wait(queue, None, || signal.woken.load(Ordering::SeqCst));
                }
            };
            if let Some(task) = task {
                let _running = Running::enter(shared);
                task.run();
                next.prepend(RUN_NEXT.with(|n| n.borrow_mut().take()));
            }
        };
        // Run-next tasks left when the future finished keep their turn on the queue.
        if !next.is_empty() {
            let mut queue = shared.queue.lock();
            while let Some(task) = next.pop() {
                queue.push_back(task);
            }
        }
        result
    }
}

/// Wakes a `block_on` waiting on the loop's condition variable.
struct BlockOnSignal {
    woken: AtomicBool,
    shared: Arc<LoopShared>,
}

impl Wake for BlockOnSignal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.queue.notify_all();
    }
}

impl Default for RunLoop {
    fn default() -> Self {
        Self::new()
    }
}

impl ExecutionContext for RunLoop {
    fn executor(&self) -> AnyExecutor {
        RunLoop::executor(self)
    }
    fn services(&self) -> &Services {
        &self.shared.services
    }
    fn frame_allocator(&self) -> FrameAlloc {
        self.shared.frame_allocator.clone()
    }
}

impl Drop for RunLoop {
    fn drop(&mut self) {
        self.shared.services.shutdown();
        let shared = &*self.shared;
        if !shared.is_local_owner() {
            // Local futures may only be dropped on their thread: leak the loop's
            // unfinished tasks (local or not: the list does not tell them apart) and the
            // state they keep alive rather than drop them here. Later spawns are aborted.
            shared.owned.close();
            std::mem::forget(shared.queue.take_all());
            return;
        }
        // Tasks hold the loop's executor: abort every task the loop owns (an idle one
        // drops its future here, releasing what it held), then drop the queued
        // runnables, which aborts their tasks, to break the cycle.
        shared.owned.close_and_abort_all();
        let abandoned = shared.queue.take_all();
        drop(abandoned);
    }
}

impl std::fmt::Debug for RunLoop {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunLoop")
            .field("queued", &self.shared.queue.len())
            .field("outstanding_work", &self.outstanding_work())
            .field("stopped", &self.stopped())
            .finish()
    }
}
