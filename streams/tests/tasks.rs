//! Spawned tasks: join handles, panics, abort, detach, wakes and shutdown.

use std::future::{pending, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use strait_streams::{yield_now, JoinError, RunLoop, ThreadPool};

#[test]
fn a_panic_in_a_task_reaches_its_join_handle() {
    let rl = RunLoop::new();
    let handle = rl.spawn(async {
        panic!("boom in a task");
    });
    let survivor = rl.spawn(async { 5 });
    rl.run();
    let err: JoinError = rl.block_on(handle).unwrap_err();
    assert!(err.is_panic());
    assert_eq!(
        format!("{err:?}"),
        "JoinError::Panicked(\"boom in a task\")"
    );
    assert_eq!(
        rl.block_on(survivor).unwrap(),
        5,
        "the loop survives a panic"
    );
}

struct DropFlag(Arc<AtomicBool>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn abort_drops_a_pending_future_and_reports_aborted() {
    let rl = RunLoop::new();
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = DropFlag(dropped.clone());
    let handle = rl.spawn(async move {
        let _flag = flag;
        pending::<()>().await;
    });
    rl.poll();
    assert!(!dropped.load(Ordering::SeqCst));
    handle.abort();
    rl.poll();
    assert!(dropped.load(Ordering::SeqCst));
    assert!(handle.is_finished());
    assert!(rl.block_on(handle).unwrap_err().is_aborted());
    assert_eq!(rl.outstanding_work(), 0);
}

#[test]
fn abort_after_completion_keeps_the_output() {
    let rl = RunLoop::new();
    let handle = rl.spawn(async { "done" });
    rl.run();
    handle.abort();
    rl.poll();
    assert_eq!(rl.block_on(handle).unwrap(), "done");
}

#[test]
fn a_detached_task_still_runs_to_completion() {
    let rl = RunLoop::new();
    let ran = Arc::new(AtomicBool::new(false));
    let r = ran.clone();
    rl.spawn(async move {
        yield_now().await;
        r.store(true, Ordering::SeqCst);
    })
    .detach();
    rl.run();
    assert!(ran.load(Ordering::SeqCst));
}

/// Pending until `fire` is set; counts its polls and keeps the latest waker.
struct Gate {
    polls: Arc<AtomicUsize>,
    waker: Arc<Mutex<Option<Waker>>>,
    fire: Arc<AtomicBool>,
}

impl Future for Gate {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        self.polls.fetch_add(1, Ordering::SeqCst);
        if self.fire.load(Ordering::SeqCst) {
            return Poll::Ready(());
        }
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        Poll::Pending
    }
}

#[test]
fn many_wakes_before_a_run_coalesce_into_one_poll() {
    let rl = RunLoop::new();
    let (polls, waker, fire) = Default::default();
    let gate = Gate {
        polls: Arc::clone(&polls),
        waker: Arc::clone(&waker),
        fire: Arc::clone(&fire),
    };
    let handle = rl.spawn(gate);
    rl.poll();
    assert_eq!(polls.load(Ordering::SeqCst), 1);
    let w = waker.lock().unwrap().clone().unwrap();
    for _ in 0..100 {
        w.wake_by_ref();
    }
    assert_eq!(rl.poll(), 1, "a hundred wakes queue the task once");
    assert_eq!(polls.load(Ordering::SeqCst), 2);
    fire.store(true, Ordering::SeqCst);
    w.wake();
    rl.run();
    assert!(handle.is_finished());
}

#[test]
fn a_wake_from_another_thread_reschedules_the_task() {
    let pool = ThreadPool::new(2);
    let (polls, waker, fire) = Default::default();
    let gate = Gate {
        polls: Arc::clone(&polls),
        waker: Arc::clone(&waker),
        fire: Arc::clone(&fire),
    };
    let handle = pool.spawn(gate);
    let w = loop {
        if let Some(w) = waker.lock().unwrap().clone() {
            break w;
        }
        std::thread::yield_now();
    };
    fire.store(true, Ordering::SeqCst);
    std::thread::spawn(move || w.wake()).join().unwrap();
    pool.join();
    assert!(handle.is_finished());
}

#[test]
fn dropping_a_loop_with_queued_tasks_aborts_them() {
    let rl = RunLoop::new();
    let handle = rl.spawn(async { 1 });
    drop(rl);
    assert!(strait_streams::block_on(handle).unwrap_err().is_aborted());
}

#[test]
fn yield_now_requeues_behind_already_posted_tasks() {
    let rl = RunLoop::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    for name in ["a", "b"] {
        let order = order.clone();
        rl.spawn(async move {
            order.lock().unwrap().push(format!("{name}1"));
            yield_now().await;
            order.lock().unwrap().push(format!("{name}2"));
        })
        .detach();
    }
    rl.run();
    assert_eq!(*order.lock().unwrap(), ["a1", "b1", "a2", "b2"]);
}

#[test]
fn join_handles_can_be_awaited_from_another_executor() {
    let pool = ThreadPool::new(2);
    let rl = RunLoop::new();
    let inner = pool.spawn(async { 21 });
    let outer = rl.spawn(async move { inner.await.unwrap() * 2 });
    assert_eq!(rl.block_on(outer).unwrap(), 42);
}

/// Ready at once (or panics in `poll` with `panic_in_poll`); its destructor panics.
struct PanicOnDrop {
    panic_in_poll: bool,
}

impl Future for PanicOnDrop {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        if self.panic_in_poll {
            panic!("boom in poll");
        }
        Poll::Ready(1)
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("boom in drop");
    }
}

