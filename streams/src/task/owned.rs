//! [`OwnedTasks`]: the tasks a context owns, so it can abort them when it shuts down.

use std::cell::UnsafeCell;
use std::fmt;
use std::ptr::{self, NonNull};

use super::raw::{self, Header};
use std::sync::atomic::{AtomicBool, Ordering};

use crate::sync::{lock, Mutex};

/// The list of every unfinished task of one execution context.
///
/// An executor that returns it from [`Executor::owned_tasks`](crate::Executor::owned_tasks) gets each
/// of its tasks listed here from the first time the task waits (returns `Pending`) to
/// its completion; the list holds a reference, so no task of the context is freed behind
/// its back. A task that never waited is always queued or running, where the context's
/// queue drain (or the runner) finds it, so the many tasks that finish in one poll never
/// touch the list's lock. When the context shuts down,
/// [`close_and_abort_all`](Self::close_and_abort_all) aborts every listed task — its
/// future is dropped, releasing the sockets and buffers it held — and makes later
/// spawns abort at once: the papers' "shutdown is defined".
///
/// A slab of task pointers: each listed task records its slot, and a finished task's
/// slot goes to a free list threaded through the free slots. Listing and unlisting
/// touch the slot and the task's own header, never another task's (an intrusive list's
/// unlink writes both neighbours, two cache misses per completion among many waiting
/// tasks). The slab grows to the context's peak of waiting tasks and is then reused:
/// no allocation in steady state.
///
/// Listed tasks keep their executor (and so the context's shared state holding this
/// list) alive: the context must call `close_and_abort_all` when it shuts down, as
/// `RunLoop`, `ThreadPool` and `strait-native`'s `IoContext` do on drop.
pub struct OwnedTasks {
    list: Mutex<List>,
    /// Mirrors `List::closed` for lock-free checks at spawn and post.
    closed: AtomicBool,
}

struct List {
    /// A listed task's pointer, or, in a free slot, the next free slot's index as
    /// `(index << 1) | 1` (a pointer without provenance, never followed; task pointers
    /// are even).
    slots: Vec<*const Header>,
    /// The first free slot, or `NO_SLOT`.
    free: u32,
    len: usize,
    closed: bool,
}

/// No slot: the end of the free list, and the slot of a task that is not listed.
const NO_SLOT: u32 = u32::MAX;

fn free_link(next: u32) -> *const Header {
    ptr::without_provenance(((next as usize) << 1) | 1)
}

fn is_free(slot: *const Header) -> bool {
    slot.addr() & 1 != 0
}

// SAFETY: the raw pointers are only followed under the mutex, to tasks the list holds a
// reference to.
unsafe impl Send for List {}

/// A task's slot in the list (in its header), guarded by the list's mutex; `NO_SLOT`
/// when the task is not listed.
pub(crate) struct Links {
    slot: UnsafeCell<u32>,
}

impl Links {
    pub(crate) const fn new() -> Self {
        Links {
            slot: UnsafeCell::new(NO_SLOT),
        }
    }
}

impl OwnedTasks {
    /// An empty, open list.
    pub fn new() -> Self {
        OwnedTasks {
            list: Mutex::new(List {
                slots: Vec::new(),
                free: NO_SLOT,
                len: 0,
                closed: false,
            }),
            closed: AtomicBool::new(false),
        }
    }

    /// Unfinished tasks listed now.
    pub fn len(&self) -> usize {
        lock(&self.list).len
    }

    /// `true` when no unfinished task is listed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// `true` after [`close_and_abort_all`](Self::close_and_abort_all) started. An
    /// executor checks it after queuing a runnable (with a `SeqCst` fence between) and
    /// drops what it queued when it sees it: its context is gone and no runner will
    /// take the task, so it is aborted instead of leaked.
    pub fn is_closed(&self) -> bool {
        self.closed.load(Ordering::SeqCst)
    }

