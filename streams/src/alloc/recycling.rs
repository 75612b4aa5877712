//! [`RecyclingAllocator`]: per-thread size-class free lists over a global overflow pool.
//!
//! Requests round up to a power of two of at least 64 bytes; six classes (64 .. 2048
//! bytes) are pooled, larger or over-aligned (> 16) requests go to the global allocator.
//! Freed blocks are threaded into intrusive free lists (a block's first word is the next
//! pointer), so pooling itself never allocates.
//!
//! - `allocate` pops from the calling thread's list; on a miss it refills that list from
//!   the global pool under its mutex (up to [`SPILL`] blocks at once), and only then
//!   asks the global allocator.
//! - `deallocate` pushes onto the *freeing* thread's list; when that overflows, half of it
//!   moves to the global pool in one lock (a thread that frees what another allocated —
//!   a batch of tasks run elsewhere — pays one lock per [`SPILL`] blocks, not one per
//!   block); when the thread-local is gone (the thread is exiting), single blocks go to
//!   the global pool. What the global pool cannot take goes back to the global
//!   allocator. Deallocation never depends on the thread-local being alive.
//! - A thread's lists move to the global pool when the thread exits.

use std::alloc::Layout;
use std::cell::Cell;
use std::ptr::{self, NonNull};
use std::sync::atomic::Ordering::Relaxed;

use super::FrameAllocator;
use crate::sync::{lock, AtomicUsize, Mutex};

/// Smallest pooled block.
const MIN_BLOCK: usize = 64;
/// Number of pooled size classes: 64, 128, 256, 512, 1024, 2048.
const CLASSES: usize = 6;
/// Alignment of every pooled block.
const BLOCK_ALIGN: usize = 16;
/// Most blocks one thread keeps per class. Larger lists save little once transfers
/// move chains, and strand more blocks on threads that only free (a runtime's workers
/// freeing tasks another thread spawned), which the spawning thread must then allocate
/// anew.
pub(crate) const LOCAL_CAP: usize = 32;
/// Blocks moved to the global pool at once when a thread's list overflows.
const SPILL: usize = LOCAL_CAP / 2;
/// Most blocks the global pool keeps per class.
const GLOBAL_CAP: usize = 4096;

/// The process-wide recycling allocator. A zero-size handle: every value shares the
/// same pools, like the papers' `get_recycling_memory_resource()`.
#[derive(Debug, Default, Clone, Copy)]
pub struct RecyclingAllocator;

/// Size class of `layout`, or `None` when it is not pooled.
#[inline]
fn class_of(layout: Layout) -> Option<usize> {
    if layout.align() > BLOCK_ALIGN || layout.size() > MIN_BLOCK << (CLASSES - 1) {
        return None;
    }
    let rounded = layout.size().max(MIN_BLOCK).next_power_of_two();
    Some((rounded.trailing_zeros() - MIN_BLOCK.trailing_zeros()) as usize)
}

#[inline]
fn block_layout(class: usize) -> Layout {
    Layout::from_size_align(MIN_BLOCK << class, BLOCK_ALIGN).expect("valid block layout")
}

/// An intrusive singly linked list of free blocks.
#[derive(Clone, Copy)]
pub(crate) struct FreeList {
    head: *mut u8,
    len: usize,
}

impl FreeList {
    const EMPTY: FreeList = FreeList {
        head: ptr::null_mut(),
        len: 0,
    };

    #[cfg(loom)]
    pub(crate) const EMPTY_FOR_MODELS: FreeList = FreeList::EMPTY;

    /// # Safety
    /// `block` is a free pooled block of at least one pointer, owned by the caller.
    #[inline]
    unsafe fn push(&mut self, block: *mut u8) {
        // SAFETY: pooled blocks are >= 64 bytes and 16-aligned; the caller owns it.
        unsafe { block.cast::<*mut u8>().write(self.head) };
        self.head = block;
        self.len += 1;
    }

    #[inline]
    fn pop(&mut self) -> Option<*mut u8> {
        if self.head.is_null() {
            return None;
        }
        let block = self.head;
        // SAFETY: every block in the list was written by `push`, which stored the next
        // pointer in its first word; the list owns the block.
        self.head = unsafe { block.cast::<*mut u8>().read() };
        self.len -= 1;
        Some(block)
    }

    /// Cuts the first `n` blocks (`0 < n <= len`) off the list, in order.
    fn cut_front(&mut self, n: usize) -> Chain {
        debug_assert!(n > 0 && n <= self.len);
        let head = self.head;
        let mut tail = head;
        for _ in 1..n {
            // SAFETY: the list owns its first `n` blocks; each stores its successor.
            tail = unsafe { tail.cast::<*mut u8>().read() };
        }
        // SAFETY: as above; `tail` is the list's `n`th block.
        self.head = unsafe { tail.cast::<*mut u8>().read() };
        self.len -= n;
        Chain { head, tail, len: n }
    }

