//! What a driver or runtime adapter needs and an application does not: the run-queue
//! building blocks, task ownership and foreign scheduling, the timer service, and
//! environment publication.
//!
//! # Writing an executor
//! Queue [`Runnable`](crate::Runnable)s intrusively ([`RunQueue`], the lock-free
//! [`Inject`] queue for posts from other threads); keep an [`OwnedTasks`] and return it
//! from [`Executor::owned_tasks`](crate::Executor::owned_tasks) so dropping the context
//! can abort what it owns ([`OwnedTasks::close_and_abort_all`]); return a
//! [`TimerService`] from [`Executor::timer_service`](crate::Executor::timer_service) so
//! `delay` and `timeout` use the context's timers.
//! A service built on one sleep of a foreign runtime keeps its deadlines in a
//! [`DrivenTimerTable`] served by one driver task.
//!
//! # Adapting a foreign runtime
//! Implement [`Executor::spawn_task`](crate::Executor::spawn_task) to wrap each new task
//! in a [`ForeignTask`] and spawn it on the runtime: the runtime's scheduler then owns
//! it, and the harness publishes the task's environment around each of its polls. Plain
//! posts go to a [`PostQueue`] whose runner is one task on the runtime.
//! Code the runtime polls directly (a `block_on`, a runtime-native task driving strait
//! code) publishes an environment with [`enter_env`] around its polls, and keeps the
//! publisher contract described in that function's docs: when the environment's stop
//! token can stop, a stop must wake the task (a [`StopWaker`](crate::StopWaker)
//! refreshed with the current waker on every poll does it).

pub use crate::combinators::driven_timer_table::{DrivenTimerTable, NextWake};
pub use crate::combinators::timer::{FallbackTimer, TimerKey, TimerService};
pub use crate::combinators::timer_table::TimerTable;
pub use crate::env::{enter_env, env_is_set};
pub use crate::exec::inject::Inject;
pub use crate::exec::post_queue::PostQueue;
pub use crate::exec::queue::RunQueue;
pub use crate::launch::assert_not_in_task;
pub use crate::task::{ForeignTask, OwnedTasks};

/// Spawns a future that is not `Send` on `env`'s executor: the building block of a
/// single-threaded context's `spawn_local` (see [`RunLoop::spawn_local`](crate::RunLoop::spawn_local)).
/// The task is listed with the executor's [`OwnedTasks`] like any other, and its
/// runnables are posted (never handed to [`Executor::spawn_task`](crate::Executor::spawn_task)).
///
/// # Safety
/// The executor runs, aborts and drops this task's runnables only on the calling
/// thread, and the context that owns it aborts it only on this thread (a context
/// dropped elsewhere must leak its local tasks instead).
#[inline(always)]
pub unsafe fn spawn_local_unchecked<F>(future: F, env: crate::IoEnv) -> crate::JoinHandle<F::Output>
where
    F: std::future::Future + 'static,
    F::Output: Send + 'static,
{
    // SAFETY: the caller's contract is the one `SpawnBlock::spawn_local` states.
    unsafe { crate::task::SpawnBlock::allocate(&env).spawn_local(future, env) }
}

/// Runs a runtime's own I/O future (an accept, a connect) as a strait operation: it
/// ends with the [canceled](crate::canceled) error as soon as the environment's stop
/// token is triggered, checked before every poll like every strait I/O future. The
/// publisher contract makes the stop wake the task, so a pending operation ends too.
///
/// ```
/// use strait_streams::{block_on, driver::stoppable, is_canceled, with_stop_token, StopSource};
/// let source = StopSource::new();
/// source.request_stop();
/// let never = std::future::pending::<std::io::Result<()>>();
/// let err = block_on(with_stop_token(source.token(), stoppable(never))).unwrap_err();
/// assert!(is_canceled(&err));
/// ```
pub async fn stoppable<T, F>(operation: F) -> std::io::Result<T>
where
    F: std::future::Future<Output = std::io::Result<T>>,
{
    let mut operation = std::pin::pin!(operation);
    std::future::poll_fn(|cx| {
        if crate::stop_requested() {
            return std::task::Poll::Ready(Err(crate::canceled()));
        }
        operation.as_mut().poll(cx)
    })
    .await
}
