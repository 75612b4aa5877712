//! The kit can fail: deliberately broken transports and executors, each caught by at
//! least one named case, and the same wrapper without a fault passes every case.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::task::{Context, Poll, Waker};
use std::thread::Thread;
use std::time::{Duration, Instant};

use strait_conformance::{stream_pair, ExecutorFactory, Outcome, SinkFactory, StreamPairFactory};
use strait_streams::{
    duplex, AnyExecutor, BufferSink, DuplexStream, Executor, io::MockSink, ReadStream, Runnable,
    io::WriteBufs, WriteSink, WriteStream,
};
use strait_vocab::{ConstBuffer, MutableBuffer, MutableWindow};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

/// What a broken transport does wrong.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fault {
    /// Nothing: the wrapper alone, which must pass.
    None,
    /// Reports the 100th byte written but never sends it.
    DropsAByte,
    /// Delivers the 100th byte read twice.
    DuplicatesAByte,
    /// Reports end of stream on the read after 50 bytes, though data remains.
    EarlyEof,
    /// Blocks inside `poll_read_some` (up to 1 s) waiting for data, so a stop is seen late.
    BlocksInPoll,
    /// Allocates on every operation.
    AllocatesPerOp,
    /// Has a helper thread (a "reactor") allocate for every write.
    AllocatesOnHelperThread,
    /// Wakes a pending read when the peer writes, but not when the peer shuts down or
    /// is dropped.
    NeverWakesOnClose,
    /// Holds written bytes (up to 4 KiB) until shutdown; its flush does nothing.
    FlushDoesNothing,
    /// Fails a write after shutdown with `ErrorKind::Other` instead of `BrokenPipe`.
    WrongErrorKind,
}

/// The read waker of one end, which the other end's writes wake.
type ReadWaker = Arc<Mutex<Option<Waker>>>;

/// How much [`Fault::FlushDoesNothing`] holds.
const HOLD: usize = 4096;

struct Broken {
    inner: DuplexStream,
    fault: Fault,
    written: u64,
    read: u64,
    eof_sent: bool,
    /// A duplicated byte waiting to be delivered again.
    again: Option<u8>,
    /// (this end's read waker, the peer's read waker), for `NeverWakesOnClose`.
    wakers: (ReadWaker, ReadWaker),
    /// Bytes reported written but not sent, for `FlushDoesNothing`.
    held: Vec<u8>,
    shut: bool,
}

