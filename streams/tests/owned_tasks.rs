//! Shutdown is defined: dropping a run loop or a thread pool aborts every task it owns,
//! idle ones included, dropping their futures (and what they hold) at once.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use strait_streams::{AsyncEvent, JoinError, RunLoop, ThreadPool};

/// Counts its drops: stands for a socket or buffer a task holds.
struct Held(Arc<AtomicUsize>);

impl Drop for Held {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn dropping_a_run_loop_aborts_its_idle_tasks_and_drops_what_they_hold() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let never = Arc::new(AsyncEvent::new());
    let rl = RunLoop::new();
    let mut handles = Vec::new();
    for _ in 0..3 {
        let held = Held(dropped.clone());
        let never = never.clone();
        handles.push(rl.spawn(async move {
            let _held = held;
            never.wait().await // nothing ever sets it
        }));
    }
    rl.poll(); // every task is now idle, waiting
    assert_eq!(dropped.load(Ordering::SeqCst), 0);
    drop(rl);
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        3,
        "futures dropped with the loop"
    );
    for handle in handles {
        let out = futures_lite::future::block_on(handle);
        assert!(matches!(out, Err(JoinError::Aborted)));
    }
}

#[test]
fn a_spawn_on_a_dropped_loops_executor_is_aborted_at_once() {
    let rl = RunLoop::new();
    let executor = rl.executor();
    drop(rl);
    let dropped = Arc::new(AtomicUsize::new(0));
    let held = Held(dropped.clone());
    let handle = executor.spawn(async move {
        let _held = held;
    });
    assert_eq!(dropped.load(Ordering::SeqCst), 1);
    assert!(futures_lite::future::block_on(handle)
        .unwrap_err()
        .is_aborted());
}

#[test]
fn dropping_a_thread_pool_aborts_its_idle_tasks() {
    let dropped = Arc::new(AtomicUsize::new(0));
    let never = Arc::new(AsyncEvent::new());
    let pool = ThreadPool::new(2);
    let started = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let (held, never, started) = (Held(dropped.clone()), never.clone(), started.clone());
            pool.spawn(async move {
                let _held = held;
                started.fetch_add(1, Ordering::SeqCst);
                never.wait().await
            })
        })
        .collect();
    while started.load(Ordering::SeqCst) < 4 {
        std::thread::yield_now();
    }
    drop(pool);
    assert_eq!(dropped.load(Ordering::SeqCst), 4);
    for handle in handles {
        assert!(futures_lite::future::block_on(handle)
            .unwrap_err()
            .is_aborted());
    }
}

#[test]
fn finished_tasks_leave_the_list() {
    let rl = RunLoop::new();
    for i in 0..100 {
        rl.spawn(async move { i }).detach();
    }
    rl.run();
    // Nothing left to abort: dropping is a no-op and nothing leaks (ASan/LSan runs).
    drop(rl);
}
