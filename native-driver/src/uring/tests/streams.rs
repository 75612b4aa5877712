//! Byte streams through receive queues and write-behind: order, ends, errors,
//! back-pressure, buffer exhaustion, zero copy, threads.

use super::*;

#[test]
fn megabytes_cross_a_socketpair_byte_exact() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    transfer(&ring, &c, &mut tx, &mut rx, 4 << 20, 0x5eed);
    drop((tx, rx));
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.buffers_available(), c.buffer_entries());
    assert_eq!(c.counters().anomalies, 0);
}

#[test]
fn megabytes_cross_loopback_tcp_both_ways() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 64,
        buf_size: 2048,
        ..Config::default()
    });
    let (client, server) = tcp_pair();
    let (client, server) = (
        Arc::new(OwnedFd::from(client)),
        Arc::new(OwnedFd::from(server)),
    );
    let mut tx1 = SendBehind::new(&c, client.clone()).unwrap();
    let mut rx1 = RecvQueue::new(&c, server.clone()).unwrap();
    let mut tx2 = SendBehind::new(&c, server).unwrap();
    let mut rx2 = RecvQueue::new(&c, client).unwrap();
    transfer(&ring, &c, &mut tx1, &mut rx1, 3 << 20, 1);
    transfer(&ring, &c, &mut tx2, &mut rx2, 3 << 20, 2);
    drop((tx1, rx1, tx2, rx2));
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.buffers_available(), c.buffer_entries());
}

#[test]
fn partial_reads_keep_the_rest_queued() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let mut cx = noop_cx();
    let mut buf = [0u8; 4];
    assert!(
        rx.poll_read(&mut cx, &mut buf).is_pending(),
        "nothing sent yet"
    );
    let mut peer = std::fs::File::from(a.try_clone().unwrap());
    peer.write_all(b"hello, world").unwrap();
    ring.run_until(&c, || rx.queued() == 12);
    assert_eq!(
        rx.poll_read(&mut cx, &mut buf).map(Result::unwrap),
        Poll::Ready(4)
    );
    assert_eq!(&buf, b"hell");
    // A read polled and dropped takes nothing.
    assert_eq!(rx.queued(), 8);
    let Poll::Ready(Ok(window)) = rx.poll_fill(&mut cx) else {
        panic!("bytes are queued")
    };
    assert_eq!(window, b"o, world");
    rx.consume(3);
    let Poll::Ready(Ok(window)) = rx.poll_fill(&mut cx) else {
        panic!("bytes are queued")
    };
    assert_eq!(window, b"world", "pulling again returns the same bytes");
    let mut rest = [0u8; 64];
    assert_eq!(
        rx.poll_read(&mut cx, &mut rest).map(Result::unwrap),
        Poll::Ready(5)
    );
    assert_eq!(&rest[..5], b"world");
    assert_eq!(
        rx.poll_read(&mut cx, &mut []).map(Result::unwrap),
        Poll::Ready(0),
        "an empty read completes at once"
    );
    assert!(rx.poll_read(&mut cx, &mut rest).is_pending());
    assert_eq!(
        c.buffers_available(),
        c.buffer_entries(),
        "read buffers went back"
    );
    drop(rx);
    settle(&ring, &c);
}

#[test]
fn eof_arrives_after_the_data_before_it() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let mut peer = std::fs::File::from(Arc::try_unwrap(a).unwrap());
    peer.write_all(b"last words").unwrap();
    drop(peer);
    // Wait for the end to be queued behind the data.
    ring.run_until(&c, || c.counters().finished >= 1);
    let mut cx = noop_cx();
    let mut buf = [0u8; 4];
    let mut got = Vec::new();
    loop {
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(0)) => break,
            Poll::Ready(Ok(n)) => got.extend_from_slice(&buf[..n]),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(got, b"last words");
    assert_eq!(
        rx.poll_read(&mut cx, &mut buf).map(Result::unwrap),
        Poll::Ready(0),
        "end of stream stays"
    );
    let Poll::Ready(Ok(window)) = rx.poll_fill(&mut cx) else {
        panic!()
    };
    assert!(window.is_empty());
    drop(rx);
    settle(&ring, &c);
}

