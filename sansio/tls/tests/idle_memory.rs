//! Memory held by an idle TLS connection (client and server ends, after the handshake
//! and one exchange), measured with a byte-counting allocator, the transport's share
//! subtracted, and bounded so a regression shows. The figure is printed; the
//! side-by-side comparison with tokio-rustls belongs to `strait-bench tls`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};

mod common;

use common::*;
use strait_streams::block_on;

/// Counts live heap bytes on every thread.
struct LiveBytes;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for LiveBytes {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: the caller's contract is System's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        // SAFETY: the caller's contract is System's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: LiveBytes = LiveBytes;

#[test]
fn an_idle_connection_holds_little_memory() {
    let ca = Ca::new("test CA");
    let (client, server) = (client_ctx(&ca), server_ctx(ca.issue(&["localhost"])));
    const N: usize = 32;
    block_on(async {
        // Warm up (session caches, lazily built tables), then measure N more.
        let warm = connected(&client, "localhost", &server).await;
        drop(warm);
        let before = LIVE.load(Ordering::Relaxed);
        let mut conns = Vec::with_capacity(N);
        for _ in 0..N {
            let (mut c, mut s) = connected(&client, "localhost", &server).await;
            strait_streams::write_all(&mut c, &b"ping"[..])
                .await
                .unwrap();
            let mut buf = [0u8; 4];
            strait_streams::read_exact(&mut s, &mut buf[..])
                .await
                .unwrap();
            conns.push((c, s));
        }
        let per_pair = (LIVE.load(Ordering::Relaxed) - before) / N as isize;
        // The same for bare duplex pairs that carried bytes both ways: the transport's
        // share, subtracted.
        let before = LIVE.load(Ordering::Relaxed);
        let mut bare = Vec::with_capacity(N);
        for _ in 0..N {
            let (mut a, mut b) = strait_streams::duplex(64 * 1024);
            let mut buf = [0u8; 4];
            strait_streams::write_all(&mut a, &b"ping"[..])
                .await
                .unwrap();
            strait_streams::read_exact(&mut b, &mut buf[..])
                .await
                .unwrap();
            strait_streams::write_all(&mut b, &b"pong"[..])
                .await
                .unwrap();
            strait_streams::read_exact(&mut a, &mut buf[..])
                .await
                .unwrap();
            bare.push((a, b));
        }
        let transport = (LIVE.load(Ordering::Relaxed) - before) / N as isize;
        let tls = per_pair - transport;
        println!(
            "idle TLS 1.3 connection: {} bytes per end ({tls} per client+server pair, \
             transport's {transport} excluded)",
            tls / 2
        );
        assert!(tls < 64 * 1024, "{tls} bytes per idle pair");
        drop(bare);
        drop(conns);
    });
}
