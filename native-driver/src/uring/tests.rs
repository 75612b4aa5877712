//! End-to-end tests of the completion layer on a private ring, driven by a tiny loop
//! (`testing::TestRing`) with no-op wakers: every test polls its handles each turn.

use std::io::{IoSlice, IoSliceMut, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use io_uring::{opcode, types};

use super::testing::TestRing;
use super::*;

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

/// xorshift64*: seeded, reproducible, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    /// Uniform-ish in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next() % (hi - lo + 1) as u64) as usize
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Bytes `8w..8w + 8` of the stream seeded `seed`: any lost, duplicated or reordered
/// byte shows.
fn stream_word(seed: u64, w: u64) -> [u8; 8] {
    let mut z = seed ^ w.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).to_le_bytes()
}

/// Calls `f(offset in out, expected bytes)` for the stream bytes `from..from + len`,
/// a word at a time (the per-byte version is too slow for debug builds).
fn stream_pieces(seed: u64, from: u64, len: usize, mut f: impl FnMut(usize, &[u8])) {
    let mut k = 0;
    while k < len {
        let pos = from + k as u64;
        let word = stream_word(seed, pos / 8);
        let skip = (pos % 8) as usize;
        let n = (8 - skip).min(len - k);
        f(k, &word[skip..skip + n]);
        k += n;
    }
}

fn fill_stream(seed: u64, from: u64, out: &mut [u8]) {
    stream_pieces(seed, from, out.len(), |k, want| {
        out[k..k + want.len()].copy_from_slice(want)
    });
}

fn check_stream(seed: u64, from: u64, got: &[u8]) {
    stream_pieces(seed, from, got.len(), |k, want| {
        assert!(
            &got[k..k + want.len()] == want,
            "stream {seed:#x}: bytes from {} differ",
            from + k as u64
        );
    });
}

fn noop_cx() -> Context<'static> {
    Context::from_waker(Waker::noop())
}

