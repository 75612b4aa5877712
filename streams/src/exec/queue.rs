//! [`RunQueue`]: an intrusive FIFO of runnables, linked through their task headers:
//! pushing and popping never allocate. Executors (here and in drivers) guard it with
//! their own lock or keep it to one thread; posts from other threads arrive lock-free
//! through an [`Inject`](super::Inject) queue and are appended in batches.

use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::Relaxed;

use crate::task::raw::Header;
use crate::task::Runnable;

/// An intrusive FIFO of [`Runnable`]s. Dropping it drops (aborts) the tasks it holds.
pub struct RunQueue {
    head: *const Header,
    tail: *const Header,
    len: usize,
}

// SAFETY: the queue owns the runnables it links (each is `Send`); links are only
// touched through `&mut self`.
unsafe impl Send for RunQueue {}

impl RunQueue {
    /// An empty queue.
    pub const fn new() -> Self {
        RunQueue {
            head: ptr::null(),
            tail: ptr::null(),
            len: 0,
        }
    }

    /// A queue of the chain `head ..= tail` of `len` runnables.
    ///
    /// # Safety
    /// The runnables came from `Runnable::into_raw` and are owned by the caller, each
    /// linked to the next through `queue_next`; `tail` is the `len`th.
    pub(crate) unsafe fn from_chain(head: *mut Header, tail: *mut Header, len: usize) -> Self {
        // SAFETY: caller contract: `tail` is ours; the queue ends there.
        unsafe { (*tail).queue_next.store(ptr::null_mut(), Relaxed) };
        RunQueue { head, tail, len }
    }

    /// Number of queued runnables.
    pub fn len(&self) -> usize {
        self.len
    }

    /// `true` when nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends `task`.
    pub fn push_back(&mut self, task: Runnable) {
        let node = task.into_raw().as_ptr().cast_const();
        // SAFETY: we own the runnable, hence its link field.
        unsafe { (*node).queue_next.store(ptr::null_mut(), Relaxed) };
        if self.tail.is_null() {
            self.head = node;
        } else {
            // SAFETY: `tail` is a runnable we own.
            unsafe { (*self.tail).queue_next.store(node.cast_mut(), Relaxed) };
        }
        self.tail = node;
        self.len += 1;
    }

    /// Prepends `task` (the "run next" slot of `dispatch`).
    pub fn push_front(&mut self, task: Runnable) {
        let node = task.into_raw().as_ptr().cast_const();
        // SAFETY: we own the runnable, hence its link field.
        unsafe { (*node).queue_next.store(self.head.cast_mut(), Relaxed) };
        if self.tail.is_null() {
            self.tail = node;
        }
        self.head = node;
        self.len += 1;
    }

    /// Removes the first runnable.
    pub fn pop(&mut self) -> Option<Runnable> {
        let node = NonNull::new(self.head.cast_mut())?;
        // SAFETY: `head` is a runnable we own.
        self.head = unsafe { node.as_ref().queue_next.load(Relaxed) };
        if self.head.is_null() {
            self.tail = ptr::null();
        }
        self.len -= 1;
        // SAFETY: the pointer came from `into_raw` in a push and leaves the queue once.
        Some(unsafe { Runnable::from_raw(node) })
    }

    /// Puts every runnable of `front` before this queue's, keeping both orders.
    pub fn prepend(&mut self, mut front: RunQueue) {
        if front.head.is_null() {
            return;
        }
        // SAFETY: `front.tail` is a runnable `front` owns, now handed to us.
        unsafe {
            (*front.tail)
                .queue_next
                .store(self.head.cast_mut(), Relaxed)
        };
        if self.tail.is_null() {
            self.tail = front.tail;
        }
        self.head = front.head;
        self.len += front.len;
        front.head = ptr::null();
        front.tail = ptr::null();
        front.len = 0;
    }

    /// Puts every runnable of `back` after this queue's, keeping both orders.
    pub fn append(&mut self, mut back: RunQueue) {
        back.prepend(std::mem::take(self));
        *self = back;
    }

    /// Moves up to `max` runnables from the front of this queue into a new one. Cuts
    /// the list after the `max`th: reads that many links, writes one.
    pub fn pop_batch(&mut self, max: usize) -> RunQueue {
        if max >= self.len {
            return self.take();
        }
        if max == 0 {
            return RunQueue::new();
        }
        let head = self.head;
        let mut last = head;
        for _ in 1..max {
            // SAFETY: the first `max` (< len) nodes are runnables we own.
            last = unsafe { (*last).queue_next.load(Relaxed) };
        }
        // SAFETY: `last` is the `max`th runnable; it has a successor (max < len).
        self.head = unsafe { (*last).queue_next.load(Relaxed) };
        // SAFETY: as above; the batch ends at `last`.
        unsafe { (*last).queue_next.store(ptr::null_mut(), Relaxed) };
        self.len -= max;
        RunQueue {
            head,
            tail: last,
            len: max,
        }
    }

    /// Moves every runnable out (to drop them outside the caller's lock).
    pub fn take(&mut self) -> RunQueue {
        std::mem::take(self)
    }
}

impl Drop for RunQueue {
    fn drop(&mut self) {
        // Dropping a runnable aborts its task.
        while self.pop().is_some() {}
    }
}

impl Default for RunQueue {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for RunQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunQueue").field("len", &self.len).finish()
    }
}
