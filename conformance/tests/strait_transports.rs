//! strait's own transports, sources, sinks, dynamic buffers and executors pass every
//! suite — also under the fault-injecting wrappers.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use strait_conformance::dynamic_buffer::BufferTest;
use strait_conformance::faults::{fail_at_each, ChunkLimit, FailPlan, Latency, PendingEvery};
use strait_conformance::TransportFactory;
use strait_conformance::{
    CaseResult, DynamicBufferFactory, ExecutorFactory, SinkFactory, SourceFactory,
    StreamPairFactory,
};
use strait_streams::{
    duplex, read_exact, write_all, AnyExecutor, DuplexStream, io::MockSink, io::MockSource, ReadStream,
    RunLoop, ThreadPool, WriteStream,
};
use strait_vocab::{CircularBuffer, ConstBuffer, FlatBuffer, MutableBuffer, VecBuffer};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

struct Duplex;
impl StreamPairFactory for Duplex {
    type Stream = DuplexStream;
    fn pair(&self) -> (DuplexStream, DuplexStream) {
        duplex(64 * 1024)
    }
}
strait_conformance::stream_pair_suite!(duplex_pair, super::Duplex);

/// The duplex pair behind one-byte chunks and a `Pending` before every other operation.
struct Hostile;
type HostileStream = PendingEvery<ChunkLimit<DuplexStream>>;
impl StreamPairFactory for Hostile {
    type Stream = HostileStream;
    fn pair(&self) -> (HostileStream, HostileStream) {
        let (a, b) = duplex(4096);
        (
            PendingEvery::new(ChunkLimit::new(a, 1)),
            PendingEvery::new(ChunkLimit::new(b, 1)),
        )
    }
    fn large_transfer_bytes(&self) -> u64 {
        64 * 1024
    }
}
strait_conformance::stream_pair_suite!(hostile_pair, super::Hostile);

/// The duplex pair with 1 ms of latency per operation.
struct Slow;
impl StreamPairFactory for Slow {
    type Stream = Latency<DuplexStream>;
    fn pair(&self) -> (Self::Stream, Self::Stream) {
        let (a, b) = duplex(1 << 20);
        let d = Duration::from_millis(1);
        (Latency::new(a, d), Latency::new(b, d))
    }
    fn large_transfer_bytes(&self) -> u64 {
        4 << 20
    }
}
strait_conformance::stream_pair_suite!(slow_pair, super::Slow);

/// A write-behind stream, the shape of TLS: it reports bytes written as soon as they
/// fit in its 4 KiB buffer and sends them when the buffer fills, on flush and on
/// shutdown (which must flush, so it waits for the peer to make room).
struct WriteBehind {
    inner: DuplexStream,
    held: Vec<u8>,
    shut: bool,
}

const HELD: usize = 4096;

impl WriteBehind {
    fn poll_deliver(&mut self, cx: &mut Context<'_>, keep: usize) -> Poll<io::Result<()>> {
        while self.held.len() > keep {
            let n = std::task::ready!(
                Pin::new(&mut self.inner).poll_write_some(cx, &[ConstBuffer::new(&self.held)])
            )?;
            self.held.drain(..n);
        }
        Poll::Ready(Ok(()))
    }
}

impl ReadStream for WriteBehind {
    fn poll_read_some(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_read_some(cx, bufs)
    }
}

impl WriteStream for WriteBehind {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(first) = bufs.iter().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        if this.shut {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        std::task::ready!(this.poll_deliver(cx, HELD - 1))?;
        let n = first.len().min(HELD - this.held.len());
        this.held.extend_from_slice(&first[..n]);
        Poll::Ready(Ok(n))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_deliver(cx, 0)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        std::task::ready!(this.poll_deliver(cx, 0))?;
        std::task::ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
        this.shut = true;
        Poll::Ready(Ok(()))
    }
}

/// Ends of different types (a write-behind client, a plain server), made by an async
/// `pair` that exchanges a greeting through both ends at once.
struct Mixed;
impl TransportFactory for Mixed {
    type Client = WriteBehind;
    type Server = DuplexStream;
    async fn pair(&self) -> io::Result<(WriteBehind, DuplexStream)> {
        let (a, mut server) = duplex(64 * 1024);
        let mut client = WriteBehind {
            inner: a,
            held: Vec::with_capacity(HELD),
            shut: false,
        };
        let hello = async {
            write_all(&mut client, "hello").await?;
            read_exact(&mut client, &mut [0u8; 7][..]).await
        };
        let welcome = async {
            read_exact(&mut server, &mut [0u8; 5][..]).await?;
            write_all(&mut server, "welcome").await
        };
        strait_streams::when_all((hello, welcome)).await?;
        Ok((client, server))
    }
    fn large_transfer_bytes(&self) -> u64 {
        4 << 20
    }
}
strait_conformance::stream_pair_suite!(write_behind_pair, super::Mixed);

