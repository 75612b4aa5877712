//! Cooperative cancellation: [`StopSource`], [`StopToken`], [`StopCallback`] and the
//! waker-registering [`StopWaker`] every pending operation uses.
//!
//! A token that no source can stop ([`StopToken::never`], the default) is a null
//! pointer: checking it is one branch and it allocates nothing. A source allocates its
//! shared state once. Callbacks are intrusive nodes that live inside the registering
//! future or value (pinned), so registering one never allocates.
//!
//! Rules, as in `std::stop_callback`:
//! - `request_stop` runs every registered callback once, on the requesting thread, in
//!   the reverse order of registration; later requests do nothing.
//! - Registering on an already-stopped token runs the callback at once, inline.
//! - Dropping a callback unregisters it; if it is running on another thread at that
//!   moment, the drop waits for it to finish, so a callback never outlives its owner.
//!   A callback may drop itself.
//! - A callback that panics does not stop the others: `request_stop` runs the rest of
//!   the list, then resumes the first panic on the requesting thread.
//! - [`StopCallback`]'s closure is `'static`: a pinned callback can be leaked
//!   (`Box::pin` then `mem::forget`), and a leaked callback stays registered, so it must
//!   not borrow anything that could be gone when stop is requested.
//!
//! Callbacks that resume work never poll a future inline: [`StopWaker`] only wakes,
//! and the executor decides where the task runs.

use core::cell::UnsafeCell;
use core::fmt;
use core::marker::PhantomPinned;
use core::pin::Pin;
use core::ptr;
use core::task::Waker;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

use crate::sync::{
    current_thread, lock, spin_yield, Arc, AtomicBool, AtomicU8, Mutex,
    UnsafeCell as SyncUnsafeCell,
};

/// Shared state of one source and its tokens.
struct StopState {
    stopped: AtomicBool,
    list: Mutex<List>,
}

/// The registered callbacks; every field is guarded by `StopState::list`.
struct List {
    head: *const Node,
    /// The callback `request_stop` is running with the lock released, and its thread.
    running: Option<(*const Node, ThreadIdent)>,
}

#[cfg(not(loom))]
type ThreadIdent = std::thread::ThreadId;
#[cfg(loom)]
type ThreadIdent = loom::thread::ThreadId;

// SAFETY: the raw pointers in `List` are only dereferenced under the list mutex or by
// the thread that `running` names; nodes unregister themselves before they are freed.
unsafe impl Send for List {}

/// Intrusive list links plus the type-erased action; first field of every node type.
#[repr(C)]
struct Node {
    links: UnsafeCell<Links>,
    /// Runs the action of the node type that embeds this header.
    invoke: unsafe fn(*const Node),
}

/// A node is linked when it has a predecessor or is the head (no flag: every
/// registration, one per stoppable task, stays small).
struct Links {
    prev: *const Node,
    next: *const Node,
}

impl Node {
    fn new(invoke: unsafe fn(*const Node)) -> Self {
        Node {
            links: UnsafeCell::new(Links {
                prev: ptr::null(),
                next: ptr::null(),
            }),
            invoke,
        }
    }
}

/// The header of the node value at `this`, taken through a pointer to the whole value
/// (never `&value.node`), so its provenance covers every field `invoke` reads once it
/// casts the header back to the whole type.
macro_rules! node_of {
    ($this:expr) => {{
        // A `*mut` straight from the `&mut`: a `*const` would go through a shared
        // reborrow and be read-only.
        let whole: *mut Self = &mut *$this;
        // SAFETY: `whole` comes from a live reference; `&raw` reads nothing and makes
        // no intermediate reference that would narrow the provenance.
        unsafe { &raw const (*whole).node }
    }};
}

impl StopState {
    fn new() -> Self {
        StopState {
            stopped: AtomicBool::new(false),
            list: Mutex::new(List {
                head: ptr::null(),
                running: None,
            }),
        }
    }

    #[inline]
    fn is_stopped(&self) -> bool {
        self.stopped.load(std::sync::atomic::Ordering::Acquire)
    }

