//! Runs strait on tokio, and tokio's ecosystem on strait.
//!
//! The same strait code (protocols over [`AnyStream`](strait_streams::AnyStream),
//! `spawn`, `when_all`/`when_any`, `timeout`, strands) runs on a tokio runtime; only the
//! file that opens sockets names tokio.
//!
//! | concern | here | what it does |
//! |---|---|---|
//! | I/O, tokio → strait | [`FromTokioIo`] | any tokio `AsyncRead`/`AsyncWrite` as a strait stream |
//! | I/O, strait → tokio | [`TokioIo`] | any strait stream as tokio `AsyncRead`/`AsyncWrite` (hyper, tokio-rustls) |
//! | sockets | [`TcpStream`], [`TcpListener`], [`UnixStream`], [`UnixListener`] | tokio sockets that are strait streams |
//! | execution | [`TokioExecutor`] | a tokio handle as a strait executor: one tokio task per strait spawn |
//! | local tasks | [`LocalExecutor`] | `!Send` strait tasks on a tokio `LocalSet` |
//! | timers | [`TokioTimer`] | tokio's time driver behind `delay` and `timeout` |
//!
//! No operation allocates in steady state: reads and writes go straight to the socket
//! (vectored, and reads never zero-fill), a `delay` or `timeout` adds an entry to a
//! reused table, and a spawn costs one strait task and one tokio task.
//!
//! ```
//! use std::time::Duration;
//! use strait_streams::{read_exact, timeout, write_all, AnyStream};
//! use strait_tokio::{TcpListener, TcpStream, TokioExecutor};
//!
//! /// Protocol code: knows nothing of tokio.
//! async fn greet(mut stream: AnyStream<'_>) -> std::io::Result<()> {
//!     write_all(&mut stream, "hello").await?;
//!     Ok(())
//! }
//!
//! let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
//! let executor = TokioExecutor::new(runtime.handle());
//! executor.block_on(&runtime, async {
//!     let listener = TcpListener::bind("127.0.0.1:0").await?;
//!     let mut client = TcpStream::connect(listener.local_addr()?).await?;
//!     let (server, _) = listener.accept().await?;
//!     let served = strait_streams::env().executor().spawn(greet(AnyStream::new(server)));
//!     let mut buf = [0u8; 5];
//!     // `timeout` runs on tokio's timer here.
//!     timeout(Duration::from_secs(5), read_exact(&mut client, &mut buf[..])).await?;
//!     assert_eq!(&buf, b"hello");
//!     served.await.unwrap()
//! })
//! .unwrap();
//! ```

mod executor;
mod io;
mod local;
mod net;
mod timer;

pub use executor::{InEnv, TokioExecutor};
pub use io::{FromTokioIo, TokioIo};
pub use local::LocalExecutor;
pub use net::{TcpListener, TcpStream};
#[cfg(unix)]
pub use net::{UnixListener, UnixStream};
pub use timer::TokioTimer;
