//! # strait-conformance: prove your transport behaves like a stream
//!
//! Protocol code trusts the rules written in the stream traits' docs
//! (`strait_streams::io`): empty buffers, end of stream, partial transfers, flush,
//! half-close, error kinds, cancellation. This crate checks a transport against those
//! rules, case by case, and gives fault-injecting wrappers for any test.
//!
//! ## Suites
//! | suite | you supply | it checks |
//! |---|---|---|
//! | [`stream_pair`] | [`TransportFactory`] (or the short [`StreamPairFactory`]): two connected ends, how to run futures | every `ReadStream`/`WriteStream` rule, delivery after `flush`, reads already waiting when the peer shuts down or goes away, the documented error kinds, integrity of tens of MiB both ways, cancellation by stop token and by drop, zero allocation per operation on every thread |
//! | [`sources`] | [`SourceFactory`] / [`SinkFactory`] | `ReadSource`, `BufferSource`, `WriteSink` (`write_eof`), `BufferSink` |
//! | [`dynamic_buffer`] | [`DynamicBufferFactory`] | the `DynamicBuffer` contract against a model |
//! | [`executor`] | [`ExecutorFactory`] | post never inline, dispatch rules, work tracking, strand guarantees when wrapped |
//!
//! ## Two ways to run
//! - [`stream_pair_suite!`] (and its siblings) expand into one `#[test]` per case, so a
//!   failure names the case and the rule:
//!
//! ```
//! // In a test file of your crate; here strait's in-memory pair plays your transport.
//! struct MyPair;
//! impl strait_conformance::StreamPairFactory for MyPair {
//!     type Stream = strait_streams::DuplexStream;
//!     fn pair(&self) -> (Self::Stream, Self::Stream) {
//!         strait_streams::duplex(64 * 1024)
//!     }
//! }
//! strait_conformance::stream_pair_suite!(my_stream, super::MyPair);
//! # fn main() {
//! let report = strait_conformance::stream_pair::run(&MyPair);
//! assert!(report.passed(), "{report}");
//! # }
//! ```
//! - [`stream_pair::run`] (and siblings) return a [`Report`] with every outcome, for
//!   other harnesses.
//!
//! ## Writing the factory
//! Every case gets two freshly connected ends. Implement [`StreamPairFactory`] when
//! both ends are one type and connecting needs no `.await` (as above). Otherwise
//! implement [`TransportFactory`]: its `pair` is async and its two ends may differ.
//!
//! `pair`'s future runs inside [`block_on`](TransportFactory::block_on), so a
//! transport on another runtime makes its sockets inside that runtime's context.
//! For tokio (the transport under test is a strait stream over tokio's socket, here
//! `TokioTcp`):
//!
//! ```
//! # use std::{io, pin::Pin, task::{Context, Poll}};
//! # use strait_vocab::{ConstBuffer, MutableBuffer};
//! # /// A strait stream over a tokio socket: the transport under test.
//! # struct TokioTcp(tokio::net::TcpStream);
//! # impl strait_streams::ReadStream for TokioTcp {
//! #     fn poll_read_some(self: Pin<&mut Self>, cx: &mut Context<'_>,
//! #         bufs: &mut [MutableBuffer<'_>]) -> Poll<io::Result<usize>> {
//! #         let Some(buf) = bufs.iter_mut().find(|b| !b.is_empty()) else {
//! #             return Poll::Ready(Ok(0));
//! #         };
//! #         let mut rb = tokio::io::ReadBuf::new(buf.as_mut_slice());
//! #         let socket = Pin::new(&mut self.get_mut().0);
//! #         std::task::ready!(tokio::io::AsyncRead::poll_read(socket, cx, &mut rb))?;
//! #         Poll::Ready(Ok(rb.filled().len()))
//! #     }
//! # }
//! # impl strait_streams::WriteStream for TokioTcp {
//! #     fn poll_write_some(self: Pin<&mut Self>, cx: &mut Context<'_>,
//! #         bufs: &[ConstBuffer<'_>]) -> Poll<io::Result<usize>> {
//! #         let Some(buf) = bufs.iter().find(|b| !b.is_empty()) else {
//! #             return Poll::Ready(Ok(0));
//! #         };
//! #         tokio::io::AsyncWrite::poll_write(Pin::new(&mut self.get_mut().0), cx, buf)
//! #     }
//! #     fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
//! #         tokio::io::AsyncWrite::poll_flush(Pin::new(&mut self.get_mut().0), cx)
//! #     }
//! #     fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
//! #         tokio::io::AsyncWrite::poll_shutdown(Pin::new(&mut self.get_mut().0), cx)
//! #     }
//! # }
//! use strait_conformance::TransportFactory;
//!
//! struct TokioLoopback {
//!     runtime: tokio::runtime::Runtime,
//! }
//!
//! impl TransportFactory for TokioLoopback {
//!     type Client = TokioTcp;
//!     type Server = TokioTcp;
//!
//!     // Awaited inside `block_on`, so inside the runtime: the sockets register with
//!     // its reactor.
//!     async fn pair(&self) -> io::Result<(TokioTcp, TokioTcp)> {
//!         let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
//!         let addr = listener.local_addr()?;
//!         let (client, (server, _)) = strait_streams::when_all((
//!             tokio::net::TcpStream::connect(addr),
//!             listener.accept(),
//!         ))
//!         .await?;
//!         client.set_nodelay(true)?;
//!         Ok((TokioTcp(client), TokioTcp(server)))
//!     }
//!
//!     fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
//!         self.runtime.block_on(f)
//!     }
//! }
//!
//! // In a test file: strait_conformance::stream_pair_suite!(tokio_tcp, super::TokioLoopback::new());
//! # fn main() {
//! let factory = TokioLoopback {
//!     runtime: tokio::runtime::Builder::new_current_thread().enable_io().build().unwrap(),
//! };
//! let report = strait_conformance::stream_pair::run(&factory);
//! assert!(report.passed(), "{report}");
//! # }
//! ```
//!
//! When the two ends are different types (a TLS client stream and a TLS server stream),
//! name both; when making them takes both ends (a handshake), run the two sides
//! together:
//!
//! ```
//! use std::io;
//! use strait_conformance::faults::ChunkLimit;
//! use strait_conformance::TransportFactory;
//! use strait_streams::{duplex, read_exact, when_all, write_all, DuplexStream};
//!
//! /// A client end that moves at most 1000 bytes per operation, and a plain server end.
//! struct Greeted;
//!
//! impl TransportFactory for Greeted {
//!     type Client = ChunkLimit<DuplexStream>;
//!     type Server = DuplexStream;
//!
//!     async fn pair(&self) -> io::Result<(Self::Client, Self::Server)> {
//!         let (client, mut server) = duplex(64 * 1024);
//!         let mut client = ChunkLimit::new(client, 1000);
//!         // The shape of a handshake: neither side finishes without the other.
//!         let hello = async {
//!             write_all(&mut client, "hello").await?;
//!             read_exact(&mut client, &mut [0u8; 7][..]).await
//!         };
//!         let welcome = async {
//!             read_exact(&mut server, &mut [0u8; 5][..]).await?;
//!             write_all(&mut server, "welcome").await
//!         };
//!         when_all((hello, welcome)).await?;
//!         Ok((client, server))
//!     }
//!
//!     fn large_transfer_bytes(&self) -> u64 {
//!         1 << 20
//!     }
//! }
//!
//! let report = strait_conformance::stream_pair::run(&Greeted);
//! assert!(report.passed(), "{report}");
//! ```
//!
//! Override `block_on` to run futures where your transport's I/O is driven (the
//! default is a strait `RunLoop`). Lower `large_transfer_bytes` only if the transport
//! is slow; raise `prompt` for high-latency links.
//!
//! ## Allocations
//! To run the zero-allocation case, install [`CountingAllocator`] as the test binary's
//! `#[global_allocator]`; without it the case is skipped and says so. It counts every
//! thread's allocations (a reactor's, a runtime worker's), and runs alone among the
//! kit's cases. A transport that allocates per operation by design (rustls: one buffer
//! per TLS record) says why in
//! [`allocation_exception`](TransportFactory::allocation_exception): the case then
//! reports the measured count as [`Outcome::Noted`] instead of failing.
//!
//! ## Hung cases
//! Every case runs under time bounds, step by step: a case that waits forever (a
//! missed wake-up, withheld bytes) fails with a reason that starts "hung in step" and
//! names the step (for example "hung in step `pending read after the peer closed`").
//! A case whose poll blocks its thread cannot fail from inside; a watchdog thread then
//! writes the case and the step it is stuck in to stderr, so the hung test says where.
//!
//! ## What the kit catches
//! The crate's own tests run deliberately broken transports — one that drops a byte,
//! one that duplicates a byte, one that reports end of stream while data remains, one
//! that blocks in `poll` (so a stop is seen late), one that allocates per operation,
//! one that allocates on a helper thread, one whose pending read is never woken when
//! the peer shuts down or goes away, one that holds written bytes and whose flush does
//! nothing, one that fails a write after shutdown with the wrong error kind — and an
//! executor that runs posted tasks inline; each is caught by a named case.

