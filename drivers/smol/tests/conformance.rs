//! The strait stream suite over smol transports through the adapters, both ways, and
//! the executor suite on `SmolExecutor` and `LocalExecutor`. The counting allocator
//! makes the suite's zero-allocation case run (it counts every thread).

use std::future::Future;
use std::io;
use std::sync::{Arc, OnceLock};

use strait_conformance::{ExecutorFactory, StreamPairFactory, TransportFactory};
use strait_smol::{FromFuturesIo, FuturesIo, FuturesSocket, SmolExecutor, TcpListener, TcpStream};
use strait_streams::{duplex, AnyExecutor, DuplexStream};

/// Why the socket cases may count an allocation: not the adapter's (it allocates
/// nothing per operation; `tests/allocations.rs` holds it to zero), async-io's. Each
/// reactor turn that wakes a task collects the wakers into a new `Vec`, so a read that
/// had to wait costs one allocation inside async-io, in plain smol programs too. On
/// loopback most reads find their data at once; under load some wait.
const ASYNC_IO_WAKE: &str =
    "async-io allocates a waker Vec per reactor turn that wakes a task (a read that waited)";

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

/// One smol executor run by two worker threads (plus whoever blocks on it), shared by
/// every case, as an application would.
fn runtime() -> &'static SmolExecutor {
    static RUNTIME: OnceLock<SmolExecutor> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        let smol = Arc::new(async_executor::Executor::new());
        for _ in 0..2 {
            let smol = smol.clone();
            std::thread::spawn(move || {
                async_io::block_on(smol.run(std::future::pending::<()>()));
            });
        }
        SmolExecutor::new(&smol)
    })
}

/// Runs a case on the smol executor with the adapter's environment published, so the
/// suite's own timeouts run on async-io's timer.
fn block_on<F: Future>(f: F) -> F::Output {
    runtime().block_on(f)
}