/// Awaits `handle` on a helper thread, giving up after a few seconds (a lost join
/// handle would otherwise hang the test).
fn join_within<T: Send + 'static>(handle: strait_streams::JoinHandle<T>) -> Result<T, JoinError> {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(strait_streams::block_on(handle));
    });
    rx.recv_timeout(std::time::Duration::from_secs(5))
        .expect("the join handle never completed")
}

#[test]
fn a_future_whose_drop_panics_after_ready_reports_a_join_error_on_a_run_loop() {
    let rl = RunLoop::new();
    let handle = rl.spawn(PanicOnDrop {
        panic_in_poll: false,
    });
    let survivor = rl.spawn(async { 5 });
    rl.run();
    let err = rl.block_on(handle).unwrap_err();
    assert_eq!(format!("{err:?}"), "JoinError::Panicked(\"boom in drop\")");
    assert_eq!(rl.outstanding_work(), 0, "the task's work was counted done");
    assert_eq!(rl.block_on(survivor).unwrap(), 5);
    assert_eq!(rl.block_on(rl.spawn(async { 6 })).unwrap(), 6);
}

#[test]
fn a_future_that_panics_in_poll_and_in_drop_reports_the_poll_panic() {
    let rl = RunLoop::new();
    let handle = rl.spawn(PanicOnDrop {
        panic_in_poll: true,
    });
    rl.run();
    let err = rl.block_on(handle).unwrap_err();
    assert_eq!(format!("{err:?}"), "JoinError::Panicked(\"boom in poll\")");
    assert_eq!(rl.outstanding_work(), 0);
}

#[test]
fn a_future_whose_drop_panics_leaves_a_thread_pool_working() {
    let pool = ThreadPool::new(1);
    let err = join_within(pool.spawn(PanicOnDrop {
        panic_in_poll: false,
    }))
    .unwrap_err();
    assert!(err.is_panic());
    // The single worker survived: later tasks still run, and the work count drains.
    assert_eq!(join_within(pool.spawn(async { 7 })).unwrap(), 7);
    pool.join();
    assert_eq!(pool.outstanding_work(), 0);
}

#[test]
fn a_future_whose_drop_panics_leaves_a_strand_working() {
    let pool = ThreadPool::new(1);
    let strand = strait_streams::Strand::new(pool.executor());
    let err = join_within(strand.spawn(PanicOnDrop {
        panic_in_poll: false,
    }))
    .unwrap_err();
    assert!(err.is_panic());
    assert_eq!(join_within(strand.spawn(async { 8 })).unwrap(), 8);
}

/// An output whose destructor panics.
struct PanickyOutput;

impl Drop for PanickyOutput {
    fn drop(&mut self) {
        panic!("boom in an output's drop");
    }
}

#[test]
fn a_detached_output_whose_drop_panics_does_not_kill_the_worker() {
    let pool = ThreadPool::new(1);
    // Detached: the worker that completes the task drops its output.
    pool.spawn(async { PanickyOutput }).detach();
    assert_eq!(join_within(pool.spawn(async { 9 })).unwrap(), 9);
    pool.join();
    assert_eq!(pool.outstanding_work(), 0);
}

