//! Zero-copy sends (`send_zc`): byte-exact and in order beside plain sends, the block
//! kept until the notification whatever happens to the writer or the layer, and
//! fallbacks where the kernel or the socket says no.

use std::io::Read;

use super::*;
use crate::uring::ZeroCopySupport;

/// What this kernel offers, or `None` (with a note) where it has no `SEND_ZC`.
pub(super) fn zero_copy_support() -> Option<ZeroCopySupport> {
    let ring = io_uring::IoUring::new(2).ok()?;
    let mut probe = io_uring::Probe::new();
    ring.submitter().register_probe(&mut probe).ok()?;
    if !probe.is_supported(opcode::SendZc::CODE) {
        eprintln!("skipped: no IORING_OP_SEND_ZC here");
        return None;
    }
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let mut parts = release
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|p| p.parse::<u32>().ok());
    let version = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    Some(if version >= (6, 2) {
        ZeroCopySupport::ReportsUsage
    } else {
        ZeroCopySupport::Supported
    })
}

const THRESHOLD: usize = 16 * 1024;

/// How a step hands its bytes over.
#[derive(Clone, Copy)]
enum How {
    /// `poll_write` (a direct `sendmsg` first, the rest queued).
    Write,
    /// `poll_prepare`/`commit` (a zero-copy writer: large commits skip the `sendmsg`).
    Commit,
}

/// The writing end under test and a plain non-blocking reader on the other.
struct Link {
    tx: Option<SendBehind>,
    peer: std::fs::File,
    seed: u64,
    written: u64,
    read: u64,
    scratch: Vec<u8>,
    chunk: Vec<u8>,
    /// The peer read the end of the stream.
    eof: bool,
}

impl Link {
    fn new(c: &Arc<Completions>, tx: Arc<OwnedFd>, peer: OwnedFd, seed: u64) -> Self {
        let peer = std::fs::File::from(peer);
        // SAFETY: plain fcntl on a descriptor this test owns.
        unsafe {
            let fd = peer.as_raw_fd();
            let flags = libc::fcntl(fd, libc::F_GETFL);
            assert_eq!(libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK), 0);
        }
        Self {
            tx: Some(SendBehind::new(c, tx).unwrap()),
            peer,
            seed,
            written: 0,
            read: 0,
            scratch: vec![0; 256 * 1024],
            chunk: vec![0; 256 * 1024],
            eof: false,
        }
    }

    fn tcp(c: &Arc<Completions>, seed: u64) -> Self {
        let (client, server) = tcp_pair();
        Self::new(
            c,
            Arc::new(OwnedFd::from(client)),
            OwnedFd::from(server),
            seed,
        )
    }

    fn unix(c: &Arc<Completions>, seed: u64) -> Self {
        let (a, b) = socketpair();
        Self::new(c, a, Arc::try_unwrap(b).unwrap(), seed)
    }

    /// Hands over up to `n` bytes once; how many were taken.
    fn offer(&mut self, how: How, n: usize) -> usize {
        let mut cx = noop_cx();
        let tx = self.tx.as_mut().expect("writer alive");
        let taken = match how {
            How::Write => {
                let n = n.min(self.chunk.len());
                fill_stream(self.seed, self.written, &mut self.chunk[..n]);
                match tx.poll_write(&mut cx, &self.chunk[..n]) {
                    Poll::Ready(r) => r.unwrap(),
                    Poll::Pending => 0,
                }
            }
            How::Commit => match tx.poll_prepare(&mut cx) {
                Poll::Ready(window) => {
                    let window = window.unwrap();
                    let n = n.min(window.len());
                    fill_stream(self.seed, self.written, &mut window[..n]);
                    tx.commit(n).unwrap();
                    n
                }
                Poll::Pending => 0,
            },
        };
        self.written += taken as u64;
        taken
    }

    /// Reads what the peer has; `true` when it got bytes (`eof` records the end).
    fn drain_peer(&mut self) -> bool {
        if self.eof {
            return false;
        }
        match self.peer.read(&mut self.scratch) {
            Ok(0) => {
                self.eof = true;
                false
            }
            Ok(n) => {
                check_stream(self.seed, self.read, &self.scratch[..n]);
                self.read += n as u64;
                true
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
            Err(e) => panic!("peer read: {e}"),
        }
    }

    /// Writes `len` bytes `how`, turning the ring and reading the peer until taken.
    fn write(&mut self, ring: &TestRing, c: &Completions, how: How, len: usize) {
        let mut left = len;
        let mut idle = 0;
        while left > 0 {
            let took = self.offer(how, left);
            left -= took;
            let read = self.drain_peer();
            if ring.turn(c, took == 0 && !read) == 0 && took == 0 && !read {
                idle += 1;
                assert!(idle < 50, "writes stalled");
            }
        }
    }

    /// Writes without reading until both socket buffers are full.
    fn fill_socket(&mut self, ring: &TestRing, c: &Completions) {
        let mut idle = 0;
        while idle < 3 {
            let before = self.written;
            self.offer(How::Write, 256 * 1024);
            ring.turn(c, false);
            if self.written == before {
                idle += 1;
            }
        }
    }

    /// Flushes and reads until the peer has every byte written.
    fn finish(&mut self, ring: &TestRing, c: &Completions) {
        let mut idle = 0;
        while self.read < self.written
            || self
                .tx
                .as_mut()
                .is_some_and(|tx| tx.poll_flush(&mut noop_cx()).is_pending())
        {
            let read = self.drain_peer();
            if ring.turn(c, !read) == 0 && !read {
                idle += 1;
                assert!(idle < 50, "stalled at {} of {}", self.read, self.written);
            }
        }
        assert_eq!(self.read, self.written);
    }
}

