//! The execution environment: executor, stop token and frame allocator, published for
//! the duration of every poll of a task (the papers' `io_env` and `this_coro::environment`).
//!
//! The task harness, every launcher and [`block_on`](crate::block_on) publish an
//! [`IoEnv`] in a thread-local slot before polling and restore the previous value after,
//! so the slot behaves like a stack. Any future, however deep in an `async fn` chain,
//! reads it with [`env`] or [`with_env`]; nothing is passed by hand. Outside every task
//! the [default environment](IoEnv::default_env) applies: the system executor, a stop
//! token that never stops, and the recycling frame allocator.
//!
//! **Publisher contract.** Whoever publishes an environment whose stop token can stop
//! also makes sure a stop wakes the task: it keeps a [`StopWaker`](crate::StopWaker) on
//! that token and refreshes it with the current waker on every poll (the task harness
//! keeps a smaller registration naming the task itself). Leaf operations
//! then only *check* the token before doing I/O; they need no registration of their own.
//! The task harness, [`with_stop_token`], the combinators and
//! [`block_on_with`](crate::block_on_with) all keep this contract; a driver that
//! publishes environments must too.

use std::cell::Cell;
use std::future::Future;
use std::pin::Pin;
use std::ptr;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use crate::alloc::FrameAlloc;
use crate::exec::AnyExecutor;
use crate::stop::StopToken;
use crate::sync::AtomicBool;
use std::sync::atomic::Ordering;

/// What an async call chain runs with: where it resumes, when it should stop, and where
/// its frames come from (the papers' `io_env`).
///
/// Built with [`IoEnv::new`] and the `with_*` methods; read with the accessors.
///
/// ```
/// use strait_streams::{IoEnv, RunLoop, StopSource};
/// let rl = RunLoop::new();
/// let source = StopSource::new();
/// let env = IoEnv::new(rl.executor()).with_stop_token(source.token());
/// assert!(env.stop_token().stop_possible());
/// assert_eq!(env.executor(), &rl.executor());
/// ```
#[derive(Clone, Debug)]
pub struct IoEnv {
    pub(crate) executor: AnyExecutor,
    pub(crate) stop_token: StopToken,
    pub(crate) frame_allocator: FrameAlloc,
}

impl IoEnv {
    /// An environment on `executor` that never stops and uses the recycling allocator.
    pub fn new(executor: AnyExecutor) -> Self {
        IoEnv {
            executor,
            stop_token: StopToken::never(),
            frame_allocator: FrameAlloc::recycling(),
        }
    }

    /// The same environment on another executor.
    #[must_use]
    pub fn with_executor(mut self, executor: AnyExecutor) -> Self {
        self.executor = executor;
        self
    }

    /// The same environment with another stop token.
    #[must_use]
    pub fn with_stop_token(mut self, stop_token: StopToken) -> Self {
        self.stop_token = stop_token;
        self
    }

    /// The same environment with another frame allocator.
    #[must_use]
    pub fn with_frame_allocator(mut self, frame_allocator: FrameAlloc) -> Self {
        self.frame_allocator = frame_allocator;
        self
    }

    /// Where the task runs and where wakes post it.
    #[inline]
    pub fn executor(&self) -> &AnyExecutor {
        &self.executor
    }

    /// Cooperative cancellation for every operation in the chain.
    #[inline]
    pub fn stop_token(&self) -> &StopToken {
        &self.stop_token
    }

    /// Where spawns and [`Task`](crate::Task)s allocate.
    #[inline]
    pub fn frame_allocator(&self) -> &FrameAlloc {
        &self.frame_allocator
    }

    /// The environment that applies outside every task: the system executor, no stop,
    /// the recycling allocator.
    #[inline]
    pub fn default_env() -> &'static IoEnv {
        static DEFAULT: OnceLock<IoEnv> = OnceLock::new();
        DEFAULT.get_or_init(|| IoEnv::new(crate::exec::system_executor()))
    }
}

/// This thread's published environment, null outside every task.
struct Published {
    env: Cell<*const IoEnv>,
    /// The stop flag of `env`'s token, or null when there is no environment or its
    /// token cannot stop: the per-operation check reads this slot only.
    stop: Cell<*const AtomicBool>,
}

std::thread_local! {
    // One slot for both pointers: a guard finds them with one thread-local lookup.
    static CURRENT: Published = const {
        Published {
            env: Cell::new(ptr::null()),
            stop: Cell::new(ptr::null()),
        }
    };
}

/// Runs `f` with the current environment (the default one outside every task).
pub fn with_env<R>(f: impl FnOnce(&IoEnv) -> R) -> R {
    let current = CURRENT.with(|p| p.env.get());
    if current.is_null() {
        f(IoEnv::default_env())
    } else {
        // SAFETY: a non-null slot points at the env of an `EnvGuard` further up this
        // thread's stack, which restores the slot before that env can be dropped.
        f(unsafe { &*current })
    }
}