/// Records the address it was first polled at and checks it is dropped there.
struct PinnedCheck {
    polled_at: Option<usize>,
    moved: Arc<AtomicBool>,
    _pinned: std::marker::PhantomPinned,
}

impl Future for PinnedCheck {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        let addr = &*self as *const Self as usize;
        // SAFETY: only a plain field is written; nothing moves out of the pin.
        unsafe { self.get_unchecked_mut() }.polled_at = Some(addr);
        Poll::Ready(())
    }
}

impl Drop for PinnedCheck {
    fn drop(&mut self) {
        if self
            .polled_at
            .is_some_and(|a| a != self as *const Self as usize)
        {
            self.moved.store(true, Ordering::SeqCst);
        }
    }
}

#[test]
fn a_finished_future_is_dropped_where_it_was_pinned() {
    let rl = RunLoop::new();
    let moved = Arc::new(AtomicBool::new(false));
    let handle = rl.spawn(PinnedCheck {
        polled_at: None,
        moved: moved.clone(),
        _pinned: std::marker::PhantomPinned,
    });
    rl.run();
    rl.block_on(handle).unwrap();
    assert!(
        !moved.load(Ordering::SeqCst),
        "the pinned future moved before its drop"
    );
}

/// Counts the blocks it hands out and gets back.
#[derive(Default)]
struct Counting {
    live: AtomicUsize,
}

// SAFETY: forwards to `SystemAllocator`, which keeps the contract.
unsafe impl strait_streams::FrameAllocator for Counting {
    fn allocate(&self, layout: std::alloc::Layout) -> Option<std::ptr::NonNull<u8>> {
        self.live.fetch_add(1, Ordering::SeqCst);
        strait_streams::SystemAllocator.allocate(layout)
    }

    unsafe fn deallocate(&self, ptr: std::ptr::NonNull<u8>, layout: std::alloc::Layout) {
        self.live.fetch_sub(1, Ordering::SeqCst);
        // SAFETY: `ptr` came from `SystemAllocator::allocate(layout)` above.
        unsafe { strait_streams::SystemAllocator.deallocate(ptr, layout) }
    }
}

#[test]
fn a_task_whose_future_panics_on_drop_still_frees_its_frame() {
    let counting = Arc::new(Counting::default());
    let alloc = strait_streams::FrameAlloc::custom(counting.clone());
    let task = strait_streams::Task::new_in(
        PanicOnDrop {
            panic_in_poll: false,
        },
        alloc,
    );
    assert_eq!(counting.live.load(Ordering::SeqCst), 1);
    let dropped = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || drop(task)));
    assert!(dropped.is_err(), "the owner sees the destructor's panic");
    assert_eq!(
        counting.live.load(Ordering::SeqCst),
        0,
        "the frame was freed"
    );
}

#[test]
fn a_spawned_future_that_panics_on_drop_frees_its_task() {
    let counting = Arc::new(Counting::default());
    let rl = RunLoop::with_frame_allocator(strait_streams::FrameAlloc::custom(counting.clone()));
    let handle = rl.spawn(PanicOnDrop {
        panic_in_poll: false,
    });
    rl.run();
    assert!(rl.block_on(handle).unwrap_err().is_panic());
    assert_eq!(counting.live.load(Ordering::SeqCst), 0);
}

#[test]
fn a_task_is_two_words_and_frees_its_frame_to_the_allocator_that_made_it() {
    // Two words, like `Pin<Box<dyn Future>>`: it moves in registers, and the frame
    // keeps the allocator's handle.
    assert_eq!(
        std::mem::size_of::<strait_streams::Task<'static, u64>>(),
        2 * std::mem::size_of::<usize>()
    );
    let counting = Arc::new(Counting::default());
    let alloc = strait_streams::FrameAlloc::custom(counting.clone());
    let big = [7u64; 20];
    let task = strait_streams::Task::new_in(
        async move {
            yield_now().await;
            big.iter().sum::<u64>()
        },
        alloc,
    );
    assert_eq!(counting.live.load(Ordering::SeqCst), 1);
    assert!(
        format!("{task:?}").contains("FrameAlloc::custom"),
        "{task:?}"
    );
    assert_eq!(strait_streams::block_on(task), 140);
    assert_eq!(
        counting.live.load(Ordering::SeqCst),
        0,
        "the frame was freed"
    );
    assert_eq!(
        Arc::strong_count(&counting),
        1,
        "the frame's allocator handle was dropped with it"
    );
}

