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
    let env = IoEnv {
        frame_allocator: FrameAlloc::system(),
        ..IoEnv::new(rl.executor())
    };
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
    for _ in 0..64 {
        rl.spawn(async {}).detach();
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
