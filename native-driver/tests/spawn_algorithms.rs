//! Every composed algorithm is usable inside a task spawned on an `IoContext` (default
//! and single-threaded), over real TCP sockets and over `AnyStream`, with every dynamic
//! buffer; `BufReader`/`BufWriter` serve as the buffer source and sink (issue 10: the
//! futures of `read_until`/`read_to_end` once were not `Send` for all lifetimes, so
//! such spawns did not compile).

use std::future::Future;
use std::io;
use std::time::Duration;

use strait_native::{Handle, IoContext, TcpListener, TcpStream};
use strait_streams::{
    pull_from, push_to, push_to_sink, read_at_least, read_exact, read_to_end, read_until, timeout,
    when_all, write_all, AnyStream, BufReader, BufWriter, WriteStreamExt,
};
use strait_vocab::{CircularBuffer, DynamicBuffer, FlatBuffer, OwnedBuffer, VecBuffer};

/// Spawns `make()`'s future on a default context run by two threads and on a
/// single-threaded context; returns both results.
fn on_contexts<F, T>(make: impl Fn() -> F) -> [T; 2]
where
    F: Future<Output = io::Result<T>> + Send + 'static,
    T: Send + 'static,
{
    let limited = || timeout(Duration::from_secs(10), make());

    let ctx = IoContext::new().unwrap();
    let task = ctx.spawn(limited());
    std::thread::scope(|s| {
        s.spawn(|| ctx.run());
        ctx.run();
    });
    let multi = ctx.block_on(task).unwrap().unwrap();

    let ctx = IoContext::new_single_threaded().unwrap();
    let task = ctx.spawn(limited());
    ctx.run();
    let single = ctx.block_on(task).unwrap().unwrap();
    [multi, single]
}

/// A connected pair made on the context of the running task.
async fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
    let handle = Handle::current();
    let listener = TcpListener::bind(&handle, "127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let (client, (server, _)) =
        when_all((TcpStream::connect(&handle, addr), listener.accept())).await?;
    Ok((client, server))
}

/// A socket whose peer already wrote `data` and shut its side down (the peer is
/// returned too, to stay open).
async fn fed(data: &[u8]) -> io::Result<(TcpStream, TcpStream)> {
    let (mut peer, conn) = tcp_pair().await?;
    write_all(&mut peer, data).await?;
    peer.shutdown().await?;
    Ok((conn, peer))
}

/// Everything the peer of `conn` receives until end of stream.
async fn received(conn: &mut TcpStream) -> io::Result<Vec<u8>> {
    let mut got = Vec::new();
    read_to_end(conn, VecBuffer::new(&mut got, 1 << 16)).await?;
    Ok(got)
}

/// The read algorithms with every dynamic buffer, on `$wrap(socket)`.
macro_rules! reads {
    ($wrap:expr) => {
        async {
            let wrap = $wrap;
            let mut lens = Vec::new();

            let (s, _peer) = fed(b"0123456789").await?;
            let mut s = wrap(s);
            let mut head = [0u8; 2];
            lens.push(read_exact(&mut s, &mut head[..]).await?);
            let mut more = [0u8; 8];
            // At least 3; how many more arrived in the same read is up to the kernel.
            lens.push(read_at_least(&mut s, &mut more[..], 3).await?.min(3));

            // read_until: two lines, the second found already buffered.
            let (s, _peer) = fed(b"line one\nline two\n").await?;
            let mut s = wrap(s);
            let mut v = Vec::new();
            let mut vb = VecBuffer::new(&mut v, 64);
            let first = read_until(&mut s, &mut vb, b'\n').await?;
            vb.consume(first);
            lens.push(first);
            lens.push(read_until(&mut s, vb, "two\n").await?);

            let (s, _peer) = fed(b"abc\r\n").await?;
            let mut s = wrap(s);
            let mut storage = [0u8; 16];
            lens.push(read_until(&mut s, FlatBuffer::new(&mut storage), &b"\r\n"[..]).await?);

            let (s, _peer) = fed(b"ring\n").await?;
            let mut s = wrap(s);
            let mut ring = [0u8; 16];
            let mut circular = CircularBuffer::new(&mut ring);
            lens.push(read_until(&mut s, &mut circular, b'\n').await?);

            let (s, _peer) = fed(b"owned\n").await?;
            let mut s = wrap(s);
            let mut owned = OwnedBuffer::new(64);
            lens.push(read_until(&mut s, &mut owned, b'\n').await?);
            lens.push(
                read_until(&mut s, OwnedBuffer::new(64), b'x')
                    .await
                    .is_err() as usize,
            );

            // read_to_end with each buffer.
            let (s, _peer) = fed(b"0123456789").await?;
            let mut s = wrap(s);
            let mut v = Vec::new();
            lens.push(read_to_end(&mut s, VecBuffer::new(&mut v, 64)).await?);

            let (s, _peer) = fed(b"01234").await?;
            let mut s = wrap(s);
            let mut v = Vec::new();
            let mut vb = VecBuffer::new(&mut v, 64);
            lens.push(read_to_end(&mut s, &mut vb).await?);

            let (s, _peer) = fed(b"012").await?;
            let mut s = wrap(s);
            let mut storage = [0u8; 8];
            lens.push(read_to_end(&mut s, FlatBuffer::new(&mut storage)).await?);

            let (s, _peer) = fed(b"xyz").await?;
            let mut s = wrap(s);
            let mut ring = [0u8; 8];
            lens.push(read_to_end(&mut s, CircularBuffer::new(&mut ring)).await?);

            let (s, _peer) = fed(b"owned").await?;
            let mut s = wrap(s);
            let mut owned = OwnedBuffer::new(64);
            lens.push(read_to_end(&mut s, &mut owned).await?);
            lens.push(read_to_end(&mut s, OwnedBuffer::new(64)).await?);
            io::Result::Ok(lens)
        }
    };
}