impl Broken {
    /// Sends held bytes until fewer than `keep` remain.
    fn poll_deliver(&mut self, cx: &mut Context<'_>, keep: usize) -> Poll<io::Result<()>> {
        while self.held.len() > keep {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write_some(cx, &[ConstBuffer::new(&self.held)])
            )?;
            self.held.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

/// A "reactor" thread that does part of every write, and allocates while doing it.
fn allocating_helper() -> &'static Thread {
    static HELPER: OnceLock<Thread> = OnceLock::new();
    HELPER.get_or_init(|| {
        std::thread::spawn(|| loop {
            std::thread::park();
            while HELPER_DONE.load(Ordering::Acquire) < HELPER_WORK.load(Ordering::Acquire) {
                drop(std::hint::black_box(Box::new([0u8; 32])));
                HELPER_DONE.fetch_add(1, Ordering::Release);
            }
        })
        .thread()
        .clone()
    })
}

static HELPER_WORK: AtomicU64 = AtomicU64::new(0);
static HELPER_DONE: AtomicU64 = AtomicU64::new(0);

/// Hands one unit of work to the helper and waits until it is done.
fn helper_does_part_of_the_write() {
    let target = HELPER_WORK.fetch_add(1, Ordering::AcqRel) + 1;
    allocating_helper().unpark();
    while HELPER_DONE.load(Ordering::Acquire) < target {
        std::thread::yield_now();
    }
}

impl ReadStream for Broken {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(first) = bufs.iter_mut().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        let first = first.as_mut_slice();
        match this.fault {
            Fault::DuplicatesAByte => {
                if let Some(b) = this.again.take() {
                    first[0] = b;
                    return Poll::Ready(Ok(1));
                }
                let one = &mut first[..1];
                let r =
                    Pin::new(&mut this.inner).poll_read_some(cx, &mut [MutableBuffer::new(one)]);
                if let Poll::Ready(Ok(1)) = r {
                    this.read += 1;
                    if this.read == 100 {
                        this.again = Some(first[0]);
                    }
                }
                r
            }
            Fault::EarlyEof => {
                if this.read >= 50 && !this.eof_sent {
                    this.eof_sent = true;
                    return Poll::Ready(Ok(0));
                }
                let r =
                    Pin::new(&mut this.inner).poll_read_some(cx, &mut [MutableBuffer::new(first)]);
                if let Poll::Ready(Ok(n)) = r {
                    this.read += n as u64;
                }
                r
            }
            Fault::BlocksInPoll => {
                let until = Instant::now() + Duration::from_secs(1);
                while Instant::now() < until {
                    let mut noop = Context::from_waker(Waker::noop());
                    match Pin::new(&mut this.inner)
                        .poll_read_some(&mut noop, &mut [MutableBuffer::new(&mut *first)])
                    {
                        Poll::Pending => std::thread::sleep(Duration::from_millis(5)),
                        done => return done,
                    }
                }
                Pin::new(&mut this.inner).poll_read_some(cx, &mut [MutableBuffer::new(first)])
            }
            Fault::AllocatesPerOp => {
                drop(std::hint::black_box(Box::new([0u8; 32])));
                Pin::new(&mut this.inner).poll_read_some(cx, &mut [MutableBuffer::new(first)])
            }
            Fault::NeverWakesOnClose => {
                // The inner stream's own wake-ups are dropped; only the peer's writes
                // wake this read (through `wakers`).
                let mut noop = Context::from_waker(Waker::noop());
                let mut bufs = [MutableBuffer::new(first)];
                if let Poll::Ready(r) =
                    Pin::new(&mut this.inner).poll_read_some(&mut noop, &mut bufs)
                {
                    return Poll::Ready(r);
                }
                *this.wakers.0.lock().unwrap() = Some(cx.waker().clone());
                // Data may have arrived before the waker was stored.
                Pin::new(&mut this.inner).poll_read_some(&mut noop, &mut bufs)
            }
            _ => Pin::new(&mut this.inner).poll_read_some(cx, &mut [MutableBuffer::new(first)]),
        }
    }
}

impl WriteStream for Broken {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(first) = bufs.iter().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        let r = match this.fault {
            Fault::DropsAByte if this.written < 100 && this.written + first.len() as u64 >= 100 => {
                // Send everything before the 100th byte, then claim the 100th too.
                let before = (99 - this.written) as usize;
                if before > 0 {
                    Pin::new(&mut this.inner)
                        .poll_write_some(cx, &[ConstBuffer::new(&first[..before])])
                } else {
                    Poll::Ready(Ok(1)) // the byte vanishes
                }
            }
            Fault::AllocatesPerOp => {
                drop(std::hint::black_box(Box::new([0u8; 32])));
                Pin::new(&mut this.inner).poll_write_some(cx, bufs)
            }
            Fault::AllocatesOnHelperThread => {
                helper_does_part_of_the_write();
                Pin::new(&mut this.inner).poll_write_some(cx, bufs)
            }
            Fault::FlushDoesNothing => {
                std::task::ready!(this.poll_deliver(cx, HOLD - 1))?;
                let n = first.len().min(HOLD - this.held.len());
                this.held.extend_from_slice(&first[..n]);
                Poll::Ready(Ok(n))
            }
            Fault::WrongErrorKind if this.shut => Poll::Ready(Err(io::Error::other("closed"))),
            _ => Pin::new(&mut this.inner).poll_write_some(cx, &[*first]),
        };
        if let Poll::Ready(Ok(n)) = r {
            this.written += n as u64;
            if let Some(w) = this.wakers.1.lock().unwrap().take() {
                w.wake();
            }
        }
        r
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_deliver(cx, 0))?;
        std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
        this.shut = true;
        Poll::Ready(Ok(()))
    }
}

struct BrokenPair {
    fault: Fault,
    exception: Option<&'static str>,
}

