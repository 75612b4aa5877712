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
