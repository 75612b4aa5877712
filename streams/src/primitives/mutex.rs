//! [`AsyncMutex`]: a FIFO mutex whose unlock hands the lock directly to the next waiter.

use std::cell::UnsafeCell;
use std::fmt;
use std::future::Future;
use std::io;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::task::{Context, Poll};

use super::wait_list::{WaitList, WaitNode};
use crate::stop::StopWaker;
use crate::sync::{lock, Mutex};

/// An async mutex: FIFO, with direct hand-off, so a waiter that queued first gets the
/// lock first and no newcomer can barge in between an unlock and that waiter's wake-up.
///
/// - `lock()` takes a free mutex at once, without consulting the stop token.
/// - A queued waiter whose stop token is triggered completes with the
///   [canceled](crate::canceled) error and **never** gets the lock; dropping a queued
///   `Lock` future also leaves the queue. If the lock was already handed to it when it
///   is dropped, it passes the lock on.
/// - Waiting never allocates: the waiter node lives in the `Lock` future.
///
/// ```
/// use std::sync::Arc;
/// use strait_streams::{AsyncMutex, RunLoop};
/// let rl = RunLoop::new();
/// let counter = Arc::new(AsyncMutex::new(0));
/// for _ in 0..10 {
///     let counter = counter.clone();
///     rl.spawn(async move {
///         let mut n = counter.lock().await.unwrap();
///         strait_streams::yield_now().await; // held across a suspension
///         *n += 1;
///     }).detach();
/// }
/// rl.run();
/// assert_eq!(*rl.block_on(counter.lock()).unwrap(), 10);
/// ```
pub struct AsyncMutex<T: ?Sized> {
    state: Mutex<State>,
    data: UnsafeCell<T>,
}

struct State {
    locked: bool,
    waiters: WaitList,
}

// SAFETY: the mutex hands out access to `T` to one guard at a time.
unsafe impl<T: ?Sized + Send> Send for AsyncMutex<T> {}
// SAFETY: as above; `T: Send` because the guard may be used on another thread.
unsafe impl<T: ?Sized + Send> Sync for AsyncMutex<T> {}

impl<T> AsyncMutex<T> {
    /// A new unlocked mutex.
    pub fn new(value: T) -> Self {
        AsyncMutex {
            state: Mutex::new(State {
                locked: false,
                waiters: WaitList::new(),
            }),
            data: UnsafeCell::new(value),
        }
    }

    /// The protected value.
    pub fn into_inner(self) -> T {
        self.data.into_inner()
    }
}

impl<T: ?Sized> AsyncMutex<T> {
    /// Waits for the lock. Resolves to the guard, or to the canceled error if the
    /// environment's stop token is triggered while waiting.
    pub fn lock(&self) -> Lock<'_, T> {
        Lock {
            mutex: self,
            node: WaitNode::new(),
            stop: None,
            state: LockState::Init,
        }
    }

    /// Takes the lock if it is free.
    pub fn try_lock(&self) -> Option<AsyncMutexGuard<'_, T>> {
        let mut st = lock(&self.state);
        if st.locked {
            return None;
        }
        st.locked = true;
        Some(AsyncMutexGuard { mutex: self })
    }

    /// Direct access when no one else can hold the lock.
    pub fn get_mut(&mut self) -> &mut T {
        self.data.get_mut()
    }

    /// Hands the lock to the first waiter, or unlocks.
    fn unlock(&self) {
        let waker = {
            let mut st = lock(&self.state);
            // SAFETY: we hold the state mutex, which guards the waiter list.
            match unsafe { st.waiters.notify_first() } {
                Some(waker) => waker, // stays locked: ownership passes to the waiter
                None => {
                    st.locked = false;
                    None
                }
            }
        };
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl<T: Default> Default for AsyncMutex<T> {
    fn default() -> Self {
        Self::new(T::default())
    }
}

impl<T: ?Sized> fmt::Debug for AsyncMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncMutex")
            .field("locked", &lock(&self.state).locked)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, PartialEq, Eq)]
