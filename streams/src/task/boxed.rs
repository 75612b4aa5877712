//! [`Task`]: an owned, type-erased future allocated from the frame allocator.

use std::alloc::Layout;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use crate::alloc::FrameAlloc;

/// The frame of a future laid out as `layout`: the future's state, then the handle of
/// the allocator that made the block (the papers' frame footer), so a task is two words
/// (passed in registers, like a `Box<dyn Future>`) and its drop finds the allocator
/// without another field. Returns the block's layout and the footer's offset.
#[inline]
fn frame_layout(future: Layout) -> (Layout, usize) {
    future
        .extend(Layout::new::<FrameAlloc>())
        .expect("a future's frame layout fits in isize")
}

/// Returns a frame's block to its allocator when dropped, so a panicking future
/// destructor does not leak it.
struct Free {
    alloc: FrameAlloc,
    block: NonNull<u8>,
    layout: Layout,
}

impl Drop for Free {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: the block came from `self.alloc` with this layout (`new_in`), and its
        // future was dropped (or its destructor unwound, having dropped every field).
        unsafe { self.alloc.deallocate(self.block, self.layout) };
    }
}

macro_rules! erased_task {
    ($(#[$doc:meta])* $name:ident $(, $send:ident)?) => {
        $(#[$doc])*
        pub struct $name<'a, T> {
            /// The future, in a frame from `frame_layout` (a dangling pointer for a
            /// zero-sized future: no frame, no allocator kept).
            future: NonNull<dyn Future<Output = T> $(+ $send)? + 'a>,
            _owns: PhantomData<Box<dyn Future<Output = T> $(+ $send)? + 'a>>,
        }

        impl<T> Unpin for $name<'_, T> {}

        impl<'a, T> $name<'a, T> {
            /// Erases `future`, allocating from the current environment's frame allocator.
            #[inline]
            pub fn new<F>(future: F) -> Self
            where
                F: Future<Output = T> $(+ $send)? + 'a,
            {
                let alloc = crate::env::with_env(|env| env.frame_allocator.clone());
                Self::new_in(future, alloc)
            }

            /// Erases `future`, allocating from `alloc`.
            #[inline]
            pub fn new_in<F>(future: F, alloc: FrameAlloc) -> Self
            where
                F: Future<Output = T> $(+ $send)? + 'a,
            {
                let ptr = if std::mem::size_of::<F>() == 0 {
                    // Nothing to store: no frame, and no allocator to free one to.
                    NonNull::<F>::dangling()
                } else {
                    let (layout, footer) = frame_layout(Layout::new::<F>());
                    let block = alloc.allocate(layout);
                    // SAFETY: `block` is a fresh block for `layout`: `F` at its start and
                    // the allocator handle at `footer`, both aligned by `frame_layout`.
                    unsafe {
                        block.add(footer).cast::<FrameAlloc>().write(alloc);
                        block.cast::<F>()
                    }
                };
                // SAFETY: `ptr` is a fresh block for `F` (or dangling but aligned, for a ZST).
                unsafe { ptr.as_ptr().write(future) };
                let future: NonNull<dyn Future<Output = T> $(+ $send)? + 'a> = ptr;
                $name {
                    future,
                    _owns: PhantomData,
                }
            }

            /// The frame's layout and the allocator that made it; `None` for a
            /// zero-sized future (no frame).
            fn frame(&self) -> Option<(Layout, &FrameAlloc)> {
                // SAFETY: the future is alive until `drop`; only its size is read.
                let layout = Layout::for_value(unsafe { self.future.as_ref() });
                if layout.size() == 0 {
                    return None;
                }
                let (frame, footer) = frame_layout(layout);
                // SAFETY: `new_in` wrote the allocator handle at `footer` of this frame;
                // it stays there until `drop` moves it out.
                let alloc = unsafe { &*self.future.cast::<u8>().as_ptr().add(footer).cast::<FrameAlloc>() };
                Some((frame, alloc))
            }
        }

        impl<T> Future for $name<'_, T> {
            type Output = T;
            #[inline]
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
                // SAFETY: the future lives in its own allocation and never moves; we own it.
                unsafe { Pin::new_unchecked(&mut *self.future.as_ptr()) }.poll(cx)
            }
        }

        impl<T> Drop for $name<'_, T> {
            #[inline]
            fn drop(&mut self) {
                let _free = self.frame().map(|(layout, alloc)| Free {
                    // SAFETY: the handle is read out once, here; the frame is not used
                    // after `_free` returns it.
                    alloc: unsafe { std::ptr::read(alloc) },
                    block: self.future.cast(),
                    layout,
                });
                // SAFETY: initialized in `new_in` and dropped once, in place; `_free` returns
                // the memory afterwards, also when the destructor panics.
                unsafe { std::ptr::drop_in_place(self.future.as_ptr()) };
            }
        }

        impl<T> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // SAFETY: the future is alive until `drop`; only its size is read.
                let size = std::mem::size_of_val(unsafe { self.future.as_ref() });
                f.debug_struct(stringify!($name))
                    .field("size", &size)
                    .field("alloc", &self.frame().map(|(_, alloc)| alloc))
                    .finish()
            }
        }
    };
}

erased_task!(
    /// An owned, type-erased future whose state lives in memory from the current frame
    /// allocator: the papers' `task<T>`, and the return type for trait methods and library
    /// boundaries where `async fn` cannot be named.
    ///
    /// `Task::new` allocates once (nothing for a zero-sized future) from the environment's
    /// frame allocator ([`RecyclingAllocator`](crate::RecyclingAllocator) by default),
    /// instead of the global allocator `Box::pin` would use, and frees to the same
    /// allocator on drop wherever that happens. Two words, like `Pin<Box<dyn Future>>`
    /// (so it moves in registers): the allocator's handle is kept in the frame, after
    /// the future's state.
    ///
    /// ```
    /// use strait_streams::{block_on, Task};
    ///
    /// trait Greeter {
    ///     fn greet(&self, name: &str) -> Task<'_, String>;
    /// }
    /// struct English;
    /// impl Greeter for English {
    ///     fn greet(&self, name: &str) -> Task<'_, String> {
    ///         let name = name.to_owned();
    ///         Task::new(async move { format!("hello, {name}") })
    ///     }
    /// }
    /// let g: &dyn Greeter = &English;
    /// assert_eq!(block_on(g.greet("strait")), "hello, strait");
    /// ```
    Task,
    Send
);

// SAFETY: the erased future is `Send`.
unsafe impl<T> Send for Task<'_, T> {}
// SAFETY: `&Task` gives no access to the future.
unsafe impl<T> Sync for Task<'_, T> {}

erased_task!(
    /// [`Task`] for futures that are not `Send`: the owned, type-erased future of
    /// thread-per-core code and local tasks ([`RunLoop::spawn_local`](crate::RunLoop::spawn_local)).
    /// Allocates from the frame allocator like `Task`; neither `Send` nor `Sync`.
    ///
    /// ```
    /// use std::rc::Rc;
    /// use strait_streams::{block_on, LocalTask};
    /// let shared = Rc::new(5);
    /// let s = shared.clone();
    /// let task: LocalTask<'_, i32> = LocalTask::new(async move { *s + 1 });
    /// assert_eq!(block_on(task), 6);
    /// ```
    LocalTask
);
