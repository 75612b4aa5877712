//! [`IoContext`]: an execution context whose executor runs tasks and whose run loop
//! waits for I/O readiness and timers.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use strait_streams::driver::{Inject, OwnedTasks, RunQueue};
use strait_streams::exec::{ExecutionContext, Services};
use strait_streams::{
    driver::TimerService, AnyExecutor, Executor, FrameAlloc, IoEnv, JoinHandle, Runnable,
};

use crate::reactor::Reactor;
use crate::runner_queue::RunnerQueue;
use crate::sys::{self, Backend, Events, FallbackReason, IoStats};
use crate::timer_queue::TimerQueue;

/// Tasks taken from the queue per lock acquisition.
const BATCH: usize = 64;
/// Selector events handled per wait.
const EVENTS: usize = 256;
/// Batches run back to back before the reactor is polled (without blocking) anyway, so
/// a queue that never drains cannot starve I/O.
const BATCHES_PER_REACTOR_POLL: u32 = 16;

/// An I/O execution context: a run loop for tasks, a readiness reactor (on io_uring or
/// edge-triggered epoll, see [`Backend`]) and a timer queue. Sockets and timers made
/// with it are driven by whichever thread calls [`run`](Self::run) (or `run_one`,
/// `poll`, `run_for`, `block_on`).
///
/// `run` returns when the context is [stopped](Self::stop) or no outstanding work
/// remains (no unfinished spawned task and no work guard). After a stop, `run` returns
/// at once until [`restart`](Self::restart). Its executor's `timer_service` is the
/// context's own timer queue, so `delay`/`timeout` need no extra thread.
///
/// ```
/// use strait_native::IoContext;
/// let ctx = IoContext::new().unwrap();
/// let answer = ctx.spawn(async {
///     strait_streams::delay(std::time::Duration::from_millis(5)).await.unwrap();
///     42
/// });
/// ctx.run();
/// assert_eq!(ctx.block_on(answer).unwrap(), 42);
/// ```
///
/// # Shutdown
/// Dropping the context closes every registration made on it: pending and later
/// operations on its sockets, timers and signal sets fail with an error saying the
/// context was dropped (they never hang). Every unfinished task of the context is
/// aborted there and then — idle, queued or woken by the shutdown — its future dropped,
/// closing the sockets it owns; a task spawned on the context's executor afterwards is
/// aborted at spawn.
/// The context's own two descriptors (the ring or the epoll instance, and an eventfd)
/// close when the last object that refers to it (a socket, a [`Handle`], a timer, a
/// join handle) is dropped.
#[derive(Debug)]
pub struct IoContext {
    handle: Handle,
}

/// A cheap, clonable handle to an [`IoContext`] (like tokio's `runtime::Handle`):
/// socket and timer constructors take it (or `&IoContext`), so a spawned task can make
/// sockets without sharing the context itself. A handle does not keep the context
/// running: once the context is dropped, what is made through the handle fails with
/// the context-gone error.
///
/// ```
/// use strait_native::{Handle, IoContext, TcpListener};
/// let ctx = IoContext::new()?;
/// let handle = ctx.handle();
/// let bound = ctx.block_on(ctx.spawn(async move {
///     // Inside a task of the context, `Handle::current()` finds it too.
///     assert!(Handle::current().same_context(&handle));
///     TcpListener::bind(&handle, "127.0.0.1:0").map(|l| l.local_addr().is_ok())
/// }));
/// assert!(bound.unwrap()?);
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Handle {
    shared: Arc<Shared>,
}

#[derive(Debug)]
pub(crate) struct Shared {
    /// Runner side: batches are taken from here.
    queue: RunnerQueue,
    /// Posts from threads not running this context: lock-free, moved into `queue` by
    /// the next runner that takes a batch.
    inject: Inject,
    work: AtomicUsize,
    stopped: AtomicBool,
    /// The context was dropped: posts abort their task instead of queuing it.
    closed: AtomicBool,
    /// Threads (about to be) blocked in the selector: posts must wake one.
    sleepers: AtomicUsize,
    pub(crate) reactor: Arc<Reactor>,
    /// Why `Backend::Auto` chose epoll, when it did.
    fallback: Option<FallbackReason>,
    timers: Arc<TimerQueue>,
    services: Services,
    frame_allocator: FrameAlloc,
    /// Every unfinished task of the context, aborted when it is dropped.
    owned: OwnedTasks,
    /// A `!Send` task was spawned: the context is bound to its runner thread.
    has_local: AtomicBool,
    /// Set by a drop off the runner thread of a context with local tasks: abandoned
    /// runnables are leaked, never dropped (which would drop local futures here).
    leak_on_close: AtomicBool,
}

