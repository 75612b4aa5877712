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
