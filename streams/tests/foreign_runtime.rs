//! The spawn-level hook: a foreign runtime (a test double with its own queue and
//! wakers) receives whole tasks, schedules them itself, and strait code inside sees the
//! adapter's executor in its environment.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};

use strait_streams::driver::ForeignTask;
use strait_streams::{env, yield_now, AnyExecutor, AsyncEvent, Executor, Runnable};

/// One task of the foreign runtime (taken out while it is polled).
type Slot = Option<Pin<Box<dyn Future<Output = ()> + Send>>>;

/// A tiny foreign runtime: a FIFO of its own tasks, each woken by its own waker.
#[derive(Default)]
struct Foreign {
    tasks: Mutex<Vec<Slot>>,
    ready: Mutex<VecDeque<usize>>,
    spawned: AtomicUsize,
}

struct ForeignWaker(Arc<Foreign>, usize);

impl Wake for ForeignWaker {
    fn wake(self: Arc<Self>) {
        self.0.ready.lock().unwrap().push_back(self.1);
    }
}

impl Foreign {
    fn spawn(self: &Arc<Self>, fut: impl Future<Output = ()> + Send + 'static) {
        let mut tasks = self.tasks.lock().unwrap();
        tasks.push(Some(Box::pin(fut)));
        self.ready.lock().unwrap().push_back(tasks.len() - 1);
        self.spawned.fetch_add(1, Ordering::SeqCst);
    }

    /// Runs ready tasks until none is ready.
    fn run(self: &Arc<Self>) {
        loop {
            let Some(id) = self.ready.lock().unwrap().pop_front() else {
                return;
            };
            let Some(mut task) = self.tasks.lock().unwrap()[id].take() else {
                continue;
            };
            let waker = Waker::from(Arc::new(ForeignWaker(self.clone(), id)));
            if task
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending()
            {
                self.tasks.lock().unwrap()[id] = Some(task);
            }
        }
    }
}

/// The adapter: a strait executor whose tasks the foreign runtime schedules.
struct Adapter {
    runtime: Arc<Foreign>,
    posts: AtomicUsize,
}

impl Executor for Adapter {
    fn post(&self, _task: Runnable) {
        self.posts.fetch_add(1, Ordering::SeqCst);
    }
    fn spawn_task(&self, task: Runnable) {
        self.runtime.spawn(ForeignTask::new(task));
    }
}

#[test]
fn a_foreign_runtime_runs_whole_tasks_and_the_environment_is_visible_inside() {
    let runtime = Arc::new(Foreign::default());
    let adapter = Arc::new(Adapter {
        runtime: runtime.clone(),
        posts: AtomicUsize::new(0),
    });
    let executor = AnyExecutor::from_arc(adapter.clone());
    let event = Arc::new(AsyncEvent::new());
    let (ex, ev) = (executor.clone(), event.clone());
    let waiter = executor.spawn(async move {
        let sees_adapter = env().executor() == ex;
        for _ in 0..5 {
            yield_now().await; // each yield wakes the runtime's task, not `post`
        }
        ev.wait().await.unwrap();
        sees_adapter
    });
    let (ex, ev) = (executor.clone(), event.clone());
    let setter = executor.spawn(async move {
        // A task spawned from inside goes through the hook too.
        ex.spawn(async {}).await.unwrap();
        ev.set();
    });
    runtime.run();
    assert_eq!(
        runtime.spawned.load(Ordering::SeqCst),
        3,
        "one runtime task per spawn"
    );
    assert_eq!(adapter.posts.load(Ordering::SeqCst), 0, "no post per wake");
    assert!(futures_lite::future::block_on(waiter).unwrap());
    futures_lite::future::block_on(setter).unwrap();
}

#[test]
fn dropping_the_foreign_task_aborts_the_strait_task() {
    let runtime = Arc::new(Foreign::default());
    let executor = AnyExecutor::new(Adapter {
        runtime: runtime.clone(),
        posts: AtomicUsize::new(0),
    });
    let never = Arc::new(AsyncEvent::new());
    let n = never.clone();
    let handle = executor.spawn(async move { n.wait().await });
    runtime.run(); // now idle inside the runtime
    runtime.tasks.lock().unwrap().clear(); // the runtime shuts down
    assert!(futures_lite::future::block_on(handle)
        .unwrap_err()
        .is_aborted());
}

#[test]
fn aborting_through_the_join_handle_wakes_the_foreign_task() {
    let runtime = Arc::new(Foreign::default());
    let executor = AnyExecutor::new(Adapter {
        runtime: runtime.clone(),
        posts: AtomicUsize::new(0),
    });
    let never = Arc::new(AsyncEvent::new());
    let n = never.clone();
    let handle = executor.spawn(async move { n.wait().await });
    runtime.run();
    handle.abort();
    runtime.run(); // the runtime polls it once more: the harness aborts it
    assert!(futures_lite::future::block_on(handle)
        .unwrap_err()
        .is_aborted());
    assert!(runtime.tasks.lock().unwrap().iter().all(Option::is_none));
}
