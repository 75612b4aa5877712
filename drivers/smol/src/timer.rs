//! [`AsyncIoTimer`]: a timer on async-io's reactor as the strait [`TimerService`], so
//! `delay` and `timeout` in strait code on smol (or async-std) wait on the reactor that
//! runs the program's sockets.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use strait_streams::driver::{DrivenTimerTable, NextWake, TimerKey, TimerService};

/// A [`TimerService`] on async-io's reactor: one driver task sleeping until the earliest
/// deadline of a [`DrivenTimerTable`].
///
/// A `delay` or `timeout` adds an entry to the table (its storage is reused, so steady
/// state allocates nothing) and, when it became the earliest deadline, wakes the driver,
/// which moves its one kernel timer. Due entries are woken on the driver's thread.
///
/// On Linux the driver's timer is a `timerfd` registered with async-io's reactor like
/// a socket. async-io's own [`Timer`](async_io::Timer) is not used there: while one is
/// armed, every turn of async-io's reactor allocates (it splits its timer map on each
/// turn), which would put an allocation on every I/O wake-up of the program. Elsewhere,
/// or if `timerfd_create` fails, the driver uses one `async_io::Timer`, moved with
/// `set_at`.
///
/// The driver is a future ([`TimerDriver`]) that the caller spawns on the executor whose
/// tasks use the service; [`SmolExecutor`](crate::SmolExecutor) and
/// [`LocalExecutor`](crate::LocalExecutor) do it themselves. It ends when the last
/// handle to the service is dropped. If it is dropped unfinished (its executor went
/// away), scheduled entries never fire: their tasks went away with that executor.
pub struct AsyncIoTimer {
    timers: Arc<DrivenTimerTable>,
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
        let timers = Arc::new(DrivenTimerTable::new());
        let driver = TimerDriver {
            timers: timers.clone(),
            clock: Clock::new(),
            armed: None,
        };
        (Arc::new(AsyncIoTimer { timers }), driver)
    }

    /// How many entries are scheduled (neither fired nor canceled).
    pub fn scheduled(&self) -> usize {
        self.timers.scheduled()
    }
}

/// The task that serves an [`AsyncIoTimer`]: spawn it once on an executor that runs.
#[must_use = "the timer fires nothing unless its driver is spawned"]
pub struct TimerDriver {
    timers: Arc<DrivenTimerTable>,
    clock: Clock,
    /// The deadline the clock is set to, if any.
    armed: Option<Instant>,
}

impl Future for TimerDriver {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        loop {
            let next = match this.timers.fire_due(Instant::now(), cx) {
                NextWake::Closed => return Poll::Ready(()),
                NextWake::Idle => return Poll::Pending,
                NextWake::At(next) => next,
            };
            if this.armed != Some(next) {
                this.clock.set(next);
                this.armed = Some(next);
            }
            if this.clock.poll_fired(cx).is_pending() {
                return Poll::Pending;
            }
            // Fired: what is due now pops above; the clock is re-armed for the rest.
            this.armed = None;
        }
    }
}

/// The driver's one kernel timer.
enum Clock {
    #[cfg(target_os = "linux")]
    TimerFd(async_io::Async<timerfd::TimerFd>),
    AsyncIo(async_io::Timer),
}

impl Clock {
    fn new() -> Clock {
        #[cfg(target_os = "linux")]
        if let Ok(fd) = timerfd::TimerFd::new().and_then(async_io::Async::new) {
            return Clock::TimerFd(fd);
        }
        Clock::AsyncIo(async_io::Timer::never())
    }

    fn set(&mut self, deadline: Instant) {
        match self {
            #[cfg(target_os = "linux")]
            Clock::TimerFd(fd) => {
                if fd.get_ref().set(deadline).is_err() {
                    self.fall_back(deadline);
                }
            }
            Clock::AsyncIo(timer) => timer.set_at(deadline),
        }
    }

    /// Ready once the deadline last set has passed.
    fn poll_fired(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        match self {
            #[cfg(target_os = "linux")]
            Clock::TimerFd(fd) => loop {
                match fd.get_ref().take_expirations() {
                    Ok(()) => return Poll::Ready(()),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                    // Report it fired: the driver re-reads the clock and re-arms.
                    Err(_) => return Poll::Ready(()),
                }
                match fd.poll_readable(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(_)) => return Poll::Ready(()),
                    Poll::Pending => return Poll::Pending,
                }
            },
            Clock::AsyncIo(timer) => Pin::new(timer).poll(cx).map(drop),
        }
    }

    #[cfg(target_os = "linux")]
    fn fall_back(&mut self, deadline: Instant) {
        *self = Clock::AsyncIo(async_io::Timer::at(deadline));
    }
}

#[cfg(target_os = "linux")]
mod timerfd {
    //! A monotonic, non-blocking `timerfd`.

    use std::io;
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::time::{Duration, Instant};

    use rustix::time::{
        timerfd_create, timerfd_settime, Itimerspec, TimerfdClockId, TimerfdFlags,
        TimerfdTimerFlags, Timespec,
    };

    pub(super) struct TimerFd(OwnedFd);

    impl TimerFd {
        pub(super) fn new() -> io::Result<TimerFd> {
            let flags = TimerfdFlags::NONBLOCK | TimerfdFlags::CLOEXEC;
            Ok(TimerFd(timerfd_create(TimerfdClockId::Monotonic, flags)?))
        }

        /// Arms the timer for `deadline` (relative: `Instant` does not expose its
        /// clock). A deadline already past fires at once (a zero value would disarm).
        pub(super) fn set(&self, deadline: Instant) -> io::Result<()> {
            let after = deadline
                .saturating_duration_since(Instant::now())
                .max(Duration::from_nanos(1));
            let value = Itimerspec {
                it_interval: Timespec {
                    tv_sec: 0,
                    tv_nsec: 0,
                },
                it_value: Timespec {
                    tv_sec: after.as_secs().try_into().unwrap_or(i64::MAX),
                    tv_nsec: after.subsec_nanos().into(),
                },
            };
            timerfd_settime(&self.0, TimerfdTimerFlags::empty(), &value)?;
            Ok(())
        }

        /// Consumes the expiration count; `WouldBlock` if the timer has not fired.
        pub(super) fn take_expirations(&self) -> io::Result<()> {
            let mut count = [0u8; 8];
            rustix::io::read(&self.0, &mut count)?;
            Ok(())
        }
    }

    impl AsFd for TimerFd {
        fn as_fd(&self) -> BorrowedFd<'_> {
            self.0.as_fd()
        }
    }
}

impl TimerService for AsyncIoTimer {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        self.timers.schedule(deadline, waker, key)
    }

    fn cancel(&self, key: TimerKey) {
        self.timers.cancel(key);
    }
}

impl Drop for AsyncIoTimer {
    fn drop(&mut self) {
        self.timers.close();
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
