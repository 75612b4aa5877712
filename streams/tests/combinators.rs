//! when_all, when_any, timeout and delay: structured, stop-propagating, awaiting every
//! child.

use std::io;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_streams::{
    block_on, delay, is_canceled, timeout, when_all, when_any, with_stop_token, yield_now, RunLoop,
    StopSource, StopToken,
};

async fn fail_after(yields: usize, msg: &'static str) -> io::Result<u32> {
    for _ in 0..yields {
        yield_now().await;
    }
    Err(io::Error::other(msg))
}

async fn ok_after(yields: usize, v: u32) -> io::Result<u32> {
    for _ in 0..yields {
        yield_now().await;
    }
    Ok(v)
}

/// Waits ten seconds unless stopped; records that it finished and how.
async fn long_wait(finished: Arc<AtomicUsize>) -> io::Result<u32> {
    let r = delay(Duration::from_secs(10)).await;
    finished.fetch_add(1, Ordering::SeqCst);
    r.map(|()| 0)
}

#[test]
fn when_all_returns_every_value_in_input_order() {
    let rl = RunLoop::new();
    let out = rl.block_on(when_all((ok_after(3, 1), ok_after(0, 2), ok_after(1, 3))));
    assert_eq!(out.unwrap(), (1, 2, 3));
    let v: Vec<_> = (0..10).map(|i| ok_after(10 - i, i as u32)).collect();
    assert_eq!(
        rl.block_on(when_all(v)).unwrap(),
        (0..10).collect::<Vec<u32>>()
    );
    let empty: Vec<std::future::Ready<io::Result<u32>>> = Vec::new();
    assert!(rl.block_on(when_all(empty)).unwrap().is_empty());
}

#[test]
fn when_all_reports_the_first_error_in_completion_order_and_stops_siblings() {
    let rl = RunLoop::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let err = rl
        .block_on(when_all((
            fail_after(3, "late"),
            fail_after(1, "early"),
            long_wait(finished.clone()),
        )))
        .unwrap_err();
    assert_eq!(err.to_string(), "early");
    assert_eq!(
        finished.load(Ordering::SeqCst),
        1,
        "the sibling was awaited"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "the sibling was stopped"
    );

    let finished = Arc::new(AtomicUsize::new(0));
    let v = vec![
        Box::pin(long_wait(finished.clone()))
            as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>,
        Box::pin(fail_after(2, "vec error")),
    ];
    assert_eq!(
        rl.block_on(when_all(v)).unwrap_err().to_string(),
        "vec error"
    );
    assert_eq!(finished.load(Ordering::SeqCst), 1);
}

