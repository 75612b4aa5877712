//! An intrusive FIFO of waiters, guarded by its owner's mutex.

use std::cell::UnsafeCell;
use std::marker::PhantomPinned;
use std::ptr;
use std::task::Waker;

/// One waiting future's node. Every field is guarded by the owning primitive's mutex.
pub(crate) struct WaitNode {
    inner: UnsafeCell<NodeState>,
    _pinned: PhantomPinned,
}

pub(crate) struct NodeState {
    prev: *const WaitNode,
    next: *const WaitNode,
    pub(crate) linked: bool,
    /// Set by the notifier when it claims this waiter (lock handed over, event set).
    pub(crate) notified: bool,
    pub(crate) waker: Option<Waker>,
}

// SAFETY: the node's state is only accessed under the owning primitive's mutex.
unsafe impl Send for WaitNode {}
// SAFETY: as above.
unsafe impl Sync for WaitNode {}

impl WaitNode {
    pub(crate) fn new() -> Self {
        WaitNode {
            inner: UnsafeCell::new(NodeState {
                prev: ptr::null(),
                next: ptr::null(),
                linked: false,
                notified: false,
                waker: None,
            }),
            _pinned: PhantomPinned,
        }
    }

    /// # Safety
    /// The caller holds the mutex that guards this node's list.
    #[allow(clippy::mut_from_ref)]
    pub(crate) unsafe fn state(&self) -> &mut NodeState {
        // SAFETY: exclusive access is given by the guarding mutex (caller contract).
        unsafe { &mut *self.inner.get() }
    }
}

/// Head and tail of the list; lives inside the primitive's mutex.
pub(crate) struct WaitList {
    head: *const WaitNode,
    tail: *const WaitNode,
}

// SAFETY: nodes are only touched under the mutex that owns this list.
unsafe impl Send for WaitList {}

impl WaitList {
    pub(crate) const fn new() -> Self {
        WaitList {
            head: ptr::null(),
            tail: ptr::null(),
        }
    }

    /// # Safety
    /// The caller holds the guarding mutex; `node` is pinned and stays alive until it
    /// is removed (its owner removes it on drop).
    pub(crate) unsafe fn push_back(&mut self, node: &WaitNode) {
        // SAFETY: caller contract.
        let st = unsafe { node.state() };
        st.prev = self.tail;
        st.next = ptr::null();
        st.linked = true;
        if self.tail.is_null() {
            self.head = node;
        } else {
            // SAFETY: linked nodes are alive; guarded by the caller's mutex.
            unsafe { (*self.tail).state().next = node };
        }
        self.tail = node;
    }

    /// # Safety
    /// The caller holds the guarding mutex; `node` is linked in this list.
    pub(crate) unsafe fn remove(&mut self, node: &WaitNode) {
        // SAFETY: caller contract.
        let st = unsafe { node.state() };
        if !st.linked {
            return;
        }
        // SAFETY: neighbours of a linked node are linked and alive.
        unsafe {
            if st.prev.is_null() {
                self.head = st.next;
            } else {
                (*st.prev).state().next = st.next;
            }
            if st.next.is_null() {
                self.tail = st.prev;
            } else {
                (*st.next).state().prev = st.prev;
            }
        }
        st.linked = false;
        st.prev = ptr::null();
        st.next = ptr::null();
    }

    /// Unlinks the first waiter, marks it notified and returns its waker.
    ///
    /// # Safety
    /// The caller holds the guarding mutex.
    pub(crate) unsafe fn notify_first(&mut self) -> Option<Option<Waker>> {
        if self.head.is_null() {
            return None;
        }
        // SAFETY: the head is linked and alive.
        let node = unsafe { &*self.head };
        // SAFETY: guarded by the caller's mutex.
        unsafe { self.remove(node) };
        // SAFETY: as above.
        let st = unsafe { node.state() };
        st.notified = true;
        Some(st.waker.take())
    }
}