async fn tcp_pair() -> io::Result<(TcpStream, TcpStream)> {
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

/// `strait_smol::TcpStream` over loopback TCP.
struct Tcp;

impl TransportFactory for Tcp {
    type Client = TcpStream;
    type Server = TcpStream;
    async fn pair(&self) -> io::Result<(TcpStream, TcpStream)> {
        tcp_pair().await
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(smol_tcp, super::Tcp);

/// The generic futures-io adapter over smol's own `TcpStream` (whose `poll_close` is a
/// real `shutdown(Write)`).
struct GenericTcp;

impl TransportFactory for GenericTcp {
    type Client = FromFuturesIo<smol::net::TcpStream>;
    type Server = FromFuturesIo<smol::net::TcpStream>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
        let (client, (server, _)) = strait_streams::when_all((
            smol::net::TcpStream::connect(listener.local_addr()?),
            listener.accept(),
        ))
        .await?;
        client.set_nodelay(true)?;
        Ok((FromFuturesIo::new(client), FromFuturesIo::new(server)))
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(smol_tcp_generic, super::GenericTcp);

/// `FuturesSocket` over async-io's `Async<TcpStream>`, whose `poll_close` only flushes:
/// the adapter's own `shutdown(Write)` makes the half-close cases pass.
struct AsyncIoTcp;

impl TransportFactory for AsyncIoTcp {
    type Client = FuturesSocket<async_io::Async<std::net::TcpStream>>;
    type Server = FuturesSocket<async_io::Async<std::net::TcpStream>>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let listener = async_io::Async::<std::net::TcpListener>::bind(([127, 0, 0, 1], 0))?;
        let addr = listener.get_ref().local_addr()?;
        let (client, (server, _)) = strait_streams::when_all((
            async_io::Async::<std::net::TcpStream>::connect(addr),
            listener.accept(),
        ))
        .await?;
        client.get_ref().set_nodelay(true)?;
        Ok((FuturesSocket::new(client), FuturesSocket::new(server)))
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(async_io_tcp_socket, super::AsyncIoTcp);

/// `strait_smol::UnixStream` over a socketpair.
struct Unix;

impl TransportFactory for Unix {
    type Client = strait_smol::UnixStream;
    type Server = strait_smol::UnixStream;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        strait_smol::UnixStream::pair()
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(smol_unix, super::Unix);

/// smol's own `UnixStream` through the generic adapter.
struct GenericUnix;

impl TransportFactory for GenericUnix {
    type Client = FromFuturesIo<smol::net::unix::UnixStream>;
    type Server = FromFuturesIo<smol::net::unix::UnixStream>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let (a, b) = smol::net::unix::UnixStream::pair()?;
        Ok((FromFuturesIo::new(a), FromFuturesIo::new(b)))
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(smol_unix_generic, super::GenericUnix);

/// A strait duplex exposed as futures-io ([`FuturesIo`]) and adapted back: every strait
/// rule survives the round trip through futures-io's traits.
struct DuplexThroughFuturesIo;

impl StreamPairFactory for DuplexThroughFuturesIo {
    type Stream = FromFuturesIo<FuturesIo<DuplexStream>>;
    fn pair(&self) -> (Self::Stream, Self::Stream) {
        let (a, b) = duplex(64 * 1024);
        (
            FromFuturesIo::new(FuturesIo::new(a)),
            FromFuturesIo::new(FuturesIo::new(b)),
        )
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(duplex_through_futures_io, super::DuplexThroughFuturesIo);

/// A smol TCP socket made a strait stream, exposed as futures-io, and adapted back.
struct TcpThroughFuturesIo;

impl TransportFactory for TcpThroughFuturesIo {
    type Client = FromFuturesIo<FuturesIo<TcpStream>>;
    type Server = FromFuturesIo<FuturesIo<TcpStream>>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let (client, server) = tcp_pair().await?;
        Ok((
            FromFuturesIo::new(FuturesIo::new(client)),
            FromFuturesIo::new(FuturesIo::new(server)),
        ))
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(tcp_through_futures_io, super::TcpThroughFuturesIo);

/// A smol Unix socket made a strait stream, exposed as futures-io, and adapted back.
struct UnixThroughFuturesIo;

impl TransportFactory for UnixThroughFuturesIo {
    type Client = FromFuturesIo<FuturesIo<strait_smol::UnixStream>>;
    type Server = FromFuturesIo<FuturesIo<strait_smol::UnixStream>>;
    async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
        let (a, b) = strait_smol::UnixStream::pair()?;
        Ok((
            FromFuturesIo::new(FuturesIo::new(a)),
            FromFuturesIo::new(FuturesIo::new(b)),
        ))
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(unix_through_futures_io, super::UnixThroughFuturesIo);

/// The executor suite on the adapter: spawns become smol tasks, strands post to the
/// adapter's queue.
struct Executor;

impl ExecutorFactory for Executor {
    fn executor(&self) -> AnyExecutor {
        runtime().executor()
    }
    fn run_until_idle(&self, _executor: &AnyExecutor) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        // The cases share the executor; each waits until every task of every case
        // finished (the count is of work on this executor).
        while runtime().outstanding_work() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "tasks still outstanding after 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

strait_conformance::executor_suite!(smol_executor, super::Executor);

/// A fresh smol executor per case that only the test thread runs: nothing runs unless
/// `block_on` drives it.
struct SingleThread {
    executor: SmolExecutor,
    _smol: Arc<async_executor::Executor<'static>>,
}

impl SingleThread {
    fn new() -> Self {
        let smol = Arc::new(async_executor::Executor::new());
        SingleThread {
            executor: SmolExecutor::new(&smol),
            _smol: smol,
        }
    }
}

impl TransportFactory for SingleThread {
    type Client = TcpStream;
    type Server = TcpStream;
    async fn pair(&self) -> io::Result<(TcpStream, TcpStream)> {
        tcp_pair().await
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        self.executor.block_on(f)
    }
}

strait_conformance::stream_pair_suite!(smol_tcp_single_thread, super::SingleThread::new());

impl ExecutorFactory for SingleThread {
    fn executor(&self) -> AnyExecutor {
        self.executor.executor()
    }
    fn run_until_idle(&self, _executor: &AnyExecutor) {
        self.executor.block_on(async {
            while self.executor.outstanding_work() != 0 {
                strait_streams::yield_now().await;
            }
        });
    }
}

strait_conformance::executor_suite!(smol_executor_single_thread, super::SingleThread::new());
