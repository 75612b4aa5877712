//! The spawned-task harness: one allocation per task from the frame allocator, a
//! reference count, and a small state machine that decides who may poll the future.
//!
//! # State
//! `state` holds flags; every transition is a CAS or `fetch_*` on it:
//! - `SCHEDULED`: a [`Runnable`] for the task exists (in a queue or being handed over).
//!   Only a wake that sets this bit creates one, so a task is never queued twice.
//! - `RUNNING`: a thread is polling the future. A wake meanwhile sets `NOTIFIED`
//!   instead of scheduling, and the runner reschedules when the poll returns `Pending`.
//! - `COMPLETE`: the output (or the abort/panic error) is stored; the future is gone.
//! - `ABORT`: the join handle asked to abort; the next run drops the future instead.
//! - `FOREIGN`: a foreign scheduler runs the task through a [`ForeignTask`]: a wake that
//!   sets `SCHEDULED` wakes that scheduler's waker instead of posting a runnable, and
//!   the `SCHEDULED` bit itself is the right to run (no runnable object exists).
//! - `COUNTS_AS_WORK`: fixed at allocation; the task's completion ends a unit of its
//!   executor's outstanding work.
//! - `EVER_LISTED`: set once by the runner when the owning context lists the task.
//! - `JOIN_WAKER`: set once the join handle stored a waker; completion wakes it.
//!
//! # Ownership by a context
//! An executor that offers [`OwnedTasks`] lists each of its tasks there from the first
//! time the task waits to its completion (before that, the task is queued or running,
//! where the context's shutdown finds it); the list holds a reference, so a task is
//! never freed while listed, and the context can abort every task it owns when it shuts
//! down.
//!
//! [`ForeignTask`]: super::ForeignTask
//! [`OwnedTasks`]: super::OwnedTasks
//!
//! # References
//! `refs` counts the runnable (at most one), every waker, the join handle, a
//! [`ForeignTask`] and the owning context's list (while listed). The
//! last release drops whatever the stage holds and returns the memory to the
//! allocator recorded in the header.
//!
//! # Panics
//! User code the harness runs never unwinds into the executor: a panic in `poll` or in
//! the future's destructor (dropped in place, on the executor, as soon as it finishes
//! or is aborted) becomes the task's [`JoinError::Panicked`]; an output nobody took is
//! dropped by the last reference with its destructor's panic discarded.

use std::any::Any;
use std::future::Future;
use std::mem::ManuallyDrop;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::ptr::NonNull;
use std::sync::atomic::Ordering;
use std::task::{Context, Poll, RawWaker, RawWakerVTable, Waker};

use crate::env::{EnvGuard, IoEnv};
use crate::sync::{fence, lock, AtomicPtr, AtomicU32, Mutex};

const SCHEDULED: u32 = 1;
const RUNNING: u32 = 2;
const NOTIFIED: u32 = 4;
const COMPLETE: u32 = 8;
const ABORT: u32 = 16;
const FOREIGN: u32 = 32;
/// Set at allocation and never changed: the task counts as outstanding work of its
/// executor (`on_work_finished` when it completes).
const COUNTS_AS_WORK: u32 = 64;
/// Set by the runner the first time the task waits, when its executor lists it in its
/// [`OwnedTasks`](super::OwnedTasks): it must be removed from there when it completes.
const EVER_LISTED: u32 = 128;
/// Set (under the wakers' lock) once the join handle stored a waker: completion takes
/// the lock only then, so a detached task's completion never touches the wakers.
const JOIN_WAKER: u32 = 256;

/// Why a task produced no value.
#[non_exhaustive]
pub enum JoinError {
    /// The task was aborted, or its executor shut down before it finished.
    Aborted,
    /// The task panicked; the payload is the panic's.
    Panicked(Box<dyn Any + Send + 'static>),
}

impl JoinError {
    /// `true` for [`JoinError::Aborted`].
    pub fn is_aborted(&self) -> bool {
        matches!(self, JoinError::Aborted)
    }

    /// `true` for [`JoinError::Panicked`].
    pub fn is_panic(&self) -> bool {
        matches!(self, JoinError::Panicked(_))
    }

    /// The panic payload, or `None` for an abort.
    pub fn into_panic(self) -> Option<Box<dyn Any + Send + 'static>> {
        match self {
            JoinError::Panicked(p) => Some(p),
            JoinError::Aborted => None,
        }
    }
}

impl std::fmt::Debug for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::Aborted => f.write_str("JoinError::Aborted"),
            JoinError::Panicked(p) => {
                let msg = p
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| p.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("<non-string payload>");
                write!(f, "JoinError::Panicked({msg:?})")
            }
        }
    }
}

