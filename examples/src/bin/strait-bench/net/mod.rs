//! Suite `net`: the Corosio benchmark shapes over loopback TCP (nodelay, linger 0) —
//! ping-pong latency, 16 concurrent pairs, unidirectional and bidirectional throughput
//! (and, strait only, a reader pulling through `BufferSource`),
//! timer schedule/cancel and fire rate, sequential accept churn — for strait-native
//! against tokio (current_thread, multi_thread with 2 workers) and smol, in the same
//! run. Client and server run in the same runtime; one module per runtime.
//!
//! strait-native runs on each of its backends: `strait-native` is epoll,
//! `strait-native-io_uring` the ring (both asked for explicitly, whatever
//! `STRAIT_NATIVE_BACKEND` says). The row "reactor kernel calls" counts, from
//! `IoContext::stats`, what each backend's reactor asks of the kernel per round trip.
//!
//! Rows "…: reads completed inline" give, per io_uring subject, the share of reads
//! that found their data already received (`IoStats::inline_read_fraction`: TCP on
//! io_uring is completion I/O, so these subjects run the completion path). "idle
//! memory" opens 10 000 idle loopback connections (2 000 with `--quick`) on each
//! backend and reports live heap and RSS per connection (client and server socket),
//! each measured in a fresh child process.
//!
//! Like-for-like pairs: strait-native (each backend) on one thread against tokio
//! current_thread and smol (one thread); strait-native (each backend) on two runner
//! threads against tokio multi_thread with two workers (multi-connection rows); and
//! io_uring against epoll, on one thread and on two. tokio multi_thread is also
//! measured on the single-connection rows, for reference, without a pair.

mod peer_smol;
mod peer_tokio;
mod strait;
mod zero_copy;

use std::io;
use std::time::Duration;

use strait_native::Backend;

use crate::harness::{Better, Report};

const SUITE: &str = "net";
const LOOPBACK: &str = "127.0.0.1:0";

/// Round-trip latencies of one ping-pong run.
pub struct Latencies(Vec<Duration>);

impl Latencies {
    fn mean_ns(&self) -> f64 {
        self.0.iter().map(|d| d.as_nanos() as f64).sum::<f64>() / self.0.len() as f64
    }
    fn pct_ns(&mut self, p: f64) -> f64 {
        self.0.sort_unstable();
        let i = ((self.0.len() as f64 - 1.0) * p).round() as usize;
        self.0[i].as_nanos() as f64
    }
}

/// Who runs a scenario.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Subject {
    /// strait-native (epoll) on one thread.
    Strait,
    /// strait-native (epoll), one context run by two threads (multi-connection rows).
    Strait2,
    /// strait-native on io_uring, one thread.
    StraitUring,
    /// strait-native on io_uring, two runner threads (multi-connection rows).
    StraitUring2,
    TokioCurrentThread,
    TokioMultiThread2,
    Smol,
}

use Subject::*;

impl Subject {
    fn name(self) -> &'static str {
        match self {
            Strait => "strait-native",
            Strait2 => "strait-native-2threads",
            StraitUring => "strait-native-io_uring",
            StraitUring2 => "strait-native-io_uring-2threads",
            TokioCurrentThread => "tokio-current_thread",
            TokioMultiThread2 => "tokio-multi_thread-2",
            Smol => "smol",
        }
    }

    /// The backend of a strait subject.
    fn backend(self) -> Backend {
        match self {
            StraitUring | StraitUring2 => Backend::IoUring,
            _ => Backend::Epoll,
        }
    }

    fn tokio(self) -> io::Result<tokio::runtime::Runtime> {
        peer_tokio::runtime(if self == TokioMultiThread2 { 2 } else { 0 })
    }
}

const SINGLE: [Subject; 5] = [
    Strait,
    StraitUring,
    TokioCurrentThread,
    TokioMultiThread2,
    Smol,
];
const MULTI: [Subject; 7] = [
    Strait,
    StraitUring,
    Strait2,
    StraitUring2,
    TokioCurrentThread,
    TokioMultiThread2,
    Smol,
];

