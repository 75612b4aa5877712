//! Local tasks never run or drop off their thread, foreign tasks and owned lists agree
//! on who aborts, and a pool dropped by its own task still shuts down (review cases).

use std::future::Future;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::ThreadId;
use std::time::Duration;

use strait_streams::driver::{ForeignTask, OwnedTasks};
use strait_streams::{AnyExecutor, Executor, RunLoop, Runnable, ThreadPool};

type Log = Arc<Mutex<Vec<(&'static str, ThreadId)>>>;

/// A `!Send` value that records the thread that drops it.
struct Witness(#[allow(dead_code)] Rc<()>, Log);

impl Drop for Witness {
    fn drop(&mut self) {
        self.1
            .lock()
            .unwrap()
            .push(("drop", std::thread::current().id()));
    }
}

#[test]
fn a_runner_that_started_before_the_loop_was_bound_never_takes_its_local_tasks() {
    let rl = RunLoop::new();
    let log: Log = Arc::default();
    let release = Arc::new(AtomicBool::new(false));
    let waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let a_id = std::thread::current().id();
    std::thread::scope(|s| {
        // B runs the loop first, before anything binds it.
        let b = s.spawn(|| {
            let (release, waker) = (release.clone(), waker.clone());
            rl.block_on(std::future::poll_fn(move |cx| {
                if release.load(Ordering::SeqCst) {
                    Poll::Ready(())
                } else {
                    *waker.lock().unwrap() = Some(cx.waker().clone());
                    Poll::Pending
                }
            }));
        });
        std::thread::sleep(Duration::from_millis(50));
        // A binds it with a local task; B must refuse to take it.
        let w = Witness(Rc::new(()), log.clone());
        let l = log.clone();
        let handle = rl.spawn_local(async move {
            let _keep = &w;
            l.lock()
                .unwrap()
                .push(("poll", std::thread::current().id()));
        });
        std::thread::sleep(Duration::from_millis(50));
        release.store(true, Ordering::SeqCst);
        if let Some(w) = waker.lock().unwrap().take() {
            w.wake();
        }
        let refused = b.join().expect_err("B may not run a loop bound to A");
        let msg = refused
            .downcast_ref::<String>()
            .cloned()
            .unwrap_or_default();
        assert!(msg.contains("bound to thread"), "{msg}");
        rl.block_on(handle).unwrap();
    });
    let log = log.lock().unwrap().clone();
    assert!(log.iter().all(|(_, t)| *t == a_id), "{log:?}");
    assert_eq!(log.len(), 2, "polled and dropped once, on A: {log:?}");
}

#[test]
fn a_remote_wake_during_the_loops_drop_leaves_local_futures_to_their_thread() {
    let log: Log = Arc::default();
    let t_waker: Arc<Mutex<Option<Waker>>> = Arc::default();
    let (go_tx, go_rx) = std::sync::mpsc::channel::<()>();
    let (done_tx, done_rx) = std::sync::mpsc::channel::<()>();
    let remote = {
        let t_waker = t_waker.clone();
        std::thread::spawn(move || {
            go_rx.recv().unwrap();
            // The loop is closing on its thread: wake the idle local task now.
            t_waker.lock().unwrap().take().unwrap().wake();
            done_tx.send(()).unwrap();
        })
    };
    let rl = RunLoop::new();
    let w = Witness(Rc::new(()), log.clone());
    let tw = t_waker.clone();
    rl.spawn_local(async move {
        let _keep = &w;
        std::future::poll_fn(|cx| {
            *tw.lock().unwrap() = Some(cx.waker().clone());
            Poll::<()>::Pending
        })
        .await
    })
    .detach();
    /// Aborted first by the drop (listed last); lets the remote wake happen meanwhile.
    struct Hook(
        Option<std::sync::mpsc::Sender<()>>,
        Option<std::sync::mpsc::Receiver<()>>,
    );
    impl Drop for Hook {
        fn drop(&mut self) {
            self.0.take().unwrap().send(()).unwrap();
            self.1.take().unwrap().recv().unwrap();
        }
    }
    let hook = Hook(Some(go_tx), Some(done_rx));
    rl.spawn_local(async move {
        let _keep = &hook;
        std::future::pending::<()>().await
    })
    .detach();
    rl.poll();
    let a_id = std::thread::current().id();
    drop(rl);
    remote.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(*log, [("drop", a_id)], "dropped once, on the loop's thread");
}

/// An adapter that both keeps an owned list and hands tasks to a foreign scheduler.
#[derive(Default)]
struct Adapter {
    owned: OwnedTasks,
    spawned: Mutex<Vec<ForeignTask>>,
}

impl Executor for Adapter {
    fn post(&self, _: Runnable) {
        panic!("foreign tasks are never posted");
    }
    fn spawn_task(&self, task: Runnable) {
        self.spawned.lock().unwrap().push(ForeignTask::new(task));
    }
    fn owned_tasks(&self) -> Option<&OwnedTasks> {
        Some(&self.owned)
    }
}

struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::SeqCst);
    }
}

