//! Timers on the context's own timer queue: `Timer`, and `delay`/`timeout` served by it.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_native::{IoContext, Timer};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;
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

#[test]
fn timer_wait_completes_at_its_expiry() {
    let ctx = IoContext::new().unwrap();
    let timer = Timer::new(&ctx);
    assert_eq!(timer.expiry(), None);
    let started = Instant::now();
    timer.expires_after(Duration::from_millis(20));
    ctx.block_on(timer.wait()).unwrap();
    assert!(started.elapsed() >= Duration::from_millis(20));
    // Past expiry: later waits complete at once, and the timer can be re-armed.
    ctx.block_on(timer.wait()).unwrap();
    timer.expires_at(Instant::now() + Duration::from_millis(5));
    ctx.block_on(timer.wait()).unwrap();
}

#[test]
fn timer_cancel_completes_every_pending_wait_and_keeps_the_expiry() {
    let ctx = IoContext::new().unwrap();
    let timer = Timer::new(&ctx);
    timer.expires_after(Duration::from_secs(10));
    let started = Instant::now();
    let (a, b, canceled) = ctx
        .block_on(async {
            when_all((
                async { Ok::<_, std::io::Error>(timer.wait().await) },
                async { Ok(timer.wait().await) },
                async {
                    delay(Duration::from_millis(10)).await?;
                    Ok(timer.cancel())
                },
            ))
            .await
        })
        .unwrap();
    assert_eq!(canceled, 2);
    assert!(is_canceled(&a.unwrap_err()) && is_canceled(&b.unwrap_err()));
    assert!(started.elapsed() < Duration::from_secs(2));
    assert_eq!(timer.cancel(), 0, "nothing waits any more");
    // The expiry stayed: a new wait is pending again until it.
    let again = ctx.block_on(timeout(Duration::from_millis(20), timer.wait()));
    assert_eq!(again.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
}

#[test]
fn changing_the_expiry_cancels_pending_waits_and_cancel_after_expiry_is_a_no_op() {
    let ctx = IoContext::new().unwrap();
    let timer = Timer::new(&ctx);
    timer.expires_after(Duration::from_secs(10));
    let (first, moved) = ctx
        .block_on(async {
            when_all((
                async { Ok::<_, std::io::Error>(timer.wait().await) },
                async {
                    delay(Duration::from_millis(5)).await?;
                    Ok(timer.expires_after(Duration::from_millis(10)))
                },
            ))
            .await
        })
        .unwrap();
    assert_eq!(moved, 1);
    assert!(is_canceled(&first.unwrap_err()));
    ctx.block_on(timer.wait()).unwrap();
    assert_eq!(timer.cancel(), 0, "after expiry there is nothing to cancel");
}

#[test]
fn an_unarmed_timer_waits_until_canceled_or_stopped() {
    let ctx = IoContext::new().unwrap();
    let timer = Timer::new(&ctx);
    let (waited, ()) = ctx
        .block_on(async {
            when_all((
                async { Ok::<_, std::io::Error>(timer.wait().await) },
                async {
                    delay(Duration::from_millis(10)).await?;
                    timer.cancel();
                    Ok(())
                },
            ))
            .await
        })
        .unwrap();
    assert!(is_canceled(&waited.unwrap_err()));
    let source = StopSource::new();
    let s = source.clone();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(10));
        s.request_stop();
    });
    let err = ctx
        .block_on(with_stop_token(source.token(), timer.wait()))
        .unwrap_err();
    assert!(is_canceled(&err));
    stopper.join().unwrap();
}

#[test]
fn ten_thousand_timer_objects_wait_at_once() {
    let ctx = IoContext::new().unwrap();
    let start = Instant::now();
    let timers: Vec<Timer> = (0..10_000u64)
        .map(|i| {
            let t = Timer::new(&ctx);
            t.expires_at(start + Duration::from_millis(200 + i % 40));
            t
        })
        .collect();
    // Every other one is canceled before it fires.
    let waits = timers.iter().map(Timer::wait);
    let cancel = async {
        delay(Duration::from_millis(1)).await?;
        Ok::<_, std::io::Error>(timers.iter().step_by(2).map(Timer::cancel).sum::<usize>())
    };
    let (results, canceled) = ctx
        .block_on(async {
            when_all((
                // Each wait's own result is kept: cancellations must not stop siblings.
                when_all(
                    waits
                        .map(|w| async { Ok::<_, std::io::Error>(w.await) })
                        .collect::<Vec<_>>(),
                ),
                cancel,
            ))
            .await
        })
        .unwrap();
    assert_eq!(canceled, 5_000);
    let fired = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(fired, 5_000);
    assert!(results
        .iter()
        .step_by(2)
        .all(|r| r.as_ref().is_err_and(is_canceled)));
}

#[test]
fn waiting_on_and_canceling_a_timer_allocate_nothing_in_steady_state() {
    use std::future::Future;
    use std::task::Poll;
    let ctx = IoContext::new().unwrap();
    let timer = Timer::new(&ctx);
    timer.expires_after(Duration::from_secs(60));
    let allocated = ctx.block_on(async {
        let cycle = || async {
            let mut wait = std::pin::pin!(timer.wait());
            let pending =
                std::future::poll_fn(|cx| Poll::Ready(wait.as_mut().poll(cx).is_pending())).await;
            assert!(pending, "the wait is registered");
            assert_eq!(timer.cancel(), 1);
            assert!(is_canceled(&wait.await.unwrap_err()));
        };
        for _ in 0..3 {
            cycle().await; // warm-up: waiter slot, timer entry, carrier
        }
        let before = strait_conformance::allocations();
        for _ in 0..1000 {
            cycle().await;
        }
        strait_conformance::allocations() - before
    });
    assert_eq!(allocated, 0, "allocations in 1000 wait/cancel cycles");
}

#[test]
fn an_expiry_of_duration_max_means_never() {
    let ctx = IoContext::new().unwrap();
    let timer = Timer::new(&ctx);
    assert_eq!(timer.expires_after(Duration::MAX), 0);
    assert!(timer.expiry().unwrap() > Instant::now() + Duration::from_secs(3600));
    let r = ctx.block_on(timeout(Duration::from_millis(20), timer.wait()));
    assert_eq!(r.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
}
