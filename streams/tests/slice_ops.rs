//! The one-slice operations (`ReadStream::poll_read_slice`, `WriteStream::poll_write_slice`):
//! `read`/`write` with one region reach a stream's override through every forwarding
//! wrapper, several regions still go through the sequence methods, the defaults keep
//! the sequence semantics, and a stopped environment still fails the operation
//! without touching the stream.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use strait_streams::io::{FromFuturesIo, FuturesIo, MockStream};
use strait_streams::{
    block_on, is_canceled, split, with_stop_token, AnyReadStream, AnyStream, AnyWriteStream,
    BufReader, BufWriter, LocalAnyStream, ReadStream, ReadStreamExt, StopSource, WriteStream,
    WriteStreamExt,
};
use strait_vocab::{ConstBuffer, MutableBuffer};

/// Counts which entry point each operation used; reads fill with `7`.
#[derive(Default)]
struct Counting {
    read_some: usize,
    read_slice: usize,
    write_some: usize,
    write_slice: usize,
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
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn counts(c: &Counting) -> [usize; 4] {
    [c.read_some, c.read_slice, c.write_some, c.write_slice]
}

#[test]
fn one_region_reaches_the_slice_override_and_several_regions_the_sequence_method() {
    let mut c = Counting::default();
    let mut buf = [0u8; 8];
    assert_eq!(block_on(c.read(&mut buf[..])).unwrap(), 8);
    assert_eq!(buf, [7; 8]);
    assert_eq!(block_on(c.write(&b"abc"[..])).unwrap(), 3);
    assert_eq!(counts(&c), [0, 1, 0, 1]);

    let (mut x, mut y) = ([0u8; 2], [0u8; 3]);
    let mut two = [
        MutableBuffer::new(&mut x[..]),
        MutableBuffer::new(&mut y[..]),
    ];
    assert_eq!(block_on(c.read(&mut two[..])).unwrap(), 5);
    let two = [ConstBuffer::new(b"ab"), ConstBuffer::new(b"c")];
    assert_eq!(block_on(c.write(&two[..])).unwrap(), 3);
    assert_eq!(counts(&c), [1, 1, 1, 1]);
}

#[test]
fn erased_and_forwarding_wrappers_forward_the_slice_methods() {
    let mut c = Counting::default();
    let mut buf = [0u8; 4];
    block_on(AnyReadStream::borrowed(&mut c).read(&mut buf[..])).unwrap();
    block_on(AnyWriteStream::borrowed(&mut c).write(&b"x"[..])).unwrap();
    {
        let mut any = AnyStream::borrowed(&mut c);
        block_on(any.read(&mut buf[..])).unwrap();
        block_on(any.write(&b"x"[..])).unwrap();
    }
    {
        let mut local = LocalAnyStream::borrowed(&mut c);
        block_on(local.read(&mut buf[..])).unwrap();
        block_on(local.write(&b"x"[..])).unwrap();
    }
    {
        let mut by_ref = &mut c;
        block_on(ReadStreamExt::read(&mut by_ref, &mut buf[..])).unwrap();
        block_on(WriteStreamExt::write(&mut by_ref, &b"x"[..])).unwrap();
    }
    assert_eq!(counts(&c), [0, 4, 0, 4]);

    let mut boxed: Box<Counting> = Box::default();
    block_on(boxed.read(&mut buf[..])).unwrap();
    block_on(boxed.write(&b"x"[..])).unwrap();
    assert_eq!(counts(&boxed), [0, 1, 0, 1]);

    let mut pinned: Pin<Box<Counting>> = Box::pin(Counting::default());
    block_on(pinned.read(&mut buf[..])).unwrap();
    block_on(pinned.write(&b"x"[..])).unwrap();
    assert_eq!(counts(&pinned), [0, 1, 0, 1]);

    let (mut r, mut w) = split(Counting::default());
    block_on(r.read(&mut buf[..])).unwrap();
    block_on(w.write(&b"x"[..])).unwrap();
    let c = r.unsplit(w);
    assert_eq!(counts(&c), [0, 1, 0, 1]);

    // A buffered writer passes reads through.
    let mut bw = BufWriter::new(Counting::default());
    block_on(bw.read(&mut buf[..])).unwrap();
    assert_eq!(counts(bw.get_ref()), [0, 1, 0, 0]);
}

#[test]
fn the_defaults_keep_the_sequence_semantics() {
    // MockStream implements only the sequence methods.
    let mut m = MockStream::builder().read("hello").write("ok").build();
    let mut buf = [0u8; 3];
    let n = block_on(std::future::poll_fn(|cx| {
        Pin::new(&mut m).poll_read_slice(cx, &mut buf[..])
    }))
    .unwrap();
    assert_eq!((n, &buf), (3, b"hel"));
    let mut empty = [0u8; 0];
    assert_eq!(
        block_on(m.read(&mut empty[..])).unwrap(),
        0,
        "empty completes at once"
    );
    let mut rest = [0u8; 8];
    assert_eq!(block_on(m.read(&mut rest[..])).unwrap(), 2);
    assert_eq!(&rest[..2], b"lo");
    let n = block_on(std::future::poll_fn(|cx| {
        Pin::new(&mut m).poll_write_slice(cx, b"ok")
    }))
    .unwrap();
    assert_eq!(n, 2);
}

#[test]
fn a_stopped_environment_fails_one_slice_operations_without_touching_the_stream() {
    let mut c = Counting::default();
    let source = StopSource::new();
    source.request_stop();
    let mut buf = [0u8; 4];
    {
        let mut any = AnyStream::borrowed(&mut c);
        let err = block_on(with_stop_token(source.token(), any.read(&mut buf[..]))).unwrap_err();
        assert!(is_canceled(&err));
        let err = block_on(with_stop_token(source.token(), any.write(&b"x"[..]))).unwrap_err();
        assert!(is_canceled(&err));
    }
    assert_eq!(counts(&c), [0, 0, 0, 0]);
    assert_eq!(buf, [0; 4]);
}

#[test]
fn futures_io_adapters_use_the_one_slice_paths_both_ways() {
    // strait -> futures-io: `AsyncRead::poll_read` is the one-slice read.
    let mut f = FuturesIo::new(Counting::default());
    let mut buf = [0u8; 4];
    assert_eq!(
        block_on(futures_lite::AsyncReadExt::read(&mut f, &mut buf[..])).unwrap(),
        4
    );
    assert_eq!(
        block_on(futures_lite::AsyncWriteExt::write(&mut f, b"xy")).unwrap(),
        2
    );
    assert_eq!(counts(f.get_ref()), [0, 1, 0, 1]);

    // futures-io -> strait: the one-slice read and write are the object's `poll_read`
    // and `poll_write`; empty slices complete with 0.
    let mut s = FromFuturesIo::new(futures_lite::io::Cursor::new(b"abc".to_vec()));
    assert_eq!(block_on(s.read(&mut [0u8; 0][..])).unwrap(), 0);
    let mut two = [0u8; 2];
    assert_eq!(block_on(s.read(&mut two[..])).unwrap(), 2);
    assert_eq!(&two, b"ab");
    let mut out = FromFuturesIo::new(futures_lite::io::Cursor::new(Vec::new()));
    assert_eq!(block_on(out.write(&b""[..])).unwrap(), 0);
    assert_eq!(block_on(out.write(&b"hi"[..])).unwrap(), 2);
    assert_eq!(out.get_ref().get_ref(), b"hi");
}

#[test]
fn a_buffered_reader_serves_one_slice_reads_from_its_buffer_and_passes_large_ones_through() {
    // Large reads on an empty buffer go to the inner stream's one-slice read.
    let mut r = BufReader::with_capacity(1024, Counting::default());
    let mut big = [0u8; 2048];
    assert_eq!(block_on(r.read(&mut big[..])).unwrap(), 2048);
    assert_eq!(counts(r.get_ref()), [0, 1, 0, 0]);

    // Small reads fill the buffer once, then are served from it in order.
    let mut r = BufReader::with_capacity(1024, MockStream::builder().read("hello world").build());
    let (mut a, mut b, mut rest) = ([0u8; 5], [0u8; 1], [0u8; 16]);
    assert_eq!(block_on(r.read(&mut a[..])).unwrap(), 5);
    assert_eq!(block_on(r.read(&mut b[..])).unwrap(), 1);
    assert_eq!(block_on(r.read(&mut rest[..])).unwrap(), 5);
    assert_eq!((&a, &b, &rest[..5]), (b"hello", b" ", &b"world"[..]));
    assert_eq!(block_on(r.read(&mut rest[..])).unwrap(), 0, "end of stream");
    assert_eq!(block_on(r.read(&mut [0u8; 0][..])).unwrap(), 0);
}