impl std::fmt::Display for JoinError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            JoinError::Aborted => f.write_str("task was aborted"),
            JoinError::Panicked(_) => f.write_str("task panicked"),
        }
    }
}

impl std::error::Error for JoinError {}

/// Per-task operations that depend on the future's type.
pub(crate) struct VTable {
    /// Polls the future; returns `true` when it finished (output stored).
    poll: unsafe fn(NonNull<Header>, &mut Context<'_>) -> bool,
    /// Drops the future and stores `JoinError::Aborted`.
    abort: unsafe fn(NonNull<Header>),
    /// Moves the output into `*out`, an `Option<Result<T, JoinError>>`.
    take_output: unsafe fn(NonNull<Header>, out: *mut ()),
    /// Drops the stage and the header and frees the memory.
    dealloc: unsafe fn(NonNull<Header>),
}

/// The type-independent part of every task, first in its allocation. `repr(C)`, in
/// the order a run touches it: state, queue link, vtable and executor first, the
/// wakers (touched at completion) last. Measured with cachegrind on the timer probe
/// (50k waiting tasks): 40k fewer D1 misses than the compiler's order, 60k fewer than
/// the wakers first.
#[repr(C)]
pub(crate) struct Header {
    state: AtomicU32,
    /// 32 bits (with `state`, one word): [`add_ref`] aborts the process long before
    /// it could wrap, as `Arc` does.
    refs: AtomicU32,
    /// Intrusive run-queue link; owned by whichever queue holds the runnable. Atomic
    /// for [`Inject`](crate::driver::Inject), whose posters link it while the consumer
    /// reads; plain queues use relaxed accesses (ordinary moves).
    pub(crate) queue_next: AtomicPtr<Header>,
    vtable: &'static VTable,
    /// The environment the task runs with; its executor receives wakes and its frame
    /// allocator made (and frees) this task.
    env: IoEnv,
    /// The task's slot in the owning context's [`OwnedTasks`](super::OwnedTasks),
    /// guarded by that list's lock.
    pub(crate) owned: super::owned::Links,
    /// The join handle's and the foreign scheduler's wakers, behind one lock (neither
    /// is on a hot path of the other, and one mutex keeps the header small).
    wakers: Mutex<Wakers>,
}

struct Wakers {
    /// Woken when the task completes.
    join: Option<Waker>,
    /// The foreign scheduler running the task (`FOREIGN` tasks only).
    foreign: Option<Waker>,
}

#[repr(C)]
struct Cell<F: Future> {
    header: Header,
    /// Loom-checked (`crate::sync::UnsafeCell`): its owner changes with the state.
    stage: crate::sync::UnsafeCell<Stage<F>>,
}

enum Stage<F: Future> {
    Running(F),
    Finished(Result<F::Output, JoinError>),
    Consumed,
}

/// A scheduled task: the handle executors queue and run. Posting one never allocates;
/// queues link it through its header. Dropping it without running it aborts the task
/// (its join handle reports [`JoinError::Aborted`]), which is what an executor that
/// shuts down with queued work does.
pub struct Runnable {
    ptr: NonNull<Header>,
}

// SAFETY: the header's shared fields are atomics or behind a mutex. The task's future
// is `Send` (enforced by `spawn`), or it is a local task whose executor runs, aborts and
// drops its runnables only on its own thread (the contract of `TaskBlock::init_unchecked`); a
// runnable that merely moves between threads touches no future.
unsafe impl Send for Runnable {}

impl Runnable {
    /// Polls the task once, publishing its environment for the duration of the poll.
    pub fn run(self) {
        let ptr = self.ptr;
        std::mem::forget(self);
        // SAFETY: we hold the runnable's reference and the SCHEDULED token.
        unsafe { run(ptr, false) }
    }

    pub(crate) fn into_raw(self) -> NonNull<Header> {
        let ptr = self.ptr;
        std::mem::forget(self);
        ptr
    }

    /// # Safety
    /// `ptr` came from `into_raw` and is used once.
    pub(crate) unsafe fn from_raw(ptr: NonNull<Header>) -> Runnable {
        Runnable { ptr }
    }

    /// The environment the task runs with.
    pub fn env(&self) -> &IoEnv {
        // SAFETY: the runnable's reference keeps the header alive.
        unsafe { &self.ptr.as_ref().env }
    }
}

impl Drop for Runnable {
    fn drop(&mut self) {
        // SAFETY: we hold the runnable's reference and the SCHEDULED token.
        unsafe { run(self.ptr, true) }
    }
}

impl std::fmt::Debug for Runnable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runnable").field("task", &self.ptr).finish()
    }
}

