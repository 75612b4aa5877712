//! Multishot `ACCEPT`: each CQE is a new connection, owned as an `OwnedFd` the moment
//! it is handled and queued until taken (closed if the acceptor goes away first). An
//! error ends the multishot; it is reported in order, after the connections queued
//! before it, and the accept is re-armed when it has been reported. A queue that
//! reaches `Config::accept_queue` pauses the accept (the kernel's backlog holds the
//! rest) until half of it has been taken.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::ops::{Body, Key, Phase};
use super::{to_error, Completions, Counters, Next};

/// The accept queue of one listener (a slot body).
pub(crate) struct AcceptState {
    queue: VecDeque<OwnedFd>,
    error: Option<i32>,
    /// Connections queued before the accept pauses.
    cap: usize,
    /// The queue is full: no accept until half is taken.
    paused: bool,
    /// A cancellation for the pause is in flight: its `ECANCELED` is no error.
    pausing: bool,
}

impl AcceptState {
    /// Neither paused nor holding an error to report: the accept is to be armed.
    pub(super) fn wants_connections(&self) -> bool {
        !self.paused && self.error.is_none()
    }

    /// Handles one CQE of the multishot accept.
    pub(super) fn on_cqe(
        &mut self,
        result: i32,
        flags: u32,
        orphaned: bool,
        counters: &mut Counters,
    ) -> Next {
        let more = io_uring::cqueue::more(flags);
        if !more {
            self.pausing = false;
        }
        if result >= 0 {
            // SAFETY: a successful accept CQE carries a new descriptor nobody owns yet.
            let fd = unsafe { OwnedFd::from_raw_fd(result) };
            if orphaned {
                drop(fd);
                return Next::Done;
            }
            self.queue.push_back(fd);
            if self.queue.len() >= self.cap && !self.paused {
                self.paused = true;
                counters.pauses += 1;
                if more {
                    self.pausing = true;
                    return Next::Pause;
                }
            }
            // Resubmit is acted on only if the multishot ended.
            return if self.paused {
                Next::Done
            } else {
                Next::Resubmit
            };
        }
        // As for receives: ECANCELED not of our making (the submitting thread exited)
        // re-arms.
        if result == -libc::ECANCELED {
            return if orphaned || self.paused {
                Next::Done
            } else {
                Next::Resubmit
            };
        }
        self.error.get_or_insert(-result);
        Next::Done
    }

    /// The pause could not cancel the accept: it goes on past the limit.
    pub(super) fn pause_failed(&mut self) {
        self.pausing = false;
    }

    /// Ends a pause once half the queue was taken; `true` when the accept must be
    /// re-armed by the caller.
    fn resume_if_drained(&mut self) -> bool {
        if self.paused && self.queue.len() <= self.cap / 2 {
            self.paused = false;
            // While the pause's cancel is in flight its final CQE re-arms instead.
            return !self.pausing && self.error.is_none();
        }
        false
    }

    /// Records a failed (re-)submission.
    pub(super) fn fail(&mut self, errno: i32) {
        self.error.get_or_insert(errno);
    }

    /// Closes the connections nobody took.
    pub(super) fn close_queued(&mut self) {
        self.queue.clear();
    }
}

/// A listener's multishot accept on the ring. Dropping it cancels the accept and
/// closes connections accepted but not taken.
pub(crate) struct Acceptor {
    completions: Arc<Completions>,
    key: Key,
}

impl Acceptor {
    /// Arms a multishot accept on `fd` (a listening socket).
    pub(crate) fn new(completions: &Arc<Completions>, fd: Arc<OwnedFd>) -> io::Result<Self> {
        let state = AcceptState {
            queue: VecDeque::with_capacity(16),
            error: None,
            cap: usize::from(completions.accept_queue),
            paused: false,
            pausing: false,
        };
        let key = completions.open(Body::Accept(state), fd, true)?;
        Ok(Self {
            completions: completions.clone(),
            key,
        })
    }

    /// The next accepted connection (close-on-exec, blocking mode as the kernel made it).
    pub(crate) fn poll_accept(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<OwnedFd>> {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("an acceptor's slot lives with it");
        let Body::Accept(accept) = &mut slot.body else {
            unreachable!("accept slot")
        };
        if let Some(fd) = accept.queue.pop_front() {
            if accept.resume_if_drained() && slot.phase == Phase::Idle {
                driver.counters.rearms += 1;
                // A failure is recorded and reported by the next call.
                let _ = driver.submit_again(&*self.completions.submit, self.key);
            }
            return Poll::Ready(Ok(fd));
        }
        if let Some(errno) = accept.error.take() {
            if slot.phase == Phase::Idle {
                // The error is reported: accept again (a later failure shows next time).
                let _ = driver.submit_again(&*self.completions.submit, self.key);
            }
            return Poll::Ready(Err(to_error(errno)));
        }
        slot.set_waker(cx.waker());
        Poll::Pending
    }

    /// Ready when an accept would not wait (a connection or an error queued); else
    /// stores the waker. Takes nothing.
    pub(crate) fn poll_acceptable(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let mut driver = self.completions.lock();
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("an acceptor's slot lives with it");
        let Body::Accept(accept) = &slot.body else {
            unreachable!("accept slot")
        };
        match accept.error {
            _ if !accept.queue.is_empty() => Poll::Ready(Ok(())),
            Some(super::GONE) => Poll::Ready(Err(to_error(super::GONE))),
            Some(_) => Poll::Ready(Ok(())),
            None => {
                slot.set_waker(cx.waker());
                Poll::Pending
            }
        }
    }

    /// Connections accepted and not taken yet.
    pub(crate) fn queued(&self) -> usize {
        let mut driver = self.completions.lock();
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("an acceptor's slot lives with it");
        let Body::Accept(accept) = &slot.body else {
            unreachable!("accept slot")
        };
        accept.queue.len()
    }
}

impl Drop for Acceptor {
    fn drop(&mut self) {
        self.completions.release(self.key);
    }
}
