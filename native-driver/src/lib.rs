//! # strait-native: strait's own Linux reactor
//!
//! Runs everything strait offers with no other runtime: an [`IoContext`] whose run loop
//! executes tasks and waits on an edge-triggered epoll instance; a timer queue that
//! serves [`Timer`] and the portable `delay`/`timeout`; TCP and Unix stream sockets that
//! implement the stream traits; UDP and Unix datagram sockets; [`SignalSet`];
//! [`Resolver`]; and files ([`StreamFile`], [`RandomAccessFile`]).
//!
//! ```no_run
//! use strait_native::{IoContext, TcpListener};
//! use strait_streams::{read_until, write_all};
//! use strait_vocab::VecBuffer;
//!
//! let ctx = IoContext::new()?;
//! let listener = TcpListener::bind(&ctx, "127.0.0.1:7000".parse().unwrap())?;
//! ctx.block_on(async {
//!     let (mut conn, _) = listener.accept().await?;
//!     let mut line = Vec::new();
//!     let n = read_until(&mut conn, VecBuffer::new(&mut line, 4096), b'\n').await?;
//!     write_all(&mut conn, &line[..n]).await?;
//!     Ok::<_, std::io::Error>(())
//! })?;
//! # Ok::<(), std::io::Error>(())
//! ```
//!
//! ## Design
//! - **Readiness first** (`DESIGN.md`): each descriptor is registered once,
//!   edge-triggered, for both directions; operations try the syscall first and only on
//!   `EAGAIN` clear their readiness bit, store the waker and re-check (`reactor`).
//! - **Inline budget** (`budget`): an operation that completes inline still counts;
//!   after 512 in one task poll the task yields, so one busy stream cannot starve the
//!   other tasks on its thread.
//! - **Backend contract** in `sys`: a selector (register once, wait, report
//!   `(token, readiness)`) plus an eventfd waker — the seam where io_uring goes.
//! - **Run queues**: a task woken on the thread running the context is queued in a
//!   thread-local list, handed to the context under one lock when the batch ends; posts
//!   from other threads go through a lock-free stack (`strait_streams::exec::Inject`).
//!   [`IoContext::new_single_threaded`] goes further: its one runner owns the queue and
//!   takes no lock at all (the mode for thread-per-core servers).
//! - **Several runner threads** ([`IoContext::new`]): runners about to block in
//!   `epoll_wait` are counted (`sleepers`); a post from another thread writes the
//!   eventfd only when that count is non-zero (a `SeqCst` fence on both sides), so busy
//!   loops pay no syscall per post, and each runner leaving `run` wakes the next.
//! - **Cancellation**: operations check the environment's stop token before each
//!   attempt, and the environment's publisher wakes the task on stop (see
//!   `strait_streams` env docs). `cancel` completes the operations waiting on a socket
//!   as canceled, `close` fails pending and later ones; both are flag bits beside the
//!   readiness bits, so operations pay nothing for them.
//! - **No per-operation state**: an operation that must wait stores its task's waker in
//!   the descriptor's slot for its direction. Accept, connect, datagram and readiness
//!   operations take it back out when they end without the reactor having taken it
//!   (dropped, stopped, canceled). Stream reads and writes go through the stream
//!   traits' poll methods, which see no drop: a dropped one leaves at most a stale
//!   waker, replaced by the next operation in that direction (one spurious wake-up).
//! - **Shared access**: connected stream sockets implement the stream traits for `&T`
//!   too, so one task can read while another writes, waits or cancels.
//!
//! Not yet here (later issues): io_uring.

mod blocking;
mod budget;
mod context;
mod file;
mod net;
mod reactor;
mod resolver;
mod runner_queue;
mod signal;
mod sys;
mod timer;
mod timer_queue;

pub use context::IoContext;
pub use file::{RandomAccessFile, StreamFile};
pub use net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
pub use reactor::Interest;
pub use resolver::{Resolution, ResolveFlags, Resolver};
pub use signal::SignalSet;
pub use timer::{Timer, Wait};