/// Allocates a task for `future` from `env.frame_allocator()`. Returns its runnable
/// (state `SCHEDULED`) and the join handle's reference. A task that `counts_as_work`
/// calls `on_work_finished` on its executor when it completes; the spawner calls
/// `on_work_started`.
#[inline(always)]
pub(crate) fn allocate<F>(
    future: F,
    env: IoEnv,
    counts_as_work: bool,
) -> (Runnable, NonNull<Header>)
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
{
    TaskBlock::<F>::allocate(&env).init(future, env, counts_as_work)
}

/// A task's memory, allocated but not yet written: spawners allocate it *before* they
/// move the future anywhere, so the future is copied once, from where the caller made
/// it straight into the block. (Moved into a parameter or a wrapper first, it was
/// copied twice: the allocator call in between kept the compiler from forwarding the
/// first copy; for a connection handler of several KiB that showed in profiles.)
/// Dropping it without [`init`](Self::init) leaks the block; nothing between the two
/// can panic in this crate's spawners.
pub(crate) struct TaskBlock<F: Future> {
    ptr: NonNull<Cell<F>>,
}

impl<F: Future + 'static> TaskBlock<F>
where
    F::Output: 'static,
{
    /// A block for a task of `F` from `env`'s frame allocator (the one that frees it).
    #[inline(always)]
    pub(crate) fn allocate(env: &IoEnv) -> Self {
        let layout = std::alloc::Layout::new::<Cell<F>>();
        TaskBlock {
            ptr: env.frame_allocator.allocate(layout).cast::<Cell<F>>(),
        }
    }

    /// Writes the task: see [`allocate`]. `env` must hold the frame allocator the
    /// block came from.
    #[inline(always)]
    pub(crate) fn init(
        self,
        future: F,
        env: IoEnv,
        counts_as_work: bool,
    ) -> (Runnable, NonNull<Header>)
    where
        F: Send,
        F::Output: Send,
    {
        // SAFETY: `F` and its output are `Send`: any thread may poll, drop or take them.
        unsafe { self.init_unchecked(future, env, counts_as_work) }
    }

    /// [`init`](Self::init) for a future that may not be `Send`.
    ///
    /// # Safety
    /// The task's future is polled and dropped only on the thread that calls this (its
    /// executor runs its runnables only there, and whoever aborts or drops them does so
    /// there too), and its output is `Send` or taken on that thread.
    #[inline(always)]
    pub(crate) unsafe fn init_unchecked(
        self,
        future: F,
        env: IoEnv,
        counts_as_work: bool,
    ) -> (Runnable, NonNull<Header>) {
        let work = if counts_as_work { COUNTS_AS_WORK } else { 0 };
        let cell = self.ptr.as_ptr();
        // Field by field, straight into the block: a whole `Cell` built first would be
        // one more copy of the future.
        // SAFETY: `ptr` is a fresh block for `Cell<F>`; each field is written once.
        unsafe {
            std::ptr::addr_of_mut!((*cell).stage)
                .write(crate::sync::UnsafeCell::new(Stage::Running(future)));
            std::ptr::addr_of_mut!((*cell).header).write(Header {
                state: AtomicU32::new(SCHEDULED | work),
                // the runnable and the join handle
                refs: AtomicU32::new(2),
                queue_next: AtomicPtr::new(std::ptr::null_mut()),
                vtable: vtable::<F>(),
                wakers: Mutex::new(Wakers {
                    join: None,
                    foreign: None,
                }),
                env,
                owned: super::owned::Links::new(),
            });
        }
        let header = self.ptr.cast::<Header>();
        (Runnable { ptr: header }, header)
    }
}

fn vtable<F>() -> &'static VTable
where
    F: Future + 'static,
    F::Output: 'static,
{
    trait HasVTable {
        const VTABLE: VTable;
    }
    impl<F: Future + 'static> HasVTable for F
    where
        F::Output: 'static,
    {
        const VTABLE: VTable = VTable {
            poll: poll_future::<F>,
            abort: abort_future::<F>,
            take_output: take_output::<F>,
            dealloc: dealloc::<F>,
        };
    }
    &<F as HasVTable>::VTABLE
}