#[test]
fn connection_reset_arrives_after_the_data_before_it() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (client, server) = tcp_pair();
    let mut rx = RecvQueue::new(&c, Arc::new(OwnedFd::from(server))).unwrap();
    let mut client = client;
    client.write_all(&[7u8; 10_000]).unwrap();
    ring.run_until(&c, || rx.queued() == 10_000);
    // SO_LINGER 0: close sends RST.
    socket2::SockRef::from(&client)
        .set_linger(Some(std::time::Duration::ZERO))
        .unwrap();
    drop(client);
    ring.run_until(&c, || c.counters().finished >= 1);
    let mut cx = noop_cx();
    let mut buf = [0u8; 3000];
    let mut total = 0;
    let err = loop {
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(n)) => {
                assert!(n > 0 && buf[..n].iter().all(|&b| b == 7));
                total += n;
            }
            Poll::Ready(Err(e)) => break e,
            Poll::Pending => panic!("the reset was queued"),
        }
    };
    assert_eq!(total, 10_000, "every byte before the reset is delivered");
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    assert!(
        rx.poll_read(&mut cx, &mut buf).is_ready(),
        "the error stays"
    );
    drop(rx);
    settle(&ring, &c);
}

#[test]
fn send_error_is_reported_by_the_next_write_or_flush() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut tx = SendBehind::new(&c, a).unwrap();
    drop(b);
    let mut cx = noop_cx();
    // Nothing queued: the write is a direct send, which meets the error at once.
    let Poll::Ready(Err(e)) = tx.poll_write(&mut cx, b"into the void") else {
        panic!("a direct send to a closed peer must fail")
    };
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    let Poll::Ready(Err(e)) = tx.poll_flush(&mut cx) else {
        panic!("flush must fail")
    };
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    let Poll::Ready(Err(e)) = tx.poll_write(&mut cx, b"more") else {
        panic!("write must fail")
    };
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe);
    drop(tx);
    settle(&ring, &c);
}

#[test]
fn a_write_with_nothing_queued_is_sent_directly_and_holds_no_block() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let mut cx = noop_cx();
    assert_eq!(
        tx.poll_write(&mut cx, b"direct").map(Result::unwrap),
        Poll::Ready(6)
    );
    // Taken by the kernel in the call: nothing buffered, flushed, no block, no op.
    assert_eq!(tx.buffered(), 0);
    assert!(tx.poll_flush(&mut cx).is_ready());
    assert_eq!(tx.block_capacity(), 0, "no write-behind block");
    let counters = c.counters();
    assert_eq!((counters.sends_direct, counters.writes_inline), (1, 1));
    let mut buf = [0u8; 16];
    ring.run_until(&c, || rx.queued() == 6);
    assert_eq!(
        rx.poll_read(&mut cx, &mut buf).map(Result::unwrap),
        Poll::Ready(6)
    );
    assert_eq!(&buf[..6], b"direct");
    drop((tx, rx));
    settle(&ring, &c);
}

