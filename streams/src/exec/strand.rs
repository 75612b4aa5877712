//! [`Strand`]: serialized execution over any executor.

use std::cell::Cell;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use super::{AnyExecutor, Executor, RunQueue};
use crate::env::IoEnv;
use crate::sync::{lock, AtomicBool, Mutex};
use crate::task::{JoinHandle, Runnable};

/// Most strand tasks one invoker poll runs before it yields the inner executor's thread.
const BATCH: usize = 64;

/// An executor that runs its tasks one at a time, in FIFO order, on an inner executor.
///
/// Guarantees: no two tasks of a strand ever run at once, even on a multi-threaded
/// pool; tasks start in the order they were posted; no lock is held while a task runs;
/// `dispatch` uses a "run next" slot only when called from inside this same strand.
///
/// How: a strand owns one *invoker* task on the inner executor, allocated once when the
/// strand is made. Posting links the runnable into the strand's intrusive queue and, if
/// the strand was idle, wakes the invoker — so a hand-off never allocates. The invoker
/// runs queued tasks in batches of 64, then yields so other work on the inner executor
/// is not starved.
///
/// Handles are cheap clones of one shared strand; tasks spawned on it keep it alive.
///
/// ```
/// use std::sync::{Arc, Mutex};
/// use strait_streams::{Strand, ThreadPool};
/// let pool = ThreadPool::new(2);
/// let strand = Strand::new(pool.executor());
/// let log = Arc::new(Mutex::new(Vec::new()));
/// for i in 0..5 {
///     let log = log.clone();
///     strand.spawn(async move { log.lock().unwrap().push(i) }).detach();
/// }
/// pool.join();
/// assert_eq!(*log.lock().unwrap(), [0, 1, 2, 3, 4]);
/// ```
#[derive(Clone)]
pub struct Strand {
    handle: Arc<StrandHandle>,
}

/// Dropped when the last `Strand` or strand executor handle (including those in tasks'
/// environments) goes away: tells the invoker to finish. It is the executor object
/// behind [`Strand::executor`], so making that handle allocates nothing.
struct StrandHandle {
    state: Arc<StrandState>,
}

struct StrandState {
    inner: AnyExecutor,
    queue: Mutex<Queued>,
    closed: AtomicBool,
}

struct Queued {
    tasks: RunQueue,
    /// The invoker is scheduled or running (it will see new tasks).
    active: bool,
    /// The idle invoker's waker.
    invoker: Option<Waker>,
    /// The invoker is gone (aborted with its executor, or finished): tasks posted now
    /// are aborted instead of queued forever.
    dead: bool,
}

std::thread_local! {
    /// The strand whose task this thread is running.
    static CURRENT: Cell<*const StrandState> = const { Cell::new(std::ptr::null()) };
}

impl Strand {
    /// A strand over `inner`. Allocates its state, and its invoker task from the current
    /// environment's frame allocator, once.
    pub fn new(inner: AnyExecutor) -> Strand {
        let alloc = crate::env::with_env(|env| env.frame_allocator.clone());
        Self::with_frame_allocator(inner, alloc)
    }

    /// A strand whose invoker task is allocated from `alloc`.
    pub fn with_frame_allocator(inner: AnyExecutor, alloc: crate::FrameAlloc) -> Strand {
        let state = Arc::new(StrandState {
            inner: inner.clone(),
            queue: Mutex::new(Queued {
                tasks: RunQueue::new(),
                active: true,
                invoker: None,
                dead: false,
            }),
            closed: AtomicBool::new(false),
        });
        let invoker = Invoker {
            state: state.clone(),
        };
        // The invoker is not counted as work: it lives as long as the strand, and work
        // is counted per strand task instead (they forward to the inner executor).
        let env = IoEnv {
            frame_allocator: alloc,
            ..IoEnv::new(inner.clone())
        };
        let (runnable, raw) = crate::task::raw::allocate(invoker, env, false);
        // SAFETY: `raw` is the join reference of the task just allocated.
        unsafe { crate::task::raw::release(raw) };
        // A new task: the spawn hook, so a foreign runtime runs the invoker as one of
        // its own tasks (its wakes then go to that runtime, not to `post`).
        inner.spawn_task(runnable);
        Strand {
            handle: Arc::new(StrandHandle { state }),
        }
    }

