//! [`DrivenTimerTable`]: a [`TimerTable`] under a lock, shared by a timer service's
//! handles and the one driver task that sleeps until its earliest deadline — the shape
//! of a [`TimerService`](super::timer::TimerService) built on a foreign runtime's single
//! sleep (strait-tokio's `TokioTimer`, strait-smol's `AsyncIoTimer`).

use std::sync::Mutex;
use std::task::{Context, Waker};
use std::time::Instant;

use super::timer::TimerKey;
use super::timer_table::TimerTable;
use crate::sync::lock;

/// Deadlines, the driver task's waker, and whether the service is gone.
///
/// The service's `schedule` and `cancel` forward here; its driver task calls
/// [`fire_due`](Self::fire_due) on every poll and sleeps until the instant it returns.
/// Scheduling a new earliest deadline wakes the driver so it moves its sleep; closing
/// wakes it so it ends. Storage is the table's: no allocation per timer in steady state.
///
/// ```
/// use std::task::{Context, Waker};
/// use std::time::{Duration, Instant};
/// use strait_streams::driver::{DrivenTimerTable, NextWake};
///
/// let timers = DrivenTimerTable::new();
/// let mut cx = Context::from_waker(Waker::noop());
/// assert_eq!(timers.fire_due(Instant::now(), &mut cx), NextWake::Idle);
/// let at = Instant::now() + Duration::from_secs(60);
/// timers.schedule(at, Waker::noop(), None);
/// assert_eq!(timers.fire_due(Instant::now(), &mut cx), NextWake::At(at));
/// timers.close();
/// assert_eq!(timers.fire_due(Instant::now(), &mut cx), NextWake::Closed);
/// ```
#[derive(Debug, Default)]
pub struct DrivenTimerTable {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    table: TimerTable,
    /// The driver task's waker, taken by whoever must wake it.
    driver: Option<Waker>,
    closed: bool,
}

/// What the driver task does after [`DrivenTimerTable::fire_due`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextWake {
    /// The service is gone: the driver task ends.
    Closed,
    /// Nothing is scheduled: wait until a `schedule` wakes the driver.
    Idle,
    /// Sleep until this instant (or until a `schedule` of an earlier one wakes it).
    At(Instant),
}

impl DrivenTimerTable {
    /// An empty table with no driver yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many timers are scheduled (neither fired nor canceled).
    pub fn scheduled(&self) -> usize {
        lock(&self.state).table.len()
    }

    /// Schedules (or, with `key`, moves) a timer; wakes the driver when it became the
    /// earliest deadline. The body of [`TimerService::schedule`](super::timer::TimerService::schedule).
    pub fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        let mut state = lock(&self.state);
        let (key, earliest) = state.table.schedule(deadline, waker, key);
        let driver = if earliest { state.driver.take() } else { None };
        drop(state);
        if let Some(driver) = driver {
            driver.wake();
        }
        key
    }

    /// Cancels a timer; a key that already fired does nothing.
    pub fn cancel(&self, key: TimerKey) {
        lock(&self.state).table.cancel(key);
    }

    /// The service is gone: the driver's next [`fire_due`](Self::fire_due) returns
    /// [`NextWake::Closed`]. Wakes the driver so that happens now.
    pub fn close(&self) {
        let driver = {
            let mut state = lock(&self.state);
            state.closed = true;
            state.driver.take()
        };
        if let Some(driver) = driver {
            driver.wake();
        }
    }

    /// Wakes every timer due at `now` (each outside the lock), records `cx`'s waker
    /// as the driver's, and says how long the driver may sleep.
    pub fn fire_due(&self, now: Instant, cx: &mut Context<'_>) -> NextWake {
        loop {
            let mut state = lock(&self.state);
            if state.closed {
                return NextWake::Closed;
            }
            if let Some(waker) = state.table.pop_due(now) {
                drop(state);
                if let Some(waker) = waker {
                    waker.wake();
                }
                continue;
            }
            match &state.driver {
                Some(w) if w.will_wake(cx.waker()) => {}
                _ => state.driver = Some(cx.waker().clone()),
            }
            return match state.table.next_deadline() {
                Some(at) => NextWake::At(at),
                None => NextWake::Idle,
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::Wake;
    use std::time::Duration;

    use super::*;

    #[derive(Default)]
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    #[test]
    fn due_timers_fire_and_an_earlier_deadline_wakes_the_driver() {
        let timers = DrivenTimerTable::new();
        let driver = Arc::new(Count::default());
        let timer = Arc::new(Count::default());
        let driver_waker = Waker::from(driver.clone());
        let timer_waker = Waker::from(timer.clone());
        let mut cx = Context::from_waker(&driver_waker);
        let t0 = Instant::now();
        let late = t0 + Duration::from_secs(10);
        let early = t0 + Duration::from_secs(1);

        timers.schedule(late, &timer_waker, None);
        assert_eq!(timers.fire_due(t0, &mut cx), NextWake::At(late));
        // A later deadline leaves the driver asleep; an earlier one wakes it.
        timers.schedule(late + Duration::from_secs(1), &timer_waker, None);
        assert_eq!(driver.0.load(Ordering::SeqCst), 0);
        let key = timers.schedule(early, &timer_waker, None);
        assert_eq!(driver.0.load(Ordering::SeqCst), 1);

        assert_eq!(timers.fire_due(t0, &mut cx), NextWake::At(early));
        timers.cancel(key);
        assert_eq!(
            timers.fire_due(late, &mut cx),
            NextWake::At(late + Duration::from_secs(1))
        );
        assert_eq!(
            timer.0.load(Ordering::SeqCst),
            1,
            "only the due timer fired"
        );
        assert_eq!(timers.scheduled(), 1);

        timers.close();
        assert_eq!(
            driver.0.load(Ordering::SeqCst),
            2,
            "closing wakes the driver"
        );
        assert_eq!(timers.fire_due(late, &mut cx), NextWake::Closed);
    }
}
