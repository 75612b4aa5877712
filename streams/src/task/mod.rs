//! Tasks: spawned futures with [`JoinHandle`]s, and the owned type-erased [`Task`].

mod boxed;
mod foreign;
mod owned;
pub(crate) mod raw;

pub use boxed::{LocalTask, Task};
pub use foreign::ForeignTask;
pub use owned::OwnedTasks;
pub use raw::{JoinError, Runnable};

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use crate::env::IoEnv;

/// Awaits a spawned task's output. Dropping it detaches the task (it keeps running and
/// its output is dropped); [`abort`](Self::abort) cancels it.
///
/// The output is `Err(JoinError::Panicked(_))` if the task panicked (in `poll`, or in
/// its future's destructor, which runs on the executor as soon as the future finishes)
/// and `Err(JoinError::Aborted)` if it was aborted or its executor shut down first. A
/// panic never unwinds into the executor; an output nobody takes (a detached task's)
/// is dropped with its destructor's panic discarded.
pub struct JoinHandle<T> {
    raw: NonNull<raw::Header>,
    _output: PhantomData<T>,
}

// SAFETY: the handle only moves `T` out (T: Send at spawn) and touches atomics/mutexes.
unsafe impl<T: Send> Send for JoinHandle<T> {}
// SAFETY: `&JoinHandle` only allows `abort`/`is_finished`, which are thread-safe.
unsafe impl<T: Send> Sync for JoinHandle<T> {}

impl<T> Unpin for JoinHandle<T> {}

impl<T> JoinHandle<T> {
    /// Requests cancellation: the task's future is dropped on its executor at its next
    /// run, and the handle completes with [`JoinError::Aborted`] (unless it already
    /// finished).
    pub fn abort(&self) {
        raw::join::abort(self.raw);
    }

    /// `true` once the task has finished (its output is ready).
    pub fn is_finished(&self) -> bool {
        raw::join::is_finished(self.raw)
    }

    /// Lets the task run to completion on its own; its output is dropped.
    pub fn detach(self) {}
}

impl<T> Future for JoinHandle<T> {
    type Output = Result<T, JoinError>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: we are the join handle of a task whose output type is `T`.
        unsafe { raw::join::poll_join(self.raw, cx.waker()) }
    }
}

impl<T> Drop for JoinHandle<T> {
    fn drop(&mut self) {
        // SAFETY: the handle owns one reference.
        unsafe { raw::release(self.raw) };
    }
}

impl<T> std::fmt::Debug for JoinHandle<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JoinHandle")
            .field("finished", &self.is_finished())
            .finish()
    }
}

/// Spawns `future` with `env` (its executor runs it; its frame allocator provides the
/// task's single allocation). The task goes to the executor's
/// [`spawn_task`](crate::Executor::spawn_task) hook (by default, posted), never run
/// inline. The public spawners use [`SpawnBlock`] directly, so the future is copied
/// once; this form (the future passed once more by value) is for the others.
#[inline(always)]
pub(crate) fn spawn_with_env<F>(future: F, env: IoEnv) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    SpawnBlock::allocate(&env).spawn(future, env)
}

/// A spawned task's memory, allocated before the future moves anywhere: a spawner
/// that takes the future by value allocates this first and then hands the future to
/// [`spawn`](Self::spawn), so the future is copied once, from where its caller made it
/// straight into the block. (Passed by value into a helper first, it was copied
/// twice: the allocator's call in between ends the first copy's source's life, so the
/// compiler cannot forward it; a connection handler of several KiB showed in profiles.)
pub(crate) enum SpawnBlock<F: Future> {
    Plain(raw::TaskBlock<F>),
    /// The environment's token can stop: the publisher contract needs the task woken
    /// on stop.
    WakeOnStop(raw::TaskBlock<WakeOnStop<F>>),
}

