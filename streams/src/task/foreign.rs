//! [`ForeignTask`]: a strait task run by another runtime's scheduler.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use super::raw::{self, Header};
use super::Runnable;

/// A strait task handed whole to a foreign scheduler (tokio, smol, async-std): a
/// `Future<Output = ()>` the runtime spawns as one of its own tasks.
///
/// An adapter's executor receives each new task once, in
/// [`Executor::spawn_task`](crate::Executor::spawn_task), wraps it here and spawns it
/// on its runtime (`tokio::spawn(ForeignTask::new(task))`). From then on the runtime
/// schedules it: wakes of the strait task wake the runtime's task (no runnable is
/// posted, no spawn per wake, work stealing stays the runtime's), and every poll
/// publishes the task's [environment](crate::IoEnv), so strait code inside sees the
/// adapter's executor, timers and stop token. The strait [`JoinHandle`](crate::JoinHandle)
/// works as for any task; dropping the `ForeignTask` (the runtime shutting down) aborts
/// the strait task.
///
/// ```
/// use strait_streams::driver::ForeignTask;
/// use strait_streams::{AnyExecutor, Executor, Runnable};
/// use std::sync::{Arc, Mutex};
///
/// /// A stand-in "foreign runtime": it keeps the futures it is given.
/// #[derive(Default)]
/// struct Foreign(Mutex<Vec<ForeignTask>>);
/// struct Adapter(Arc<Foreign>);
/// impl Executor for Adapter {
///     fn post(&self, _: Runnable) {
///         unreachable!("foreign tasks are woken through the runtime, never posted")
///     }
///     fn spawn_task(&self, task: Runnable) {
///         self.0 .0.lock().unwrap().push(ForeignTask::new(task));
///     }
/// }
/// let runtime = Arc::new(Foreign::default());
/// let handle = AnyExecutor::new(Adapter(runtime.clone())).spawn(async { 6 * 7 });
/// let task = runtime.0.lock().unwrap().pop().unwrap();
/// futures_lite::future::block_on(task); // the "runtime" runs it
/// assert_eq!(futures_lite::future::block_on(handle).unwrap(), 42);
/// ```
pub struct ForeignTask {
    ptr: NonNull<Header>,
}

// SAFETY: made from a `Runnable`, which is `Send` (its future is `Send`, or it is a
// local task whose executor never hands it to a foreign scheduler).
unsafe impl Send for ForeignTask {}

impl ForeignTask {
    /// Takes `task` (from [`Executor::spawn_task`](crate::Executor::spawn_task)) for a
    /// foreign scheduler. Call it before the task's first run.
    pub fn new(task: Runnable) -> Self {
        ForeignTask {
            ptr: raw::foreign::adopt(task),
        }
    }
}

impl Future for ForeignTask {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        // SAFETY: we own a reference and are the task's only runner.
        if unsafe { raw::foreign::poll(self.ptr, cx.waker()) } {
            Poll::Ready(())
        } else {
            Poll::Pending
        }
    }
}

impl Drop for ForeignTask {
    fn drop(&mut self) {
        // SAFETY: our reference; we are not polling.
        unsafe { raw::foreign::drop(self.ptr) };
    }
}

impl fmt::Debug for ForeignTask {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ForeignTask")
            .field("task", &self.ptr)
            .finish()
    }
}
