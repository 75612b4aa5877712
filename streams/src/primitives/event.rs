//! [`AsyncEvent`]: a broadcast flag that tasks wait on.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use super::wait_list::{WaitList, WaitNode};
use crate::stop::StopWaker;
use crate::sync::{lock, Mutex};

/// A manual-reset event: [`set`](Self::set) wakes every waiter and lets later waits pass
/// at once until [`clear`](Self::clear).
///
/// A wait on a set event completes at once without consulting the stop token; a pending
/// wait completes with the [canceled](crate::canceled) error when the environment's
/// stop token is triggered. Waiting never allocates.
///
/// ```
/// use std::sync::Arc;
/// use strait_streams::{AsyncEvent, RunLoop};
/// let rl = RunLoop::new();
/// let ready = Arc::new(AsyncEvent::new());
/// let r = ready.clone();
/// let waiter = rl.spawn(async move { r.wait().await.is_ok() });
/// rl.poll();
/// assert!(!waiter.is_finished());
/// ready.set();
/// rl.run();
/// assert!(rl.block_on(waiter).unwrap());
/// ```
pub struct AsyncEvent {
    state: Mutex<State>,
}

struct State {
    set: bool,
    waiters: WaitList,
}

impl AsyncEvent {
    /// A cleared event.
    pub fn new() -> Self {
        AsyncEvent {
            state: Mutex::new(State {
                set: false,
                waiters: WaitList::new(),
            }),
        }
    }

    /// Sets the event and wakes every waiter.
    pub fn set(&self) {
        lock(&self.state).set = true;
        // Claim waiters one at a time and wake each outside the lock: no allocation,
        // and a waker never runs under our mutex.
        loop {
            let claimed = {
                let mut st = lock(&self.state);
                // SAFETY: we hold the state mutex, which guards the list.
                unsafe { st.waiters.notify_first() }
            };
            match claimed {
                Some(waker) => waker.into_iter().for_each(Waker::wake),
                None => break,
            }
        }
    }

    /// Clears the event; later waits block until the next `set`.
    pub fn clear(&self) {
        lock(&self.state).set = false;
    }

    /// `true` while set.
    pub fn is_set(&self) -> bool {
        lock(&self.state).set
    }

    /// Waits until the event is set.
    pub fn wait(&self) -> Wait<'_> {
        Wait {
            event: self,
            node: WaitNode::new(),
            stop: None,
            queued: false,
            done: false,
        }
    }
}

impl Default for AsyncEvent {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AsyncEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncEvent")
            .field("set", &self.is_set())
            .finish()
    }
}

/// Future of [`AsyncEvent::wait`].
pub struct Wait<'a> {
    event: &'a AsyncEvent,
    node: WaitNode,
    stop: Option<StopWaker>,
    queued: bool,
    done: bool,
}

impl Future for Wait<'_> {
    type Output = io::Result<()>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // SAFETY: `node` and `stop` are pinned in place and never moved.
        let this = unsafe { self.get_unchecked_mut() };
        assert!(!this.done, "Wait polled after completion");
        if !this.queued {
            let mut st = lock(&this.event.state);
            if st.set {
                this.done = true;
                return Poll::Ready(Ok(()));
            }
            if crate::env::with_env(|env| env.stop_token.stop_requested()) {
                this.done = true;
                return Poll::Ready(Err(crate::canceled()));
            }
            // SAFETY: we hold the state mutex; the node is pinned in this future,
            // whose drop removes it.
            unsafe {
                this.node.state().waker = Some(cx.waker().clone());
                st.waiters.push_back(&this.node);
            }
            this.queued = true;
        }
        let stop = this.stop.get_or_insert_with(|| {
            StopWaker::new(crate::env::with_env(|env| env.stop_token.clone()))
        });
        // SAFETY: `stop` lives in this pinned future.
        let stopped = unsafe { Pin::new_unchecked(stop) }.poll_stopped(cx.waker());
        let mut st = lock(&this.event.state);
        // SAFETY: we hold the state mutex.
        let node = unsafe { this.node.state() };
        if node.notified {
            this.done = true;
            return Poll::Ready(Ok(()));
        }
        if stopped {
            // SAFETY: we hold the state mutex; the node is in this list.
            unsafe { st.waiters.remove(&this.node) };
            this.done = true;
            return Poll::Ready(Err(crate::canceled()));
        }
        match &mut node.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl Drop for Wait<'_> {
    fn drop(&mut self) {
        if self.queued && !self.done {
            let mut st = lock(&self.event.state);
            // SAFETY: we hold the state mutex; the node belongs to this list.
            unsafe { st.waiters.remove(&self.node) };
        }
    }
}

impl fmt::Debug for Wait<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Wait")
            .field("queued", &self.queued)
            .finish()
    }
}