impl<F: Future + 'static> SpawnBlock<F>
where
    F::Output: 'static,
{
    /// The block for a task of `F` with `env`, from `env`'s frame allocator.
    // `always` here and below: every layer a future is passed through by value could be
    // one more copy of it.
    #[inline(always)]
    pub(crate) fn allocate(env: &IoEnv) -> Self {
        if env.stop_token.stop_possible() {
            SpawnBlock::WakeOnStop(raw::TaskBlock::allocate(env))
        } else {
            SpawnBlock::Plain(raw::TaskBlock::allocate(env))
        }
    }

    /// Writes the task and hands it to `env`'s executor. `env` is the one the block
    /// was allocated for.
    #[inline(always)]
    pub(crate) fn spawn(self, future: F, env: IoEnv) -> JoinHandle<F::Output>
    where
        F: Send,
        F::Output: Send,
    {
        let (runnable, raw) = match self {
            SpawnBlock::Plain(block) => block.init(future, env, true),
            SpawnBlock::WakeOnStop(block) => block.init(WakeOnStop::new(future), env, true),
        };
        submit(runnable, raw, false)
    }

    /// [`spawn`](Self::spawn) for a `!Send` future: its runnables are posted to
    /// `env`'s executor and must run only on this thread.
    ///
    /// # Safety
    /// `env`'s executor runs, aborts and drops this task's runnables only on the calling
    /// thread (a single-threaded context bound to it), and never hands them to
    /// [`ForeignTask`].
    #[inline(always)]
    pub(crate) unsafe fn spawn_local(self, future: F, env: IoEnv) -> JoinHandle<F::Output>
    where
        F::Output: Send,
    {
        // SAFETY: the caller's contract keeps the future on this thread.
        let (runnable, raw) = unsafe {
            match self {
                SpawnBlock::Plain(block) => block.init_unchecked(future, env, true),
                SpawnBlock::WakeOnStop(block) => {
                    block.init_unchecked(WakeOnStop::new(future), env, true)
                }
            }
        };
        submit(runnable, raw, true)
    }
}

/// Counts the new task as work and hands it to its executor: posted when `local` (a
/// local task is never handed to a foreign scheduler), else through the executor's
/// [`spawn_task`](crate::Executor::spawn_task) hook.
fn submit<T>(runnable: Runnable, raw: NonNull<raw::Header>, local: bool) -> JoinHandle<T> {
    // SAFETY: `raw` is the join handle's reference, alive until the handle is made
    // below; the executor is borrowed from the task's own environment (no clone).
    let executor = unsafe { raw.as_ref() }.env().executor();
    executor.on_work_started();
    if let Some(runnable) = admit(executor, runnable) {
        if local {
            executor.post(runnable);
        } else {
            executor.spawn_task(runnable);
        }
    }
    JoinHandle {
        raw,
        _output: PhantomData,
    }
}

/// Checks a new task against its executor's [`OwnedTasks`]: a context that shut down
/// aborts it at once (`None`); otherwise it goes to the executor (it is listed only if
/// it ever waits).
fn admit(executor: &crate::AnyExecutor, runnable: Runnable) -> Option<Runnable> {
    if executor.owned_tasks().is_some_and(OwnedTasks::is_closed) {
        drop(runnable); // aborts: the join handle reports `Aborted`
        None
    } else {
        Some(runnable)
    }
}

/// Spawns `future` on the current environment's executor, with the current stop token
/// and frame allocator.
#[inline(always)]
pub fn spawn<F>(future: F) -> JoinHandle<F::Output>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    let env = crate::env::env();
    SpawnBlock::allocate(&env).spawn(future, env)
}

/// Wraps a task's future so a stop of its environment's token wakes it: the task
/// harness's share of the environment publisher contract (see [`crate::env`]). Only
/// ever polled by the harness, with the task's own waker, and dropped in the task's
/// stage (while the task header, and so its token, is alive).
pub(crate) struct WakeOnStop<F> {
    future: F,
    stop: crate::stop::TaskStop,
}

impl<F> WakeOnStop<F> {
    #[inline(always)]
    fn new(future: F) -> Self {
        WakeOnStop {
            future,
            stop: crate::stop::TaskStop::new(),
        }
    }
}

impl<F: Future> Future for WakeOnStop<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: both fields are structurally pinned and never moved.
        let this = unsafe { self.get_unchecked_mut() };
        if let Some(task) = raw::task_of(cx.waker()) {
            // SAFETY: the harness polls us with our own task's waker, so `task` is the
            // task whose stage holds `stop`, alive during the poll; its header's token
            // is the one `Drop` unregisters with.
            unsafe {
                let token = &task.as_ref().env().stop_token;
                let _ = Pin::new_unchecked(&mut this.stop).poll_register(token, task);
            }
        }
        // SAFETY: as above.
        unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx)
    }
}

impl<F> Drop for WakeOnStop<F> {
    fn drop(&mut self) {
        let task = self.stop.task();
        if !task.is_null() {
            // SAFETY: a registered `stop` names the task whose stage holds us; the
            // header outlives the stage, and its token is the one registered with.
            // `stop` is pinned in place (we are being dropped in place).
            unsafe {
                let token = &(*task).env().stop_token;
                Pin::new_unchecked(&mut self.stop).unregister(token);
            }
        }
    }
}