#[test]
fn a_drained_write_behind_block_goes_back_to_the_pool_and_is_reused() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    socket2::SockRef::from(&*a)
        .set_send_buffer_size(4096)
        .unwrap();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut cx = noop_cx();
    let big = [3u8; 200_000];
    // The socket takes part directly; the rest goes into the block.
    let Poll::Ready(Ok(n)) = tx.poll_write(&mut cx, &big) else {
        panic!("the first write finds room")
    };
    assert!(n > 0 && n < big.len());
    assert!(tx.buffered() > 0, "the rest waits in the block");
    let held = tx.block_capacity();
    assert!(held > 0);
    assert_eq!(c.pooled_send_bytes(), 0);
    // The peer drains: the block empties and goes to the pool.
    let peer = std::fs::File::from(Arc::try_unwrap(b).unwrap());
    let mut buf = [0u8; 65536];
    let mut got = 0;
    while tx.poll_flush(&mut cx).is_pending() || got < n {
        ring.turn(&c, false);
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let r = unsafe {
            libc::recv(
                peer.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if r > 0 {
            got += r as usize;
        }
    }
    ring.run_until(&c, || tx.block_capacity() == 0);
    assert_eq!(c.pooled_send_bytes(), held, "the drained block is pooled");
    // Another socket that needs a block takes the pooled one.
    let (a2, b2) = socketpair();
    socket2::SockRef::from(&*a2)
        .set_send_buffer_size(4096)
        .unwrap();
    let mut tx2 = SendBehind::new(&c, a2).unwrap();
    assert!(tx2.poll_write(&mut cx, &big).is_ready());
    assert_eq!(tx2.block_capacity(), held, "reused, not allocated");
    assert_eq!(c.pooled_send_bytes(), 0);
    // Closing the peers fails the sends still queued; everything is released.
    drop((tx, tx2, peer, b2));
    settle(&ring, &c);
}

#[test]
fn write_behind_is_bounded_and_flush_waits_for_the_kernel() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config {
        send_capacity: 4096,
        ..Config::default()
    });
    let (a, b) = socketpair();
    // A small socket buffer, so the kernel stops taking bytes.
    socket2::SockRef::from(&*a)
        .set_send_buffer_size(4096)
        .unwrap();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut cx = noop_cx();
    let big = [1u8; 10_000];
    let mut accepted = 0;
    for _ in 0..100 {
        if let Poll::Ready(n) = tx.poll_write(&mut cx, &big) {
            accepted += n.unwrap();
        }
        ring.turn(&c, false);
    }
    assert!(
        tx.poll_write(&mut cx, &big).is_pending(),
        "the write-behind buffer and the socket are full"
    );
    assert!(tx.poll_flush(&mut cx).is_pending());
    assert!(tx.buffered() > 0);
    // The reader drains; every accepted byte arrives and flush completes.
    let peer = std::fs::File::from(Arc::try_unwrap(b).unwrap());
    let mut got = 0;
    let mut buf = [0u8; 8192];
    while tx.poll_flush(&mut cx).is_pending() {
        ring.turn(&c, false);
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let n = unsafe {
            libc::recv(
                peer.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n > 0 {
            got += n as usize;
        }
    }
    drop(tx);
    ring.run_until(&c, || c.slots_in_use() == 0);
    loop {
        // SAFETY: as above.
        let n = unsafe {
            libc::recv(
                peer.as_raw_fd(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n <= 0 {
            break;
        }
        got += n as usize;
    }
    assert_eq!(got, accepted);
}

#[test]
fn zero_copy_writes_keep_their_order_around_sends_in_flight() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let mut cx = noop_cx();
    assert_eq!(
        tx.poll_write(&mut cx, b"abc").map(Result::unwrap),
        Poll::Ready(3)
    );
    // The window is lent while the send of "abc" completes: nothing may move under it.
    let Poll::Ready(Ok(window)) = tx.poll_prepare(&mut cx) else {
        panic!("room")
    };
    ring.turn(&c, true);
    window[..3].copy_from_slice(b"def");
    tx.commit(3).unwrap();
    // A window given up without commit sends nothing.
    let Poll::Ready(Ok(window)) = tx.poll_prepare(&mut cx) else {
        panic!("room")
    };
    window[..3].copy_from_slice(b"xxx");
    assert_eq!(
        tx.poll_write(&mut cx, b"ghi").map(Result::unwrap),
        Poll::Ready(3)
    );
    ring.run_until(&c, || {
        tx.poll_flush(&mut noop_cx()).is_ready() && rx.queued() == 9
    });
    let mut got = [0u8; 16];
    assert_eq!(
        rx.poll_read(&mut cx, &mut got).map(Result::unwrap),
        Poll::Ready(9)
    );
    assert_eq!(&got[..9], b"abcdefghi");
    drop((tx, rx));
    settle(&ring, &c);
}

#[test]
fn a_multishot_ended_by_the_kernel_is_rearmed() {
    // A completion queue of 8: the kernel ends the multishot receive when it overflows.
    let Some(ring) = TestRing::new(4) else { return };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    ring.turn(&c, false);
    let mut peer = std::fs::File::from(Arc::try_unwrap(a).unwrap());
    for i in 0..200u8 {
        // Each write's task work posts a CQE before the next one.
        peer.write_all(&[i]).unwrap();
    }
    let mut cx = noop_cx();
    let mut got = Vec::new();
    let mut buf = [0u8; 64];
    while got.len() < 200 {
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => got.extend_from_slice(&buf[..r.unwrap()]),
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    }
    assert!(got.iter().copied().eq(0..200u8), "in order, once each");
    let counters = c.counters();
    assert!(counters.rearms >= 1, "{counters:?}");
    assert_eq!(counters.buffer_exhaustions, 0);
    drop(rx);
    settle(&ring, &c);
}

#[test]
fn completions_run_on_another_thread() {
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let host = std::thread::spawn({
        let (ring, c, stop) = (ring.clone(), c.clone(), stop.clone());
        move || {
            while !stop.load(Ordering::SeqCst) {
                ring.turn_for(&c, Some(200_000));
            }
        }
    });
    let (a, b) = socketpair();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let len = 2 << 20;
    let (mut written, mut read) = (0usize, 0usize);
    let mut chunk = [0u8; 7000];
    while read < len {
        let mut progress = false;
        if written < len {
            let n = chunk.len().min(len - written);
            fill_stream(77, written as u64, &mut chunk[..n]);
            if let Poll::Ready(r) = tx.poll_write(&mut cx, &chunk[..n]) {
                written += r.unwrap();
                progress = true;
            }
        }
        if let Poll::Ready(r) = rx.poll_fill(&mut cx) {
            let window = r.unwrap();
            assert!(!window.is_empty());
            let n = window.len();
            check_stream(77, read as u64, window);
            rx.consume(n);
            read += n;
            progress = true;
        }
        if !progress {
            std::thread::park_timeout(std::time::Duration::from_secs(1));
        }
    }
    drop((tx, rx));
    while c.slots_in_use() > 0 {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    stop.store(true, Ordering::SeqCst);
    host.join().unwrap();
    let counters = c.counters();
    assert!(
        counters.reads_waited > 0 && counters.reads_inline > 0,
        "{counters:?}"
    );
    settle(&ring, &c);
}

#[test]
fn shutdown_write_side_after_the_buffered_bytes() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let mut cx = noop_cx();
    assert!(tx.poll_write(&mut cx, b"bye").is_ready());
    ring.run_until(&c, || tx.poll_shutdown(&mut noop_cx()).is_ready());
    assert!(matches!(tx.poll_shutdown(&mut cx), Poll::Ready(Ok(()))));
    let mut got = Vec::new();
    let mut buf = [0u8; 8];
    loop {
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(Ok(0)) => break,
            Poll::Ready(Ok(n)) => got.extend_from_slice(&buf[..n]),
            Poll::Ready(Err(e)) => panic!("{e}"),
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    }
    assert_eq!(got, b"bye");
    drop((tx, rx));
    settle(&ring, &c);
}

#[test]
fn a_reader_that_does_not_read_cannot_starve_the_others() {
    let Some(ring) = TestRing::new(32) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 16,
        buf_size: 1024,
        socket_buffers: 4,
        ..Config::default()
    });
    let (a, a_peer) = socketpair();
    let (b, b_peer) = socketpair();
    let mut slow = RecvQueue::new(&c, a).unwrap();
    let mut busy = RecvQueue::new(&c, b).unwrap();
    let feed = |fd: Arc<OwnedFd>, seed: u64, len: usize| {
        let mut peer = std::fs::File::from(Arc::try_unwrap(fd).unwrap());
        std::thread::spawn(move || {
            let mut data = vec![0u8; len];
            fill_stream(seed, 0, &mut data);
            peer.write_all(&data).unwrap();
        })
    };
    let slow_writer = feed(a_peer, 1, 256 * 1024);
    let busy_writer = feed(b_peer, 2, 256 * 1024);
    let mut cx = noop_cx();
    let mut buf = [0u8; 3000];
    // Only `busy` is read: `slow` keeps about its share of the ring (CQEs reaped
    // before its pause took effect come on top), never all of it.
    let (mut read, mut idle, mut most) = (0, 0, 0);
    while read < 256 * 1024 {
        match busy.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => {
                let n = r.unwrap();
                check_stream(2, read as u64, &buf[..n]);
                read += n;
                idle = 0;
            }
            Poll::Pending => {
                if ring.turn(&c, true) == 0 {
                    idle += 1;
                    assert!(idle < 20, "the busy socket starved");
                }
            }
        }
        most = most.max(slow.queued());
    }
    busy_writer.join().unwrap();
    let counters = c.counters();
    assert!(counters.pauses >= 1, "{counters:?}");
    eprintln!("slow socket: at most {most} bytes unread; {counters:?}");
    // Now the slow reader catches up: its receive resumes, nothing is lost.
    let mut read = 0;
    while read < 256 * 1024 {
        match slow.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => {
                let n = r.unwrap();
                check_stream(1, read as u64, &buf[..n]);
                read += n;
            }
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    }
    slow_writer.join().unwrap();
    drop((slow, busy));
    settle(&ring, &c);
}

