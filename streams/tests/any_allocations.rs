//! Type erasure costs no allocation per operation: a million partial read/write round
//! trips through AnyStream over the duplex pair, and steady-state loops through every
//! other Any* wrapper, allocate nothing after warm-up.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use strait_streams::{
    duplex, AnyBufferSink, AnyBufferSource, AnyReadSource, AnyReadStream, AnyStream, AnyWriteSink,
    AnyWriteStream, BufferSinkExt, BufferSource, BufferSourceExt, io::MockSink, io::MockSource,
    ReadSourceExt, ReadStreamExt, WriteSinkExt, WriteStreamExt,
};
use strait_vocab::{ConstBuffer, MutableBuffer};

struct Counting;

std::thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to `System`; the counter is a const-initialized thread-local Cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations(f: impl FnOnce()) -> usize {
    let before = ALLOCS.with(Cell::get);
    f();
    ALLOCS.with(Cell::get) - before
}

/// Polls a future that must complete without waiting.
fn now<F: Future>(f: F) -> F::Output {
    match pin!(f).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => panic!("operation unexpectedly pending"),
    }
}

#[test]
fn a_million_round_trips_through_any_stream_allocate_nothing() {
    let (a, b) = duplex(4096);
    let (mut a, mut b) = (AnyStream::new(a), AnyStream::new(b));
    let mut buf = [0u8; 64];
    let mut round = |a: &mut AnyStream<'_>, b: &mut AnyStream<'_>| {
        assert_eq!(now(a.write(&b"0123456789abcdef"[..])).unwrap(), 16);
        assert_eq!(now(b.read(&mut buf[..])).unwrap(), 16);
    };
    round(&mut a, &mut b); // warm-up
    let n = allocations(|| {
        for _ in 0..1_000_000 {
            round(&mut a, &mut b);
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn borrowed_read_and_write_streams_allocate_nothing() {
    let (mut a, mut b) = duplex(4096);
    let n = allocations(|| {
        let mut w = AnyWriteStream::borrowed(&mut a);
        let mut r = AnyReadStream::borrowed(&mut b);
        let mut buf = [0u8; 8];
        for _ in 0..100_000 {
            now(w.write("12345678")).unwrap();
            now(r.read(&mut buf[..])).unwrap();
        }
    });
    assert_eq!(n, 0, "borrowing wrappers do not even box");
}

#[test]
fn read_sources_and_write_sinks_allocate_nothing_in_steady_state() {
    let mut source = AnyReadSource::new(MockSource::new(vec![7u8; 1 << 16], 1 << 16));
    let mut sink = AnyWriteSink::new(MockSink::with_capacity(64, 1 << 20));
    let mut buf = [0u8; 64];
    let n = allocations(|| {
        for _ in 0..1000 {
            let mut bufs = [MutableBuffer::new(&mut buf)];
            assert_eq!(now(source.read_exact(&mut bufs)).unwrap(), 64);
            assert_eq!(now(sink.write_all(&[ConstBuffer::new(&buf)])).unwrap(), 64);
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn buffer_sources_and_sinks_allocate_nothing_in_steady_state() {
    let mut source = AnyBufferSource::new(MockSource::new(vec![1u8; 1 << 16], 64));
    let mut sink = AnyBufferSink::new(MockSink::with_capacity(64, 1 << 20));
    let n = allocations(|| {
        for _ in 0..1000 {
            let got = now(source.fill()).unwrap();
            std::pin::Pin::new(&mut source).consume(got);
            let room = now(sink.reserve()).unwrap();
            now(sink.commit(room.min(64))).unwrap();
            // The copying WriteSink path of AnyBufferSink.
            now(sink.write_all(&[ConstBuffer::from("copied")])).unwrap();
        }
    });
    assert_eq!(n, 0);
}

#[test]
fn buffered_reader_and_writer_allocate_nothing_per_operation() {
    use strait_streams::{BufReader, BufWriter};
    let (a, b) = duplex(1 << 16);
    let mut writer = BufWriter::with_capacity(256, a);
    let mut reader = BufReader::with_capacity(256, b);
    let mut buf = [0u8; 16];
    let n = allocations(|| {
        for _ in 0..10_000 {
            for _ in 0..8 {
                now(writer.write(&b"0123456789abcdef"[..])).unwrap();
            }
            now(WriteStreamExt::flush(&mut writer)).unwrap();
            for _ in 0..8 {
                assert_eq!(now(reader.read(&mut buf[..])).unwrap(), 16);
            }
        }
    });
    assert_eq!(n, 0, "both buffers are allocated once, at construction");
}
