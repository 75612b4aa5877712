//! [`Inject`]: the lock-free side of a run queue. Any thread posts with one swap,
//! linking through the task header (no allocation); a consumer takes runnables oldest
//! first, as many as it asks for, each in O(1).
//!
//! It is Dmitry Vyukov's intrusive multi-producer single-consumer queue. Posters swap
//! themselves in as the newest node, then link the previous newest to themselves; the
//! consumer follows the links from the oldest node. A stub node stands in when the
//! queue runs empty, so the consumer never has to take the node posters swap against.
//! Between a poster's swap and its link the chain is broken: the consumer then sees
//! fewer runnables than were posted (never a wrong one), stops, and finds the rest on a
//! later take; [`is_empty`](Inject::is_empty) already counts them, so a context does
//! not go to sleep on them. Consumers are serialized by a flag (a take holds it for a
//! bounded number of steps), which keeps `take` sound from any thread.
//!
//! Unlike a Treiber stack emptied whole, taking needs no reversal: a take of `n`
//! runnables touches exactly those `n` task headers, right before they run.

use std::ptr;
use std::sync::atomic::Ordering::{Acquire, Relaxed, Release, SeqCst};

use super::RunQueue;
use crate::sync::{spin_yield, AtomicBool, AtomicPtr};
use crate::task::raw::Header;
use crate::Runnable;

/// Its address marks the stub node in links. Never a task header's address (headers
/// live in heap allocations); each queue keeps the stub's own link in `stub_next`.
static STUB: u8 = 0;

#[inline]
fn stub() -> *mut Header {
    ptr::addr_of!(STUB).cast_mut().cast()
}

/// Posted runnables, oldest first, until a consumer takes them: the lock-free posting
/// side of a run queue, for execution contexts (drivers) that run tasks.
///
/// A context that waits for work must pair it with a sleep handshake: the poster
/// pushes, issues a `SeqCst` fence, then checks for sleepers; a consumer announces its
/// sleep, fences, then checks [`is_empty`](Self::is_empty) (see the loom model
/// `a_post_never_slips_past_a_consumer_going_to_sleep`).
pub struct Inject {
    /// The newest node (the stub when nothing is queued): posters swap here.
    head: AtomicPtr<Header>,
    /// The oldest node (or the stub): only the consumer holding `consuming` uses it.
    tail: AtomicPtr<Header>,
    /// The stub's link.
    stub_next: AtomicPtr<Header>,
    /// A consumer is taking.
    consuming: AtomicBool,
}

impl Inject {
    /// An empty queue.
    pub fn new() -> Self {
        Inject {
            head: AtomicPtr::new(stub()),
            tail: AtomicPtr::new(stub()),
            stub_next: AtomicPtr::new(ptr::null_mut()),
            consuming: AtomicBool::new(false),
        }
    }

    /// The link field of `node` (a queued header, or the stub).
    ///
    /// # Safety
    /// `node` is the stub or a header this queue holds (alive until it leaves).
    #[inline]
    unsafe fn link(&self, node: *mut Header) -> &AtomicPtr<Header> {
        if node == stub() {
            &self.stub_next
        } else {
            // SAFETY: caller contract.
            unsafe { &(*node).queue_next }
        }
    }

    /// Posts `task`. `SeqCst`, so that a poster's later check for sleeping consumers
    /// and a consumer's "announce sleep, then look here" cannot both miss each other.
    pub fn push(&self, task: Runnable) {
        let node = task.into_raw().as_ptr();
        // SAFETY: `node` is not published yet: this thread owns its link.
        unsafe { (*node).queue_next.store(ptr::null_mut(), Relaxed) };
        // SAFETY: `node` is a header handed to this queue.
        unsafe { self.push_node(node) };
    }

    /// # Safety
    /// `node` is the stub (pushed by the consumer only) or a header handed to this
    /// queue, with a null link.
    #[inline]
    unsafe fn push_node(&self, node: *mut Header) {
        let prev = self.head.swap(node, SeqCst);
        // SAFETY: `prev` is still queued: the consumer never takes the newest node
        // (it pushes the stub behind it first, and waits for that link), and `prev`
        // was the newest until this swap. Release publishes `node`'s contents.
        unsafe { self.link(prev) }.store(node, Release);
    }