#[test]
fn when_any_winner_stops_and_awaits_the_losers() {
    let rl = RunLoop::new();
    let finished = Arc::new(AtomicUsize::new(0));
    type Child = std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<u32>> + Send>>;
    let children: Vec<Child> = vec![
        Box::pin(long_wait(finished.clone())),
        Box::pin(ok_after(2, 7)),
        Box::pin(long_wait(finished.clone())),
    ];
    let started = Instant::now();
    assert_eq!(rl.block_on(when_any(children)).unwrap(), (1, 7));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        2,
        "both losers finished before return"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn when_any_errors_never_win() {
    let rl = RunLoop::new();
    type Child = std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<u32>> + Send>>;
    let children: Vec<Child> = vec![
        Box::pin(fail_after(0, "fast failure")),
        Box::pin(ok_after(3, 9)),
    ];
    assert_eq!(rl.block_on(when_any(children)).unwrap(), (1, 9));
    let all_fail: Vec<Child> = vec![Box::pin(fail_after(2, "a")), Box::pin(fail_after(1, "b"))];
    assert_eq!(
        rl.block_on(when_any(all_fail)).unwrap_err().to_string(),
        "a"
    );
}

#[test]
fn when_any_over_a_tuple_returns_the_winner_as_its_variant() {
    use strait_streams::{OneOf2, OneOf3};
    let rl = RunLoop::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let text = async {
        ok_after(3, 0).await?;
        Ok::<_, io::Error>("text")
    };
    let started = Instant::now();
    let won = rl
        .block_on(when_any((
            long_wait(finished.clone()),
            text,
            long_wait(finished.clone()),
        )))
        .unwrap();
    assert_eq!(won, OneOf3::Second("text"));
    assert_eq!(
        finished.load(Ordering::SeqCst),
        2,
        "both losers were awaited"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    // Errors do not win; when all fail, the last error is reported.
    let won = rl
        .block_on(when_any((fail_after(0, "early"), async {
            ok_after(2, 5).await.map(|v| v as u64)
        })))
        .unwrap();
    assert_eq!(won, OneOf2::Second(5u64));
    let err = rl
        .block_on(when_any((fail_after(3, "last"), fail_after(1, "first"))))
        .unwrap_err();
    assert_eq!(err.to_string(), "last");
}

#[test]
#[should_panic(expected = "when_any needs at least one child")]
fn when_any_of_nothing_is_a_clear_error() {
    let none: Vec<std::future::Ready<io::Result<u32>>> = Vec::new();
    drop(when_any(none));
}

#[test]
fn a_parent_stop_reaches_every_child() {
    let pool = strait_streams::ThreadPool::new(1);
    let source = StopSource::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let f = finished.clone();
    let token = source.token();
    let handle = pool.spawn(with_stop_token(token, async move {
        when_all((long_wait(f.clone()), long_wait(f))).await
    }));
    std::thread::sleep(Duration::from_millis(20));
    source.request_stop();
    let err = block_on(handle).unwrap().unwrap_err();
    assert!(is_canceled(&err));
    assert_eq!(finished.load(Ordering::SeqCst), 2);
}

#[test]
fn timeout_returns_the_inner_result_when_it_wins() {
    let rl = RunLoop::new();
    let out = rl.block_on(timeout(Duration::from_secs(10), ok_after(2, 5)));
    assert_eq!(out.unwrap(), 5);
    let err = rl
        .block_on(timeout(Duration::from_secs(10), fail_after(1, "inner")))
        .unwrap_err();
    assert_eq!(err.to_string(), "inner");
}

#[test]
fn timeout_stops_and_awaits_the_inner_operation_when_the_timer_wins() {
    let rl = RunLoop::new();
    let finished = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let err = rl
        .block_on(timeout(
            Duration::from_millis(20),
            long_wait(finished.clone()),
        ))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert_eq!(finished.load(Ordering::SeqCst), 1);
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(20) && took < Duration::from_secs(5));
}

#[test]
fn delay_waits_at_least_its_duration_and_zero_completes_at_once() {
    let rl = RunLoop::new();
    let started = Instant::now();
    rl.block_on(delay(Duration::from_millis(30))).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(30));
    let started = Instant::now();
    rl.block_on(delay(Duration::ZERO)).unwrap();
    assert!(started.elapsed() < Duration::from_millis(20));
}

#[test]
fn a_delay_under_a_stopped_token_is_canceled_without_waiting() {
    let source = StopSource::new();
    source.request_stop();
    let started = Instant::now();
    let err = block_on(with_stop_token(
        source.token(),
        delay(Duration::from_secs(10)),
    ))
    .unwrap_err();
    assert!(is_canceled(&err));
    assert!(started.elapsed() < Duration::from_secs(1));
}

/// A delay keeps no stop registration of its own: the environment's publisher
/// (`with_stop_token` here, the task harness below) wakes it, and it then completes
/// as canceled, long before its deadline.
#[test]
fn a_pending_delay_is_canceled_promptly_when_its_token_stops() {
    let source = StopSource::new();
    let stopper = {
        let source = source.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            source.request_stop();
        })
    };
    let started = Instant::now();
    let err = block_on(with_stop_token(
        source.token(),
        delay(Duration::from_secs(10)),
    ))
    .unwrap_err();
    assert!(is_canceled(&err));
    assert!(started.elapsed() < Duration::from_secs(5));
    stopper.join().unwrap();
}

#[test]
fn a_spawned_task_pending_on_a_delay_is_canceled_when_its_token_stops() {
    let rl = RunLoop::new();
    let source = StopSource::new();
    let stopper = {
        let source = source.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            source.request_stop();
        })
    };
    let started = Instant::now();
    // The task inherits the stop token; its harness wakes it on stop.
    let joined = rl.block_on(with_stop_token(source.token(), async {
        strait_streams::spawn(delay(Duration::from_secs(10))).await
    }));
    let err = joined.unwrap().unwrap_err();
    assert!(is_canceled(&err));
    assert!(started.elapsed() < Duration::from_secs(5));
    stopper.join().unwrap();
}

#[test]
fn many_thousand_timers_alive_at_once_all_fire() {
    let rl = RunLoop::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let timers: Vec<_> = (0..10_000u64)
        .map(|i| {
            let fired = fired.clone();
            async move {
                delay(Duration::from_millis(10 + i % 40)).await?;
                fired.fetch_add(1, Ordering::Relaxed);
                Ok::<_, io::Error>(())
            }
        })
        .collect();
    rl.block_on(when_all(timers)).unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 10_000);
}

