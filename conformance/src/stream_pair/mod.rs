//! The stream-pair suite: two connected ends checked against every rule of the stream
//! traits (see `strait_streams::io`).
//!
//! Supply the ends with a [`TransportFactory`] (async `pair`, ends of different types)
//! or, for the common case, a [`StreamPairFactory`] (one stream type, made without
//! awaiting); every `StreamPairFactory` is a `TransportFactory`.

use std::future::Future;
use std::io;
use std::time::Duration;

use strait_streams::{read_exact, RunLoop, Stream};

use crate::report::{CaseResult, Outcome, Report};
use crate::watch::{run_watched, Gate, Steps};

mod alloc;
mod cancel;
mod closing;
mod data;

use crate::slice_parity::one_slice_matches_sequence;
use alloc::no_allocation_per_operation;
use cancel::{
    dropped_read_loses_nothing, dropped_write_duplicates_nothing, stop_cancels_pending_read,
    stopped_token_does_no_io,
};
use closing::{
    end_of_stream_after_shutdown, half_close_keeps_reverse_direction, peer_drop_ends_reads,
    pending_read_ends_on_peer_drop, pending_read_ends_on_peer_shutdown, write_after_shutdown_fails,
    write_to_dropped_peer_fails,
};
use data::{
    empty_buffers_complete_at_once, flushed_bytes_arrive_without_shutdown,
    large_transfer_both_directions, one_byte_reads_reassemble, round_trip,
    vectored_buffers_keep_order,
};

/// What an author supplies to run the suite on a transport: two connected ends, made
/// by an async `pair`, and where to run futures.
///
/// The two ends may be different types (a TLS client stream and a TLS server stream).
/// Cases write on either end and read on the other; rules about one end's own
/// behaviour (shutdown, flush, error kinds) are checked on both.
///
/// `pair` is called outside [`block_on`](Self::block_on) and its future is awaited
/// inside it, first thing in each case: an `async fn pair` runs entirely inside the
/// runtime, so sockets made there register with the runtime's reactor.
pub trait TransportFactory {
    /// The end that writes first in each case (a client, say).
    type Client: Stream + Unpin + 'static;
    /// The other end (a server, say).
    type Server: Stream + Unpin + 'static;

    /// Two freshly connected ends; every case gets new ones. An error fails the case
    /// in its `pair` step.
    fn pair(&self) -> impl Future<Output = io::Result<(Self::Client, Self::Server)>>;

    /// Runs `f` to completion wherever the transport's I/O is driven. The default is a
    /// strait [`RunLoop`]; a runtime adapter runs it in its runtime.
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        RunLoop::new().block_on(f)
    }

    /// Bytes sent in each direction by the large-transfer case (default 16 MiB).
    fn large_transfer_bytes(&self) -> u64 {
        16 << 20
    }

    /// Upper bound for operations that must complete "promptly" (default 2 s); whole
    /// cases are bounded by multiples of it (5x, and 30x for the large transfer), so a
    /// broken transport fails a case instead of hanging it.
    fn prompt(&self) -> Duration {
        Duration::from_secs(2)
    }

    /// Why this transport allocates per operation by design, if it does (for example
    /// "rustls allocates one buffer per TLS record"). With a reason,
    /// `no_allocation_per_operation` reports the measured count as
    /// [`Outcome::Noted`] instead of failing; the default (`None`) holds the transport
    /// to zero allocations.
    fn allocation_exception(&self) -> Option<&'static str> {
        None
    }
}

/// The short form of [`TransportFactory`]: both ends of one type, made without
/// awaiting (call your runtime's `block_on` inside `pair` if connecting needs it; it
/// runs outside the case's `block_on`).
pub trait StreamPairFactory {
    /// One end of a connection.
    type Stream: Stream + Unpin + 'static;

    /// Two freshly connected ends.
    fn pair(&self) -> (Self::Stream, Self::Stream);

