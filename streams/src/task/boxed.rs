//! [`Task`]: an owned, type-erased future allocated from the frame allocator.

use std::alloc::Layout;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::ptr::NonNull;
use std::task::{Context, Poll};

use crate::alloc::FrameAlloc;

macro_rules! erased_task {
    ($(#[$doc:meta])* $name:ident $(, $send:ident)?) => {
        $(#[$doc])*
        pub struct $name<'a, T> {
            future: NonNull<dyn Future<Output = T> $(+ $send)? + 'a>,
            layout: Layout,
            alloc: FrameAlloc,
            _owns: PhantomData<Box<dyn Future<Output = T> $(+ $send)? + 'a>>,
        }

        impl<T> Unpin for $name<'_, T> {}

        impl<'a, T> $name<'a, T> {
            /// Erases `future`, allocating from the current environment's frame allocator.
            pub fn new<F>(future: F) -> Self
            where
                F: Future<Output = T> $(+ $send)? + 'a,
            {
                let alloc = crate::env::with_env(|env| env.frame_allocator.clone());
                Self::new_in(future, alloc)
            }

            /// Erases `future`, allocating from `alloc`.
            pub fn new_in<F>(future: F, alloc: FrameAlloc) -> Self
            where
                F: Future<Output = T> $(+ $send)? + 'a,
            {
                let layout = Layout::new::<F>();
                let ptr = alloc.allocate(layout).cast::<F>();
                // SAFETY: `ptr` is a fresh (or, for a ZST, dangling but aligned) block for `F`.
                unsafe { ptr.as_ptr().write(future) };
                let future: NonNull<dyn Future<Output = T> $(+ $send)? + 'a> = ptr;
                $name {
                    future,
                    layout,
                    alloc,
                    _owns: PhantomData,
                }
            }
        }

        impl<T> Future for $name<'_, T> {
            type Output = T;
            fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
                // SAFETY: the future lives in its own allocation and never moves; we own it.
                unsafe { Pin::new_unchecked(&mut *self.future.as_ptr()) }.poll(cx)
            }
        }

        impl<T> Drop for $name<'_, T> {
            fn drop(&mut self) {
                /// Frees the frame when dropped, so a panicking future destructor does not
                /// leak it.
                struct Free<'a>(&'a FrameAlloc, NonNull<u8>, Layout);
                impl Drop for Free<'_> {
                    fn drop(&mut self) {
                        // SAFETY: the block came from `self.0` with this layout and its value
                        // was dropped (or its destructor unwound, having dropped every field).
                        unsafe { self.0.deallocate(self.1, self.2) };
                    }
                }
                let _free = Free(&self.alloc, self.future.cast(), self.layout);
                // SAFETY: initialized in `new_in` and dropped once, in place; `_free` returns
                // the memory afterwards, also when the destructor panics.
                unsafe { std::ptr::drop_in_place(self.future.as_ptr()) };
            }
        }

        impl<T> fmt::Debug for $name<'_, T> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_struct(stringify!($name))
                    .field("size", &self.layout.size())
                    .field("alloc", &self.alloc)
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
    /// allocator on drop wherever that happens.
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
