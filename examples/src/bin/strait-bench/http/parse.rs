//! The head-parse micro-benchmark: one typical browser request head (about 400 bytes,
//! 8 fields) through strait's server state machine, against `httparse` alone and
//! against `httparse` plus building the `http` types (method, `Uri`, `HeaderMap`) the
//! way hyper's server role does.
//!
//! The split row feeds each head in 64-byte chunks (six pieces, polling after each):
//! the incremental path (the scanner finding the end across reads, then the one-pass
//! tokenizer) as a head split across TCP segments meets it. It used to feed one byte at
//! a time, but that measured two calls per byte (~150 instructions each) rather than
//! parsing — no client sends heads that way but an attacker, and the state machine's
//! answer to one (looking at each byte once, the head timeout) is a correctness
//! property the tests and fuzz targets check, not a rate worth a row.
//!
//! The strait parse rows read a round's requests as one pipelined batch on a fresh
//! connection (`max_pipelined` raised to the batch) and answer none, so they measure
//! parsing (request and end-of-message events, the head's fields summarized for
//! framing and the target checked) plus that connection's set-up spread over the
//! batch. `strait-proto parse+answer` is the whole keep-alive cycle: parse, then the
//! smallest answer (`200`, empty body, no Date) into a reused buffer.

use std::hint::black_box;
use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri};
use strait_http1::proto::{BodyLength, Event, Limits, ServerConfig, ServerConnection};

use crate::harness::{ns_per_op, Better, Report};

use super::SUITE;

/// A browser's GET, as wrk and the TechEmpower harness send it, give or take.
const HEAD: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: localhost:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
Cookie: session=4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a\r\n\
Upgrade-Insecure-Requests: 1\r\n\
\r\n";

/// Requests per timed round.
const PER_ROUND: u64 = 1000;

/// Feeds `HEAD` to `conn` (`step` bytes at a time, polling after each) and takes the
/// request and its end.
fn strait_parse(conn: &mut ServerConnection, now: Instant, step: usize) {
    let mut seen = false;
    for piece in HEAD.chunks(step) {
        let taken = conn.handle_input(now, piece);
        debug_assert_eq!(taken, piece.len());
        while let Some(event) = conn.poll_event().expect("a valid request") {
            match event {
                Event::Request(head) => {
                    black_box((head.method(), head.target(), head.headers().len()));
                    seen = true;
                }
                Event::EndOfMessage => break,
                _ => {}
            }
        }
    }
    assert!(seen, "the request was not parsed");
}

/// Parses `HEAD` and answers it.
fn strait_cycle(conn: &mut ServerConnection, now: Instant, out: &mut Vec<u8>) {
    strait_parse(conn, now, HEAD.len());
    out.clear();
    conn.send_response(
        now,
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Empty,
        out,
    )
    .expect("an answer is owed");
    conn.send_end(None, out).expect("the answer ends");
    black_box(&out);
}

/// Parse only: each round's requests pipelined on a fresh connection.
fn strait(step: usize) -> impl FnMut(std::time::Duration) -> f64 {
    move |budget| {
        let now = Instant::now();
        let config = ServerConfig {
            limits: Limits::default().max_pipelined(PER_ROUND as usize),
            ..Default::default()
        };
        ns_per_op(budget, PER_ROUND, || {
            let mut conn = ServerConnection::new(config, now);
            for _ in 0..PER_ROUND {
                strait_parse(&mut conn, now, step);
            }
            black_box(&conn);
        })
    }
}

/// Parse and answer, on one keep-alive connection.
fn strait_keep_alive(budget: std::time::Duration) -> f64 {
    let now = Instant::now();
    let mut conn = ServerConnection::new(Default::default(), now);
    let mut out = Vec::with_capacity(256);
    ns_per_op(budget, PER_ROUND, || {
        for _ in 0..PER_ROUND {
            strait_cycle(&mut conn, now, &mut out);
        }
    })
}

fn httparse_only(budget: std::time::Duration) -> f64 {
    ns_per_op(budget, PER_ROUND, || {
        for _ in 0..PER_ROUND {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            let status = req.parse(black_box(HEAD)).expect("a valid request");
            assert!(status.is_complete());
            black_box((req.method, req.path, req.headers.len()));
        }
    })
}

/// httparse, then the `http` types a hyper service receives.
fn httparse_http(budget: std::time::Duration) -> f64 {
    ns_per_op(budget, PER_ROUND, || {
        for _ in 0..PER_ROUND {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut req = httparse::Request::new(&mut headers);
            let status = req.parse(black_box(HEAD)).expect("a valid request");
            assert!(status.is_complete());
            let method = Method::from_bytes(req.method.unwrap_or("").as_bytes()).expect("method");
            let uri: Uri = req.path.unwrap_or("/").parse().expect("uri");
            let mut map = HeaderMap::with_capacity(req.headers.len());
            for h in req.headers.iter() {
                let name = HeaderName::from_bytes(h.name.as_bytes()).expect("name");
                let value = HeaderValue::from_bytes(h.value).expect("value");
                map.append(name, value);
            }
            black_box((method, uri, map));
        }
    })
}

pub fn run(report: &mut Report) {
    let scenario = format!("head parse ({} B, 8 fields)", HEAD.len());
    report
        .row(SUITE, &scenario, "time per request", "ns", Better::Lower)
        .subject("strait-proto one chunk", strait(HEAD.len()))
        .subject("strait-proto 64-byte chunks", strait(64))
        .subject("strait-proto parse+answer", strait_keep_alive)
        .subject("httparse", httparse_only)
        .subject("httparse+http types", httparse_http)
        // Goal: strait within 1.2× of httparse alone (ratio >= 0.83) ...
        .pair("strait-proto one chunk", "httparse")
        .pair("strait-proto one chunk", "httparse+http types")
        // ... and a head in 64-byte chunks within 2× of one chunk (ratio >= 0.5).
        .pair("strait-proto 64-byte chunks", "strait-proto one chunk")
        .run(report);
}
