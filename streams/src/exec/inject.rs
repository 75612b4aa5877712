//! [`Inject`]: the lock-free side of a run queue. Any thread posts with one
//! compare-and-swap, linking through the task header (no allocation); a consumer takes
//! everything posted so far with one swap and gets it oldest first.
//!
//! It is a Treiber stack that is only ever emptied whole, so it has no ABA problem: a
//! node leaves the stack only through `take`, never by a single-node pop that could
//! race with a push of the same address.

use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::{Relaxed, SeqCst};

use super::RunQueue;
use crate::sync::AtomicPtr;
use crate::task::raw::Header;
use crate::Runnable;

/// Posted runnables, newest first, until a consumer takes them: the lock-free posting
/// side of a run queue, for execution contexts (drivers) that run tasks.
///
/// A context that waits for work must pair it with a sleep handshake: the poster
/// pushes, issues a `SeqCst` fence, then checks for sleepers; a consumer announces its
/// sleep, fences, then checks [`is_empty`](Self::is_empty) (see the loom model
/// `a_post_never_slips_past_a_consumer_going_to_sleep`).
pub struct Inject {
    head: AtomicPtr<Header>,
}

impl Inject {
    /// An empty stack.
    pub fn new() -> Self {
        Inject {
            head: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Posts `task`. `SeqCst`, so that a poster's later check for sleeping consumers
    /// and a consumer's "announce sleep, then look here" cannot both miss each other.
    pub fn push(&self, task: Runnable) {
        let node = task.into_raw().as_ptr();
        let mut head = self.head.load(Relaxed);
        loop {
            // SAFETY: `node` is not published yet: this thread owns its link.
            unsafe { *(*node).queue_next.get() = head };
            match self.head.compare_exchange_weak(head, node, SeqCst, Relaxed) {
                Ok(_) => return,
                Err(current) => head = current,
            }
        }
    }

    /// `true` when nothing waits to be taken.
    pub fn is_empty(&self) -> bool {
        self.head.load(SeqCst).is_null()
    }

    /// Takes every posted runnable, oldest first.
    pub fn take(&self) -> RunQueue {
        let mut queue = RunQueue::new();
        if self.head.load(Relaxed).is_null() {
            return queue;
        }
        let mut node = self.head.swap(ptr::null_mut(), SeqCst);
        while let Some(n) = NonNull::new(node) {
            // SAFETY: the swap made the whole list ours; its links were written before
            // the pushes that published them (and the swap acquired those).
            node = unsafe { *n.as_ref().queue_next.get() }.cast_mut();
            // SAFETY: every node came from `Runnable::into_raw` in `push`, and leaves
            // the stack exactly once, here. Newest first, so prepending restores order.
            queue.push_front(unsafe { Runnable::from_raw(n) });
        }
        queue
    }
}

impl Default for Inject {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Inject {
    fn drop(&mut self) {
        drop(self.take());
    }
}

impl std::fmt::Debug for Inject {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Inject")
            .field("empty", &self.is_empty())
            .finish()
    }
}
