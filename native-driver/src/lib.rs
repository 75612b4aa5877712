//! # strait-native: strait's own Linux reactor
//!
//! Runs everything strait offers with no other runtime: an [`IoContext`] whose run loop
//! executes tasks and waits for readiness on an io_uring or an edge-triggered epoll
//! instance ([`Backend`], chosen at run time); a timer queue that serves [`Timer`] and
//! the portable `delay`/`timeout`; TCP and Unix stream sockets that implement the
//! stream traits; UDP and Unix datagram sockets; [`SignalSet`]; [`Resolver`]; and files
//! ([`StreamFile`], [`RandomAccessFile`]).
//!
//! ```no_run
//! use strait_native::{IoContext, TcpListener};
//! use strait_streams::{read_until, write_all, VecBuffer};
//!
//! let ctx = IoContext::new()?;
//! let listener = TcpListener::bind(&ctx, "127.0.0.1:7000")?;
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
//! - **Readiness first** (`ARCHITECTURE.md`): each descriptor is registered once,
//!   edge-triggered, for both directions; operations try the syscall first and only on
//!   `EAGAIN` clear their readiness bit, store the waker and re-check (`scheduled_io`).
//! - **Inline budget** (`budget`): an operation that completes inline still counts;
//!   after 512 in one task poll the task yields, so one busy stream cannot starve the
//!   other tasks on its thread.
//! - **Two backends** behind the contract in `sys`: a selector (register once, wait,
//!   report `(token, readiness)`, wake from any thread). `epoll` is edge-triggered
//!   epoll plus an eventfd; `uring` keeps one multishot poll request per descriptor on
//!   an io_uring, hands registrations to the kernel with the next wait, and waits with
//!   `io_uring_enter` (its module docs tell the design). [`IoContext::builder`] picks
//!   one: [`Backend::Auto`] (the default, and what [`IoContext::new`] uses) probes
//!   io_uring and falls back to epoll with a [`FallbackReason`] it logs (the `log`
//!   crate) and keeps ([`IoContext::fallback_reason`]). Environment variables:
//!   `STRAIT_NATIVE_BACKEND=auto|io_uring|epoll` overrides `Auto` (how the test suite
//!   runs on each backend: `native-driver/ci.sh`), and
//!   `STRAIT_NATIVE_URING_PROBE_FAIL=<reason>` makes the probe fail with a simulated
//!   reason ([`FallbackReason::SIMULATED`]). [`IoContext::stats`] counts kernel calls,
//!   submissions, completions and wake-ups ([`IoStats`]), and on io_uring the
//!   completion path's reads and writes completed inline or after waiting, buffer-ring
//!   exhaustion and cancellations.
//! - **Sockets on io_uring's completion layer when [`Backend::IoUring`] is asked for by
//!   name** ([`IoContext::completion_sockets`]; under `Auto` epoll drives every socket
//!   and a ring of its own serves the files, `sys::file_ring`: see [`Backend::Auto`]
//!   and [`IoContext::completion_files`]): TCP and Unix streams
//!   (`net::tcp_ring` over the completion layer `uring`, whose module docs tell the
//!   design) keep a multishot receive into the context's shared provided-buffer ring
//!   (reads copy out of it, `BufferSource` lends it; unread bytes stay queued, so a
//!   dropped, stopped or canceled read loses none); a write goes straight to `sendmsg`
//!   when nothing is queued, and what the socket does not take waits in a pooled
//!   write-behind block (`flush`/`shutdown` wait for it); UDP uses `RECVMSG`/`SENDMSG`
//!   with slot-owned headers; a listener keeps a multishot accept (peer address
//!   from `getpeername`). The ring host (`sys::uring`) submits the layer's entries
//!   (at once when a runner sleeps in the kernel), hands it its CQEs in completion
//!   queue order with no ring lock held, and on context drop cancels and drains its
//!   operations before the ring may close. `cancel`, `close`, stop tokens, `&TcpStream`
//!   shared access and context-drop errors behave as on epoll; readiness `wait`
//!   registers a ring stream for readiness on first use.
//! - **Run queues**: a task woken on the thread running the context is queued in a
//!   thread-local list, handed to the context under one lock when the batch ends; posts
//!   from other threads go through a lock-free MPSC queue (`strait_streams::driver::Inject`),
//!   from which each turn takes only the batch it runs.
//!   [`IoContext::new_single_threaded`] goes further: its one runner owns the queue and
//!   takes no lock at all (the mode for thread-per-core servers).
//! - **Several runner threads** ([`IoContext::new`]): runners about to block in
//!   the selector are counted (`sleepers`); a post from another thread writes the
//!   eventfd only when that count is non-zero (a `SeqCst` fence on both sides), so busy
//!   loops pay no syscall per post, and each runner leaving `run` wakes the next.
//! - **Cancellation**: operations check the environment's stop token before each
//!   attempt, and the environment's publisher wakes the task on stop (see
//!   `strait_streams` env docs). `cancel` completes the operations waiting on a socket
//!   as canceled, `close` fails pending and later ones; the stream operations' cancel,
//!   `close` and context shutdown are flag bits beside the readiness bits, so
//!   operations pay nothing for them until they would wait.
//! - **Waiters, no per-operation allocation**: each direction of a descriptor has a
//!   stream slot and a reusable list of one-shot entries. Stream reads and writes go
//!   through the stream traits' poll methods, which see no drop, so they store their
//!   waker in the stream slot (one reader and one writer at a time; a dropped one
//!   leaves a stale waker, replaced by the next operation: one spurious wake-up).
//!   Accept, connect, datagram, signal and readiness operations take an entry when they
//!   first wait and give it back when they end, so any number of tasks can accept on one
//!   listener or receive on one socket; an edge wakes every waiter of its direction.
//! - **Shutdown** (`ARCHITECTURE.md`): dropping an [`IoContext`] fails every
//!   registration (pending and later operations get an error saying the context is
//!   gone), fires its timers, and aborts every task it owns (its `OwnedTasks` list:
//!   their futures are dropped, closing their sockets); a later spawn is aborted at once.
//! - **Handles**: [`Handle`] is a clonable reference to a context; constructors take
//!   `&IoContext` or a `Handle` (`impl AsRef<Handle>`), and [`Handle::current`] finds
//!   the context of the running task. Addresses are anything [`ToSocketAddr`] (numeric
//!   forms only: host names go through the [`Resolver`]).
//! - **Shared access**: connected stream sockets implement the stream traits for `&T`
//!   too, so one task can read while another writes, waits or cancels.
//!
//! On io_uring, TCP and Unix streams, UDP and file reads, writes and `fsync` run on
//! the completion layer (`uring`); Unix datagram sockets, signals (`signalfd`) and
//! readiness `wait`s use the ring's multishot polls, and timers the context's timer
//! queue (the nearest deadline is the wait's timeout).
//!
//! Not yet here (later issues): file opening, `size` and `set_len` use the blocking
//! pool on both backends; the TCP streams have no
//! `BufferSource`/`BufferSink` impls yet (the completion layer's zero-copy
//! `poll_fill`/`consume` and `poll_prepare`/`commit` exist, unused), no `SEND_ZC`, and
//! one ring per context (no `DEFER_TASKRUN` rings per runner thread).

mod blocking;
mod budget;
mod context;
mod file;
mod net;
mod reactor;
mod resolver;
mod runner_queue;
mod scheduled_io;
mod signal;
mod sync;
mod sys;
mod timer;
mod timer_queue;
// The completion layer the io_uring TCP path runs on (some of its API, the zero-copy
// halves and one-shot operations, is used only by its tests so far).
#[cfg_attr(not(test), allow(dead_code, unused_imports))]
mod uring;

pub use context::{Handle, IoContext, IoContextBuilder};
pub use file::{RandomAccessFile, StreamFile};
pub use net::{
    TcpListener, TcpStream, ToSocketAddr, UdpSocket, UnixDatagram, UnixListener, UnixStream,
};
pub use reactor::Interest;
pub use resolver::{Resolution, ResolveFlags, Resolver};
pub use signal::SignalSet;
pub use sys::{Backend, FallbackReason, IoStats};
pub use timer::{Timer, Wait};
