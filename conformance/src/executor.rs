//! The executor suite: post never inline, dispatch rules, work tracking, and the
//! guarantees of a [`Strand`] wrapped around the executor.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use strait_streams::{AnyExecutor, Executor, Runnable, Strand};

use crate::report::{ensure, CaseResult, Outcome, Report};

/// Supplies the executor under test and a way to drive it.
pub trait ExecutorFactory {
    /// A fresh executor.
    fn executor(&self) -> AnyExecutor;
    /// Runs (or waits for) the executor's tasks until none is outstanding: `run` for a
    /// run loop, a wait for an idle pool.
    fn run_until_idle(&self, executor: &AnyExecutor);
}

type Case<F> = fn(&F) -> CaseResult;

/// Every case, by name.
pub fn cases<F: ExecutorFactory>() -> Vec<(&'static str, Case<F>)> {
    vec![
        ("post_never_runs_inline", post_never_runs_inline::<F>),
        (
            "dispatch_from_outside_never_runs_inline",
            dispatch_from_outside_never_runs_inline::<F>,
        ),
        ("posted_tasks_all_run", posted_tasks_all_run::<F>),
        (
            "work_is_tracked_until_completion",
            work_is_tracked_until_completion::<F>,
        ),
        (
            "strand_serializes_and_keeps_order",
            strand_serializes_and_keeps_order::<F>,
        ),
    ]
}

/// Runs one case by name.
///
/// # Panics
/// If no case has that name.
pub fn run_case<F: ExecutorFactory>(factory: &F, name: &str) -> Outcome {
    let (name, case) = cases::<F>()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no executor case named {name}"));
    crate::outcome_of(name, || case(factory))
}

/// Runs every case.
pub fn run<F: ExecutorFactory>(factory: &F) -> Report {
    Report {
        cases: cases::<F>()
            .into_iter()
            .map(|(name, case)| (name, crate::outcome_of(name, || case(factory))))
            .collect(),
    }
}

std::thread_local! {
    /// Set while this thread is inside a post/dispatch call made by a case.
    static IN_CALL: Cell<bool> = const { Cell::new(false) };
}

/// Runs `f` marked as "inside the call"; a task that sees the mark ran inline.
fn inside_call(f: impl FnOnce()) {
    IN_CALL.with(|c| c.set(true));
    f();
    IN_CALL.with(|c| c.set(false));
}

/// Rule: `post` never runs the task inside the call.
fn post_never_runs_inline<F: ExecutorFactory>(f: &F) -> CaseResult {
    let ex = f.executor();
    let inline = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let inline = inline.clone();
        inside_call(|| {
            ex.spawn(async move {
                if IN_CALL.with(Cell::get) {
                    inline.fetch_add(1, Ordering::SeqCst);
                }
            })
            .detach();
        });
    }
    f.run_until_idle(&ex);
    let n = inline.load(Ordering::SeqCst);
    ensure(n == 0, || {
        format!("{n} of 10 posted tasks ran inside the post call")
    })
}

/// Routes posts of its tasks through the inner executor's `dispatch`.
struct ViaDispatch(AnyExecutor);

impl Executor for ViaDispatch {
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

/// Rule: `dispatch` from a thread that is not running the executor posts; it never
/// runs the task inside the call.
fn dispatch_from_outside_never_runs_inline<F: ExecutorFactory>(f: &F) -> CaseResult {
    let ex = f.executor();
    ensure(!ex.running_in_this_thread(), || {
        "running_in_this_thread is true on a thread that runs nothing".into()
    })?;
    let via = AnyExecutor::new(ViaDispatch(ex.clone()));
    let inline = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        let inline = inline.clone();
        inside_call(|| {
            via.spawn(async move {
                if IN_CALL.with(Cell::get) {
                    inline.fetch_add(1, Ordering::SeqCst);
                }
            })
            .detach();
        });
    }
    f.run_until_idle(&ex);
    let n = inline.load(Ordering::SeqCst);
    ensure(n == 0, || {
        format!("{n} of 10 dispatched tasks ran inside the dispatch call")
    })
}

/// Rule: every posted task runs exactly once.
fn posted_tasks_all_run<F: ExecutorFactory>(f: &F) -> CaseResult {
    let ex = f.executor();
    let ran = Arc::new(AtomicUsize::new(0));
    for _ in 0..1000 {
        let ran = ran.clone();
        ex.spawn(async move {
            ran.fetch_add(1, Ordering::SeqCst);
        })
        .detach();
    }
    f.run_until_idle(&ex);
    let n = ran.load(Ordering::SeqCst);
    ensure(n == 1000, || format!("{n} of 1000 posted tasks ran"))
}

/// Rule: a task counts as outstanding work until it completes, across suspensions.
fn work_is_tracked_until_completion<F: ExecutorFactory>(f: &F) -> CaseResult {
    let ex = f.executor();
    let handle = ex.spawn(async {
        for _ in 0..10 {
            strait_streams::yield_now().await;
        }
        7
    });
    f.run_until_idle(&ex);
    ensure(handle.is_finished(), || {
        "run_until_idle returned before a suspended task finished: work not tracked".into()
    })
}

/// Rule (strands over this executor): FIFO, never two tasks at once.
fn strand_serializes_and_keeps_order<F: ExecutorFactory>(f: &F) -> CaseResult {
    let ex = f.executor();
    let strand = Strand::new(ex.clone());
    let order = Arc::new(Mutex::new(Vec::new()));
    let in_flight = Arc::new(AtomicUsize::new(0));
    let overlaps = Arc::new(AtomicUsize::new(0));
    for i in 0..200 {
        let (order, in_flight, overlaps) = (order.clone(), in_flight.clone(), overlaps.clone());
        strand
            .spawn(async move {
                if in_flight.fetch_add(1, Ordering::SeqCst) != 0 {
                    overlaps.fetch_add(1, Ordering::SeqCst);
                }
                order.lock().expect("order lock").push(i);
                std::hint::spin_loop();
                in_flight.fetch_sub(1, Ordering::SeqCst);
            })
            .detach();
    }
    f.run_until_idle(&ex);
    let overlaps = overlaps.load(Ordering::SeqCst);
    ensure(overlaps == 0, || {
        format!("{overlaps} strand tasks overlapped")
    })?;
    let order = order.lock().expect("order lock");
    ensure(*order == (0..200).collect::<Vec<_>>(), || {
        format!("strand tasks ran out of order ({} ran)", order.len())
    })
}