/// The plan: large commits and writes (above the threshold) between small ones.
const PLAN: &[(How, usize)] = &[
    (How::Write, 100),
    (How::Commit, 48 * 1024),
    (How::Write, 1),
    (How::Commit, 64 * 1024),
    (How::Commit, 7),
    (How::Write, 300 * 1024),
    (How::Commit, 17 * 1024),
    (How::Write, 5),
    (How::Commit, 1 << 20),
    (How::Write, 1 << 20),
    (How::Commit, 3),
    (How::Commit, 40 * 1024),
];

#[test]
fn large_zero_copy_sends_arrive_in_order_between_small_ones() {
    let Some(support) = zero_copy_support() else {
        return;
    };
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.set_zero_copy_send(Some(THRESHOLD), support);
    let mut link = Link::tcp(&c, 0x2c0);
    for _ in 0..3 {
        for &(how, len) in PLAN {
            link.write(&ring, &c, how, len);
        }
    }
    link.finish(&ring, &c);
    drop(link.tx.take());
    settle(&ring, &c);
    let counters = c.counters();
    eprintln!("zero copy: {counters:?}");
    assert!(counters.zc_sends > 0, "large commits went zero-copy");
    assert_eq!(
        counters.zc_notifications, counters.zc_sends,
        "every zero-copy send was notified before its slot went"
    );
    assert_eq!(counters.zc_fallbacks, 0);
    if support == ZeroCopySupport::ReportsUsage {
        // Loopback hands the pages to the receiving socket, which copies them.
        assert_eq!(
            counters.zc_copied, counters.zc_notifications,
            "loopback copies"
        );
    }
}

#[test]
fn without_send_zc_large_sends_stay_plain_and_count_as_fallbacks() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.set_zero_copy_send(Some(THRESHOLD), ZeroCopySupport::Unsupported);
    let mut link = Link::tcp(&c, 0xfa11);
    // With the socket full, what is committed is queued and sent by the ring.
    link.fill_socket(&ring, &c);
    for &(how, len) in PLAN {
        link.write(&ring, &c, how, len);
    }
    link.finish(&ring, &c);
    drop(link.tx.take());
    settle(&ring, &c);
    let counters = c.counters();
    assert!(counters.zc_fallbacks > 0);
    assert_eq!((counters.zc_sends, counters.zc_notifications), (0, 0));
}

