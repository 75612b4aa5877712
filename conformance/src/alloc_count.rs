//! The opt-in counting allocator: install [`CountingAllocator`] as the test binary's
//! global allocator and the zero-allocation cases run; without it they are skipped.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);

std::thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// A global allocator that counts allocations per thread and forwards to `System`.
///
/// ```
/// #[global_allocator]
/// static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;
/// # fn main() {
/// assert!(strait_conformance::counting_installed());
/// let before = strait_conformance::allocations();
/// drop(Box::new(1u8));
/// assert_eq!(strait_conformance::allocations(), before + 1);
/// # }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAllocator;

// SAFETY: forwards every call to `System`; the bookkeeping allocates nothing.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = COUNT.try_with(|c| c.set(c.get() + 1));
        // SAFETY: forwarded contract.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// `true` once a [`CountingAllocator`] has served an allocation in this process.
pub fn counting_installed() -> bool {
    // Make sure at least one allocation went through whatever allocator is installed.
    drop(std::hint::black_box(Box::new(0u8)));
    INSTALLED.load(Ordering::Relaxed)
}

/// Allocations made by this thread so far (0 without the counting allocator).
pub fn allocations() -> u64 {
    COUNT.with(Cell::get)
}
