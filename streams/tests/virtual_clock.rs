//! A timer service with its own clock (a driver over tokio's paused time) drives
//! `delay` and `timeout`: their deadlines count from, and are checked against, the
//! service's `now`, not the system clock.

use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use strait_streams::driver::{TimerKey, TimerService, TimerTable};
use strait_streams::{delay, run_async, timeout, AnyExecutor, Executor, RunLoop, Runnable};

/// A clock that moves only when told, firing what fell due.
struct VirtualClock {
    state: Mutex<(Instant, TimerTable)>,
}

impl VirtualClock {
    fn advance(&self, by: Duration) {
        let due: Vec<Waker> = {
            let mut state = self.state.lock().unwrap();
            state.0 += by;
            let now = state.0;
            std::iter::from_fn(|| state.1.pop_due(now))
                .flatten()
                .collect()
        };
        due.into_iter().for_each(Waker::wake);
    }
}

impl TimerService for VirtualClock {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        self.state
            .lock()
            .unwrap()
            .1
            .schedule(deadline, waker, key)
            .0
    }
    fn cancel(&self, key: TimerKey) {
        self.state.lock().unwrap().1.cancel(key);
    }
    fn now(&self) -> Instant {
        self.state.lock().unwrap().0
    }
}

/// A run loop's executor whose timers run on the virtual clock.
struct OnClock {
    inner: AnyExecutor,
    clock: Arc<VirtualClock>,
}

impl Executor for OnClock {
    fn post(&self, task: Runnable) {
        self.inner.post(task);
    }
    fn on_work_started(&self) {
        self.inner.on_work_started();
    }
    fn on_work_finished(&self) {
        self.inner.on_work_finished();
    }
    fn timer_service(&self) -> Option<Arc<dyn TimerService>> {
        Some(self.clock.clone())
    }
}

#[test]
fn delay_and_timeout_follow_the_services_clock() {
    let rl = RunLoop::new();
    let clock = Arc::new(VirtualClock {
        state: Mutex::new((Instant::now(), TimerTable::new())),
    });
    let executor = AnyExecutor::new(OnClock {
        inner: rl.executor(),
        clock: clock.clone(),
    });
    let task = run_async(executor).spawn(async {
        delay(Duration::from_secs(3600)).await?;
        // The child is stop-aware: the timeout stops it and reports the timeout.
        timeout(
            Duration::from_secs(1800),
            delay(Duration::from_secs(86_400)),
        )
        .await
    });
    rl.poll();
    assert!(!task.is_finished(), "an hour has not passed on the clock");
    clock.advance(Duration::from_secs(3599));
    rl.poll();
    assert!(!task.is_finished());
    clock.advance(Duration::from_secs(1));
    rl.poll();
    assert!(!task.is_finished(), "now in the timeout");
    clock.advance(Duration::from_secs(1800));
    rl.poll();
    assert!(
        task.is_finished(),
        "an hour and a half passed on the virtual clock"
    );
    let err = rl.block_on(task).unwrap().unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
}
