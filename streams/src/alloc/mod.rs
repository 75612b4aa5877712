//! Frame allocators: where spawned tasks and [`Task`](crate::Task)s get their memory.
//!
//! A [`FrameAllocator`] hands out blocks for the state of type-erased futures. The
//! environment carries one ([`IoEnv::frame_allocator`](crate::IoEnv)); spawns and
//! `Task::new` allocate from it, and every block records the allocator that made it, so
//! it is always freed there, whichever thread or environment frees it (the papers' frame
//! footer).
//!
//! [`FrameAlloc::recycling`] (the default) is [`RecyclingAllocator`]: per-thread
//! size-class free lists with a global overflow pool. [`FrameAlloc::system`] is the
//! global allocator; [`FrameAlloc::from_static`] and [`FrameAlloc::custom`] wrap any other.

pub(crate) mod recycling;

pub use recycling::RecyclingAllocator;

use std::alloc::Layout;
use std::fmt;
use std::ptr::NonNull;
use std::sync::Arc;

/// A source of memory for future state ("frames").
///
/// # Safety
/// `allocate` returns either `None` or a block valid for `layout` (size and alignment)
/// that no one else uses until it is passed back to `deallocate` with the same layout.
pub unsafe trait FrameAllocator: Send + Sync + 'static {
    /// A block for `layout`, or `None` when out of memory. `layout.size()` is non-zero.
    fn allocate(&self, layout: Layout) -> Option<NonNull<u8>>;

    /// Returns a block.
    ///
    /// # Safety
    /// `ptr` came from `allocate(layout)` on this allocator and is not used afterwards.
    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout);
}

/// The global allocator as a frame allocator.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemAllocator;

// SAFETY: forwards to the global allocator, which keeps the contract.
unsafe impl FrameAllocator for SystemAllocator {
    fn allocate(&self, layout: Layout) -> Option<NonNull<u8>> {
        // SAFETY: callers never pass a zero-size layout (trait contract).
        NonNull::new(unsafe { std::alloc::alloc(layout) })
    }

    unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        // SAFETY: `ptr` came from `alloc(layout)` (caller contract).
        unsafe { std::alloc::dealloc(ptr.as_ptr(), layout) }
    }
}

/// A handle to a frame allocator, as carried by the environment: the recycling
/// allocator and the system allocator without virtual dispatch, or any other behind an
/// `Arc`. Cloning is cheap.
#[derive(Clone, Default)]
pub struct FrameAlloc(Kind);

#[derive(Clone, Default)]
enum Kind {
    #[default]
    Recycling,
    System,
    Static(&'static dyn FrameAllocator),
    Custom(Arc<dyn FrameAllocator>),
}

impl FrameAlloc {
    /// The process-wide [`RecyclingAllocator`] (the default).
    pub const fn recycling() -> Self {
        FrameAlloc(Kind::Recycling)
    }

    /// The global allocator.
    pub const fn system() -> Self {
        FrameAlloc(Kind::System)
    }

    /// Any other allocator, shared by reference count (one atomic increment per
    /// allocation that records it).
    pub fn custom(alloc: Arc<dyn FrameAllocator>) -> Self {
        FrameAlloc(Kind::Custom(alloc))
    }

    /// Any other allocator that lives for the whole program (a `static`): no reference
    /// counting, as the papers store a `memory_resource*`.
    pub const fn from_static(alloc: &'static dyn FrameAllocator) -> Self {
        FrameAlloc(Kind::Static(alloc))
    }

    /// A block for `layout`; zero-size layouts get a dangling, aligned pointer.
    ///
    /// # Panics
    /// Calls [`std::alloc::handle_alloc_error`] when the allocator is out of memory.
    #[inline]
    pub fn allocate(&self, layout: Layout) -> NonNull<u8> {
        if layout.size() == 0 {
            // An aligned dangling pointer: the alignment is a non-zero address.
            return NonNull::new(layout.align() as *mut u8).expect("alignment is non-zero");
        }
        let block = match &self.0 {
            Kind::Recycling => RecyclingAllocator.allocate(layout),
            Kind::System => SystemAllocator.allocate(layout),
            Kind::Static(a) => a.allocate(layout),
            Kind::Custom(a) => a.allocate(layout),
        };
        block.unwrap_or_else(|| std::alloc::handle_alloc_error(layout))
    }

    /// Returns a block.
    ///
    /// # Safety
    /// `ptr` came from `self.allocate(layout)` (or from a clone of `self`).
    #[inline]
    pub unsafe fn deallocate(&self, ptr: NonNull<u8>, layout: Layout) {
        if layout.size() == 0 {
            return;
        }
        // SAFETY: forwarded caller contract.
        unsafe {
            match &self.0 {
                Kind::Recycling => RecyclingAllocator.deallocate(ptr, layout),
                Kind::System => SystemAllocator.deallocate(ptr, layout),
                Kind::Static(a) => a.deallocate(ptr, layout),
                Kind::Custom(a) => a.deallocate(ptr, layout),
            }
        }
    }
}

impl fmt::Debug for FrameAlloc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.0 {
            Kind::Recycling => "FrameAlloc::recycling",
            Kind::System => "FrameAlloc::system",
            Kind::Static(_) => "FrameAlloc::from_static",
            Kind::Custom(_) => "FrameAlloc::custom",
        })
    }
}