#[test]
fn an_owned_abort_of_a_foreign_task_goes_through_its_scheduler() {
    let adapter = Arc::new(Adapter::default());
    let handle = AnyExecutor::from_arc(adapter.clone()).spawn(std::future::pending::<()>());
    let mut task = adapter.spawned.lock().unwrap().pop().unwrap();
    let flag = Arc::new(Flag(AtomicBool::new(false)));
    let waker = Waker::from(flag.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(std::pin::Pin::new(&mut task).poll(&mut cx).is_pending());
    assert_eq!(adapter.owned.len(), 1, "listed on its first wait");
    adapter.owned.close_and_abort_all();
    assert!(
        flag.0.load(Ordering::SeqCst),
        "the scheduler is told to run the abort"
    );
    assert!(std::pin::Pin::new(&mut task).poll(&mut cx).is_ready());
    assert!(futures_lite::future::block_on(handle)
        .unwrap_err()
        .is_aborted());
}

#[test]
fn an_owned_abort_racing_with_the_foreign_poll_ends_the_task_once() {
    for _ in 0..2000 {
        let adapter = Arc::new(Adapter::default());
        let drops = Arc::new(AtomicUsize::new(0));
        struct Counted(Arc<AtomicUsize>);
        impl Drop for Counted {
            fn drop(&mut self) {
                self.0.fetch_add(1, Ordering::SeqCst);
            }
        }
        let counted = Counted(drops.clone());
        AnyExecutor::from_arc(adapter.clone())
            .spawn(async move {
                let _c = counted;
                std::future::pending::<()>().await
            })
            .detach();
        let mut task = adapter.spawned.lock().unwrap().pop().unwrap();
        let waker = Waker::from(Arc::new(Flag(AtomicBool::new(false))));
        assert!(std::pin::Pin::new(&mut task)
            .poll(&mut Context::from_waker(&waker))
            .is_pending());
        let poller = std::thread::spawn(move || {
            let waker = Waker::from(Arc::new(Flag(AtomicBool::new(false))));
            let mut cx = Context::from_waker(&waker);
            for _ in 0..200 {
                if std::pin::Pin::new(&mut task).poll(&mut cx).is_ready() {
                    break;
                }
            }
            // The runtime drops its task: aborts it if no poll did.
        });
        adapter.owned.close_and_abort_all();
        poller
            .join()
            .expect("the foreign poll never runs the task twice");
        assert_eq!(drops.load(Ordering::SeqCst), 1);
    }
}

#[test]
fn a_pool_dropped_by_its_own_task_still_aborts_its_idle_tasks() {
    let pool = Arc::new(ThreadPool::new(2));
    let idle = pool.spawn(std::future::pending::<()>());
    let last = pool.clone();
    let dropper = pool.spawn(async move {
        std::thread::sleep(Duration::from_millis(50));
        drop(last); // the last handle, once the test dropped its own
    });
    drop(pool);
    assert!(strait_streams::block_on(dropper).is_ok());
    assert!(futures_lite::future::block_on(idle)
        .unwrap_err()
        .is_aborted());
}

/// Opens once; wakes whoever waits.
#[derive(Default)]
struct Gate {
    open: AtomicBool,
    waker: Mutex<Option<Waker>>,
}

impl Gate {
    async fn wait(&self) {
        std::future::poll_fn(|cx| {
            *self.waker.lock().unwrap() = Some(cx.waker().clone());
            if self.open.load(Ordering::SeqCst) {
                std::task::Poll::Ready(())
            } else {
                std::task::Poll::Pending
            }
        })
        .await
    }

    fn open(&self) {
        self.open.store(true, Ordering::SeqCst);
        if let Some(w) = self.waker.lock().unwrap().take() {
            w.wake();
        }
    }
}

#[test]
fn finished_tasks_leave_the_owned_list_and_shutdown_aborts_the_rest() {
    let rl = strait_streams::RunLoop::new();
    let owned = |rl: &strait_streams::RunLoop| rl.executor().owned_tasks().unwrap().len();
    let spawn_gated = |n: usize| {
        let gates: Vec<Arc<Gate>> = (0..n).map(|_| Arc::new(Gate::default())).collect();
        let handles: Vec<_> = gates
            .iter()
            .map(|g| {
                let g = g.clone();
                rl.spawn(async move { g.wait().await })
            })
            .collect();
        (gates, handles)
    };
    let (gates, handles) = spawn_gated(8);
    rl.poll();
    assert_eq!(owned(&rl), 8, "listed on their first wait");
    for g in gates.iter().step_by(2) {
        g.open();
    }
    rl.poll();
    assert_eq!(owned(&rl), 4, "finished tasks are unlisted");
    // New waiting tasks take the freed slots; the rest stay listed.
    let (_more_gates, more) = spawn_gated(6);
    rl.poll();
    assert_eq!(owned(&rl), 10);
    drop(rl);
    let outcomes: Vec<bool> = handles
        .into_iter()
        .chain(more)
        .map(|h| futures_lite::future::block_on(h).is_ok())
        .collect();
    let finished = [true, false, true, false, true, false, true, false];
    assert_eq!(outcomes[..8], finished);
    assert!(
        outcomes[8..].iter().all(|ok| !ok),
        "every task still listed at shutdown is aborted"
    );
}