    /// Puts a cut chain in front of the list.
    fn push_chain(&mut self, chain: Chain) {
        // SAFETY: the chain owns its blocks; its tail's first word becomes its link.
        unsafe { chain.tail.cast::<*mut u8>().write(self.head) };
        self.head = chain.head;
        self.len += chain.len;
    }
}

/// Blocks cut from a [`FreeList`], still linked, owned by whoever holds it.
pub(crate) struct Chain {
    head: *mut u8,
    tail: *mut u8,
    len: usize,
}

impl Chain {
    /// Returns every block of the chain to the global allocator.
    fn free(self, class: usize) {
        let mut block = self.head;
        for _ in 0..self.len {
            // SAFETY: the chain owns its blocks; read the link before freeing.
            let next = unsafe { block.cast::<*mut u8>().read() };
            // SAFETY: pooled blocks come from `alloc(block_layout(class))`.
            unsafe { std::alloc::dealloc(block, block_layout(class)) };
            block = next;
        }
    }
}

/// The global overflow pool; a type so loom models can instantiate it.
pub(crate) struct GlobalPool {
    lists: Mutex<[FreeList; CLASSES]>,
    /// Each list's length, written under the lock and read without it: a spawn storm
    /// beyond the pool (every refill finds it empty, every spill finds it full) then
    /// skips the lock. A stale read only costs one block allocated or freed anew.
    lens: [AtomicUsize; CLASSES],
}

// SAFETY: the raw block pointers are owned by the pool and only touched under its mutex.
unsafe impl Send for GlobalPool {}
// SAFETY: as above.
unsafe impl Sync for GlobalPool {}

impl GlobalPool {
    #[cfg(not(loom))]
    pub(crate) const fn new() -> Self {
        GlobalPool {
            lists: Mutex::new([FreeList::EMPTY; CLASSES]),
            lens: [const { AtomicUsize::new(0) }; CLASSES],
        }
    }

    #[cfg(loom)]
    pub(crate) fn new() -> Self {
        GlobalPool {
            lists: Mutex::new([FreeList::EMPTY; CLASSES]),
            lens: std::array::from_fn(|_| AtomicUsize::new(0)),
        }
    }

    /// Publishes `list`'s length for the lock-free checks (caller holds the lock).
    fn publish(&self, class: usize, list: &FreeList) {
        self.lens[class].store(list.len, Relaxed);
    }

    /// Moves up to [`SPILL`] blocks of `class` into `local` (half a local list, so a
    /// refilled list is far from spilling again); returns how many moved.
    pub(crate) fn refill(&self, class: usize, local: &mut FreeList) -> usize {
        if self.lens[class].load(Relaxed) == 0 {
            return 0;
        }
        let mut lists = lock(&self.lists);
        let moved = lists[class].len.min(SPILL);
        if moved > 0 {
            local.push_chain(lists[class].cut_front(moved));
            self.publish(class, &lists[class]);
        }
        moved
    }

    /// Takes `block` of `class`, or returns it when the pool is full.
    ///
    /// # Safety
    /// `block` is a free block of `class`, owned by the caller.
    pub(crate) unsafe fn give(&self, class: usize, block: *mut u8) -> Result<(), *mut u8> {
        let mut lists = lock(&self.lists);
        if lists[class].len >= GLOBAL_CAP {
            return Err(block);
        }
        // SAFETY: caller contract.
        unsafe { lists[class].push(block) };
        self.publish(class, &lists[class]);
        Ok(())
    }

    /// Takes a whole chain of `class` blocks, or returns it when it does not fit.
    pub(crate) fn give_chain(&self, class: usize, chain: Chain) -> Result<(), Chain> {
        if self.lens[class].load(Relaxed) + chain.len > GLOBAL_CAP {
            return Err(chain);
        }
        let mut lists = lock(&self.lists);
        if lists[class].len + chain.len > GLOBAL_CAP {
            return Err(chain);
        }
        lists[class].push_chain(chain);
        self.publish(class, &lists[class]);
        Ok(())
    }

    /// Takes every block of `local` (which becomes empty), freeing what does not fit.
    pub(crate) fn absorb(&self, class: usize, local: &mut FreeList) {
        while let Some(block) = local.pop() {
            // SAFETY: popped from a list we own.
            if let Err(block) = unsafe { self.give(class, block) } {
                // SAFETY: pooled blocks come from `alloc(block_layout(class))`.
                unsafe { std::alloc::dealloc(block, block_layout(class)) };
            }
        }
    }

