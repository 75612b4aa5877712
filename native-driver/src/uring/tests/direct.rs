//! Parked receives (see `recv`'s module docs): direct reads into the caller's buffer,
//! in order with what was queued before, waiting with a readiness poll, back to the
//! multishot when the stream goes sparse, and nothing leaked when dropped at any step.
//! Also: a drain's CQEs wake a waiting reader once.

use super::*;

/// Sends what the socket takes of `data` now (non-blocking).
fn send_some(fd: &OwnedFd, data: &[u8]) -> usize {
    // SAFETY: `data` is readable for its length during the call.
    let n = unsafe {
        libc::send(
            fd.as_raw_fd(),
            data.as_ptr().cast(),
            data.len(),
            libc::MSG_DONTWAIT,
        )
    };
    if n < 0 {
        let e = std::io::Error::last_os_error();
        assert_eq!(e.raw_os_error(), Some(libc::EAGAIN), "send: {e}");
        return 0;
    }
    n as usize
}

/// Small provided buffers, so a few kilobytes queue several of them (a backlog).
fn small_buffers() -> Config {
    Config {
        buf_entries: 64,
        buf_size: 4096,
        ..Config::default()
    }
}

/// Sends the stream `seed` from `sent` on, `n` bytes at most; returns the new `sent`.
fn send_stream(fd: &OwnedFd, seed: u64, sent: usize, n: usize) -> usize {
    let mut chunk = vec![0u8; n];
    fill_stream(seed, sent as u64, &mut chunk);
    sent + send_some(fd, &chunk)
}

#[test]
fn a_streaming_receive_parks_and_reads_directly_in_order() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(small_buffers());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let seed = 0xd1ec7;
    let mut cx = noop_cx();
    // A backlog queued through the multishot.
    let mut sent = send_stream(&a, seed, 0, 40 << 10);
    ring.run_until(&c, || rx.queued() == sent);
    let mut buf = vec![0u8; 64 << 10];
    let mut read = 0;
    // The first large read takes from the queue and parks the receive; bytes sent
    // while its cancel is on its way queue behind, and are read before any direct read.
    let Poll::Ready(Ok(n)) = rx.poll_read(&mut cx, &mut buf[..20 << 10]) else {
        panic!("bytes are queued")
    };
    check_stream(seed, 0, &buf[..n]);
    read += n;
    assert_eq!(c.counters().parks, 1);
    sent = send_stream(&a, seed, sent, 30 << 10);
    let total = 4 << 20;
    while read < total {
        if sent < total {
            sent = send_stream(&a, seed, sent, (total - sent).min(100 << 10));
        }
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => {
                let n = r.unwrap();
                assert!(n > 0, "early end of stream");
                check_stream(seed, read as u64, &buf[..n]);
                read += n;
            }
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    }
    let counters = c.counters();
    assert!(counters.reads_direct > 0, "{counters:?}");
    drop(a);
    // The end of stream is read directly too (or through the multishot, if a sparse
    // read re-armed it): either way, after every byte.
    let end = loop {
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => break r.unwrap(),
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    };
    assert_eq!(end, 0, "nothing after the last byte");
    drop(rx);
    settle(&ring, &c);
}

#[test]
fn reads_of_every_size_keep_the_stream_in_order_across_parks() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    for seed in [1u64, 7, 0xbeef, 0x5eed_5eed] {
        let c = ring.completions(small_buffers());
        let (a, b) = socketpair();
        let mut rx = RecvQueue::new(&c, b).unwrap();
        let mut rng = Rng(seed | 1);
        let mut cx = noop_cx();
        let mut buf = vec![0u8; 64 << 10];
        let (mut sent, mut read) = (0usize, 0usize);
        let total = 3 << 20;
        while read < total {
            if sent < total && rng.chance(60) {
                let n = rng.range(1, 48 << 10).min(total - sent);
                sent = send_stream(&a, seed, sent, n);
            }
            // Large reads park and read directly; small ones and pulls read the queue
            // (and re-arm a parked receive that waits).
            match rng.range(0, 3) {
                0 | 1 => {
                    let n = if rng.chance(50) {
                        rng.range(16 << 10, 64 << 10)
                    } else {
                        rng.range(1, 16 << 10)
                    };
                    if let Poll::Ready(r) = rx.poll_read(&mut cx, &mut buf[..n]) {
                        let got = r.unwrap();
                        assert!(got > 0, "early end of stream");
                        check_stream(seed, read as u64, &buf[..got]);
                        read += got;
                    }
                }
                _ => {
                    if let Poll::Ready(r) = rx.poll_fill(&mut cx) {
                        let window = r.unwrap();
                        assert!(!window.is_empty(), "early end of stream");
                        let n = rng.range(1, window.len());
                        check_stream(seed, read as u64, &window[..n]);
                        rx.consume(n);
                        read += n;
                    }
                }
            }
            if rng.chance(50) {
                ring.turn(&c, false);
            }
        }
        let counters = c.counters();
        assert!(
            counters.parks > 0 && counters.reads_direct > 0,
            "{counters:?}"
        );
        assert_eq!(counters.anomalies, 0);
        drop((a, rx));
        settle(&ring, &c);
    }
}

