//! Flush: bytes a buffering writer accepted reach the peer after `flush`, and every
//! wrapper and composed write that ends an exchange forwards or issues it.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures_lite::io::BufWriter;
use strait_streams::{
    block_on, duplex, read_until, write_all, AnyStream, DuplexStream, FromFuturesIo, FuturesIo,
    ReadStream, WriteStream, WriteStreamExt,
};
use strait_vocab::{ConstBuffer, MutableBuffer, VecBuffer};

/// Accepts every write into a private buffer and delivers it only on flush or shutdown:
/// the shape of a TLS stream filling a record.
struct Holding {
    inner: DuplexStream,
    held: Vec<u8>,
}

impl Holding {
    fn poll_deliver(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while !self.held.is_empty() {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write_some(cx, &[ConstBuffer::new(&self.held)])
            )?;
            self.held.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl ReadStream for Holding {
    fn poll_read_some(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read_some(cx, bufs)
    }
}

impl WriteStream for Holding {
    fn poll_write_some(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let before = self.held.len();
        for b in bufs {
            self.held.extend_from_slice(b.as_slice());
        }
        Poll::Ready(Ok(self.held.len() - before))
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.poll_deliver(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        std::task::ready!(self.poll_deliver(cx))?;
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Writes a request through `writer`, which `server` must see without a shutdown (it
/// polls once, no waiting): a request/response exchange deadlocks otherwise.
async fn request_delivered<W: WriteStream + Unpin>(writer: &mut W, server: &mut DuplexStream) {
    write_all(writer, "ping\n").await.unwrap();
    let mut request = Vec::new();
    let got = futures_lite::future::poll_once(read_until(
        server,
        VecBuffer::new(&mut request, 64),
        b'\n',
    ))
    .await;
    assert!(
        matches!(got, Some(Ok(5))),
        "request not delivered after write_all: {got:?}"
    );
}

#[test]
fn write_all_flushes_a_buffering_writer() {
    let (a, mut server) = duplex(1024);
    let mut client = Holding {
        inner: a,
        held: Vec::new(),
    };
    block_on(request_delivered(&mut client, &mut server));
}

#[test]
fn any_stream_forwards_flush() {
    let (a, mut server) = duplex(1024);
    let mut client = AnyStream::new(Holding {
        inner: a,
        held: Vec::new(),
    });
    block_on(async {
        client.write("held").await.unwrap();
        let mut probe = [0u8; 8];
        let early = futures_lite::future::poll_once(strait_streams::ReadStreamExt::read(
            &mut server,
            &mut probe[..],
        ))
        .await;
        assert!(early.is_none(), "delivered before flush");
        client.flush().await.unwrap();
        let n = strait_streams::ReadStreamExt::read(&mut server, &mut probe[..])
            .await
            .unwrap();
        assert_eq!(&probe[..n], b"held");
    });
}

#[test]
fn a_buffering_futures_io_writer_is_flushed_through_from_futures_io() {
    // The shape of tokio-rustls/futures-rustls behind strait's interop: a futures-io
    // writer that keeps bytes until `poll_flush`.
    let (a, mut server) = duplex(1024);
    let mut client = FromFuturesIo::new(BufWriter::new(FuturesIo::new(a)));
    block_on(request_delivered(&mut client, &mut server));
}

#[test]
fn futures_io_flush_reaches_a_buffering_strait_writer() {
    use futures_lite::AsyncWriteExt;
    let (a, mut server) = duplex(1024);
    let mut client = FuturesIo::new(Holding {
        inner: a,
        held: Vec::new(),
    });
    block_on(async {
        client.write_all(b"via futures-io").await.unwrap();
        client.flush().await.unwrap();
        let mut got = [0u8; 32];
        let n = strait_streams::ReadStreamExt::read(&mut server, &mut got[..])
            .await
            .unwrap();
        assert_eq!(&got[..n], b"via futures-io");
    });
}