    /// This strand as an executor handle; shares the strand's state (no allocation).
    pub fn executor(&self) -> AnyExecutor {
        AnyExecutor::from_arc(self.handle.clone())
    }

    /// Spawns `future` on this strand. Allocates the task from the recycling frame
    /// allocator only.
    #[inline(always)]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let env = IoEnv::new(self.executor());
        crate::task::SpawnBlock::allocate(&env).spawn(future, env)
    }

    /// The executor the strand runs on.
    pub fn inner(&self) -> &AnyExecutor {
        &self.handle.state.inner
    }

    /// `true` when both handles share one strand.
    pub fn same_strand(&self, other: &Strand) -> bool {
        Arc::ptr_eq(&self.handle.state, &other.handle.state)
    }
}

impl StrandState {
    fn enqueue(&self, task: Runnable, front: bool) {
        let waker = {
            let mut q = lock(&self.queue);
            if q.dead {
                drop(q);
                drop(task); // aborts: nothing will ever run the strand's tasks
                return;
            }
            if front {
                q.tasks.push_front(task);
            } else {
                q.tasks.push_back(task);
            }
            if q.active {
                None
            } else {
                q.active = true;
                q.invoker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Executor for StrandHandle {
    fn post(&self, task: Runnable) {
        self.state.enqueue(task, false);
    }

    fn dispatch(&self, task: Runnable) {
        let inside = self.running_in_this_thread();
        self.state.enqueue(task, inside);
    }

    fn running_in_this_thread(&self) -> bool {
        std::ptr::eq(CURRENT.with(Cell::get), Arc::as_ptr(&self.state))
    }

    fn on_work_started(&self) {
        self.state.inner.on_work_started();
    }

    fn on_work_finished(&self) {
        self.state.inner.on_work_finished();
    }

    fn timer_service(&self) -> Option<std::sync::Arc<dyn crate::driver::TimerService>> {
        self.state.inner.timer_service()
    }

    fn services(&self) -> Option<&super::Services> {
        self.state.inner.services()
    }
}

impl Executor for Strand {
    fn post(&self, task: Runnable) {
        self.handle.post(task);
    }

    fn dispatch(&self, task: Runnable) {
        self.handle.dispatch(task);
    }

    fn running_in_this_thread(&self) -> bool {
        self.handle.running_in_this_thread()
    }

    fn on_work_started(&self) {
        self.handle.on_work_started();
    }

    fn on_work_finished(&self) {
        self.handle.on_work_finished();
    }

    fn timer_service(&self) -> Option<std::sync::Arc<dyn crate::driver::TimerService>> {
        self.handle.timer_service()
    }

    fn services(&self) -> Option<&super::Services> {
        self.handle.services()
    }
}

impl Drop for StrandHandle {
    fn drop(&mut self) {
        self.state.closed.store(true, Ordering::Release);
        let waker = {
            let mut q = lock(&self.state.queue);
            if q.active {
                None
            } else {
                q.active = true;
                q.invoker.take()
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

/// The strand's one task on the inner executor.
struct Invoker {
    state: Arc<StrandState>,
}

impl Drop for Invoker {
    /// The inner executor shut down (or the strand finished): abort what is queued and
    /// what is posted later, instead of leaving their join handles waiting forever.
    fn drop(&mut self) {
        let abandoned = {
            let mut q = lock(&self.state.queue);
            q.dead = true;
            q.invoker = None;
            q.tasks.take()
        };
        drop(abandoned);
    }
}

impl Future for Invoker {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let state = &*self.state;
        let prev = CURRENT.with(|c| c.replace(state));
        let _restore = RestoreCurrent(prev);
        for _ in 0..BATCH {
            let next = {
                let mut q = lock(&state.queue);
                match q.tasks.pop() {
                    Some(task) => task,
                    None => {
                        if state.closed.load(Ordering::Acquire) {
                            return Poll::Ready(());
                        }
                        q.active = false;
                        q.invoker = Some(cx.waker().clone());
                        return Poll::Pending;
                    }
                }
            };
            next.run();
        }
        // Batch done: let other work on the inner executor run, then continue.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

struct RestoreCurrent(*const StrandState);

impl Drop for RestoreCurrent {
    fn drop(&mut self) {
        CURRENT.with(|c| c.set(self.0));
    }
}

impl fmt::Debug for Strand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Strand({:p})", Arc::as_ptr(&self.handle.state))
    }
}
