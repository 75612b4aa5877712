//! Launchers that need no executor of their own: [`block_on`] and [`yield_now`].

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crate::env::{EnvGuard, IoEnv};

/// Runs `future` to completion on the calling thread, parking it while the future waits.
///
/// The future sees the caller's environment if one is published (e.g. inside a task),
/// and the [default environment](IoEnv::default_env) otherwise, so work it spawns goes
/// to the system executor. Allocates one waker per call.
///
/// # Panics
///
/// When called from inside a task that a strait context is running on this thread
/// (see [`RunLoop::block_on`](crate::RunLoop::block_on)): await the future instead.
pub fn block_on<F: Future>(future: F) -> F::Output {
    assert_not_in_task("block_on");
    let env = crate::env::env();
    block_on_with(future, &env)
}

/// `block_on` with an explicit environment.
///
/// # Panics
///
/// As [`block_on`], inside a task a context runs on this thread.
pub fn block_on_with<F: Future>(future: F, env: &IoEnv) -> F::Output {
    assert_not_in_task("block_on_with");
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    // Publisher contract: a stop of `env`'s token must wake us.
    let mut stop = pin!(env
        .stop_token
        .stop_possible()
        .then(|| crate::stop::StopWaker::new(env.stop_token.clone())));
    loop {
        if let Some(stop) = stop.as_mut().as_pin_mut() {
            let _ = stop.poll_stopped(&waker);
        }
        {
            // SAFETY: `env` outlives the guard, a local.
            let _env = unsafe { EnvGuard::enter(env) };
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
        thread::park();
    }
}

/// Panics when the calling thread is running a task for a strait executor: blocking it
/// would stall that executor's other tasks, possibly the ones the blocked future waits
/// for — a deadlock nothing reports otherwise (tokio panics the same way). `what` names
/// the blocking call in the message. Every `block_on` calls it first.
#[track_caller]
pub fn assert_not_in_task(what: &str) {
    if crate::env::env_is_set() && crate::env::with_env(|env| env.executor.running_in_this_thread())
    {
        panic!(
            "{what} called from inside a task running on this thread's executor: blocking \
             here would stall the executor's other tasks and can deadlock; `.await` the \
             future instead, or block on another thread"
        );
    }
}

/// Yields once: wakes the task (which re-queues it behind the tasks already posted to
/// its executor) and returns `Pending`.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

/// Starts building a launch of a task on `executor`: the papers' `run_async(ex)`.
///
/// Defaults: a stop token that never stops and the recycling frame allocator. The
/// task's one allocation comes from the chosen allocator.
///
/// ```
/// use strait_streams::{run_async, RunLoop, StopSource};
/// let rl = RunLoop::new();
/// let source = StopSource::new();
/// let handle = run_async(rl.executor())
///     .stop_token(source.token())
///     .spawn(async { strait_streams::env().stop_token().stop_possible() });
/// rl.run();
/// assert!(rl.block_on(handle).unwrap());
/// ```
pub fn run_async(executor: crate::AnyExecutor) -> RunAsync {
    RunAsync {
        env: IoEnv::new(executor),
    }
}

/// Builder returned by [`run_async`].
#[derive(Debug)]
#[must_use = "a launch does nothing until `spawn` or `detach`"]
pub struct RunAsync {
    env: IoEnv,
}

impl RunAsync {
    /// The task's stop token.
    pub fn stop_token(mut self, token: crate::StopToken) -> Self {
        self.env.stop_token = token;
        self
    }

    /// Where the task (and, by default, everything it allocates) is allocated.
    pub fn frame_allocator(mut self, alloc: crate::FrameAlloc) -> Self {
        self.env.frame_allocator = alloc;
        self
    }

    /// Spawns the task; the handle awaits its output.
    #[inline(always)]
    pub fn spawn<F>(self, future: F) -> crate::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        crate::task::SpawnBlock::allocate(&self.env).spawn(future, self.env)
    }

    /// Spawns the task without a handle: `on_ok` receives its output, `on_err` the
    /// panic (as [`JoinError::Panicked`](crate::JoinError)) or an abort when the executor
    /// shuts down first. `on_ok` and a panic's `on_err` run on the thread that polled
    /// the task (one of the executor's); an abort's `on_err` runs wherever the task is
    /// dropped — the thread that aborts it or shuts the executor down.
    pub fn detach<F, OnOk, OnErr>(self, future: F, on_ok: OnOk, on_err: OnErr)
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
        OnOk: FnOnce(F::Output) + Send + 'static,
        OnErr: FnOnce(crate::JoinError) + Send + 'static,
    {
        let guard = ErrGuard(Some(on_err));
        let wrapped = async move {
            let mut guard = guard;
            match CatchUnwind(future).await {
                Ok(v) => {
                    guard.0 = None;
                    on_ok(v);
                }
                Err(payload) => {
                    if let Some(on_err) = guard.0.take() {
                        on_err(crate::JoinError::Panicked(payload));
                    }
                }
            }
        };
        crate::task::spawn_with_env(wrapped, self.env).detach();
    }
}