    /// Lists a task, taking a reference; `false` (nothing taken) once closed.
    ///
    /// # Safety
    /// `task` is a live, unlisted task whose executor returns this list.
    pub(crate) unsafe fn insert(&self, task: NonNull<Header>) -> bool {
        let mut list = lock(&self.list);
        if list.closed {
            return false;
        }
        let index = if list.free != NO_SLOT {
            let index = list.free;
            let link = list.slots[index as usize];
            debug_assert!(is_free(link));
            list.free = (link.addr() >> 1) as u32;
            list.slots[index as usize] = task.as_ptr();
            index
        } else {
            let index = u32::try_from(list.slots.len())
                .ok()
                .filter(|&i| i != NO_SLOT)
                .expect("more than u32::MAX - 1 waiting tasks in one context");
            list.slots.push(task.as_ptr());
            index
        };
        // SAFETY: live task, its slot guarded by the lock we hold.
        unsafe {
            let header = task.as_ref();
            header.refs_add_one();
            *header.owned.slot.get() = index;
        }
        list.len += 1;
        true
    }

    /// Unlinks a finished task and releases the list's reference (nothing if it was
    /// not listed, e.g. already taken by `close_and_abort_all`).
    ///
    /// # Safety
    /// The caller holds its own reference to `task`.
    pub(crate) unsafe fn remove(&self, task: NonNull<Header>) {
        {
            let mut list = lock(&self.list);
            // SAFETY: links guarded by the lock we hold; the task is alive.
            if !unsafe { unlink(&mut list, task) } {
                return;
            }
        }
        // SAFETY: the list's reference, now ours to give back.
        unsafe { raw::release(task) };
    }

    /// Closes the list without aborting what is on it: later spawns are aborted at
    /// spawn, listed tasks stay (leaked, with the context's state they hold). For a
    /// context dropped off the thread its local tasks are bound to, which must not drop
    /// their futures.
    pub fn close(&self) {
        lock(&self.list).closed = true;
        self.closed.store(true, Ordering::SeqCst);
    }

    /// Closes the list and aborts every task on it, on this thread: an idle task's
    /// future is dropped here at once; a queued one is aborted by its runnable (when
    /// run or dropped with its queue); a running one right after its current poll.
    /// Tasks spawned afterwards are aborted at spawn.
    pub fn close_and_abort_all(&self) {
        let slots = {
            let mut list = lock(&self.list);
            list.closed = true;
            self.closed.store(true, Ordering::SeqCst);
            list.free = NO_SLOT;
            list.len = 0;
            let mut slots = std::mem::take(&mut list.slots);
            slots.retain(|&slot| !is_free(slot));
            for &task in &slots {
                // SAFETY: a listed task (the list holds a reference), under the lock.
                unsafe { *(*task).owned.slot.get() = NO_SLOT };
            }
            slots
        };
        // Outside the lock: aborting drops futures, whose tasks may complete others.
        for task in slots {
            let task = NonNull::new(task.cast_mut()).expect("listed tasks are non-null");
            // SAFETY: the list's reference (now ours) keeps it alive; aborting on the
            // context's own shutdown path is what owning contexts document.
            unsafe {
                raw::abort_now(task);
                raw::release(task);
            }
        }
    }
}

/// Unlists `task` if listed; `true` when it was.
///
/// # Safety
/// `list` is the locked list `task` would be on; `task` is alive.
unsafe fn unlink(list: &mut List, task: NonNull<Header>) -> bool {
    // SAFETY: as documented; slots are only touched under this lock.
    let slot = unsafe { &mut *task.as_ref().owned.slot.get() };
    if *slot == NO_SLOT {
        return false;
    }
    debug_assert!(ptr::eq(list.slots[*slot as usize], task.as_ptr()));
    list.slots[*slot as usize] = free_link(list.free);
    list.free = *slot;
    *slot = NO_SLOT;
    list.len -= 1;
    true
}

impl Default for OwnedTasks {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for OwnedTasks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = lock(&self.list);
        f.debug_struct("OwnedTasks")
            .field("len", &list.len)
            .field("closed", &list.closed)
            .finish()
    }
}