pub fn run(report: &mut Report) {
    idle_memory_child();
    let budget = report.budget();
    // Round trips per ping-pong round (several rounds per row).
    let trips = if report.quick { 2_000 } else { 6_000 };

    for size in [1usize, 64, 1024] {
        pingpong(report, size, trips);
    }
    // Load-independent: what each backend asks of the kernel per request (lower is
    // better), beside the latencies above.
    let mut row = report.row(
        SUITE,
        "ping-pong 64 B reactor kernel calls",
        "calls per round trip",
        "calls",
        Better::Lower,
    );
    for s in [Strait, StraitUring] {
        row = row.subject(s.name(), move |_budget| {
            strait::reactor_calls_per_trip(s.backend(), 64, trips).unwrap_or_else(|e| {
                eprintln!("failed: {e}");
                f64::NAN
            })
        });
    }
    // No pair: io_uring's figure is 0 on a busy connection (the completions arrive on
    // the ring without a wait), which makes a ratio meaningless.
    row.run(report);
    measure(
        report,
        "16 pairs ping-pong 64 B",
        "round trips",
        "1/s",
        &MULTI,
        |s| match s {
            Strait | StraitUring => strait::pairs(s.backend(), 1, 16, 64, budget),
            Strait2 | StraitUring2 => strait::pairs(s.backend(), 2, 16, 64, budget),
            TokioCurrentThread | TokioMultiThread2 => {
                peer_tokio::pairs(&s.tokio()?, 16, 64, budget)
            }
            Smol => peer_smol::pairs(16, 64, budget),
        },
    );
    for (label, chunk) in [
        ("1 KiB", 1024usize),
        ("64 KiB", 64 * 1024),
        ("1 MiB", 1 << 20),
    ] {
        let scenario = format!("unidirectional {label} writes");
        measure(report, &scenario, "throughput", "MiB/s", &SINGLE, |s| {
            mib(match s {
                Strait | Strait2 | StraitUring | StraitUring2 => {
                    strait::unidirectional(s.backend(), budget, chunk)
                }
                TokioCurrentThread | TokioMultiThread2 => {
                    peer_tokio::unidirectional(&s.tokio()?, budget, chunk)
                }
                Smol => peer_smol::unidirectional(budget, chunk),
            })
        });
        let scenario = format!("bidirectional {label} writes");
        measure(report, &scenario, "throughput", "MiB/s", &SINGLE, |s| {
            mib(match s {
                Strait | Strait2 | StraitUring | StraitUring2 => {
                    strait::bidirectional(s.backend(), budget, chunk)
                }
                TokioCurrentThread | TokioMultiThread2 => {
                    peer_tokio::bidirectional(&s.tokio()?, budget, chunk)
                }
                Smol => peer_smol::bidirectional(budget, chunk),
            })
        });
    }
    pull_throughput(report, budget);
    zero_copy::run(report);
    measure(
        report,
        "timer schedule+cancel",
        "rate",
        "1/s",
        &SINGLE,
        |s| match s {
            Strait | Strait2 | StraitUring | StraitUring2 => {
                strait::timer_churn(s.backend(), budget)
            }
            TokioCurrentThread | TokioMultiThread2 => peer_tokio::timer_churn(&s.tokio()?, budget),
            Smol => peer_smol::timer_churn(budget),
        },
    );
    let timers = if report.quick { 20_000 } else { 50_000 };
    let scenario = format!("timer fire ({timers} tasks)");
    measure(report, &scenario, "rate", "1/s", &SINGLE, |s| match s {
        Strait | Strait2 | StraitUring | StraitUring2 => strait::timer_fire(s.backend(), timers),
        TokioCurrentThread | TokioMultiThread2 => peer_tokio::timer_fire(&s.tokio()?, timers),
        Smol => peer_smol::timer_fire(timers),
    });
    measure(
        report,
        "sequential accept churn",
        "rate",
        "conn/s",
        &SINGLE,
        |s| match s {
            Strait | Strait2 | StraitUring | StraitUring2 => {
                strait::accept_churn(s.backend(), budget)
            }
            TokioCurrentThread | TokioMultiThread2 => peer_tokio::accept_churn(&s.tokio()?, budget),
            Smol => peer_smol::accept_churn(budget),
        },
    );
    // Both ends live in the measuring process (two descriptors per connection): where
    // the hard descriptor limit is 20 000 (as on this project's machines) that caps the
    // full run just under 10 000.
    let wanted = if report.quick { 2_000 } else { 10_000 };
    idle_memory(report, wanted.min(strait::idle_connections_allowed()));
}

fn mib(bytes_per_sec: io::Result<f64>) -> io::Result<f64> {
    bytes_per_sec.map(|b| b / (1 << 20) as f64)
}