#[test]
fn dropping_a_pending_delay_cancels_its_timer() {
    let rl = RunLoop::new();
    let woke = Arc::new(AtomicBool::new(false));
    // Race a short delay against a long one; the long one is dropped when the short
    // wins, and nothing fires later.
    type Child = std::pin::Pin<Box<dyn std::future::Future<Output = io::Result<u32>> + Send>>;
    let w = woke.clone();
    let children: Vec<Child> = vec![
        Box::pin(async {
            delay(Duration::from_millis(5)).await?;
            Ok(1)
        }),
        Box::pin(async move {
            let r = delay(Duration::from_millis(50)).await;
            w.store(r.is_ok(), Ordering::SeqCst);
            r.map(|()| 2)
        }),
    ];
    assert_eq!(rl.block_on(when_any(children)).unwrap(), (0, 1));
    assert!(
        !woke.load(Ordering::SeqCst),
        "the loser saw cancellation, not expiry"
    );
}

/// Ignores the caller's stop: waits `ms` under a token that never stops, then returns.
async fn stubborn<T>(ms: u64, out: io::Result<T>) -> io::Result<T> {
    with_stop_token(StopToken::never(), delay(Duration::from_millis(ms))).await?;
    out
}

#[test]
fn timeout_returns_a_result_that_arrives_after_the_deadline() {
    let rl = RunLoop::new();
    // The timer fires first, but the child does not heed the stop and succeeds later:
    // its value is returned, not `TimedOut`.
    let out = rl.block_on(timeout(Duration::from_millis(5), stubborn(40, Ok(7u32))));
    assert_eq!(out.unwrap(), 7);
    // A late error other than "canceled" is the child's own and is returned as is.
    let err = rl
        .block_on(timeout(
            Duration::from_millis(5),
            stubborn::<u32>(40, Err(io::Error::other("late"))),
        ))
        .unwrap_err();
    assert_eq!(err.to_string(), "late");
    // A child that ends with the canceled error because of the timeout: `TimedOut`.
    let err = rl
        .block_on(timeout(
            Duration::from_millis(5),
            stubborn::<u32>(20, Err(strait_streams::canceled())),
        ))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
}

#[test]
fn duration_max_means_no_deadline() {
    let rl = RunLoop::new();
    assert_eq!(
        rl.block_on(timeout(Duration::MAX, ok_after(2, 3))).unwrap(),
        3
    );
    let d = delay(Duration::MAX);
    assert!(d.deadline() > Instant::now() + Duration::from_secs(365 * 24 * 3600));
    // It never fires by itself; a stop still ends it at once.
    let source = StopSource::new();
    let waiting = rl.spawn(with_stop_token(source.token(), d));
    rl.block_on(async {
        for _ in 0..3 {
            yield_now().await;
        }
    });
    assert!(!waiting.is_finished());
    source.request_stop();
    let err = rl.block_on(waiting).unwrap().unwrap_err();
    assert!(is_canceled(&err));
}

#[test]
fn a_timer_table_keeps_only_live_entries() {
    // One live timer early, then many later ones scheduled and canceled: a table with
    // lazy deletion keeps every canceled entry behind the live one.
    let mut t = strait_streams::driver::TimerTable::new();
    let now = Instant::now();
    let w = std::task::Waker::noop();
    let (live, _) = t.schedule(now + Duration::from_secs(1), w, None);
    for i in 0..200_000u64 {
        let (k, _) = t.schedule(
            now + Duration::from_secs(2) + Duration::from_nanos(i),
            w,
            None,
        );
        t.cancel(k);
    }
    assert_eq!(t.len(), 1, "entries held after 200,000 cancels");
    t.cancel(live);
    assert_eq!(t.len(), 0);
    assert!(t.is_empty());
    assert_eq!(t.next_deadline(), None);
}

/// A timer service that counts calls and never fires (the test polls by hand).
#[derive(Default)]
struct CountingTimers {
    schedules: AtomicUsize,
    cancels: AtomicUsize,
}

impl strait_streams::driver::TimerService for CountingTimers {
    fn schedule(
        &self,
        _deadline: Instant,
        _waker: &std::task::Waker,
        key: Option<strait_streams::driver::TimerKey>,
    ) -> strait_streams::driver::TimerKey {
        let n = self.schedules.fetch_add(1, Ordering::SeqCst) as u64;
        key.unwrap_or(strait_streams::driver::TimerKey::from_raw(n))
    }
    fn cancel(&self, _key: strait_streams::driver::TimerKey) {
        self.cancels.fetch_add(1, Ordering::SeqCst);
    }
}