    fn request_stop(&self) -> bool {
        let mut list = lock(&self.list);
        if self.stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        // Release: work done before the request is visible to whoever observes it.
        self.stopped
            .store(true, std::sync::atomic::Ordering::Release);
        let me = current_thread().id();
        // The first panic of a callback, resumed once the list is done.
        let mut panic = None;
        loop {
            let node = list.head;
            if node.is_null() {
                break;
            }
            // SAFETY: `node` is linked, so its owner has not returned from `unregister`
            // and cannot until it takes the lock we hold; its links are ours to edit.
            unsafe {
                let links = &mut *(*node).links.get();
                list.head = links.next;
                if !links.next.is_null() {
                    (*(*links.next).links.get()).prev = ptr::null();
                }
                links.next = ptr::null();
            }
            list.running = Some((node, me));
            drop(list);
            // SAFETY: `running` names the node, so its owner's `unregister` waits for
            // us to clear it before the node is freed.
            let result = catch_unwind(AssertUnwindSafe(|| unsafe { ((*node).invoke)(node) }));
            list = lock(&self.list);
            // Cleared even when the callback panicked: an owner dropping the node on
            // another thread waits for exactly this.
            list.running = None;
            if let Err(payload) = result {
                // Later payloads are dropped; the first one is resumed below.
                panic.get_or_insert(payload);
            }
        }
        drop(list);
        if let Some(payload) = panic {
            resume_unwind(payload);
        }
        true
    }

    /// Links `node`, or returns `false` (without linking) when stop was already requested.
    ///
    /// # Safety
    /// `node` stays at its address and alive until `unregister(node)` returns.
    unsafe fn register(&self, node: *const Node) -> bool {
        let mut list = lock(&self.list);
        if self.stopped.load(std::sync::atomic::Ordering::Relaxed) {
            return false;
        }
        // SAFETY: we hold the lock that guards every node's links; the caller promises
        // `node` is alive and pinned.
        unsafe {
            let links = &mut *(*node).links.get();
            if !links.prev.is_null() || ptr::eq(list.head, node) {
                return true;
            }
            links.next = list.head;
            if !list.head.is_null() {
                (*(*list.head).links.get()).prev = node;
            }
        }
        list.head = node;
        true
    }

    /// Unlinks `node`, or waits until a callback running on another thread is done.
    ///
    /// # Safety
    /// `node` was passed to `register` on this state (or never registered).
    unsafe fn unregister(&self, node: *const Node) {
        loop {
            let mut list = lock(&self.list);
            // SAFETY: links are guarded by the lock we hold; `node` is alive (the
            // caller is its owner).
            let links = unsafe { &mut *(*node).links.get() };
            if !links.prev.is_null() || ptr::eq(list.head, node) {
                // SAFETY: as above; linked neighbours are alive.
                unsafe {
                    if links.prev.is_null() {
                        list.head = links.next;
                    } else {
                        (*(*links.prev).links.get()).next = links.next;
                    }
                    if !links.next.is_null() {
                        (*(*links.next).links.get()).prev = links.prev;
                    }
                }
                links.prev = ptr::null();
                links.next = ptr::null();
                return;
            }
            match list.running {
                Some((running, thread))
                    if ptr::eq(running, node) && thread != current_thread().id() =>
                {
                    drop(list);
                    spin_yield();
                }
                _ => return,
            }
        }
    }
}

/// The stopping side: requests stop for every [`StopToken`] made from it. Clones share
/// one stop state.
#[derive(Clone)]
pub struct StopSource {
    state: Arc<StopState>,
}

impl StopSource {
    /// A new source; allocates its shared state once.
    pub fn new() -> Self {
        StopSource {
            state: Arc::new(StopState::new()),
        }
    }

    /// A token observing this source.
    pub fn token(&self) -> StopToken {
        StopToken {
            state: Some(self.state.clone()),
        }
    }

    /// Requests stop and runs the registered callbacks on this thread. Returns `true`
    /// for the call that made the request, `false` if stop was already requested.
    pub fn request_stop(&self) -> bool {
        self.state.request_stop()
    }

    /// `true` once stop was requested.
    pub fn stop_requested(&self) -> bool {
        self.state.is_stopped()
    }

    /// Makes the source as new (not stopped) when nothing else shares its state — no
    /// clone, no token, hence no registration — and returns `true`; otherwise changes
    /// nothing and returns `false`. Lets combinators reuse one allocation per source.
    pub(crate) fn try_reset(&mut self) -> bool {
        let Some(state) = Arc::get_mut(&mut self.state) else {
            return false;
        };
        // Every registration holds a token, so none exists and none is running.
        debug_assert!(lock(&state.list).head.is_null());
        state
            .stopped
            .store(false, std::sync::atomic::Ordering::Relaxed);
        true
    }
}

