//! Runs strait on async-std.
//!
//! **async-std is discontinued upstream** (RUSTSEC-2025-0052; its maintainers say "use
//! smol instead"). This crate exists so programs still on async-std can run strait code
//! while they move; new programs should use `strait-smol`, which this crate is a thin
//! layer over (async-std runs on the same async-io reactor and async-executor tasks).
//!
//! | concern | here | what it does |
//! |---|---|---|
//! | sockets | [`TcpStream`], [`TcpListener`], [`UnixStream`], [`UnixListener`] | async-std sockets that are strait streams, with a real half-close |
//! | I/O both ways | [`FromFuturesIo`], [`FuturesIo`], [`FuturesSocket`] (from strait-smol) | any futures-io type as a strait stream and back |
//! | execution | [`AsyncStdExecutor`] | async-std's global executor as a strait executor: one async-std task per strait spawn |
//! | local tasks | [`LocalExecutor`] (from strait-smol) | `!Send` strait tasks on one thread |
//! | timers | [`AsyncIoTimer`] (from strait-smol) | async-io's reactor behind `delay` and `timeout` |
//!
//! # The missing FIN
//! async-std's `TcpStream::poll_close` only flushes (it is async-io's `Async::poll_close`),
//! so a program that "closes" its write side never sends a FIN and the peer never reads
//! end of stream. Here a strait `shutdown` is a real `shutdown(Write)`
//! ([`FuturesSocket`]); `tests/half_close.rs` shows both the fix and the upstream
//! behaviour it replaces.
//!
//! # Local tasks
//! async-std spawns `!Send` tasks only behind its `unstable` feature; [`LocalExecutor`]
//! (strait-smol's, re-exported) runs `!Send` strait tasks on the calling thread over
//! the same async-io reactor that async-std uses.
//!
//! ```
//! use std::time::Duration;
//! use strait_async_std::{AsyncStdExecutor, TcpListener, TcpStream};
//! use strait_streams::{read_exact, timeout, write_all, AnyStream};
//!
//! /// Protocol code: knows nothing of async-std.
//! async fn greet(mut stream: AnyStream<'_>) -> std::io::Result<()> {
//!     write_all(&mut stream, "hello").await?;
//!     Ok(())
//! }
//!
//! let executor = AsyncStdExecutor::new();
//! executor.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     let served = strait_streams::env().executor().spawn(greet(AnyStream::new(server)));
//!     let mut buf = [0u8; 5];
//!     timeout(Duration::from_secs(5), read_exact(&mut client, &mut buf[..])).await?;
//!     assert_eq!(&buf, b"hello");
//!     served.await.unwrap()
//! })
//! .unwrap();
//! ```

mod executor;
mod net;

pub use executor::{AsyncStdExecutor, AsyncStdSpawner};
pub use net::{TcpListener, TcpStream};
#[cfg(unix)]
pub use net::{UnixListener, UnixStream};
pub use strait_smol::{
    AsyncIoTimer, FromFuturesIo, FuturesIo, FuturesSocket, InEnv, LocalExecutor,
};
