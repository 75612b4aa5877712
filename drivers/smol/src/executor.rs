//! Executors: [`SmolExecutor`], a smol (`async-executor`) executor as a strait
//! [`Executor`], built on [`ForeignExecutor`], which adapts any runtime that can spawn a
//! `Send` future (strait-async-std uses it for async-std).

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};

use strait_streams::driver::{enter_env, ForeignTask, TimerService};
use strait_streams::{AnyExecutor, Executor, IoEnv, JoinHandle, Runnable};

use crate::running::{self, Running};
use crate::timer::AsyncIoTimer;
use strait_streams::driver::PostQueue;

/// A runtime's spawn function: what [`ForeignExecutor`] needs of a runtime.
pub trait Spawn: Send + Sync + 'static {
    /// Spawns `future` as one task of the runtime, detached. If the runtime is gone,
    /// drop `future` (that aborts a strait task inside it).
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static;
}

/// A runtime that can spawn `Send` futures, as a strait executor.
///
/// - **Spawns** (`AnyExecutor::spawn`, `run_async`, `spawn` inside strait code) hand the
///   whole strait task to the runtime as one of its tasks ([`ForeignTask`] through
///   [`Executor::spawn_task`]): the runtime's scheduler polls it, its wakes go straight
///   to the runtime, and every poll publishes the task's environment, so strait code
///   inside sees this executor, its timers and its stop token.
/// - **Posts** (runnables that reach [`Executor::post`] anyway: a
///   [`Strand`](strait_streams::Strand)'s invoker, tasks of executors layered over this
///   one) go to an intrusive queue drained by one long-lived task: no allocation per
///   post.
/// - **Timers**: an [`AsyncIoTimer`] whose driver is one long-lived task.
pub struct ForeignExecutor<S: Spawn> {
    adapter: Arc<Adapter<S>>,
    executor: AnyExecutor,
}

/// The executor object behind the handles; dropped with the last strait handle
/// (including those in tasks' environments).
struct Adapter<S> {
    spawner: S,
    posts: Arc<PostQueue>,
    timer: Arc<AsyncIoTimer>,
    work: AtomicUsize,
}

impl<S: Spawn> ForeignExecutor<S> {
    /// An executor over `spawner`'s runtime. Spawns two long-lived tasks there: the post
    /// runner and the timer driver.
    pub fn with_spawner(spawner: S) -> Self {
        let posts = PostQueue::new(None);
        let (timer, driver) = AsyncIoTimer::new();
        spawner.spawn(driver);
        let adapter = Arc::new(Adapter {
            spawner,
            posts,
            timer,
            work: AtomicUsize::new(0),
        });
        // Posted runnables are this executor's tasks too, while the runner runs them.
        let runner = Running::new(running::id(&*adapter), adapter.posts.clone().runner());
        adapter.spawner.spawn(runner);
        ForeignExecutor {
            executor: AnyExecutor::from_arc(adapter.clone()),
            adapter,
        }
    }

    /// This executor as a strait executor handle (a cheap clone).
    pub fn executor(&self) -> AnyExecutor {
        self.executor.clone()
    }

    /// The runtime's spawner.
    pub fn spawner(&self) -> &S {
        &self.adapter.spawner
    }

    /// The environment strait code sees on this executor: this executor, no stop
    /// token, the recycling frame allocator.
    pub fn env(&self) -> IoEnv {
        IoEnv::new(self.executor())
    }

    /// Spawns `future` as a strait task run by the runtime (one runtime task).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.spawn(future)
    }

    /// Wraps `future` so each poll publishes this executor's environment: for strait
    /// code polled by the runtime directly (its `block_on`, a runtime-native task)
    /// rather than spawned through the executor.
    pub fn in_env<F: Future>(&self, future: F) -> InEnv<F> {
        InEnv::new(self.env(), future)
    }

    /// Tasks spawned on this executor (or posted to it) that have not completed.
    pub fn outstanding_work(&self) -> usize {
        self.adapter.work.load(Ordering::Acquire)
    }

    /// The timer service `delay` and `timeout` use on this executor.
    pub fn timer(&self) -> &Arc<AsyncIoTimer> {
        &self.adapter.timer
    }
}

impl<S: Spawn> Clone for ForeignExecutor<S> {
    fn clone(&self) -> Self {
        ForeignExecutor {
            adapter: self.adapter.clone(),
            executor: self.executor.clone(),
        }
    }
}

impl<S: Spawn> std::fmt::Debug for ForeignExecutor<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ForeignExecutor")
            .field("outstanding_work", &self.outstanding_work())
            .finish_non_exhaustive()
    }
}

