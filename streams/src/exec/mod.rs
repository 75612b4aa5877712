//! Executors: where tasks run. The [`Executor`] trait, the owning [`AnyExecutor`] and
//! borrowing [`ExecutorRef`] handles, the single-threaded [`RunLoop`], the
//! [`ThreadPool`] and the process-wide [system executor](system_executor).
//!
//! Rules every executor here keeps (the papers' executor concept):
//! - `post` never runs the task inline; it queues it, and queuing never allocates. The
//!   run loop and the pool post through the lock-free [`Inject`](crate::driver::Inject) queue and take their
//!   queue's lock only to wake a consumer that announced it is going to sleep.
//! - `dispatch` may run the task sooner — in a "run next" slot — only when called from a
//!   thread that is running this executor; otherwise it posts. No executor here runs a
//!   task inline from `dispatch`, which keeps stacks shallow and lock-free of re-entry.
//! - Work tracking: every spawned task counts as outstanding work from spawn to
//!   completion; `run` returns and `join` unblocks when it reaches zero.

pub(crate) mod inject;
pub(crate) mod post_queue;
pub(crate) mod queue;
mod run_loop;
mod services;
mod shared_queue;
mod strand;
mod thread_pool;

pub use crate::env::WithEnv;
pub use crate::launch::{RunAsync, RunOn, YieldNow};
pub(crate) use queue::RunQueue;
pub use run_loop::{RunLoop, WorkGuard};
pub use services::{ExecutionContext, Service, ServiceExists, Services};
pub use strand::Strand;
pub use thread_pool::ThreadPool;

use std::fmt;
use std::future::Future;
use std::sync::{Arc, OnceLock};

use crate::env::IoEnv;
use crate::task::{JoinHandle, Runnable};

/// Something that runs [`Runnable`]s.
pub trait Executor: Send + Sync + 'static {
    /// Queues `task` to run later. Never runs it inline; never allocates.
    fn post(&self, task: Runnable);

    /// Runs `task` as soon as possible: like `post`, but an executor may put it in a
    /// "run next" slot when called from one of its own threads. The default posts.
    fn dispatch(&self, task: Runnable) {
        self.post(task);
    }

    /// `true` when the calling thread is currently running this executor's tasks.
    fn running_in_this_thread(&self) -> bool {
        false
    }

    /// Counts one more unit of outstanding work (a spawned task, a work guard).
    fn on_work_started(&self) {}

    /// Counts one unit of outstanding work as finished.
    fn on_work_finished(&self) {}

    /// The timer service of this executor's context, if it has one; [`delay`] and
    /// [`timeout`] fall back to [`FallbackTimer`] otherwise.
    ///
    /// [`delay`]: crate::delay
    /// [`timeout`]: crate::timeout
    /// [`FallbackTimer`]: crate::driver::FallbackTimer
    fn timer_service(&self) -> Option<std::sync::Arc<dyn crate::driver::TimerService>> {
        None
    }

    /// The service registry of this executor's context, if it has one.
    fn services(&self) -> Option<&Services> {
        None
    }

    /// Receives every new task of this executor once, when it is spawned. The default
    /// queues it with [`post`](Self::post).
    ///
    /// The spawn-level hook for foreign runtimes: an adapter wraps the task in a
    /// [`ForeignTask`](crate::driver::ForeignTask) and spawns that on its runtime's own
    /// scheduler, which then polls the whole task (one runtime task per spawn, no spawn
    /// per wake, the runtime's work stealing kept); the task's wakes go to the runtime
    /// and never reach `post`.
    fn spawn_task(&self, task: Runnable) {
        self.post(task);
    }

    /// The list of unfinished tasks of this executor's context, if it keeps one: a task
    /// is listed from its first wait until it completes (before, it is queued or
    /// running), so the context can abort them all when it shuts down. The default
    /// keeps none.
    fn owned_tasks(&self) -> Option<&crate::task::OwnedTasks> {
        None
    }
}

/// An owning, type-erased, cheaply cloned handle to an executor.
#[derive(Clone)]
pub struct AnyExecutor(Arc<dyn Executor>);

impl AnyExecutor {
    /// Wraps an executor.
    pub fn new<E: Executor>(executor: E) -> Self {
        AnyExecutor(Arc::new(executor))
    }

