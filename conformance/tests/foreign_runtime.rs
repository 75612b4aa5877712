//! A transport on a foreign runtime passes the suite: a strait stream over tokio's
//! sockets, made inside the runtime by an async `pair`, on a current-thread runtime and
//! on a multi-thread one (whose worker threads' allocations count too).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use strait_conformance::TransportFactory;
use strait_streams::{ReadStream, WriteStream};
use strait_vocab::{ConstBuffer, MutableBuffer};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

/// A strait stream over a tokio socket: the transport under test.
struct TokioTcp(tokio::net::TcpStream);

impl ReadStream for TokioTcp {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(buf) = bufs.iter_mut().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        let mut rb = tokio::io::ReadBuf::new(buf.as_mut_slice());
        let socket = Pin::new(&mut self.get_mut().0);
        std::task::ready!(tokio::io::AsyncRead::poll_read(socket, cx, &mut rb))?;
        Poll::Ready(Ok(rb.filled().len()))
    }
}

impl WriteStream for TokioTcp {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(buf) = bufs.iter().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.get_mut().0), cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().0), cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.get_mut().0), cx)
    }
}

/// Loopback TCP on a tokio runtime.
struct TokioLoopback {
    runtime: tokio::runtime::Runtime,
}

impl TokioLoopback {
    fn current_thread() -> TokioLoopback {
        TokioLoopback {
            runtime: tokio::runtime::Builder::new_current_thread()
                .enable_io()
                .build()
                .expect("runtime"),
        }
    }
    fn multi_thread() -> TokioLoopback {
        TokioLoopback {
            runtime: tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_io()
                .build()
                .expect("runtime"),
        }
    }
}

impl TransportFactory for TokioLoopback {
    type Client = TokioTcp;
    type Server = TokioTcp;

    // Awaited inside `block_on`: tokio's sockets need its reactor in the context.
    async fn pair(&self) -> io::Result<(TokioTcp, TokioTcp)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (client, (server, _)) =
            strait_streams::when_all((tokio::net::TcpStream::connect(addr), listener.accept()))
                .await?;
        client.set_nodelay(true)?;
        Ok((TokioTcp(client), TokioTcp(server)))
    }

    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.runtime.block_on(f)
    }
}

strait_conformance::stream_pair_suite!(
    tokio_current_thread,
    super::TokioLoopback::current_thread()
);
strait_conformance::stream_pair_suite!(tokio_multi_thread, super::TokioLoopback::multi_thread());

#[test]
fn sockets_made_outside_the_runtime_fail_the_pair_step() {
    /// Makes its sockets before `block_on`, where tokio has no reactor: the case fails
    /// in its `pair` step (tokio panics), it does not hang.
    struct Outside(TokioLoopback);
    impl TransportFactory for Outside {
        type Client = TokioTcp;
        type Server = TokioTcp;
        fn pair(&self) -> impl Future<Output = io::Result<(TokioTcp, TokioTcp)>> {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
            let (server, _) = listener.accept().unwrap();
            let wrap = |s: std::net::TcpStream| {
                s.set_nonblocking(true)?;
                tokio::net::TcpStream::from_std(s).map(TokioTcp)
            };
            std::future::ready(wrap(client).and_then(|c| Ok((c, wrap(server)?))))
        }
        fn block_on<F: Future>(&self, f: F) -> F::Output {
            self.0.block_on(f)
        }
    }
    let outcome = strait_conformance::stream_pair::run_case(
        &Outside(TokioLoopback::current_thread()),
        "round_trip",
    );
    match outcome {
        strait_conformance::Outcome::Failed(why) => {
            assert!(why.contains("panicked in step `pair`"), "{why}")
        }
        other => panic!("{other:?}"),
    }
}
