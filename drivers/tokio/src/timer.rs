//! [`TokioTimer`]: tokio's timer as the strait [`TimerService`], so `delay` and
//! `timeout` in strait code on tokio wait on tokio's time driver.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use strait_streams::driver::{DrivenTimerTable, NextWake, TimerKey, TimerService};
use tokio::runtime::Handle;
use tokio::time::Sleep;

/// A [`TimerService`] on tokio's time driver: one tokio task sleeping until the earliest
/// deadline of a [`DrivenTimerTable`].
///
/// A `delay` or `timeout` adds an entry to the table (its storage is reused, so steady
/// state allocates nothing) and, when it became the earliest deadline, wakes the driver
/// task, which resets its one `tokio::time::Sleep`. There is no `Sleep` (and no
/// allocation) per delay, unlike `tokio::time::sleep` boxed per call. Due entries are
/// woken on the driver task's thread.
///
/// Its clock is tokio's ([`TimerService::now`]): under tokio's paused test time
/// (`start_paused`, `tokio::time::advance`) strait's `delay` and `timeout` follow the
/// paused clock like `tokio::time::sleep` does.
///
/// The driver task runs until the last handle to the service is dropped, or until the
/// runtime shuts down (after which scheduled entries never fire: their tasks are
/// gone with the runtime too). The runtime needs its time driver (`enable_time`).
pub struct TokioTimer {
    timers: Arc<DrivenTimerTable>,
}

impl TokioTimer {
    /// A timer service on `handle`'s runtime; spawns its driver task there.
    ///
    /// # Panics
    /// If the runtime has no time driver (`enable_time` was not called).
    pub fn new(handle: &Handle) -> Arc<TokioTimer> {
        let timers = Arc::new(DrivenTimerTable::new());
        let driver = timers.clone();
        // Made here, in the runtime's context, so a runtime without a time driver fails
        // now with tokio's message instead of in the driver task (where every delay
        // would then hang). Far ahead until the first entry; reset in place after.
        let sleep = {
            let _context = handle.enter();
            tokio::time::sleep(std::time::Duration::from_secs(86_400 * 365))
        };
        drop(handle.spawn(async move {
            let mut sleep = std::pin::pin!(sleep);
            poll_fn(|cx| drive(&driver, sleep.as_mut(), cx)).await;
        }));
        Arc::new(TokioTimer { timers })
    }

    /// How many entries are scheduled (neither fired nor canceled).
    pub fn scheduled(&self) -> usize {
        self.timers.scheduled()
    }
}

/// tokio's clock (paused or not) as a `std` instant: the service's and the table's time.
fn tokio_now() -> Instant {
    tokio::time::Instant::now().into_std()
}

/// One poll of the driver task: wakes what is due, then sleeps until the next deadline.
fn drive(timers: &DrivenTimerTable, mut sleep: Pin<&mut Sleep>, cx: &mut Context<'_>) -> Poll<()> {
    // Bounds the loop should a sleep fire before the table's deadline (a deadline past
    // what tokio can represent): it yields instead of spinning.
    let mut fired_idle = false;
    loop {
        let next = match timers.fire_due(tokio_now(), cx) {
            NextWake::Closed => return Poll::Ready(()),
            NextWake::Idle => return Poll::Pending,
            NextWake::At(next) => tokio::time::Instant::from_std(next),
        };
        if sleep.deadline() != next {
            sleep.as_mut().reset(next);
        }
        if sleep.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        if fired_idle {
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        fired_idle = true;
    }
}

impl TimerService for TokioTimer {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        self.timers.schedule(deadline, waker, key)
    }

    fn cancel(&self, key: TimerKey) {
        self.timers.cancel(key);
    }

    fn now(&self) -> Instant {
        tokio_now()
    }
}

impl Drop for TokioTimer {
    fn drop(&mut self) {
        self.timers.close();
    }
}

impl std::fmt::Debug for TokioTimer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokioTimer")
            .field("scheduled", &self.scheduled())
            .finish()
    }
}