impl<S: Spawn> Executor for Adapter<S> {
    fn post(&self, task: Runnable) {
        self.posts.push(task);
    }

    fn spawn_task(&self, task: Runnable) {
        self.spawner
            .spawn(Running::new(running::id(self), ForeignTask::new(task)));
    }

    /// `true` inside a poll of one of this executor's tasks.
    fn running_in_this_thread(&self) -> bool {
        running::is_running(running::id(self))
    }

    fn on_work_started(&self) {
        self.work.fetch_add(1, Ordering::Release);
    }

    fn on_work_finished(&self) {
        self.work.fetch_sub(1, Ordering::Release);
    }

    fn timer_service(&self) -> Option<Arc<dyn TimerService>> {
        Some(self.timer.clone())
    }
}

impl<S> Drop for Adapter<S> {
    fn drop(&mut self) {
        // No handle can post any more: let the runner task end.
        self.posts.close();
    }
}

/// Spawns on a smol executor (`smol::Executor`, which is `async_executor::Executor`).
///
/// It holds the executor weakly: strait tasks keep their executor handle in their
/// environment, and a strong reference there would keep the smol executor (and so
/// those very tasks) alive forever. Once the last `Arc` of the smol executor is dropped,
/// spawns are aborted.
#[derive(Debug, Clone)]
pub struct SmolSpawner {
    executor: Weak<async_executor::Executor<'static>>,
}

impl Spawn for SmolSpawner {
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(executor) = self.executor.upgrade() {
            executor.spawn(future).detach();
        }
    }
}

/// A smol executor as a strait executor: one smol task per strait spawn (smol's
/// scheduler and work stealing kept), the environment published around every poll, and
/// async-io's timers behind `delay` and `timeout`.
///
/// smol runs its executor's tasks only on threads that run it (`Executor::run`,
/// [`block_on`](Self::block_on)); this adapter adds no thread of its own. Dropping the
/// last `Arc` of the smol executor aborts the strait tasks still on it.
///
/// ```
/// use std::sync::Arc;
/// use strait_smol::SmolExecutor;
///
/// let smol = Arc::new(async_executor::Executor::new());
/// let executor = SmolExecutor::new(&smol);
/// let answer = executor.spawn(async {
///     strait_streams::delay(std::time::Duration::from_millis(1)).await.unwrap(); // async-io's timer
///     6 * 7
/// });
/// assert_eq!(executor.block_on(answer).unwrap(), 42);
/// ```
pub type SmolExecutor = ForeignExecutor<SmolSpawner>;

impl ForeignExecutor<SmolSpawner> {
    /// An executor on `executor`; spawns its post runner and timer driver there.
    pub fn new(executor: &Arc<async_executor::Executor<'static>>) -> Self {
        ForeignExecutor::with_spawner(SmolSpawner {
            executor: Arc::downgrade(executor),
        })
    }

    /// Runs `future` to completion on this thread, running the smol executor's tasks
    /// and async-io's reactor meanwhile, with this executor's environment published
    /// around each poll of `future`.
    ///
    /// # Panics
    /// If the smol executor was dropped, or when called inside a task of a strait
    /// executor running on this thread (blocking there stalls that executor and can
    /// deadlock; `.await` instead).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        strait_streams::driver::assert_not_in_task("SmolExecutor::block_on");
        async_io::block_on(self.run(future))
    }

    /// Runs the smol executor's tasks until `future` completes, publishing this
    /// executor's environment around `future`'s polls: what a worker thread awaits
    /// (`async_io::block_on(executor.run(std::future::pending::<()>()))`) and what
    /// [`block_on`](Self::block_on) runs.
    ///
    /// # Panics
    /// If the smol executor was dropped.
    pub fn run<F: Future>(&self, future: F) -> impl Future<Output = F::Output> {
        let smol = self
            .spawner()
            .executor
            .upgrade()
            .expect("the smol executor was dropped");
        let future = self.in_env(future);
        async move { smol.run(future).await }
    }
}

/// A future polled with an environment published: see [`ForeignExecutor::in_env`].
#[derive(Debug)]
pub struct InEnv<F> {
    env: IoEnv,
    future: F,
}

impl<F> InEnv<F> {
    pub(crate) fn new(env: IoEnv, future: F) -> Self {
        InEnv { env, future }
    }
}

impl<F: Future> Future for InEnv<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned and never moved; `env` is not pinned.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        // The environment's stop token never stops (`IoEnv::new`), so the publisher
        // contract (a stop wakes the task) holds trivially.
        enter_env(&this.env, || future.poll(cx))
    }
}
