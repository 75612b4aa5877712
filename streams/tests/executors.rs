//! Executor rules: post is never inline, dispatch uses "run next" only on its own
//! thread, work tracking, stop/restart, thread pools.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use strait_streams::{env, AnyExecutor, Executor, RunLoop, Runnable, ThreadPool};

#[test]
fn post_never_runs_inline() {
    let rl = RunLoop::new();
    let child_ran = Arc::new(AtomicBool::new(false));
    let c = child_ran.clone();
    let parent = rl.spawn(async move {
        let flag = c.clone();
        let ex = env().executor().clone();
        ex.spawn(async move { flag.store(true, Ordering::SeqCst) })
            .detach();
        // Still inside the parent's poll: the child cannot have run.
        c.load(Ordering::SeqCst)
    });
    rl.run();
    assert!(!rl.block_on(parent).unwrap());
    assert!(child_ran.load(Ordering::SeqCst));
}

/// Routes every post of its tasks through the inner executor's `dispatch`.
struct Dispatching(AnyExecutor);

impl Executor for Dispatching {
    fn post(&self, task: Runnable) {
        self.0.dispatch(task);
    }
    fn on_work_started(&self) {
        self.0.on_work_started();
    }
    fn on_work_finished(&self) {
        self.0.on_work_finished();
    }
}

#[test]
fn dispatch_from_the_loop_thread_runs_next_and_posts_otherwise() {
    let rl = RunLoop::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    let via_dispatch = AnyExecutor::new(Dispatching(rl.executor()));

    // From outside the loop, dispatch posts at the back: queue is [a, outside].
    let o = order.clone();
    let v = via_dispatch.clone();
    rl.spawn(async move {
        o.lock().unwrap().push("a");
        let o2 = o.clone();
        // On the loop thread: "run next", ahead of `b` and `outside`.
        v.spawn(async move { o2.lock().unwrap().push("a's child") })
            .detach();
    })
    .detach();
    let o = order.clone();
    via_dispatch
        .spawn(async move { o.lock().unwrap().push("outside") })
        .detach();
    let o = order.clone();
    rl.spawn(async move { o.lock().unwrap().push("b") })
        .detach();
    rl.run();
    assert_eq!(*order.lock().unwrap(), ["a", "a's child", "outside", "b"]);
    assert!(!rl.executor().running_in_this_thread());
}

#[test]
fn run_returns_when_no_work_is_outstanding() {
    let rl = RunLoop::new();
    assert_eq!(rl.run(), 0);
    let h = rl.spawn(async {});
    assert_eq!(rl.outstanding_work(), 1);
    assert_eq!(rl.run(), 1);
    assert_eq!(rl.outstanding_work(), 0);
    assert!(h.is_finished());
}

#[test]
fn a_work_guard_keeps_run_waiting_until_it_drops() {
    let rl = RunLoop::new();
    let guard = rl.work_guard();
    let started = Instant::now();
    assert_eq!(rl.run_for(Duration::from_millis(50)), 0);
    assert!(started.elapsed() >= Duration::from_millis(50));
    let ex = rl.executor();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        ex.spawn(async {}).detach();
        drop(guard);
    });
    // Blocks until the remote spawn runs and the guard is gone.
    assert_eq!(rl.run(), 1);
    t.join().unwrap();
}

#[test]
fn stop_makes_run_return_and_restart_resumes() {
    let rl = RunLoop::new();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let handle = rl.spawn(async move {
        for _ in 0..10 {
            c.fetch_add(1, Ordering::SeqCst);
            strait_streams::yield_now().await;
        }
    });
    assert_eq!(rl.run_one(), 1);
    rl.stop();
    assert!(rl.stopped());
    assert_eq!(rl.run(), 0);
    rl.restart();
    rl.run();
    assert_eq!(count.load(Ordering::SeqCst), 10);
    assert!(handle.is_finished());
}

#[test]
fn poll_runs_only_what_is_ready() {
    let rl = RunLoop::new();
    let _a = rl.spawn(async {});
    let _b = rl.spawn(async {});
    assert_eq!(rl.poll_one(), 1);
    assert_eq!(rl.poll(), 1);
    assert_eq!(rl.poll(), 0);
}

