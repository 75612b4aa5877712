//! [`delay`] and [`timeout`], served by the current context's [`TimerService`] or, on
//! executors without one, by the portable [`FallbackTimer`] thread.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::{Scope, TimerTable};
use crate::sync::lock;

/// Identifies one scheduled wake-up of a [`TimerService`]. Opaque to callers: each
/// service packs into its 64 bits whatever finds its entry again (a slot and a
/// generation, a sequence number, an address), and must ignore keys that no longer name
/// a scheduled entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TimerKey(u64);

impl TimerKey {
    /// A key carrying `raw`, as the service that issues it encodes it.
    pub const fn from_raw(raw: u64) -> Self {
        TimerKey(raw)
    }

    /// The value the key was made from.
    pub const fn into_raw(self) -> u64 {
        self.0
    }
}

/// Wakes wakers at deadlines: what [`delay`] and [`timeout`] use. An execution context
/// offers its own through [`Executor::timer_service`](crate::Executor::timer_service)
/// (the native driver's timer queue); otherwise the [`FallbackTimer`] serves.
///
/// Contract callers rely on: an entry wakes its waker once, at or after its deadline and
/// never before, unless it is rescheduled or canceled first. A [`Delay`] re-polled before
/// its deadline with the same waker therefore does not call the service again (no lock
/// on such a re-poll).
pub trait TimerService: Send + Sync + 'static {
    /// Wakes `waker` at `deadline`. With the `key` of an entry still scheduled, updates
    /// that entry instead of adding one; a key that already fired or was canceled is
    /// ignored (a new entry is added). Returns the entry's key.
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey;
    /// Removes the entry; a key that already fired or was canceled is ignored.
    fn cancel(&self, key: TimerKey);
    /// The service's clock: [`delay`] counts from it and [`Delay`] compares its
    /// deadline with it. The system clock unless the service runs on a virtual one (a
    /// driver over tokio returns tokio's clock, so paused time drives strait's timers).
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The current environment's timer service, if its executor has one.
fn current_service() -> Option<Arc<dyn TimerService>> {
    crate::env::with_env(|env| env.executor.timer_service())
}

/// A portable timer: one thread per process waiting on a [`TimerTable`].
///
/// The table holds live timers only and reuses its storage, so steady-state scheduling
/// does not allocate. Wakers are woken on the timer thread, which only posts the tasks;
/// an entry is woken once its deadline passed, never before (the [`TimerService`]
/// contract).
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

/// Completes after `duration`; see [`Delay`]. A duration past what [`Instant`] can
/// represent (such as `Duration::MAX`, "no deadline") saturates to a deadline decades
/// ahead: the delay then ends only when its stop token stops.
///
/// The duration counts from the clock of the current environment's
/// [`TimerService`] ([`TimerService::now`]), the system clock unless a driver provides
/// a virtual one; outside every context, from the system clock.
pub fn delay(duration: Duration) -> Delay {
    match current_service() {
        Some(service) => {
            let mut delay = delay_until(deadline_after(service.now(), duration));
            delay.service = Some(service);
            delay
        }
        None => delay_until(deadline_after(Instant::now(), duration)),
    }
}

/// `now + duration`, saturated: decades ahead when the sum does not fit in an `Instant`.
pub(crate) fn deadline_after(now: Instant, duration: Duration) -> Instant {
    if let Some(deadline) = now.checked_add(duration) {
        return deadline;
    }
    // Thirty years, as tokio's "far future"; less on a platform whose clock cannot hold it.
    let mut far = Duration::from_secs(30 * 365 * 24 * 3600);
    loop {
        if let Some(deadline) = now.checked_add(far) {
            return deadline;
        }
        far /= 2;
    }
}

/// Completes at `deadline`, on the clock of the timer service that serves it (see
/// [`TimerService::now`]; the system clock unless a driver provides a virtual one); see
/// [`Delay`].
pub fn delay_until(deadline: Instant) -> Delay {
    Delay {
        deadline,
        service: None,
        waker: WakerId::NONE,
        key: 0,
        flags: 0,
    }
}

/// Which waker the timer entry holds: its data and vtable addresses, compared as
/// [`Waker::will_wake`] compares them, without holding a reference of our own (no
/// reference-count traffic on the task per delay).
///
/// Comparing addresses is sound only while the entry is `ARMED`: the service then still
/// holds its clone of that waker, so the task it names is alive and no other waker can
/// have the same addresses. When the entry is not armed, `poll` schedules anyway.
#[derive(Clone, Copy, PartialEq, Eq)]
struct WakerId {
    data: usize,
    vtable: usize,
}

impl WakerId {
    /// No waker (a vtable address is never 0).
    const NONE: WakerId = WakerId { data: 0, vtable: 0 };

    fn of(waker: &Waker) -> WakerId {
        WakerId {
            data: waker.data().addr(),
            vtable: std::ptr::from_ref(waker.vtable()).addr(),
        }
    }
}

