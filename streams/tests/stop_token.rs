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
    let order = Mutex::new(Vec::new());
    let mut a = pin!(StopCallback::new(source.token(), || order
        .lock()
        .unwrap()
        .push('a')));
    let mut b = pin!(StopCallback::new(source.token(), || order
        .lock()
        .unwrap()
        .push('b')));
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
    let ran_on = Mutex::new(None);
    let mut cb = pin!(StopCallback::new(source.token(), || {
        *ran_on.lock().unwrap() = Some(std::thread::current().id())
    }));
    assert!(!cb.as_mut().register());
    assert_eq!(*ran_on.lock().unwrap(), Some(std::thread::current().id()));
}

#[test]
fn a_dropped_callback_never_runs() {
    let source = StopSource::new();
    let fired = AtomicUsize::new(0);
    {
        let mut cb = pin!(StopCallback::new(source.token(), || {
            fired.fetch_add(1, Ordering::SeqCst);
        }));
        cb.as_mut().register();
    }
    let mut kept = pin!(StopCallback::new(source.token(), || {
        fired.fetch_add(10, Ordering::SeqCst);
    }));
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
    let saw = AtomicBool::new(false);
    let mut cb = pin!(StopCallback::new(source.token(), || {
        saw.store(token.stop_requested(), Ordering::SeqCst)
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