#[test]
fn a_socket_that_refuses_zero_copy_gets_plain_sends() {
    let Some(support) = zero_copy_support() else {
        return;
    };
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.set_zero_copy_send(Some(THRESHOLD), support);
    // A Unix stream has no zero-copy path: its first SEND_ZC fails, the bytes go plainly.
    let mut link = Link::unix(&c, 0x0417);
    for &(how, len) in PLAN {
        link.write(&ring, &c, how, len);
    }
    link.finish(&ring, &c);
    drop(link.tx.take());
    settle(&ring, &c);
    let counters = c.counters();
    eprintln!("unix: {counters:?}");
    assert!(counters.zc_fallbacks > 0, "the refusal was counted");
    assert_eq!(counters.zc_sends, 0);
}

/// Fills the peer's receive side and the socket's send side, then queues a large
/// commit: its SEND_ZC waits in the kernel for room.
fn stuck_zero_copy_send(ring: &TestRing, c: &Arc<Completions>, seed: u64) -> Link {
    let mut link = Link::tcp(c, seed);
    link.fill_socket(ring, c);
    // Whatever else is committed waits in the kernel.
    let sends = c.counters().zc_sends;
    while link.offer(How::Commit, 64 * 1024) > 0 {}
    ring.turn(c, false);
    assert_eq!(c.counters().zc_sends, sends, "the send waits for room");
    assert!(c.in_kernel() > 0);
    link
}

#[test]
fn a_writer_dropped_mid_zero_copy_send_still_delivers() {
    let Some(support) = zero_copy_support() else {
        return;
    };
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.set_zero_copy_send(Some(THRESHOLD), support);
    let mut link = stuck_zero_copy_send(&ring, &c, 0xd80b);
    // The writer goes while its send is in the kernel: the send lingers, delivers,
    // and its block and slot (and descriptor) go only with the notification.
    drop(link.tx.take());
    let mut idle = 0;
    loop {
        let read = link.drain_peer();
        if c.slots_in_use() == 0 && !read {
            break;
        }
        if ring.turn(&c, !read) == 0 && !read {
            idle += 1;
            assert!(idle < 50, "the lingering send stalled");
        }
    }
    // The peer sees every byte, then the end (the slot closed the descriptor).
    let mut idle = 0;
    while !link.eof {
        if !link.drain_peer() && !link.eof {
            idle += 1;
            assert!(idle < 500, "no end of stream");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }
    assert_eq!(link.read, link.written);
    let counters = c.counters();
    assert!(counters.zc_sends > 0);
    assert_eq!(counters.zc_notifications, counters.zc_sends);
    settle(&ring, &c);
    ring.unregister(&c);
}

#[test]
fn shutdown_with_zero_copy_sends_in_the_kernel_waits_for_their_notifications() {
    let Some(support) = zero_copy_support() else {
        return;
    };
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.set_zero_copy_send(Some(THRESHOLD), support);
    let mut stuck = stuck_zero_copy_send(&ring, &c, 0x5407);
    // Another one whose send completed and whose notification may still be on its way.
    let mut done = Link::tcp(&c, 0x5408);
    done.offer(How::Commit, 64 * 1024);
    let mut dropped = Link::tcp(&c, 0x5409);
    dropped.offer(How::Commit, 64 * 1024);
    drop(dropped.tx.take());
    // The layer shuts down (the context goes) with all of them in the kernel. A
    // zero-copy send's notification waits until the peer acknowledged the bytes
    // queued from its block, so the peers keep reading meanwhile.
    c.shutdown();
    let mut idle = 0;
    while c.in_kernel() > 0 {
        let read = stuck.drain_peer() | done.drain_peer() | dropped.drain_peer();
        if ring.turn(&c, !read) == 0 && !read {
            idle += 1;
            assert!(idle < 50, "notifications outstanding");
        }
    }
    // Nothing more is sent; each writer hears of the end or finished.
    let stuck_result = stuck
        .tx
        .as_mut()
        .unwrap()
        .poll_flush(&mut noop_cx())
        .map(|r| r.map_err(|e| e.to_string()));
    assert!(
        matches!(&stuck_result, Poll::Ready(Err(e)) if e.contains("IoContext")),
        "{stuck_result:?}"
    );
    drop((stuck.tx.take(), done.tx.take()));
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.counters().anomalies, 0);
    assert_eq!(
        c.counters().zc_notifications,
        c.counters().zc_sends,
        "no block went before its notification"
    );
    // What reached the peers is the stream's prefix.
    while stuck.drain_peer() || done.drain_peer() || dropped.drain_peer() {}
    ring.unregister(&c);
}

