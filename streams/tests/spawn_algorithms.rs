//! Every composed algorithm is usable inside a spawned (`Send`) task, with every dynamic
//! buffer, on a run loop and on a thread pool.

use std::future::Future;

use strait_streams::{
    duplex, pull_from, push_to, push_to_sink, read_at_least, read_exact, read_to_end, read_until,
    write_all, AnyStream, DuplexStream, io::MockSink, io::MockSource, RunLoop, ThreadPool,
};
use strait_vocab::{CircularBuffer, FlatBuffer, VecBuffer};

/// Spawns `make()`'s future on a run loop and on a two-thread pool; both must finish
/// with `expect`.
fn on_both<F, T>(make: impl Fn() -> F, expect: T)
where
    F: Future<Output = T> + Send + 'static,
    T: Send + std::fmt::Debug + PartialEq + 'static,
{
    let rl = RunLoop::new();
    let handle = rl.spawn(make());
    rl.run();
    assert_eq!(rl.block_on(handle).unwrap(), expect);

    let pool = ThreadPool::new(2);
    let handle = pool.executor().spawn(make());
    assert_eq!(strait_streams::block_on(handle).unwrap(), expect);
}

/// A stream whose peer already wrote `data` and shut down.
async fn fed(data: &'static [u8]) -> DuplexStream {
    let (mut a, b) = duplex(1024);
    write_all(&mut a, data).await.unwrap();
    strait_streams::WriteStreamExt::shutdown(&mut a)
        .await
        .unwrap();
    b
}

#[test]
fn read_until_with_every_dynamic_buffer() {
    on_both(
        || async {
            let mut s = fed(b"line one\nline two\n").await;
            let mut v = Vec::new();
            let mut vb = VecBuffer::new(&mut v, 64);
            let a = read_until(&mut s, &mut vb, b'\n').await.unwrap();
            strait_vocab::DynamicBuffer::consume(&mut vb, a);
            // Already buffered: found without I/O, by value this time.
            let b = read_until(&mut s, vb, "two\n").await.unwrap();
            (a, b)
        },
        (9, 9),
    );
    on_both(
        || async {
            let mut s = AnyStream::new(fed(b"abc\r\n").await);
            let mut storage = [0u8; 16];
            let n = read_until(&mut s, FlatBuffer::new(&mut storage), &b"\r\n"[..])
                .await
                .unwrap();
            let mut ring = [0u8; 16];
            let mut circular = CircularBuffer::new(&mut ring);
            let eof = read_until(&mut s, &mut circular, b'x').await.is_err();
            (n, eof)
        },
        (5, true),
    );
}

#[test]
fn read_to_end_and_reads_with_every_dynamic_buffer() {
    on_both(
        || async {
            let mut s = fed(b"0123456789").await;
            let mut head = [0u8; 2];
            let a = read_exact(&mut s, &mut head[..]).await.unwrap();
            let mut more = [0u8; 8];
            let b = read_at_least(&mut s, &mut more[..], 3).await.unwrap();
            let mut v = Vec::new();
            let c = read_to_end(&mut s, VecBuffer::new(&mut v, 64))
                .await
                .unwrap();
            let mut storage = [0u8; 8];
            let d = read_to_end(&mut s, FlatBuffer::new(&mut storage))
                .await
                .unwrap();
            a + b + c + d
        },
        10,
    );
    on_both(
        || async {
            let mut s = AnyStream::new(fed(b"xyz").await);
            let mut ring = [0u8; 8];
            read_to_end(&mut s, CircularBuffer::new(&mut ring))
                .await
                .unwrap()
        },
        3,
    );
}

#[test]
fn pushes_and_pulls() {
    on_both(
        || async {
            let (mut a, mut b) = duplex(1 << 16);
            let mut source = MockSource::new(b"pushed".to_vec(), 4);
            let n = push_to(&mut source, &mut a).await.unwrap();
            let mut sink = MockSink::new(5);
            let mut source = MockSource::new(b"sunk".to_vec(), 3);
            let m = push_to_sink(&mut source, &mut sink).await.unwrap();
            strait_streams::WriteStreamExt::shutdown(&mut a)
                .await
                .unwrap();
            let mut sink = MockSink::new(5);
            let k = pull_from(&mut b, &mut sink).await.unwrap();
            (n, m, k)
        },
        (6, 4, 6),
    );
}
