//! The one-slice operations through the kit: the fault injectors apply their faults to
//! `poll_read_slice`/`poll_write_slice` and pass them on as one-slice calls (so the
//! wrapped stream's override is what the faults land on), and `slice_parity` holds on
//! an in-memory pipe, bare and under the injectors.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use strait_conformance::faults::{ChunkLimit, FailPlan, Latency, PendingEvery};
use strait_conformance::{assert_outcome, slice_parity, StreamPairFactory};
use strait_streams::{
    block_on, duplex, is_canceled, with_stop_token, AnyStream, DuplexStream, ReadStream,
    ReadStreamExt, StopSource, WriteStream, WriteStreamExt,
};
use strait_vocab::{ConstBuffer, MutableBuffer};

/// Counts which entry point each operation used; reads fill with `7`.
#[derive(Default)]
struct Counting {
    read_some: usize,
    read_slice: usize,
    write_some: usize,
    write_slice: usize,
    /// Length of the last buffer a one-slice call was given.
    last_len: usize,
}

impl ReadStream for Counting {
    fn poll_read_some(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.read_some += 1;
        let mut n = 0;
        for b in bufs.iter_mut() {
            b.as_mut_slice().fill(7);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_read_slice(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.read_slice += 1;
        self.last_len = buf.len();
        buf.fill(7);
        Poll::Ready(Ok(buf.len()))
    }
}

impl WriteStream for Counting {
    fn poll_write_some(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.write_some += 1;
        Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
    }

    fn poll_write_slice(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.write_slice += 1;
        self.last_len = buf.len();
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn counts(c: &Counting) -> [usize; 4] {
    [c.read_some, c.read_slice, c.write_some, c.write_slice]
}

/// One read and one write of 8 bytes through `AnyStream`.
fn one_of_each<S: ReadStream + WriteStream + Unpin + Send>(s: &mut S) -> (usize, usize) {
    let mut any = AnyStream::borrowed(s);
    let mut buf = [0u8; 8];
    let r = block_on(any.read(&mut buf[..])).unwrap();
    let w = block_on(any.write(&b"12345678"[..])).unwrap();
    (r, w)
}

#[test]
fn chunk_limit_passes_a_limited_slice_to_the_inner_one_slice_methods() {
    let mut inner = Counting::default();
    let mut s = ChunkLimit::new(&mut inner, 3);
    assert_eq!(one_of_each(&mut s), (3, 3));
    assert_eq!(counts(&inner), [0, 1, 0, 1]);
    assert_eq!(inner.last_len, 3);
}

#[test]
fn pending_every_alternates_on_one_slice_operations_and_forwards_them() {
    let mut inner = Counting::default();
    let mut s = PendingEvery::new(&mut inner);
    let mut buf = [0u8; 4];
    let mut first = true;
    let n = block_on(std::future::poll_fn(|cx| {
        let r = Pin::new(&mut s).poll_read_slice(cx, &mut buf[..]);
        if first {
            assert!(r.is_pending(), "the first read is held back");
            first = false;
        }
        r
    }))
    .unwrap();
    assert_eq!(n, 4);
    // Empty buffers are not held back.
    let n = block_on(std::future::poll_fn(|cx| {
        Poll::Ready(Pin::new(&mut s).poll_write_slice(cx, &[]))
    }));
    assert!(matches!(n, Poll::Ready(Ok(0))), "{n:?}");
    assert_eq!(counts(&inner), [0, 1, 0, 1]);
}

#[test]
fn fail_at_counts_one_slice_operations_like_sequence_ones() {
    let plan = FailPlan::fail_at(1, io::ErrorKind::ConnectionReset);
    let mut inner = Counting::default();
    let mut s = plan.wrap(&mut inner);
    let mut any = AnyStream::borrowed(&mut s);
    let mut buf = [0u8; 4];
    assert_eq!(block_on(any.read(&mut buf[..])).unwrap(), 4);
    let err = block_on(any.write(&b"x"[..])).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(block_on(any.write(&b"xy"[..])).unwrap(), 2);
    assert_eq!(plan.operations(), 3);
    drop(any);
    assert_eq!(
        counts(&inner),
        [0, 1, 0, 1],
        "the failed write never reached the stream"
    );
}

#[test]
fn fault_injectors_do_not_touch_the_stream_in_a_stopped_environment() {
    let source = StopSource::new();
    source.request_stop();
    let mut inner = Counting::default();
    let mut s = ChunkLimit::new(PendingEvery::new(&mut inner), 2);
    let mut any = AnyStream::borrowed(&mut s);
    let mut buf = [0u8; 4];
    let err = block_on(with_stop_token(source.token(), any.read(&mut buf[..]))).unwrap_err();
    assert!(is_canceled(&err));
    let err = block_on(with_stop_token(source.token(), any.write(&b"x"[..]))).unwrap_err();
    assert!(is_canceled(&err));
    drop(any);
    assert_eq!(buf, [0; 4]);
    assert_eq!(counts(&inner), [0, 0, 0, 0]);
}

struct Pipes;
impl StreamPairFactory for Pipes {
    type Stream = DuplexStream;
    fn pair(&self) -> (DuplexStream, DuplexStream) {
        duplex(64)
    }
}

/// The pipe under every injector: chunks of 3, `Pending` every other operation, 1 ms
/// of latency.
struct FaultyPipes;
impl StreamPairFactory for FaultyPipes {
    type Stream = Latency<PendingEvery<ChunkLimit<DuplexStream>>>;
    fn pair(&self) -> (Self::Stream, Self::Stream) {
        let (a, b) = duplex(64);
        let wrap = |s| {
            Latency::new(
                PendingEvery::new(ChunkLimit::new(s, 3)),
                Duration::from_millis(1),
            )
        };
        (wrap(a), wrap(b))
    }
}

#[test]
fn slice_parity_on_a_pipe() {
    assert_outcome("slice_parity", slice_parity::run(&Pipes));
}

#[test]
fn slice_parity_under_the_fault_injectors() {
    assert_outcome("slice_parity", slice_parity::run(&FaultyPipes));
}
