//! `!Send` strait tasks on a tokio `LocalSet`: they run on its thread only, see the
//! local executor, use tokio's timer, and are woken from other threads.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use strait_streams::{delay, env, AsyncEvent};
use strait_tokio::LocalExecutor;

fn current_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn local_tasks_run_on_the_local_set_thread_and_see_its_executor() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let executor = LocalExecutor::new(&local, rt.handle());
    let log = Rc::new(RefCell::new(Vec::new()));
    let here = std::thread::current().id();
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let log = log.clone();
            let ex = executor.executor();
            executor.spawn_local(async move {
                strait_streams::yield_now().await;
                log.borrow_mut().push(i); // `Rc<RefCell>` across an await
                (std::thread::current().id(), env().executor() == ex)
            })
        })
        .collect();
    let seen = local.block_on(
        &rt,
        executor.in_env(async {
            let mut seen = Vec::new();
            for t in tasks {
                seen.push(t.await.unwrap());
            }
            seen
        }),
    );
    assert!(seen.iter().all(|&(thread, sees)| thread == here && sees));
    assert_eq!(log.borrow().len(), 10);
}

#[test]
fn a_wake_from_another_thread_reaches_a_local_task() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let executor = LocalExecutor::new(&local, rt.handle());
    let event = Arc::new(AsyncEvent::new());
    let ev = event.clone();
    let timer = executor.timer().clone();
    let task = executor.spawn_local(async move {
        let marker = Rc::new(());
        delay(Duration::from_millis(5)).await?; // tokio's timer, via the local executor
        ev.wait().await?;
        std::io::Result::Ok(Rc::strong_count(&marker))
    });
    let setter = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(30));
        event.set();
    });
    let n = local
        .block_on(&rt, executor.in_env(async { task.await.unwrap() }))
        .unwrap();
    setter.join().unwrap();
    assert_eq!(n, 1);
    assert_eq!(timer.scheduled(), 0);
}

#[test]
fn dropping_the_local_set_aborts_its_tasks_on_its_thread() {
    let rt = current_thread();
    let local = tokio::task::LocalSet::new();
    let executor = LocalExecutor::new(&local, rt.handle());
    let never = Arc::new(AsyncEvent::new());
    let n = never.clone();
    let task = executor.spawn_local(async move {
        let _not_send = Rc::new(());
        n.wait().await
    });
    // Let it start and park.
    local.block_on(&rt, executor.in_env(strait_streams::yield_now()));
    drop(local);
    // The task is not runnable; a wake now finds the queue closed and aborts it here.
    never.set();
    let joined = strait_streams::RunLoop::new().block_on(task);
    assert!(joined.unwrap_err().is_aborted());
}

/// Records the thread its drop ran on; `!Send`, like the futures it stands for.
struct DropsOn {
    on: Arc<std::sync::Mutex<Option<std::thread::ThreadId>>>,
    _not_send: Rc<()>,
}

impl Drop for DropsOn {
    fn drop(&mut self) {
        *self.on.lock().unwrap() = Some(std::thread::current().id());
    }
}

#[test]
fn an_abandoned_local_task_is_dropped_on_its_thread() {
    // A local task waits on a waker held by another thread; its executor and the
    // `LocalSet` go away. Its `!Send` future must be dropped here, when the `LocalSet`
    // goes, not by whichever thread releases the last waker.
    let dropped_on = Arc::new(std::sync::Mutex::new(None));
    let (waker_tx, waker_rx) = std::sync::mpsc::channel::<std::task::Waker>();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let waker = waker_rx.recv().unwrap();
        release_rx.recv().unwrap();
        drop(waker); // the task's last reference, if nothing ended it on its thread
    });
    {
        let rt = current_thread();
        let local = tokio::task::LocalSet::new();
        let executor = LocalExecutor::new(&local, rt.handle());
        let guard = DropsOn {
            on: dropped_on.clone(),
            _not_send: Rc::new(()),
        };
        let task = executor.spawn_local(async move {
            let _guard = guard;
            let mut sent = false;
            std::future::poll_fn(|cx| {
                if !sent {
                    sent = true;
                    waker_tx.send(cx.waker().clone()).unwrap();
                }
                std::task::Poll::<()>::Pending
            })
            .await;
        });
        // Run it until it waits.
        local.block_on(&rt, async {
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        });
        drop(task);
        drop(executor);
        drop(local);
    }
    release_tx.send(()).unwrap();
    holder.join().unwrap();
    let here = std::thread::current().id();
    assert_eq!(
        *dropped_on.lock().unwrap(),
        Some(here),
        "the local future was dropped on another thread (or never)"
    );
}
