//! # strait-streams: the execution model and stream concepts of strait
//!
//! How async call chains get their executor, stop token and frame allocator without
//! naming them, and the stream vocabulary protocols are written against (P4003; P4100
//! papers 1–6), in Rust. The workspace map and the cross-crate decisions are in the
//! repository's `ARCHITECTURE.md`.
//!
//! | piece | what it is |
//! |---|---|
//! | [`IoEnv`], [`env()`], [`with_env`] | the environment published for every poll of a task |
//! | [`StopSource`], [`StopToken`], [`StopCallback`], [`StopWaker`] | cooperative cancellation; callbacks are intrusive and never allocate |
//! | [`is_canceled`], [`canceled`] | the one cancellation error |
//! | [`Executor`], [`AnyExecutor`], [`ExecutorRef`], [`Runnable`] | where tasks run; posting never allocates |
//! | [`RunLoop`], [`ThreadPool`], [`system_executor`], [`block_on`] | execution contexts; dropping one aborts the tasks it owns |
//! | [`spawn`], [`RunLoop::spawn_local`], [`JoinHandle`], [`Task`], [`LocalTask`] | spawned tasks (one allocation each) and the owned type-erased future |
//! | [`FrameAllocator`], [`FrameAlloc`], [`RecyclingAllocator`] | where task state is allocated |
//! | [`run_async`], [`run`], [`with_stop_token`], [`with_frame_allocator`], [`yield_now`] | launchers and launch helpers |
//! | [`when_all`], [`when_any`], [`timeout`], [`delay`] | structured concurrency and time ([`combinators`]) |
//! | [`AsyncMutex`], [`AsyncEvent`], [`Strand`] | coordination without blocking a thread |
//! | [`ReadStream`], [`WriteStream`], [`ReadSource`], [`WriteSink`], [`BufferSource`], [`BufferSink`] | the stream concepts; `read`/`write` partial, `read_exact`/`write_all` complete, `flush` ([`io`]) |
//! | [`AnyStream`] and the other `Any*`, [`split`], [`BufReader`], [`BufWriter`] | type erasure, halves for two tasks, buffered adapters |
//! | [`ConstBuffer`], [`MutableBuffer`], [`DynamicBuffer`], [`OwnedBuffer`], … | the buffer vocabulary, re-exported from `strait-vocab` ([`vocab`]) |
//! | [`driver`] | what drivers and runtime adapters need: run queues, owned tasks, [`ForeignTask`](driver::ForeignTask), the timer service |
//!
//! ```
//! use strait_streams::{env, with_stop_token, RunLoop, StopSource};
//!
//! // A leaf three calls deep reads the environment nobody passed to it.
//! async fn leaf() -> bool { env().stop_token().stop_requested() }
//! async fn middle() -> bool { leaf().await }
//! async fn top() -> bool { middle().await }
//!
//! let rl = RunLoop::new();
//! let source = StopSource::new();
//! source.request_stop();
//! let stopped = rl.block_on(with_stop_token(source.token(), top()));
//! assert!(stopped);
//! assert!(!rl.block_on(top())); // outside the override the token never stops
//! ```
//!
//! ## Design decisions (differences from the papers)
//!
//! - **Nested `async fn` calls need no frame**: Rust inlines them into the caller's
//!   state machine, so the frame allocator serves only spawns and [`Task`] (type erasure),
//!   not every call as in C++.
//! - **The environment is a thread-local pointer** swapped around each poll (the
//!   papers' window), not an argument of `await_suspend`: Rust's `Future::poll` has no
//!   place for it. A child that overrides part of it ([`with_stop_token`]) wraps the child
//!   future and swaps the slot around the child's poll.
//! - **Continuations are tasks**: an `Executor` queues [`Runnable`]s (one per spawned
//!   task, linked intrusively through the task header) rather than coroutine handles;
//!   a `Waker` of a strait task posts its runnable. `dispatch` never runs a task inline —
//!   it uses a "run next" slot on a loop's own thread — because Rust tasks are polled,
//!   not resumed by symmetric transfer, and inline polling from inside another poll
//!   would re-enter.
//! - **Cancellation has two forms**: dropping a future (Rust's norm) and the stop
//!   token (the papers'); the canceled error is built from `ECANCELED` so it needs no
//!   allocation and is never `ErrorKind::Interrupted`.
//!
//! ## Testing unsafe code
//!
//! The unsafe modules (`stop`, `task::raw`, `alloc`, `exec::queue`, `exec::inject`,
//! `env`) have tests
//! that run under AddressSanitizer:
//! `RUSTFLAGS=-Zsanitizer=address cargo +nightly test -p strait-streams --lib --tests --target x86_64-unknown-linux-gnu`
//! (doctests are left out: rustdoc links them without the sanitizer runtime).
//! Loom models of the stop token, the task state machine, the strand, the mutex and
//! event claim protocols, the allocator's global pool, and the run queues' lock-free
//! posting with its sleeping-consumer handshake run with `RUSTFLAGS="--cfg loom" cargo test -p strait-streams --release --lib loom_models`.
#![warn(missing_docs)]
#![deny(unsafe_op_in_unsafe_fn)]

