//! The strait stream suite over async-std's TCP and Unix sockets through the adapter,
//! both ways, and the executor suite on `AsyncStdExecutor`. The counting allocator
//! makes the suite's zero-allocation case run (it counts every thread).

use std::future::Future;
use std::io;
use std::sync::OnceLock;

use strait_async_std::{
    AsyncStdExecutor, FromFuturesIo, FuturesIo, TcpListener, TcpStream, UnixStream,
};
use strait_conformance::{ExecutorFactory, TransportFactory};
use strait_streams::AnyExecutor;

/// Why the socket cases may count an allocation: not the adapter's (it allocates
/// nothing per operation; `tests/allocations.rs` holds it to zero), async-io's. Each
/// reactor turn that wakes a task collects the wakers into a new `Vec`, so a read that
/// had to wait costs one allocation inside async-io, in plain smol programs too. On
/// loopback most reads find their data at once; under load some wait.
const ASYNC_IO_WAKE: &str =
    "async-io allocates a waker Vec per reactor turn that wakes a task (a read that waited)";

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

fn executor() -> &'static AsyncStdExecutor {
    static EXECUTOR: OnceLock<AsyncStdExecutor> = OnceLock::new();
    EXECUTOR.get_or_init(AsyncStdExecutor::new)
}

fn block_on<F: Future>(f: F) -> F::Output {
    executor().block_on(f)
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

/// async-std's `TcpStream` through the adapter (half-close cases need its real
/// `shutdown(Write)`: async-std's own close sends no FIN).
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

strait_conformance::stream_pair_suite!(async_std_tcp, super::Tcp);

/// async-std's `UnixStream` over a socketpair.
struct Unix;

impl TransportFactory for Unix {
    type Client = UnixStream;
    type Server = UnixStream;
    async fn pair(&self) -> io::Result<(UnixStream, UnixStream)> {
        UnixStream::pair()
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        Some(ASYNC_IO_WAKE)
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        block_on(f)
    }
}

strait_conformance::stream_pair_suite!(async_std_unix, super::Unix);

/// The adapted async-std socket exposed as futures-io (what async-std code takes) and
/// adapted back.
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

/// The executor suite: spawns become async-std tasks, strands post to the adapter.
struct Executor;

impl ExecutorFactory for Executor {
    fn executor(&self) -> AnyExecutor {
        executor().executor()
    }
    fn run_until_idle(&self, _executor: &AnyExecutor) {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        while executor().outstanding_work() != 0 {
            assert!(
                std::time::Instant::now() < deadline,
                "tasks still outstanding after 10 s"
            );
            std::thread::sleep(std::time::Duration::from_millis(1));
        }
    }
}

strait_conformance::executor_suite!(async_std_executor, super::Executor);