/// `true` when the current environment's stop token was triggered: the check every
/// operation makes before touching the OS. Outside every task, and inside every task
/// whose token cannot stop, this is one thread-local load and a branch; with a token
/// that can stop, one more load.
// `always`: every operation future (generic, so compiled in the caller's crate) runs
// this; left to the heuristics it was not inlined across crates and cost ~9 ns per
// operation (strait-bench erasure: 14 ns instead of 5 ns per read_some).
#[inline(always)]
pub fn stop_requested() -> bool {
    let flag = CURRENT.with(|p| p.stop.get());
    // SAFETY: a non-null flag is the stop flag of the token of the env an `EnvGuard`
    // further up this thread's stack published; that token keeps its stop state alive
    // until the guard restores the slot.
    !flag.is_null() && unsafe { &*flag }.load(Ordering::Acquire)
}

/// A copy of the current environment.
pub fn env() -> IoEnv {
    with_env(IoEnv::clone)
}

/// `true` while a task or launcher has published an environment on this thread.
pub fn env_is_set() -> bool {
    !CURRENT.with(|p| p.env.get()).is_null()
}

/// Runs `f` with `env` published as the current environment, restoring the previous
/// one afterwards (even if `f` panics). This is how a driver's run loop or `block_on`
/// publishes its environment; it must also keep the publisher contract (module docs)
/// when `env`'s stop token can stop.
pub fn enter_env<R>(env: &IoEnv, f: impl FnOnce() -> R) -> R {
    // SAFETY: `env` outlives the guard, a local dropped before we return.
    let _guard = unsafe { EnvGuard::enter(env) };
    f()
}

/// Publishes an environment until dropped; restores the previous one.
pub(crate) struct EnvGuard {
    prev: *const IoEnv,
    prev_stop: *const AtomicBool,
}

impl EnvGuard {
    /// # Safety
    /// `env` outlives the guard, and guards are dropped in reverse order of creation
    /// (they are only created as locals).
    pub(crate) unsafe fn enter(env: &IoEnv) -> EnvGuard {
        let stop = env.stop_token.stop_flag();
        CURRENT.with(|p| EnvGuard {
            prev: p.env.replace(env),
            prev_stop: p.stop.replace(stop),
        })
    }
}

impl Drop for EnvGuard {
    fn drop(&mut self) {
        CURRENT.with(|p| {
            p.env.set(self.prev);
            p.stop.set(self.prev_stop);
        });
    }
}

/// Which parts of the parent's environment a [`WithEnv`] child replaces.
#[derive(Debug)]
enum Override {
    StopToken(StopToken),
    FrameAlloc(FrameAlloc),
}

/// A future that runs its child under a modified environment; see [`with_stop_token`]
/// and [`with_frame_allocator`].
#[derive(Debug)]
pub struct WithEnv<F> {
    future: F,
    over: Option<Override>,
    env: Option<IoEnv>,
    /// Wakes the task when the overriding stop token stops (publisher contract).
    stop: Option<crate::stop::StopWaker>,
}

/// Runs `future` with `token` as its stop token; the executor and frame allocator stay
/// the caller's. Only the child sees the new token.
pub fn with_stop_token<F: Future>(token: StopToken, future: F) -> WithEnv<F> {
    WithEnv {
        future,
        over: Some(Override::StopToken(token)),
        env: None,
        stop: None,
    }
}

/// Runs `future` with `alloc` as its frame allocator; the executor and stop token stay
/// the caller's.
pub fn with_frame_allocator<F: Future>(alloc: FrameAlloc, future: F) -> WithEnv<F> {
    WithEnv {
        future,
        over: Some(Override::FrameAlloc(alloc)),
        env: None,
        stop: None,
    }
}

impl<F: Future> Future for WithEnv<F> {
    type Output = F::Output;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        // SAFETY: `future` is structurally pinned; the other fields are never pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.env.is_none() {
            let mut child = env();
            match this.over.take() {
                Some(Override::StopToken(t)) => {
                    if t.stop_possible() {
                        this.stop = Some(crate::stop::StopWaker::new(t.clone()));
                    }
                    child.stop_token = t;
                }
                Some(Override::FrameAlloc(a)) => child.frame_allocator = a,
                None => {}
            }
            this.env = Some(child);
        }
        if let Some(stop) = this.stop.as_mut() {
            // SAFETY: `stop` is pinned in place inside this pinned future.
            let _ = unsafe { Pin::new_unchecked(stop) }.poll_stopped(cx.waker());
        }
        let child = this.env.as_ref().expect("set above");
        // SAFETY: `child` lives in `this`, which outlives the guard (a local).
        let _guard = unsafe { EnvGuard::enter(child) };
        // SAFETY: `this.future` is never moved (we are pinned).
        unsafe { Pin::new_unchecked(&mut this.future) }.poll(cx)
    }
}