#[test]
fn exhausted_buffer_ring_rearms_when_buffers_return() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 4,
        buf_size: 256,
        ..Config::default()
    });
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let mut peer = std::fs::File::from(Arc::try_unwrap(a).unwrap());
    let len = 64 * 1024;
    let mut data = vec![0u8; len];
    fill_stream(9, 0, &mut data);
    let writer = std::thread::spawn(move || peer.write_all(&data).map(|()| peer));
    // Nobody reads: the four buffers fill and the receive stops with ENOBUFS.
    ring.run_until(&c, || c.counters().buffer_exhaustions >= 1);
    assert_eq!(c.buffers_available(), 0);
    assert_eq!(rx.queued(), 4 * 256);
    let mut cx = noop_cx();
    let mut read = 0;
    let mut buf = [0u8; 100];
    while read < len {
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => {
                let n = r.unwrap();
                check_stream(9, read as u64, &buf[..n]);
                read += n;
            }
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    }
    let counters = c.counters();
    assert!(counters.buffer_exhaustions >= 2, "{counters:?}");
    assert!(
        counters.rearms >= counters.buffer_exhaustions - 1,
        "{counters:?}"
    );
    drop(writer.join().unwrap().unwrap());
    ring.run_until(&c, || {
        rx.poll_read(&mut noop_cx(), &mut [0u8; 1]).is_ready()
    });
    assert_eq!(
        rx.poll_read(&mut cx, &mut buf).map(Result::unwrap),
        Poll::Ready(0)
    );
    drop(rx);
    settle(&ring, &c);
}