std::thread_local! {
    /// The context this thread is running, if any.
    static RUNNING: Cell<*const Shared> = const { Cell::new(std::ptr::null()) };
    /// Tasks posted by the running thread to its own context: appended to the shared
    /// queue under one lock when the thread stops running (end of a batch, of a reactor
    /// dispatch, of a `block_on` poll) instead of one lock per post.
    static LOCAL: RefCell<RunQueue> = const { RefCell::new(RunQueue::new()) };
}

impl Shared {
    /// Interrupts a selector wait (posts, earlier timers, stop).
    pub(crate) fn wake_reactor(&self) {
        if self.sleepers.load(Ordering::SeqCst) > 0 {
            self.reactor.selector.wake();
        }
    }
}

impl Executor for Shared {
    fn post(&self, task: Runnable) {
        if self.running_in_this_thread() {
            LOCAL.with(|l| l.borrow_mut().push_back(task));
            return;
        }
        self.inject.push(task);
        // Sleep handshake with `turn`: push, fence, check sleepers here; announce,
        // fence, check the stack there (the loom-modelled protocol of strait-streams).
        std::sync::atomic::fence(Ordering::SeqCst);
        if self.closed.load(Ordering::SeqCst) {
            // The context is gone (its drop set `closed`, then drained): no runner will
            // take this task, so abort it, and whatever else arrived meanwhile.
            if self.has_local.load(Ordering::Acquire) && !self.queue.is_runnable_here() {
                // Local futures must not be dropped on this thread: leave them queued,
                // where the runner thread's drop drains them, or they leak.
                return;
            }
            let abandoned = self.inject.take();
            if self.leak_on_close.load(Ordering::SeqCst) {
                std::mem::forget(abandoned);
            }
            return;
        }
        self.wake_reactor();
    }

    fn running_in_this_thread(&self) -> bool {
        std::ptr::eq(RUNNING.with(Cell::get), self)
    }

    fn on_work_started(&self) {
        self.work.fetch_add(1, Ordering::Relaxed);
    }

    fn on_work_finished(&self) {
        // SeqCst: pairs with the sleeper's announce-then-check in `turn`.
        if self.work.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.wake_reactor();
        }
    }

    fn timer_service(&self) -> Option<Arc<dyn TimerService>> {
        // A dropped context fires no timers: `delay` falls back to the global timer.
        if self.closed.load(Ordering::Acquire) {
            return None;
        }
        Some(crate::timer_queue::service(&self.timers))
    }

    fn services(&self) -> Option<&Services> {
        Some(&self.services)
    }

    fn owned_tasks(&self) -> Option<&OwnedTasks> {
        Some(&self.owned)
    }
}

/// Marks this thread as running a context; on drop, hands the locally posted tasks to
/// the shared queue and restores the outer state (contexts can nest: `run` or `poll`
/// of one context called inside a task of another).
struct Running<'a> {
    shared: &'a Shared,
    outer: *const Shared,
    outer_local: RunQueue,
}

impl Running<'_> {
    fn enter(shared: &Shared) -> Running<'_> {
        Running {
            shared,
            outer: RUNNING.with(|r| r.replace(shared)),
            outer_local: LOCAL.with(|l| l.take()),
        }
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        let posted = LOCAL.with(|l| l.replace(std::mem::take(&mut self.outer_local)));
        RUNNING.with(|r| r.set(self.outer));
        if !posted.is_empty() {
            self.shared.queue.with(|q| q.append(posted));
            self.shared.wake_reactor();
        }
    }
}

/// Per-runner scratch space for selector events.
struct Scratch {
    events: Events,
    ready: Vec<(u64, usize)>,
    batches: u32,
}

impl Scratch {
    fn new() -> Self {
        Scratch {
            events: Events::with_capacity(EVENTS),
            ready: Vec::with_capacity(EVENTS),
            batches: 0,
        }
    }
}