    /// Wraps a shared executor.
    pub fn from_arc(executor: Arc<dyn Executor>) -> Self {
        AnyExecutor(executor)
    }

    /// A borrowed handle.
    pub fn as_ref(&self) -> ExecutorRef<'_> {
        ExecutorRef(&*self.0)
    }

    /// `true` when both handles name the same executor object.
    pub fn ptr_eq(&self, other: &AnyExecutor) -> bool {
        std::ptr::addr_eq(Arc::as_ptr(&self.0), Arc::as_ptr(&other.0))
    }

    /// Spawns `future` on this executor with a stop token that never stops and the
    /// current frame allocator. Allocates once, from that allocator.
    #[inline(always)]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let frame_allocator = crate::env::with_env(|env| env.frame_allocator.clone());
        let env = IoEnv {
            executor: self.clone(),
            stop_token: crate::StopToken::never(),
            frame_allocator,
        };
        crate::task::SpawnBlock::allocate(&env).spawn(future, env)
    }
}

impl std::ops::Deref for AnyExecutor {
    type Target = dyn Executor;
    fn deref(&self) -> &(dyn Executor + 'static) {
        &*self.0
    }
}

impl PartialEq for AnyExecutor {
    fn eq(&self, other: &Self) -> bool {
        self.ptr_eq(other)
    }
}

impl Eq for AnyExecutor {}

impl PartialEq<AnyExecutor> for &AnyExecutor {
    fn eq(&self, other: &AnyExecutor) -> bool {
        self.ptr_eq(other)
    }
}

impl PartialEq<&AnyExecutor> for AnyExecutor {
    fn eq(&self, other: &&AnyExecutor) -> bool {
        self.ptr_eq(other)
    }
}

impl fmt::Debug for AnyExecutor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnyExecutor({:p})", Arc::as_ptr(&self.0))
    }
}

/// A non-owning executor handle: two words, `Copy`.
#[derive(Clone, Copy)]
pub struct ExecutorRef<'a>(&'a dyn Executor);

impl<'a> ExecutorRef<'a> {
    /// Borrows `executor`.
    pub fn new(executor: &'a dyn Executor) -> Self {
        ExecutorRef(executor)
    }
}

impl std::ops::Deref for ExecutorRef<'_> {
    type Target = dyn Executor;
    fn deref(&self) -> &(dyn Executor + 'static) {
        self.0
    }
}

impl PartialEq for ExecutorRef<'_> {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::addr_eq(self.0, other.0)
    }
}

impl fmt::Debug for ExecutorRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ExecutorRef({:p})", self.0)
    }
}

/// The process-wide system executor: a [`ThreadPool`] with one thread per core,
/// started when the first task is posted to it (not when the default environment is
/// first read: a `block_on` that never spawns starts no thread) and never joined. It
/// backs the default environment.
pub fn system_executor() -> AnyExecutor {
    static SYSTEM: OnceLock<AnyExecutor> = OnceLock::new();
    SYSTEM
        .get_or_init(|| AnyExecutor::new(SystemExecutor::default()))
        .clone()
}

/// The system executor: its pool is started by the first call that needs threads.
#[derive(Default)]
struct SystemExecutor {
    /// The pool and its executor handle (kept to post without a reference-count bump).
    pool: OnceLock<(ThreadPool, AnyExecutor)>,
}

impl SystemExecutor {
    fn pool(&self) -> &AnyExecutor {
        &self
            .pool
            .get_or_init(|| {
                let pool = ThreadPool::with_name(0, "strait-sys-");
                let executor = pool.executor();
                (pool, executor)
            })
            .1
    }
}

impl Executor for SystemExecutor {
    fn post(&self, task: Runnable) {
        self.pool().post(task);
    }
    fn running_in_this_thread(&self) -> bool {
        self.pool
            .get()
            .is_some_and(|(_, executor)| executor.running_in_this_thread())
    }
    fn on_work_started(&self) {
        self.pool().on_work_started();
    }
    fn on_work_finished(&self) {
        self.pool().on_work_finished();
    }
    fn services(&self) -> Option<&Services> {
        self.pool
            .get()
            .map(|(pool, _)| ExecutionContext::services(pool))
    }
}
