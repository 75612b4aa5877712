//! # strait-conformance: prove your transport behaves like a stream
//!
//! Protocol code trusts the rules written in the stream traits' docs
//! (`strait_streams::io`): empty buffers, end of stream, partial transfers, half-close,
//! cancellation. This crate checks a transport against those rules, case by case, and
//! gives fault-injecting wrappers for any test.
//!
//! ## Suites
//! | suite | you supply | it checks |
//! |---|---|---|
//! | [`stream_pair`] | [`StreamPairFactory`]: two connected ends, how to run futures | every `ReadStream`/`WriteStream` rule, integrity of tens of MiB both ways, cancellation by stop token and by drop, zero allocation per operation |
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
//! `pair()` returns two freshly connected ends; every case gets new ones. If your
//! transport needs its own runtime, override `block_on` to run the future there (the
//! default is a strait `RunLoop`). Lower `large_transfer_bytes` only if the transport
//! is slow; raise `prompt` for high-latency links. To run the zero-allocation case,
//! install [`CountingAllocator`] as the test binary's `#[global_allocator]`; without it
//! the case is skipped and says so.
//!
//! ## What the kit catches
//! The crate's own tests run deliberately broken transports — one that drops a byte,
//! one that duplicates a byte, one that reports end of stream while data remains, one
//! that ignores the stop token (blocks in `poll`), one that allocates per operation —
//! and an executor that runs posted tasks inline; each is caught by a named case.

pub mod alloc_count;
pub mod dynamic_buffer;
pub mod executor;
pub mod faults;
mod macros;
mod report;
pub mod sources;
pub mod stream_pair;
mod util;

pub use alloc_count::{allocations, counting_installed, CountingAllocator};
pub use dynamic_buffer::DynamicBufferFactory;
pub use executor::ExecutorFactory;
pub use report::{CaseResult, Outcome, Report};
pub use sources::{SinkFactory, SourceFactory};
pub use stream_pair::StreamPairFactory;

/// The reason a case gives when it needs the counting allocator and it is missing.
pub const SKIP_NO_COUNTER: &str =
    "skipped: install strait_conformance::CountingAllocator as #[global_allocator] to run";

/// Runs a case, turning panics into failures and the skip marker into a skip.
pub(crate) fn outcome_of(case: impl FnOnce() -> CaseResult) -> Outcome {
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(case)) {
        Ok(Ok(())) => Outcome::Passed,
        Ok(Err(why)) if why == SKIP_NO_COUNTER => Outcome::Skipped(why),
        Ok(Err(why)) => Outcome::Failed(why),
        Err(payload) => {
            let msg = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "non-string panic".into());
            Outcome::Failed(format!("panicked: {msg}"))
        }
    }
}

/// Asserts an outcome in a generated `#[test]` (skips pass with a note on stderr).
#[doc(hidden)]
pub fn assert_outcome(case: &str, outcome: Outcome) {
    match outcome {
        Outcome::Passed => {}
        Outcome::Skipped(why) => eprintln!("{case}: {why}"),
        Outcome::Failed(why) => panic!("conformance case `{case}` failed: {why}"),
    }
}