/// The stage of the task at `ptr`, a `Cell<F>`, for a closure with exclusive access.
///
/// # Safety
/// `ptr` is a live `Cell<F>` and the caller's protocol gives it the stage: the RUNNING
/// state, the join handle after COMPLETE, or the last reference.
unsafe fn with_stage<F: Future, R>(ptr: NonNull<Header>, f: impl FnOnce(&mut Stage<F>) -> R) -> R {
    // SAFETY: `Cell<F>` is `repr(C)` with the header first, and `ptr` came from the
    // pointer to the whole cell (`allocate`), so it covers the stage.
    let cell = unsafe { ptr.cast::<Cell<F>>().as_ref() };
    // SAFETY: exclusive access by the caller's contract; loom checks it in its models.
    cell.stage.with_mut(|stage| f(unsafe { &mut *stage }))
}

/// Drops what `stage` holds in place (a pinned future must not move before its
/// destructor runs) and leaves it `Consumed`, catching a panicking destructor.
fn drop_stage<F: Future>(stage: &mut Stage<F>) -> Result<(), Box<dyn Any + Send>> {
    if matches!(stage, Stage::Consumed) {
        // Nothing to drop (a taken output): skip the unwind guard.
        return Ok(());
    }
    let place: *mut Stage<F> = stage;
    // SAFETY: `place` is valid and initialized; a destructor that panics has still
    // dropped every field by the time the unwind is caught, so the place is rewritten
    // below without dropping anything twice.
    let dropped = catch_unwind(AssertUnwindSafe(|| unsafe {
        std::ptr::drop_in_place(place)
    }));
    // SAFETY: the old value is gone; this initializes the place again.
    unsafe { place.write(Stage::Consumed) };
    dropped
}

/// Polls the future in `stage` once; on completion drops it and stores the output.
/// Returns `true` when the stage is no longer `Running`.
///
/// # Safety
/// `stage` is pinned in the task allocation.
unsafe fn poll_stage<F: Future>(stage: &mut Stage<F>, cx: &mut Context<'_>) -> bool {
    let Stage::Running(future) = stage else {
        return true;
    };
    // SAFETY: the caller guarantees the future never moves.
    let future = unsafe { Pin::new_unchecked(future) };
    let output = match catch_unwind(AssertUnwindSafe(|| future.poll(cx))) {
        Ok(Poll::Pending) => return false,
        Ok(Poll::Ready(v)) => Ok(v),
        Err(payload) => Err(JoinError::Panicked(payload)),
    };
    // The future is dropped here, on the executor, before the output is published; a
    // panic from its destructor is the task's panic (the poll's own panic, if there
    // was one, is reported instead).
    let output = match (drop_stage(stage), output) {
        (Ok(()), output) | (Err(_), output @ Err(_)) => output,
        (Err(payload), Ok(value)) => {
            // The value of a future that panicked on drop is discarded (and a panic
            // from the value's own destructor with it).
            let _ = catch_unwind(AssertUnwindSafe(move || drop(value)));
            Err(JoinError::Panicked(payload))
        }
    };
    *stage = Stage::Finished(output);
    true
}

/// # Safety
/// The caller holds the RUNNING state of the task at `ptr`, a `Cell<F>`.
unsafe fn poll_future<F: Future>(ptr: NonNull<Header>, cx: &mut Context<'_>) -> bool {
    // SAFETY: RUNNING gives exclusive access to the stage, which lives in the task
    // allocation and never moves.
    unsafe { with_stage::<F, _>(ptr, |stage| poll_stage(stage, cx)) }
}

/// # Safety
/// As for `poll_future`.
unsafe fn abort_future<F: Future>(ptr: NonNull<Header>) {
    // SAFETY: RUNNING gives exclusive access to the stage.
    unsafe {
        with_stage::<F, _>(ptr, |stage| {
            if let Stage::Running(_) = stage {
                *stage = Stage::Finished(match drop_stage(stage) {
                    Ok(()) => Err(JoinError::Aborted),
                    Err(payload) => Err(JoinError::Panicked(payload)),
                });
            }
        });
    }
}

/// # Safety
/// The task is COMPLETE, the caller is its join handle, `out` points at an
/// `Option<Result<F::Output, JoinError>>`.
unsafe fn take_output<F: Future>(ptr: NonNull<Header>, out: *mut ()) {
    // SAFETY: after COMPLETE only the join handle touches the stage.
    let stage =
        unsafe { with_stage::<F, _>(ptr, |stage| std::mem::replace(stage, Stage::Consumed)) };
    if let Stage::Finished(result) = stage {
        // SAFETY: caller contract on `out`'s type.
        unsafe { *out.cast::<Option<Result<F::Output, JoinError>>>() = Some(result) };
    }
}

