//! [`delay`] and [`timeout`], served by the current context's [`TimerService`] or, on
//! executors without one, by the portable [`FallbackTimer`] thread.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{Scope, TimerTable};
use crate::stop::StopWaker;
use crate::sync::lock;

/// Identifies one scheduled wake-up of a [`TimerService`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimerKey {
    /// Slot in the service's table.
    pub slot: usize,
    /// Generation of the slot, so a stale key never cancels a reused slot.
    pub generation: u64,
}

/// Wakes wakers at deadlines: what [`delay`] and [`timeout`] use. An execution context
/// offers its own through [`Executor::timer_service`](crate::Executor::timer_service)
/// (the native driver's timer wheel); otherwise the [`FallbackTimer`] serves.
pub trait TimerService: Send + Sync + 'static {
    /// Wakes `waker` at `deadline`. With `key` from an earlier call for the same timer,
    /// updates that entry instead of adding one. Returns the entry's key.
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey;
    /// Removes the entry; a key that already fired or was canceled is ignored.
    fn cancel(&self, key: TimerKey);
}

/// A portable timer: one thread per process waiting on a [`TimerTable`].
///
/// Entries live in a slab reused after they fire, so steady-state scheduling does not
/// allocate. Wakers are woken on the timer thread, which only posts the tasks.
pub struct FallbackTimer {
    table: Mutex<TimerTable>,
    changed: Condvar,
}

impl FallbackTimer {
    /// The process-wide instance; starts its thread on first use.
    pub fn global() -> Arc<FallbackTimer> {
        static GLOBAL: OnceLock<Arc<FallbackTimer>> = OnceLock::new();
        GLOBAL
            .get_or_init(|| {
                let timer = Arc::new(FallbackTimer {
                    table: Mutex::new(TimerTable::new()),
                    changed: Condvar::new(),
                });
                let worker = timer.clone();
                std::thread::Builder::new()
                    .name("strait-timer".into())
                    .spawn(move || worker.run())
                    .expect("failed to start the fallback timer thread");
                timer
            })
            .clone()
    }

    fn run(&self) {
        let mut table = lock(&self.table);
        loop {
            // Wake what is due, one at a time, outside the lock.
            if let Some(waker) = table.pop_due(Instant::now()) {
                drop(table);
                if let Some(w) = waker {
                    w.wake();
                }
                table = lock(&self.table);
                continue;
            }
            table = match table.next_deadline() {
                Some(deadline) => {
                    let wait = deadline.saturating_duration_since(Instant::now());
                    self.changed
                        .wait_timeout(table, wait)
                        .unwrap_or_else(std::sync::PoisonError::into_inner)
                        .0
                }
                None => self
                    .changed
                    .wait(table)
                    .unwrap_or_else(std::sync::PoisonError::into_inner),
            };
        }
    }
}

impl TimerService for FallbackTimer {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        let (key, earliest) = lock(&self.table).schedule(deadline, waker, key);
        if earliest {
            self.changed.notify_one();
        }
        key
    }

    fn cancel(&self, key: TimerKey) {
        lock(&self.table).cancel(key);
    }
}

/// Completes after `duration`; see [`Delay`].
pub fn delay(duration: Duration) -> Delay {
    delay_until(Instant::now() + duration)
}

/// Completes at `deadline`; see [`Delay`].
pub fn delay_until(deadline: Instant) -> Delay {
    Delay {
        deadline,
        service: None,
        key: None,
        stop: None,
    }
}

/// Future of [`delay`]: `Ok(())` at the deadline, or the [canceled](crate::canceled)
/// error as soon as the environment's stop token is triggered. A deadline already past
/// completes on the first poll without touching the timer. Dropping it cancels the
/// timer entry.
pub struct Delay {
    deadline: Instant,
    service: Option<Arc<dyn TimerService>>,
    key: Option<TimerKey>,
    stop: Option<StopWaker>,
}

