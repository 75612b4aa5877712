//! Helpers shared by the suites: deterministic payloads, checksums, single polls,
//! polls only on wake-up.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

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
pub(crate) fn poll_once<F: Future>(f: Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

/// Polls `inner` only when its own waker was woken (and once at the start), like a
/// task of its own inside the caller's task. A case awaits a pending operation through
/// it to check that the *transport* wakes it: re-polling on every wake of the caller
/// would find the new state without any wake-up from the transport.
pub(crate) struct OnlyWhenWoken<F> {
    inner: F,
    flag: Arc<WakeFlag>,
    started: bool,
}

struct WakeFlag {
    woken: AtomicBool,
    caller: Mutex<Option<Waker>>,
}

impl Wake for WakeFlag {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.woken.store(true, Ordering::Release);
        let caller = self
            .caller
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        if let Some(w) = caller {
            w.wake();
        }
    }
}

impl<F: Future + Unpin> OnlyWhenWoken<F> {
    pub(crate) fn new(inner: F) -> Self {
        OnlyWhenWoken {
            inner,
            flag: Arc::new(WakeFlag {
                woken: AtomicBool::new(false),
                caller: Mutex::new(None),
            }),
            started: false,
        }
    }
}

impl<F: Future + Unpin> Future for OnlyWhenWoken<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        *self
            .flag
            .caller
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(cx.waker().clone());
        let woken = self.flag.woken.swap(false, Ordering::AcqRel);
        if self.started && !woken {
            return Poll::Pending;
        }
        self.started = true;
        let waker = Waker::from(self.flag.clone());
        Pin::new(&mut self.inner).poll(&mut Context::from_waker(&waker))
    }
}
