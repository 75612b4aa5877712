//! Suite `erasure`: the per-operation cost of a partial read (`ReadStreamExt::read`, the
//! papers' `read_some`, the name the scenarios keep) on an always-ready stream —
//! concrete type, `AnyReadStream`, `Box<dyn futures_io::AsyncRead>`, and a boxed future
//! per call (`Box::pin`, and strait's `Task` from the recycling allocator) — and on a
//! stream that suspends once per read. Futures are polled directly with a no-op
//! waker, so only the operation itself is measured.

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::{Context, Poll, Waker};

use futures_lite::AsyncReadExt;
use strait_streams::{AnyReadStream, ReadStream, ReadStreamExt, Task};
use strait_vocab::MutableBuffer;

use crate::harness::{ns_per_op, Better, Report};

const SUITE: &str = "erasure";
const OPS: u64 = 10_000;

/// Fills every read with one byte value; never waits.
struct AlwaysReady;

// The stream bodies are `inline(never)` in every subject, so each pays the same call
// and the comparison isolates the dispatch layers, not how well a body inlines.
impl ReadStream for AlwaysReady {
    #[inline(never)]
    fn poll_read_some(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let Some(first) = bufs.first_mut() else {
            return Poll::Ready(Ok(0));
        };
        let n = first.len().min(16);
        first.as_mut_slice()[..n].fill(7);
        Poll::Ready(Ok(n))
    }

    // The one-slice read a concrete stream provides (a socket's `recv`), as futures-io's
    // `poll_read` below: `read` with one buffer reaches it, through `AnyReadStream` too.
    #[inline(never)]
    fn poll_read_slice(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = buf.len().min(16);
        buf[..n].fill(7);
        Poll::Ready(Ok(n))
    }
}

impl futures_io::AsyncRead for AlwaysReady {
    #[inline(never)]
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let n = buf.len().min(16);
        buf[..n].fill(7);
        Poll::Ready(Ok(n))
    }
}

/// Returns `Pending` (waking itself) before every read completes.
struct SuspendsOnce {
    ready: bool,
}

impl ReadStream for SuspendsOnce {
    #[inline(never)]
    fn poll_read_some(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if !self.ready {
            self.ready = true;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.ready = false;
        let first = bufs.first_mut().expect("one buffer");
        let n = first.len().min(16);
        first.as_mut_slice()[..n].fill(7);
        Poll::Ready(Ok(n))
    }
}

/// Polls `f` to completion with a no-op waker (every stream here wakes itself).
fn drive<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
    }
}

/// `op` as a row subject: ns per operation over `OPS`-operation rounds.
fn per_op<'a>(mut op: impl FnMut() + 'a) -> impl FnMut(std::time::Duration) -> f64 + 'a {
    move |budget| {
        ns_per_op(budget, OPS, || {
            for _ in 0..OPS {
                op();
            }
        })
    }
}

pub fn run(report: &mut Report) {
    let scenario = "read_some, always ready (16 B)";
    report
        .row(SUITE, scenario, "latency", "ns/op", Better::Lower)
        .subject("strait-concrete", {
            let (mut s, mut buf) = (AlwaysReady, [0u8; 64]);
            per_op(move || {
                std::hint::black_box(drive(ReadStreamExt::read(&mut s, &mut buf[..])).unwrap());
            })
        })
        .subject("strait-AnyReadStream", {
            let (mut s, mut buf) = (AnyReadStream::new(AlwaysReady), [0u8; 64]);
            per_op(move || {
                std::hint::black_box(drive(s.read(&mut buf[..])).unwrap());
            })
        })
        // The same erased call without the leaf future's stop-token gate: what the gate
        // costs (a reference, not a pair: users call the gated API).
        .subject("strait-AnyReadStream poll (no gate)", {
            let (mut s, mut buf) = (AnyReadStream::new(AlwaysReady), [0u8; 64]);
            per_op(move || {
                let n = drive(std::future::poll_fn(|cx| {
                    Pin::new(&mut s).poll_read_slice(cx, &mut buf[..])
                }));
                std::hint::black_box(n.unwrap());
            })
        })
        .subject("Box<dyn futures::AsyncRead>", {
            let mut s: Pin<Box<dyn futures_io::AsyncRead + Send>> = Box::pin(AlwaysReady);
            let mut buf = [0u8; 64];
            per_op(move || {
                std::hint::black_box(drive(s.read(&mut buf[..])).unwrap());
            })
        })
        .subject("Box::pin future per call", {
            let (mut s, mut buf) = (AlwaysReady, [0u8; 64]);
            per_op(move || {
                let (s, b) = (&mut s, &mut buf);
                let fut: Pin<Box<dyn Future<Output = io::Result<usize>> + Send + '_>> =
                    Box::pin(async move { ReadStreamExt::read(s, &mut b[..]).await });
                std::hint::black_box(drive(fut).unwrap());
            })
        })
        .subject("strait-Task per call", {
            let (mut s, mut buf) = (AlwaysReady, [0u8; 64]);
            per_op(move || {
                let (s, b) = (&mut s, &mut buf);
                let fut: Task<'_, io::Result<usize>> =
                    Task::new(async move { ReadStreamExt::read(s, &mut b[..]).await });
                std::hint::black_box(drive(fut).unwrap());
            })
        })
        .pair("strait-AnyReadStream", "Box<dyn futures::AsyncRead>")
        .pair("strait-Task per call", "Box::pin future per call")
        .run(report);

    let scenario = "read_some, suspends once per read (16 B)";
    report
        .row(SUITE, scenario, "latency", "ns/op", Better::Lower)
        .subject("strait-concrete", {
            let (mut s, mut buf) = (SuspendsOnce { ready: false }, [0u8; 64]);
            per_op(move || {
                std::hint::black_box(drive(ReadStreamExt::read(&mut s, &mut buf[..])).unwrap());
            })
        })
        .subject("strait-AnyReadStream", {
            let (mut s, mut buf) = (AnyReadStream::new(SuspendsOnce { ready: false }), [0u8; 64]);
            per_op(move || {
                std::hint::black_box(drive(s.read(&mut buf[..])).unwrap());
            })
        })
        .run(report);
}