    /// See [`TransportFactory::block_on`].
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        RunLoop::new().block_on(f)
    }

    /// See [`TransportFactory::large_transfer_bytes`].
    fn large_transfer_bytes(&self) -> u64 {
        16 << 20
    }

    /// See [`TransportFactory::prompt`].
    fn prompt(&self) -> Duration {
        Duration::from_secs(2)
    }

    /// See [`TransportFactory::allocation_exception`].
    fn allocation_exception(&self) -> Option<&'static str> {
        None
    }
}

impl<T: StreamPairFactory> TransportFactory for T {
    type Client = T::Stream;
    type Server = T::Stream;

    fn pair(&self) -> impl Future<Output = io::Result<(T::Stream, T::Stream)>> {
        // Made now, outside the case's `block_on`, as the short form promises.
        std::future::ready(Ok(StreamPairFactory::pair(self)))
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        StreamPairFactory::block_on(self, f)
    }
    fn large_transfer_bytes(&self) -> u64 {
        StreamPairFactory::large_transfer_bytes(self)
    }
    fn prompt(&self) -> Duration {
        StreamPairFactory::prompt(self)
    }
    fn allocation_exception(&self) -> Option<&'static str> {
        StreamPairFactory::allocation_exception(self)
    }
}

type Case<F> = fn(&F, &Steps) -> CaseResult;

fn table<F: TransportFactory>() -> Vec<(&'static str, Case<F>)> {
    macro_rules! table {
        ($($case:ident),* $(,)?) => {
            vec![$((stringify!($case), $case::<F> as Case<F>)),*]
        };
    }
    crate::__stream_pair_cases!(table)
}

/// The name of every case, in the order they run (the names
/// [`stream_pair_suite!`](crate::stream_pair_suite) gives its tests).
pub fn case_names() -> Vec<&'static str> {
    macro_rules! names {
        ($($case:ident),* $(,)?) => {
            vec![$(stringify!($case)),*]
        };
    }
    crate::__stream_pair_cases!(names)
}

/// Runs one case by name.
///
/// # Panics
/// If no case has that name.
pub fn run_case<F: TransportFactory>(factory: &F, name: &str) -> Outcome {
    let (name, case) = table::<F>()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no stream-pair case named {name}"));
    run_one(factory, name, case)
}

/// Runs every case and reports each outcome.
pub fn run<F: TransportFactory>(factory: &F) -> Report {
    Report {
        cases: table::<F>()
            .into_iter()
            .map(|(name, case)| (name, run_one(factory, name, case)))
            .collect(),
    }
}

fn run_one<F: TransportFactory>(factory: &F, name: &'static str, case: Case<F>) -> Outcome {
    // Only the counting case must be alone: it counts the whole process's allocations.
    let gate = if name == "no_allocation_per_operation" {
        Gate::Exclusive
    } else {
        Gate::Shared
    };
    run_watched(name, gate, case_limit(factory), |steps| {
        case(factory, steps)
    })
}

/// The bound of a case's longest step.
fn case_limit<F: TransportFactory>(f: &F) -> Duration {
    f.prompt() * 30
}

/// Makes a pair inside the factory's `block_on` and runs `body` on it there, failing
/// the case (naming its step) if it takes longer than `limit`.
fn with_pair<F, Fut>(
    f: &F,
    s: &Steps,
    limit: Duration,
    body: impl FnOnce(F::Client, F::Server) -> Fut,
) -> CaseResult
where
    F: TransportFactory,
    Fut: Future<Output = CaseResult>,
{
    s.enter("pair");
    let pairing = f.pair();
    f.block_on(s.within(limit, async {
        let (a, b) = s.io("pair", pairing).await?;
        body(a, b).await
    }))
}

/// Reads exactly `n` bytes (or until end of stream) and returns them.
async fn read_n<S: Stream + Unpin>(s: &mut S, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let got = read_exact(s, &mut buf[..]).await?;
    buf.truncate(got);
    Ok(buf)
}

/// Error kinds that mean "the connection is gone", which an operation on a stream
/// whose peer was dropped may report.
fn is_connection_loss(kind: io::ErrorKind) -> bool {
    matches!(
        kind,
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::NotConnected
    )
}
