//! The stream concepts (P4100 paper 5, Capy's stream concepts): traits with object-safe
//! `poll_*` methods, async extension methods, type-erased wrappers, composed
//! algorithms, buffered adapters and an in-memory duplex pair.
//!
//! # Names
//!
//! As in std and tokio, `read`/`write` ([`ReadStreamExt::read`],
//! [`WriteStreamExt::write`]) are partial: they move at least one byte. The complete
//! forms are `read_exact` and `write_all` ([`read_exact`], [`write_all`],
//! [`ReadSourceExt::read_exact`], [`WriteSinkExt::write_all`]). The papers call the
//! partial forms `read_some`/`write_some` — the names of the trait methods
//! ([`ReadStream::poll_read_some`], [`WriteStream::poll_write_some`]) — and the complete
//! ones `read`/`write`; the docs carry those as aliases. Each partial method has a
//! provided one-slice form ([`ReadStream::poll_read_slice`],
//! [`WriteStream::poll_write_slice`]) that `read`/`write` with a single region use: a
//! stream whose natural call takes one slice overrides it, and the erased and forwarding
//! wrappers pass it through, so a one-buffer read costs what `futures_io::AsyncRead`'s
//! `poll_read` does, plus the stop check below.
//!
//! # Semantics every implementation keeps
//!
//! - **Empty buffers**: a partial read or write with no bytes to move completes at
//!   once with `Ok(0)` and does no I/O.
//! - **End of stream**: `Ok(0)` from a read into non-empty buffers. After it, reads keep
//!   returning `Ok(0)`. A complete read ([`ReadSource`]) reports end of source by
//!   filling fewer bytes than asked.
//! - **Partial transfers**: `read`/`write` move at least one byte and may move fewer
//!   than offered. Composed operations ([`read_exact`], [`write_all`], ...) loop, and on
//!   an error after moving bytes report the count ([`bytes_transferred`](crate::bytes_transferred)).
//! - **Write-behind and flush**: a stream may report bytes written that it still holds
//!   (TLS, [`BufWriter`]); [`WriteStreamExt::flush`] pushes them out, `shutdown` and
//!   `write_eof` flush first, and [`write_all`] flushes at its end.
//! - **After an error**: the object may be unusable; further operations return an
//!   error or end of stream, never corrupted data.
//! - **After `shutdown` / `write_eof`**: writes fail with `ErrorKind::BrokenPipe`; reads
//!   are unaffected (half-close).
//! - **Cancel-safety**: partial `read`/`write`, `flush` and `shutdown` are cancel-safe —
//!   dropping the future before it completes moved no byte. Complete operations
//!   (`read_exact`, `write_all`, `write_eof`, composed algorithms) are not: dropping
//!   them may lose the count of bytes already moved (their futures expose
//!   `transferred()`).
//! - **Stop token**: every operation future checks the environment's stop token before
//!   touching the object: if stop was requested it completes with the
//!   [canceled](crate::canceled) error without I/O. A pending operation completes
//!   promptly with the canceled error when stop is requested: the environment's
//!   publisher wakes the task, and the re-polled operation sees the stop.
//!
//! ```
//! use strait_streams::{block_on, duplex, read_until, write_all, AnyStream};
//! use strait_vocab::VecBuffer;
//!
//! /// A protocol written once against `&mut AnyStream`: send a line, read one back.
//! async fn exchange(stream: &mut AnyStream<'_>, line: &str) -> std::io::Result<String> {
//!     write_all(stream, [line, "\n"]).await?;
//!     let mut reply = Vec::new();
//!     let n = read_until(stream, VecBuffer::new(&mut reply, 1024), b'\n').await?;
//!     reply.truncate(n - 1);
//!     Ok(String::from_utf8_lossy(&reply).into_owned())
//! }
//!
//! let (client, mut server) = duplex(4096);
//! let mut client = AnyStream::new(client);
//! let reply = block_on(async {
//!     strait_streams::write_all(&mut server, "pong\n").await.unwrap();
//!     exchange(&mut client, "ping").await
//! });
//! assert_eq!(reply.unwrap(), "pong");
//! ```

mod algorithms;
mod any;
mod buffered;
mod compat;
mod duplex;
mod ext;
mod mock;
mod split;
mod traits;

pub use algorithms::{
    pull_from, push_to, push_to_sink, read_at_least, read_exact, read_to_end, read_until,
    write_all, Matcher,
};
pub use any::{
    AnyBufferSink, AnyBufferSource, AnyReadSource, AnyReadStream, AnyStream, AnyWriteSink,
    AnyWriteStream, LocalAnyReadStream, LocalAnyStream, LocalAnyWriteStream,
};
pub use buffered::{BufReader, BufWriter, FillMore, DEFAULT_BUF_SIZE};
pub use compat::{FromFuturesIo, FuturesIo};
pub use duplex::{duplex, duplex_with_chunk, DuplexStream, DEFAULT_CAPACITY};
pub use ext::{
    BufferSinkExt, BufferSourceExt, Commit, Fill, Flush, Read, ReadExact, ReadSourceExt,
    ReadStreamExt, Reserve, Shutdown, Write, WriteAll, WriteSinkExt, WriteStreamExt,
};
pub use mock::{MockBuilder, MockSink, MockSource, MockStream};
pub use split::{split, ReadHalf, WriteHalf};
pub use traits::{
    BufferSink, BufferSource, ReadBufs, ReadSource, ReadStream, Stream, WriteBufs, WriteSink,
    WriteStream,
};