impl Default for StopSource {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for StopSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSource")
            .field("stop_requested", &self.stop_requested())
            .finish()
    }
}

/// The observing side of a [`StopSource`]; cheap to clone, and free when it can never
/// be stopped.
#[derive(Clone, Default)]
pub struct StopToken {
    state: Option<Arc<StopState>>,
}

impl StopToken {
    /// A token that is never stopped; no allocation.
    pub const fn never() -> Self {
        StopToken { state: None }
    }

    /// `true` once the source requested stop.
    #[inline]
    pub fn stop_requested(&self) -> bool {
        self.state.as_ref().is_some_and(|s| s.is_stopped())
    }

    /// `false` for a token no source can stop.
    #[inline]
    pub fn stop_possible(&self) -> bool {
        self.state.is_some()
    }

    /// The source's stop flag, or null for a token no source can stop: what the
    /// environment publishes so that [`stop_requested`](crate::stop_requested), the check
    /// in front of every operation, is one thread-local load (and one more for a token
    /// that can stop). The pointer is valid while this token (or another of the source)
    /// is alive.
    #[inline]
    pub(crate) fn stop_flag(&self) -> *const AtomicBool {
        self.state
            .as_ref()
            .map_or(ptr::null(), |s| ptr::from_ref(&s.stopped))
    }

    /// `true` when both tokens observe the same source (or both observe none).
    pub fn same_source(&self, other: &StopToken) -> bool {
        match (&self.state, &other.state) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl fmt::Debug for StopToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopToken")
            .field("stop_possible", &self.stop_possible())
            .field("stop_requested", &self.stop_requested())
            .finish()
    }
}

/// Runs `f` once when the token's source requests stop (or at once, inline, from
/// [`register`](Self::register) if it already did). Unregisters on drop.
///
/// The callback lives inside this value, which must be pinned before it registers, so
/// registration never allocates:
///
/// ```
/// use std::pin::pin;
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
/// use strait_streams::{StopCallback, StopSource};
///
/// let source = StopSource::new();
/// let fired = Arc::new(AtomicBool::new(false));
/// let flag = fired.clone();
/// let mut callback = pin!(StopCallback::new(source.token(), move || flag.store(true, Ordering::SeqCst)));
/// callback.as_mut().register();
/// source.request_stop();
/// assert!(fired.load(Ordering::SeqCst));
/// ```
///
/// `f` is `'static`: a registered callback that is leaked instead of dropped stays in
/// the source's list and still runs, so it must not borrow anything. This does not
/// compile:
///
/// ```compile_fail,E0373
/// use strait_streams::{StopCallback, StopSource};
///
/// let source = StopSource::new();
/// let local = String::from("gone by the time stop is requested");
/// let mut callback = Box::pin(StopCallback::new(source.token(), || println!("{local}")));
/// callback.as_mut().register();
/// std::mem::forget(callback); // never unregistered
/// drop(local);
/// source.request_stop(); // would read `local` after it was freed
/// ```
#[repr(C)]
pub struct StopCallback<F: FnOnce() + Send + 'static> {
    node: Node,
    /// Taken once; a loom-checked cell (`crate::sync`).
    f: SyncUnsafeCell<Option<F>>,
    token: StopToken,
    registered: bool,
    _pinned: PhantomPinned,
}

// SAFETY: `f` is taken exactly once, either by the owner (inline registration) or by the
// stopping thread while the owner is excluded by the list protocol; `F: Send` lets it
// run on that thread. Links are only touched under the state's lock.
unsafe impl<F: FnOnce() + Send + 'static> Send for StopCallback<F> {}
// SAFETY: shared access never touches `f` or the links without the lock.
unsafe impl<F: FnOnce() + Send + 'static> Sync for StopCallback<F> {}

