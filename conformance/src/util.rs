//! Helpers shared by the suites: deterministic payloads, checksums, time bounds,
//! single polls.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// Byte `i` of the payload seeded with `seed` (cheap, position-dependent, not periodic
/// at small scales, so drops and duplicates shift the pattern and are caught).
pub(crate) fn pattern(seed: u64, i: u64) -> u8 {
    let mut x = seed ^ i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 29;
    x as u8
}

/// FNV-1a over a byte stream, with its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Checksum {
    pub(crate) hash: u64,
    pub(crate) len: u64,
}

impl Checksum {
    pub(crate) const fn new() -> Self {
        Checksum {
            hash: 0xcbf2_9ce4_8422_2325,
            len: 0,
        }
    }
    pub(crate) fn update(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.hash ^= u64::from(b);
            self.hash = self.hash.wrapping_mul(0x100_0000_01b3);
        }
        self.len += bytes.len() as u64;
    }
}

/// Polls `f` once with a no-op waker.
pub(crate) fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// Runs `f`, failing with a clear reason if it takes longer than `limit`. Unlike
/// `strait_streams::timeout`, it abandons (drops) `f` instead of stopping and awaiting
/// it, so a transport that ignores stop requests cannot hang the suite.
pub(crate) async fn bounded<T>(
    what: &str,
    limit: Duration,
    f: impl Future<Output = io::Result<T>>,
) -> Result<io::Result<T>, String> {
    let mut f = pin!(f);
    let mut timer = pin!(strait_streams::delay(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(v) = f.as_mut().poll(cx) {
            return Poll::Ready(Ok(v));
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(_) => {
                Poll::Ready(Err(format!("{what}: did not complete within {limit:?}")))
            }
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}

/// Runs a whole case body, failing (and abandoning it) if it takes longer than `limit`:
/// a broken transport makes a case fail, never hang.
pub(crate) async fn within(
    limit: Duration,
    body: impl Future<Output = Result<(), String>>,
) -> Result<(), String> {
    let mut body = pin!(body);
    let mut timer = pin!(strait_streams::delay(limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(r) = body.as_mut().poll(cx) {
            return Poll::Ready(r);
        }
        match timer.as_mut().poll(cx) {
            Poll::Ready(_) => Poll::Ready(Err(format!(
                "did not finish within {limit:?} (lost or withheld bytes, or a missed wake-up)"
            ))),
            Poll::Pending => Poll::Pending,
        }
    })
    .await
}
