//! Overload: readers that do not read, and writers dropped on peers that do not read.

use super::*;

#[test]
fn paused_readers_that_do_not_read_cannot_take_the_whole_ring() {
    let Some(ring) = TestRing::new(32) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 8,
        buf_size: 256,
        socket_buffers: 4,
        ..Config::default()
    });
    // Two sockets fill their share each (so both pause) and are never read: between
    // them they hold all eight buffers.
    let mut slow = Vec::new();
    let mut peers = Vec::new();
    for seed in [1, 2] {
        let (fd, peer) = socketpair();
        slow.push(RecvQueue::new(&c, fd).unwrap());
        let mut peer = std::fs::File::from(Arc::try_unwrap(peer).unwrap());
        let mut data = [0u8; 4 * 256];
        fill_stream(seed, 0, &mut data);
        for chunk in data.chunks(256) {
            peer.write_all(chunk).unwrap();
            ring.turn(&c, true);
        }
        peers.push(peer);
    }
    ring.run_until(&c, || c.buffers_available() == 0);
    assert!(c.counters().pauses >= 2, "{:?}", c.counters());
    // A third socket still gets its bytes.
    let (fd, peer) = socketpair();
    let mut third = RecvQueue::new(&c, fd).unwrap();
    std::fs::File::from(Arc::try_unwrap(peer).unwrap())
        .write_all(b"starving?")
        .unwrap();
    let mut buf = [0u8; 16];
    let mut got = None;
    for _ in 0..20 {
        if let Poll::Ready(r) = third.poll_read(&mut noop_cx(), &mut buf) {
            got = Some(r.unwrap());
            break;
        }
        ring.turn(&c, true);
    }
    assert_eq!(got, Some(9), "{:?}", c.counters());
    assert_eq!(&buf[..9], b"starving?");
    assert!(c.counters().spills >= 1);
    // The spilled readers lose nothing.
    for (rx, seed) in slow.iter_mut().zip([1, 2]) {
        let mut read = 0;
        let mut into = [0u8; 100];
        while read < 4 * 256 {
            match rx.poll_read(&mut noop_cx(), &mut into) {
                Poll::Ready(r) => {
                    let n = r.unwrap();
                    check_stream(seed, read as u64, &into[..n]);
                    read += n;
                }
                Poll::Pending => {
                    ring.turn(&c, true);
                }
            }
        }
    }
    drop((slow, third, peers));
    settle(&ring, &c);
}

/// A write-behind on a socket whose peer never reads, filled until it refuses more;
/// returns the peer (never read) to keep the connection open.
fn stuck_writer(ring: &TestRing, c: &Arc<Completions>) -> (SendBehind, Arc<OwnedFd>) {
    let (fd, peer) = socketpair();
    socket2::SockRef::from(&*fd)
        .set_send_buffer_size(4096)
        .unwrap();
    let mut tx = SendBehind::new(c, fd).unwrap();
    let block = [0u8; 4096];
    while tx.poll_write(&mut noop_cx(), &block).is_ready() {
        ring.turn(c, false);
    }
    assert!(tx.buffered() > 0);
    (tx, peer)
}

#[test]
fn a_dropped_writer_lingers_no_longer_than_its_deadline() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config {
        send_capacity: 16 * 1024,
        ..Config::default()
    });
    c.set_linger(std::time::Duration::from_millis(50), usize::MAX);
    let (tx, peer) = stuck_writer(&ring, &c);
    drop(tx);
    ring.turn(&c, false);
    assert_eq!(c.slots_in_use(), 1, "the send lingers");
    let deadline = c
        .expire_lingering()
        .expect("a lingering send has a deadline");
    std::thread::sleep(deadline.saturating_duration_since(std::time::Instant::now()));
    assert_eq!(
        c.expire_lingering(),
        None,
        "past its deadline it is canceled"
    );
    ring.run_until(&c, || c.slots_in_use() == 0);
    let counters = c.counters();
    assert_eq!(counters.lingers_canceled, 1, "{counters:?}");
    // The descriptor went with the slot: the peer sees the end after what was sent.
    let mut peer = std::fs::File::from(Arc::try_unwrap(peer).unwrap());
    let mut sink = Vec::new();
    std::io::Read::read_to_end(&mut peer, &mut sink).unwrap();
    assert!(!sink.is_empty());
    settle(&ring, &c);
}