    /// Frees every pooled block (loom models).
    #[cfg(loom)]
    pub(crate) fn drain(&self) -> usize {
        let mut lists = lock(&self.lists);
        let mut freed = 0;
        for (class, list) in lists.iter_mut().enumerate() {
            while let Some(block) = list.pop() {
                // SAFETY: pooled blocks come from `alloc(block_layout(class))`.
                unsafe { std::alloc::dealloc(block, block_layout(class)) };
                freed += 1;
            }
            self.publish(class, list);
        }
        freed
    }
}

#[cfg(not(loom))]
static GLOBAL: GlobalPool = GlobalPool::new();

#[cfg(loom)]
loom::lazy_static! {
    static ref GLOBAL: GlobalPool = GlobalPool::new();
}

/// One thread's lists; handed to the global pool when the thread exits.
struct LocalPool {
    lists: [Cell<FreeList>; CLASSES],
}

impl Drop for LocalPool {
    fn drop(&mut self) {
        for (class, list) in self.lists.iter().enumerate() {
            let mut list = list.replace(FreeList::EMPTY);
            GLOBAL.absorb(class, &mut list);
        }
    }
}

std::thread_local! {
    static LOCAL: LocalPool = const {
        LocalPool { lists: [const { Cell::new(FreeList::EMPTY) }; CLASSES] }
    };
}

#[inline]
fn allocate_class(class: usize) -> Option<NonNull<u8>> {
    let hit = LOCAL
        .try_with(|local| {
            let mut list = local.lists[class].get();
            let block = list.pop();
            if block.is_some() {
                local.lists[class].set(list);
            }
            block
        })
        .ok()
        .flatten();
    match hit {
        Some(block) => NonNull::new(block),
        None => allocate_slow(class),
    }
}

/// Local miss: refill from the global pool, else ask the global allocator.
#[cold]
fn allocate_slow(class: usize) -> Option<NonNull<u8>> {
    let refilled = LOCAL
        .try_with(|local| {
            let mut list = local.lists[class].get();
            GLOBAL.refill(class, &mut list);
            let block = list.pop();
            local.lists[class].set(list);
            block
        })
        .ok()
        .flatten();
    if let Some(block) = refilled {
        return NonNull::new(block);
    }
    // SAFETY: block layouts are non-zero-sized.
    NonNull::new(unsafe { std::alloc::alloc(block_layout(class)) })
}

/// # Safety
/// `block` came from `allocate_class(class)` and is no longer used.
#[inline]
unsafe fn deallocate_class(class: usize, block: *mut u8) {
    let kept = LOCAL.try_with(|local| {
        let mut list = local.lists[class].get();
        // SAFETY: caller contract: the block is free and ours.
        unsafe { list.push(block) };
        let spill = (list.len > LOCAL_CAP).then(|| list.cut_front(SPILL));
        local.lists[class].set(list);
        spill
    });
    match kept {
        Ok(None) => {}
        Ok(Some(spill)) => spill_to_global(class, spill),
        // SAFETY: forwarded caller contract (the thread-local is gone: one block).
        Err(_) => unsafe { deallocate_exiting(class, block) },
    }
}

/// Local list overflowed: half of it to the global pool, else to the allocator.
#[cold]
fn spill_to_global(class: usize, chain: Chain) {
    if let Err(chain) = GLOBAL.give_chain(class, chain) {
        chain.free(class);
    }
}

/// The thread is exiting: the global pool, else the allocator.
///
/// # Safety
/// As for `deallocate_class`.
#[cold]
unsafe fn deallocate_exiting(class: usize, block: *mut u8) {
    // SAFETY: caller contract.
    if let Err(block) = unsafe { GLOBAL.give(class, block) } {
        // SAFETY: pooled blocks come from `alloc(block_layout(class))`.
        unsafe { std::alloc::dealloc(block, block_layout(class)) };
    }
}

// SAFETY: pooled blocks are at least as large and as aligned as the request (checked by
// `class_of`) and leave the lists when handed out; others go to the global allocator.
unsafe impl FrameAllocator for RecyclingAllocator {
    #[inline]
    fn allocate(&self, layout: Layout) -> Option<NonNull<u8>> {
        match class_of(layout) {
            Some(class) => allocate_class(class),
            // SAFETY: non-zero size (trait contract).
            None => NonNull::new(unsafe { std::alloc::alloc(layout) }),
        }
    }

