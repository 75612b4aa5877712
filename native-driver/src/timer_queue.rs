//! The context's timer queue: serves `delay`/`timeout` (through
//! `Executor::timer_service`) and bounds the reactor's wait. The bookkeeping is
//! strait-streams' [`TimerTable`] (live timers only: a canceled or fired timer leaves no
//! entry); this adds the lock and the reactor wake-up. Entries fire only once due, as
//! the `TimerService` contract requires: a `Delay` or a `Timer::wait` re-polled with an
//! unchanged deadline and waker does not call `schedule` again, so it never takes this
//! lock then.

use std::sync::{Arc, Mutex, Weak};
use std::task::Waker;
use std::time::Instant;

use strait_streams::{driver::TimerKey, driver::TimerService, driver::TimerTable};

use crate::context::Shared;
use crate::sync::lock;

/// Many thousands of timers alive at once cost one table entry each; keys are the
/// table's own (opaque to callers).
#[derive(Debug)]
pub(crate) struct TimerQueue {
    table: Mutex<TimerTable>,
    /// The context to wake when an earlier deadline arrives from another thread.
    context: Weak<Shared>,
}

impl TimerQueue {
    pub(crate) fn new(context: Weak<Shared>) -> Self {
        TimerQueue {
            table: Mutex::new(TimerTable::new()),
            context,
        }
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        lock(&self.table).next_deadline()
    }

    /// Wakes every timer due at `now`, outside the lock, taking up to 32 per lock;
    /// returns how many fired.
    pub(crate) fn fire_expired(&self, now: Instant) -> usize {
        const PER_LOCK: usize = 32;
        let mut fired = 0;
        let mut due: [Option<Waker>; PER_LOCK] = Default::default();
        loop {
            let mut n = 0;
            {
                let mut table = lock(&self.table);
                while n < PER_LOCK {
                    match table.pop_due(now) {
                        Some(waker) => {
                            due[n] = waker;
                            n += 1;
                        }
                        None => break,
                    }
                }
            }
            fired += n;
            for w in due[..n].iter_mut().filter_map(Option::take) {
                w.wake();
            }
            if n < PER_LOCK {
                return fired;
            }
        }
    }
}

impl TimerService for TimerQueue {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        let (key, earliest) = lock(&self.table).schedule(deadline, waker, key);
        if earliest {
            if let Some(ctx) = self.context.upgrade() {
                ctx.wake_reactor();
            }
        }
        key
    }

    fn cancel(&self, key: TimerKey) {
        lock(&self.table).cancel(key);
    }
}

/// Shares the queue as the executor's timer service.
pub(crate) fn service(queue: &Arc<TimerQueue>) -> Arc<dyn TimerService> {
    queue.clone()
}