impl IoContext {
    /// A context for any number of runner threads, on the backend [`Backend::Auto`]
    /// picks (io_uring when the kernel allows it, else epoll; `STRAIT_NATIVE_BACKEND`
    /// overrides): `IoContext::builder().build()`.
    ///
    /// # Errors
    /// When the kernel refuses the selector or its eventfd (descriptor limits), or
    /// `STRAIT_NATIVE_BACKEND=io_uring` asks for a ring the kernel cannot provide.
    pub fn new() -> io::Result<IoContext> {
        Self::builder().build()
    }

    /// A builder to choose the backend and the threading mode.
    ///
    /// ```
    /// use strait_native::{Backend, IoContext};
    /// let ctx = IoContext::builder().backend(Backend::Epoll).build()?;
    /// assert_eq!(ctx.backend(), Backend::Epoll);
    /// assert!(ctx.fallback_reason().is_none());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn builder() -> IoContextBuilder {
        IoContextBuilder::default()
    }

    /// A context for exactly one runner thread (the first that runs it; another thread
    /// running it panics). It runs tasks without taking any lock: the runner keeps its
    /// queue to itself, and posts from other threads (wakes, spawns) arrive through a
    /// lock-free stack. Thread-per-core servers use one such context per core.
    ///
    /// # Errors
    /// As [`new`](Self::new).
    pub fn new_single_threaded() -> io::Result<IoContext> {
        Self::builder().single_threaded(true).build()
    }

    fn build(
        queue: RunnerQueue,
        backend: Backend,
        zero_copy_send_threshold: Option<usize>,
    ) -> io::Result<IoContext> {
        let (selector, fallback) = sys::select::open(backend)?;
        if zero_copy_send_threshold.is_some() {
            selector.set_zero_copy_send(zero_copy_send_threshold);
        }
        let reactor = Arc::new(Reactor::new(selector));
        let shared = Arc::new_cyclic(|weak| Shared {
            queue,
            inject: Inject::new(),
            work: AtomicUsize::new(0),
            stopped: AtomicBool::new(false),
            closed: AtomicBool::new(false),
            sleepers: AtomicUsize::new(0),
            reactor,
            fallback,
            timers: Arc::new(TimerQueue::new(weak.clone())),
            services: Services::new(),
            frame_allocator: FrameAlloc::recycling(),
            owned: OwnedTasks::new(),
            has_local: AtomicBool::new(false),
            leak_on_close: AtomicBool::new(false),
        });
        // How `Handle::current` finds the context from a task's environment.
        let link = ContextLink(Arc::downgrade(&shared));
        let _ = shared.services.make_service(link);
        Ok(IoContext {
            handle: Handle { shared },
        })
    }

    fn shared(&self) -> &Shared {
        &self.handle.shared
    }

    /// A handle to this context, for making sockets and timers and spawning tasks from
    /// anywhere.
    pub fn handle(&self) -> Handle {
        self.handle.clone()
    }

    /// The context's executor.
    pub fn executor(&self) -> AnyExecutor {
        self.handle.executor()
    }

    fn env(&self) -> IoEnv {
        IoEnv::new(self.executor()).with_frame_allocator(self.shared().frame_allocator.clone())
    }

    /// Spawns `future` on this context.
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        self.handle.spawn(future)
    }

    /// Spawns a future that is not `Send` (`Rc` state, local streams) on a
    /// single-threaded context, bound to the calling thread: it becomes the context's
    /// runner (the one thread that may run it). The output must be `Send`. Dropping the
    /// context on another thread leaks its unfinished tasks (local or not) rather than
    /// drop local futures there; later spawns are aborted.
    ///
    /// # Panics
    /// On a context made by [`new`](Self::new) (several threads may run it), or when
    /// another thread already runs this one.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use strait_native::IoContext;
    /// let ctx = IoContext::new_single_threaded()?;
    /// let shared = Rc::new(std::cell::Cell::new(20)); // !Send
    /// let s = shared.clone();
    /// let handle = ctx.spawn_local(async move {
    ///     strait_streams::yield_now().await;
    ///     s.set(s.get() + 1);
    ///     s.get()
    /// });
    /// assert_eq!(ctx.block_on(handle).unwrap(), 21);
    /// # std::io::Result::Ok(())
    /// ```
    #[track_caller]
    pub fn spawn_local<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + 'static,
        F::Output: Send + 'static,
    {
        let shared = self.shared();
        assert!(
            matches!(shared.queue, RunnerQueue::Owned(_)),
            "IoContext::spawn_local needs a single-threaded context \
             (IoContext::new_single_threaded): tasks of other contexts move between threads"
        );
        // Claims this thread as the runner, or panics if another thread runs it.
        shared.queue.with(|_| ());
        shared.has_local.store(true, Ordering::Release);
        // SAFETY: the owned queue lets only this thread run the context (checked on every
        // access), the context posts rather than handing tasks to a foreign scheduler,
        // and its drop aborts local tasks only on this thread (it leaks them elsewhere).
        unsafe { strait_streams::driver::spawn_local_unchecked(future, self.env()) }
    }

    /// Runs tasks and I/O until stopped or no work is outstanding; returns tasks run.
    /// Several threads may run one context at once (one only for a context made with
    /// [`new_single_threaded`](Self::new_single_threaded)).
    pub fn run(&self) -> usize {
        let mut scratch = Scratch::new();
        let mut n = 0;
        while !self.stopped() {
            let ran = self.turn(&mut scratch, true, None, None, usize::MAX);
            n += ran;
            if ran == 0 && self.idle() {
                break;
            }
        }
        // Other runners may sleep in the selector: pass the news on (each leaving runner
        // wakes the next, so all of them see the stop or the idle context).
        self.shared().wake_reactor();
        n
    }

    /// Runs at most one task, waiting for one if work is outstanding.
    pub fn run_one(&self) -> usize {
        let mut scratch = Scratch::new();
        while !self.stopped() {
            if self.turn(&mut scratch, true, None, None, 1) == 1 {
                return 1;
            }
            if self.idle() {
                break;
            }
        }
        0
    }

    /// Runs what is ready now (tasks and I/O events) without blocking.
    pub fn poll(&self) -> usize {
        let mut scratch = Scratch::new();
        let mut n = 0;
        while !self.stopped() {
            let ran = self.turn(&mut scratch, false, None, None, usize::MAX);
            if ran == 0 {
                break;
            }
            n += ran;
        }
        n
    }

    /// Like `run`, but returns after `timeout` at the latest (`Duration::MAX`: no
    /// limit).
    pub fn run_for(&self, timeout: Duration) -> usize {
        // Too far to represent: no deadline.
        let until = Instant::now().checked_add(timeout);
        let mut scratch = Scratch::new();
        let mut n = 0;
        while !self.stopped() && until.is_none_or(|until| Instant::now() < until) {
            let ran = self.turn(&mut scratch, true, until, None, usize::MAX);
            n += ran;
            if ran == 0 && self.idle() {
                break;
            }
        }
        // As in `run`: other runners may sleep in the selector; pass the news on.
        self.shared().wake_reactor();
        n
    }

    /// Makes the running loops return as soon as their current task finishes.
    pub fn stop(&self) {
        self.shared().stopped.store(true, Ordering::SeqCst);
        self.shared().reactor.selector.wake();
    }

    /// `true` after `stop` until `restart`.
    pub fn stopped(&self) -> bool {
        self.shared().stopped.load(Ordering::SeqCst)
    }

    /// Clears a previous `stop`.
    pub fn restart(&self) {
        self.shared().stopped.store(false, Ordering::SeqCst);
    }

    /// Unfinished spawned tasks and live work guards.
    pub fn outstanding_work(&self) -> usize {
        self.shared().work.load(Ordering::Acquire)
    }

    /// The backend this context waits on: [`Backend::IoUring`] or [`Backend::Epoll`]
    /// (never `Auto`). Under [`Backend::Auto`] this is `Epoll` (epoll drives every
    /// socket, signal and timer), and [`completion_files`](Self::completion_files) says
    /// whether an io_uring serves the files beside it.
    pub fn backend(&self) -> Backend {
        self.shared().reactor.selector.backend()
    }

    /// Whether sockets run on io_uring's completion layer (true when
    /// [`Backend::IoUring`] was asked for by name, or through
    /// `STRAIT_NATIVE_BACKEND=io_uring`); under [`Backend::Auto`] they wait for
    /// readiness on epoll instead (only files may use a ring there:
    /// [`completion_files`](Self::completion_files)).
    ///
    /// ```
    /// use strait_native::{Backend, IoContext};
    /// let ctx = IoContext::builder().backend(Backend::Epoll).build()?;
    /// assert!(!ctx.completion_sockets());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn completion_sockets(&self) -> bool {
        self.shared()
            .reactor
            .selector
            .socket_completions()
            .is_some()
    }

    /// Whether files (`RandomAccessFile`, `StreamFile`: reads, writes, syncs) run on an
    /// io_uring completion layer rather than the blocking pool: on [`Backend::IoUring`],
    /// and under [`Backend::Auto`] when the kernel allows io_uring (a ring for files
    /// only, beside epoll: see [`Backend::Auto`]).
    ///
    /// ```
    /// use strait_native::{Backend, IoContext};
    /// let ctx = IoContext::builder().backend(Backend::Epoll).build()?;
    /// assert!(!ctx.completion_files());
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn completion_files(&self) -> bool {
        self.shared().reactor.selector.files_on_ring()
    }

    /// Why the context runs on epoll although [`Backend::Auto`] would have taken
    /// io_uring; `None` on io_uring and when epoll was asked for.
    pub fn fallback_reason(&self) -> Option<&FallbackReason> {
        self.shared().fallback.as_ref()
    }

    /// The reactor's counters since the context was made (see [`IoStats`]).
    ///
    /// ```
    /// let ctx = strait_native::IoContext::new()?;
    /// // A registration: one epoll_ctl, or a poll request the next turn submits.
    /// let _listener = strait_native::TcpListener::bind(&ctx, "127.0.0.1:0")?;
    /// ctx.poll();
    /// let stats = ctx.stats();
    /// assert_eq!(stats.backend, ctx.backend());
    /// assert!(stats.enters >= 1 && stats.submitted >= 1);
    /// # Ok::<(), std::io::Error>(())
    /// ```
    pub fn stats(&self) -> IoStats {
        self.handle.stats()
    }

    fn idle(&self) -> bool {
        self.outstanding_work() == 0
            && self.shared().inject.is_empty()
            && self.shared().queue.with(|q| q.is_empty())
    }

    /// Runs `future` to completion on this thread, driving the context meanwhile. The
    /// future sees this context's executor (and its timers) in its environment.
    ///
    /// # Panics
    /// When called inside a task (or a `block_on`) that an executor is running on this
    /// thread, as tokio's `block_on` does: blocking there stalls that executor's other
    /// tasks, and deadlocks when the future waits for work queued behind the blocked
    /// task. `.await` the future instead, or block on another thread.
    pub fn block_on<F: Future>(&self, future: F) -> F::Output {
        strait_streams::driver::assert_not_in_task("IoContext::block_on");
        // Before polling anything: tasks the future wakes would be queued on this thread
        // and dropped here by the runner check's panic.
        assert!(
            self.shared().queue.is_runnable_here(),
            "a single-threaded IoContext is run by one thread only (the first that ran it)"
        );
        let env = self.env();
        let signal = Arc::new(Signal {
            woken: AtomicBool::new(true),
            shared: self.handle.shared.clone(),
        });
        let waker = Waker::from(signal.clone());
        let mut cx = Context::from_waker(&waker);
        let mut future = pin!(future);
        let mut scratch = Scratch::new();
        loop {
            if signal.woken.swap(false, Ordering::SeqCst) {
                let _running = Running::enter(self.shared());
                let _budget = crate::budget::Grant::new();
                let out = strait_streams::driver::enter_env(&env, || future.as_mut().poll(&mut cx));
                if let Poll::Ready(out) = out {
                    // Its waits may have taken a wake-up meant for a runner asleep in
                    // the selector (the news of a post, or of an idle context): pass
                    // it on, as `run` does when it leaves.
                    self.shared().wake_reactor();
                    return out;
                }
            }
            self.turn(&mut scratch, true, None, Some(&signal.woken), usize::MAX);
        }
    }

    /// One turn: run a batch of queued tasks (polling the reactor without blocking
    /// after it), or — when nothing is queued and `block` allows — wait for I/O, timers
    /// or a post. Returns how many tasks ran.
    fn turn(
        &self,
        scratch: &mut Scratch,
        block: bool,
        until: Option<Instant>,
        interrupt: Option<&AtomicBool>,
        max: usize,
    ) -> usize {
        let shared = self.shared();
        // Posted tasks are taken inside `with`, after its runner check: a thread that
        // may not run this context must not hold (and, panicking, drop) any of them.
        let mut batch = shared.queue.with(|queue| {
            // Only what this turn can run: the rest stays in the post queue, untouched.
            queue.append(shared.inject.take_batch(BATCH.min(max)));
            queue.pop_batch(BATCH.min(max))
        });
        if !batch.is_empty() {
            let mut ran = 0;
            {
                let _running = Running::enter(shared);
                while let Some(task) = batch.pop() {
                    let _budget = crate::budget::Grant::new();
                    task.run();
                    ran += 1;
                    if self.stopped() {
                        break;
                    }
                }
                if !batch.is_empty() {
                    // Before the tasks this batch posted (queued as `_running` ends).
                    shared.queue.with(|q| q.prepend(batch.take()));
                }
            }
            // Under sustained load, still collect readiness now and then; otherwise the
            // next idle turn's wait collects it.
            scratch.batches += 1;
            if scratch.batches >= BATCHES_PER_REACTOR_POLL {
                scratch.batches = 0;
                self.wait_reactor(scratch, Some(Duration::ZERO), false);
            }
            return ran;
        }
        let interrupted = || interrupt.is_some_and(|f| f.load(Ordering::SeqCst));
        if !block
            || interrupted()
            || (interrupt.is_none() && shared.work.load(Ordering::Acquire) == 0)
        {
            self.wait_reactor(scratch, Some(Duration::ZERO), false);
            return 0;
        }
        // Announce the wait, then re-check: a post after the check sees a sleeper.
        shared.sleepers.fetch_add(1, Ordering::SeqCst);
        std::sync::atomic::fence(Ordering::SeqCst);
        if !shared.inject.is_empty()
            || !shared.queue.with(|q| q.is_empty())
            || interrupted()
            || self.stopped()
            // The last task may have finished since the check above: its wake-up saw
            // no sleeper, so `run` must see the idle context here (Dekker with
            // `on_work_finished`).
            || (interrupt.is_none() && shared.work.load(Ordering::SeqCst) == 0)
        {
            shared.sleepers.fetch_sub(1, Ordering::SeqCst);
            return 0;
        }
        let timer = shared.timers.next_deadline();
        let deadline = match (timer, until) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let timeout = deadline.map(|d| d.saturating_duration_since(Instant::now()));
        scratch.batches = 0;
        self.wait_reactor(scratch, timeout, true);
        0
    }

    /// Waits on the selector (as a counted sleeper when `sleeping`), dispatches
    /// readiness, fires due timers.
    fn wait_reactor(&self, scratch: &mut Scratch, timeout: Option<Duration>, sleeping: bool) {
        let shared = self.shared();
        scratch.ready.clear();
        // Tasks woken by the wait (the completion layer's CQEs on io_uring) and the
        // dispatch below are collected locally and queued under one lock.
        let _running = Running::enter(shared);
        // Awake again as soon as the kernel wait ends: the wake-ups the dispatch raises
        // (the completion layer's, inside the wait, and readiness below) need no
        // eventfd write.
        let mut awake = || {
            if sleeping {
                shared.sleepers.fetch_sub(1, Ordering::SeqCst);
            }
        };
        let waited = shared.reactor.selector.wait(
            &mut scratch.events,
            timeout,
            &mut scratch.ready,
            &mut awake,
        );
        if let Err(e) = waited {
            // The selector failing is not recoverable for this context.
            panic!("{} wait failed: {e}", shared.reactor.selector.backend());
        }
        for &(token, bits) in &scratch.ready {
            shared.reactor.dispatch(token, bits);
        }
        if shared.timers.next_deadline().is_some() {
            shared.timers.fire_expired(Instant::now());
        }
    }
}

