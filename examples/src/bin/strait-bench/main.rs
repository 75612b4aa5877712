//! `strait-bench`: strait against its peers, in the same run, with ratios.
//!
//! ```text
//! cargo run --release -p strait-examples --bin strait-bench -- SUITE [--quick] [--json FILE]
//! ```
//! Suites: `spawn`, `alloc`, `erasure`, `net`, `all`. Progress goes to stderr; the table to stdout.

mod alloc;
mod erasure;
mod harness;
mod net;
mod spawn;

use harness::Report;

const SUITES: &[&str] = &["spawn", "alloc", "erasure", "net"];

fn usage() -> ! {
    eprintln!(
        "usage: strait-bench SUITE [--quick] [--json FILE] [--only SUBJECT]\n  suites: {} or all",
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