fn socketpair() -> (Arc<OwnedFd>, Arc<OwnedFd>) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors socketpair writes.
    let rc = unsafe {
        libc::socketpair(
            libc::AF_UNIX,
            libc::SOCK_STREAM | libc::SOCK_CLOEXEC,
            0,
            fds.as_mut_ptr(),
        )
    };
    assert_eq!(rc, 0, "socketpair: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe {
        (
            Arc::new(OwnedFd::from_raw_fd(fds[0])),
            Arc::new(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

fn tcp_pair() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

fn pipe() -> (Arc<OwnedFd>, Arc<OwnedFd>) {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for the two descriptors pipe2 writes.
    let rc = unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) };
    assert_eq!(rc, 0);
    // SAFETY: both descriptors are new and owned by nobody else.
    unsafe {
        (
            Arc::new(OwnedFd::from_raw_fd(fds[0])),
            Arc::new(OwnedFd::from_raw_fd(fds[1])),
        )
    }
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs test `name` alone in a child process (so `/proc/self/fd` counts only its own
/// descriptors) and returns `false`; returns `true` inside that child.
fn in_child(name: &str) -> bool {
    const VAR: &str = "STRAIT_URING_CHILD";
    if std::env::var(VAR).as_deref() == Ok(name) {
        return true;
    }
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            name,
            "--exact",
            "--include-ignored",
            "--test-threads=1",
            "--nocapture",
        ])
        .env(VAR, name)
        .status()
        .unwrap();
    assert!(status.success(), "{name} failed in its child process");
    false
}

/// Pushes `data` through `tx` and reads it back from `rx` with random read sizes,
/// vectored reads and zero-copy borrows.
fn transfer(
    ring: &TestRing,
    c: &Completions,
    tx: &mut SendBehind,
    rx: &mut RecvQueue,
    len: usize,
    seed: u64,
) {
    let mut rng = Rng(seed | 1);
    let mut chunk = vec![0u8; 32 * 1024];
    let mut into = vec![0u8; 32 * 1024];
    let (mut written, mut read) = (0usize, 0usize);
    let mut cx = noop_cx();
    while read < len {
        let mut progress = false;
        if written < len {
            let n = rng.range(1, chunk.len()).min(len - written);
            let poll = match rng.range(0, 3) {
                0 if n > 1 => {
                    fill_stream(seed, written as u64, &mut chunk[..n]);
                    let (a, b) = chunk[..n].split_at(n / 2);
                    tx.poll_write_vectored(&mut cx, &[IoSlice::new(a), IoSlice::new(b)])
                }
                1 => match tx.poll_prepare(&mut cx) {
                    Poll::Ready(window) => {
                        // Zero copy: the bytes are made in the driver's buffer.
                        let window = window.unwrap();
                        let n = n.min(window.len());
                        fill_stream(seed, written as u64, &mut window[..n]);
                        tx.commit(n).unwrap();
                        Poll::Ready(Ok(n))
                    }
                    Poll::Pending => Poll::Pending,
                },
                _ => {
                    fill_stream(seed, written as u64, &mut chunk[..n]);
                    tx.poll_write(&mut cx, &chunk[..n])
                }
            };
            if let Poll::Ready(r) = poll {
                written += r.unwrap();
                progress = true;
            }
        }
        match rng.range(0, 2) {
            0 => {
                let n = rng.range(1, into.len());
                if let Poll::Ready(r) = rx.poll_read(&mut cx, &mut into[..n]) {
                    let got = r.unwrap();
                    assert!(got > 0, "early end of stream");
                    check_stream(seed, read as u64, &into[..got]);
                    read += got;
                    progress = true;
                }
            }
            1 => {
                let split = rng.range(1, 100);
                let (a, b) = into.split_at_mut(split);
                if let Poll::Ready(r) = rx.poll_read_vectored(
                    &mut cx,
                    &mut [IoSliceMut::new(a), IoSliceMut::new(&mut b[..4000])],
                ) {
                    let got = r.unwrap();
                    assert!(got > 0, "early end of stream");
                    let first = got.min(split);
                    check_stream(seed, read as u64, &into[..first]);
                    check_stream(
                        seed,
                        (read + first) as u64,
                        &into[split..split + got - first],
                    );
                    read += got;
                    progress = true;
                }
            }
            _ => {
                let take = rng.range(1, 5000);
                if let Poll::Ready(r) = rx.poll_fill(&mut cx) {
                    let window = r.unwrap();
                    assert!(!window.is_empty(), "early end of stream");
                    let n = take.min(window.len());
                    check_stream(seed, read as u64, &window[..n]);
                    rx.consume(n);
                    read += n;
                    progress = true;
                }
            }
        }
        ring.turn(c, !progress);
    }
    assert_eq!(written, len);
    ring.run_until(c, || tx.poll_flush(&mut noop_cx()).is_ready());
}

/// Waits until every slot is released (the caller dropped its handles), then checks
/// every buffer is back in the ring and nothing odd happened.
fn settle(ring: &TestRing, c: &Completions) {
    ring.run_until(c, || c.slots_in_use() == 0);
    assert_eq!(
        c.buffers_available(),
        c.buffer_entries(),
        "every buffer is back in the ring"
    );
    assert_eq!(c.counters().anomalies, 0);
}

#[test]
fn handles_can_move_between_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Completions>();
    send::<RecvQueue>();
    send::<SendBehind>();
    send::<Acceptor>();
    send::<Op<Vec<u8>>>();
}

