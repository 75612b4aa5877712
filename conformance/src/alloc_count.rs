//! The opt-in counting allocator: install [`CountingAllocator`] as the test binary's
//! global allocator and the zero-allocation cases run; without it they are skipped.
//!
//! It keeps two counts: one per thread ([`allocations`]) and one for the whole process
//! ([`process_allocations`]). The cases use the process-wide one, so allocations a
//! transport makes on its own threads (a reactor, a completion thread, a runtime's
//! workers) count as much as those on the thread that awaits the operation.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

static INSTALLED: AtomicBool = AtomicBool::new(false);
static PROCESS: AtomicU64 = AtomicU64::new(0);

/// Counts one allocation, on this thread and for the process.
#[inline]
fn count() {
    PROCESS.fetch_add(1, Ordering::Relaxed);
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}

std::thread_local! {
    static COUNT: Cell<u64> = const { Cell::new(0) };
}

/// A global allocator that counts allocations (per thread and for the process) and
/// forwards to `System`.
///
/// ```
/// #[global_allocator]
/// static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;
/// # fn main() {
/// assert!(strait_conformance::counting_installed());
/// let before = strait_conformance::allocations();
/// drop(Box::new(1u8));
/// assert_eq!(strait_conformance::allocations(), before + 1);
/// // Allocations on other threads count for the process.
/// let process = strait_conformance::process_allocations();
/// std::thread::scope(|s| {
///     s.spawn(|| drop(Box::new(2u8)));
/// });
/// assert!(strait_conformance::process_allocations() > process);
/// # }
/// ```
#[derive(Debug, Default, Clone, Copy)]
pub struct CountingAllocator;

// SAFETY: forwards every call to `System`; the bookkeeping allocates nothing.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        count();
        // SAFETY: forwarded contract.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded contract.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        INSTALLED.store(true, Ordering::Relaxed);
        count();
        // SAFETY: forwarded contract.
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
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

/// Allocations made by every thread of the process so far (0 without the counting
/// allocator). Other work running at the same time counts too: the stream cases that
/// measure hold the kit's exclusive gate, so no other conformance case runs meanwhile.
pub fn process_allocations() -> u64 {
    PROCESS.load(Ordering::Relaxed)
}