#[test]
fn thread_pool_runs_tasks_on_its_threads_and_join_waits_for_them() {
    let pool = ThreadPool::with_name(2, "testpool-");
    let names = Arc::new(Mutex::new(Vec::new()));
    for _ in 0..20 {
        let names = names.clone();
        pool.spawn(async move {
            std::thread::sleep(Duration::from_millis(1));
            let name = std::thread::current().name().unwrap_or("").to_owned();
            names.lock().unwrap().push(name);
        })
        .detach();
    }
    pool.join();
    let names = names.lock().unwrap();
    assert_eq!(names.len(), 20);
    assert!(names.iter().all(|n| n.starts_with("testpool-")));
    assert_eq!(pool.outstanding_work(), 0);
}

#[test]
fn thread_pool_dispatch_never_runs_inline() {
    let pool = ThreadPool::new(1);
    let inline = Arc::new(AtomicBool::new(false));
    let i = inline.clone();
    let ex = pool.executor();
    pool.spawn(async move {
        let ran = Arc::new(AtomicBool::new(false));
        let r = ran.clone();
        // `spawn` posts; the pool's dispatch also posts: the child cannot run inside us.
        ex.spawn(async move { r.store(true, Ordering::SeqCst) })
            .detach();
        i.store(ran.load(Ordering::SeqCst), Ordering::SeqCst);
    })
    .detach();
    pool.join();
    assert!(!inline.load(Ordering::SeqCst));
}

#[test]
fn stopping_a_pool_abandons_queued_work() {
    let pool = ThreadPool::new(1);
    let gate = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let (g, s) = (gate.clone(), started.clone());
    let blocker = pool.spawn(async move {
        s.store(true, Ordering::SeqCst);
        while !g.load(Ordering::SeqCst) {
            std::thread::yield_now();
        }
    });
    let queued = pool.spawn(async { 1 });
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    pool.stop();
    gate.store(true, Ordering::SeqCst);
    drop(pool);
    assert!(strait_streams::block_on(blocker).is_ok());
    assert!(strait_streams::block_on(queued).unwrap_err().is_aborted());
}

#[test]
fn a_task_dispatching_itself_cannot_starve_the_queue() {
    let rl = RunLoop::new();
    let via_dispatch = AnyExecutor::new(Dispatching(rl.executor()));
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    via_dispatch
        .spawn(async move {
            for _ in 0..1000 {
                strait_streams::yield_now().await;
            }
            o.lock().unwrap().push("self-dispatcher");
        })
        .detach();
    let o = order.clone();
    rl.spawn(async move { o.lock().unwrap().push("other") })
        .detach();
    assert_eq!(rl.poll_one(), 1, "poll_one runs exactly one task");
    rl.run();
    assert_eq!(*order.lock().unwrap(), ["other", "self-dispatcher"]);
}

/// Runs `f` on its own thread and fails (instead of hanging the suite) if it takes
/// longer than `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit).expect("hung")
}

#[test]
fn block_on_runs_tasks_dispatched_to_the_run_next_slot() {
    let done = within(Duration::from_secs(10), || {
        let rl = RunLoop::new();
        let via_dispatch = AnyExecutor::new(Dispatching(rl.executor()));
        // Spawned from inside `block_on` (on the loop's thread): the child lands in the
        // run-next slot, which `block_on` must drain.
        rl.block_on(async move { via_dispatch.spawn(async { 7 }).await.unwrap() })
    });
    assert_eq!(done, 7);
}

#[test]
fn block_on_inside_a_task_on_its_own_thread_panics_with_a_reason() {
    let rl = RunLoop::new();
    let nested = rl.spawn(async { strait_streams::block_on(async { 1 }) });
    rl.run();
    let err = rl.block_on(nested).unwrap_err();
    let payload = err.into_panic().expect("a panic, not an abort");
    let msg = payload
        .downcast_ref::<String>()
        .cloned()
        .unwrap_or_default();
    assert!(msg.contains("block_on called from inside a task"), "{msg}");
}

#[test]
#[should_panic(expected = "RunLoop::block_on called from inside a task")]
fn run_loop_block_on_nested_in_its_own_block_on_panics() {
    let rl = Arc::new(RunLoop::new());
    let inner = rl.clone();
    rl.block_on(async move { inner.block_on(async {}) });
}

#[test]
fn block_on_on_a_plain_thread_inside_block_on_is_allowed() {
    // The default environment's executor is not running on this thread: no panic.
    assert_eq!(
        strait_streams::block_on(async { strait_streams::block_on(async { 2 }) }),
        2
    );
}

#[test]
fn run_for_duration_max_means_no_deadline() {
    let rl = RunLoop::new();
    let ran = rl.spawn(async { 3 });
    assert_eq!(rl.run_for(Duration::MAX), 1);
    assert_eq!(rl.block_on(ran).unwrap(), 3);
}
