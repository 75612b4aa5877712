//! [`Timer`]: a re-armable timer on the context's timer queue, with cancel.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use strait_streams::{driver::TimerKey, driver::TimerService};

use crate::context::Handle;
use crate::reactor::context_gone;
use crate::sync::lock;

/// A timer with an expiry that can be moved and waits that can be canceled (the
/// papers' `timer`): `expires_at`/`expires_after` set the expiry, `wait` completes at
/// it, `cancel` completes every pending `wait` with the canceled error.
///
/// Any number of tasks may wait on one timer at once. Changing the expiry cancels the
/// waits pending at that moment, as in Asio and Corosio; waits started afterwards use
/// the new expiry. A timer that was never armed waits until it is canceled (or the
/// waiter's stop token fires). Each wait is one entry in the context's timer table, so
/// many thousands of timers cost one entry each; waiting allocates nothing once the
/// timer has seen as many concurrent waiters as it will.
///
/// ```
/// use std::time::Duration;
/// use strait_native::{IoContext, Timer};
///
/// let ctx = IoContext::new()?;
/// let timer = Timer::new(&ctx);
/// timer.expires_after(Duration::from_millis(5));
/// ctx.block_on(timer.wait())?;
/// assert!(std::time::Instant::now() >= timer.expiry().unwrap());
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Debug)]
pub struct Timer {
    ctx: Handle,
    /// Bumped (under the `state` lock) by `cancel` and every expiry change: a wait
    /// started under an older epoch was canceled. Atomic so that a re-poll can see that
    /// nothing changed without taking the lock.
    epoch: AtomicU64,
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    expiry: Option<Instant>,
    /// Wakers of pending waits; slots are reused.
    waiters: Vec<Option<Waker>>,
    free: Vec<usize>,
    /// Reused to carry canceled wakers out of the lock, so canceling does not allocate
    /// once it has carried as many as it will.
    spare: Vec<Waker>,
}

impl State {
    /// Cancels every pending wait (moving the timer's `epoch` on); returns their wakers
    /// (to wake outside the lock).
    fn cancel_all(&mut self, epoch: &AtomicU64) -> Vec<Waker> {
        // Release: a waiter woken below sees the new epoch on its re-poll.
        epoch.fetch_add(1, Ordering::Release);
        let mut wakers = std::mem::take(&mut self.spare);
        wakers.extend(self.waiters.iter_mut().filter_map(Option::take));
        if wakers.is_empty() {
            // Nothing to wake: keep the carrier here (no second lock to return it).
            self.spare = wakers;
            return Vec::new();
        }
        wakers
    }

    fn release(&mut self, slot: usize) {
        self.waiters[slot] = None;
        self.free.push(slot);
    }
}

impl Timer {
    /// A timer on the timer queue of `ctx` (`&IoContext` or a [`Handle`]), not armed.
    pub fn new(ctx: impl AsRef<Handle>) -> Timer {
        Timer {
            ctx: ctx.as_ref().clone(),
            epoch: AtomicU64::new(0),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        #[cfg(test)]
        tests::LOCKS.with(|n| n.set(n.get() + 1));
        lock(&self.state)
    }

    /// The current expiry, `None` when not armed.
    pub fn expiry(&self) -> Option<Instant> {
        self.lock().expiry
    }

    /// Sets the expiry to `deadline`, canceling the pending waits; returns how many were
    /// canceled.
    pub fn expires_at(&self, deadline: Instant) -> usize {
        let wakers = {
            let mut state = self.lock();
            state.expiry = Some(deadline);
            state.cancel_all(&self.epoch)
        };
        self.wake(wakers)
    }

    /// Sets the expiry to `duration` from now; see [`expires_at`](Self::expires_at).
    /// A duration too long to represent (such as `Duration::MAX`, "never") saturates
    /// to about a century from now.
    pub fn expires_after(&self, duration: Duration) -> usize {
        self.expires_at(saturating_deadline(Instant::now(), duration))
    }

    /// Completes every pending wait with the canceled error; returns how many there
    /// were. The expiry stays: later waits use it.
    pub fn cancel(&self) -> usize {
        let wakers = self.lock().cancel_all(&self.epoch);
        self.wake(wakers)
    }

    /// Wakes canceled waiters outside the lock, then returns the carrier for reuse.
    fn wake(&self, mut wakers: Vec<Waker>) -> usize {
        let n = wakers.len();
        if n > 0 {
            wakers.drain(..).for_each(Waker::wake);
            let mut state = self.lock();
            if state.spare.capacity() < wakers.capacity() {
                state.spare = wakers;
            }
        }
        n
    }

    /// Waits for the expiry. An expiry already past completes on the first poll.
    ///
    /// # Errors
    /// The canceled error (see [`strait_streams::is_canceled`]) when the wait is
    /// canceled by [`cancel`](Self::cancel), an expiry change, or the environment's stop
    /// token; an error saying the context was dropped once it is (nothing would fire
    /// the timer).
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            timer: self,
            epoch: None,
            slot: None,
            key: None,
            armed: None,
            waker: None,
        }
    }
}