#[test]
fn lingering_sends_are_bounded_by_a_budget_oldest_canceled_first() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config {
        send_capacity: 16 * 1024,
        ..Config::default()
    });
    let (first, first_peer) = stuck_writer(&ring, &c);
    let (second, second_peer) = stuck_writer(&ring, &c);
    let (third, third_peer) = stuck_writer(&ring, &c);
    let (a, b, t) = (first.buffered(), second.buffered(), third.buffered());
    // Room for the first two, not for all three; the third alone fits.
    c.set_linger(std::time::Duration::from_secs(3600), a + b);
    assert!(t <= a + b);
    drop(first);
    drop(second);
    assert_eq!(c.counters().lingers_canceled, 0);
    drop(third);
    let counters = c.counters();
    assert!(counters.lingers_canceled >= 1, "{counters:?}");
    ring.run_until(&c, || {
        c.slots_in_use() == 3 - counters.lingers_canceled as usize
    });
    // The first (oldest) is gone: its peer reads to the end.
    let mut peer = std::fs::File::from(Arc::try_unwrap(first_peer).unwrap());
    let mut sink = Vec::new();
    std::io::Read::read_to_end(&mut peer, &mut sink).unwrap();
    // A writer bigger than the whole budget does not linger at all.
    let (big, big_peer) = stuck_writer(&ring, &c);
    c.set_linger(std::time::Duration::from_secs(3600), big.buffered() - 1);
    let before = c.counters().lingers_canceled;
    drop(big);
    assert!(c.counters().lingers_canceled > before);
    c.shutdown();
    ring.run_until(&c, || c.slots_in_use() == 0);
    drop((second_peer, third_peer, big_peer));
    assert_eq!(c.counters().anomalies, 0);
}

/// A buffer CQE the kernel dropped leaves the layer counting one buffer too many in
/// the ring. When the ring is really empty, a starved receive must not be re-armed
/// into `ENOBUFS` over and over on the strength of that count (a runner spinning
/// until some reader returns a buffer): when a receive re-armed for that count answers
/// `ENOBUFS` with no buffer put back since, the count is in doubt until one is.
/// Review 21, R21-7.
#[test]
fn a_lost_buffer_cqe_does_not_make_a_starved_receive_spin() {
    let Some(ring) = TestRing::new(32) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 4,
        buf_size: 1024,
        socket_buffers: 64,
        ..Config::default()
    });
    let (a, a_peer) = socketpair();
    let _rx = RecvQueue::new(&c, a).unwrap();
    let mut peer = std::fs::File::from(Arc::try_unwrap(a_peer).unwrap());
    peer.write_all(&[7u8; 8 * 1024]).unwrap();
    let mut lost = 0;
    for _ in 0..10 {
        ring.turn_losing(&c, &mut |u, _, f| {
            let lose = lost == 0
                && user_data_kind(u) == KIND_OP
                && io_uring::cqueue::buffer_select(f).is_some();
            lost += usize::from(lose);
            lose
        });
        if c.counters().buffer_exhaustions > 0 {
            break;
        }
    }
    assert_eq!(lost, 1, "a buffer CQE was dropped");
    assert_eq!(
        c.buffers_available(),
        1,
        "the layer thinks one buffer is in the ring"
    );
    let before = c.counters().buffer_exhaustions;
    for _ in 0..20 {
        ring.turn(&c, false);
    }
    let spins = c.counters().buffer_exhaustions - before;
    assert!(
        spins <= 1,
        "re-armed into ENOBUFS {spins} times with no buffer back"
    );
    assert_eq!(c.counters().anomalies, 1, "the doubt is counted once");
}
