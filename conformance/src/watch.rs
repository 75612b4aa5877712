//! Running one case: the label of the step it is in, a watchdog thread that names a
//! case whose poll blocked its thread, and the gate that keeps allocation-counting
//! cases alone in the process.
//!
//! A case that waits forever (a missed wake-up, withheld bytes) is failed by its own
//! time bound, and the failure names the step. A case whose poll *blocks the thread*
//! cannot be failed from inside; the watchdog then writes the case and its step to
//! stderr, so a hung test says where it hangs.

use std::future::Future;
use std::io::{self, Write as _};
use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::task::Poll;
use std::time::{Duration, Instant};

use crate::report::{CaseResult, Outcome};

/// How long past its step's bound a case may sit in one step before the watchdog
/// reports it.
const GRACE: Duration = Duration::from_secs(2);

/// How often the watchdog looks.
const PERIOD: Duration = Duration::from_millis(250);

/// Where a case is: its current step and that step's deadline.
struct Position {
    label: &'static str,
    deadline: Instant,
}

/// The running case's steps, shared with the watchdog. Updating a step allocates
/// nothing, so steps may change inside an allocation-counting window.
pub(crate) struct Steps {
    position: Arc<Mutex<Position>>,
    /// The bound for steps without their own.
    case_limit: Duration,
    note: Mutex<Option<String>>,
}

impl Steps {
    fn new(case_limit: Duration) -> Steps {
        Steps {
            position: Arc::new(Mutex::new(Position {
                label: "case body",
                deadline: Instant::now() + case_limit,
            })),
            case_limit,
            note: Mutex::new(None),
        }
    }

    fn set(&self, label: &'static str, limit: Duration) {
        let mut p = self.position.lock().unwrap_or_else(PoisonError::into_inner);
        p.label = label;
        p.deadline = Instant::now() + limit;
    }

    /// Enters the step `label`, bounded by the case's limit.
    pub(crate) fn enter(&self, label: &'static str) {
        self.set(label, self.case_limit);
    }

    /// The current step.
    pub(crate) fn current(&self) -> &'static str {
        self.position
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .label
    }

    /// Records a note: the case then ends as [`Outcome::Noted`] if it succeeds.
    pub(crate) fn note(&self, note: String) {
        *self.note.lock().unwrap_or_else(PoisonError::into_inner) = Some(note);
    }

    /// Runs the I/O step `label`; an error fails the case naming the step.
    pub(crate) async fn io<T>(
        &self,
        label: &'static str,
        f: impl Future<Output = io::Result<T>>,
    ) -> Result<T, String> {
        self.enter(label);
        f.await
            .map_err(|e| format!("step `{label}`: unexpected error: {e}"))
    }

    /// Runs the step `label`, failing (and abandoning it) if it takes longer than
    /// `limit`. Unlike `strait_streams::timeout`, it drops `f` instead of stopping and
    /// awaiting it, so a transport that ignores stop requests cannot hang the case.
    pub(crate) async fn bounded<T>(
        &self,
        label: &'static str,
        limit: Duration,
        f: impl Future<Output = io::Result<T>>,
    ) -> Result<io::Result<T>, String> {
        self.set(label, limit);
        race(f, limit)
            .await
            .ok_or_else(|| format!("hung in step `{label}`: not complete within {limit:?}"))
    }

    /// Runs a whole case body, failing (and abandoning it) if it takes longer than
    /// `limit`; the failure names the step the body was in.
    pub(crate) async fn within(
        &self,
        limit: Duration,
        body: impl Future<Output = CaseResult>,
    ) -> CaseResult {
        match race(body, limit).await {
            Some(r) => r,
            None => Err(format!(
                "hung in step `{}`: the case did not finish within {limit:?} (lost or \
                 withheld bytes, or a missed wake-up)",
                self.current()
            )),
        }
    }
}

/// `Some(output)` of `f`, or `None` if `limit` passes first.
async fn race<T>(f: impl Future<Output = T>, limit: Duration) -> Option<T> {
    let mut f = pin!(f);
    let mut timer = pin!(strait_streams::delay(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Some(v));
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(_) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Whether a case may share the process with other cases.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Runs alongside other cases.
    Shared,
    /// Runs alone among the kit's cases (it counts allocations process-wide).
    Exclusive,
}

static GATE: RwLock<()> = RwLock::new(());

/// Runs `case` as `name`: under the gate, watched, with panics turned into failures,
/// the skip marker into a skip and a recorded note into [`Outcome::Noted`].
pub(crate) fn run_watched(
    name: &'static str,
    gate: Gate,
    case_limit: Duration,
    case: impl FnOnce(&Steps) -> CaseResult,
) -> Outcome {
    let _gate = match gate {
        Gate::Shared => Ok(GATE.read().unwrap_or_else(PoisonError::into_inner)),
        Gate::Exclusive => Err(GATE.write().unwrap_or_else(PoisonError::into_inner)),
    };
    let steps = Steps::new(case_limit);
    let _watched = Watchdog::watch(name, &steps);
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| case(&steps)));
    match result {
        Ok(Ok(())) => match steps
            .note
            .into_inner()
            .unwrap_or_else(PoisonError::into_inner)
        {
            Some(note) => Outcome::Noted(note),
            None => Outcome::Passed,
        },
        Ok(Err(why)) if why == crate::SKIP_NO_COUNTER => Outcome::Skipped(why),
        Ok(Err(why)) => Outcome::Failed(why),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            Outcome::Failed(format!("panicked in step `{}`: {msg}", steps.current()))
        }
    }
}