impl<F: FnOnce() + Send + 'static> StopCallback<F> {
    /// A callback for `token`; it does nothing until [`register`](Self::register)ed.
    pub fn new(token: StopToken, f: F) -> Self {
        StopCallback {
            node: Node::new(Self::invoke),
            f: SyncUnsafeCell::new(Some(f)),
            token,
            registered: false,
            _pinned: PhantomPinned,
        }
    }

    /// Registers the callback; runs it inline if stop was already requested. Returns
    /// `true` if it was registered (not yet run). Registering twice does nothing.
    pub fn register(self: Pin<&mut Self>) -> bool {
        // SAFETY: we never move out of the pinned value.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(state) = this.token.state.clone() else {
            return false;
        };
        if this.registered {
            return true;
        }
        let node = node_of!(this);
        // SAFETY: the value is pinned and `Drop` unregisters before it is freed.
        if unsafe { state.register(node) } {
            this.registered = true;
            true
        } else {
            // SAFETY: never linked, so no other thread can reach `f`.
            let f = this.f.with_mut(|f| unsafe { (*f).take() });
            if let Some(f) = f {
                f();
            }
            false
        }
    }

    /// # Safety
    /// `node` is the header of a live `StopCallback<F>` that the stopping thread just
    /// unlinked (so it alone may take `f`).
    unsafe fn invoke(node: *const Node) {
        let this = node.cast::<Self>();
        // SAFETY: `repr(C)` puts the header first and `node_of!` derived `node` from the
        // whole callback, so the cast recovers it; the unlinking thread has exclusive
        // access to `f`.
        let f = unsafe { (*this).f.with_mut(|f| (*f).take()) };
        if let Some(f) = f {
            f();
        }
    }
}

impl<F: FnOnce() + Send + 'static> Drop for StopCallback<F> {
    fn drop(&mut self) {
        if self.registered {
            let node = node_of!(self);
            if let Some(state) = &self.token.state {
                // SAFETY: registered on this state with this pinned node.
                unsafe { state.unregister(node) };
            }
        }
    }
}

/// Wakes the latest registered waker when the token's source requests stop: what an
/// environment publisher (the task harness, `with_stop_token`, a combinator, a
/// driver's `block_on`) keeps so a stop wakes its task, and what primitives with their
/// own wait queues (`AsyncMutex`, `AsyncEvent`) embed.
///
/// Call [`poll_stopped`](Self::poll_stopped) on every poll of the operation before
/// returning `Pending`; it returns `true` when stop was requested.
#[repr(C)]
pub struct StopWaker {
    node: Node,
    /// The registered waker, owned by whoever holds the slot (see `slot`).
    waker: SyncUnsafeCell<Option<Waker>>,
    token: StopToken,
    /// `futures`' `AtomicWaker` protocol over `waker`: `WAITING`, `REGISTERING` (the
    /// owner is writing it), `WAKING` (the stopping thread takes it; a registration
    /// meanwhile wakes its own waker). No lock, and one byte beside `registered`.
    slot: AtomicU8,
    registered: bool,
    _pinned: PhantomPinned,
}

const WAITING: u8 = 0;
const REGISTERING: u8 = 1;
const WAKING: u8 = 2;

// SAFETY: the waker slot is owned through the `slot` protocol; links are only touched
// under the state lock.
unsafe impl Send for StopWaker {}
// SAFETY: as above.
unsafe impl Sync for StopWaker {}

impl StopWaker {
    /// A registration for `token`; nothing happens until the first `poll_stopped`.
    pub fn new(token: StopToken) -> Self {
        StopWaker {
            node: Node::new(Self::invoke),
            waker: SyncUnsafeCell::new(None),
            token,
            slot: AtomicU8::new(WAITING),
            registered: false,
            _pinned: PhantomPinned,
        }
    }

    /// The token this registration watches.
    pub fn token(&self) -> &StopToken {
        &self.token
    }