/// Calls the error handler with `Aborted` if the task is dropped before finishing.
struct ErrGuard<E: FnOnce(crate::JoinError)>(Option<E>);

impl<E: FnOnce(crate::JoinError)> Drop for ErrGuard<E> {
    fn drop(&mut self) {
        if let Some(on_err) = self.0.take() {
            on_err(crate::JoinError::Aborted);
        }
    }
}

/// Catches a panic from the inner future's poll.
struct CatchUnwind<F>(F);

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: the inner future is structurally pinned.
        let inner = unsafe { self.map_unchecked_mut(|s| &mut s.0) };
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Result::Ok(Poll::Pending) => Poll::Pending,
            Result::Ok(Poll::Ready(v)) => Poll::Ready(Result::Ok(v)),
            Result::Err(payload) => Poll::Ready(Result::Err(payload)),
        }
    }
}

/// Runs `future` on `executor` and resumes the caller on its own executor: the papers'
/// `run(ex)(task)` hop. The child inherits the caller's stop token and frame allocator.
///
/// The result is the child's output, or a [`JoinError`](crate::JoinError) if it
/// panicked or `executor` shut down first. Dropping the returned future aborts the
/// child.
///
/// ```
/// use strait_streams::{env, run, RunLoop, ThreadPool};
/// let rl = RunLoop::new();
/// let pool = ThreadPool::new(1);
/// let pool_ex = pool.executor();
/// let (child_on_pool, back_on_loop) = rl.block_on(async move {
///     let child = run(pool_ex.clone(), async move { env().executor() == pool_ex }).await;
///     (child.unwrap(), env().executor().running_in_this_thread())
/// });
/// assert!(child_on_pool && back_on_loop);
/// ```
pub fn run<F>(executor: crate::AnyExecutor, future: F) -> RunOn<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    RunOn {
        start: Some((executor, future)),
        handle: None,
    }
}

/// Future of [`run`].
pub struct RunOn<F: Future> {
    start: Option<(crate::AnyExecutor, F)>,
    handle: Option<crate::JoinHandle<F::Output>>,
}

impl<F: Future> Unpin for RunOn<F> {}

impl<F> Future for RunOn<F>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    type Output = Result<F::Output, crate::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if let Some((executor, future)) = self.start.take() {
            let env = crate::env::with_env(|parent| IoEnv {
                executor,
                stop_token: parent.stop_token.clone(),
                frame_allocator: parent.frame_allocator.clone(),
            });
            self.handle = Some(crate::task::spawn_with_env(future, env));
        }
        let handle = self.handle.as_mut().expect("RunOn polled after completion");
        let out = Pin::new(handle).poll(cx);
        if out.is_ready() {
            self.handle = None;
        }
        out
    }
}

impl<F: Future> Drop for RunOn<F> {
    fn drop(&mut self) {
        if let Some(handle) = &self.handle {
            handle.abort();
        }
    }
}
