//! The strait stream suite over tokio transports through the adapter, both ways, and
//! the executor suite on `TokioExecutor`. The counting allocator makes the suite's
//! zero-allocation case run (it counts every thread, tokio's workers included).

use std::future::Future;
use std::io;
use std::sync::OnceLock;

use strait_conformance::{ExecutorFactory, StreamPairFactory, TransportFactory};
use strait_streams::{duplex, AnyExecutor, DuplexStream};
use strait_tokio::{FromTokioIo, TcpListener, TcpStream, TokioExecutor, TokioIo};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

/// One multi-threaded runtime and its executor, shared by every case (as an
/// application would), so the executor's long-lived tasks are made once.
fn runtime() -> &'static (tokio::runtime::Runtime, TokioExecutor) {
    static RUNTIME: OnceLock<(tokio::runtime::Runtime, TokioExecutor)> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio runtime");
        let executor = TokioExecutor::new(rt.handle());
        (rt, executor)
    })
}

/// Runs a case on the tokio runtime with the adapter's environment published, so the
/// suite's own timeouts run on tokio's timer.
fn block_on<F: Future>(f: F) -> F::Output {
    let (rt, executor) = runtime();
    executor.block_on(rt, f)
}

/// `strait_tokio::TcpStream` over loopback TCP.
struct Tcp;

impl TransportFactory for Tcp {
    type Client = TcpStream;
    type Server = TcpStream;
    async fn pair(&self) -> io::Result<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let (client, (server, _)) = strait_streams::when_all((
            TcpStream::connect(listener.local_addr()?),
            listener.accept(),
        ))
        .await?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        Ok((client, server))
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(tokio_tcp, super::Tcp);

/// The generic adapter over tokio's own `TcpStream` (its `AsyncRead`/`AsyncWrite`).
struct GenericTcp;

impl TransportFactory for GenericTcp {
    type Client = FromTokioIo<tokio::net::TcpStream>;
    type Server = FromTokioIo<tokio::net::TcpStream>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let (client, (server, _)) = strait_streams::when_all((
            tokio::net::TcpStream::connect(listener.local_addr()?),
            listener.accept(),
        ))
        .await?;
        client.set_nodelay(true)?;
        Ok((FromTokioIo::new(client), FromTokioIo::new(server)))
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(tokio_tcp_generic, super::GenericTcp);

/// `strait_tokio::UnixStream` over a socketpair.
struct Unix;

impl TransportFactory for Unix {
    type Client = strait_tokio::UnixStream;
    type Server = strait_tokio::UnixStream;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        strait_tokio::UnixStream::pair()
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(tokio_unix, super::Unix);

/// A strait duplex exposed as tokio I/O ([`TokioIo`]) and adapted back
/// ([`FromTokioIo`]): every strait rule survives the round trip through tokio's traits.
struct DuplexThroughTokio;

impl StreamPairFactory for DuplexThroughTokio {
    type Stream = FromTokioIo<TokioIo<DuplexStream>>;
    fn pair(&self) -> (Self::Stream, Self::Stream) {
        let (a, b) = duplex(64 * 1024);
        (
            FromTokioIo::new(TokioIo::new(a)),
            FromTokioIo::new(TokioIo::new(b)),
        )
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(duplex_through_tokio, super::DuplexThroughTokio);

/// A tokio TCP socket made a strait stream, exposed as tokio I/O, and adapted back.
struct TcpThroughTokioIo;

impl TransportFactory for TcpThroughTokioIo {
    type Client = FromTokioIo<TokioIo<TcpStream>>;
    type Server = FromTokioIo<TokioIo<TcpStream>>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let (client, server) = Tcp.pair().await?;
        Ok((
            FromTokioIo::new(TokioIo::new(client)),
            FromTokioIo::new(TokioIo::new(server)),
        ))
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(tcp_through_tokio_io, super::TcpThroughTokioIo);

/// The executor suite on the adapter: spawns become tokio tasks, strands post to the
/// adapter's queue.
struct Executor;

impl ExecutorFactory for Executor {
    fn executor(&self) -> AnyExecutor {
        runtime().1.executor()
    }
    fn run_until_idle(&self, _executor: &AnyExecutor) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // The cases share the executor; each waits until every task of every case
        // finished (the count is of work on this executor).
        while runtime().1.outstanding_work() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "tasks still outstanding after 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

strait_conformance::executor_suite!(tokio_executor, super::Executor);

/// A fresh current-thread runtime per case: the flavour where `block_on`'s thread
/// drives the reactor, the timer and every task.
struct CurrentThread {
    runtime: tokio::runtime::Runtime,
    executor: TokioExecutor,
}

impl CurrentThread {
    fn new() -> Self {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let executor = TokioExecutor::new(runtime.handle());
        CurrentThread { runtime, executor }
    }
}

impl TransportFactory for CurrentThread {
    type Client = TcpStream;
    type Server = TcpStream;
    async fn pair(&self) -> io::Result<(TcpStream, TcpStream)> {
        Tcp.pair().await
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.executor.block_on(&self.runtime, f)
    }
}

strait_conformance::stream_pair_suite!(tokio_tcp_current_thread, super::CurrentThread::new());

impl ExecutorFactory for CurrentThread {
    fn executor(&self) -> AnyExecutor {
        self.executor.executor()
    }
    fn run_until_idle(&self, _executor: &AnyExecutor) {
        // Nothing runs unless this thread drives the runtime.
        self.runtime.block_on(async {
            while self.executor.outstanding_work() != 0 {
                tokio::task::yield_now().await;
            }
        });
    }
}

strait_conformance::executor_suite!(tokio_executor_current_thread, super::CurrentThread::new());