    /// Returns `true` if stop was requested; otherwise makes sure `waker` is woken when
    /// it is. Never allocates after the first call with a given waker.
    pub fn poll_stopped(self: Pin<&mut Self>, waker: &Waker) -> bool {
        // SAFETY: we never move out of the pinned value.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(state) = this.token.state.clone() else {
            return false;
        };
        if state.is_stopped() {
            return true;
        }
        this.store_waker(waker);
        if state.is_stopped() {
            // A stop that took an older waker before this one was stored.
            return true;
        }
        if !this.registered {
            let node = node_of!(this);
            // SAFETY: pinned; `Drop` unregisters.
            if unsafe { state.register(node) } {
                this.registered = true;
            } else {
                return true;
            }
        }
        false
    }

    /// Stores `waker` unless it would wake the same task as the stored one (`futures`'
    /// `AtomicWaker::register`); only the owner calls it.
    fn store_waker(&self, waker: &Waker) {
        use std::sync::atomic::Ordering::{AcqRel, Acquire};
        match self
            .slot
            .compare_exchange(WAITING, REGISTERING, Acquire, Acquire)
        {
            Ok(_) => {
                // SAFETY: REGISTERING gives us the slot; the waking side only takes it
                // from WAITING.
                self.waker.with_mut(|slot| unsafe {
                    match &*slot {
                        Some(w) if w.will_wake(waker) => {}
                        _ => *slot = Some(waker.clone()),
                    }
                });
                if self
                    .slot
                    .compare_exchange(REGISTERING, WAITING, AcqRel, Acquire)
                    .is_err()
                {
                    // A stop arrived meanwhile (REGISTERING | WAKING) and left the wake
                    // to us: the slot is still ours.
                    // SAFETY: as above; no one else takes it in this state.
                    let taken = self.waker.with_mut(|slot| unsafe { (*slot).take() });
                    self.slot.swap(WAITING, AcqRel);
                    if let Some(w) = taken {
                        w.wake();
                    }
                }
            }
            // A stop is taking the previous waker right now: wake this one too.
            Err(WAKING) => waker.wake_by_ref(),
            // REGISTERING: only the owner registers, so this cannot be observed.
            Err(_) => debug_assert!(false, "concurrent StopWaker registration"),
        }
    }

    /// # Safety
    /// `node` is the header of a live `StopWaker` the stopping thread just unlinked.
    unsafe fn invoke(node: *const Node) {
        use std::sync::atomic::Ordering::{AcqRel, Release};
        // SAFETY: `repr(C)` header-first cast of a pointer `node_of!` derived from the
        // whole value; the owner waits for us before freeing.
        let this = unsafe { &*node.cast::<Self>() };
        if this.slot.fetch_or(WAKING, AcqRel) == WAITING {
            // SAFETY: WAKING from WAITING gives us the slot until we clear it.
            let taken = this.waker.with_mut(|slot| unsafe { (*slot).take() });
            this.slot.fetch_and(!WAKING, Release);
            if let Some(w) = taken {
                w.wake();
            }
        }
        // Otherwise the owner is registering: it sees WAKING and wakes its waker.
    }
}

impl Drop for StopWaker {
    fn drop(&mut self) {
        if self.registered {
            let node = node_of!(self);
            if let Some(state) = &self.token.state {
                // SAFETY: registered on this state with this pinned node.
                unsafe { state.unregister(node) };
            }
        }
    }
}

impl fmt::Debug for StopWaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopWaker")
            .field("token", &self.token)
            .finish()
    }
}

/// The task harness's stop registration: wakes one spawned task when its environment's
/// token stops (the harness's share of the publisher contract). Four words, against a
/// [`StopWaker`]'s eight: the task is named by its header, not by a cloned waker (so no
/// waker slot and no lock), the token is the task's own (in its header), and "registered"
/// is a non-null `task`. It lives in the task's stage, so the task memory outlives it;
/// the wake takes a reference only while the task has one (see
/// [`raw::wake_if_alive`](crate::task::raw::wake_if_alive)).
#[repr(C)]
pub(crate) struct TaskStop {
    node: Node,
    /// The task to wake; null until registered. Written before the node is linked
    /// (under the state lock) and never again, so the stopping thread reads it freely.
    task: *const crate::task::raw::Header,
    _pinned: PhantomPinned,
}

// SAFETY: `task` is written once before the node is published under the state lock;
// links are only touched under that lock.
unsafe impl Send for TaskStop {}
// SAFETY: as above.
unsafe impl Sync for TaskStop {}

impl TaskStop {
    /// An unregistered node.
    pub(crate) const fn new() -> Self {
        TaskStop {
            node: Node {
                links: UnsafeCell::new(Links {
                    prev: ptr::null(),
                    next: ptr::null(),
                }),
                invoke: Self::invoke,
            },
            task: ptr::null(),
            _pinned: PhantomPinned,
        }
    }

    /// The registered task, or null.
    pub(crate) fn task(&self) -> *const crate::task::raw::Header {
        self.task
    }

