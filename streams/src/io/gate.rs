//! [`StopGate`]: how every operation future here honours the environment's stop token.
//!
//! Before touching the stream, an operation checks the token: if stop was requested it
//! completes with the canceled error without doing any I/O. Only when the stream
//! returns `Pending` does the gate register the task's waker with the token (an
//! intrusive node inside the future, no allocation), so the fast path — an operation
//! that completes at once — costs one atomic load. A stop while pending wakes the task;
//! the next poll sees it and completes with the canceled error. A `Pending` stream has
//! transferred nothing, so no byte is lost.

use std::pin::Pin;
use std::task::Context;

use crate::stop::{StopToken, StopWaker};

/// Stop-token state of one operation future. Structurally pinned in its future.
#[derive(Debug, Default)]
pub(crate) struct StopGate {
    token: Option<StopToken>,
    waker: Option<StopWaker>,
}

impl StopGate {
    pub(crate) const fn new() -> Self {
        StopGate {
            token: None,
            waker: None,
        }
    }

    /// `true` when the operation must complete as canceled now (checked before I/O).
    /// Reads the environment's token in place: no clone on the fast path.
    #[inline]
    pub(crate) fn stopped(&mut self) -> bool {
        match &self.token {
            Some(token) => token.stop_requested(),
            None => crate::env::with_env(|env| env.stop_token.stop_requested()),
        }
    }

    /// After the stream returned `Pending`: makes sure a stop wakes the task. Returns
    /// `true` if stop was requested meanwhile (complete as canceled).
    pub(crate) fn arm(self: Pin<&mut Self>, cx: &mut Context<'_>) -> bool {
        // SAFETY: `waker` is pinned in place once set; we never move it.
        let this = unsafe { self.get_unchecked_mut() };
        let token = this
            .token
            .get_or_insert_with(|| crate::env::with_env(|env| env.stop_token.clone()));
        if !token.stop_possible() {
            return false;
        }
        let waker = this
            .waker
            .get_or_insert_with(|| StopWaker::new(token.clone()));
        // SAFETY: the StopWaker lives in this pinned gate.
        unsafe { Pin::new_unchecked(waker) }.poll_stopped(cx.waker())
    }
}