fn broken(fault: Fault) -> BrokenPair {
    BrokenPair {
        fault,
        exception: None,
    }
}

impl StreamPairFactory for BrokenPair {
    type Stream = Broken;
    fn pair(&self) -> (Broken, Broken) {
        let (a, b) = duplex(64 * 1024);
        let (wa, wb) = (ReadWaker::default(), ReadWaker::default());
        let wrap = |inner, wakers| Broken {
            inner,
            fault: self.fault,
            written: 0,
            read: 0,
            eof_sent: false,
            again: None,
            wakers,
            held: Vec::with_capacity(HOLD),
            shut: false,
        };
        (wrap(a, (wa.clone(), wb.clone())), wrap(b, (wb, wa)))
    }
    fn large_transfer_bytes(&self) -> u64 {
        1 << 20
    }
    fn prompt(&self) -> Duration {
        Duration::from_millis(200)
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        self.exception
    }
}

/// Runs `case` on the broken transport, requires it to fail, and returns why.
fn assert_caught(fault: Fault, case: &str) -> String {
    match stream_pair::run_case(&broken(fault), case) {
        Outcome::Failed(why) => {
            eprintln!("{fault:?} caught by {case}: {why}");
            why
        }
        other => panic!("{fault:?} was not caught by {case}: {other:?}"),
    }
}

#[test]
fn a_transport_that_drops_a_byte_is_caught() {
    assert_caught(Fault::DropsAByte, "large_transfer_both_directions");
    assert_caught(Fault::DropsAByte, "one_byte_reads_reassemble");
}

#[test]
fn a_transport_that_duplicates_a_byte_is_caught() {
    assert_caught(Fault::DuplicatesAByte, "large_transfer_both_directions");
    assert_caught(Fault::DuplicatesAByte, "one_byte_reads_reassemble");
}

#[test]
fn a_transport_that_reports_end_of_stream_early_is_caught() {
    assert_caught(Fault::EarlyEof, "one_byte_reads_reassemble");
    assert_caught(Fault::EarlyEof, "large_transfer_both_directions");
}

#[test]
fn a_transport_that_blocks_in_poll_is_caught() {
    assert_caught(Fault::BlocksInPoll, "stop_cancels_pending_read");
}

#[test]
fn a_transport_that_allocates_per_operation_is_caught() {
    assert_caught(Fault::AllocatesPerOp, "no_allocation_per_operation");
}

#[test]
fn allocations_on_another_thread_are_caught() {
    let why = assert_caught(
        Fault::AllocatesOnHelperThread,
        "no_allocation_per_operation",
    );
    assert!(why.contains("all threads"), "{why}");
}

#[test]
fn a_documented_allocation_exception_is_noted_with_the_count() {
    let factory = BrokenPair {
        fault: Fault::AllocatesPerOp,
        exception: Some("allocates one buffer per record by design"),
    };
    match stream_pair::run_case(&factory, "no_allocation_per_operation") {
        Outcome::Noted(note) => {
            // Two operations per round trip, one allocation each.
            assert!(note.starts_with("2000 allocations in 1000"), "{note}");
            assert!(note.contains("per record by design"), "{note}");
        }
        other => panic!("expected a note, got {other:?}"),
    }
    let report = stream_pair::run(&factory);
    assert!(report.passed(), "a noted case fails no report: {report}");
    assert_eq!(report.notes().len(), 1, "{report}");
}

#[test]
fn a_pending_read_never_woken_on_close_is_caught() {
    for case in [
        "pending_read_ends_on_peer_shutdown",
        "pending_read_ends_on_peer_drop",
    ] {
        let why = assert_caught(Fault::NeverWakesOnClose, case);
        assert!(
            why.contains("hung in step `pending read after the peer closed`"),
            "{why}"
        );
    }
}

#[test]
fn a_flush_that_leaves_bytes_behind_is_caught() {
    let why = assert_caught(
        Fault::FlushDoesNothing,
        "flushed_bytes_arrive_without_shutdown",
    );
    assert!(
        why.contains("hung in step `read the flushed bytes`"),
        "{why}"
    );
}