    /// Registers on the first call: a stop of `token` then wakes `task`. Returns `true`
    /// when stop was requested (then nothing is registered).
    ///
    /// # Safety
    /// `task` is the live task whose stage holds this value, `token` is its
    /// environment's token, and [`unregister`](Self::unregister) is called with that
    /// token before this value is dropped.
    pub(crate) unsafe fn poll_register(
        self: Pin<&mut Self>,
        token: &StopToken,
        task: core::ptr::NonNull<crate::task::raw::Header>,
    ) -> bool {
        let Some(state) = &token.state else {
            return false;
        };
        if state.is_stopped() {
            return true;
        }
        // SAFETY: we never move out of the pinned value.
        let this = unsafe { self.get_unchecked_mut() };
        if !this.task.is_null() {
            return false;
        }
        this.task = task.as_ptr();
        let node = node_of!(this);
        // SAFETY: pinned; the caller unregisters before the value is dropped. A `false`
        // (already stopped) leaves `task` set, which `unregister` handles (not linked).
        !unsafe { state.register(node) }
    }

    /// Unlinks the node, or waits for a wake running on another thread.
    ///
    /// # Safety
    /// `token` is the one given to [`poll_register`](Self::poll_register).
    pub(crate) unsafe fn unregister(self: Pin<&mut Self>, token: &StopToken) {
        // SAFETY: we never move out of the pinned value.
        let this = unsafe { self.get_unchecked_mut() };
        if this.task.is_null() {
            return;
        }
        if let Some(state) = &token.state {
            let node = node_of!(this);
            // SAFETY: registered (or refused) on this state with this pinned node.
            unsafe { state.unregister(node) };
        }
        this.task = ptr::null();
    }

    /// # Safety
    /// `node` is the header of a live `TaskStop` the stopping thread just unlinked.
    unsafe fn invoke(node: *const Node) {
        // SAFETY: `repr(C)` header-first cast of a pointer `node_of!` derived from the
        // whole value; its owner waits for us in `unregister` before the task's stage
        // (and so the task memory) goes, and `task` was set before linking.
        unsafe {
            let task = (*node.cast::<Self>()).task;
            crate::task::raw::wake_if_alive(core::ptr::NonNull::new_unchecked(task.cast_mut()));
        }
    }
}

/// Requests stop on a [`StopSource`] when another token's source requests stop: how a
/// combinator forwards its parent's stop to its children. Intrusive, like
/// [`StopCallback`]; pin it, then [`register`](Self::register).
#[repr(C)]
pub struct StopForwarder {
    node: Node,
    target: StopSource,
    token: StopToken,
    registered: bool,
    _pinned: PhantomPinned,
}

// SAFETY: `target` is thread-safe; links are only touched under the state lock.
unsafe impl Send for StopForwarder {}
// SAFETY: as above.
unsafe impl Sync for StopForwarder {}

impl StopForwarder {
    /// Forwards stop from `from` to `to` once registered.
    pub fn new(from: StopToken, to: StopSource) -> Self {
        StopForwarder {
            node: Node::new(Self::invoke),
            target: to,
            token: from,
            registered: false,
            _pinned: PhantomPinned,
        }
    }

    /// Registers; if `from` already stopped, requests stop on the target at once.
    pub fn register(self: Pin<&mut Self>) {
        // SAFETY: we never move out of the pinned value.
        let this = unsafe { self.get_unchecked_mut() };
        let Some(state) = this.token.state.clone() else {
            return;
        };
        if this.registered {
            return;
        }
        let node = node_of!(this);
        // SAFETY: pinned; `Drop` unregisters.
        if unsafe { state.register(node) } {
            this.registered = true;
        } else {
            this.target.request_stop();
        }
    }

    /// # Safety
    /// `node` is the header of a live `StopForwarder` the stopping thread just unlinked.
    unsafe fn invoke(node: *const Node) {
        // SAFETY: `repr(C)` header-first cast of a pointer `node_of!` derived from the
        // whole value; the owner waits for us before freeing.
        unsafe { (*node.cast::<Self>()).target.request_stop() };
    }
}

impl Drop for StopForwarder {
    fn drop(&mut self) {
        if self.registered {
            let node = node_of!(self);
            if let Some(state) = &self.token.state {
                // SAFETY: registered on this state with this pinned node.
                unsafe { state.unregister(node) };
            }
        }
    }
}

impl fmt::Debug for StopForwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopForwarder")
            .field("from", &self.token)
            .field("to", &self.target)
            .finish()
    }
}
