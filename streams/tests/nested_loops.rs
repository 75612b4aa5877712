//! A run loop run from inside another loop's task keeps the two loops' run-next
//! queues apart.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use strait_streams::{run_async, AnyExecutor, Executor, RunLoop, Runnable};

/// An executor that hands every task to its inner loop with `dispatch` (what a strand-like
/// adapter over a loop does): inside the running loop, the task goes to the loop's
/// run-next queue.
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
fn a_task_dispatched_to_the_outer_loop_runs_there_not_in_a_nested_one() {
    let outer = RunLoop::new();
    let outer_exec = outer.executor();
    let ran_on_outer = Arc::new(AtomicBool::new(false));
    let flag = ran_on_outer.clone();
    let job = outer.spawn(async move {
        let dispatching = AnyExecutor::new(Dispatching(outer_exec.clone()));
        let check = outer_exec.clone();
        // Dispatched while the outer loop runs this task: its run-next queue.
        let dispatched = run_async(dispatching).spawn(async move {
            flag.store(check.running_in_this_thread(), Ordering::SeqCst);
        });
        // A nested loop with work of its own, run to completion inside this task.
        let inner = RunLoop::new();
        inner.spawn(async {}).detach();
        inner.run();
        drop(inner);
        dispatched.await
    });
    outer
        .block_on(job)
        .unwrap()
        .expect("the dispatched task ran, not aborted with the inner loop");
    assert!(
        ran_on_outer.load(Ordering::SeqCst),
        "the outer loop's task ran inside the nested loop"
    );
}
