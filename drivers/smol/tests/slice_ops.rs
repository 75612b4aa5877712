//! `FuturesSocket` routes one-slice operations (`poll_read_slice`/`poll_write_slice`) to
//! the socket's one-buffer calls. That they give what the sequence path gives is the
//! stream-pair suite's `one_slice_matches_sequence` case (`tests/conformance.rs`).

use std::future::Future;
use std::io::{self, IoSlice, IoSliceMut};
use std::os::fd::{AsFd, BorrowedFd};
use std::os::unix::net::UnixStream as StdUnixStream;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use async_io::Async;
use futures_io::{AsyncRead, AsyncWrite};
use strait_smol::FuturesSocket;
use strait_streams::{AnyStream, ConstBuffer, MutableBuffer, ReadStreamExt, WriteStreamExt};

fn block_on<F: Future>(f: F) -> F::Output {
    async_io::block_on(f)
}

/// Calls by entry point: `[read, read_vectored, write, write_vectored]`.
type Calls = Arc<Mutex<[usize; 4]>>;

/// An async-io Unix socket that records which futures-io entry points it was called
/// through.
struct Recording {
    inner: Async<StdUnixStream>,
    calls: Calls,
}

impl AsFd for Recording {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.inner.as_fd()
    }
}

impl AsyncRead for Recording {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.calls.lock().unwrap()[0] += 1;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
    fn poll_read_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        self.calls.lock().unwrap()[1] += 1;
        Pin::new(&mut self.inner).poll_read_vectored(cx, bufs)
    }
}

impl AsyncWrite for Recording {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.calls.lock().unwrap()[2] += 1;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.calls.lock().unwrap()[3] += 1;
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_close(cx)
    }
}

#[test]
fn futures_socket_sends_one_region_through_poll_read_and_poll_write() {
    let (a, b) = Async::<StdUnixStream>::pair().unwrap();
    let calls = Calls::default();
    let mut a = FuturesSocket::new(Recording {
        inner: a,
        calls: calls.clone(),
    });
    let mut b = FuturesSocket::new(b);
    block_on(async {
        let mut any = AnyStream::borrowed(&mut a);
        assert_eq!(any.write(&b"one"[..]).await.unwrap(), 3);
        assert_eq!(any.write(&b""[..]).await.unwrap(), 0, "empty: no call");
        let two = [ConstBuffer::new(b"tw"), ConstBuffer::new(b"o")];
        assert_eq!(any.write(&two[..]).await.unwrap(), 3);
        let mut got = [0u8; 6];
        strait_streams::read_exact(&mut b, &mut got[..])
            .await
            .unwrap();
        assert_eq!(&got, b"onetwo");

        strait_streams::write_all(&mut b, "back").await.unwrap();
        let mut buf = [0u8; 2];
        assert_eq!(any.read(&mut buf[..]).await.unwrap(), 2);
        assert_eq!(
            any.read(&mut [0u8; 0][..]).await.unwrap(),
            0,
            "empty: no call"
        );
        let (mut x, mut y) = ([0u8; 1], [0u8; 1]);
        let mut two = [
            MutableBuffer::new(&mut x[..]),
            MutableBuffer::new(&mut y[..]),
        ];
        assert_eq!(any.read(&mut two[..]).await.unwrap(), 2);
        assert_eq!((&buf, x, y), (b"ba", *b"c", *b"k"));

        any.shutdown().await.unwrap();
        let err = any.write(&b""[..]).await.unwrap_err();
        assert_eq!(
            err.kind(),
            io::ErrorKind::BrokenPipe,
            "as the sequence path"
        );
    });
    assert_eq!(*calls.lock().unwrap(), [1, 1, 1, 1]);
}