pub mod alloc;
pub mod combinators;
pub mod driver;
mod env;
mod error;
pub mod exec;
pub mod io;
mod launch;
#[cfg(all(test, loom))]
mod loom_models;
pub mod primitives;
mod stop;
mod sync;
pub mod task;

// Buffers, from strait-vocab: one import path serves buffers and streams.
/// The buffer vocabulary crate, re-exported whole (views, windows, slicing, `bufgrind`).
pub use strait_vocab as vocab;
#[cfg(feature = "bytes")]
pub use strait_vocab::BytesMutBuffer;
pub use strait_vocab::{
    buffer_copy, buffer_size, CircularBuffer, ConstBuffer, ConstBufferSequence, DynamicBuffer,
    FlatBuffer, MutableBuffer, MutableBufferSequence, OwnedBuffer, VecBuffer,
};

// Execution.
pub use alloc::{FrameAlloc, FrameAllocator, RecyclingAllocator, SystemAllocator};
pub use combinators::{
    delay, delay_until, timeout, when_all, when_any, IntoWhenAll, IntoWhenAny, OneOf2, OneOf3,
    OneOf4, OneOf5, OneOf6,
};
pub use env::{env, stop_requested, with_env, with_frame_allocator, with_stop_token, IoEnv};
pub use error::{bytes_transferred, canceled, is_canceled, Canceled, PartialTransfer};
pub use exec::{
    system_executor, AnyExecutor, ExecutionContext, Executor, ExecutorRef, RunLoop, Service,
    ServiceExists, Services, Strand, ThreadPool, WorkGuard,
};
pub use launch::{block_on, block_on_with, run, run_async, yield_now};
pub use primitives::{AsyncEvent, AsyncMutex, AsyncMutexGuard};
pub use stop::{StopCallback, StopForwarder, StopSource, StopToken, StopWaker};
pub use task::{spawn, JoinError, JoinHandle, LocalTask, Runnable, Task};

// Streams.
pub use io::{
    duplex, pull_from, push_to, push_to_sink, read_at_least, read_exact, read_to_end, read_until,
    split, write_all, AnyBufferSink, AnyBufferSource, AnyReadSource, AnyReadStream, AnyStream,
    AnyWriteSink, AnyWriteStream, BufReader, BufWriter, BufferSink, BufferSinkExt, BufferSource,
    BufferSourceExt, DuplexStream, FromFuturesIo, FuturesIo, LocalAnyReadStream, LocalAnyStream,
    LocalAnyWriteStream, Matcher, ReadHalf, ReadSource, ReadSourceExt, ReadStream, ReadStreamExt,
    Stream, WriteHalf, WriteSink, WriteSinkExt, WriteStream, WriteStreamExt,
};