/// # Safety
/// The last reference to the task at `ptr`, a `Cell<F>`, was released.
unsafe fn dealloc<F: Future>(ptr: NonNull<Header>) {
    // An output nobody took (a detached task's) is dropped here, by whichever thread
    // released last, often an executor's worker: its destructor's panic has no one to
    // be reported to and must not unwind into the executor, so it is discarded.
    // SAFETY: the last reference owns the stage.
    let _ = unsafe { with_stage::<F, _>(ptr, drop_stage) };
    let cell = ptr.cast::<Cell<F>>();
    // SAFETY: no other reference exists; take the allocator before dropping the cell.
    let alloc = unsafe { cell.as_ref().header.env.frame_allocator.clone() };
    // SAFETY: the cell was initialized by `allocate` and is dropped once (its stage is
    // `Consumed` by now).
    unsafe { std::ptr::drop_in_place(cell.as_ptr()) };
    // SAFETY: allocated by (a clone of) `alloc` with this layout.
    unsafe { alloc.deallocate(cell.cast(), std::alloc::Layout::new::<Cell<F>>()) };
}

/// Drops one reference; frees the task when it was the last.
///
/// # Safety
/// The caller owns one reference to the task at `ptr`.
pub(crate) unsafe fn release(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive until the decrement.
    let header = unsafe { ptr.as_ref() };
    // Release: our uses of the task happen before the freeing thread's.
    if header.refs.fetch_sub(1, Ordering::Release) == 1 {
        // Acquire: pairs with every other release before we free.
        fence(Ordering::Acquire);
        // SAFETY: last reference.
        unsafe { (header.vtable.dealloc)(ptr) };
    }
}

/// Runs (or, with `abort`, cancels) a scheduled task, consuming the runnable's reference.
///
/// # Safety
/// The caller owns the runnable's reference and the SCHEDULED token.
unsafe fn run(ptr: NonNull<Header>, force_abort: bool) {
    // SAFETY: the runnable's reference keeps the header alive.
    let header = unsafe { ptr.as_ref() };
    // Acquire: see the previous runner's writes to the stage.
    let prev = header
        .state
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            Some((s & !SCHEDULED) | RUNNING)
        })
        .expect("closure always returns Some");
    debug_assert!(prev & SCHEDULED != 0 && prev & (RUNNING | COMPLETE) == 0);

    let mut finished = if force_abort || prev & ABORT != 0 {
        // SAFETY: RUNNING is ours.
        unsafe { (header.vtable.abort)(ptr) };
        true
    } else {
        let waker = ManuallyDrop::new(
            // SAFETY: the waker borrows the runnable's reference for this poll only
            // (ManuallyDrop: no release); clones take their own references.
            unsafe { Waker::from_raw(RawWaker::new(ptr.as_ptr().cast(), &WAKER_VTABLE)) },
        );
        let mut cx = Context::from_waker(&waker);
        // SAFETY: `header.env` lives as long as the task; the guard is a local.
        let _env = unsafe { EnvGuard::enter(&header.env) };
        // SAFETY: RUNNING is ours.
        unsafe { (header.vtable.poll)(ptr, &mut cx) }
    };

    // Relaxed: only the runner (us, RUNNING) sets the bit.
    if !finished && header.state.load(Ordering::Relaxed) & EVER_LISTED == 0 {
        // First wait: from now on only the owning context's list can find the task.
        if let Some(owned) = header.env.executor.owned_tasks() {
            header.state.fetch_or(EVER_LISTED, Ordering::Relaxed);
            // SAFETY: the task is live (our reference) and was never listed.
            let listed = unsafe { owned.insert(ptr) };
            if !listed {
                // The context shut down meanwhile: end the task here.
                // SAFETY: RUNNING is ours.
                unsafe { (header.vtable.abort)(ptr) };
                finished = true;
            }
        }
    }

    if finished {
        complete(ptr);
        // SAFETY: the runnable's reference.
        unsafe { release(ptr) };
        return;
    }

    let mut state = header.state.load(Ordering::Acquire);
    loop {
        if state & NOTIFIED != 0 {
            // Woken (or aborted) while running: reschedule, reusing our reference.
            let next = (state & !(RUNNING | NOTIFIED)) | SCHEDULED;
            match header.state.compare_exchange_weak(
                state,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) if state & FOREIGN != 0 => {
                    // The foreign scheduler runs it again; our reference goes.
                    wake_foreign(header);
                    // SAFETY: the runnable's reference.
                    unsafe { release(ptr) };
                    return;
                }
                Ok(_) => {
                    header.env.executor.post(Runnable { ptr });
                    return;
                }
                Err(actual) => state = actual,
            }
        } else {
            match header.state.compare_exchange_weak(
                state,
                state & !RUNNING,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // SAFETY: the runnable's reference.
                    unsafe { release(ptr) };
                    return;
                }
                Err(actual) => state = actual,
            }
        }
    }
}