/// The like-for-like pairs among `subjects`.
fn pairs(subjects: &[Subject]) -> Vec<(Subject, Subject)> {
    let mut pairs = vec![
        (Strait, TokioCurrentThread),
        (Strait, Smol),
        (StraitUring, TokioCurrentThread),
        (StraitUring, Smol),
        // io_uring ÷ epoll.
        (StraitUring, Strait),
    ];
    if subjects.contains(&Strait2) {
        pairs.push((Strait2, TokioMultiThread2));
        pairs.push((StraitUring2, TokioMultiThread2));
        pairs.push((StraitUring2, Strait2));
    }
    pairs
}

/// Measures `f` for each wanted subject in interleaved rounds and records a rate
/// (higher is better). A failed measurement is reported and recorded as NaN.
fn measure(
    report: &mut Report,
    scenario: &str,
    metric: &'static str,
    unit: &'static str,
    subjects: &[Subject],
    f: impl Fn(Subject) -> io::Result<f64>,
) {
    let f = &f;
    let inline = &Inline::default();
    let mut row = report.row(SUITE, scenario, metric, unit, Better::Higher);
    for &s in subjects {
        row = row.subject(s.name(), move |_budget| {
            let v = f(s).unwrap_or_else(|e| {
                eprintln!("failed: {e}");
                f64::NAN
            });
            inline.note(s);
            v
        });
    }
    for (a, b) in pairs(subjects) {
        row = row.pair(a.name(), b.name());
    }
    row.run(report);
    inline.report(report, scenario);
}

/// The share of reads that completed inline, per io_uring subject and round of a row
/// (from `IoContext::stats`): reported as a row of its own beside the row's figures.
#[derive(Default)]
struct Inline(std::cell::RefCell<Vec<(Subject, Vec<f64>)>>);

impl Inline {
    /// Takes the share the subject's last run recorded (io_uring subjects only).
    fn note(&self, s: Subject) {
        let Some(v) = strait::take_inline() else {
            return;
        };
        let mut all = self.0.borrow_mut();
        match all.iter_mut().find(|(t, _)| *t == s) {
            Some((_, rounds)) => rounds.push(v),
            None => all.push((s, vec![v])),
        }
    }

    fn report(&self, report: &mut Report, scenario: &str) {
        let row = format!("{scenario}: reads completed inline");
        for (s, rounds) in self.0.take() {
            report.push_rounds(
                SUITE,
                &row,
                s.name(),
                "share of reads",
                "%",
                Better::Higher,
                rounds,
            );
        }
    }
}

/// Ping-pong rows (mean, p50, p99 latency) from the same interleaved runs.
fn pingpong(report: &mut Report, size: usize, n: usize) {
    let scenario = format!("ping-pong {size} B");
    let rows = [
        (scenario.clone(), "latency mean"),
        (format!("{scenario} p50"), "latency p50"),
        (format!("{scenario} p99"), "latency p99"),
    ];
    let subjects: Vec<Subject> = SINGLE
        .into_iter()
        .filter(|s| report.wants(s.name()))
        .collect();
    let mut values = vec![[Vec::new(), Vec::new(), Vec::new()]; subjects.len()];
    let inline = Inline::default();
    for round in 0..report.rounds() {
        for (i, &s) in subjects.iter().enumerate() {
            report.progress(
                SUITE,
                &format!("{scenario} (round {})", round + 1),
                s.name(),
            );
            let lat = match s {
                Strait | Strait2 | StraitUring | StraitUring2 => {
                    let lat = strait::pingpong(s.backend(), size, n);
                    inline.note(s);
                    lat
                }
                TokioCurrentThread | TokioMultiThread2 => {
                    s.tokio().and_then(|rt| peer_tokio::pingpong(&rt, size, n))
                }
                Smol => peer_smol::pingpong(size, n),
            };
            let [mean, p50, p99] = match lat {
                Ok(mut lat) => [lat.mean_ns(), lat.pct_ns(0.5), lat.pct_ns(0.99)],
                Err(e) => {
                    eprintln!("failed: {e}");
                    [f64::NAN; 3]
                }
            };
            eprintln!("mean {mean:.0} ns, p50 {p50:.0} ns, p99 {p99:.0} ns");
            for (slot, v) in values[i].iter_mut().zip([mean, p50, p99]) {
                slot.push(v);
            }
        }
    }
    for (k, (row, metric)) in rows.iter().enumerate() {
        for (i, &s) in subjects.iter().enumerate() {
            report.push_rounds(
                SUITE,
                row,
                s.name(),
                metric,
                "ns",
                Better::Lower,
                values[i][k].clone(),
            );
        }
        for (a, b) in pairs(&SINGLE) {
            report.add_pair(SUITE, row, a.name(), b.name());
        }
    }
    inline.report(report, &scenario);
}

