//! Allocation budget: one allocation per spawn (none in steady state with the
//! recycling allocator), zero per post, wake and dispatch.
#![allow(clippy::async_yields_async)] // futures that return handles/tasks on purpose

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use strait_streams::{with_frame_allocator, yield_now, FrameAlloc, IoEnv, RunLoop, Task};

/// Counts allocations made by the current thread only (other tests run in parallel).
struct Counting;

std::thread_local! {
    static ALLOCS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to `System`; the counter is a const-initialized thread-local Cell.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocations<R>(f: impl FnOnce() -> R) -> (usize, R) {
    let before = ALLOCS.with(Cell::get);
    let r = f();
    (ALLOCS.with(Cell::get) - before, r)
}

#[test]
fn a_spawn_allocates_once_from_the_system_allocator() {
    let rl = RunLoop::new();
    let env = IoEnv::new(rl.executor()).with_frame_allocator(FrameAlloc::system());
    // Warm up the loop (thread-locals, queue).
    rl.block_on(async {});
    rl.spawn(async {}).detach();
    rl.run();
    let (n, handles) = allocations(|| {
        (0..100)
            .map(|_| {
                strait_streams::block_on_with(async { strait_streams::spawn(async { 7u64 }) }, &env)
            })
            .collect::<Vec<_>>()
    });
    // block_on_with allocates its waker once per call; the spawn adds exactly one.
    let (waker_only, ()) = allocations(|| strait_streams::block_on_with(async {}, &env));
    assert_eq!(n - 100 * waker_only - 1 /* the Vec */, 100);
    rl.run();
    drop(handles);
}

#[test]
fn steady_state_spawns_with_the_recycling_allocator_allocate_nothing() {
    let rl = RunLoop::new();
    // Warm the size class the measured tasks use.
    for _ in 0..64 {
        rl.spawn(async { [0u8; 100] }).detach();
    }
    rl.run();
    let (n, ()) = allocations(|| {
        for _ in 0..1000 {
            rl.spawn(async { [0u8; 100] }).detach();
            rl.run();
        }
    });
    assert_eq!(n, 0, "spawns reuse recycled blocks");
}

#[test]
fn posts_and_wakes_allocate_nothing() {
    let rl = RunLoop::new();
    let handle = rl.spawn(async {
        for _ in 0..10_000 {
            yield_now().await; // wake + post per iteration
        }
    });
    rl.poll_one(); // first poll
    let (n, ran) = allocations(|| rl.run());
    assert_eq!(ran, 10_000);
    assert_eq!(n, 0);
    assert!(handle.is_finished());
}

#[test]
fn a_task_object_allocates_from_the_frame_allocator_only() {
    // The default environment (recycling allocator) on a plain thread: nested
    // `block_on`s are allowed there, unlike inside a loop's own task.
    strait_streams::block_on(async {
        // Warm the recycling pool's size class.
        drop(Task::new(async { [1u8; 200] }));
        let (n, v) = allocations(|| {
            let t = Task::new(async { [1u8; 200] });
            strait_streams::block_on(t)
        });
        // One waker for the inner block_on; the task itself comes from the pool.
        let (waker_only, ()) = allocations(|| strait_streams::block_on(async {}));
        assert_eq!(n, waker_only);
        assert_eq!(v[199], 1);
        let (n_sys, ()) = allocations(|| {
            drop(strait_streams::block_on(with_frame_allocator(
                FrameAlloc::system(),
                async { Task::new(async { [2u8; 200] }) },
            )))
        });
        assert_eq!(
            n_sys,
            waker_only + 1,
            "with the system allocator: one allocation"
        );
    });
}

#[test]
fn strand_hand_offs_allocate_nothing() {
    let rl = RunLoop::new();
    let strand = strait_streams::Strand::new(rl.executor());
    let handle = strand.spawn(async {
        for _ in 0..10_000 {
            yield_now().await; // wake → strand post → invoker wake → loop post
        }
    });
    rl.poll_one();
    let (n, _) = allocations(|| rl.run());
    assert_eq!(n, 0);
    assert!(handle.is_finished());
}

/// Routes every post of its tasks through the loop's `dispatch` ("run next" slot).
struct Dispatching(strait_streams::AnyExecutor);

impl strait_streams::Executor for Dispatching {
    fn post(&self, task: strait_streams::Runnable) {
        self.0.dispatch(task);
    }
    fn on_work_started(&self) {
        self.0.on_work_started();
    }
    fn on_work_finished(&self) {
        self.0.on_work_finished();
    }
}

#[test]
fn dispatches_allocate_nothing() {
    let rl = RunLoop::new();
    let via_dispatch = strait_streams::AnyExecutor::new(Dispatching(rl.executor()));
    let handle = via_dispatch.spawn(async {
        for _ in 0..10_000 {
            yield_now().await; // wake → dispatch from the loop thread → run-next slot
        }
    });
    rl.poll_one();
    let (n, ran) = allocations(|| rl.run());
    assert_eq!(ran, 10_000);
    assert_eq!(n, 0);
    assert!(handle.is_finished());
}

/// Allocations made by this thread while `f` runs inside a `block_on` on `rl` (the
/// count is taken inside the task, so `block_on`'s own waker is not counted).
fn allocations_in_task<Fut: std::future::Future<Output = ()>>(
    rl: &RunLoop,
    f: impl FnOnce() -> Fut,
) -> usize {
    rl.block_on(async {
        let before = ALLOCS.with(Cell::get);
        f().await;
        ALLOCS.with(Cell::get) - before
    })
}

async fn ok_after_yield(v: u32) -> std::io::Result<u32> {
    yield_now().await;
    Ok(v)
}

#[test]
fn timeouts_allocate_nothing_in_steady_state() {
    use std::time::Duration;
    let rl = RunLoop::new();
    let run = || async {
        for i in 0..1000 {
            // The child yields once, so the timer entry is scheduled, then canceled.
            let v = strait_streams::timeout(Duration::from_secs(10), ok_after_yield(i)).await;
            assert_eq!(v.unwrap(), i);
        }
    };
    allocations_in_task(&rl, run); // warm-up: timer thread, table, spare stop sources
    assert_eq!(allocations_in_task(&rl, run), 0, "per 1000 timeouts");
}

#[test]
fn when_all_and_when_any_allocate_nothing_in_steady_state() {
    use std::time::Duration;
    let rl = RunLoop::new();
    let run = || async {
        for i in 0..1000 {
            let (a, b) = strait_streams::when_all((ok_after_yield(i), ok_after_yield(1)))
                .await
                .unwrap();
            assert_eq!(a + b, i + 1);
            // The loser waits on a timer until the winner stops it.
            let loser = async {
                strait_streams::delay(Duration::from_secs(10)).await?;
                Ok(0)
            };
            let won = strait_streams::when_any((ok_after_yield(i), loser)).await;
            assert_eq!(won.unwrap(), strait_streams::OneOf2::First(i));
        }
    };
    allocations_in_task(&rl, run);
    assert_eq!(
        allocations_in_task(&rl, run),
        0,
        "per 1000 when_all + when_any"
    );
}

#[test]
fn strand_spawns_allocate_nothing_in_steady_state() {
    let rl = RunLoop::new();
    let strand = strait_streams::Strand::new(rl.executor());
    let spawn_all = || {
        for i in 0..1000u32 {
            strand.spawn(async move { i }).detach();
            rl.run();
        }
    };
    spawn_all(); // warm the recycling pool
    let (n, ()) = allocations(spawn_all);
    assert_eq!(n, 0, "per 1000 strand spawns");
}
