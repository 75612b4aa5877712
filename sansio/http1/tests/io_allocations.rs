//! Allocations per keep-alive request in the async layer, measured over an in-memory
//! stream with a counting global allocator (the only test in this binary). The state
//! machine allocates nothing, the service borrows the request head (copied into storage
//! the connection reuses), the answer is written into the reused output buffer, and the
//! timer behind the idle timeout reuses its entry: 0 per request (6 when the head was
//! handed over as `http::request::Parts`).

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_streams::{
    block_on, duplex, when_all, write_all, DuplexStream, ReadStreamExt, WriteStreamExt,
};

// The workspace's counting allocator: counts every thread's allocations.
#[global_allocator]
static GLOBAL: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

const WARMUP: usize = 100;
const MEASURED: usize = 1000;
const WINDOWS: usize = 3;
const REQUEST: &[u8] =
    b"GET /plaintext HTTP/1.1\r\nHost: a\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n";

#[test]
fn async_layer_allocations_per_request() {
    let (server_end, mut client_end) = duplex(64 * 1024);
    let mut marks = Vec::with_capacity(WINDOWS + 1);
    let server = async move {
        let headers = HeaderMap::new();
        serve_connection(server_end, async |ex: &mut Exchange<'_, DuplexStream>| {
            ex.respond(StatusCode::OK, &headers, b"Hello, World!").await
        })
        .await
        .map(drop)
    };
    let marks_ref = &mut marks;
    let client = async move {
        let mut buf = [0u8; 4096];
        for i in 0..WARMUP + WINDOWS * MEASURED {
            if i >= WARMUP && (i - WARMUP) % MEASURED == 0 {
                marks_ref.push(strait_conformance::process_allocations() as usize);
            }
            write_all(&mut client_end, REQUEST).await?;
            let mut got = 0;
            while !buf[..got].ends_with(b"Hello, World!") {
                let n = client_end.read(&mut buf[got..]).await?;
                assert!(n > 0);
                got += n;
            }
        }
        marks_ref.push(strait_conformance::process_allocations() as usize);
        client_end.shutdown().await
    };
    block_on(when_all((server, client))).unwrap();
    // The counter sees every thread (the fallback timer's, the harness's), which may
    // allocate now and then under load: the fewest of the windows is the figure.
    let fewest = marks.windows(2).map(|w| w[1] - w[0]).min().unwrap();
    let per_request = fewest as f64 / MEASURED as f64;
    println!(
        "async layer: {per_request:.3} allocations per keep-alive request ({fewest} in {MEASURED})"
    );
    assert_eq!(fewest, 0, "allocations in {MEASURED} keep-alive requests");
}