#[test]
fn a_zero_sized_task_allocates_nothing_and_keeps_no_allocator() {
    struct Zst;
    impl Future for Zst {
        type Output = u32;
        fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
            Poll::Ready(5)
        }
    }
    let counting = Arc::new(Counting::default());
    let task =
        strait_streams::Task::new_in(Zst, strait_streams::FrameAlloc::custom(counting.clone()));
    assert_eq!(counting.live.load(Ordering::SeqCst), 0);
    assert_eq!(Arc::strong_count(&counting), 1, "no frame keeps the handle");
    assert_eq!(strait_streams::block_on(task), 5);
}

/// An executor without an owned-task list: it only queues runnables.
#[derive(Clone, Default)]
struct Queue(Arc<Mutex<Vec<strait_streams::Runnable>>>);

impl strait_streams::Executor for Queue {
    fn post(&self, task: strait_streams::Runnable) {
        self.0.lock().unwrap().push(task);
    }
}

impl Queue {
    fn run_all(&self) -> usize {
        let mut n = 0;
        loop {
            let next = self.0.lock().unwrap().pop();
            let Some(task) = next else { return n };
            task.run();
            n += 1;
        }
    }
}

/// Counts drops of the future it wraps.
struct Counted<F>(F, Arc<AtomicUsize>);

impl<F> Drop for Counted<F> {
    fn drop(&mut self) {
        self.1.fetch_add(1, Ordering::SeqCst);
    }
}

impl<F: Future + Unpin> Future for Counted<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        Pin::new(&mut self.0).poll(cx)
    }
}

#[test]
fn a_stoppable_task_that_waits_is_woken_by_a_stop_on_any_thread() {
    let queue = Queue::default();
    let source = strait_streams::StopSource::new();
    let handle = strait_streams::run_async(strait_streams::AnyExecutor::new(queue.clone()))
        .stop_token(source.token())
        .spawn(std::future::poll_fn(|_| {
            if strait_streams::stop_requested() {
                Poll::Ready(7)
            } else {
                Poll::Pending // nothing but the stop wakes it
            }
        }));
    assert_eq!(queue.run_all(), 1);
    assert_eq!(queue.run_all(), 0, "not woken before the stop");
    let stopper = {
        let source = source.clone();
        std::thread::spawn(move || source.request_stop())
    };
    stopper.join().unwrap();
    assert_eq!(queue.run_all(), 1, "the stop woke it once");
    assert!(handle.is_finished());
    assert_eq!(strait_streams::block_on(handle).unwrap(), 7);
}

#[test]
fn a_forgotten_stoppable_task_is_freed_and_a_later_stop_finds_nothing() {
    // Without an owned-task list, a waiting task nobody can wake (no waker kept, handle
    // dropped) is freed at once: its stop registration holds no reference to it.
    let queue = Queue::default();
    let source = strait_streams::StopSource::new();
    let drops = Arc::new(AtomicUsize::new(0));
    let handle = strait_streams::run_async(strait_streams::AnyExecutor::new(queue.clone()))
        .stop_token(source.token())
        .spawn(Counted(pending::<()>(), drops.clone()));
    assert_eq!(queue.run_all(), 1);
    assert_eq!(drops.load(Ordering::SeqCst), 0);
    drop(handle);
    assert_eq!(
        drops.load(Ordering::SeqCst),
        1,
        "freed with its last reference"
    );
    assert!(source.request_stop());
    assert_eq!(queue.run_all(), 0, "nothing left to wake");
}

#[test]
fn stopping_while_the_last_reference_goes_wakes_or_frees_but_never_both() {
    for _ in 0..200 {
        let queue = Queue::default();
        let source = strait_streams::StopSource::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let handle = strait_streams::run_async(strait_streams::AnyExecutor::new(queue.clone()))
            .stop_token(source.token())
            .spawn(Counted(pending::<()>(), drops.clone()));
        queue.run_all();
        let stopper = {
            let source = source.clone();
            std::thread::spawn(move || source.request_stop())
        };
        drop(handle);
        stopper.join().unwrap();
        // A wake that won the race queued the task once; running it polls `pending`
        // again, and the runnable's release then frees it.
        assert!(queue.run_all() <= 1);
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}
