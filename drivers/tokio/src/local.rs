//! [`LocalExecutor`]: strait tasks that are not `Send`, run on a tokio `LocalSet`.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use strait_streams::driver::{spawn_local_unchecked, TimerService};
use strait_streams::{AnyExecutor, Executor, IoEnv, JoinHandle, Runnable};
use tokio::runtime::Handle;
use tokio::task::LocalSet;

use crate::executor::InEnv;
use crate::timer::TokioTimer;
use strait_streams::driver::PostQueue;

/// A strait executor whose tasks all run on one thread, inside a tokio [`LocalSet`]:
/// the way to run `!Send` strait tasks (an `Rc`, a `RefCell` held across an await) on
/// tokio's current-thread flavour.
///
/// Every task of this executor, `Send` or not, is queued and run by one task on the
/// `LocalSet`, so it runs only while the `LocalSet` is driven (`LocalSet::block_on`,
/// `run_until`, or awaiting it), and only on its thread. Wakes may come from any thread.
/// If the `LocalSet` is dropped, queued tasks are aborted on its thread; a task whose
/// wake arrives later from another thread is leaked rather than dropped there.
///
/// The handle is `!Send`: [`spawn_local`](Self::spawn_local) is only reachable on the
/// `LocalSet`'s thread.
///
/// ```
/// use std::rc::Rc;
/// use strait_tokio::LocalExecutor;
///
/// let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
/// let local = tokio::task::LocalSet::new();
/// let executor = LocalExecutor::new(&local, runtime.handle());
/// let shared = Rc::new(41);
/// let task = executor.spawn_local(async move {
///     strait_streams::yield_now().await;
///     *shared + 1 // `Rc` held across an await
/// });
/// assert_eq!(local.block_on(&runtime, executor.in_env(task)).unwrap(), 42);
/// ```
pub struct LocalExecutor {
    executor: AnyExecutor,
    timer: Arc<TokioTimer>,
    /// Bound to the `LocalSet`'s thread.
    _not_send: PhantomData<*const ()>,
}

struct LocalAdapter {
    posts: Arc<PostQueue>,
    timer: Arc<TokioTimer>,
}

impl LocalExecutor {
    /// An executor on `local` (which must belong to this thread, as every `LocalSet`
    /// does), with timers on `handle`'s runtime.
    ///
    /// # Panics
    /// If that runtime has no time driver (`enable_time` was not called).
    pub fn new(local: &LocalSet, handle: &Handle) -> LocalExecutor {
        let posts = PostQueue::new(Some(std::thread::current().id()));
        drop(local.spawn_local(posts.clone().runner()));
        let timer = TokioTimer::new(handle);
        LocalExecutor {
            executor: AnyExecutor::new(LocalAdapter {
                posts,
                timer: timer.clone(),
            }),
            timer,
            _not_send: PhantomData,
        }
    }

    /// This executor as a strait executor handle.
    pub fn executor(&self) -> AnyExecutor {
        self.executor.clone()
    }

    /// The environment of this executor's tasks.
    pub fn env(&self) -> IoEnv {
        IoEnv::new(self.executor())
    }

    /// Spawns a future that need not be `Send`; it runs on the `LocalSet`'s thread.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        // SAFETY: this executor runs its posted runnables only in its runner task,
        // which is on the `LocalSet` of this thread (`LocalSet`s never move threads,
        // and this handle is `!Send`, so we are on that thread); it drops them there
        // too, and leaks them rather than drop them on another thread (`PostQueue`'s
        // owner check). Its `OwnedTasks` (the tasks that wait) are aborted when the
        // queue closes on this thread, and only leaked when it closes elsewhere, so no
        // thread but this one drops a local future.
        unsafe { spawn_local_unchecked(future, self.env()) }
    }

    /// Spawns a `Send` future on this executor (it runs on the `LocalSet` too).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.spawn(future)
    }

    /// Wraps `future` so each poll publishes this executor's environment (for the
    /// future given to `LocalSet::block_on` or `run_until`).
    pub fn in_env<F: Future>(&self, future: F) -> InEnv<F> {
        InEnv::new(self.env(), future)
    }

    /// The timer service `delay` and `timeout` use on this executor.
    pub fn timer(&self) -> &Arc<TokioTimer> {
        &self.timer
    }
}

impl std::fmt::Debug for LocalExecutor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalExecutor").finish_non_exhaustive()
    }
}

impl Executor for LocalAdapter {
    fn post(&self, task: Runnable) {
        self.posts.push(task);
    }

    fn timer_service(&self) -> Option<Arc<dyn TimerService>> {
        Some(self.timer.clone())
    }

    fn owned_tasks(&self) -> Option<&strait_streams::driver::OwnedTasks> {
        Some(self.posts.owned())
    }
}

impl Drop for LocalAdapter {
    fn drop(&mut self) {
        self.posts.close();
    }
}