#[test]
fn user_data_round_trips_and_names_its_owner() {
    for (index, generation) in [
        (0, 0),
        (1, 7),
        (u32::MAX, GENERATION_MASK),
        (12345, 1 << 29),
    ] {
        let op = op_user_data(index, generation);
        assert_eq!(decode_user_data(op), (KIND_OP, index, generation));
        assert!(is_completion(op));
        let internal = internal_user_data(index, generation);
        assert_eq!(
            decode_user_data(internal),
            (KIND_INTERNAL, index, generation)
        );
        assert!(is_completion(internal));
    }
    // Generations wrap within their 30 bits and never spill into the kind.
    assert_eq!(
        decode_user_data(op_user_data(3, u32::MAX)),
        (KIND_OP, 3, GENERATION_MASK)
    );
    assert_eq!(user_data_kind(0x3fff_ffff_ffff_ffff), KIND_READINESS);
    assert_eq!(user_data_kind(1 << 62), KIND_HOST);
    assert!(!is_completion(0x3fff_ffff_ffff_ffff) && !is_completion(1 << 62));
}

#[test]
fn buffer_ids_are_checked() {
    let Some(ring) = TestRing::new(8) else { return };
    let c = ring.completions(Config {
        buf_entries: 4,
        buf_size: 64,
        bgid: 3,
        ..Config::default()
    });
    let mut driver = c.lock();
    let bufs = &mut driver.bufs;
    assert_eq!((bufs.entries(), bufs.available(), bufs.bgid()), (4, 4, 3));
    assert_eq!(
        bufs.put(1),
        Err(buf_ring::BufIdError::NotHeld(1)),
        "double return"
    );
    assert_eq!(bufs.take(4), Err(buf_ring::BufIdError::OutOfRange(4)));
    assert_eq!(bufs.put(9), Err(buf_ring::BufIdError::OutOfRange(9)));
    bufs.take(2).unwrap();
    assert_eq!(bufs.take(2), Err(buf_ring::BufIdError::AlreadyHeld(2)));
    assert_eq!(bufs.available(), 3);
    bufs.put(2).unwrap();
    assert_eq!(bufs.put(2), Err(buf_ring::BufIdError::NotHeld(2)));
    assert_eq!(bufs.available(), 4);
    drop(driver);
    // Sizes the kernel would refuse are refused first.
    let submitter_ring = io_uring::IoUring::new(4).unwrap();
    for entries in [0, 3, 100] {
        let submit: Arc<dyn Submit + Send + Sync> = ring.clone();
        let err = Completions::new(
            &submitter_ring.submitter(),
            submit,
            Config {
                buf_entries: entries,
                ..Config::default()
            },
        )
        .err()
        .expect("not a power of two");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[test]
fn slots_are_recycled_with_new_generations() {
    let mut slab = ops::Slab::default();
    let a = slab.insert(ops::Body::Oneshot(Keep::None), None);
    let b = slab.insert(ops::Body::Oneshot(Keep::None), None);
    assert_eq!((a.index, b.index, slab.in_use()), (0, 1, 2));
    slab.remove(a);
    assert!(slab.get_mut(a).is_none(), "a freed key finds nothing");
    let c = slab.insert(ops::Body::Oneshot(Keep::None), None);
    assert_eq!(c.index, 0);
    assert_ne!(c.generation, a.generation);
    assert!(
        slab.get_mut(a).is_none(),
        "a stale key does not find the new slot"
    );
    assert!(slab.get_mut(c).is_some());
    assert_eq!((slab.in_use(), slab.capacity()), (2, 2));
}

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
    assert_eq!(
        tx.poll_write(&mut cx, b"into the void").map(Result::unwrap),
        Poll::Ready(13),
        "write-behind accepts"
    );
    ring.run_until(&c, || tx.poll_flush(&mut noop_cx()).is_ready());
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
fn accept_errors_are_reported_and_accepting_resumes() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    // Not listening: every accept fails with EINVAL.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(socket))).unwrap();
    for round in 1..=2 {
        ring.run_until(&c, || c.counters().finished >= round);
        let Poll::Ready(Err(e)) = acceptor.poll_accept(&mut noop_cx()) else {
            panic!("the error is reported")
        };
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }
    assert_eq!(
        c.counters().rearms,
        0,
        "re-armed by the reader, not by the CQE"
    );
    drop(acceptor);
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
fn shutdown_cancels_everything_and_refuses_new_operations() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    // A receive, an accept and a one-shot read that wait forever, live.
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    let (r, _w) = pipe();
    // SAFETY: the entry points into the lent Vec and names the slot's descriptor.
    let mut op = unsafe {
        Op::submit(&c, Some(r.clone()), vec![0u8; 16], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    }
    .unwrap();
    // A dropped writer lingering on bytes its peer never reads.
    let (c1, c2) = socketpair();
    socket2::SockRef::from(&*c1)
        .set_send_buffer_size(4096)
        .unwrap();
    let mut tx = SendBehind::new(&c, c1).unwrap();
    let block = [0u8; 16 * 1024];
    for _ in 0..50 {
        let _ = tx.poll_write(&mut noop_cx(), &block);
        ring.turn(&c, false);
    }
    assert!(tx.poll_write(&mut noop_cx(), &block).is_pending() && tx.buffered() > 0);
    drop(tx);
    ring.turn(&c, false);
    assert_eq!(
        c.slots_in_use(),
        4,
        "three live handles and the lingering send"
    );
    c.shutdown();
    // Only the three live handles keep slots; the lingering send is gone.
    ring.run_until(&c, || c.slots_in_use() == 3 && c.counters().finished >= 4);
    let gone = |e: &std::io::Error| e.to_string().contains("IoContext");
    let mut cx = noop_cx();
    let Poll::Ready(Err(e)) = rx.poll_read(&mut cx, &mut [0u8; 4]) else {
        panic!("receive ends")
    };
    assert!(gone(&e), "{e:?}");
    let Poll::Ready(Err(e)) = acceptor.poll_accept(&mut cx) else {
        panic!("accept ends")
    };
    assert!(gone(&e), "{e:?}");
    let Poll::Ready(outcome) = Pin::new(&mut op).poll(&mut cx) else {
        panic!("read ends")
    };
    assert!(gone(&outcome.result.unwrap_err()));
    assert_eq!(outcome.resource.len(), 16, "the buffer comes back");
    // SAFETY: a NOP points at nothing.
    let refused = unsafe { Op::submit(&c, None, (), |(), _| opcode::Nop::new().build()) };
    assert!(gone(&refused.err().expect("refused after shutdown")));
    assert!(RecvQueue::new(&c, a).is_err());
    drop((rx, acceptor, op, c2));
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
fn many_connections_are_accepted_and_untaken_ones_closed() {
    if !in_child("uring::tests::many_connections_are_accepted_and_untaken_ones_closed") {
        return;
    }
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    let baseline = open_fds();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    let mut clients = Vec::new();
    let mut accepted = Vec::new();
    let mut cx = noop_cx();
    for i in 0..300 {
        clients.push(TcpStream::connect(addr).unwrap());
        if i % 3 == 0 {
            ring.turn(&c, false);
            while let Poll::Ready(fd) = acceptor.poll_accept(&mut cx) {
                accepted.push(fd.unwrap());
            }
        }
    }
    ring.run_until(&c, || {
        while let Poll::Ready(fd) = acceptor.poll_accept(&mut noop_cx()) {
            accepted.push(fd.unwrap());
        }
        accepted.len() == 300
    });
    // Each accepted descriptor is one of the clients' peers.
    let mut peers: Vec<SocketAddr> = accepted
        .iter()
        .map(|fd| {
            socket2::SockRef::from(fd)
                .peer_addr()
                .unwrap()
                .as_socket()
                .unwrap()
        })
        .collect();
    let mut locals: Vec<SocketAddr> = clients.iter().map(|s| s.local_addr().unwrap()).collect();
    peers.sort();
    locals.sort();
    assert_eq!(peers, locals);
    drop(accepted);
    // Ten more, never taken: closed with the acceptor.
    for _ in 0..10 {
        clients.push(TcpStream::connect(addr).unwrap());
    }
    ring.run_until(&c, || acceptor.queued() == 10);
    drop(acceptor);
    ring.run_until(&c, || c.slots_in_use() == 0);
    drop(clients);
    assert_eq!(open_fds(), baseline, "no descriptor leaked");
}

#[test]
fn a_full_accept_queue_pauses_until_half_is_taken() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config {
        accept_queue: 4,
        ..Config::default()
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    ring.turn(&c, false);
    let clients: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
    ring.run_until(&c, || {
        c.counters().pauses >= 1 && c.counters().finished >= 1
    });
    // Paused: what the kernel handed over before the pause landed, the rest waits in
    // the listen backlog.
    let held = acceptor.queued();
    for _ in 0..5 {
        ring.turn(&c, false);
    }
    assert_eq!(acceptor.queued(), held, "no accept while paused");
    let mut accepted = Vec::new();
    ring.run_until(&c, || {
        while let Poll::Ready(fd) = acceptor.poll_accept(&mut noop_cx()) {
            accepted.push(fd.unwrap());
        }
        accepted.len() == clients.len()
    });
    assert!(c.counters().rearms >= 1);
    drop((acceptor, accepted, clients));
    settle(&ring, &c);
}

#[test]
fn dropped_ops_keep_their_buffer_until_the_kernel_is_done() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (r, w) = pipe();
    let mut cx = noop_cx();
    // A read nobody feeds, dropped: the buffer and the descriptor stay with the slot.
    // SAFETY: the entry points into the lent Vec and names the slot's descriptor.
    let op = unsafe {
        Op::submit(&c, Some(r.clone()), vec![0u8; 64], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    }
    .unwrap();
    ring.turn(&c, false);
    drop(op);
    drop(r);
    assert_eq!(c.slots_in_use(), 1, "the orphan waits for its CQE");
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.counters().canceled, 1);
    // A read that completes hands its buffer back with the result.
    let (r, w2) = pipe();
    // SAFETY: as above.
    let mut op = unsafe {
        Op::submit(&c, Some(r), vec![0u8; 64], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    }
    .unwrap();
    std::fs::File::from(Arc::try_unwrap(w2).unwrap())
        .write_all(b"ping")
        .unwrap();
    let outcome = loop {
        if let Poll::Ready(o) = Pin::new(&mut op).poll(&mut cx) {
            break o;
        }
        ring.turn(&c, true);
    };
    assert_eq!(outcome.result.unwrap(), 4);
    assert!(
        !io_uring::cqueue::more(outcome.flags),
        "a one-shot read ends with its CQE"
    );
    assert_eq!(&outcome.resource[..4], b"ping");
    drop(op);
    assert_eq!(c.slots_in_use(), 0);
    drop(w);
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

use std::future::Future;
use std::pin::Pin;

/// One connection under torture: a writer on one end, a reader on the other.
struct Pair {
    tx: SendBehind,
    rx: RecvQueue,
    seed: u64,
    written: u64,
    read: u64,
}

/// An operation in flight, dropped after its countdown unless it completes first.
enum Pending {
    Poll(Op<()>, u32),
    Read(Op<Vec<u8>>, u32),
    Nop(Op<()>, u32),
    Connect(Op<Box<libc::sockaddr_storage>>, u32),
}

fn sockaddr_of(addr: SocketAddr) -> (Box<libc::sockaddr_storage>, libc::socklen_t) {
    let sa = socket2::SockAddr::from(addr);
    // SAFETY: sockaddr_storage is plain data; zeroed is a valid value.
    let mut storage: Box<libc::sockaddr_storage> = Box::new(unsafe { std::mem::zeroed() });
    // SAFETY: `sa.as_ptr()` points to `sa.len()` bytes, no more than a sockaddr_storage.
    unsafe {
        std::ptr::copy_nonoverlapping(
            sa.as_ptr().cast::<u8>(),
            (&mut *storage as *mut libc::sockaddr_storage).cast::<u8>(),
            sa.len() as usize,
        )
    };
    (storage, sa.len())
}

struct Torture {
    ring: Arc<TestRing>,
    c: Arc<Completions>,
    rng: Rng,
    pairs: Vec<Pair>,
    pending: Vec<Pending>,
    idle_read: Arc<OwnedFd>,
    _idle_write: Arc<OwnedFd>,
    listener: Acceptor,
    listen_addr: SocketAddr,
    scratch: Vec<u8>,
    next_seed: u64,
    /// Bytes checked on every stream, and connections replaced.
    verified: u64,
    churned: u64,
}

impl Torture {
    fn new(ring: Arc<TestRing>, c: Arc<Completions>, seed: u64, pairs: usize) -> Self {
        let (idle_read, idle_write) = pipe();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let listen_addr = listener.local_addr().unwrap();
        let listener = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
        let mut this = Self {
            ring,
            c,
            rng: Rng(seed | 1),
            pairs: Vec::with_capacity(pairs),
            pending: Vec::with_capacity(64),
            idle_read,
            _idle_write: idle_write,
            listener,
            listen_addr,
            scratch: vec![0u8; 8 * 1024],
            next_seed: seed,
            verified: 0,
            churned: 0,
        };
        for _ in 0..pairs {
            let pair = this.new_pair();
            this.pairs.push(pair);
        }
        this
    }

    fn new_pair(&mut self) -> Pair {
        let (a, b) = if self.rng.chance(50) {
            socketpair()
        } else {
            let (client, server) = tcp_pair();
            (
                Arc::new(OwnedFd::from(client)),
                Arc::new(OwnedFd::from(server)),
            )
        };
        self.next_seed = self.next_seed.wrapping_add(0x9e37_79b9);
        Pair {
            tx: SendBehind::new(&self.c, a).unwrap(),
            rx: RecvQueue::new(&self.c, b).unwrap(),
            seed: self.next_seed,
            written: 0,
            read: 0,
        }
    }

    /// One random operation. `churn` allows replacing connections (which allocates).
    fn step(&mut self, churn: bool) {
        let mut cx = noop_cx();
        let p = self.rng.range(0, self.pairs.len() - 1);
        match self.rng.range(0, 99) {
            0..=39 => {
                let pair = &mut self.pairs[p];
                let n = self.rng.range(1, self.scratch.len());
                if self.rng.chance(30) {
                    if let Poll::Ready(r) = pair.tx.poll_prepare(&mut cx) {
                        let window = r.unwrap();
                        let n = n.min(window.len());
                        fill_stream(pair.seed, pair.written, &mut window[..n]);
                        // Sometimes the writer gives the window up without committing.
                        if self.rng.chance(90) {
                            pair.tx.commit(n).unwrap();
                            pair.written += n as u64;
                        }
                    }
                } else {
                    fill_stream(pair.seed, pair.written, &mut self.scratch[..n]);
                    if let Poll::Ready(r) = pair.tx.poll_write(&mut cx, &self.scratch[..n]) {
                        pair.written += r.unwrap() as u64;
                    }
                }
            }
            40..=74 => {
                let pair = &mut self.pairs[p];
                if self.rng.chance(30) {
                    let take = self.rng.range(1, 6000);
                    if let Poll::Ready(r) = pair.rx.poll_fill(&mut cx) {
                        let window = r.unwrap();
                        let n = take.min(window.len());
                        check_stream(pair.seed, pair.read, &window[..n]);
                        pair.rx.consume(n);
                        pair.read += n as u64;
                        self.verified += n as u64;
                    }
                } else {
                    let n = self.rng.range(1, self.scratch.len());
                    if let Poll::Ready(r) = pair.rx.poll_read(&mut cx, &mut self.scratch[..n]) {
                        let got = r.unwrap();
                        assert!(got > 0);
                        check_stream(pair.seed, pair.read, &self.scratch[..got]);
                        pair.read += got as u64;
                        self.verified += got as u64;
                    }
                }
            }
            75..=84 => {
                let countdown = self.rng.range(0, 3) as u32;
                let fd = self.idle_read.clone();
                // SAFETY: a poll names only the slot's descriptor.
                let op = unsafe {
                    Op::submit(&self.c, Some(fd), (), |(), fd| {
                        opcode::PollAdd::new(types::Fd(fd), libc::POLLIN as u32).build()
                    })
                };
                self.pending.push(Pending::Poll(op.unwrap(), countdown));
            }
            85..=92 => {
                let countdown = self.rng.range(0, 2) as u32;
                // SAFETY: a NOP points at nothing.
                let op =
                    unsafe { Op::submit(&self.c, None, (), |(), _| opcode::Nop::new().build()) };
                self.pending.push(Pending::Nop(op.unwrap(), countdown));
            }
            93..=95 if churn => {
                let countdown = self.rng.range(0, 3) as u32;
                let fd = self.idle_read.clone();
                // SAFETY: the entry points into the lent Vec and names the slot's descriptor.
                let op = unsafe {
                    Op::submit(&self.c, Some(fd), vec![0u8; 256], |buf, fd| {
                        opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
                    })
                };
                self.pending.push(Pending::Read(op.unwrap(), countdown));
            }
            96..=97 if churn => {
                let countdown = self.rng.range(0, 3) as u32;
                let socket =
                    socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
                        .unwrap();
                let fd = Arc::new(OwnedFd::from(socket));
                let (addr, len) = sockaddr_of(self.listen_addr);
                // SAFETY: the entry points into the lent boxed address and names the slot's
                // descriptor.
                let op = unsafe {
                    Op::submit(&self.c, Some(fd), addr, |addr, fd| {
                        opcode::Connect::new(
                            types::Fd(fd),
                            (&**addr as *const libc::sockaddr_storage).cast(),
                            len,
                        )
                        .build()
                    })
                };
                self.pending.push(Pending::Connect(op.unwrap(), countdown));
            }
            98..=99 if churn => {
                // Drop a connection at a random point (queued buffers, a receive in
                // flight, unsent bytes) and start a fresh one.
                let fresh = self.new_pair();
                self.pairs[p] = fresh;
                self.churned += 1;
            }
            _ => {}
        }
        // Accepted connections (from the connect operations) are closed at once.
        while let Poll::Ready(fd) = self.listener.poll_accept(&mut cx) {
            drop(fd.unwrap());
        }
        // Advance every pending operation; drop those whose time is up.
        let mut i = 0;
        while i < self.pending.len() {
            let done = match &mut self.pending[i] {
                Pending::Poll(op, n) | Pending::Nop(op, n) => poll_countdown(op, n, &mut cx),
                Pending::Read(op, n) => poll_countdown(op, n, &mut cx),
                Pending::Connect(op, n) => poll_countdown(op, n, &mut cx),
            };
            if done {
                self.pending.swap_remove(i);
            } else {
                i += 1;
            }
        }
        self.ring.turn(&self.c, false);
    }

    /// Drains every stream to the last written byte, then drops everything and waits
    /// for every slot to be released.
    fn finish(mut self) -> (u64, u64) {
        self.pending.clear();
        let mut cx = noop_cx();
        let c = self.c.clone();
        let ring = self.ring.clone();
        let mut idle = 0;
        while self.pairs.iter().any(|p| p.read < p.written) {
            let mut progress = false;
            for pair in &mut self.pairs {
                if let Poll::Ready(r) = pair.rx.poll_read(&mut cx, &mut self.scratch) {
                    let got = r.unwrap();
                    check_stream(pair.seed, pair.read, &self.scratch[..got]);
                    pair.read += got as u64;
                    self.verified += got as u64;
                    progress = true;
                }
            }
            if ring.turn(&c, !progress) == 0 && !progress {
                idle += 1;
                assert!(idle < 50, "streams stalled");
            }
        }
        for pair in &mut self.pairs {
            assert_eq!(
                pair.tx.poll_flush(&mut cx).map(Result::unwrap),
                Poll::Ready(())
            );
            assert_eq!(pair.read, pair.written);
        }
        let (verified, churned) = (self.verified, self.churned);
        drop(self);
        ring.run_until(&c, || c.slots_in_use() == 0);
        (verified, churned)
    }
}

fn poll_countdown<T: Resource>(op: &mut Op<T>, countdown: &mut u32, cx: &mut Context<'_>) -> bool {
    if let Poll::Ready(Outcome { result, .. }) = Pin::new(&mut *op).poll(cx) {
        // Completed: the resource came back with the result.
        if let Err(e) = result {
            assert_eq!(
                e.raw_os_error(),
                Some(libc::ECONNREFUSED),
                "only a connect may fail: {e}"
            );
        }
        return true;
    }
    if *countdown == 0 {
        return true; // dropped in flight: cancelled, the slot keeps the resource
    }
    *countdown -= 1;
    false
}

fn torture(ops: usize) {
    let baseline = open_fds();
    let Some(ring) = TestRing::new(256) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 64,
        buf_size: 1024,
        send_capacity: 16 * 1024,
        socket_buffers: 16,
        ..Config::default()
    });
    let mut t = Torture::new(ring.clone(), c.clone(), 0x70_27_u64, 8);
    for _ in 0..ops {
        t.step(true);
    }
    let (verified, churned) = t.finish();
    let counters = c.counters();
    eprintln!("torture: {ops} operations, {verified} bytes verified, {churned} connections churned, {counters:?}, slab high-water {}", c.slot_capacity());
    assert_eq!(c.slots_in_use(), 0, "no slot leaked");
    assert_eq!(
        c.buffers_available(),
        c.buffer_entries(),
        "every buffer is back in the ring"
    );
    assert_eq!(counters.anomalies, 0);
    assert!(counters.canceled > 0 && churned > 0 && verified > 0);
    ring.unregister(&c);
    drop(c);
    drop(ring);
    assert_eq!(open_fds(), baseline, "no descriptor leaked");
}

#[test]
fn cancellation_torture() {
    if in_child("uring::tests::cancellation_torture") {
        torture(100_000);
    }
}

/// The full count; CI runs it with `--release -- --ignored`.
#[test]
#[ignore = "10^6 operations: run with --release -- --ignored"]
fn cancellation_torture_million() {
    if in_child("uring::tests::cancellation_torture_million") {
        torture(1_000_000);
    }
}

#[test]
fn steady_state_allocates_nothing_per_operation() {
    let Some(ring) = TestRing::new(256) else {
        return;
    };
    assert!(strait_conformance::counting_installed());
    // A ring large enough that it never runs dry: the overload path (spilling a
    // socket's excess out of an empty ring) allocates by design.
    let c = ring.completions(Config {
        buf_entries: 1024,
        buf_size: 1024,
        send_capacity: 16 * 1024,
        socket_buffers: 16,
        ..Config::default()
    });
    let mut t = Torture::new(ring.clone(), c.clone(), 0xa110c, 4);
    // Warm up: the slab, queues and pending list reach their high-water marks.
    for _ in 0..20_000 {
        t.step(false);
    }
    let before = strait_conformance::allocations();
    let steps = 20_000;
    for _ in 0..steps {
        t.step(false);
    }
    let allocations = strait_conformance::allocations() - before;
    assert_eq!(c.counters().spills, 0, "the ring never ran dry");
    assert_eq!(
        allocations, 0,
        "{allocations} allocations in {steps} operations"
    );
    t.finish();
}
