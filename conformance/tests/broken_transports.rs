//! The kit can fail: deliberately broken transports and executors, each caught by at
//! least one named case.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use strait_conformance::{stream_pair, ExecutorFactory, Outcome, StreamPairFactory};
use strait_streams::{
    duplex, AnyExecutor, DuplexStream, Executor, ReadStream, Runnable, WriteStream,
};
use strait_vocab::{ConstBuffer, MutableBuffer};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

/// What a broken transport does wrong.
#[derive(Clone, Copy, Debug)]
enum Fault {
    /// Reports the 100th byte written but never sends it.
    DropsAByte,
    /// Delivers the 100th byte read twice.
    DuplicatesAByte,
    /// Reports end of stream on the read after 50 bytes, though data remains.
    EarlyEof,
    /// Blocks inside `poll_read_some` until data arrives, so nothing can cancel it.
    IgnoresStop,
    /// Allocates on every operation.
    AllocatesPerOp,
}

struct Broken {
    inner: DuplexStream,
    fault: Fault,
    written: u64,
    read: u64,
    eof_sent: bool,
    /// A duplicated byte waiting to be delivered again.
    again: Option<u8>,
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
            Fault::IgnoresStop => loop {
                let mut noop = Context::from_waker(Waker::noop());
                match Pin::new(&mut this.inner)
                    .poll_read_some(&mut noop, &mut [MutableBuffer::new(&mut *first)])
                {
                    Poll::Pending => std::thread::sleep(std::time::Duration::from_millis(5)),
                    done => return done,
                }
            },
            Fault::AllocatesPerOp => {
                drop(std::hint::black_box(Box::new([0u8; 32])));
                Pin::new(&mut this.inner).poll_read_some(cx, &mut [MutableBuffer::new(first)])
            }
            Fault::DropsAByte => {
                Pin::new(&mut this.inner).poll_read_some(cx, &mut [MutableBuffer::new(first)])
            }
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
        match this.fault {
            Fault::DropsAByte if this.written < 100 && this.written + first.len() as u64 >= 100 => {
                // Send everything before the 100th byte, then claim the 100th too.
                let before = (99 - this.written) as usize;
                if before > 0 {
                    let r = Pin::new(&mut this.inner)
                        .poll_write_some(cx, &[ConstBuffer::new(&first[..before])]);
                    if let Poll::Ready(Ok(n)) = r {
                        this.written += n as u64;
                    }
                    return r;
                }
                this.written += 1;
                Poll::Ready(Ok(1)) // the byte vanishes
            }
            Fault::AllocatesPerOp => {
                drop(std::hint::black_box(Box::new([0u8; 32])));
                Pin::new(&mut this.inner).poll_write_some(cx, bufs)
            }
            _ => {
                let r = Pin::new(&mut this.inner).poll_write_some(cx, &[*first]);
                if let Poll::Ready(Ok(n)) = r {
                    this.written += n as u64;
                }
                r
            }
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

struct BrokenPair(Fault);

impl StreamPairFactory for BrokenPair {
    type Stream = Broken;
    fn pair(&self) -> (Broken, Broken) {
        let (a, b) = duplex(64 * 1024);
        let wrap = |inner| Broken {
            inner,
            fault: self.0,
            written: 0,
            read: 0,
            eof_sent: false,
            again: None,
        };
        (wrap(a), wrap(b))
    }
    fn large_transfer_bytes(&self) -> u64 {
        1 << 20
    }
    fn prompt(&self) -> std::time::Duration {
        std::time::Duration::from_millis(200)
    }
}

fn assert_caught(fault: Fault, case: &str) {
    match stream_pair::run_case(&BrokenPair(fault), case) {
        Outcome::Failed(why) => eprintln!("{fault:?} caught by {case}: {why}"),
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
fn a_transport_that_ignores_the_stop_token_is_caught() {
    assert_caught(Fault::IgnoresStop, "stop_cancels_pending_read");
}

#[test]
fn a_transport_that_allocates_per_operation_is_caught() {
    assert_caught(Fault::AllocatesPerOp, "no_allocation_per_operation");
}

#[test]
fn a_correct_transport_passes_the_cases_that_catch_the_broken_ones() {
    // The same wrapper with a harmless fault setting on the read side only: it must
    // pass, so the cases above fail for the fault, not for the wrapper.
    for case in [
        "large_transfer_both_directions",
        "one_byte_reads_reassemble",
    ] {
        let outcome = stream_pair::run_case(&BrokenPair(Fault::AllocatesPerOp), case);
        assert_eq!(outcome, Outcome::Passed, "{case}");
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