/// Wakes a `block_on` waiting in the selector.
struct Signal {
    woken: AtomicBool,
    shared: Arc<Shared>,
}

impl Wake for Signal {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::SeqCst);
        self.shared.wake_reactor();
    }
}

impl ExecutionContext for IoContext {
    fn executor(&self) -> AnyExecutor {
        IoContext::executor(self)
    }
    fn services(&self) -> &Services {
        &self.shared().services
    }
    fn frame_allocator(&self) -> FrameAlloc {
        self.shared().frame_allocator.clone()
    }
}

impl Drop for IoContext {
    fn drop(&mut self) {
        let shared = self.shared();
        let leak = shared.has_local.load(Ordering::Acquire) && !shared.queue.is_runnable_here();
        shared.leak_on_close.store(leak, Ordering::SeqCst);
        // From here on a post aborts its task (see `post`), or leaks it (`leak`).
        shared.closed.store(true, Ordering::SeqCst);
        shared.services.shutdown();
        // Fail every pending operation on the reactor and fire every timer: the tasks
        // waiting on them are woken, which queues them.
        shared.reactor.shut_down();
        while let Some(deadline) = shared.timers.next_deadline() {
            if shared.timers.fire_expired(deadline) == 0 {
                break;
            }
        }
        if shared.leak_on_close.load(Ordering::SeqCst) {
            // Local futures may only be dropped on their thread: leak the tasks (the
            // owned list keeps them) and what they keep alive rather than drop them here.
            shared.owned.close(); // later spawns are aborted, not stranded
                                  // SAFETY: the context is being dropped, so no thread runs it.
            std::mem::forget(unsafe { shared.queue.take_all() });
            std::mem::forget(shared.inject.take());
            return;
        }
        // Abort every task the context owns: an idle one (waiting on something outside
        // the context, an unarmed timer, a channel) drops its future here, closing its
        // sockets; queued ones are aborted below with their runnables.
        shared.owned.close_and_abort_all();
        // Queued tasks hold the context's executor: drop them (aborting their tasks,
        // whose futures close their sockets) to break the cycle. Aborting one may wake
        // another (a join handle, a channel): repeat until nothing is queued.
        loop {
            // SAFETY: the context is being dropped, so no thread runs it (runners
            // borrow it).
            let mut abandoned = unsafe { shared.queue.take_all() };
            abandoned.append(shared.inject.take());
            if abandoned.is_empty() {
                break;
            }
            drop(abandoned);
        }
    }
}