/// Future of [`Timer::wait`]. Dropping it removes its timer entry.
#[derive(Debug)]
pub struct Wait<'a> {
    timer: &'a Timer,
    epoch: Option<u64>,
    slot: Option<usize>,
    key: Option<TimerKey>,
    /// The expiry the queue entry is scheduled for (`None`: the timer is not armed).
    armed: Option<Instant>,
    /// The waker the waiter slot and the queue entry hold.
    waker: Option<Waker>,
}

impl Wait<'_> {
    /// `true` when a re-poll can stay pending without the lock: the same waker as
    /// registered, the same epoch (so no cancel and the same expiry), the expiry not
    /// reached (so the queue entry has not fired), no stop, the context alive.
    fn unchanged(&self, waker: &Waker) -> bool {
        let (Some(epoch), Some(registered)) = (self.epoch, &self.waker) else {
            return false;
        };
        registered.will_wake(waker)
            && self.timer.epoch.load(Ordering::Acquire) == epoch
            && !self.timer.ctx.is_closed()
            && !strait_streams::stop_requested()
            && self.armed.is_none_or(|at| Instant::now() < at)
    }

    /// Leaves the timer: frees the waker slot and the queue entry.
    fn finish(&mut self, state: &mut State) {
        if let Some(slot) = self.slot.take() {
            state.release(slot);
        }
        if let Some(key) = self.key.take() {
            self.timer.ctx.timer_queue().cancel(key);
        }
    }
}