    /// `true` when nothing waits to be taken, including posts whose link is not
    /// written yet.
    pub fn is_empty(&self) -> bool {
        // Both ends: while the consumer puts the stub behind the last node, a poster
        // can swap in between, so the stub is newest while that node still waits.
        // Head first: reading the consumer's stub swap makes its tail write visible.
        self.head.load(SeqCst) == stub() && self.tail.load(SeqCst) == stub()
    }

    /// Takes every posted runnable whose post completed, oldest first.
    pub fn take(&self) -> RunQueue {
        self.take_batch(usize::MAX)
    }

    /// Takes up to `max` posted runnables, oldest first. Touches only the runnables it
    /// takes, so a context can take a batch right before running it instead of
    /// walking every queued task.
    pub fn take_batch(&self, max: usize) -> RunQueue {
        if max == 0 || self.is_empty_relaxed() {
            return RunQueue::new();
        }
        let _consumer = Consumer::lock(self);
        // Vyukov's pop in a loop: the taken nodes stay chained through their own links
        // (fixed up where the stub sat between two of them), so the batch needs no
        // relinking.
        let (mut first, mut last, mut taken) =
            (ptr::null_mut::<Header>(), ptr::null_mut::<Header>(), 0);
        let mut tail = self.tail.load(Relaxed);
        while taken < max {
            // SAFETY: `tail` is the stub or a queued header; only this consumer
            // (holding `consuming`) removes nodes.
            let mut next = unsafe { self.link(tail) }.load(Acquire);
            if tail == stub() {
                if next.is_null() {
                    break;
                }
                tail = next;
                if !last.is_null() {
                    // SAFETY: `last` is a node this take already owns.
                    unsafe { (*last).queue_next.store(tail, Relaxed) };
                }
                // SAFETY: `tail` was linked in after the stub: a queued header.
                next = unsafe { self.link(tail) }.load(Acquire);
            }
            if next.is_null() {
                if tail != self.head.load(Acquire) {
                    // A poster swapped itself in after `tail` and has not linked it
                    // yet: leave `tail` for a later take.
                    break;
                }
                // `tail` is the newest node: put the stub behind it so it can leave.
                self.stub_next.store(ptr::null_mut(), Relaxed);
                // SAFETY: the stub, pushed by the consumer, with a null link.
                unsafe { self.push_node(stub()) };
                // SAFETY: `tail` is still queued (only this consumer removes nodes).
                next = unsafe { self.link(tail) }.load(Acquire);
                if next.is_null() {
                    // A poster got in between: its link to `tail` comes later.
                    break;
                }
            }
            // `tail` (not the stub) leaves the queue.
            if first.is_null() {
                first = tail;
            }
            last = tail;
            taken += 1;
            tail = next;
        }
        self.tail.store(tail, Relaxed);
        if taken == 0 {
            return RunQueue::new();
        }
        // SAFETY: `first ..= last` are `taken` headers from `Runnable::into_raw` in
        // `push`, chained in order through their links, and have left the queue; the
        // batch owns them now.
        unsafe { RunQueue::from_chain(first, last, taken) }
    }

    /// [`is_empty`](Self::is_empty) without ordering: a hint (a stale "empty" only
    /// delays a take; callers check `is_empty` before they sleep).
    #[inline]
    fn is_empty_relaxed(&self) -> bool {
        self.head.load(Relaxed) == stub() && self.tail.load(Relaxed) == stub()
    }
}

/// The consumer flag, held for one take.
struct Consumer<'a>(&'a Inject);

impl<'a> Consumer<'a> {
    fn lock(inject: &'a Inject) -> Self {
        // Held for a bounded number of steps (a take never waits on a poster), so
        // another consumer only ever waits briefly; contexts rarely have two.
        while inject.consuming.swap(true, Acquire) {
            spin_yield();
        }
        Consumer(inject)
    }
}

impl Drop for Consumer<'_> {
    fn drop(&mut self) {
        self.0.consuming.store(false, Release);
    }
}

impl Default for Inject {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Inject {
    fn drop(&mut self) {
        // `&mut self`: every post has finished, so the chain is whole.
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