#[test]
fn wakers_fire_on_completion() {
    struct Count(AtomicUsize);
    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let count = Arc::new(Count(AtomicUsize::new(0)));
    let waker = Waker::from(count.clone());
    let mut cx = Context::from_waker(&waker);
    assert!(rx.poll_read(&mut cx, &mut [0u8; 8]).is_pending());
    let mut tx = SendBehind::new(&c, a).unwrap();
    assert!(tx.poll_write(&mut noop_cx(), b"wake up").is_ready());
    ring.run_until(&c, || count.0.load(Ordering::SeqCst) > 0);
    assert_eq!(
        rx.poll_read(&mut cx, &mut [0u8; 8]).map(Result::unwrap),
        Poll::Ready(7)
    );
    let counters = c.counters();
    assert_eq!(
        (counters.reads_waited, counters.reads_inline),
        (1, 0),
        "{counters:?}"
    );
    assert_eq!(
        (counters.writes_inline, counters.writes_waited),
        (1, 0),
        "{counters:?}"
    );
    drop((rx, tx));
    settle(&ring, &c);
}

/// A re-arm the host refuses for a moment (a submission queue that stays full) is
/// retried: the stream goes on, every byte in order. Review 21, R21-4.
#[test]
fn a_transiently_refused_rearm_does_not_end_the_stream() {
    let Some(ring) = TestRing::new(32) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 16,
        buf_size: 1024,
        socket_buffers: 2,
        ..Config::default()
    });
    let (a, a_peer) = socketpair();
    let mut rx = RecvQueue::new(&c, a).unwrap();
    let mut peer = std::fs::File::from(Arc::try_unwrap(a_peer).unwrap());
    let mut data = vec![0u8; 64 * 1024];
    fill_stream(7, 0, &mut data);
    let writer = std::thread::spawn(move || peer.write_all(&data).map(|()| peer));
    // Let the receive pause on its share.
    while c.counters().pauses == 0 {
        ring.turn(&c, true);
    }
    ring.turn(&c, true);
    let mut cx = noop_cx();
    let mut buf = [0u8; 700];
    let (mut read, mut refused) = (0, false);
    while read < 64 * 1024 {
        if !refused {
            // The resume (a re-arm) comes with one of the next reads: refuse it once.
            ring.refuse.store(1, std::sync::atomic::Ordering::SeqCst);
            refused = true;
        }
        match rx.poll_read(&mut cx, &mut buf) {
            Poll::Ready(r) => {
                let n = r.expect("the stream failed on a transient refusal");
                assert!(n > 0, "early end of stream");
                check_stream(7, read as u64, &buf[..n]);
                read += n;
            }
            Poll::Pending => {
                ring.turn(&c, true);
            }
        }
    }
    let _peer = writer.join().unwrap().unwrap();
    drop(rx);
    settle(&ring, &c);
}

