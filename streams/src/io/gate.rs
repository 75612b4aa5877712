//! [`StopGate`]: how every operation future here honours the environment's stop token.
//!
//! Before touching the stream, on every poll, an operation checks the environment's
//! token: if stop was requested it completes with the canceled error without doing any
//! I/O. That check is one thread-local load outside tasks and one atomic load inside.
//!
//! Waking on stop is not the operation's job: whoever publishes an environment with a
//! stoppable token (the task harness, [`with_stop_token`](crate::with_stop_token), the
//! combinators, [`block_on_with`](crate::block_on_with)) registers the task's waker with
//! that token once per poll of the whole task. A stop therefore wakes the task, the
//! pending operation is polled again, sees the stop, and completes as canceled. So an
//! operation future needs no registration node of its own: it stays small and
//! allocation-free. A `Pending` stream has transferred nothing, so no byte is lost.

/// The stop check of one operation future (zero-sized).
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct StopGate;

impl StopGate {
    pub(crate) const fn new() -> Self {
        StopGate
    }

    /// `true` when the operation must complete as canceled now (checked before I/O).
    #[inline]
    pub(crate) fn stopped(&self) -> bool {
        crate::env::current_stop_requested()
    }
}