/// `Delay::flags`: `key` names an entry of the service (scheduled, fired or canceled).
const HAS_KEY: u8 = 1;
/// `Delay::flags`: the entry is scheduled for `deadline` with `waker` and has not fired
/// (its deadline has not passed).
const ARMED: u8 = 2;

/// Future of [`delay`]: `Ok(())` at the deadline, or the [canceled](crate::canceled)
/// error as soon as the environment's stop token is triggered. A deadline already past
/// completes on the first poll without touching the timer. Dropping it cancels the
/// timer entry.
///
/// A re-poll before the deadline with the same waker (a sibling in [`when_any`]
/// woke the task, say) touches neither the timer service nor a lock.
///
/// A stop wakes the task through the environment's publisher (see [`crate::env`]), so
/// the delay keeps no stop registration of its own: it checks the token on every poll,
/// as every leaf operation does, and stays small (a timer task fits a 256-byte frame).
///
/// [`when_any`]: crate::when_any
pub struct Delay {
    deadline: Instant,
    service: Option<Arc<dyn TimerService>>,
    /// The waker the timer entry holds (while `ARMED`).
    waker: WakerId,
    /// The raw [`TimerKey`] of the entry, when `flags` has `HAS_KEY`.
    key: u64,
    /// `HAS_KEY` and `ARMED`, packed beside `key` (an `Option<TimerKey>` and a flag
    /// would take a word each).
    flags: u8,
}

impl Delay {
    /// When the delay completes.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Re-arms the delay for `deadline`, reusing its timer entry (no allocation), so one
    /// `Delay` can pace a loop.
    pub fn reset(self: Pin<&mut Self>, deadline: Instant) {
        // SAFETY: nothing in a `Delay` is structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.deadline != deadline {
            this.deadline = deadline;
            // The next pending poll updates the entry (same key) for the new deadline.
            this.flags &= !ARMED;
        }
    }

    fn key(&self) -> Option<TimerKey> {
        (self.flags & HAS_KEY != 0).then_some(TimerKey(self.key))
    }
}

impl Future for Delay {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: nothing in a `Delay` is structurally pinned; nothing is moved out.
        let this = unsafe { self.get_unchecked_mut() };
        if this.service.is_none() {
            // The context's service, if any; the fallback timer is started only when
            // there is something to schedule (a past deadline never touches it).
            this.service = current_service();
        }
        let now = this.service.as_ref().map_or_else(Instant::now, |s| s.now());
        if now >= this.deadline {
            // The key stays: a poll at the deadline may come before the service fired
            // the entry (a spurious or unrelated wake), and a finished delay leaves no
            // entry behind, so drop still cancels (a fired key is ignored).
            this.flags &= !ARMED;
            return Poll::Ready(Ok(()));
        }
        // The environment's publisher wakes the task on stop; here it is only checked.
        if crate::stop_requested() {
            return Poll::Ready(Err(crate::canceled()));
        }
        // An entry fires only once its deadline passed, which the check above rules
        // out: armed with the same deadline and waker, there is nothing to update.
        let waker = WakerId::of(cx.waker());
        if this.flags & ARMED == 0 || this.waker != waker {
            let key = this.key();
            let service = this.service.get_or_insert_with(|| FallbackTimer::global());
            this.key = service.schedule(this.deadline, cx.waker(), key).into_raw();
            this.flags = HAS_KEY | ARMED;
            this.waker = waker;
        }
        Poll::Pending
    }
}

impl Drop for Delay {
    fn drop(&mut self) {
        if let (Some(service), Some(key)) = (&self.service, self.key()) {
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
/// If the delay fires first, the future is stopped through its stop token and
/// **awaited**: `timeout` always waits for its child to finish, so no operation is left
/// running behind it. A stop-aware child then ends promptly with the canceled error,
/// which becomes an `ErrorKind::TimedOut` error; a child that finishes anyway (it
/// completed before it saw the stop, or it ignores stop) has its own result returned,
/// success or error, so no completed work is discarded. If the caller's token stops,
/// both are stopped and the future's (canceled) result is returned. `Duration::MAX`
/// means no deadline.
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
        future: Some(future),
        delay: delay(duration),
        timed_out: false,
        scope: Scope::new(),
    }
}

/// Future of [`timeout`].
pub struct Timeout<F> {
    future: Option<F>,
    delay: Delay,
    timed_out: bool,
    /// Last, so it drops after the future (which may hold its stop token) and can
    /// recycle its stop source.
    scope: Scope,
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
            return Poll::Ready(match result {
                // Canceled because the timer won: report the timeout.
                Err(e) if this.timed_out && crate::is_canceled(&e) => {
                    Err(io::ErrorKind::TimedOut.into())
                }
                result => result,
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

#[cfg(all(test, not(loom), target_pointer_width = "64"))]
mod layout_tests {
    #[test]
    fn delay_size() {
        // deadline, service, waker identity: two words each; key and flags: two more. A timer
        // task's frame must fit a 256-byte block (see `task::raw`'s layout tests).
        assert_eq!(std::mem::size_of::<super::Delay>(), 64);
    }
}