/// Unidirectional 64 KiB writes drained through `BufferSource` (pull, consume) on each
/// strait backend: on io_uring the window is the received buffer itself (zero copy),
/// on epoll the stream's own stage filled by one read. The bytes are not touched on
/// either. io_uring against epoll only: the peers have no such reader.
fn pull_throughput(report: &mut Report, budget: Duration) {
    let scenario = "unidirectional 64 KiB writes, pulling reader (BufferSource)";
    let mut row = report.row(SUITE, scenario, "throughput", "MiB/s", Better::Higher);
    for s in [Strait, StraitUring] {
        row = row.subject(s.name(), move |_budget| {
            mib(strait::unidirectional_pull(s.backend(), budget, 64 * 1024)).unwrap_or_else(|e| {
                eprintln!("failed: {e}");
                f64::NAN
            })
        });
    }
    row.pair(StraitUring.name(), Strait.name()).run(report);
}

/// Memory per idle connection on each backend (io_uring's shared buffer ring against
/// epoll's per-read buffers): live heap and RSS, in bytes per connection. Each figure
/// comes from a fresh child process (this binary again, told by [`IDLE_CHILD`]), so
/// RSS is not flattered by pages earlier rows freed and the allocator kept.
fn idle_memory(report: &mut Report, n: usize) {
    let scenario = format!("idle memory ({n} connections)");
    for (metric, rss) in [
        ("live heap per connection", false),
        ("RSS per connection", true),
    ] {
        let mut row = report.row(SUITE, &scenario, metric, "bytes", Better::Lower);
        for s in [Strait, StraitUring] {
            row = row.subject(s.name(), move |_budget| {
                match idle_memory_in_child(s.backend(), n) {
                    Ok((heap, rss_bytes)) => {
                        if rss {
                            rss_bytes
                        } else {
                            heap
                        }
                    }
                    Err(e) => {
                        eprintln!("failed: {e}");
                        f64::NAN
                    }
                }
            });
        }
        row.pair(StraitUring.name(), Strait.name()).run(report);
    }
}

/// Set to `epoll:N` or `io_uring:N`, `strait-bench net` only measures the idle memory
/// of N connections on that backend and prints `heap rss` (bytes per connection).
const IDLE_CHILD: &str = "STRAIT_BENCH_IDLE_MEMORY";

/// Runs [`strait::idle_memory`] in a fresh process.
fn idle_memory_in_child(backend: Backend, n: usize) -> io::Result<(f64, f64)> {
    let name = if backend == Backend::IoUring {
        "io_uring"
    } else {
        "epoll"
    };
    let out = std::process::Command::new(std::env::current_exe()?)
        .arg(SUITE)
        .env(IDLE_CHILD, format!("{name}:{n}"))
        .stderr(std::process::Stdio::inherit())
        .output()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut fields = text.split_whitespace().map(str::parse::<f64>);
    match (out.status.success(), fields.next(), fields.next()) {
        (true, Some(Ok(heap)), Some(Ok(rss))) => Ok((heap, rss)),
        _ => Err(io::Error::other(format!(
            "idle-memory child failed ({}): {text}",
            out.status
        ))),
    }
}

/// In a child started by [`idle_memory_in_child`]: measures, prints, exits.
fn idle_memory_child() {
    let Ok(spec) = std::env::var(IDLE_CHILD) else {
        return;
    };
    let (backend, n) = spec.split_once(':').unwrap_or((&spec, "0"));
    let backend = if backend == "io_uring" {
        Backend::IoUring
    } else {
        Backend::Epoll
    };
    match strait::idle_memory(backend, n.parse().unwrap_or(0)) {
        Ok((heap, rss)) => {
            println!("{heap} {rss}");
            std::process::exit(0);
        }
        Err(e) => {
            eprintln!("idle memory: {e}");
            std::process::exit(1);
        }
    }
}
