//! Zero allocations per keep-alive request/response in steady state, counted with a
//! counting global allocator (the only test in this binary, so nothing else counts).

use std::time::{Duration, Instant, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use strait_http1::proto::{
    BodyLength, ClientConnection, Event, Limits, ServerConfig, ServerConnection,
};

// The workspace's counting allocator: counts every thread's allocations.
#[global_allocator]
static GLOBAL: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

const REQUESTS: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: a\r\nUser-Agent: test\r\nAccept: */*\r\n\r\n\
POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello\
POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nX-T: 1\r\n\r\n";

fn serve_round(
    server: &mut ServerConnection,
    now: Instant,
    out: &mut Vec<u8>,
    headers: &HeaderMap,
) -> usize {
    out.clear();
    let mut offset = 0;
    let mut answered = 0;
    while answered < 3 {
        offset += server.handle_input(now, &REQUESTS[offset..]);
        let mut body_len = 0;
        let mut ended = false;
        while let Some(ev) = server.poll_event().unwrap() {
            match ev {
                Event::Data(d) => body_len += d.len(),
                Event::EndOfMessage => {
                    ended = true;
                    break;
                }
                _ => {}
            }
        }
        if ended {
            server
                .send_response(now, StatusCode::OK, headers, BodyLength::Known(13), out)
                .unwrap();
            server.send_data(b"Hello, World!", out).unwrap();
            server.send_end(None, out).unwrap();
            answered += 1;
            std::hint::black_box(body_len);
        }
    }
    out.len()
}

fn client_round(client: &mut ClientConnection, now: Instant, out: &mut Vec<u8>, response: &[u8]) {
    out.clear();
    client
        .send_request(
            &Method::GET,
            "/plaintext",
            "a",
            &HeaderMap::new(),
            BodyLength::Empty,
            out,
        )
        .unwrap();
    client.send_end(None, out).unwrap();
    client.handle_input(now, response);
    let mut n = 0;
    while let Some(ev) = client.poll_event().unwrap() {
        if let Event::Data(d) = ev {
            n += d.len();
        }
    }
    assert_eq!(n, 13);
}

#[test]
fn steady_state_keep_alive_allocates_nothing() {
    let t0 = Instant::now();
    let config = ServerConfig {
        date_anchor: Some((t0, UNIX_EPOCH + Duration::from_secs(1_700_000_000))),
        ..Default::default()
    };
    let mut server = ServerConnection::new(config, t0);
    let mut client = ClientConnection::new(Limits::default());
    let mut out = Vec::with_capacity(4096);
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    headers.insert("server", HeaderValue::from_static("strait"));
    let response =
        b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\ncontent-type: text/plain\r\n\r\nHello, World!";
    for i in 0..10 {
        serve_round(
            &mut server,
            t0 + Duration::from_millis(i),
            &mut out,
            &headers,
        );
        client_round(&mut client, t0, &mut out, response);
    }
    assert!(
        strait_conformance::process_allocations() > 0,
        "the counter sees the warm-up growing buffers"
    );
    // The counter sees every thread: the test harness's own threads may allocate now
    // and then (seen under load), so the fewest of three windows is the figure.
    let mut fewest = usize::MAX;
    let mut step = 0u64;
    for _ in 0..3 {
        let before = strait_conformance::process_allocations() as usize;
        for _ in 0..1000u64 {
            // Time moves on so the Date cache re-renders (in place) every second.
            let now = t0 + Duration::from_millis(10 + step * 7);
            step += 1;
            serve_round(&mut server, now, &mut out, &headers);
            client_round(&mut client, now, &mut out, response);
        }
        let after = strait_conformance::process_allocations() as usize;
        fewest = fewest.min(after - before);
    }
    assert_eq!(
        fewest, 0,
        "allocations in 3000 server and 1000 client exchanges"
    );
}
