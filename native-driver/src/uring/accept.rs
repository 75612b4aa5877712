//! Multishot `ACCEPT`: each CQE is a new connection, owned as an `OwnedFd` the moment
//! it is handled and queued until taken (closed if the acceptor goes away first). An
//! error ends the multishot; it is reported in order, after the connections queued
//! before it, and the accept is re-armed when it has been reported.

use std::collections::VecDeque;
use std::io;
use std::os::fd::{FromRawFd, OwnedFd};
use std::sync::Arc;
use std::task::{Context, Poll};

use super::ops::{Body, Key, Phase};
use super::{to_error, Completions, Next};

/// The accept queue of one listener (a slot body).
pub(crate) struct AcceptState {
    queue: VecDeque<OwnedFd>,
    error: Option<i32>,
}

impl AcceptState {
    /// Handles one CQE of the multishot accept.
    pub(super) fn on_cqe(&mut self, result: i32, orphaned: bool) -> Next {
        if result >= 0 {
            // SAFETY: a successful accept CQE carries a new descriptor nobody owns yet.
            let fd = unsafe { OwnedFd::from_raw_fd(result) };
            if orphaned {
                drop(fd);
                return Next::Done;
            }
            self.queue.push_back(fd);
            return Next::Resubmit; // acted on only if the multishot ended
        }
        if !(orphaned && result == -libc::ECANCELED) {
            self.error.get_or_insert(-result);
        }
        Next::Done
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
