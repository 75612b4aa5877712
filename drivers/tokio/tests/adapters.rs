//! The I/O adapters' own promises: a real half-close seen by a plain peer, no
//! zero-filling, vectored writes forwarded whole, and typed errors for broken contracts.

use std::io::{self, IoSlice, Read, Write};
use std::pin::Pin;
use std::task::{Context, Poll};

use strait_streams::{
    read_exact, read_to_end, write_all, ConstBuffer, MutableBuffer, ReadStream, ReadStreamExt,
    VecBuffer, WriteStream, WriteStreamExt,
};
use strait_tokio::{FromTokioIo, TcpStream, TokioIo};
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// A blocking `std` peer sees end of stream after a strait shutdown (a FIN went out)
/// and can still answer: the adapter's shutdown is `shutdown(Write)`, not a flush.
#[test]
fn shutdown_sends_a_fin_a_plain_peer_sees() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        socket.read_to_end(&mut got).unwrap(); // returns only on FIN
        socket.write_all(b"bye").unwrap();
        got
    });
    let answer = rt().block_on(async {
        let mut stream = TcpStream::connect(addr).await?;
        write_all(&mut stream, "hello").await?;
        stream.shutdown().await?;
        let mut answer = Vec::new();
        read_to_end(&mut stream, VecBuffer::new(&mut answer, 1024)).await?;
        io::Result::Ok(answer)
    });
    assert_eq!(peer.join().unwrap(), b"hello");
    assert_eq!(answer.unwrap(), b"bye");
}

/// The same through the generic adapter over tokio's `TcpStream`.
#[test]
fn generic_adapter_shutdown_sends_a_fin() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut got = Vec::new();
        socket.read_to_end(&mut got).unwrap();
        got
    });
    rt().block_on(async {
        let mut stream = FromTokioIo::new(tokio::net::TcpStream::connect(addr).await?);
        write_all(&mut stream, "x").await?;
        stream.shutdown().await?;
        let err = stream.write(&b"late"[..]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        io::Result::Ok(())
    })
    .unwrap();
    assert_eq!(peer.join().unwrap(), b"x");
}

/// A reader that zeroes what it is told is uninitialised, then writes one byte.
struct InitializingReader;

impl AsyncRead for InitializingReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        buf.initialize_unfilled();
        buf.put_slice(b"z");
        Poll::Ready(Ok(()))
    }
}

#[test]
fn reads_never_zero_the_callers_buffer() {
    let mut stream = FromTokioIo::new(InitializingReader);
    let mut buf = [0xAAu8; 16];
    let n = rt().block_on(stream.read(&mut buf[..])).unwrap();
    assert_eq!(n, 1);
    assert_eq!(buf[0], b'z');
    assert!(
        buf[1..].iter().all(|&b| b == 0xAA),
        "the adapter let the reader zero initialised bytes: {buf:?}"
    );
}

/// A reader that swaps in its own `ReadBuf` (legal Rust, a broken contract).
struct SwappingReader;

impl AsyncRead for SwappingReader {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let elsewhere: &'static mut [u8] = Box::leak(Box::new([0u8; 4]));
        *buf = ReadBuf::new(elsewhere);
        buf.put_slice(b"lost");
        Poll::Ready(Ok(()))
    }
}

#[test]
fn a_reader_that_replaces_the_buffer_gets_an_error_not_garbage() {
    let mut stream = FromTokioIo::new(SwappingReader);
    let err = rt().block_on(stream.read(&mut [0u8; 8][..])).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::Other);
}

/// A tokio writer that records how many slices each write was given.
#[derive(Default)]
struct SliceCounter {
    calls: Vec<usize>,
    vectored: bool,
}

