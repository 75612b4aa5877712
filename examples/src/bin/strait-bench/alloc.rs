//! Suite `alloc`: the papers' frame-allocator table in Rust — a chain of
//! `Task`-returning calls (recursive, depth 1–8) and a spawn storm — with
//! `RecyclingAllocator`, the system allocator and mimalloc as frame allocators.

use std::alloc::{GlobalAlloc, Layout};
use std::future::Future;
use std::pin::pin;
use std::ptr::NonNull;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use strait_streams::{FrameAlloc, FrameAllocator, RunLoop, Task};

use crate::harness::{ns_per_op, rate, Better, Report, Row};

const SUITE: &str = "alloc";

/// mimalloc as a frame allocator.
struct Mimalloc;

// SAFETY: forwards to mimalloc's `GlobalAlloc`, which keeps the contract.
unsafe impl FrameAllocator for Mimalloc {
    fn allocate(&self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: non-zero size (trait contract).
        NonNull::new(unsafe { mimalloc::MiMalloc.alloc(layout) })
    }
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: allocated by `MiMalloc.alloc(layout)`.
        unsafe { mimalloc::MiMalloc.dealloc(ptr.as_ptr(), layout) }
    }
}

fn subjects() -> Vec<(&'static str, FrameAlloc)> {
    vec![
        ("strait-recycling", FrameAlloc::recycling()),
        ("system-allocator", FrameAlloc::system()),
        ("mimalloc", FrameAlloc::from_static(&Mimalloc)),
        ("mimalloc-arc", FrameAlloc::custom(Arc::new(Mimalloc))),
    ]
}

/// A recursive chain of `Task`-returning calls: each level is one type-erased frame.
fn chain(depth: u32, alloc: &FrameAlloc) -> Task<'static, u64> {
    let next = alloc.clone();
    Task::new_in(
        async move {
            if depth == 0 {
                1
            } else {
                chain(depth - 1, &next).await + 1
            }
        },
        alloc.clone(),
    )
}

fn poll_ready<F: Future>(f: F) -> F::Output {
    let mut f = pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(v) => v,
        Poll::Pending => unreachable!("the chain never waits"),
    }
}

/// Every row compares the recycling allocator with the system allocator and mimalloc.
fn paired<'a>(mut row: Row<'a>) -> Row<'a> {
    for peer in ["system-allocator", "mimalloc", "mimalloc-arc"] {
        row = row.pair("strait-recycling", peer);
    }
    row
}

pub fn run(report: &mut Report) {
    for depth in [1u32, 2, 4, 8] {
        let scenario = format!("task chain depth {depth}");
        let mut row = report.row(SUITE, &scenario, "latency", "ns/chain", Better::Lower);
        for (name, alloc) in subjects() {
            row = row.subject(name, move |budget| {
                let calls = 1000u64;
                ns_per_op(budget, calls, || {
                    for _ in 0..calls {
                        std::hint::black_box(poll_ready(chain(depth, &alloc)));
                    }
                })
            });
        }
        paired(row).run(report);
    }
    for size in [64usize, 512, 2048] {
        let scenario = format!("frame allocate+free, {size} B, 8 live");
        let layout = Layout::from_size_align(size, 16).expect("valid layout");
        let mut row = report.row(SUITE, &scenario, "latency", "ns/frame", Better::Lower);
        for (name, alloc) in subjects() {
            row = row.subject(name, move |budget| {
                let rounds = 1000u64;
                ns_per_op(budget, rounds * 8, || {
                    for _ in 0..rounds {
                        // A burst of 8 frames alive at once, as a chain of 8 calls holds.
                        let blocks: [NonNull<u8>; 8] =
                            std::array::from_fn(|_| alloc.allocate(std::hint::black_box(layout)));
                        for b in blocks {
                            // SAFETY: allocated just above with the same layout.
                            unsafe { alloc.deallocate(std::hint::black_box(b), layout) };
                        }
                    }
                })
            });
        }
        paired(row).run(report);
    }
    let scenario = "spawn storm (1000 tasks per round)";
    let mut row = report.row(SUITE, scenario, "throughput", "tasks/s", Better::Higher);
    for (name, alloc) in subjects() {
        row = row.subject(name, move |budget| {
            let rl = RunLoop::with_frame_allocator(alloc.clone());
            rate(budget, || {
                for _ in 0..1000 {
                    rl.spawn(async { std::hint::black_box([0u8; 256]) })
                        .detach();
                }
                rl.run();
                1000
            })
        });
    }
    paired(row).run(report);
}
