//! AsyncMutex and AsyncEvent: FIFO hand-off, cancellation by stop token and by drop.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use strait_streams::{is_canceled, with_stop_token, AsyncEvent, AsyncMutex, RunLoop, StopSource};

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn waiters_get_the_lock_in_fifo_order() {
    let rl = RunLoop::new();
    let mutex = Arc::new(AsyncMutex::new(Vec::new()));
    let held = mutex.try_lock().unwrap();
    for i in 0..5 {
        let m = mutex.clone();
        rl.spawn(async move { m.lock().await.unwrap().push(i) })
            .detach();
    }
    rl.poll();
    drop(held);
    rl.run();
    assert_eq!(*mutex.try_lock().unwrap(), [0, 1, 2, 3, 4]);
}

#[test]
fn a_canceled_waiter_never_gets_the_lock() {
    let rl = RunLoop::new();
    let mutex = Arc::new(AsyncMutex::new(Vec::<&str>::new()));
    let held = mutex.try_lock().unwrap();
    let source = StopSource::new();
    let (m1, m2) = (mutex.clone(), mutex.clone());
    let canceled = rl.spawn(with_stop_token(source.token(), async move {
        match m1.lock().await {
            Ok(mut g) => {
                g.push("canceled waiter");
                false
            }
            Err(e) => is_canceled(&e),
        }
    }));
    let next = rl.spawn(async move { m2.lock().await.unwrap().push("next") });
    rl.poll();
    source.request_stop();
    rl.poll();
    assert!(canceled.is_finished());
    drop(held);
    rl.run();
    assert!(rl.block_on(canceled).unwrap());
    assert!(next.is_finished());
    assert_eq!(*mutex.try_lock().unwrap(), ["next"]);
}

#[test]
fn a_free_mutex_is_taken_even_under_a_stopped_token() {
    let source = StopSource::new();
    source.request_stop();
    let mutex = AsyncMutex::new(1);
    let got = strait_streams::block_on(with_stop_token(source.token(), async {
        mutex.lock().await.map(|g| *g)
    }));
    assert_eq!(got.unwrap(), 1);
    // ...but waiting on a held one under a stopped token fails at once.
    let held = mutex.try_lock().unwrap();
    let err = strait_streams::block_on(with_stop_token(source.token(), async {
        mutex.lock().await.map(|g| *g)
    }))
    .unwrap_err();
    assert!(is_canceled(&err));
    drop(held);
}

#[test]
fn dropping_a_queued_lock_leaves_the_queue() {
    let mutex = AsyncMutex::new(0);
    let held = mutex.try_lock().unwrap();
    {
        let mut waiting = pin!(mutex.lock());
        assert!(poll_once(waiting.as_mut()).is_pending());
    }
    drop(held);
    assert!(
        mutex.try_lock().is_some(),
        "no phantom waiter kept the lock"
    );
}

#[test]
fn dropping_a_lock_that_was_handed_the_mutex_passes_it_on() {
    let mutex = AsyncMutex::new(0);
    let held = mutex.try_lock().unwrap();
    let mut second = Box::pin(mutex.lock());
    let mut third = Box::pin(mutex.lock());
    assert!(poll_once(second.as_mut()).is_pending());
    assert!(poll_once(third.as_mut()).is_pending());
    drop(held); // hands the lock to `second`, which never looks at it
    drop(second);
    match poll_once(third.as_mut()) {
        Poll::Ready(Ok(mut g)) => *g += 1,
        _ => panic!("the lock was not passed on"),
    }
    assert_eq!(*mutex.try_lock().unwrap(), 1);
}

#[test]
fn set_wakes_every_waiter_and_clear_blocks_again() {
    let rl = RunLoop::new();
    let event = Arc::new(AsyncEvent::new());
    let woken = Arc::new(Mutex::new(0));
    for _ in 0..3 {
        let (e, w) = (event.clone(), woken.clone());
        rl.spawn(async move {
            e.wait().await.unwrap();
            *w.lock().unwrap() += 1;
        })
        .detach();
    }
    rl.poll();
    assert_eq!(*woken.lock().unwrap(), 0);
    event.set();
    rl.run();
    assert_eq!(*woken.lock().unwrap(), 3);
    // Set: waits pass at once.
    assert!(poll_once(pin!(event.wait())).is_ready());
    event.clear();
    assert!(poll_once(pin!(event.wait())).is_pending());
}

#[test]
fn a_stopped_event_wait_is_canceled_and_leaves_the_list() {
    let rl = RunLoop::new();
    let event = Arc::new(AsyncEvent::new());
    let source = StopSource::new();
    let e = event.clone();
    let waiter = rl.spawn(with_stop_token(
        source.token(),
        async move { e.wait().await },
    ));
    rl.poll();
    source.request_stop();
    rl.run();
    assert!(is_canceled(&rl.block_on(waiter).unwrap().unwrap_err()));
    event.set(); // no stale node to touch
    assert!(event.is_set());
}