impl AsyncWrite for SliceCounter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.calls.push(1);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.calls.push(bufs.len());
        Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
    }
    fn is_write_vectored(&self) -> bool {
        self.vectored
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn vectored_writes_reach_a_vectored_writer_whole() {
    let rt = rt();
    let bufs = [
        ConstBuffer::new(b"ab"),
        ConstBuffer::new(b""),
        ConstBuffer::new(b"cd"),
        ConstBuffer::new(b"e"),
    ];
    let mut vectored = FromTokioIo::new(SliceCounter {
        vectored: true,
        ..SliceCounter::default()
    });
    assert_eq!(rt.block_on(vectored.write(&bufs[..])).unwrap(), 5);
    assert_eq!(
        vectored.get_ref().calls,
        [3],
        "one call, empty buffer skipped"
    );
    // A writer that gains nothing from vectoring gets the first non-empty buffer.
    let mut plain = FromTokioIo::new(SliceCounter::default());
    assert_eq!(rt.block_on(plain.write(&bufs[1..])).unwrap(), 2);
    assert_eq!(plain.get_ref().calls, [1]);
}

/// A strait stream that records the buffers of each write and claims too much on read.
#[derive(Default)]
struct Recorder {
    writes: Vec<Vec<Vec<u8>>>,
    overclaim: bool,
}

impl ReadStream for Recorder {
    fn poll_read_some(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let len: usize = bufs.iter().map(|b| b.len()).sum();
        Poll::Ready(Ok(if self.overclaim { len + 1 } else { 0 }))
    }
}

impl WriteStream for Recorder {
    fn poll_write_some(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.writes
            .push(bufs.iter().map(|b| b.as_slice().to_vec()).collect());
        Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn tokio_vectored_writes_reach_the_strait_stream_whole() {
    let mut io = TokioIo::new(Recorder::default());
    assert!(io.is_write_vectored());
    let n = rt()
        .block_on(io.write_vectored(&[IoSlice::new(b"head"), IoSlice::new(b"body")]))
        .unwrap();
    assert_eq!(n, 8);
    assert_eq!(
        io.get_ref().writes,
        [vec![b"head".to_vec(), b"body".to_vec()]]
    );
}

#[test]
fn a_stream_claiming_more_than_it_was_given_is_an_error() {
    let mut io = TokioIo::new(Recorder {
        overclaim: true,
        ..Recorder::default()
    });
    let err = rt()
        .block_on(tokio::io::AsyncReadExt::read(&mut io, &mut [0u8; 8]))
        .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
}

/// Strait streams reach tokio-native code and back: `tokio::io::copy` between two
/// strait duplexes through `TokioIo`, then read with strait.
#[test]
fn tokio_copy_runs_over_strait_streams() {
    rt().block_on(async {
        let (mut src_w, src_r) = strait_streams::duplex(1024);
        let (dst_w, mut dst_r) = strait_streams::duplex(1024);
        let payload: Vec<u8> = (0..100_000u32).map(|i| i as u8).collect();
        let writer = async {
            write_all(&mut src_w, &payload[..]).await?;
            src_w.shutdown().await
        };
        let copier = async {
            let (mut from, mut to) = (TokioIo::new(src_r), TokioIo::new(dst_w));
            let n = tokio::io::copy(&mut from, &mut to).await?;
            to.shutdown().await?;
            io::Result::Ok(n)
        };
        let reader = async {
            let mut got = vec![0u8; payload.len()];
            read_exact(&mut dst_r, &mut got[..]).await?;
            io::Result::Ok(got)
        };
        let ((), copied, got) = strait_streams::when_all((writer, copier, reader))
            .await
            .unwrap();
        assert_eq!(copied, payload.len() as u64);
        assert_eq!(got, payload);
    });
}

/// Buffered readers cross over without a copy: tokio's `BufReader` as a strait
/// `BufferSource`, and strait's `BufReader` as tokio's `AsyncBufRead`.
#[test]
fn buffered_readers_lend_their_buffers_both_ways() {
    use strait_streams::{BufferSource, BufferSourceExt};
    use tokio::io::AsyncBufReadExt;
    rt().block_on(async {
        let (mut w, r) = tokio::io::duplex(64);
        w.write_all(b"line one\nrest").await.unwrap();
        let mut source = FromTokioIo::new(tokio::io::BufReader::new(r));
        assert_eq!(source.fill().await.unwrap(), 13);
        // The bytes are in tokio's buffer, lent as is.
        assert_eq!(source.get_ref().buffer(), b"line one\nrest");
        Pin::new(&mut source).consume(5);
        assert_eq!(source.get_ref().buffer(), b"one\nrest");

        let (mut a, b) = strait_streams::duplex(64);
        write_all(&mut a, "first\nsecond\n").await.unwrap();
        let mut lines = TokioIo::new(strait_streams::BufReader::new(b)).lines();
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("first"));
        assert_eq!(lines.next_line().await.unwrap().as_deref(), Some("second"));
    });
}

/// A read into several buffers is one `readv`; after a short one (the socket drained)
/// the next read waits for new data and gets it (the readiness it cleared was the old
/// edge, not the new one).
#[test]
fn vectored_reads_fill_several_buffers_and_wait_after_a_short_one() {
    rt().block_on(async {
        let listener = strait_tokio::TcpListener::bind("127.0.0.1:0").await?;
        let mut a = TcpStream::connect(listener.local_addr()?).await?;
        let (mut b, _) = listener.accept().await?;
        for round in 0..50u8 {
            let tail = [round; 7];
            let parts = [ConstBuffer::new(b"abc"), ConstBuffer::new(&tail)];
            write_all(&mut a, &parts[..]).await?;
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
            let (mut x, mut y) = ([0u8; 5], [0u8; 16]);
            let n = b
                .read(
                    &mut [
                        MutableBuffer::new(&mut x[..]),
                        MutableBuffer::new(&mut y[..]),
                    ][..],
                )
                .await?;
            assert_eq!(n, 10, "round {round}: one read takes all that arrived");
            assert_eq!(&x[..3], b"abc");
            assert_eq!(&y[..5], &[round; 5]);
        }
        io::Result::Ok(())
    })
    .unwrap();
}
