//! Timers on the context's own timer queue.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_native::IoContext;
use strait_streams::{delay, is_canceled, timeout, when_all, with_stop_token, StopSource};

#[test]
fn delays_fire_on_the_context_after_their_duration() {
    let ctx = IoContext::new().unwrap();
    let started = Instant::now();
    ctx.block_on(delay(Duration::from_millis(30))).unwrap();
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(30) && took < Duration::from_secs(2),
        "{took:?}"
    );
    assert!(
        ctx.executor().timer_service().is_some(),
        "the context serves its own timers"
    );
}

#[test]
fn ten_thousand_timers_alive_at_once_all_fire() {
    let ctx = IoContext::new().unwrap();
    let fired = Arc::new(AtomicUsize::new(0));
    let timers: Vec<_> = (0..10_000u64)
        .map(|i| {
            let fired = fired.clone();
            async move {
                delay(Duration::from_millis(5 + i % 50)).await?;
                fired.fetch_add(1, Ordering::Relaxed);
                Ok::<_, std::io::Error>(())
            }
        })
        .collect();
    ctx.block_on(when_all(timers)).unwrap();
    assert_eq!(fired.load(Ordering::SeqCst), 10_000);
}

#[test]
fn a_timer_canceled_before_expiry_never_fires_and_one_after_is_a_no_op() {
    let ctx = IoContext::new().unwrap();
    let source = StopSource::new();
    let s = source.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        s.request_stop();
    });
    let started = Instant::now();
    let err = ctx
        .block_on(with_stop_token(
            source.token(),
            delay(Duration::from_secs(10)),
        ))
        .unwrap_err();
    assert!(is_canceled(&err));
    assert!(started.elapsed() < Duration::from_secs(2));
    stopper.join().unwrap();
    // Stopping after expiry changes nothing.
    let late = StopSource::new();
    ctx.block_on(with_stop_token(
        late.token(),
        delay(Duration::from_millis(1)),
    ))
    .unwrap();
    late.request_stop();
}

#[test]
fn timeout_on_the_context_reports_timed_out() {
    let ctx = IoContext::new().unwrap();
    let err = ctx
        .block_on(timeout(Duration::from_millis(10), async {
            delay(Duration::from_secs(10)).await?;
            Ok::<_, std::io::Error>(())
        }))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
}
