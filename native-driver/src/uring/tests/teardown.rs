//! Teardown and abandoned operations: everything ends, every reader hears of it.

use super::*;

#[test]
fn shutdown_wakes_a_receive_starved_for_buffers() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 4,
        buf_size: 256,
        ..Config::default()
    });
    // A hog takes the whole ring and nobody reads it.
    let (hog_fd, hog_peer) = socketpair();
    let hog = RecvQueue::new(&c, hog_fd).unwrap();
    let mut hog_peer = std::fs::File::from(Arc::try_unwrap(hog_peer).unwrap());
    hog_peer.write_all(&[7u8; 4096]).unwrap();
    ring.run_until(&c, || c.buffers_available() == 0);
    // The victim waits for data, which comes when there is no buffer for it.
    let (victim_fd, victim_peer) = socketpair();
    let mut victim = RecvQueue::new(&c, victim_fd).unwrap();
    let (count, waker) = Count::new();
    let mut cx = Context::from_waker(&waker);
    assert!(victim.poll_read(&mut cx, &mut [0u8; 16]).is_pending());
    let exhaustions = c.counters().buffer_exhaustions;
    std::fs::File::from(Arc::try_unwrap(victim_peer).unwrap())
        .write_all(b"hello")
        .unwrap();
    ring.run_until(&c, || c.counters().buffer_exhaustions > exhaustions);
    c.shutdown();
    for _ in 0..5 {
        ring.turn(&c, false);
    }
    assert!(count.get() > 0, "the starved reader was woken");
    let Poll::Ready(Err(e)) = victim.poll_read(&mut cx, &mut [0u8; 16]) else {
        panic!("the starved receive ends with the shutdown")
    };
    assert!(e.to_string().contains("IoContext"), "{e:?}");
    drop((hog, victim));
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.buffers_available(), 4);
}

#[test]
fn a_dropped_acceptor_whose_cancel_was_refused_still_ends() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    ring.turn(&c, false);
    // The host cannot queue the cancellation when the acceptor goes.
    ring.refuse.store(1, Ordering::SeqCst);
    drop(acceptor);
    assert_eq!(
        ring.refuse.load(Ordering::SeqCst),
        0,
        "the cancel was refused"
    );
    for _ in 0..5 {
        // Connections the abandoned accept takes (and closes) until it ends.
        let _ = TcpStream::connect(addr);
        ring.turn(&c, true);
    }
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert!(
        TcpStream::connect(addr).is_err(),
        "the listener was closed with its slot"
    );
    assert!(c.counters().canceled >= 1);
}

#[test]
fn shutdown_ends_a_receive_whose_cancel_was_refused() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    ring.turn(&c, false);
    ring.refuse.store(1, Ordering::SeqCst);
    c.shutdown();
    assert_eq!(
        ring.refuse.load(Ordering::SeqCst),
        0,
        "the cancel was refused"
    );
    // The multishot goes on; its next CQE retries the cancel.
    let mut peer = std::fs::File::from(Arc::try_unwrap(a).unwrap());
    peer.write_all(b"more").unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 16];
    let mut turns = 0;
    let err = loop {
        match rx.poll_read(&mut noop_cx(), &mut buf) {
            Poll::Ready(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Poll::Ready(Err(e)) => break e,
            Poll::Pending => {
                turns += 1;
                assert!(turns < 50, "the receive never ended");
                ring.turn(&c, true);
            }
        }
    };
    assert!(err.to_string().contains("IoContext"), "{err:?}");
    assert_eq!(got, b"more", "the data before the end is delivered");
    drop(rx);
    assert_eq!(c.slots_in_use(), 0);
    assert_eq!(c.buffers_available(), c.buffer_entries());
}

#[test]
fn the_last_completions_unregisters_its_buffer_group() {
    let Some(ring) = TestRing::new(8) else {
        return;
    };
    let config = Config {
        buf_entries: 4,
        buf_size: 64,
        bgid: 5,
        ..Config::default()
    };
    let (a, b) = socketpair();
    let c = ring.completions(config);
    let mut rx = RecvQueue::new(&c, b).unwrap();
    std::fs::File::from(Arc::try_unwrap(a).unwrap())
        .write_all(b"bye")
        .unwrap();
    ring.run_until(&c, || {
        rx.poll_read(&mut noop_cx(), &mut [0u8; 8])
            .map(Result::unwrap)
            == Poll::Ready(0)
    });
    drop(rx);
    settle(&ring, &c);
    drop(c);
    // Group 5 is free again on the same (open) ring: the drop unregistered it before
    // unmapping its buffers (registering a group twice fails with EEXIST).
    let again = ring.completions(config);
    assert_eq!(again.buffer_entries(), 4);
}

#[test]
fn a_cancel_that_comes_back_ealready_is_asked_again() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    ring.turn(&c, false);
    drop(acceptor);
    assert_eq!(c.counters().canceled, 1);
    // The kernel could not stop the multishot just now (slot 0, generation 0): it
    // goes on, so the layer asks again.
    c.complete(internal_user_data(0, 0), -libc::EALREADY, 0);
    assert_eq!(c.counters().canceled, 2, "the cancel was queued again");
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.counters().anomalies, 0);
}