fn complete(ptr: NonNull<Header>) {
    // SAFETY: the caller (the runner) holds a reference.
    let header = unsafe { ptr.as_ref() };
    // Release: the stored output happens before the join handle's Acquire load.
    let prev = header
        .state
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, |s| {
            Some((s & !(RUNNING | NOTIFIED)) | COMPLETE)
        })
        .expect("closure always returns Some");
    // A join handle that stores its waker sets JOIN_WAKER first and then checks for
    // COMPLETE: either our update saw the bit, or the handle sees COMPLETE itself.
    let waker = if prev & JOIN_WAKER != 0 {
        lock(&header.wakers).join.take()
    } else {
        None
    };
    if prev & EVER_LISTED != 0 {
        if let Some(owned) = header.env.executor.owned_tasks() {
            // SAFETY: the caller's reference keeps the task alive past the list's release.
            unsafe { owned.remove(ptr) };
        }
    }
    if prev & COUNTS_AS_WORK != 0 {
        header.env.executor.on_work_finished();
    }
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Takes the run right of an idle task (sets `SCHEDULED`) and returns the state before,
/// or `None` when the task is done, already scheduled, or running (then it is marked
/// `NOTIFIED`, and its runner reschedules it).
fn claim_wake(header: &Header) -> Option<u32> {
    let mut state = header.state.load(Ordering::Acquire);
    loop {
        let next = if state & COMPLETE != 0 || state & SCHEDULED != 0 {
            return None;
        } else if state & RUNNING != 0 {
            if state & NOTIFIED != 0 {
                return None;
            }
            state | NOTIFIED
        } else {
            state | SCHEDULED
        };
        match header
            .state
            .compare_exchange_weak(state, next, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) if state & RUNNING != 0 => return None,
            Ok(_) => return Some(state),
            Err(actual) => state = actual,
        }
    }
}

/// Schedules the task unless it is scheduled, running (then marks it notified) or done.
fn wake_by_ref(ptr: NonNull<Header>) {
    // SAFETY: the caller (a waker or join handle) holds a reference.
    let header = unsafe { ptr.as_ref() };
    let Some(state) = claim_wake(header) else {
        return;
    };
    if state & FOREIGN != 0 {
        // The foreign scheduler's poll takes the run right.
        wake_foreign(header);
        return;
    }
    // Make the runnable, with its own reference.
    add_ref(header);
    header.env.executor.post(Runnable { ptr });
}

impl Header {
    /// Takes one more reference (the caller holds one already).
    pub(crate) fn refs_add_one(&self) {
        add_ref(self);
    }

    /// The environment the task runs with.
    pub(crate) fn env(&self) -> &IoEnv {
        &self.env
    }
}

/// Wakes the task at `ptr` if it still has a reference (taking one for the wake), and
/// does nothing when its last reference is gone (it is being freed).
///
/// # Safety
/// The task memory is valid for the call: the caller is a stop registration in the
/// task's stage ([`TaskStop`](crate::stop::TaskStop)), which its owner unregisters,
/// waiting for this call, before the stage and the memory go.
pub(crate) unsafe fn wake_if_alive(ptr: NonNull<Header>) {
    // SAFETY: the memory is valid (caller contract), though possibly at zero references.
    let header = unsafe { ptr.as_ref() };
    let mut refs = header.refs.load(Ordering::Relaxed);
    loop {
        if refs == 0 {
            return;
        }
        // Acquire, as `Weak::upgrade`: the new reference sees the task's state.
        match header.refs.compare_exchange_weak(
            refs,
            refs + 1,
            Ordering::Acquire,
            Ordering::Relaxed,
        ) {
            Ok(_) => break,
            Err(actual) => refs = actual,
        }
    }
    wake_by_ref(ptr);
    // SAFETY: the reference taken above.
    unsafe { release(ptr) };
}

/// The task a waker of this harness wakes, or `None` for any other waker.
pub(crate) fn task_of(waker: &Waker) -> Option<NonNull<Header>> {
    if std::ptr::eq(waker.vtable(), &WAKER_VTABLE) {
        NonNull::new(waker.data().cast_mut().cast())
    } else {
        None
    }
}

