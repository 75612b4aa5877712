//! Launchers that need no executor of their own: [`block_on`] and [`yield_now`].

use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

use crate::env::{EnvGuard, IoEnv};

/// Runs `future` to completion on the calling thread, parking it while the future waits.
///
/// The future sees the caller's environment if one is published (e.g. inside a task),
/// and the [default environment](IoEnv::default_env) otherwise, so work it spawns goes
/// to the system executor. Allocates one waker per call.
pub fn block_on<F: Future>(future: F) -> F::Output {
    let env = crate::env::env();
    block_on_with(future, &env)
}

/// `block_on` with an explicit environment.
pub fn block_on_with<F: Future>(future: F, env: &IoEnv) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        {
            // SAFETY: `env` outlives the guard, a local.
            let _env = unsafe { EnvGuard::enter(env) };
            if let Poll::Ready(out) = future.as_mut().poll(&mut cx) {
                return out;
            }
        }
        thread::park();
    }
}

/// Yields once: wakes the task (which re-queues it behind the tasks already posted to
/// its executor) and returns `Pending`.
pub fn yield_now() -> YieldNow {
    YieldNow { yielded: false }
}

/// Future returned by [`yield_now`].
#[derive(Debug)]
#[must_use = "futures do nothing unless awaited"]
pub struct YieldNow {
    yielded: bool,
}

impl Future for YieldNow {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.yielded {
            return Poll::Ready(());
        }
        self.yielded = true;
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}
