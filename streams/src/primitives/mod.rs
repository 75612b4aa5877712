//! Async synchronization: [`AsyncMutex`] (FIFO hand-off) and [`AsyncEvent`]
//! (broadcast). Waiters are intrusive nodes inside the waiting futures, so waiting never
//! allocates; both honour the environment's stop token and cancellation by drop.

mod event;
mod mutex;
mod wait_list;

pub use event::{AsyncEvent, Wait};
pub use mutex::{AsyncMutex, AsyncMutexGuard, Lock};
