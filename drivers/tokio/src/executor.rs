//! [`TokioExecutor`]: a tokio runtime handle as a strait [`Executor`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use strait_streams::driver::{enter_env, ForeignTask, TimerService};
use strait_streams::{AnyExecutor, Executor, IoEnv, JoinHandle, Runnable};
use tokio::runtime::Handle;

use crate::timer::TokioTimer;
use strait_streams::driver::PostQueue;

/// A tokio runtime as a strait executor.
///
/// - **Spawns** (`AnyExecutor::spawn`, `run_async`, `spawn` inside strait code) hand the
///   whole strait task to tokio as one tokio task ([`ForeignTask`] through
///   [`Executor::spawn_task`]): tokio's scheduler polls it, its wakes go straight to
///   tokio (no strait queue on the way), tokio's work stealing is kept, and every poll
///   publishes the task's environment, so strait code inside sees this executor, its
///   timers and its stop token.
/// - **Posts** (runnables that reach [`Executor::post`] anyway: a [`Strand`]'s invoker,
///   tasks of executors layered over this one) go to an intrusive queue drained by one
///   long-lived tokio task: no allocation per post.
/// - **Timers**: [`TokioTimer`], so `delay` and `timeout` use tokio's time driver.
///
/// The runtime must have its time driver enabled (`enable_time`, or `enable_all`).
///
/// ```
/// use strait_tokio::TokioExecutor;
///
/// let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
/// let executor = TokioExecutor::new(runtime.handle());
/// let answer = executor.spawn(async {
///     strait_streams::delay(std::time::Duration::from_millis(1)).await.unwrap(); // tokio's timer
///     6 * 7
/// });
/// assert_eq!(executor.block_on(&runtime, answer).unwrap(), 42);
/// ```
///
/// [`Strand`]: strait_streams::Strand
#[derive(Clone)]
pub struct TokioExecutor {
    adapter: Arc<Adapter>,
    executor: AnyExecutor,
}

/// The executor object behind the handles; dropped with the last strait handle
/// (including those in tasks' environments).
struct Adapter {
    handle: Handle,
    posts: Arc<PostQueue>,
    timer: Arc<TokioTimer>,
    work: AtomicUsize,
}

impl TokioExecutor {
    /// An executor on `handle`'s runtime. Spawns two long-lived tokio tasks there: the
    /// post runner and the [`TokioTimer`] driver.
    ///
    /// # Panics
    /// If the runtime has no time driver (`enable_time` was not called).
    pub fn new(handle: &Handle) -> TokioExecutor {
        let posts = PostQueue::new(None);
        drop(handle.spawn(posts.clone().runner()));
        let adapter = Arc::new(Adapter {
            handle: handle.clone(),
            posts,
            timer: TokioTimer::new(handle),
            work: AtomicUsize::new(0),
        });
        TokioExecutor {
            executor: AnyExecutor::from_arc(adapter.clone()),
            adapter,
        }
    }

    /// An executor on the runtime of the calling context.
    ///
    /// # Panics
    /// Outside a tokio runtime (as `Handle::current`).
    pub fn current() -> TokioExecutor {
        TokioExecutor::new(&Handle::current())
    }

    /// This executor as a strait executor handle (a cheap clone).
    pub fn executor(&self) -> AnyExecutor {
        self.executor.clone()
    }

    /// The tokio runtime handle.
    pub fn handle(&self) -> &Handle {
        &self.adapter.handle
    }

    /// The environment strait code sees on this executor: this executor, no stop
    /// token, the recycling frame allocator.
    pub fn env(&self) -> IoEnv {
        IoEnv::new(self.executor())
    }

    /// Spawns `future` as a strait task run by tokio (one tokio task).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.spawn(future)
    }

    /// Runs `future` to completion on `runtime` (which must be this executor's runtime)
    /// with this executor's environment published around each poll, so strait code in
    /// it sees this executor and tokio's timers.
    pub fn block_on<F: Future>(&self, runtime: &tokio::runtime::Runtime, future: F) -> F::Output {
        runtime.block_on(self.in_env(future))
    }

    /// Wraps `future` so each poll publishes this executor's environment: for strait
    /// code polled by tokio directly (`tokio::spawn`, `select!`, a `LocalSet`) rather
    /// than spawned through the executor.
    pub fn in_env<F: Future>(&self, future: F) -> InEnv<F> {
        InEnv::new(self.env(), future)
    }

    /// Tasks spawned on this executor (or posted to it) that have not completed.
    pub fn outstanding_work(&self) -> usize {
        self.adapter.work.load(Ordering::Acquire)
    }

    /// The timer service `delay` and `timeout` use on this executor.
    pub fn timer(&self) -> &Arc<TokioTimer> {
        &self.adapter.timer
    }
}

impl std::fmt::Debug for TokioExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioExecutor")
            .field("outstanding_work", &self.outstanding_work())
            .finish_non_exhaustive()
    }
}

impl Executor for Adapter {
    fn post(&self, task: Runnable) {
        self.posts.push(task);
    }

    fn spawn_task(&self, task: Runnable) {
        // One tokio task per strait task; dropped unpolled (aborting the strait task)
        // if the runtime is shutting down.
        drop(self.handle.spawn(ForeignTask::new(task)));
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

impl Drop for Adapter {
    fn drop(&mut self) {
        // No handle can post any more: let the runner task end.
        self.posts.close();
    }
}

/// A future polled with an environment published: see [`TokioExecutor::in_env`].
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
