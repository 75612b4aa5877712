//! [`ThreadPool`]: a fixed set of threads sharing one intrusive run queue.

use std::cell::Cell;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use super::shared_queue::SharedQueue;
use super::{AnyExecutor, ExecutionContext, Executor, Services};
use crate::alloc::FrameAlloc;
use crate::env::IoEnv;
use crate::sync::{lock, Condvar};
use crate::task::{JoinHandle, OwnedTasks, Runnable};

/// A pool of threads running posted tasks in FIFO order.
///
/// No single thread owns the pool, so `dispatch` always posts. [`join`](Self::join)
/// waits until no spawned task is outstanding, then ends the threads;
/// [`stop`](Self::stop) ends them after their current task, abandoning queued work
/// (the abandoned tasks' join handles report `JoinError::Aborted`). Dropping the pool
/// stops and joins it.
///
/// ```
/// use strait_streams::ThreadPool;
/// let pool = ThreadPool::new(2);
/// let handles: Vec<_> = (0..4u64).map(|i| pool.spawn(async move { i * i })).collect();
/// pool.join();
/// let squares: Vec<u64> = handles
///     .into_iter()
///     .map(|h| strait_streams::block_on(h).unwrap())
///     .collect();
/// assert_eq!(squares, [0, 1, 4, 9]);
/// ```
pub struct ThreadPool {
    shared: Arc<PoolShared>,
    threads: Mutex<Vec<thread::JoinHandle<()>>>,
}

struct PoolShared {
    queue: SharedQueue,
    /// Signalled (under the queue's consumer lock) when outstanding work reaches zero.
    idle: Condvar,
    work: AtomicUsize,
    stop: AtomicBool,
    services: Services,
    /// Every unfinished task of the pool, aborted when the pool is dropped.
    owned: OwnedTasks,
}

std::thread_local! {
    static WORKER_OF: Cell<*const PoolShared> = const { Cell::new(std::ptr::null()) };
}

impl Executor for PoolShared {
    fn post(&self, task: Runnable) {
        self.queue.post(task);
        // A post racing with the pool's drop (it closes `owned`, then drains the
        // queue): `post` fenced after pushing, so either the drain takes this task or
        // we see the close and abort what no runner will take.
        if self.owned.is_closed() {
            drop(self.queue.take_all());
        }
    }

    fn running_in_this_thread(&self) -> bool {
        std::ptr::eq(WORKER_OF.with(Cell::get), self)
    }

    fn on_work_started(&self) {
        self.work.fetch_add(1, Ordering::Relaxed);
    }

    fn on_work_finished(&self) {
        if self.work.fetch_sub(1, Ordering::AcqRel) == 1 {
            let _queue = self.queue.lock();
            self.idle.notify_all();
        }
    }

    fn services(&self) -> Option<&Services> {
        Some(&self.services)
    }

    fn owned_tasks(&self) -> Option<&OwnedTasks> {
        Some(&self.owned)
    }
}

impl ThreadPool {
    /// A pool of `threads` threads (0: one per available core).
    pub fn new(threads: usize) -> Self {
        Self::with_name(threads, "strait-pool-")
    }

    /// A pool whose threads are named `{prefix}{i}`.
    pub fn with_name(threads: usize, prefix: &str) -> Self {
        let n = if threads == 0 {
            thread::available_parallelism().map_or(1, usize::from)
        } else {
            threads
        };
        let shared = Arc::new(PoolShared {
            queue: SharedQueue::new(),
            idle: Condvar::new(),
            work: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            services: Services::new(),
            owned: OwnedTasks::new(),
        });
        let threads = (0..n)
            .map(|i| {
                let shared = shared.clone();
                thread::Builder::new()
                    .name(format!("{prefix}{i}"))
                    .spawn(move || worker(&shared))
                    .expect("failed to spawn a thread-pool thread")
            })
            .collect();
        ThreadPool {
            shared,
            threads: Mutex::new(threads),
        }
    }

    /// The pool's executor.
    pub fn executor(&self) -> AnyExecutor {
        AnyExecutor::from_arc(self.shared.clone())
    }

    /// Spawns `future` on the pool (never stops, recycling allocator).
    #[inline(always)]
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let env = IoEnv::new(self.executor());
        crate::task::SpawnBlock::allocate(&env).spawn(future, env)
    }

    /// Waits until no spawned task is outstanding, then ends and joins the threads.
    /// Idempotent. Must not be called from a pool thread.
    pub fn join(&self) {
        assert!(
            !self.shared.running_in_this_thread(),
            "ThreadPool::join called from one of its own threads"
        );
        {
            let mut queue = self.shared.queue.lock();
            while self.shared.work.load(Ordering::Acquire) != 0
                && !self.shared.stop.load(Ordering::Acquire)
            {
                queue = self
                    .shared
                    .idle
                    .wait(queue)
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
            }
        }
        self.stop();
        let me = std::thread::current().id();
        for handle in std::mem::take(&mut *lock(&self.threads)) {
            // Dropped by one of its own tasks: that worker cannot join itself; it ends
            // after the current task (`stop` is set).
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
    }

    /// Ends the threads after their current task; queued tasks are abandoned.
    pub fn stop(&self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        self.shared.queue.notify_all();
        let _queue = self.shared.queue.lock();
        self.shared.idle.notify_all();
    }

    /// Number of unfinished spawned tasks.
    pub fn outstanding_work(&self) -> usize {
        self.shared.work.load(Ordering::Acquire)
    }
}

fn worker(shared: &PoolShared) {
    WORKER_OF.with(|w| w.set(shared));
    loop {
        let task = {
            let mut queue = shared.queue.lock();
            loop {
                if shared.stop.load(Ordering::SeqCst) {
                    return;
                }
                if let Some(task) = queue.pop() {
                    break task;
                }
                queue = shared
                    .queue
                    .wait(queue, None, || shared.stop.load(Ordering::SeqCst));
            }
        };
        task.run();
    }
}

impl ExecutionContext for ThreadPool {
    fn executor(&self) -> AnyExecutor {
        ThreadPool::executor(self)
    }
    fn services(&self) -> &Services {
        &self.shared.services
    }
    fn frame_allocator(&self) -> FrameAlloc {
        FrameAlloc::recycling()
    }
}

impl Drop for ThreadPool {
    fn drop(&mut self) {
        self.shared.services.shutdown();
        self.stop();
        let me = std::thread::current().id();
        for handle in std::mem::take(&mut *lock(&self.threads)) {
            // Dropped by one of its own tasks: that worker cannot join itself; it ends
            // after the current task (`stop` is set).
            if handle.thread().id() != me {
                let _ = handle.join();
            }
        }
        // No worker runs now: abort every task the pool owns, then the queued ones.
        self.shared.owned.close_and_abort_all();
        let abandoned = self.shared.queue.take_all();
        drop(abandoned);
    }
}

impl std::fmt::Debug for ThreadPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThreadPool")
            .field("threads", &lock(&self.threads).len())
            .field("outstanding_work", &self.outstanding_work())
            .finish()
    }
}