/// Builds an [`IoContext`] with a chosen backend and threading mode
/// ([`IoContext::builder`]). The defaults are [`Backend::Auto`] and a multi-threaded
/// context, which is what [`IoContext::new`] builds.
#[derive(Debug, Clone, Default)]
pub struct IoContextBuilder {
    backend: Backend,
    single_threaded: bool,
    zero_copy_send_threshold: Option<usize>,
}

impl IoContextBuilder {
    /// The backend: `Auto` (the default) probes io_uring and falls back to epoll,
    /// logging the reason (`log` crate, info level) and keeping it for
    /// [`IoContext::fallback_reason`]; the environment variable
    /// `STRAIT_NATIVE_BACKEND=auto|io_uring|epoll` overrides `Auto` (this is how a test
    /// suite runs on each backend); `IoUring` and `Epoll` are taken as they are.
    pub fn backend(mut self, backend: Backend) -> Self {
        self.backend = backend;
        self
    }

    /// `true`: a context for exactly one runner thread, as
    /// [`IoContext::new_single_threaded`] makes.
    pub fn single_threaded(mut self, single_threaded: bool) -> Self {
        self.single_threaded = single_threaded;
        self
    }

    /// Sends of at least `threshold` queued bytes on the io_uring completion path go
    /// as `IORING_OP_SEND_ZC` (zero copy: the kernel sends from the socket's
    /// write-behind block instead of copying it); `None`, the default, keeps every
    /// send plain. Only sockets on the completion path use it (`Backend::IoUring`,
    /// see [`IoContext::completion_sockets`]), and only for what is queued: a write
    /// the socket takes at once still goes as a direct `sendmsg`, while a
    /// [`BufferSink`](strait_streams::BufferSink) writer's committed block of
    /// `threshold` bytes or more skips that `sendmsg` (it would copy) and goes
    /// zero-copy (with this setting such a writer is lent the whole write-behind
    /// block, 64 KiB, so one commit makes one large send). One send carries at most
    /// that block, so a `threshold` above 64 KiB never applies.
    ///
    /// Off by default because it only wins on a real NIC for large sends: a zero-copy
    /// send pins the block's pages and answers with a second CQE (the notification)
    /// once the network stack lets go of them, and the block is not reused before.
    /// On loopback (and devices without scatter-gather) the kernel copies anyway, so
    /// zero copy only adds that notification: measured here on loopback (Linux 6.18),
    /// every notification came back "copied" ([`IoStats::zero_copy_copied`] equals
    /// [`IoStats::zero_copy_notifications`]), and each zero-copy send took two CQEs
    /// instead of one. On a real NIC it saves the copy of each send, which by the
    /// kernel's and io_uring's own guidance (not measured here: this machine has only
    /// loopback) pays for the pinning and the extra CQE from sends of tens of KiB;
    /// below that it costs more than the copy. So a threshold of 16–64 KiB is where to
    /// start, and [`IoStats`] says whether it pays: `zero_copy_copied` close to
    /// `zero_copy_notifications` means it does not.
    ///
    /// Needs Linux 6.0 (the opcode is probed; the notification's "copied" report needs
    /// 6.2); without it sends stay plain and count as
    /// [`IoStats::zero_copy_fallbacks`], as do sends on sockets that refuse zero copy
    /// (Unix streams). A `threshold` of 0 counts as 1.
    pub fn zero_copy_send_threshold(mut self, threshold: Option<usize>) -> Self {
        self.zero_copy_send_threshold = threshold;
        self
    }