/// Parks `rx` and reads until a direct read would block (its poll is armed).
fn park_and_drain(ring: &TestRing, c: &Completions, a: &OwnedFd, rx: &mut RecvQueue) -> usize {
    let seed = 3;
    let mut sent = send_stream(a, seed, 0, 40 << 10);
    ring.run_until(c, || rx.queued() == sent);
    let mut buf = vec![0u8; 64 << 10];
    let mut cx = noop_cx();
    let mut read = 0;
    sent = send_stream(a, seed, sent, 64 << 10);
    loop {
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => {
                let n = r.unwrap();
                check_stream(seed, read as u64, &buf[..n]);
                read += n;
            }
            Poll::Pending if read == sent && c.counters().reads_direct > 0 => break,
            Poll::Pending => {
                if read == sent {
                    // All of it came through the queue (the multishot took it before
                    // its cancel landed): more, for a direct read.
                    sent = send_stream(a, seed, sent, 32 << 10);
                }
                ring.turn(c, true);
            }
        }
    }
    assert_eq!(c.counters().parks, 1);
    read
}

#[test]
fn a_parked_receive_dropped_while_its_poll_waits_leaks_nothing() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(small_buffers());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    park_and_drain(&ring, &c, &a, &mut rx);
    ring.turn(&c, false); // the poll reaches the kernel
    drop(rx);
    settle(&ring, &c);
    drop(a);
}

#[test]
fn a_poll_that_finds_little_hands_the_stream_back_to_the_multishot() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(small_buffers());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    park_and_drain(&ring, &c, &a, &mut rx);
    let (wakes, waker) = Count::new();
    let mut cx = Context::from_waker(&waker);
    let mut buf = vec![0u8; 64 << 10];
    assert!(rx.poll_read(&mut cx, &mut buf).is_pending());
    assert_eq!(send_some(&a, b"sparse"), 6);
    ring.run_until(&c, || wakes.get() > 0);
    assert_eq!(
        rx.poll_read(&mut cx, &mut buf).map(Result::unwrap),
        Poll::Ready(6),
        "the poll woke the reader, which read directly"
    );
    // Re-armed: the next bytes land in the queue again.
    assert_eq!(send_some(&a, b"queued"), 6);
    ring.run_until(&c, || rx.queued() == 6);
    drop((a, rx));
    settle(&ring, &c);
}

#[test]
fn a_pull_on_a_parked_receive_rearms_the_multishot() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(small_buffers());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    park_and_drain(&ring, &c, &a, &mut rx);
    // The poll's CQE comes first (nothing fired yet: it stays armed); a pull waits
    // for it, then re-arms the multishot and gets the bytes with zero copy.
    let mut cx = noop_cx();
    assert_eq!(send_some(&a, b"pulled"), 6);
    let window = loop {
        match rx.poll_fill(&mut cx) {
            Poll::Ready(r) => break r.unwrap().to_vec(),
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    };
    assert_eq!(window, b"pulled");
    rx.consume(6);
    drop((a, rx));
    settle(&ring, &c);
}

#[test]
fn a_drain_wakes_a_waiting_reader_once() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 64,
        buf_size: 16,
        ..Config::default()
    });
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let (wakes, waker) = Count::new();
    let mut buf = [0u8; 64];
    assert!(rx
        .poll_read(&mut Context::from_waker(&waker), &mut buf)
        .is_pending());
    // Three buffers' worth: three CQEs, handed over in one drain.
    assert_eq!(send_some(&a, &[9u8; 40]), 40);
    ring.run_until(&c, || rx.queued() == 40);
    assert_eq!(wakes.get(), 1, "one wake for the drain");
    drop((a, rx));
    settle(&ring, &c);
}