/// A send (and a dropped writer's lingering send) the host refuses for a moment is
/// retried: the write is accepted, flushes, and every byte arrives. Review 21, R21-4.
#[test]
fn a_transiently_refused_send_is_retried_and_delivered() {
    let Some(ring) = TestRing::new(32) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (a, a_peer) = socketpair();
    let mut tx = SendBehind::new(&c, a).unwrap();
    let mut peer = std::os::unix::net::UnixStream::from(Arc::try_unwrap(a_peer).unwrap());
    peer.set_read_timeout(Some(std::time::Duration::from_secs(5)))
        .unwrap();
    let mut data = vec![0u8; 8 * 1024];
    fill_stream(3, 0, &mut data);
    ring.refuse.store(1, std::sync::atomic::Ordering::SeqCst);
    let Poll::Ready(n) = tx.poll_write(&mut noop_cx(), &data[..4096]) else {
        panic!("the write waits")
    };
    assert_eq!(n.expect("the write failed on a transient refusal"), 4096);
    ring.run_until(&c, || tx.poll_flush(&mut noop_cx()).is_ready());
    assert!(matches!(tx.poll_flush(&mut noop_cx()), Poll::Ready(Ok(()))));
    // A writer dropped while its send is refused: the bytes still go.
    ring.refuse.store(1, std::sync::atomic::Ordering::SeqCst);
    assert!(matches!(
        tx.poll_write(&mut noop_cx(), &data[4096..]),
        Poll::Ready(Ok(4096))
    ));
    drop(tx);
    ring.run_until(&c, || c.slots_in_use() == 0);
    let mut got = vec![0u8; 8 * 1024];
    std::io::Read::read_exact(&mut peer, &mut got).unwrap();
    check_stream(3, 0, &got);
    settle(&ring, &c);
}