    /// Makes the context.
    ///
    /// # Errors
    /// When the kernel refuses the selector or its eventfd (descriptor limits); with
    /// `Backend::IoUring` (asked here or through `STRAIT_NATIVE_BACKEND` under `Auto`)
    /// when the kernel cannot provide the ring: the error's kind is
    /// [`io::ErrorKind::Unsupported`] and its inner error the [`FallbackReason`].
    pub fn build(self) -> io::Result<IoContext> {
        let queue = if self.single_threaded {
            RunnerQueue::owned()
        } else {
            RunnerQueue::shared()
        };
        IoContext::build(queue, self.backend, self.zero_copy_send_threshold)
    }
}

/// The service through which a task's environment leads back to its context.
struct ContextLink(Weak<Shared>);

impl strait_streams::exec::Service for ContextLink {}

impl Handle {
    /// The context whose task is running on this thread (found through the task's
    /// environment).
    ///
    /// # Panics
    /// When called outside a task (or `block_on`) of an [`IoContext`]; see
    /// [`try_current`](Self::try_current).
    pub fn current() -> Handle {
        Self::try_current()
            .expect("Handle::current() called outside a task or block_on of an IoContext")
    }

    /// The context whose task is running on this thread, if any.
    pub fn try_current() -> Option<Handle> {
        strait_streams::with_env(|env| {
            let link = env.executor().services()?.find_service::<ContextLink>()?;
            let shared = link.0.upgrade()?;
            Some(Handle { shared })
        })
    }

