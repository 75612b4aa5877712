//! Suite `http`: the `http-server` example (its own service code, included from
//! `src/bin/http-server.rs`) on strait-native against hyper 1.x on tokio serving the
//! same routes, under the same load generator (see [`load`]), over loopback; and the
//! head-parse micro-benchmark (see [`parse`]).
//!
//! Scenarios (answers are `GET /plaintext` → `Hello, World!`): 50 keep-alive
//! connections with 1 request in flight; 50 connections pipelining 16; 50 connections
//! each closed after 10 requests (churn). Each gives requests/s (higher is better) and
//! p99 latency (lower is better) from the same runs.
//!
//! Like-for-like pairs: strait-native on one single-threaded context against hyper on
//! tokio current_thread; one strait context run by 2 threads against tokio
//! multi_thread with 2 workers; 2 single-threaded strait contexts with `SO_REUSEPORT`
//! listeners against 2 tokio current_thread runtimes likewise (the shape of the
//! fastest public hyper entries); and the same strait service on tokio current_thread
//! through `strait-tokio` against hyper there (what the driver costs). Every server: `TCP_NODELAY`, backlog 1024; hyper with
//! `pipeline_flush(true)`. Threads are pinned (see [`pin`]): the load generator on the
//! last CPU, server threads on the CPUs before it, alike for both sides (on a 2-core
//! machine the 2-thread servers share a CPU with the generator).

#[allow(dead_code, unreachable_pub)]
#[path = "../../http-server.rs"]
mod http_server;
mod load;
mod parse;
mod pin;
mod servers;

use std::io;
use std::time::Duration;

use crate::harness::{Better, Report};
use load::Load;

const SUITE: &str = "http";

/// Who serves.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Server {
    Strait,
    Strait2Runners,
    StraitPerCore2,
    StraitOnTokio,
    HyperCurrentThread,
    HyperMultiThread2,
    HyperPerCore2,
}

use Server::*;

const SERVERS: [Server; 7] = [
    Strait,
    HyperCurrentThread,
    StraitOnTokio,
    Strait2Runners,
    HyperMultiThread2,
    StraitPerCore2,
    HyperPerCore2,
];

const PAIRS: [(Server, Server); 4] = [
    (Strait, HyperCurrentThread),
    (StraitOnTokio, HyperCurrentThread),
    (Strait2Runners, HyperMultiThread2),
    (StraitPerCore2, HyperPerCore2),
];

impl Server {
    fn name(self) -> &'static str {
        match self {
            Strait => "strait-native",
            Strait2Runners => "strait-native-2runners",
            StraitPerCore2 => "strait-native-reuseport-2",
            StraitOnTokio => "strait-on-tokio-current_thread",
            HyperCurrentThread => "hyper-tokio-current_thread",
            HyperMultiThread2 => "hyper-tokio-multi_thread-2",
            HyperPerCore2 => "hyper-tokio-reuseport-2",
        }
    }

    fn start(self) -> io::Result<servers::Running> {
        match self {
            Strait => servers::strait_single(),
            Strait2Runners => servers::strait_runners(2),
            StraitPerCore2 => servers::strait_per_core(2),
            StraitOnTokio => servers::strait_on_tokio(),
            HyperCurrentThread => servers::hyper(0),
            HyperMultiThread2 => servers::hyper(2),
            HyperPerCore2 => servers::hyper_per_core(2),
        }
    }
}

/// `STRAIT_BENCH_HTTP_PROBE=SCENARIO/SERVER`: only the load rows whose scenario contains
/// `SCENARIO`, only the server named `SERVER` — a run to profile (under callgrind or
/// `strace -c -f`), not to quote. The answers served (warm-up included) are printed.
fn probe() -> Option<(String, String)> {
    let v = std::env::var("STRAIT_BENCH_HTTP_PROBE").ok()?;
    let (scenario, server) = v.split_once('/')?;
    Some((scenario.to_owned(), server.to_owned()))
}

pub fn run(report: &mut Report) {
    let probe = probe();
    if probe.is_none() {
        parse::run(report);
    }
    let shapes = [
        (
            "50 conns keep-alive",
            Load {
                connections: 50,
                depth: 1,
                per_connection: None,
            },
        ),
        (
            "50 conns pipelined x16",
            Load {
                connections: 50,
                depth: 16,
                per_connection: None,
            },
        ),
        (
            "50 conns close every 10",
            Load {
                connections: 50,
                depth: 1,
                per_connection: Some(10),
            },
        ),
    ];
    for (scenario, shape) in shapes {
        if probe
            .as_ref()
            .is_some_and(|(p, _)| !scenario.contains(p.as_str()))
        {
            continue;
        }
        load_row(report, scenario, shape);
    }
}

/// One load shape: every wanted server in interleaved rounds; requests/s and p99
/// latency rows from the same runs.
fn load_row(report: &mut Report, scenario: &str, shape: Load) {
    let budget = report.budget();
    let warmup = budget / 5;
    let servers: Vec<Server> = SERVERS
        .into_iter()
        .filter(|s| report.wants(s.name()))
        .filter(|s| probe().is_none_or(|(_, server)| s.name() == server))
        .collect();
    let mut rates = vec![Vec::new(); servers.len()];
    let mut p99s = vec![Vec::new(); servers.len()];
    for round in 0..report.rounds() {
        for (i, &s) in servers.iter().enumerate() {
            report.progress(
                SUITE,
                &format!("{scenario} (round {})", round + 1),
                s.name(),
            );
            let (rate, p99) = match measure(s, shape, warmup, budget) {
                Ok(v) => v,
                Err(e) => {
                    eprintln!("failed: {e}");
                    (f64::NAN, f64::NAN)
                }
            };
            eprintln!("{rate:.0} req/s, p99 {p99:.0} µs");
            if probe().is_some() {
                eprintln!("{} answers in all so far", load::answered());
            }
            rates[i].push(rate);
            p99s[i].push(p99);
        }
    }
    let p99_row = format!("{scenario} p99");
    for (i, &s) in servers.iter().enumerate() {
        report.push_rounds(
            SUITE,
            scenario,
            s.name(),
            "requests",
            "1/s",
            Better::Higher,
            rates[i].clone(),
        );
        report.push_rounds(
            SUITE,
            &p99_row,
            s.name(),
            "latency p99",
            "µs",
            Better::Lower,
            p99s[i].clone(),
        );
    }
    for (a, b) in PAIRS {
        report.add_pair(SUITE, scenario, a.name(), b.name());
        report.add_pair(SUITE, &p99_row, a.name(), b.name());
    }
}

/// Starts `server`, drives `shape` against it, stops it: (requests/s, p99 µs).
fn measure(
    server: Server,
    shape: Load,
    warmup: Duration,
    budget: Duration,
) -> io::Result<(f64, f64)> {
    let running = server.start()?;
    let addr = running.addr;
    let outcome = std::thread::Builder::new()
        .name("load-generator".into())
        .spawn(move || {
            pin::generator();
            load::run(addr, shape, warmup, budget)
        })?
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("the load generator panicked")));
    running.stop();
    let mut outcome = outcome?;
    Ok((outcome.rate, outcome.quantile_us(0.99)))
}
