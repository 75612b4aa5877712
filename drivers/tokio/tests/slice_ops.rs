//! The tokio adapters route one-slice operations (`poll_read_slice`/`poll_write_slice`)
//! to tokio's one-buffer calls. That they give what the sequence path gives is the
//! stream-pair suite's `one_slice_matches_sequence` case (`tests/conformance.rs`).

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use strait_streams::{
    AnyStream, ConstBuffer, MutableBuffer, ReadStream, ReadStreamExt, WriteStream, WriteStreamExt,
};
use strait_tokio::{FromTokioIo, TokioIo};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

fn block_on<F: Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

/// Which tokio write entry point the adapter used.
#[derive(Default, Debug, PartialEq)]
struct Calls {
    write: usize,
    write_vectored: usize,
}

/// A vectored-capable tokio writer that records its calls and keeps the bytes.
#[derive(Default)]
struct Recorder {
    calls: Arc<Mutex<Calls>>,
    bytes: Vec<u8>,
}

impl AsyncWrite for Recorder {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.calls.lock().unwrap().write += 1;
        self.bytes.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.calls.lock().unwrap().write_vectored += 1;
        let mut n = 0;
        for b in bufs {
            self.bytes.extend_from_slice(b);
            n += b.len();
        }
        Poll::Ready(Ok(n))
    }
    fn is_write_vectored(&self) -> bool {
        true
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

impl AsyncRead for Recorder {
    fn poll_read(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        buf.put_slice(b"data");
        Poll::Ready(Ok(()))
    }
}

#[test]
fn the_generic_adapter_writes_one_region_with_poll_write_and_several_vectored() {
    let recorder = Recorder::default();
    let calls = recorder.calls.clone();
    let mut stream = FromTokioIo::new(recorder);
    block_on(async {
        let mut any = AnyStream::borrowed(&mut stream);
        assert_eq!(any.write(&b"one"[..]).await.unwrap(), 3);
        assert_eq!(any.write(&b""[..]).await.unwrap(), 0, "empty: no call");
        let two = [ConstBuffer::new(b"tw"), ConstBuffer::new(b"o")];
        assert_eq!(any.write(&two[..]).await.unwrap(), 3);
        let mut buf = [0u8; 8];
        assert_eq!(any.read(&mut buf[..]).await.unwrap(), 4);
        assert_eq!(&buf[..4], b"data");
        assert_eq!(any.read(&mut [0u8; 0][..]).await.unwrap(), 0);
        any.shutdown().await.unwrap();
        let err = any.write(&b"late"[..]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        let err = any.write(&b""[..]).await.unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::BrokenPipe,
            "as the sequence path: the shutdown check comes first"
        );
    });
    assert_eq!(
        *calls.lock().unwrap(),
        Calls {
            write: 1,
            write_vectored: 1
        }
    );
    assert_eq!(stream.get_ref().bytes, b"onetwo");
}

/// A strait stream that counts which entry point it was called through.
#[derive(Default)]
struct Counting {
    some: usize,
    slice: usize,
}

impl ReadStream for Counting {
    fn poll_read_some(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.some += 1;
        let first = bufs.iter_mut().find(|b| !b.is_empty());
        Poll::Ready(Ok(first.map_or(0, |b| {
            b.as_mut_slice()[0] = b'x';
            1
        })))
    }
    fn poll_read_slice(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.slice += 1;
        Poll::Ready(Ok(buf.first_mut().map_or(0, |b| {
            *b = b'x';
            1
        })))
    }
}

impl WriteStream for Counting {
    fn poll_write_some(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        self.some += 1;
        Poll::Ready(Ok(bufs.iter().map(|b| b.len()).sum()))
    }
    fn poll_write_slice(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.slice += 1;
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[test]
fn tokio_io_reaches_the_one_slice_methods_of_the_strait_stream() {
    let mut io = TokioIo::new(Counting::default());
    block_on(async {
        let mut buf = [0u8; 4];
        assert_eq!(io.read(&mut buf).await.unwrap(), 1);
        assert_eq!(buf[0], b'x');
        assert_eq!(io.write(b"abc").await.unwrap(), 3);
        // Vectored writes still reach the sequence method whole.
        let n = io
            .write_vectored(&[IoSlice::new(b"a"), IoSlice::new(b"b")])
            .await
            .unwrap();
        assert_eq!(n, 2);
    });
    let inner = io.into_inner();
    assert_eq!((inner.slice, inner.some), (2, 1));
}