    /// The context's executor.
    pub fn executor(&self) -> AnyExecutor {
        AnyExecutor::from_arc(self.shared.clone())
    }

    /// Spawns `future` on the context (aborted at once if the context was dropped).
    pub fn spawn<F>(&self, future: F) -> JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        strait_streams::run_async(self.executor())
            .frame_allocator(self.shared.frame_allocator.clone())
            .spawn(future)
    }

    /// The reactor's counters (see [`IoContext::stats`]).
    pub fn stats(&self) -> IoStats {
        self.shared.reactor.selector.stats()
    }

    /// `true` when both handles lead to the same context.
    pub fn same_context(&self, other: &Handle) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    pub(crate) fn timer_queue(&self) -> &Arc<TimerQueue> {
        &self.shared.timers
    }

    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.shared.reactor
    }

    /// `true` once the context was dropped.
    pub(crate) fn is_closed(&self) -> bool {
        self.shared.closed.load(Ordering::Acquire)
    }
}

impl AsRef<Handle> for IoContext {
    fn as_ref(&self) -> &Handle {
        &self.handle
    }
}

/// So `&Arc<IoContext>` works wherever `&IoContext` does.
impl AsRef<Handle> for Arc<IoContext> {
    fn as_ref(&self) -> &Handle {
        &self.handle
    }
}

impl AsRef<Handle> for Handle {
    fn as_ref(&self) -> &Handle {
        self
    }
}
