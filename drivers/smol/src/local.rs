//! [`LocalExecutor`]: strait tasks that are not `Send`, run on a smol
//! `LocalExecutor` (`async_executor::LocalExecutor`).

use std::future::Future;
use std::rc::Rc;
use std::sync::Arc;

use strait_streams::driver::{spawn_local_unchecked, TimerService};
use strait_streams::{AnyExecutor, Executor, IoEnv, JoinHandle, Runnable};

use crate::executor::InEnv;
use crate::running::{self, Running};
use crate::timer::AsyncIoTimer;
use strait_streams::driver::PostQueue;

/// A strait executor whose tasks all run on one thread, inside a smol
/// `async_executor::LocalExecutor`: the way to run `!Send` strait tasks (an `Rc`, a
/// `RefCell` held across an await) on smol.
///
/// Every task of this executor, `Send` or not, is queued and run by one task on the
/// smol local executor, so it runs only while that executor is run (`run`,
/// [`block_on`](Self::block_on)), and only on its thread. Wakes may come from any
/// thread. If the smol local executor is dropped, queued tasks are aborted on its
/// thread; a task whose wake arrives later from another thread is leaked rather than
/// dropped there.
///
/// The handle is `!Send` (it holds the smol local executor).
///
/// ```
/// use std::rc::Rc;
/// use strait_smol::LocalExecutor;
///
/// let smol = Rc::new(async_executor::LocalExecutor::new());
/// let executor = LocalExecutor::new(&smol);
/// let shared = Rc::new(41);
/// let task = executor.spawn_local(async move {
///     strait_streams::yield_now().await;
///     *shared + 1 // `Rc` held across an await
/// });
/// assert_eq!(executor.block_on(task).unwrap(), 42);
/// ```
pub struct LocalExecutor {
    executor: AnyExecutor,
    smol: Rc<async_executor::LocalExecutor<'static>>,
    timer: Arc<AsyncIoTimer>,
}

struct LocalAdapter {
    posts: Arc<PostQueue>,
    timer: Arc<AsyncIoTimer>,
}

impl LocalExecutor {
    /// An executor on `smol` (a local executor of this thread, as they all are); spawns
    /// its post runner and timer driver there.
    pub fn new(smol: &Rc<async_executor::LocalExecutor<'static>>) -> LocalExecutor {
        let posts = PostQueue::new(Some(std::thread::current().id()));
        let (timer, driver) = AsyncIoTimer::new();
        smol.spawn(driver).detach();
        let adapter = Arc::new(LocalAdapter {
            posts,
            timer: timer.clone(),
        });
        // Every task of this executor runs inside the runner.
        let runner = Running::new(running::id(&*adapter), adapter.posts.clone().runner());
        smol.spawn(runner).detach();
        LocalExecutor {
            executor: AnyExecutor::from_arc(adapter),
            smol: smol.clone(),
            timer,
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

    /// Spawns a future that need not be `Send`; it runs on this thread.
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        // SAFETY: this executor runs its posted runnables only in its runner task,
        // which is a task of the smol local executor of this thread (a smol
        // `LocalExecutor` is `!Send`, so are this handle and the `Rc` in it: we are on
        // that thread); it drops them there too, and leaks them rather than drop them
        // on another thread (`PostQueue`'s owner check). Its `OwnedTasks` (the tasks
        // that wait) are aborted when the queue closes on this thread, and only leaked
        // when it closes elsewhere, so no thread but this one drops a local future.
        unsafe { spawn_local_unchecked(future, self.env()) }
    }

    /// Spawns a `Send` future on this executor (it runs on this thread too).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.executor.spawn(future)
    }

    /// Wraps `future` so each poll publishes this executor's environment.
    pub fn in_env<F: Future>(&self, future: F) -> InEnv<F> {
        InEnv::new(self.env(), future)
    }

    /// Runs `future` to completion on this thread, running the local executor's tasks
    /// and async-io's reactor meanwhile, with this executor's environment published.
    ///
    /// # Panics
    /// When called inside a task of a strait executor running on this thread.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        strait_streams::driver::assert_not_in_task("LocalExecutor::block_on");
        async_io::block_on(self.smol.run(self.in_env(future)))
    }

    /// The timer service `delay` and `timeout` use on this executor.
    pub fn timer(&self) -> &Arc<AsyncIoTimer> {
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

    /// `true` inside a poll of one of this executor's tasks.
    fn running_in_this_thread(&self) -> bool {
        running::is_running(running::id(self))
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
