//! Runs strait on smol, and the futures-io ecosystem on strait.
//!
//! The same strait code (protocols over [`AnyStream`](strait_streams::AnyStream),
//! `spawn`, `when_all`/`when_any`, `timeout`, strands) runs on smol's executor and
//! async-io's reactor; only the file that opens sockets names smol.
//!
//! | concern | here | what it does |
//! |---|---|---|
//! | I/O, futures-io → strait | [`FromFuturesIo`], [`FuturesSocket`] | any futures-io `AsyncRead`/`AsyncWrite` as a strait stream; a socket with a real half-close |
//! | I/O, strait → futures-io | [`FuturesIo`] | any strait stream as futures-io `AsyncRead`/`AsyncWrite` (async-tls, async-h1) |
//! | sockets | [`TcpStream`], [`TcpListener`], [`UnixStream`], [`UnixListener`] | async-io sockets that are strait streams |
//! | execution | [`SmolExecutor`] ([`ForeignExecutor`] over any spawner) | a smol executor as a strait executor: one smol task per strait spawn |
//! | local tasks | [`LocalExecutor`] | `!Send` strait tasks on a smol `LocalExecutor` |
//! | timers | [`AsyncIoTimer`] | async-io's timers behind `delay` and `timeout` |
//!
//! No operation allocates in steady state: reads and writes go straight to the socket
//! (vectored; futures-io buffers are initialised, so nothing is zero-filled), a `delay`
//! or `timeout` adds an entry to a reused table, and a spawn costs one strait task frame
//! (recycled) and one smol task. The adapter adds no thread: smol runs tasks on the
//! threads that run its executor, and async-io's reactor is driven by whoever blocks
//! (or by async-io's own fallback thread, as for any smol program).
//!
//! ```
//! use std::sync::Arc;
//! use std::time::Duration;
//! use strait_streams::{read_exact, timeout, write_all, AnyStream};
//! use strait_smol::{SmolExecutor, TcpListener, TcpStream};
//!
//! /// Protocol code: knows nothing of smol.
//! async fn greet(mut stream: AnyStream<'_>) -> std::io::Result<()> {
//!     write_all(&mut stream, "hello").await?;
//!     Ok(())
//! }
//!
//! let smol = Arc::new(async_executor::Executor::new());
//! let executor = SmolExecutor::new(&smol);
//! executor.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     let served = strait_streams::env().executor().spawn(greet(AnyStream::new(server)));
//!     let mut buf = [0u8; 5];
//!     // `timeout` runs on async-io's timer here.
//!     timeout(Duration::from_secs(5), read_exact(&mut client, &mut buf[..])).await?;
//!     assert_eq!(&buf, b"hello");
//!     served.await.unwrap()
//! })
//! .unwrap();
//! ```
//!
//! # Serving HTTP/1.1 on smol
//! An accepted [`TcpStream`] is a strait stream, so `strait_http1::io::serve_connection`
//! takes it as it is; each connection is one smol task spawned through the executor:
//!
//! ```
//! use std::sync::Arc;
//! use http::{HeaderMap, StatusCode};
//! use strait_http1::io::{serve_connection, Exchange};
//! use strait_smol::{SmolExecutor, TcpListener, TcpStream};
//! use strait_streams::{read_to_end, write_all, VecBuffer};
//!
//! async fn hello(ex: &mut Exchange<'_, TcpStream>) -> std::io::Result<()> {
//!     ex.respond(StatusCode::OK, &HeaderMap::new(), b"hello").await
//! }
//!
//! let smol = Arc::new(async_executor::Executor::new());
//! let executor = SmolExecutor::new(&smol);
//! executor.block_on(async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (conn, _) = listener.accept().await?;
//!     let server = strait_streams::spawn(async move {
//!         serve_connection(conn, async |ex: &mut Exchange<'_, TcpStream>| hello(ex).await)
//!             .await
//!             .map(drop)
//!     });
//!     write_all(&mut client, "GET / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await?;
//!     let mut response = Vec::new();
//!     read_to_end(&mut client, VecBuffer::new(&mut response, 4096)).await?;
//!     assert!(response.starts_with(b"HTTP/1.1 200 OK\r\n"));
//!     assert!(response.ends_with(b"hello"));
//!     server.await.unwrap()
//! })
//! .unwrap();
//! ```

mod executor;
mod io;
mod local;
mod net;
mod running;
mod timer;

pub use executor::{ForeignExecutor, InEnv, SmolExecutor, SmolSpawner, Spawn};
pub use io::{FromFuturesIo, FuturesIo, FuturesSocket};
pub use local::LocalExecutor;
pub use net::{TcpListener, TcpStream};
#[cfg(unix)]
pub use net::{UnixListener, UnixStream};
pub use timer::{AsyncIoTimer, TimerDriver};