#[test]
fn a_wrong_error_kind_is_caught() {
    let why = assert_caught(Fault::WrongErrorKind, "write_after_shutdown_fails");
    assert!(
        why.contains("must fail with BrokenPipe, got Other"),
        "{why}"
    );
}

#[test]
fn the_wrapper_without_a_fault_passes_every_case() {
    // The cases above fail for the fault, not for the wrapper.
    let report = stream_pair::run(&broken(Fault::None));
    assert!(report.passed(), "{report}");
    assert!(report.notes().is_empty() && report.failures().is_empty());
}

#[test]
fn each_fault_passes_the_cases_meant_for_the_others() {
    // A fault is caught by the case for its rule, not by accident of the harness: the
    // transports that break one rule keep the rules they do not break.
    for (fault, case) in [
        (Fault::NeverWakesOnClose, "round_trip"),
        (Fault::NeverWakesOnClose, "end_of_stream_after_shutdown"),
        (Fault::NeverWakesOnClose, "peer_drop_ends_reads"),
        (Fault::FlushDoesNothing, "end_of_stream_after_shutdown"),
        (Fault::FlushDoesNothing, "dropped_write_duplicates_nothing"),
        (Fault::WrongErrorKind, "round_trip"),
        (Fault::WrongErrorKind, "write_to_dropped_peer_fails"),
        (
            Fault::AllocatesOnHelperThread,
            "large_transfer_both_directions",
        ),
    ] {
        let outcome = stream_pair::run_case(&broken(fault), case);
        assert_eq!(outcome, Outcome::Passed, "{fault:?} in {case}");
    }
}

/// An executor that runs posted tasks inline: forbidden.
struct InlineExecutor;

impl Executor for InlineExecutor {
    fn post(&self, task: Runnable) {
        task.run();
    }
}

struct Inline;

impl ExecutorFactory for Inline {
    fn executor(&self) -> AnyExecutor {
        AnyExecutor::new(InlineExecutor)
    }
    fn run_until_idle(&self, _executor: &AnyExecutor) {}
}

#[test]
fn an_executor_that_runs_posted_tasks_inline_is_caught() {
    match strait_conformance::executor::run_case(&Inline, "post_never_runs_inline") {
        Outcome::Failed(why) => assert!(why.contains("ran inside the post call"), "{why}"),
        other => panic!("inline execution was not caught: {other:?}"),
    }
}

/// A sink that fails a write after its end with `ErrorKind::Other`, not `BrokenPipe`.
struct WrongKindSink {
    inner: MockSink,
    ended: bool,
}

impl WriteSink for WrongKindSink {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        if self.ended {
            return Poll::Ready(Err(io::Error::other("ended")));
        }
        Pin::new(&mut self.inner).poll_write(cx, bufs)
    }
    fn poll_write_eof(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        std::task::ready!(Pin::new(&mut self.inner).poll_write_eof(cx, bufs))?;
        self.ended = true;
        Poll::Ready(Ok(()))
    }
}

impl BufferSink for WrongKindSink {
    fn poll_prepare<'s>(
        self: Pin<&'s mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<MutableWindow<'s>>> {
        Pin::new(&mut self.get_mut().inner).poll_prepare(cx)
    }
    fn poll_commit(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_commit(cx, n)
    }
    fn poll_commit_eof(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_commit_eof(cx, n)
    }
}

struct WrongKindSinks;

impl SinkFactory for WrongKindSinks {
    type Sink = WrongKindSink;
    fn sink(&self) -> WrongKindSink {
        WrongKindSink {
            inner: MockSink::new(16),
            ended: false,
        }
    }
    fn written(&self, sink: &WrongKindSink) -> Vec<u8> {
        sink.inner.data().to_vec()
    }
    fn ended(&self, sink: &WrongKindSink) -> bool {
        sink.inner.eof_called()
    }
}

#[test]
fn a_sink_with_the_wrong_error_kind_after_its_end_is_caught() {
    match strait_conformance::sources::run_sink_case(&WrongKindSinks, "write_after_eof_fails") {
        Outcome::Failed(why) => assert!(why.contains("must fail with BrokenPipe"), "{why}"),
        other => panic!("the wrong error kind was not caught: {other:?}"),
    }
}
