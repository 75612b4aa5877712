//! `strait-bench`: strait against its peers, in the same run, with ratios.
//!
//! ```text
//! cargo run --release -p strait-examples --bin strait-bench -- SUITE [--quick] [--json FILE]
//! ```
//! Suites: `spawn`, `alloc`, `erasure`, `net`, `adapters`, `tls`, `http`, `ws`, `all`.
//! Progress goes to stderr; the table to stdout.
//! Each row measures its subjects in interleaved rounds and compares declared
//! like-for-like pairs (see `harness`).

mod adapters;
mod alloc;
mod erasure;
mod harness;
mod http;
mod net;
mod spawn;
mod tls;
mod ws;

use harness::Report;

const SUITES: &[&str] = &[
    "spawn", "alloc", "erasure", "net", "adapters", "tls", "http", "ws",
];

fn usage() -> ! {
    eprintln!(
        "usage: strait-bench SUITE [--quick] [--json FILE] [--only SUBJECT]
  suites: {} or all
  --quick        3 rounds of 100 ms per subject instead of 5 of 300 ms
  --only NAME    only subjects whose name contains NAME
  --json FILE    write every round: {{\"settings\": {{name: value, rounds, round_budget_ms}},
                 \"records\": [{{suite, scenario, subject, metric, unit, value (median), min,
                 max, rounds: [..]}}], \"pairs\": [{{suite, scenario, strait, peer, ratio, tie}}]}}
                 (ratio > 1: strait ahead; tie: the two min-max ranges overlap)",
        SUITES.join(", ")
    );
    std::process::exit(2);
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mut suite = None;
    let mut quick = false;
    let mut json = None;
    let mut only = None;
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--json" => json = Some(args.next().unwrap_or_else(|| usage())),
            "--only" => only = Some(args.next().unwrap_or_else(|| usage())),
            "-h" | "--help" => usage(),
            s if suite.is_none() && (SUITES.contains(&s) || s == "all") => suite = Some(arg),
            _ => usage(),
        }
    }
    let suite = suite.unwrap_or_else(|| usage());
    let mut report = Report::new(quick);
    report.only = only;
    for name in SUITES {
        if suite == "all" || suite == *name {
            match *name {
                "spawn" => spawn::run(&mut report),
                "alloc" => alloc::run(&mut report),
                "erasure" => erasure::run(&mut report),
                "net" => net::run(&mut report),
                "adapters" => adapters::run(&mut report),
                "tls" => tls::run(&mut report),
                "http" => http::run(&mut report),
                "ws" => ws::run(&mut report),
                _ => unreachable!(),
            }
        }
    }
    report.print_table();
    if let Some(path) = json {
        if let Err(e) = report.write_json(&path) {
            eprintln!("strait-bench: cannot write {path}: {e}");
            std::process::exit(1);
        }
        eprintln!("wrote {path}");
    }
}
