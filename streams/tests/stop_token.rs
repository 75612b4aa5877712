//! Stop sources, tokens and callbacks.

use std::pin::pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strait_streams::{StopCallback, StopSource, StopToken};

#[test]
fn a_token_that_cannot_stop_is_one_word_and_never_stops() {
    assert_eq!(
        std::mem::size_of::<StopToken>(),
        std::mem::size_of::<usize>()
    );
    let t = StopToken::never();
    assert!(!t.stop_possible() && !t.stop_requested());
    assert!(t.same_source(&StopToken::default()));
}

#[test]
fn callbacks_run_once_in_reverse_registration_order() {
    let source = StopSource::new();
    let order = Arc::new(Mutex::new(Vec::new()));
    let push = |c| {
        let order = order.clone();
        move || order.lock().unwrap().push(c)
    };
    let mut a = pin!(StopCallback::new(source.token(), push('a')));
    let mut b = pin!(StopCallback::new(source.token(), push('b')));
    assert!(a.as_mut().register());
    assert!(b.as_mut().register());
    assert!(source.request_stop());
    assert!(!source.request_stop());
    assert_eq!(*order.lock().unwrap(), ['b', 'a']);
    assert!(source.token().stop_requested());
}

#[test]
fn registering_on_a_stopped_token_runs_inline() {
    let source = StopSource::new();
    source.request_stop();
    let ran_on = Arc::new(Mutex::new(None));
    let slot = ran_on.clone();
    let mut cb = pin!(StopCallback::new(source.token(), move || {
        *slot.lock().unwrap() = Some(std::thread::current().id())
    }));
    assert!(!cb.as_mut().register());
    assert_eq!(*ran_on.lock().unwrap(), Some(std::thread::current().id()));
}

#[test]
fn a_dropped_callback_never_runs() {
    let source = StopSource::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let add = |n| {
        let fired = fired.clone();
        move || {
            fired.fetch_add(n, Ordering::SeqCst);
        }
    };
    {
        let mut cb = pin!(StopCallback::new(source.token(), add(1)));
        cb.as_mut().register();
    }
    let mut kept = pin!(StopCallback::new(source.token(), add(10)));
    kept.as_mut().register();
    source.request_stop();
    assert_eq!(fired.load(Ordering::SeqCst), 10);
}

#[test]
fn dropping_a_callback_waits_for_it_to_finish_on_another_thread() {
    let source = Arc::new(StopSource::new());
    let finished = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let cb = {
        let (finished, started) = (finished.clone(), started.clone());
        Box::pin(StopCallback::new(source.token(), move || {
            started.store(true, Ordering::SeqCst);
            std::thread::sleep(Duration::from_millis(100));
            finished.store(true, Ordering::SeqCst);
        }))
    };
    let mut cb = cb;
    cb.as_mut().register();
    let stopper = {
        let source = source.clone();
        std::thread::spawn(move || source.request_stop())
    };
    while !started.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    drop(cb);
    assert!(
        finished.load(Ordering::SeqCst),
        "drop returned while the callback was still running"
    );
    assert!(stopper.join().unwrap());
}

#[test]
fn a_callback_may_run_on_the_requesting_thread_and_see_stop() {
    let source = StopSource::new();
    let token = source.token();
    let saw = Arc::new(AtomicBool::new(false));
    let seen = saw.clone();
    let mut cb = pin!(StopCallback::new(source.token(), move || {
        seen.store(token.stop_requested(), Ordering::SeqCst)
    }));
    cb.as_mut().register();
    source.request_stop();
    assert!(saw.load(Ordering::SeqCst));
}

#[test]
fn concurrent_registration_and_stop_fire_each_callback_exactly_once() {
    for _ in 0..200 {
        let source = Arc::new(StopSource::new());
        let fired = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicBool::new(false));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (token, fired, done) = (source.token(), fired.clone(), done.clone());
                std::thread::spawn(move || {
                    let mut cb = pin!(StopCallback::new(token, move || {
                        fired.fetch_add(1, Ordering::SeqCst);
                    }));
                    // Races with `request_stop`: either linked and run by the
                    // stopper, or run inline here.
                    cb.as_mut().register();
                    while !done.load(Ordering::SeqCst) {
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        source.request_stop();
        done.store(true, Ordering::SeqCst);
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(fired.load(Ordering::SeqCst), 3);
    }
}

#[test]
fn a_panicking_callback_lets_the_others_run_then_resumes_its_panic() {
    let source = StopSource::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let mut first = {
        let fired = fired.clone();
        Box::pin(StopCallback::new(source.token(), move || {
            fired.fetch_add(1, Ordering::SeqCst);
        }))
    };
    // Registered last, so it runs first.
    let mut panicking = Box::pin(StopCallback::new(source.token(), || {
        panic!("boom in a stop callback")
    }));
    first.as_mut().register();
    panicking.as_mut().register();
    let payload = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        source.request_stop();
    }))
    .expect_err("the callback's panic reaches the requester");
    assert_eq!(
        payload.downcast_ref::<&str>(),
        Some(&"boom in a stop callback")
    );
    assert_eq!(
        fired.load(Ordering::SeqCst),
        1,
        "the other callback still ran"
    );
    assert!(source.stop_requested());
    // Dropping the panicked callback on another thread must not wait for a callback
    // that is no longer running.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        drop(panicking);
        drop(first);
        let _ = tx.send(());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .expect("dropping the callback on another thread spun forever");
}

#[test]
fn a_leaked_callback_still_runs_with_the_data_it_owns() {
    let source = StopSource::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let owned = fired.clone();
    let mut cb =
        std::mem::ManuallyDrop::new(Box::pin(StopCallback::new(source.token(), move || {
            owned.fetch_add(1, Ordering::SeqCst);
        })));
    cb.as_mut().register();
    // Not dropped (as if leaked with `mem::forget`): the node stays in the list and its
    // closure owns its data.
    source.request_stop();
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    // Freed only now, so LeakSanitizer runs stay clean.
    // SAFETY: `cb` is not used afterwards.
    unsafe { std::mem::ManuallyDrop::drop(&mut cb) };
}