pub mod alloc_count;
pub mod dynamic_buffer;
pub mod executor;
pub mod faults;
mod macros;
mod report;
pub mod slice_parity;
pub mod sources;
pub mod stream_pair;
mod util;
mod watch;

pub use alloc_count::{allocations, counting_installed, process_allocations, CountingAllocator};
pub use dynamic_buffer::DynamicBufferFactory;
pub use executor::ExecutorFactory;
pub use report::{CaseResult, Outcome, Report};
pub use sources::{SinkFactory, SourceFactory};
pub use stream_pair::{StreamPairFactory, TransportFactory};

/// The reason a case gives when it needs the counting allocator and it is missing.
pub const SKIP_NO_COUNTER: &str =
    "skipped: install strait_conformance::CountingAllocator as #[global_allocator] to run";

/// Runs a case of the suites without steps of their own (shared gate, a minute's
/// watchdog bound).
pub(crate) fn outcome_of(name: &'static str, case: impl FnOnce() -> CaseResult) -> Outcome {
    watch::run_watched(
        name,
        watch::Gate::Shared,
        std::time::Duration::from_secs(60),
        |_| case(),
    )
}

/// Asserts an outcome in a generated `#[test]` (skips and notes pass, said on stderr).
#[doc(hidden)]
pub fn assert_outcome(case: &str, outcome: Outcome) {
    match outcome {
        Outcome::Passed => {}
        Outcome::Skipped(why) => eprintln!("{case}: {why}"),
        Outcome::Noted(note) => eprintln!("{case}: note: {note}"),
        Outcome::Failed(why) => panic!("conformance case `{case}` failed: {why}"),
    }
}
