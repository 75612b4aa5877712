//! [`AsyncStdExecutor`]: async-std's global executor as a strait executor.

use std::future::Future;
use std::ops::Deref;

use strait_smol::{ForeignExecutor, Spawn};

/// Spawns detached tasks on async-std's global executor.
#[derive(Debug, Clone, Copy, Default)]
pub struct AsyncStdSpawner;

impl Spawn for AsyncStdSpawner {
    fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        // Dropping async-std's join handle detaches the task.
        drop(async_std::task::spawn(future));
    }
}

/// async-std's global executor as a strait executor: one async-std task per strait
/// spawn, the environment published around every poll, async-io's reactor behind
/// `delay` and `timeout` (strait-smol's [`ForeignExecutor`], which this derefs to).
///
/// ```
/// use strait_async_std::AsyncStdExecutor;
///
/// let executor = AsyncStdExecutor::new();
/// let answer = executor.spawn(async {
///     strait_streams::delay(std::time::Duration::from_millis(1)).await.unwrap();
///     6 * 7
/// });
/// assert_eq!(executor.block_on(answer).unwrap(), 42);
/// ```
#[derive(Debug, Clone)]
pub struct AsyncStdExecutor {
    inner: ForeignExecutor<AsyncStdSpawner>,
}

impl AsyncStdExecutor {
    /// An executor on async-std's global executor; spawns its post runner and timer
    /// driver there (async-std starts its worker threads on first use).
    pub fn new() -> Self {
        AsyncStdExecutor {
            inner: ForeignExecutor::with_spawner(AsyncStdSpawner),
        }
    }

    /// Runs `future` on this thread (`async_std::task::block_on`) with this executor's
    /// environment published around each poll.
    ///
    /// # Panics
    /// When called inside a task of a strait executor running on this thread (blocking
    /// there stalls that executor and can deadlock; `.await` instead).
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        strait_streams::driver::assert_not_in_task("AsyncStdExecutor::block_on");
        async_std::task::block_on(self.inner.in_env(future))
    }
}

impl Default for AsyncStdExecutor {
    fn default() -> Self {
        AsyncStdExecutor::new()
    }
}

impl Deref for AsyncStdExecutor {
    type Target = ForeignExecutor<AsyncStdSpawner>;
    fn deref(&self) -> &Self::Target {
        &self.inner
    }
}
