//! Which adapter's tasks this thread is running: what `running_in_this_thread` answers,
//! so a `block_on` inside one of them is refused instead of stalling the executor.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

thread_local! {
    /// The address of the adapter whose task this thread is polling; 0 when none.
    static RUNNING: Cell<usize> = const { Cell::new(0) };
}

/// An adapter's identity: its address, stable while it lives.
pub(crate) fn id<T>(adapter: &T) -> usize {
    adapter as *const T as usize
}

/// `true` while this thread polls a task of the adapter `id`.
pub(crate) fn is_running(id: usize) -> bool {
    RUNNING.with(Cell::get) == id
}

/// A future whose polls count as running the adapter `owner`'s tasks.
pub(crate) struct Running<F> {
    owner: usize,
    future: F,
}

impl<F> Running<F> {
    pub(crate) fn new(owner: usize, future: F) -> Self {
        Running { owner, future }
    }
}

impl<F: Future> Future for Running<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned and never moved; `owner` is plain data.
        let this = unsafe { self.get_unchecked_mut() };
        // SAFETY: as above.
        let future = unsafe { Pin::new_unchecked(&mut this.future) };
        let previous = RUNNING.with(|r| r.replace(this.owner));
        // Restored even if the poll panics (smol catches task panics).
        let _restore = Restore(previous);
        future.poll(cx)
    }
}

struct Restore(usize);

impl Drop for Restore {
    fn drop(&mut self) {
        RUNNING.with(|r| r.set(self.0));
    }
}