    #[inline]
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        match class_of(layout) {
            // SAFETY: same layout as the allocation, so the same class.
            Some(class) => unsafe { deallocate_class(class, ptr.as_ptr()) },
            // SAFETY: allocated by `alloc(layout)`.
            None => unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) },
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn classes_round_up_and_large_requests_bypass() {
        let l = |size, align| Layout::from_size_align(size, align).unwrap();
        assert_eq!(class_of(l(1, 1)), Some(0));
        assert_eq!(class_of(l(64, 8)), Some(0));
        assert_eq!(class_of(l(65, 8)), Some(1));
        assert_eq!(class_of(l(2048, 16)), Some(5));
        assert_eq!(class_of(l(2049, 16)), None);
        assert_eq!(class_of(l(64, 32)), None);
    }

    #[test]
    fn a_freed_block_is_reused_by_the_same_thread() {
        let layout = Layout::from_size_align(200, 8).unwrap();
        let a = RecyclingAllocator.allocate(layout).unwrap();
        // SAFETY: fresh block of `layout`, freed once.
        unsafe { RecyclingAllocator.deallocate(a, layout) };
        let b = RecyclingAllocator.allocate(layout).unwrap();
        assert_eq!(a, b);
        // SAFETY: as above.
        unsafe { RecyclingAllocator.deallocate(b, layout) };
    }

    #[test]
    fn chains_move_whole_between_lists_and_pools() {
        let class = 1;
        let blocks: Vec<*mut u8> = (0..100)
            // SAFETY: block layouts are non-zero-sized.
            .map(|_| unsafe { std::alloc::alloc(block_layout(class)) })
            .collect();
        let mut local = FreeList::EMPTY;
        for &b in &blocks {
            // SAFETY: fresh blocks of the class, owned here.
            unsafe { local.push(b) };
        }
        let chain = local.cut_front(SPILL);
        assert_eq!((chain.len, local.len), (SPILL, 100 - SPILL));
        // Newest first: the chain holds the last `SPILL` pushed, in order.
        assert_eq!((chain.head, chain.tail), (blocks[99], blocks[100 - SPILL]));
        let pool = GlobalPool::new();
        assert!(pool.give_chain(class, chain).is_ok());
        let mut other = FreeList::EMPTY;
        assert_eq!(pool.refill(class, &mut other), SPILL);
        assert_eq!(pool.refill(class, &mut other), 0);
        let mut seen = Vec::new();
        while let Some(b) = other.pop() {
            seen.push(b);
        }
        while let Some(b) = local.pop() {
            seen.push(b);
        }
        // Every block once: nothing lost or duplicated by the moves.
        assert_eq!(seen, blocks.iter().rev().copied().collect::<Vec<_>>());
        for b in seen {
            // SAFETY: allocated above with this layout, freed once.
            unsafe { std::alloc::dealloc(b, block_layout(class)) };
        }
    }

    #[test]
    fn a_full_global_pool_returns_the_chain() {
        let class = 0;
        let pool = GlobalPool::new();
        let mut local = FreeList::EMPTY;
        for _ in 0..=GLOBAL_CAP {
            // SAFETY: a fresh block of the class, owned here.
            unsafe { local.push(std::alloc::alloc(block_layout(class))) };
        }
        let all = local.len;
        assert!(pool.give_chain(class, local.cut_front(GLOBAL_CAP)).is_ok());
        let rejected = pool
            .give_chain(class, local.cut_front(1))
            .expect_err("a full pool refuses");
        rejected.free(class);
        let mut drained = 0;
        let mut back = FreeList::EMPTY;
        while pool.refill(class, &mut back) > 0 {
            while let Some(b) = back.pop() {
                // SAFETY: allocated above with this layout, freed once.
                unsafe { std::alloc::dealloc(b, block_layout(class)) };
                drained += 1;
            }
        }
        assert_eq!(drained + 1, all);
    }

    #[test]
    fn blocks_freed_on_another_thread_survive_its_exit() {
        let layout = Layout::from_size_align(1000, 16).unwrap();
        let blocks: Vec<usize> = (0..40)
            .map(|_| RecyclingAllocator.allocate(layout).unwrap().as_ptr() as usize)
            .collect();
        std::thread::spawn(move || {
            for b in blocks {
                // SAFETY: each block came from `allocate(layout)` and is freed once.
                unsafe {
                    RecyclingAllocator.deallocate(NonNull::new(b as *mut u8).unwrap(), layout)
                };
            }
        })
        .join()
        .unwrap();
        // The exited thread's blocks are in the global pool and usable here.
        for _ in 0..3 {
            let p = RecyclingAllocator.allocate(layout).unwrap();
            // SAFETY: writing within a fresh block of 1000 bytes.
            unsafe { p.as_ptr().write_bytes(0xAB, 1000) };
            // SAFETY: freed once.
            unsafe { RecyclingAllocator.deallocate(p, layout) };
        }
    }
}