/// Takes one more reference (the caller holds one). Aborts the process when the count
/// passes `i32::MAX`, as `Arc` does: only leaked wakers can get there, and wrapping
/// would free a live task.
#[inline]
fn add_ref(header: &Header) {
    // Relaxed: a new reference derived from an existing one needs no ordering.
    if header.refs.fetch_add(1, Ordering::Relaxed) > i32::MAX as u32 {
        std::process::abort();
    }
}

/// Wakes the foreign scheduler of a `FOREIGN` task (outside the slot's lock).
fn wake_foreign(header: &Header) {
    let waker = lock(&header.wakers).foreign.clone();
    if let Some(waker) = waker {
        waker.wake();
    }
}

/// Aborts the task at `ptr` as soon as possible: at once (on this thread) when it is
/// idle, otherwise by whoever holds its run right (a queued runnable aborts when run or
/// dropped; a running task is rescheduled and then aborted; a foreign task is woken, and
/// its scheduler's next poll, or its drop, aborts it).
///
/// # Safety
/// The caller holds a reference. For a task that is not `Send`, this is its thread.
pub(crate) unsafe fn abort_now(ptr: NonNull<Header>) {
    // SAFETY: the caller's reference keeps the header alive.
    let header = unsafe { ptr.as_ref() };
    let state = header.state.fetch_or(ABORT, Ordering::AcqRel);
    if state & FOREIGN != 0 {
        // Only the foreign scheduler runs it: a wake gives it the run right, and its
        // next poll (or its drop) aborts.
        wake_by_ref(ptr);
        return;
    }
    if claim_wake(header).is_some() {
        // We own the run right of an idle task: abort it here.
        add_ref(header);
        drop(Runnable { ptr });
    }
}

/// Foreign-scheduler side of the protocol ([`ForeignTask`](super::ForeignTask)).
pub(crate) mod foreign {
    use super::*;

    /// Marks the runnable's task as run by a foreign scheduler; the runnable's
    /// reference and run right become the caller's.
    pub(crate) fn adopt(task: Runnable) -> NonNull<Header> {
        let ptr = task.into_raw();
        // SAFETY: the runnable's reference keeps the header alive.
        unsafe { ptr.as_ref() }
            .state
            .fetch_or(FOREIGN, Ordering::AcqRel);
        ptr
    }

    /// Runs the task if it is scheduled; `true` once it completed.
    ///
    /// # Safety
    /// The caller owns a reference to an adopted task and is its only runner.
    pub(crate) unsafe fn poll(ptr: NonNull<Header>, waker: &Waker) -> bool {
        // SAFETY: the caller's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        {
            let mut wakers = lock(&header.wakers);
            match &mut wakers.foreign {
                Some(w) if w.will_wake(waker) => {}
                slot => *slot = Some(waker.clone()),
            }
        }
        let state = header.state.load(Ordering::Acquire);
        if state & COMPLETE != 0 {
            return true;
        }
        if state & SCHEDULED == 0 {
            return false;
        }
        // The run right is ours: a runnable with its own reference uses it.
        add_ref(header);
        // SAFETY: reference and SCHEDULED token, as `run` requires.
        unsafe { run(ptr, false) };
        header.state.load(Ordering::Acquire) & COMPLETE != 0
    }

    /// The foreign scheduler dropped the task: abort it and give back the reference.
    ///
    /// # Safety
    /// The caller owns a reference to an adopted task and is not running it.
    pub(crate) unsafe fn drop(ptr: NonNull<Header>) {
        // SAFETY: the caller's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        let mut state = header.state.fetch_or(ABORT, Ordering::AcqRel) | ABORT;
        // The scheduler is gone, so the run right (held or taken now) is ours: abort
        // here. Nothing else runs a foreign task, so it is not RUNNING.
        let take = loop {
            if state & COMPLETE != 0 {
                break false;
            }
            if state & SCHEDULED != 0 {
                break true;
            }
            match header.state.compare_exchange_weak(
                state,
                state | SCHEDULED,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => break true,
                Err(actual) => state = actual,
            }
        };
        if take {
            add_ref(header);
            std::mem::drop(Runnable { ptr });
        }
        // SAFETY: the caller's reference.
        unsafe { release(ptr) };
    }
}

static WAKER_VTABLE: RawWakerVTable =
    RawWakerVTable::new(waker_clone, waker_wake, waker_wake_by_ref, waker_drop);