const READ_LENS: [usize; 14] = [2, 3, 9, 9, 5, 5, 6, 1, 10, 5, 3, 3, 5, 0];

#[test]
fn reads_on_tcp_streams_in_spawned_tasks() {
    for lens in on_contexts(|| reads!(|s: TcpStream| s)) {
        assert_eq!(lens, READ_LENS);
    }
}

#[test]
fn reads_on_any_streams_in_spawned_tasks() {
    for lens in on_contexts(|| reads!(AnyStream::new)) {
        assert_eq!(lens, READ_LENS);
    }
}

/// `write_all`, `push_to`, `push_to_sink` and `pull_from` on `$wrap(socket)`, each
/// checked by what the peer receives.
macro_rules! writes {
    ($wrap:expr) => {
        async {
            let wrap = $wrap;
            let mut got = Vec::new();

            let (s, mut peer) = tcp_pair().await?;
            let mut s = wrap(s);
            write_all(&mut s, "written").await?;
            s.shutdown().await?;
            got.push(received(&mut peer).await?);

            // A BufReader over a fed socket is the buffer source.
            let (s, mut peer) = tcp_pair().await?;
            let mut s = wrap(s);
            let (src, _src_peer) = fed(b"pushed").await?;
            let mut source = BufReader::new(wrap(src));
            push_to(&mut source, &mut s).await?;
            s.shutdown().await?;
            got.push(received(&mut peer).await?);

            // ... and a BufWriter the sink (ended by push_to_sink).
            let (s, mut peer) = tcp_pair().await?;
            let (src, _src_peer) = fed(b"sunk").await?;
            let mut source = BufReader::new(wrap(src));
            let mut sink = BufWriter::new(wrap(s));
            push_to_sink(&mut source, &mut sink).await?;
            got.push(received(&mut peer).await?);

            let (s, mut peer) = tcp_pair().await?;
            let (src, _src_peer) = fed(b"pulled").await?;
            let mut src = wrap(src);
            let mut sink = BufWriter::new(wrap(s));
            pull_from(&mut src, &mut sink).await?;
            got.push(received(&mut peer).await?);
            io::Result::Ok(got)
        }
    };
}

const WRITTEN: [&[u8]; 4] = [b"written", b"pushed", b"sunk", b"pulled"];

#[test]
fn writes_on_tcp_streams_in_spawned_tasks() {
    for got in on_contexts(|| writes!(|s: TcpStream| s)) {
        assert_eq!(got, WRITTEN);
    }
}

#[test]
fn writes_on_any_streams_in_spawned_tasks() {
    for got in on_contexts(|| writes!(AnyStream::new)) {
        assert_eq!(got, WRITTEN);
    }
}
