//! The part every combinator shares: its stop source, the forwarding of the parent's
//! stop, and the environment its children are polled in.

use std::cell::RefCell;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use crate::env::{EnvGuard, IoEnv};
use crate::stop::{StopForwarder, StopSource, StopWaker};

/// Most spare stop sources kept per thread: one per combinator level alive at once on
/// the thread is enough to reach a steady state; beyond it, sources are freed.
const SPARE_MAX: usize = 32;

std::thread_local! {
    /// Stop sources of finished combinators, reset and ready for the next one, so a
    /// combinator in steady state allocates no stop state.
    static SPARE: RefCell<Vec<StopSource>> = const { RefCell::new(Vec::new()) };
}

/// A fresh (not stopped) source: a spare one if this thread has it.
fn take_source() -> StopSource {
    SPARE
        .try_with(|spare| spare.borrow_mut().pop())
        .ok()
        .flatten()
        .unwrap_or_default()
}

/// Keeps `source` for reuse if nothing else shares it any more (a child that kept a
/// token, say, leaves it to be freed instead).
fn give_back(mut source: StopSource) {
    if source.try_reset() {
        let _ = SPARE.try_with(move |spare| {
            let mut spare = spare.borrow_mut();
            if spare.len() < SPARE_MAX {
                spare.push(source);
            }
        });
    }
}

/// Stop source, parent-stop forwarding and child environment of one combinator.
///
/// Owners declare it after their children, so the children (and any token they hold)
/// are gone when it drops and its source can be reused.
#[derive(Debug)]
pub(crate) struct Scope {
    forward: Option<StopForwarder>,
    env: Option<IoEnv>,
    /// Wakes the task when the children's token stops (publisher contract).
    wake: Option<StopWaker>,
    /// Taken on the first `enter`; given back on drop.
    source: Option<StopSource>,
}

impl Scope {
    pub(crate) fn new() -> Self {
        Scope {
            forward: None,
            env: None,
            wake: None,
            source: None,
        }
    }

    /// Stops every child.
    pub(crate) fn stop_children(&self) {
        if let Some(source) = &self.source {
            source.request_stop();
        }
    }

    /// Runs `f` with the children's environment published; on the first call, builds
    /// that environment from the parent's and starts forwarding the parent's stop.
    pub(crate) fn enter<R>(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Context<'_>) -> R,
    ) -> R {
        // SAFETY: `forward` and `wake` are pinned in place (never moved once `Some`);
        // the other fields are not structurally pinned.
        let this = unsafe { self.get_unchecked_mut() };
        if this.env.is_none() {
            let source = this.source.insert(take_source());
            let mut env = crate::env::env();
            let parent = std::mem::replace(&mut env.stop_token, source.token());
            this.env = Some(env);
            this.forward = Some(StopForwarder::new(parent, source.clone()));
            this.wake = Some(StopWaker::new(source.token()));
            // SAFETY: the forwarder now lives in `this`, which is pinned.
            let forward = unsafe { Pin::new_unchecked(this.forward.as_mut().expect("set")) };
            forward.register();
        }
        // SAFETY: `wake` lives in the pinned scope.
        let wake = unsafe { Pin::new_unchecked(this.wake.as_mut().expect("set")) };
        let _ = wake.poll_stopped(cx.waker());
        let env = this.env.as_ref().expect("set above");
        // SAFETY: `env` lives in the pinned scope, which outlives this local guard.
        let _guard = unsafe { EnvGuard::enter(env) };
        f(cx)
    }
}

impl Drop for Scope {
    fn drop(&mut self) {
        // Everything else here holds a share of the source's state: release it first
        // (in place: the registrations are pinned), then recycle the source.
        self.forward = None;
        self.wake = None;
        self.env = None;
        if let Some(source) = self.source.take() {
            give_back(source);
        }
    }
}

/// A child future and, once it finished, its output.
#[derive(Debug)]
pub(crate) enum MaybeDone<F: Future> {
    Running(F),
    Done(F::Output),
    Taken,
}

impl<F: Future> MaybeDone<F> {
    /// Polls a running child; returns its output the moment it finishes (and keeps it
    /// stored), `None` otherwise.
    pub(crate) fn poll_child(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Option<&F::Output> {
        // SAFETY: the `Running` future is structurally pinned; we only replace the
        // enum after it finished, which drops it in place.
        let this = unsafe { self.get_unchecked_mut() };
        if let MaybeDone::Running(f) = this {
            // SAFETY: see above.
            match unsafe { Pin::new_unchecked(f) }.poll(cx) {
                Poll::Ready(out) => {
                    *this = MaybeDone::Done(out);
                    if let MaybeDone::Done(out) = this {
                        return Some(out);
                    }
                }
                Poll::Pending => {}
            }
        }
        None
    }

    pub(crate) fn is_running(&self) -> bool {
        matches!(self, MaybeDone::Running(_))
    }

    /// The stored output. Panics if the child did not finish or was taken.
    pub(crate) fn take(self: Pin<&mut Self>) -> F::Output {
        // SAFETY: only called once the child finished: no pinned future remains.
        let this = unsafe { self.get_unchecked_mut() };
        match std::mem::replace(this, MaybeDone::Taken) {
            MaybeDone::Done(out) => out,
            _ => panic!("combinator output taken before the child finished"),
        }
    }
}
