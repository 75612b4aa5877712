//! Buffered adapters: [`BufReader`] turns any [`ReadStream`](super::ReadStream) into a
//! [`BufferSource`](super::BufferSource) and [`ReadSource`](super::ReadSource) (the
//! buffered reader every protocol parser needs), [`BufWriter`] turns any
//! [`WriteStream`](super::WriteStream) into a [`BufferSink`](super::BufferSink) and
//! [`WriteSink`](super::WriteSink) that coalesces small writes until a flush.
//!
//! Both own one [`OwnedBuffer`](strait_vocab::OwnedBuffer), allocated when the adapter
//! is made and reused for every operation: no allocation per operation. Each passes the
//! other direction through unchanged, so a `BufReader<TcpStream>` is still a stream.

mod reader;
mod writer;

pub use reader::{BufReader, FillMore};
pub use writer::BufWriter;

/// Default buffer size of both adapters (as std's and tokio's).
pub const DEFAULT_BUF_SIZE: usize = 8 * 1024;
