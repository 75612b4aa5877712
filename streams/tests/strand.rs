//! Strands: serialization, FIFO order, run-next dispatch and work tracking.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use strait_streams::{env, yield_now, AnyExecutor, Executor, RunLoop, Strand, ThreadPool};

#[test]
fn a_strand_never_runs_two_tasks_at_once_on_a_multi_threaded_pool() {
    let pool = ThreadPool::new(4);
    let strand = Strand::new(pool.executor());
    let in_flight = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    let total = Arc::new(AtomicUsize::new(0));
    // Post from several threads at once.
    let posters: Vec<_> = (0..4)
        .map(|_| {
            let (strand, in_flight, overlaps, total) = (
                strand.clone(),
                in_flight.clone(),
                overlaps.clone(),
                total.clone(),
            );
            std::thread::spawn(move || {
                for _ in 0..250 {
                    let (in_flight, overlaps, total) =
                        (in_flight.clone(), overlaps.clone(), total.clone());
                    strand
                        .spawn(async move {
                            for _ in 0..3 {
                                if in_flight.fetch_add(1, Ordering::SeqCst) != 0 {
                                    overlaps.fetch_add(1, Ordering::SeqCst);
                                }
                                // A non-atomic read-modify-write that would lose updates
                                // if two strand tasks overlapped.
                                let v = total.load(Ordering::Relaxed);
                                std::hint::spin_loop();
                                total.store(v + 1, Ordering::Relaxed);
                                in_flight.fetch_sub(1, Ordering::SeqCst);
                                yield_now().await;
                            }
                        })
                        .detach();
                }
            })
        })
        .collect();
    for p in posters {
        p.join().unwrap();
    }
    pool.join();
    assert_eq!(
        overlaps.load(Ordering::SeqCst),
        0,
        "two strand tasks overlapped"
    );
    assert_eq!(total.load(Ordering::SeqCst), 3000);
}

#[test]
fn strand_tasks_start_in_posting_order() {
    let pool = ThreadPool::new(2);
    let strand = Strand::new(pool.executor());
    let log = Arc::new(Mutex::new(Vec::new()));
    for i in 0..200 {
        let log = log.clone();
        strand
            .spawn(async move { log.lock().unwrap().push(i) })
            .detach();
    }
    pool.join();
    assert_eq!(*log.lock().unwrap(), (0..200).collect::<Vec<_>>());
}

/// Routes every post of its tasks through the strand's `dispatch`.
struct Dispatching(Strand);

impl Executor for Dispatching {
    fn post(&self, task: strait_streams::Runnable) {
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
fn dispatch_runs_next_only_from_inside_the_strand() {
    let rl = RunLoop::new();
    let strand = Strand::new(rl.executor());
    let via_dispatch = AnyExecutor::new(Dispatching(strand.clone()));
    let log = Arc::new(Mutex::new(Vec::new()));
    let (l, v, s) = (log.clone(), via_dispatch.clone(), strand.clone());
    strand
        .spawn(async move {
            assert!(s.running_in_this_thread());
            assert!(env().executor().running_in_this_thread());
            l.lock().unwrap().push("first");
            let l2 = l.clone();
            v.spawn(async move { l2.lock().unwrap().push("dispatched inside") })
                .detach();
        })
        .detach();
    let l = log.clone();
    strand
        .spawn(async move { l.lock().unwrap().push("second") })
        .detach();
    assert!(!strand.running_in_this_thread());
    rl.run();
    assert_eq!(
        *log.lock().unwrap(),
        ["first", "dispatched inside", "second"]
    );
}

#[test]
fn a_run_loop_returns_once_strand_work_is_done() {
    let rl = RunLoop::new();
    let strand = Strand::new(rl.executor());
    let h = strand.spawn(async {
        yield_now().await;
        3
    });
    rl.run();
    assert_eq!(rl.block_on(h).unwrap(), 3);
    assert_eq!(rl.outstanding_work(), 0);
    // The strand stays usable.
    let h = strand.spawn(async { 4 });
    rl.run();
    assert_eq!(rl.block_on(h).unwrap(), 4);
}

#[test]
fn a_panicking_strand_task_does_not_wedge_the_strand() {
    let rl = RunLoop::new();
    let strand = Strand::new(rl.executor());
    let bad = strand.spawn(async { panic!("strand task panic") });
    let good = strand.spawn(async { "still running" });
    rl.run();
    assert!(rl.block_on(bad).unwrap_err().is_panic());
    assert_eq!(rl.block_on(good).unwrap(), "still running");
}

#[test]
fn a_strand_executor_handle_is_the_strand_and_keeps_it_alive() {
    let rl = RunLoop::new();
    let strand = Strand::new(rl.executor());
    let handle = strand.executor();
    assert_eq!(
        handle,
        strand.executor(),
        "handles share the strand's state"
    );
    let inside = strand.spawn(async { env().executor().clone() });
    rl.run();
    assert_eq!(
        rl.block_on(inside).unwrap(),
        handle,
        "tasks see the same handle"
    );
    drop(strand);
    // Only the handle is left: it still runs tasks, one at a time, in order.
    let log = Arc::new(Mutex::new(Vec::new()));
    for i in 0..3 {
        let log = log.clone();
        handle
            .spawn(async move {
                yield_now().await;
                log.lock().unwrap().push(i);
            })
            .detach();
    }
    rl.run();
    assert_eq!(*log.lock().unwrap(), [0, 1, 2]);
}

#[test]
fn a_strand_whose_executor_shut_down_aborts_its_tasks() {
    let rl = strait_streams::RunLoop::new();
    let strand = Strand::new(rl.executor());
    let queued = strand.spawn(async {});
    drop(rl); // aborts the invoker (and, through it, the queued task)
    let late = strand.spawn(async {});
    assert!(futures_lite::future::block_on(queued)
        .unwrap_err()
        .is_aborted());
    assert!(futures_lite::future::block_on(late)
        .unwrap_err()
        .is_aborted());
}

/// Counts how new tasks and wakes reach the loop underneath.
struct Counting {
    inner: AnyExecutor,
    spawned: Arc<AtomicUsize>,
}

impl Executor for Counting {
    fn post(&self, task: strait_streams::Runnable) {
        self.inner.post(task);
    }
    fn spawn_task(&self, task: strait_streams::Runnable) {
        self.spawned.fetch_add(1, Ordering::SeqCst);
        self.inner.spawn_task(task);
    }
    fn on_work_started(&self) {
        self.inner.on_work_started();
    }
    fn on_work_finished(&self) {
        self.inner.on_work_finished();
    }
}

#[test]
fn the_strand_invoker_is_a_new_task_of_its_executor() {
    // A foreign runtime's adapter makes each new task one of the runtime's own through
    // the spawn hook; the strand's invoker must arrive there too, not as a bare post.
    let rl = RunLoop::new();
    let spawned = Arc::new(AtomicUsize::new(0));
    let strand = Strand::new(AnyExecutor::new(Counting {
        inner: rl.executor(),
        spawned: spawned.clone(),
    }));
    assert_eq!(spawned.load(Ordering::SeqCst), 1, "the invoker");
    let h = strand.spawn(async { 7 });
    assert_eq!(rl.block_on(h).unwrap(), 7);
    assert_eq!(
        spawned.load(Ordering::SeqCst),
        1,
        "strand tasks go to the strand"
    );
}