impl Delay {
    /// When the delay completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Re-arms the delay for `deadline`, reusing its timer entry (no allocation), so one
    /// `Delay` can pace a loop.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        // SAFETY: only the deadline changes; nothing pinned moves.
        unsafe { self.get_unchecked_mut() }.deadline = deadline;
    }
}

impl Future for Delay {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: only `stop` is structurally pinned, and it is never moved once set.
        let this = unsafe { self.get_unchecked_mut() };
        if Instant::now() >= this.deadline {
            return Poll::Ready(Ok(()));
        }
        let stop = this.stop.get_or_insert_with(|| {
            StopWaker::new(crate::env::with_env(|env| env.stop_token.clone()))
        });
        // SAFETY: `stop` lives in the pinned delay.
        if unsafe { Pin::new_unchecked(stop) }.poll_stopped(cx.waker()) {
            return Poll::Ready(Err(crate::canceled()));
        }
        let service = this.service.get_or_insert_with(|| {
            crate::env::with_env(|env| env.executor.timer_service())
                .unwrap_or_else(|| FallbackTimer::global())
        });
        this.key = Some(service.schedule(this.deadline, cx.waker(), this.key));
        Poll::Pending
    }
}

impl Drop for Delay {
    fn drop(&mut self) {
        if let (Some(service), Some(key)) = (&self.service, self.key) {
            service.cancel(key);
        }
    }
}

impl std::fmt::Debug for Delay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Delay")
            .field("deadline", &self.deadline)
            .finish()
    }
}

/// Races `future` against a [`delay`] of `duration`.
///
/// If the future finishes first, its result is returned unchanged (success or error).
/// If the delay fires first, the future is stopped through its stop token and awaited,
/// and the result is an `ErrorKind::TimedOut` error. If the caller's token stops, both
/// are stopped and the future's (canceled) result is returned.
///
/// ```
/// use std::time::Duration;
/// use strait_streams::{block_on, delay, timeout};
/// let slow = async {
///     delay(Duration::from_secs(10)).await?;
///     Ok::<_, std::io::Error>("finished")
/// };
/// let err = block_on(timeout(Duration::from_millis(10), slow)).unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
/// ```
pub fn timeout<T, F>(duration: Duration, future: F) -> Timeout<F>
where
    F: Future<Output = io::Result<T>>,
{
    Timeout {
        scope: Scope::new(),
        future: Some(future),
        delay: delay(duration),
        timed_out: false,
    }
}

/// Future of [`timeout`].
pub struct Timeout<F> {
    scope: Scope,
    future: Option<F>,
    delay: Delay,
    timed_out: bool,
}

impl<T, F: Future<Output = io::Result<T>>> Future for Timeout<F> {
    type Output = io::Result<T>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        // SAFETY: `scope`, `future` and `delay` are structurally pinned and never moved.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: `scope` is structurally pinned (as above).
        let scope = unsafe { Pin::new_unchecked(&mut this.scope) };
        let future = &mut this.future;
        let inner = scope.enter(cx, |cx| match future {
            // SAFETY: see above.
            Some(f) => unsafe { Pin::new_unchecked(f) }.poll(cx),
            None => Poll::Pending,
        });
        if let Poll::Ready(result) = inner {
            this.future = None;
            return Poll::Ready(if this.timed_out {
                Err(io::ErrorKind::TimedOut.into())
            } else {
                result
            });
        }
        if !this.timed_out {
            // SAFETY: see above.
            if let Poll::Ready(fired) = unsafe { Pin::new_unchecked(&mut this.delay) }.poll(cx) {
                if fired.is_ok() {
                    // The timer won: stop the future, then wait for it to finish.
                    this.timed_out = true;
                    this.scope.stop_children();
                    cx.waker().wake_by_ref();
                }
                // A canceled delay means the caller stopped: the scope forwarded that
                // stop to the future, whose result we return.
            }
        }
        Poll::Pending
    }
}