impl Future for Wait<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.unchanged(cx.waker()) {
            return Poll::Pending;
        }
        let mut state = this.timer.lock();
        if this.timer.ctx.is_closed() {
            this.finish(&mut state);
            return Poll::Ready(Err(context_gone()));
        }
        // Only changed under the lock, which we hold.
        let current = this.timer.epoch.load(Ordering::Relaxed);
        let epoch = *this.epoch.get_or_insert(current);
        if epoch != current || strait_streams::stop_requested() {
            this.finish(&mut state);
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        if state.expiry.is_some_and(|at| Instant::now() >= at) {
            this.finish(&mut state);
            return Poll::Ready(Ok(()));
        }
        let slot = match this.slot {
            Some(slot) => slot,
            None => {
                let slot = state.free.pop().unwrap_or_else(|| {
                    state.waiters.push(None);
                    state.waiters.len() - 1
                });
                this.slot = Some(slot);
                slot
            }
        };
        match &mut state.waiters[slot] {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        if let Some(at) = state.expiry {
            this.key = Some(
                this.timer
                    .ctx
                    .timer_queue()
                    .schedule(at, cx.waker(), this.key),
            );
        }
        this.armed = state.expiry;
        if !this.waker.as_ref().is_some_and(|w| w.will_wake(cx.waker())) {
            this.waker = Some(cx.waker().clone());
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if self.slot.is_some() || self.key.is_some() {
            let timer = self.timer;
            let mut state = timer.lock();
            self.finish(&mut state);
        }
    }
}

/// `now + duration`, or about a century from now when that is not representable.
fn saturating_deadline(now: Instant, duration: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    now.checked_add(duration.min(CENTURY)).unwrap_or(now)
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::Cell;
    use std::future::Future;
    use std::pin::pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Wake, Waker};
    use std::time::Duration;

    use crate::{IoContext, Timer};

    std::thread_local! {
        /// Locks of a timer's state taken on this thread.
        pub(crate) static LOCKS: Cell<usize> = const { Cell::new(0) };
    }

    fn locks() -> usize {
        LOCKS.with(Cell::get)
    }

    struct Nothing;
    impl Wake for Nothing {
        fn wake(self: Arc<Self>) {}
    }

    /// An `Arc` waker: `will_wake` recognizes its clones (the clones of a no-op waker
    /// may carry another vtable address, so every poll would look like a new waker).
    fn waker() -> Waker {
        Waker::from(Arc::new(Nothing))
    }

    #[test]
    fn a_re_poll_with_the_same_waker_and_expiry_takes_no_lock() {
        let ctx = IoContext::new().unwrap();
        let timer = Timer::new(&ctx);
        timer.expires_after(Duration::from_secs(60));
        let mut wait = pin!(timer.wait());
        let waker = waker();
        let mut cx = Context::from_waker(&waker);
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        let before = locks();
        for _ in 0..10 {
            assert!(wait.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(locks(), before, "unchanged re-polls take no lock");

        // Another waker is registered under the lock, once.
        let other = Waker::from(Arc::new(Nothing));
        let mut other_cx = Context::from_waker(&other);
        assert!(wait.as_mut().poll(&mut other_cx).is_pending());
        assert!(wait.as_mut().poll(&mut other_cx).is_pending());
        assert_eq!(locks(), before + 1);

        // A cancel is seen by the next poll, waker unchanged.
        timer.cancel();
        match wait.as_mut().poll(&mut other_cx) {
            Poll::Ready(Err(e)) => assert!(strait_streams::is_canceled(&e)),
            other => panic!("expected the canceled error, got {other:?}"),
        }
    }

    #[test]
    fn an_unchanged_re_poll_still_sees_the_expiry_pass_and_a_new_expiry() {
        let ctx = IoContext::new().unwrap();
        let timer = Timer::new(&ctx);
        timer.expires_after(Duration::from_millis(20));
        let waker = waker();
        let mut cx = Context::from_waker(&waker);
        {
            let mut wait = pin!(timer.wait());
            assert!(wait.as_mut().poll(&mut cx).is_pending());
            std::thread::sleep(Duration::from_millis(30));
            // Nothing ran the context (the entry did not fire): the poll sees the time.
            assert!(matches!(wait.as_mut().poll(&mut cx), Poll::Ready(Ok(()))));
        }
        // Never armed, then armed: the expiry change cancels the unarmed wait.
        let unarmed = Timer::new(&ctx);
        let mut wait = pin!(unarmed.wait());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        unarmed.expires_after(Duration::from_secs(60));
        assert!(matches!(wait.as_mut().poll(&mut cx), Poll::Ready(Err(_))));
    }

    #[test]
    fn an_unchanged_re_poll_sees_the_context_dropped() {
        let ctx = IoContext::new().unwrap();
        let timer = Timer::new(&ctx);
        timer.expires_after(Duration::from_secs(60));
        let waker = waker();
        let mut cx = Context::from_waker(&waker);
        let mut wait = pin!(timer.wait());
        assert!(wait.as_mut().poll(&mut cx).is_pending());
        drop(ctx);
        match wait.as_mut().poll(&mut cx) {
            Poll::Ready(Err(e)) => assert!(!strait_streams::is_canceled(&e), "{e}"),
            other => panic!("expected the context-gone error, got {other:?}"),
        }
    }
}
