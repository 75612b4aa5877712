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
