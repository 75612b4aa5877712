//! Head parsing under callgrind: one function, `measure`, parses a head `n` times, so
//! its instruction count divided by `n` is the cost of one head, free of start-up.
//!
//! ```text
//! cargo build --release -p strait-http1 --example head_cost
//! valgrind --tool=callgrind --toggle-collect='head_cost::measure*' \
//!     target/release/examples/head_cost <subject> <head> 1000
//! ```
//!
//! Subjects: `strait` (the state machine, each head in one chunk), `strait64` (in
//! 64-byte chunks), `strait16` (16-byte chunks), `strait1` (a byte at a time), `httparse` (httparse alone, into 32
//! header slots, as the strait-bench `http` parse rows do). Heads: `short` (a GET with
//! one field), `browser` (the strait-bench head: a browser's GET with 8 fields),
//! `response` (a response head with 5 fields, parsed by the client).

use std::hint::black_box;
use std::time::Instant;

use http::{HeaderMap, Method};
use strait_http1::proto::{
    BodyLength, ClientConnection, Event, Limits, ServerConfig, ServerConnection,
};

const SHORT: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: localhost:8080\r\n\r\n";

/// The strait-bench `http` parse head.
const BROWSER: &[u8] = b"GET /plaintext HTTP/1.1\r\n\
Host: localhost:8080\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0\r\n\
Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8\r\n\
Accept-Language: en-US,en;q=0.5\r\n\
Accept-Encoding: gzip, deflate, br\r\n\
Connection: keep-alive\r\n\
Cookie: session=4f1c2a9e8b7d6c5e4f3a2b1c0d9e8f7a\r\n\
Upgrade-Insecure-Requests: 1\r\n\
\r\n";

const RESPONSE: &[u8] = b"HTTP/1.1 200 OK\r\n\
Server: strait\r\n\
Date: Mon, 30 Nov 2026 12:00:00 GMT\r\n\
Content-Type: text/plain; charset=utf-8\r\n\
Cache-Control: no-store\r\n\
Content-Length: 0\r\n\
\r\n";

fn serve(conn: &mut ServerConnection, now: Instant, head: &[u8], step: usize) {
    let mut seen = false;
    for piece in head.chunks(step) {
        conn.handle_input(now, piece);
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
    assert!(seen);
}

fn receive(conn: &mut ClientConnection, now: Instant, head: &[u8], step: usize) {
    let mut seen = false;
    for piece in head.chunks(step) {
        conn.handle_input(now, piece);
        while let Some(event) = conn.poll_event().expect("a valid response") {
            match event {
                Event::Response(head) => {
                    black_box((head.status(), head.headers().len()));
                    seen = true;
                }
                Event::EndOfMessage => break,
                _ => {}
            }
        }
    }
    assert!(seen);
}

#[inline(never)]
fn measure_server(conn: &mut ServerConnection, head: &[u8], step: usize, n: usize) {
    let now = Instant::now();
    for _ in 0..n {
        serve(conn, now, black_box(head), step);
    }
}

#[inline(never)]
fn measure_client(conn: &mut ClientConnection, head: &[u8], step: usize, n: usize) {
    let now = Instant::now();
    for _ in 0..n {
        receive(conn, now, black_box(head), step);
    }
}

#[inline(never)]
fn measure_httparse(head: &[u8], response: bool, n: usize) {
    for _ in 0..n {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        if response {
            let mut res = httparse::Response::new(&mut headers);
            let status = res.parse(black_box(head)).expect("a valid response");
            assert!(status.is_complete());
            black_box((res.code, res.headers.len()));
        } else {
            let mut req = httparse::Request::new(&mut headers);
            let status = req.parse(black_box(head)).expect("a valid request");
            assert!(status.is_complete());
            black_box((req.method, req.path, req.headers.len()));
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let usage =
        "usage: head_cost strait|strait64|strait16|strait1|httparse short|browser|response N";
    let [_, subject, head, n] = &args[..] else {
        panic!("{usage}")
    };
    let n: usize = n.parse().expect(usage);
    let (head, response) = match head.as_str() {
        "short" => (SHORT, false),
        "browser" => (BROWSER, false),
        "response" => (RESPONSE, true),
        _ => panic!("{usage}"),
    };
    let step = match subject.as_str() {
        "httparse" => return measure_httparse(head, response, n),
        "strait" => head.len(),
        "strait64" => 64,
        "strait16" => 16,
        "strait1" => 1,
        _ => panic!("{usage}"),
    };
    let limits = Limits::default().max_pipelined(n.max(1));
    if response {
        let mut conn = ClientConnection::new(limits);
        let mut out = Vec::new();
        for _ in 0..n {
            let h = HeaderMap::new();
            conn.send_request(&Method::GET, "/", "x", &h, BodyLength::Empty, &mut out)
                .expect("a request");
            conn.send_end(None, &mut out).expect("its end");
        }
        measure_client(&mut conn, head, step, n);
    } else {
        let config = ServerConfig {
            limits,
            ..Default::default()
        };
        let mut conn = ServerConnection::new(config, Instant::now());
        measure_server(&mut conn, head, step, n);
    }
}