/// A case the watchdog looks at.
struct Watched {
    id: u64,
    case: &'static str,
    position: Arc<Mutex<Position>>,
    reported: bool,
}

/// The cases running now; the watchdog thread scans them.
static WATCHED: Mutex<Vec<Watched>> = Mutex::new(Vec::new());

/// Removes its case from the watch list when the case ends.
struct Watchdog(u64);

impl Watchdog {
    fn watch(case: &'static str, steps: &Steps) -> Watchdog {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        start_thread();
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        WATCHED
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(Watched {
                id,
                case,
                position: steps.position.clone(),
                reported: false,
            });
        Watchdog(id)
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        let mut watched = WATCHED.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(i) = watched.iter().position(|w| w.id == self.0) {
            watched.swap_remove(i);
        }
    }
}

/// The reports due at `now`: each case past its step's deadline (plus the grace),
/// once. Allocates only when it reports.
fn overdue(watched: &mut [Watched], now: Instant) -> Vec<String> {
    let mut out = Vec::new();
    for w in watched.iter_mut().filter(|w| !w.reported) {
        let p = w.position.lock().unwrap_or_else(PoisonError::into_inner);
        if now > p.deadline + GRACE {
            out.push(format!(
                "strait-conformance: case `{}` hung in step `{}`: a poll has blocked its \
                 thread past the step's bound, so the case cannot fail on its own",
                w.case, p.label
            ));
            drop(p);
            w.reported = true;
        }
    }
    out
}

/// Starts the process's watchdog thread once, and waits until it runs: its start-up
/// allocations then cannot fall into a counting window.
fn start_thread() {
    static STARTED: std::sync::Once = std::sync::Once::new();
    static RUNNING: AtomicBool = AtomicBool::new(false);
    STARTED.call_once(|| {
        let spawned = std::thread::Builder::new()
            .name("strait-conformance-watchdog".into())
            .spawn(|| {
                RUNNING.store(true, Ordering::Release);
                loop {
                    std::thread::sleep(PERIOD);
                    let reports = overdue(
                        &mut WATCHED.lock().unwrap_or_else(PoisonError::into_inner),
                        Instant::now(),
                    );
                    for r in reports {
                        // Straight to the process's stderr: the test harness's output
                        // capture belongs to whichever test started this thread.
                        let _ = writeln!(io::stderr(), "{r}");
                    }
                }
            });
        if spawned.is_ok() {
            while !RUNNING.load(Ordering::Acquire) {
                std::thread::yield_now();
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watchdog_names_the_step_a_blocked_case_is_in_once() {
        let steps = Steps::new(Duration::from_secs(1));
        steps.set("read after the peer's shutdown", Duration::from_millis(10));
        let mut watched = vec![Watched {
            id: 0,
            case: "a_case",
            position: steps.position.clone(),
            reported: false,
        }];
        let now = Instant::now();
        assert!(overdue(&mut watched, now).is_empty(), "within the bound");
        let late = now + GRACE + Duration::from_millis(20);
        let reports = overdue(&mut watched, late);
        assert_eq!(reports.len(), 1);
        assert!(
            reports[0].contains("`a_case` hung in step `read after the peer's shutdown`"),
            "{}",
            reports[0]
        );
        assert!(overdue(&mut watched, late).is_empty(), "reported once");
    }

    #[test]
    fn a_case_past_its_bound_fails_naming_its_step() {
        let outcome = run_watched("slow", Gate::Shared, Duration::from_secs(5), |s| {
            strait_streams::block_on(s.within(Duration::from_millis(50), async {
                s.enter("waiting for nothing");
                std::future::pending::<()>().await;
                Ok(())
            }))
        });
        match outcome {
            Outcome::Failed(why) => {
                assert!(why.contains("hung in step `waiting for nothing`"), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_note_makes_a_noted_outcome() {
        let outcome = run_watched("noted", Gate::Exclusive, Duration::from_secs(5), |s| {
            s.note("measured 3".into());
            Ok(())
        });
        assert_eq!(outcome, Outcome::Noted("measured 3".into()));
    }
}
