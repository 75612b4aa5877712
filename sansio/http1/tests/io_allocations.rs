//! Allocations per keep-alive request in the async layer, measured over an in-memory
//! stream with a counting global allocator (the only test in this binary). The state
//! machine allocates nothing; what remains is `http::request::Parts` (the `Uri` and
//! `HeaderMap` own their bytes) and whatever the timer behind the idle timeout costs.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_streams::{
    block_on, duplex, when_all, write_all, DuplexStream, ReadStreamExt, WriteStreamExt,
};

struct Counting;

static ALLOCS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator; only counts.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const WARMUP: usize = 100;
const MEASURED: usize = 1000;
const REQUEST: &[u8] =
    b"GET /plaintext HTTP/1.1\r\nHost: a\r\nUser-Agent: bench\r\nAccept: */*\r\n\r\n";

#[test]
fn async_layer_allocations_per_request() {
    let (server_end, mut client_end) = duplex(64 * 1024);
    let mut marks = [0usize; 2];
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
        for i in 0..WARMUP + MEASURED {
            if i == WARMUP {
                marks_ref[0] = ALLOCS.load(Ordering::Relaxed);
            }
            write_all(&mut client_end, REQUEST).await?;
            let mut got = 0;
            while !buf[..got].ends_with(b"Hello, World!") {
                let n = client_end.read(&mut buf[got..]).await?;
                assert!(n > 0);
                got += n;
            }
        }
        marks_ref[1] = ALLOCS.load(Ordering::Relaxed);
        client_end.shutdown().await
    };
    block_on(when_all((server, client))).unwrap();
    let per_request = (marks[1] - marks[0]) as f64 / MEASURED as f64;
    println!("async layer: {per_request:.2} allocations per keep-alive request");
    // http::request::Parts: Uri (1), HeaderMap (indices + entries), one per header value.
    assert!(per_request <= 8.0, "{per_request} allocations per request");
}
