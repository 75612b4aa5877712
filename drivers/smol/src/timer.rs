//! [`AsyncIoTimer`]: async-io's timers as the strait [`TimerService`], so `delay` and
//! `timeout` in strait code on smol (or async-std) wait on async-io's reactor.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use async_io::Timer;
use strait_streams::driver::{TimerKey, TimerService, TimerTable};

/// A [`TimerService`] on async-io's reactor: one driver task sleeping on one
/// [`async_io::Timer`] until the earliest deadline of a [`TimerTable`].
///
/// A `delay` or `timeout` adds an entry to the table (its storage is reused, so steady
/// state allocates nothing) and, when it became the earliest deadline, wakes the driver,
/// which moves its one `Timer` (`Timer::set_at`). There is no `Timer` per delay. Due
/// entries are woken on the driver's thread.
///
/// The driver is a future ([`TimerDriver`]) that the caller spawns on the executor whose
/// tasks use the service; [`SmolExecutor`](crate::SmolExecutor) and
/// [`LocalExecutor`](crate::LocalExecutor) do it themselves. It ends when the last
/// handle to the service is dropped. If it is dropped unfinished (its executor went
/// away), scheduled entries never fire: their tasks went away with that executor.
pub struct AsyncIoTimer {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    table: TimerTable,
    /// The driver's waker, taken by whoever must wake it.
    driver: Option<Waker>,
    closed: bool,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Nothing panics while holding the lock in a way that leaves the table broken.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl AsyncIoTimer {
    /// A timer service and its driver, to be spawned on an executor that is run.
    ///
    /// ```
    /// use std::time::Duration;
    /// use strait_smol::AsyncIoTimer;
    ///
    /// let ex = async_executor::Executor::new();
    /// let (timer, driver) = AsyncIoTimer::new();
    /// ex.spawn(driver).detach();
    /// assert_eq!(timer.scheduled(), 0);
    /// ```
    pub fn new() -> (Arc<AsyncIoTimer>, TimerDriver) {
        let shared = Arc::new(Shared::default());
        let driver = TimerDriver {
            shared: shared.clone(),
            timer: Timer::never(),
            armed: None,
        };
        (Arc::new(AsyncIoTimer { shared }), driver)
    }

    /// How many entries are scheduled (neither fired nor canceled).
    pub fn scheduled(&self) -> usize {
        self.shared.lock().table.len()
    }
}

/// The task that serves an [`AsyncIoTimer`]: spawn it once on an executor that runs.
#[must_use = "the timer fires nothing unless its driver is spawned"]
pub struct TimerDriver {
    shared: Arc<Shared>,
    timer: Timer,
    /// The deadline `timer` is set to, if any.
    armed: Option<Instant>,
}

impl Future for TimerDriver {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let mut state = this.shared.lock();
            if state.closed {
                return Poll::Ready(());
            }
            if let Some(waker) = state.table.pop_due(Instant::now()) {
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
            let Some(next) = state.table.next_deadline() else {
                return Poll::Pending;
            };
            drop(state);
            if this.armed != Some(next) {
                this.timer.set_at(next);
                this.armed = Some(next);
            }
            if Pin::new(&mut this.timer).poll(cx).is_pending() {
                return Poll::Pending;
            }
            // Fired (async-io's clock is `Instant` too): what is due now pops above.
            this.armed = None;
        }
    }
}

impl TimerService for AsyncIoTimer {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        let mut state = self.shared.lock();
        let (key, earliest) = state.table.schedule(deadline, waker, key);
        let driver = if earliest { state.driver.take() } else { None };
        drop(state);
        if let Some(driver) = driver {
            driver.wake();
        }
        key
    }

    fn cancel(&self, key: TimerKey) {
        self.shared.lock().table.cancel(key);
    }
}

impl Drop for AsyncIoTimer {
    fn drop(&mut self) {
        let driver = {
            let mut state = self.shared.lock();
            state.closed = true;
            state.driver.take()
        };
        if let Some(driver) = driver {
            driver.wake();
        }
    }
}

impl std::fmt::Debug for AsyncIoTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncIoTimer")
            .field("scheduled", &self.scheduled())
            .finish()
    }
}

impl std::fmt::Debug for TimerDriver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TimerDriver")
            .field("armed", &self.armed)
            .finish_non_exhaustive()
    }
}
