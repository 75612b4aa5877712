//! Zero-copy sends (`IoContextBuilder::zero_copy_send_threshold`) as a user sees them:
//! on an io_uring context whose sockets run the completion layer, large committed
//! blocks and queued writes go as `SEND_ZC`, arrive byte-exact and in order beside
//! small writes, the counters say so, and a context dropped with notifications
//! outstanding lets every byte already accepted reach the peer (skipped where the
//! kernel has no io_uring).

use std::future::poll_fn;
use std::io::Read;
use std::pin::Pin;
use std::time::Duration;

use strait_native::{Backend, IoContext, TcpListener, TcpStream};
use strait_streams::{read_exact, when_all, write_all, BufferSink, WriteStreamExt};

const THRESHOLD: usize = 16 * 1024;

/// An io_uring context with zero-copy sends from `THRESHOLD`, or `None` (noted).
fn zero_copy_context() -> Option<IoContext> {
    match IoContext::builder()
        .backend(Backend::IoUring)
        .zero_copy_send_threshold(Some(THRESHOLD))
        .build()
    {
        Ok(ctx) => Some(ctx),
        Err(e) => {
            eprintln!("skipped: no io_uring here ({e})");
            None
        }
    }
}

/// Byte `i` of the test stream: any lost, duplicated or reordered byte shows.
fn byte(i: u64) -> u8 {
    (i.wrapping_mul(0x9e37_79b9) >> 13) as u8 ^ (i >> 8) as u8
}

fn fill(from: u64, out: &mut [u8]) {
    for (k, b) in out.iter_mut().enumerate() {
        *b = byte(from + k as u64);
    }
}

fn check(from: u64, got: &[u8]) {
    for (k, &b) in got.iter().enumerate() {
        assert_eq!(b, byte(from + k as u64), "byte {} differs", from + k as u64);
    }
}

/// Writes `len` stream bytes from `from` through `BufferSink` windows (committed in
/// place: large ones skip the direct `sendmsg` and go zero-copy).
async fn commit(stream: &mut TcpStream, from: u64, len: usize) {
    let mut done = 0;
    while done < len {
        let n = poll_fn(|cx| {
            let mut window = match Pin::new(&mut *stream).poll_prepare(cx) {
                std::task::Poll::Ready(w) => w.unwrap(),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            };
            let first = &mut window.as_mut_slice()[0];
            let n = first.len().min(len - done);
            fill(from + done as u64, &mut first.as_mut_slice()[..n]);
            std::task::Poll::Ready(n)
        })
        .await;
        poll_fn(|cx| Pin::new(&mut *stream).poll_commit(cx, n))
            .await
            .unwrap();
        done += n;
    }
}

async fn write(stream: &mut TcpStream, from: u64, len: usize) {
    let mut data = vec![0; len];
    fill(from, &mut data);
    write_all(stream, &data[..]).await.unwrap();
}

/// Large commits and writes between small ones: `(commit?, len)`.
const PLAN: &[(bool, usize)] = &[
    (false, 10),
    (true, 64 * 1024),
    (false, 1),
    (true, 1 << 20),
    (true, 5),
    (false, 1 << 20),
    (true, 20 * 1024),
    (false, 300),
];

#[test]
fn large_sends_arrive_byte_exact_between_small_ones_and_are_counted() {
    let Some(ctx) = zero_copy_context() else {
        return;
    };
    let total: usize = PLAN.iter().map(|&(_, n)| n).sum::<usize>() * 3;
    let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    ctx.block_on(async {
        let (mut tx, (mut rx, _)) = when_all((TcpStream::connect(&ctx, addr), listener.accept()))
            .await
            .unwrap();
        let reader = ctx.spawn(async move {
            let mut got = vec![0u8; total];
            read_exact(&mut rx, &mut got[..]).await.unwrap();
            check(0, &got);
        });
        let mut at = 0u64;
        for _ in 0..3 {
            for &(committed, len) in PLAN {
                if committed {
                    commit(&mut tx, at, len).await;
                } else {
                    write(&mut tx, at, len).await;
                }
                at += len as u64;
            }
        }
        tx.flush().await.unwrap();
        reader.await.expect("the reader checked every byte");
    });
    let stats = ctx.stats();
    eprintln!("{stats:?}");
    if !ctx.completion_sockets() {
        return;
    }
    assert!(
        stats.zero_copy_sends + stats.zero_copy_fallbacks > 0,
        "large commits reached the threshold"
    );
    // The counters settle once the last notifications came.
    for _ in 0..100 {
        let s = ctx.stats();
        if s.zero_copy_notifications == s.zero_copy_sends {
            break;
        }
        ctx.run_for(Duration::from_millis(10));
    }
    let stats = ctx.stats();
    assert_eq!(stats.zero_copy_notifications, stats.zero_copy_sends);
    assert!(stats.zero_copy_copied <= stats.zero_copy_notifications);
}

#[test]
fn a_context_dropped_with_notifications_outstanding_delivers_what_it_accepted() {
    let Some(ctx) = zero_copy_context() else {
        return;
    };
    // The peer is a plain socket that outlives the context, read by a slow thread.
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = peer.local_addr().unwrap();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = peer.accept().unwrap();
        std::thread::sleep(Duration::from_millis(50));
        let mut at = 0u64;
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match s.read(&mut buf) {
                Ok(0) => return at,
                Ok(n) => {
                    check(at, &buf[..n]);
                    at += n as u64;
                }
                Err(e) => panic!("peer read: {e}"),
            }
        }
    });
    let accepted = ctx.block_on(async {
        let mut tx = TcpStream::connect(&ctx, addr).await.unwrap();
        let mut at = 0u64;
        // More than the socket buffers take while the peer sleeps: the sends wait in
        // the kernel for room.
        for _ in 0..24 {
            commit(&mut tx, at, 256 * 1024).await;
            at += 256 * 1024;
        }
        // Accepted by the kernel: what may still be outstanding are the last sends'
        // notifications (the peer has not acknowledged their bytes yet).
        tx.flush().await.unwrap();
        at
    });
    let stats = ctx.stats();
    drop(ctx);
    let delivered = reader.join().unwrap();
    eprintln!("accepted {accepted}, delivered {delivered}, {stats:?}");
    assert_eq!(delivered, accepted, "every accepted byte arrived, in order");
}