/// An executor whose only purpose is to offer `CountingTimers`.
struct WithTimers(Arc<CountingTimers>);

impl strait_streams::Executor for WithTimers {
    fn post(&self, _task: strait_streams::Runnable) {
        unreachable!("nothing is spawned");
    }
    fn timer_service(&self) -> Option<Arc<dyn strait_streams::driver::TimerService>> {
        Some(self.0.clone())
    }
}

#[test]
fn a_delay_re_polled_with_the_same_deadline_and_waker_does_not_call_its_timer_service() {
    use std::future::Future;
    use std::task::{Context, Poll, Wake, Waker};
    struct Noop;
    impl Wake for Noop {
        fn wake(self: Arc<Self>) {}
    }
    let timers = Arc::new(CountingTimers::default());
    let env =
        strait_streams::IoEnv::new(strait_streams::AnyExecutor::new(WithTimers(timers.clone())));
    let schedules = || timers.schedules.load(Ordering::SeqCst);
    strait_streams::driver::enter_env(&env, || {
        let (first, second) = (Waker::from(Arc::new(Noop)), Waker::from(Arc::new(Noop)));
        let mut d = std::pin::pin!(delay(Duration::from_secs(60)));
        let mut poll = |w: &Waker| d.as_mut().poll(&mut Context::from_waker(w));
        for _ in 0..10 {
            assert!(poll(&first).is_pending());
        }
        assert_eq!(schedules(), 1, "ten polls, one waker, one deadline");
        assert!(poll(&second).is_pending());
        assert!(poll(&second).is_pending());
        assert_eq!(schedules(), 2, "a new waker is handed to the service once");
        d.as_mut().reset(Instant::now() + Duration::from_secs(30));
        assert!(d
            .as_mut()
            .poll(&mut Context::from_waker(&second))
            .is_pending());
        assert!(d
            .as_mut()
            .poll(&mut Context::from_waker(&second))
            .is_pending());
        assert_eq!(
            schedules(),
            3,
            "a new deadline is handed to the service once"
        );
        d.as_mut().reset(Instant::now());
        assert!(matches!(
            d.as_mut().poll(&mut Context::from_waker(&second)),
            Poll::Ready(Ok(()))
        ));
    });
    assert_eq!(timers.cancels.load(Ordering::SeqCst), 1, "dropping cancels");
}

/// A delay polled at its deadline may see it pass before its service fired the entry
/// (a spurious or unrelated wake): dropping it still cancels, so no entry outlives it.
#[test]
fn a_delay_that_completed_still_cancels_its_entry_on_drop() {
    use std::future::Future;
    use std::task::{Context, Waker};
    let timers = Arc::new(CountingTimers::default());
    let env =
        strait_streams::IoEnv::new(strait_streams::AnyExecutor::new(WithTimers(timers.clone())));
    strait_streams::driver::enter_env(&env, || {
        let mut d = std::pin::pin!(delay(Duration::from_millis(5)));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(d.as_mut().poll(&mut cx).is_pending());
        std::thread::sleep(Duration::from_millis(10));
        // `CountingTimers` never fires: the entry is still scheduled here.
        assert!(d.as_mut().poll(&mut cx).is_ready());
    });
    assert_eq!(timers.schedules.load(Ordering::SeqCst), 1);
    assert_eq!(timers.cancels.load(Ordering::SeqCst), 1);
}

#[test]
fn a_token_a_child_kept_is_never_stopped_by_a_later_combinator() {
    let rl = RunLoop::new();
    // The child keeps its token past the combinator's end.
    let kept = rl
        .block_on(when_all((
            async { Ok::<_, io::Error>(strait_streams::env().stop_token().clone()) },
            ok_after(1, 0),
        )))
        .unwrap()
        .0;
    assert!(kept.stop_possible());
    let finished = Arc::new(AtomicUsize::new(0));
    for _ in 0..10 {
        // Each of these stops its losers: none of those stops may reach `kept`.
        let won = rl.block_on(when_any((ok_after(1, 1), long_wait(finished.clone()))));
        assert_eq!(won.unwrap(), strait_streams::OneOf2::First(1));
    }
    assert_eq!(finished.load(Ordering::SeqCst), 10);
    assert!(!kept.stop_requested());
}