unsafe fn waker_clone(data: *const ()) -> RawWaker {
    // SAFETY: `data` is a live task header (the waker holds a reference).
    let header = unsafe { &*data.cast::<Header>() };
    add_ref(header);
    RawWaker::new(data, &WAKER_VTABLE)
}

unsafe fn waker_wake(data: *const ()) {
    // SAFETY: as in `waker_clone`; this consumes the waker's reference.
    unsafe {
        waker_wake_by_ref(data);
        waker_drop(data);
    }
}

unsafe fn waker_wake_by_ref(data: *const ()) {
    wake_by_ref(NonNull::new(data.cast_mut().cast()).expect("task pointer"));
}

unsafe fn waker_drop(data: *const ()) {
    // SAFETY: the waker owned one reference.
    unsafe { release(NonNull::new(data.cast_mut().cast()).expect("task pointer")) };
}

/// Join-handle side of the protocol.
pub(crate) mod join {
    use super::*;

    /// Polls for the output; stores `waker` while the task runs.
    ///
    /// # Safety
    /// The caller is the task's join handle and `T` is the future's output type.
    pub(crate) unsafe fn poll_join<T>(
        ptr: NonNull<Header>,
        waker: &Waker,
    ) -> Poll<Result<T, JoinError>> {
        // SAFETY: the join handle's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        {
            let mut wakers = lock(&header.wakers);
            let mut state = header.state.load(Ordering::Acquire);
            if state & COMPLETE == 0 {
                match &mut wakers.join {
                    Some(w) if w.will_wake(waker) => {}
                    slot => *slot = Some(waker.clone()),
                }
                if state & JOIN_WAKER == 0 {
                    // After the store: a completion that misses the bit is ordered
                    // before this RMW, so the load below sees COMPLETE.
                    state = header.state.fetch_or(JOIN_WAKER, Ordering::AcqRel) | JOIN_WAKER;
                }
                if state & COMPLETE == 0 {
                    return Poll::Pending;
                }
                // Completed meanwhile: nothing will take the waker now.
                wakers.join = None;
            }
        }
        let mut out: Option<Result<T, JoinError>> = None;
        // SAFETY: COMPLETE observed with Acquire; `out` has the right type.
        unsafe { (header.vtable.take_output)(ptr, (&mut out as *mut Option<_>).cast()) };
        Poll::Ready(out.expect("JoinHandle polled after it returned its output"))
    }

    /// Requests abort: the next run drops the future.
    pub(crate) fn abort(ptr: NonNull<Header>) {
        // SAFETY: the join handle's reference keeps the header alive.
        let header = unsafe { ptr.as_ref() };
        header.state.fetch_or(ABORT, Ordering::AcqRel);
        wake_by_ref(ptr);
    }

    /// `true` once the task finished.
    pub(crate) fn is_finished(ptr: NonNull<Header>) -> bool {
        // SAFETY: the join handle's reference keeps the header alive.
        unsafe { ptr.as_ref() }.state.load(Ordering::Acquire) & COMPLETE != 0
    }
}

#[cfg(all(test, not(loom), target_pointer_width = "64"))]
mod layout_tests {
    use super::*;
    use std::time::Instant;

    /// The allocation a spawned `future` gets (before the allocator rounds it up).
    fn cell_size<F: Future>(_: &F) -> usize {
        std::mem::size_of::<Cell<F>>()
    }

    #[test]
    fn header_size() {
        // Grows only on purpose: every task pays it, and a timer task must stay within
        // a 256-byte frame block (below), with a stoppable token too.
        assert_eq!(std::mem::size_of::<Header>(), 120);
        assert_eq!(std::mem::size_of::<crate::stop::TaskStop>(), 32);
        // What `with_stop_token`, the combinators and the primitives' waiters embed.
        assert_eq!(std::mem::size_of::<crate::StopWaker>(), 56);
    }

    #[test]
    fn timer_task_fits_a_256_byte_frame_block() {
        let at = Instant::now();
        // The shape of a timer-heavy task (strait-bench's timer fire row).
        let task = async move { crate::delay_until(at).await };
        assert!(cell_size(&task) <= 256, "{} B", cell_size(&task));
        let task = async move { crate::delay(std::time::Duration::from_millis(1)).await };
        assert!(cell_size(&task) <= 256, "{} B", cell_size(&task));
        // Spawned under a token that can stop (inside `when_all`/`when_any`/`timeout`,
        // or `run_async(..).stop_token(..)`): the harness adds its stop registration.
        let task = super::super::WakeOnStop::new(async move { crate::delay_until(at).await });
        assert!(cell_size(&task) <= 256, "{} B", cell_size(&task));
    }
}
