//! A streaming body holds at most about 16 KiB of framed bytes of its own: a large
//! write goes out in pieces as the peer reads, it is not copied whole into the
//! connection's output buffer (server and client bodies share this path). The only
//! test in this binary: it watches the largest allocation the process makes.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_http1::proto::BodyLength;
use strait_streams::{
    block_on, duplex, when_all, write_all, DuplexStream, ReadStreamExt, WriteSinkExt,
    WriteStreamExt,
};

/// The system allocator, recording the largest block asked for while armed.
struct LargestBlock;

static ARMED: AtomicBool = AtomicBool::new(false);
static LARGEST: AtomicUsize = AtomicUsize::new(0);

fn note(size: usize) {
    if ARMED.load(Ordering::Relaxed) {
        LARGEST.fetch_max(size, Ordering::Relaxed);
    }
}

// SAFETY: every call is forwarded unchanged to `System`.
unsafe impl GlobalAlloc for LargestBlock {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        // SAFETY: the caller upholds `alloc`'s contract, passed on as is.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        // SAFETY: `ptr` came from `System` with this layout; the caller upholds the rest.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: LargestBlock = LargestBlock;

const BODY: usize = 1 << 20;
const PIPE: usize = 64 * 1024;

#[test]
fn a_large_response_write_goes_out_in_pieces() {
    let (server_end, mut client_end) = duplex(PIPE);
    let body = vec![7u8; BODY];
    let server = async {
        serve_connection(server_end, async |ex: &mut Exchange<'_, DuplexStream>| {
            let mut sink = ex
                .start_response(
                    StatusCode::OK,
                    &HeaderMap::new(),
                    BodyLength::Known(BODY as u64),
                )
                .await?;
            ARMED.store(true, Ordering::Relaxed);
            sink.write_all(&[body[..].into()]).await?;
            ARMED.store(false, Ordering::Relaxed);
            sink.write_eof(&[]).await.map(drop)
        })
        .await
        .map(drop)
    };
    let client = async {
        write_all(
            &mut client_end,
            &b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"[..],
        )
        .await?;
        // Checked as it arrives, not kept: the client allocates nothing large.
        let mut buf = [0u8; 4096];
        let (mut head, mut sevens) = (Vec::new(), 0usize);
        loop {
            let n = client_end.read(&mut buf[..]).await?;
            if n == 0 {
                break;
            }
            let mut bytes = &buf[..n];
            if !head.ends_with(b"\r\n\r\n") {
                let take = head_rest(&head, bytes);
                head.extend_from_slice(&bytes[..take]);
                bytes = &bytes[take..];
            }
            assert!(bytes.iter().all(|&b| b == 7));
            sevens += bytes.len();
        }
        client_end.shutdown().await?;
        Ok::<_, std::io::Error>((head, sevens))
    };
    let ((), (head, sevens)) = block_on(when_all((server, client))).unwrap();
    assert!(head.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(sevens, BODY);
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < 128 * 1024,
        "a {BODY}-byte write made a {largest}-byte allocation"
    );
}

/// How many bytes of `bytes` belong to the head that `head` has begun.
fn head_rest(head: &[u8], bytes: &[u8]) -> usize {
    let mut seen = head.to_vec();
    for (i, &b) in bytes.iter().enumerate() {
        seen.push(b);
        if seen.ends_with(b"\r\n\r\n") {
            return i + 1;
        }
    }
    bytes.len()
}
