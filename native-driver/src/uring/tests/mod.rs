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

mod direct;
mod footprint;
mod lifecycle;
mod overload;
mod streams;
mod teardown;
mod torture;
mod zero_copy;

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

/// A waker that counts its wakes.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

impl Count {
    fn new() -> (Arc<Self>, Waker) {
        let count = Arc::new(Self(AtomicUsize::new(0)));
        let waker = Waker::from(count.clone());
        (count, waker)
    }
    fn get(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
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
        .expect_err("not a power of two");
        assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    }
}

#[test]
fn a_cqe_naming_a_held_buffer_neither_returns_nor_queues_it() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config {
        buf_entries: 4,
        buf_size: 64,
        ..Config::default()
    });
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let mut peer = std::fs::File::from(Arc::try_unwrap(a).unwrap());
    peer.write_all(b"x").unwrap();
    ring.run_until(&c, || rx.queued() == 1);
    let bid = (0..4u16)
        .find(|&bid| c.lock().bufs.is_held(bid))
        .expect("the queued buffer is held");
    let buffer = 1 | (u32::from(bid) << 16); // IORING_CQE_F_BUFFER
                                             // A stale slot's CQE naming it: the live queue keeps it, the ring does not get it.
    c.complete(op_user_data(1000, 0), 1, buffer);
    assert_eq!(c.buffers_available(), 3);
    // The live receive's CQE naming it again: not queued twice.
    c.complete(op_user_data(0, 0), 1, buffer | 2); // IORING_CQE_F_MORE
    assert_eq!((rx.queued(), c.buffers_available()), (1, 3));
    assert_eq!(c.counters().anomalies, 2);
    let mut buf = [0u8; 8];
    assert_eq!(
        rx.poll_read(&mut noop_cx(), &mut buf).map(Result::unwrap),
        Poll::Ready(1)
    );
    assert_eq!(buf[0], b'x');
    assert!(rx.poll_read(&mut noop_cx(), &mut buf).is_pending());
    assert_eq!(c.buffers_available(), 4);
    drop((rx, peer));
    ring.run_until(&c, || c.slots_in_use() == 0);
}

#[test]
fn slots_are_recycled_with_new_generations() {
    let mut slab = ops::Slab::default();
    let a = slab.insert(
        ops::Body::Oneshot(Keep::None, io_uring::opcode::Nop::new().build()),
        None,
    );
    let b = slab.insert(
        ops::Body::Oneshot(Keep::None, io_uring::opcode::Nop::new().build()),
        None,
    );
    assert_eq!((a.index, b.index, slab.in_use()), (0, 1, 2));
    slab.remove(a);
    assert!(slab.get_mut(a).is_none(), "a freed key finds nothing");
    let c = slab.insert(
        ops::Body::Oneshot(Keep::None, io_uring::opcode::Nop::new().build()),
        None,
    );
    assert_eq!(c.index, 0);
    assert_ne!(c.generation, a.generation);
    assert!(
        slab.get_mut(a).is_none(),
        "a stale key does not find the new slot"
    );
    assert!(slab.get_mut(c).is_some());
    assert_eq!((slab.in_use(), slab.capacity()), (2, 2));
}
