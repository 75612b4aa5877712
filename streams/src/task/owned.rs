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
/// spawns abort at once: the papers' "shutdown is defined". Intrusive: listing costs
/// no allocation.
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
    head: *const Header,
    len: usize,
    closed: bool,
}

// SAFETY: the raw pointers are only followed under the mutex, to tasks the list holds a
// reference to.
unsafe impl Send for List {}

/// A task's links in the list (in its header), guarded by the list's mutex. A task is
/// listed when it has a predecessor or is the head (no flag: the header stays small).
pub(crate) struct Links {
    prev: UnsafeCell<*const Header>,
    next: UnsafeCell<*const Header>,
}

impl Links {
    pub(crate) const fn new() -> Self {
        Links {
            prev: UnsafeCell::new(ptr::null()),
            next: UnsafeCell::new(ptr::null()),
        }
    }
}

impl OwnedTasks {
    /// An empty, open list.
    pub fn new() -> Self {
        OwnedTasks {
            list: Mutex::new(List {
                head: ptr::null(),
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
        // SAFETY: live task, links guarded by the lock we hold.
        unsafe {
            let header = task.as_ref();
            header.refs_add_one();
            *header.owned.prev.get() = ptr::null();
            *header.owned.next.get() = list.head;
            if let Some(old) = list.head.as_ref() {
                *old.owned.prev.get() = task.as_ptr();
            }
        }
        list.head = task.as_ptr();
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
        lock(&self.list).closed = true;
        self.closed.store(true, Ordering::SeqCst);
        loop {
            let task = {
                let mut list = lock(&self.list);
                let Some(task) = NonNull::new(list.head.cast_mut()) else {
                    return;
                };
                // SAFETY: a listed task, under the lock.
                unsafe { unlink(&mut list, task) };
                task
            };
            // SAFETY: the list's reference (now ours) keeps it alive; aborting on the
            // context's own shutdown path is what owning contexts document.
            unsafe {
                raw::abort_now(task);
                raw::release(task);
            }
        }
    }
}

/// Unlinks `task` if listed; `true` when it was.
///
/// # Safety
/// `list` is the locked list `task` would be on; `task` is alive.
unsafe fn unlink(list: &mut List, task: NonNull<Header>) -> bool {
    // SAFETY: as documented; links are only touched under this lock.
    unsafe {
        let links = &task.as_ref().owned;
        let (prev, next) = (*links.prev.get(), *links.next.get());
        if prev.is_null() && !ptr::eq(list.head, task.as_ptr()) {
            return false;
        }
        match prev.as_ref() {
            Some(p) => *p.owned.next.get() = next,
            None => list.head = next,
        }
        if let Some(n) = next.as_ref() {
            *n.owned.prev.get() = prev;
        }
        *links.prev.get() = ptr::null();
        *links.next.get() = ptr::null();
    }
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
