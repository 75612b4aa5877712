//! # strait-native: strait's own Linux reactor
//!
//! Runs everything strait offers with no other runtime: an [`IoContext`] whose run loop
//! executes tasks and waits on an edge-triggered epoll instance, a timer queue that
//! serves `delay`/`timeout`, TCP and Unix stream sockets that implement the stream
//! traits, and UDP and Unix datagram sockets.
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
//! - **Backend contract** in `sys`: a selector (register once, wait, report
//!   `(token, readiness)`) plus an eventfd waker — the seam where io_uring goes.
//! - **Wake-ups**: a post from another thread writes the eventfd only while the runner
//!   is (about to be) blocked in `epoll_wait` (a `polling` flag checked with `SeqCst` on
//!   both sides), so busy loops pay no syscall per post.
//! - **Stop tokens**: operations check the environment's token before each attempt; the
//!   environment's publisher wakes the task on stop (see `strait_streams` env docs).
//!
//! Not yet here (later issues): several threads running one context, the inline budget,
//! io_uring.

mod context;
mod file;
mod net;
mod reactor;
mod resolver;
mod signal;
mod sys;
mod timers;

pub use context::IoContext;
pub use file::{RandomAccessFile, StreamFile};
pub use net::{TcpListener, TcpStream, UdpSocket, UnixDatagram, UnixListener, UnixStream};
pub use resolver::Resolver;
pub use signal::SignalSet;
