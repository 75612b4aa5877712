//! The cancellation torture and the steady-state allocation count.

use std::future::Future;
use std::pin::Pin;

use super::*;
use crate::uring::ZeroCopySupport;

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

/// The torture; with `zero_copy`, queued runs of 2 KiB and up go as `SEND_ZC` (the
/// Unix pairs refuse it and fall back), so drops and cancels also hit sends waiting
/// for their notification.
fn torture(ops: usize, zero_copy: Option<ZeroCopySupport>) {
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
    if let Some(support) = zero_copy {
        c.set_zero_copy_send(Some(2048), support);
    }
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
    if zero_copy.is_some() {
        assert!(counters.zc_sends > 0 && counters.zc_fallbacks > 0);
        assert_eq!(
            counters.zc_notifications, counters.zc_sends,
            "every zero-copy send was notified before its slot went"
        );
    }
    ring.unregister(&c);
    drop(c);
    drop(ring);
    assert_eq!(open_fds(), baseline, "no descriptor leaked");
}

#[test]
fn cancellation_torture() {
    if in_child("uring::tests::torture::cancellation_torture") {
        torture(100_000, None);
    }
}

/// The torture with zero-copy sends (a debug-sized run; the million below too).
#[test]
fn cancellation_torture_zero_copy() {
    let Some(support) = super::zero_copy::zero_copy_support() else {
        return;
    };
    if in_child("uring::tests::torture::cancellation_torture_zero_copy") {
        torture(50_000, Some(support));
    }
}

/// The full count; CI runs it with `--release -- --ignored`.
#[test]
#[ignore = "10^6 operations: run with --release -- --ignored"]
fn cancellation_torture_million() {
    if in_child("uring::tests::torture::cancellation_torture_million") {
        torture(1_000_000, None);
    }
}

/// The full count with zero-copy sends; CI runs it with `--release -- --ignored`.
#[test]
#[ignore = "10^6 operations: run with --release -- --ignored"]
fn cancellation_torture_zero_copy_million() {
    let Some(support) = super::zero_copy::zero_copy_support() else {
        return;
    };
    if in_child("uring::tests::torture::cancellation_torture_zero_copy_million") {
        torture(1_000_000, Some(support));
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