enum LockState {
    Init,
    Waiting,
    Done,
}

/// Future of [`AsyncMutex::lock`].
pub struct Lock<'a, T: ?Sized> {
    mutex: &'a AsyncMutex<T>,
    node: WaitNode,
    stop: Option<StopWaker>,
    state: LockState,
}

impl<'a, T: ?Sized> Future for Lock<'a, T> {
    type Output = io::Result<AsyncMutexGuard<'a, T>>;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // SAFETY: `node` and `stop` are pinned in place and never moved.
        let this = unsafe { self.get_unchecked_mut() };
        let mutex = this.mutex;
        match this.state {
            LockState::Done => panic!("Lock polled after completion"),
            LockState::Init => {
                let mut st = lock(&mutex.state);
                if !st.locked {
                    st.locked = true;
                    this.state = LockState::Done;
                    return Poll::Ready(Ok(AsyncMutexGuard { mutex }));
                }
                if crate::env::with_env(|env| env.stop_token.stop_requested()) {
                    this.state = LockState::Done;
                    return Poll::Ready(Err(crate::canceled()));
                }
                // SAFETY: we hold the state mutex; the node is pinned in this future,
                // whose drop removes it.
                unsafe {
                    this.node.state().waker = Some(cx.waker().clone());
                    st.waiters.push_back(&this.node);
                }
                this.state = LockState::Waiting;
            }
            LockState::Waiting => {}
        }
        // Register for stop before re-checking, so a stop in between is not missed.
        let stop = this.stop.get_or_insert_with(|| {
            StopWaker::new(crate::env::with_env(|env| env.stop_token.clone()))
        });
        // SAFETY: `stop` lives in this pinned future.
        let stopped = unsafe { Pin::new_unchecked(stop) }.poll_stopped(cx.waker());
        let mut st = lock(&mutex.state);
        // SAFETY: we hold the state mutex.
        let node = unsafe { this.node.state() };
        if node.notified {
            this.state = LockState::Done;
            return Poll::Ready(Ok(AsyncMutexGuard { mutex }));
        }
        if stopped {
            // SAFETY: we hold the state mutex; the node is in this list.
            unsafe { st.waiters.remove(&this.node) };
            this.state = LockState::Done;
            return Poll::Ready(Err(crate::canceled()));
        }
        match &mut node.waker {
            Some(w) if w.will_wake(cx.waker()) => {}
            w => *w = Some(cx.waker().clone()),
        }
        Poll::Pending
    }
}

impl<T: ?Sized> Drop for Lock<'_, T> {
    fn drop(&mut self) {
        if self.state != LockState::Waiting {
            return;
        }
        let handed_over = {
            let mut st = lock(&self.mutex.state);
            // SAFETY: we hold the state mutex; the node belongs to this list.
            unsafe {
                st.waiters.remove(&self.node);
                self.node.state().notified
            }
        };
        if handed_over {
            // We were given the lock but will never use it: pass it on.
            self.mutex.unlock();
        }
    }
}

impl<T: ?Sized> fmt::Debug for Lock<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lock").field("state", &self.state).finish()
    }
}

/// Access to the value of a locked [`AsyncMutex`]; unlocks (handing the lock to the
/// next waiter) on drop.
pub struct AsyncMutexGuard<'a, T: ?Sized> {
    mutex: &'a AsyncMutex<T>,
}

// SAFETY: the guard gives `&T` / `&mut T`; sharing it needs `T: Sync`.
unsafe impl<T: ?Sized + Sync> Sync for AsyncMutexGuard<'_, T> {}

impl<T: ?Sized> Deref for AsyncMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the guard proves exclusive ownership of the lock.
        unsafe { &*self.mutex.data.get() }
    }
}

impl<T: ?Sized> DerefMut for AsyncMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: the guard proves exclusive ownership of the lock.
        unsafe { &mut *self.mutex.data.get() }
    }
}

impl<T: ?Sized> Drop for AsyncMutexGuard<'_, T> {
    fn drop(&mut self) {
        self.mutex.unlock();
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}