struct Sources;
impl SourceFactory for Sources {
    type Source = MockSource;
    fn source(&self, data: &[u8]) -> MockSource {
        MockSource::new(data.to_vec(), 7)
    }
}
strait_conformance::source_suite!(mock_source, super::Sources);

struct Sinks;
impl SinkFactory for Sinks {
    type Sink = MockSink;
    fn sink(&self) -> MockSink {
        MockSink::new(16)
    }
    fn written(&self, sink: &MockSink) -> Vec<u8> {
        sink.data().to_vec()
    }
    fn ended(&self, sink: &MockSink) -> bool {
        sink.eof_called()
    }
}
strait_conformance::sink_suite!(mock_sink, super::Sinks);

struct Flat;
impl DynamicBufferFactory for Flat {
    fn with_buffer<T: BufferTest>(&self, max: usize, test: T) -> CaseResult {
        let mut storage = vec![0u8; max];
        test.run(FlatBuffer::new(&mut storage))
    }
}
strait_conformance::dynamic_buffer_suite!(flat_buffer, super::Flat);

struct Circular;
impl DynamicBufferFactory for Circular {
    fn with_buffer<T: BufferTest>(&self, max: usize, test: T) -> CaseResult {
        let mut storage = vec![0u8; max];
        test.run(CircularBuffer::new(&mut storage))
    }
}
strait_conformance::dynamic_buffer_suite!(circular_buffer, super::Circular);

struct Growable;
impl DynamicBufferFactory for Growable {
    fn with_buffer<T: BufferTest>(&self, max: usize, test: T) -> CaseResult {
        let mut vec = Vec::new();
        test.run(VecBuffer::new(&mut vec, max))
    }
}
strait_conformance::dynamic_buffer_suite!(vec_buffer, super::Growable);

/// A run loop per case, run on the test thread.
struct Loops(std::sync::Mutex<Vec<RunLoop>>);
impl ExecutorFactory for Loops {
    fn executor(&self) -> AnyExecutor {
        let rl = RunLoop::new();
        let ex = rl.executor();
        self.0.lock().unwrap().push(rl);
        ex
    }
    fn run_until_idle(&self, executor: &AnyExecutor) {
        let loops = self.0.lock().unwrap();
        let rl = loops
            .iter()
            .find(|rl| rl.executor() == *executor)
            .expect("our loop");
        rl.run();
    }
}
strait_conformance::executor_suite!(run_loop, super::Loops(Default::default()));

/// A two-thread pool per case.
struct Pools(std::sync::Mutex<Vec<ThreadPool>>);
impl ExecutorFactory for Pools {
    fn executor(&self) -> AnyExecutor {
        let pool = ThreadPool::new(2);
        let ex = pool.executor();
        self.0.lock().unwrap().push(pool);
        ex
    }
    fn run_until_idle(&self, executor: &AnyExecutor) {
        let pools = self.0.lock().unwrap();
        let pool = pools
            .iter()
            .find(|p| p.executor() == *executor)
            .expect("our pool");
        pool.join();
    }
}
strait_conformance::executor_suite!(thread_pool, super::Pools(Default::default()));

/// The systematic runner: an echo exchange over a pair wrapped in `FailAt` fails
/// cleanly at every operation and never corrupts data.
#[test]
fn an_exchange_fails_cleanly_at_every_injected_point() {
    let runs = fail_at_each(io::ErrorKind::ConnectionReset, |plan: &FailPlan| {
        let (a, b) = duplex(1024);
        let (mut a, mut b) = (plan.wrap(ChunkLimit::new(a, 3)), plan.wrap(b));
        strait_streams::block_on(async {
            write_all(&mut a, "request")
                .await
                .map_err(|e| e.to_string())?;
            let mut got = [0u8; 7];
            let n = read_exact(&mut b, &mut got[..])
                .await
                .map_err(|e| e.to_string())?;
            if &got[..n] != b"request" {
                return Err(format!("corrupted: {:?}", &got[..n]));
            }
            Ok(())
        })
    })
    .expect("the scenario passes without faults");
    assert!(
        runs.len() >= 4,
        "every operation was a failure point: {runs:?}"
    );
    for run in &runs[..runs.len() - 1] {
        let err = run
            .result
            .as_ref()
            .expect_err("an injected failure surfaces");
        assert!(
            err.contains("injected failure"),
            "point {}: {err}",
            run.point
        );
    }
}

#[test]
fn the_runner_reports_every_case_by_name() {
    let report = strait_conformance::stream_pair::run(&Duplex);
    assert!(report.passed(), "{report}");
    assert_eq!(
        report.cases.len(),
        strait_conformance::stream_pair::case_names().len()
    );
    assert!(report.to_string().contains("pass  round_trip"));
}