/// Should the ring drop a CQE while a zero-copy send waits for its notification,
/// nobody can say whether the kernel still reads the block: the send fails and its
/// block is leaked, never reused. (LeakSanitizer reports that block: run with
/// `ASAN_OPTIONS=detect_leaks=0`.)
#[test]
fn a_lost_notification_leaks_the_block_rather_than_reuse_it() {
    let Some(support) = zero_copy_support() else {
        return;
    };
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.set_zero_copy_send(Some(THRESHOLD), support);
    let mut link = Link::tcp(&c, 0x1057);
    assert_eq!(link.offer(How::Commit, THRESHOLD), THRESHOLD);
    let mut lost = 0;
    for _ in 0..20 {
        ring.turn_losing(&c, &mut |_, _, flags| {
            let notif = io_uring::cqueue::notif(flags);
            lost += usize::from(notif);
            notif
        });
        if lost > 0 {
            break;
        }
    }
    assert_eq!(lost, 1, "the notification came and was dropped");
    c.completions_lost(); // what the host calls after EBADR
    ring.run_until(&c, || c.in_kernel() == 0);
    let tx = link.tx.as_mut().unwrap();
    let Poll::Ready(Err(e)) = tx.poll_write(&mut noop_cx(), b"more") else {
        panic!("the stream's state is unknown: it fails")
    };
    assert!(e.to_string().contains("dropped a completion"), "{e}");
    assert_eq!(
        tx.block_capacity(),
        0,
        "the block was let go of, not pooled"
    );
    drop(link.tx.take());
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.pooled_send_bytes(), 0);
    assert_eq!(c.counters().anomalies, 0);
}

/// A dropped writer's zero-copy send canceled past its linger time: the cancel ends
/// the send, not the notification, so the block and the slot stay until it came.
#[test]
fn a_canceled_lingering_zero_copy_send_keeps_its_block_until_notified() {
    let Some(support) = zero_copy_support() else {
        return;
    };
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.set_zero_copy_send(Some(THRESHOLD), support);
    c.set_linger(std::time::Duration::ZERO, 16 << 20);
    let mut link = stuck_zero_copy_send(&ring, &c, 0xca7c);
    drop(link.tx.take()); // lingers with no time left
    c.expire_lingering(); // as the host does at the deadline: canceled
    assert_eq!(c.counters().lingers_canceled, 1);
    assert!(
        c.in_kernel() > 0,
        "the send (or its notification) is still out"
    );
    let mut idle = 0;
    while c.slots_in_use() > 0 {
        let read = link.drain_peer();
        if ring.turn(&c, !read) == 0 && !read {
            idle += 1;
            assert!(idle < 50, "the canceled send never ended");
        }
    }
    while link.drain_peer() {}
    // What arrived is the stream's prefix (checked as read); nothing past the written.
    assert!(link.read <= link.written);
    let counters = c.counters();
    assert_eq!(counters.anomalies, 0);
    assert_eq!(counters.zc_notifications, counters.zc_sends);
    settle(&ring, &c);
    ring.unregister(&c);
}
