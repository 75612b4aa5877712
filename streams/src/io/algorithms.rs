//! Composed operations over the stream traits. Each is an `async fn` built from the
//! cancel-aware leaf operations, so the environment's stop token reaches every inner
//! step. On error after some bytes moved, the error carries the count:
//! [`bytes_transferred`](crate::bytes_transferred) reads it, and the error keeps its kind
//! ([`is_canceled`](crate::is_canceled) still recognizes a cancellation).

use std::io;

use strait_vocab::{ConstBufferSequence, Consuming, DynamicBuffer, MutableBufferSequence};

use super::ext::{BufferSourceExt, ReadStreamExt, WriteSinkExt, WriteStreamExt};
use super::traits::{BufferSink, BufferSource, ReadStream, WriteSink, WriteStream};
use crate::error::after_transfer;

/// Fills `bufs` from `stream`, or up to end of stream. Returns the bytes read: fewer
/// than `bufs` holds only at end of stream. The papers' complete `read` (std's
/// `read_exact`, except that end of stream is a short count, not an error).
#[doc(alias = "read")]
pub async fn read_exact<S, B>(stream: &mut S, bufs: B) -> io::Result<usize>
where
    S: ReadStream + Unpin + ?Sized,
    B: MutableBufferSequence,
{
    read_at_least(stream, bufs, usize::MAX).await
}

/// Reads into `bufs` until at least `min` bytes arrived (or `bufs` is full, or the
/// stream ended). Returns the bytes read.
pub async fn read_at_least<S, B>(stream: &mut S, mut bufs: B, min: usize) -> io::Result<usize>
where
    S: ReadStream + Unpin + ?Sized,
    B: MutableBufferSequence,
{
    let mut cursor = Consuming::new(&mut bufs);
    while cursor.consumed() < min && !cursor.is_empty() {
        match stream.read(&mut cursor).await {
            Ok(0) => break,
            Ok(n) => cursor.consume(n),
            Err(e) => return Err(after_transfer(e, cursor.consumed())),
        }
    }
    Ok(cursor.consumed())
}

/// Bytes prepared per read by [`read_to_end`] and [`read_until`].
const READ_CHUNK: usize = 4096;

/// Reads until end of stream, appending to `buf`. Returns the bytes appended.
///
/// # Errors
/// `ErrorKind::OutOfMemory` (from [`LengthError`](strait_vocab::LengthError)) when
/// `buf` reaches its max size before the stream ends; the bytes read stay in `buf`.
pub async fn read_to_end<S, D>(stream: &mut S, mut buf: D) -> io::Result<usize>
where
    S: ReadStream + Unpin + ?Sized,
    D: DynamicBuffer,
{
    let mut total = 0;
    loop {
        let room = buf.max_size() - buf.size();
        if room == 0 {
            // Full: only end of stream is acceptable now.
            let mut probe = [0u8; 1];
            return match stream.read(&mut probe[..]).await {
                Ok(0) => Ok(total),
                Ok(_) => Err(after_transfer(
                    io::Error::new(
                        io::ErrorKind::OutOfMemory,
                        "read_to_end: the dynamic buffer reached its max size",
                    ),
                    total,
                )),
                Err(e) => Err(after_transfer(e, total)),
            };
        }
        match read_prepared(stream, &mut buf, READ_CHUNK.min(room)).await {
            Ok(0) => return Ok(total),
            Ok(n) => total += n,
            Err(e) => return Err(after_transfer(e, total)),
        }
    }
}

/// Reads once into `buf.prepare(want)` and commits what arrived.
///
/// A hand-written future rather than `stream.read(buf.prepare(..)?).await`: an
/// `async fn` that holds a `D::Prepared<'_>` across an await is not `Send` for any
/// borrowed buffer (rustc cannot prove `for<'a> D::Prepared<'a>: Send`), which would
/// keep every algorithm using it out of spawned tasks. Preparing again on each poll is
/// allowed by the dynamic-buffer contract (a second `prepare` replaces the first).
fn read_prepared<'a, S, D>(
    stream: &'a mut S,
    buf: &'a mut D,
    want: usize,
) -> impl std::future::Future<Output = io::Result<usize>> + 'a
where
    S: ReadStream + Unpin + ?Sized,
    D: DynamicBuffer,
{
    std::future::poll_fn(move |cx| {
        if crate::stop_requested() {
            return std::task::Poll::Ready(Err(crate::canceled()));
        }
        let n = {
            let mut prepared = buf.prepare(want).map_err(io::Error::from)?;
            let mut window = strait_vocab::MutableWindow::new(&mut prepared);
            std::task::ready!(
                std::pin::Pin::new(&mut *stream).poll_read_some(cx, window.as_mut_slice())
            )?
        };
        buf.commit(n);
        std::task::Poll::Ready(Ok(n))
    })
}

/// Finds a delimiter in buffered bytes for [`read_until`].
pub trait Matcher {
    /// Searches `data` and returns the offset just past the first match, if any.
    /// `searched` bytes at the front were already searched without a match by an
    /// earlier call (more data has been appended since); a matcher must still find a
    /// match that *ends* after `searched` but starts before it (a delimiter split
    /// across reads).
    fn find<S: ConstBufferSequence + ?Sized>(&mut self, data: &S, searched: usize)
        -> Option<usize>;
}

impl Matcher for u8 {
    fn find<S: ConstBufferSequence + ?Sized>(
        &mut self,
        data: &S,
        searched: usize,
    ) -> Option<usize> {
        let mut offset = searched;
        for region in regions_from(data, searched) {
            if let Some(i) = memchr::memchr(*self, region) {
                return Some(offset + i + 1);
            }
            offset += region.len();
        }
        None
    }
}

/// The bytes of `data` from offset `start` on, as contiguous regions: whole regions
/// before `start` are skipped by length, so a resumed search costs only the new bytes.
fn regions_from<S: ConstBufferSequence + ?Sized>(
    data: &S,
    start: usize,
) -> impl Iterator<Item = &[u8]> {
    let mut skip = start;
    data.buffers().filter_map(move |region| {
        if skip >= region.len() {
            skip -= region.len();
            None
        } else {
            let rest = &region[skip..];
            skip = 0;
            Some(rest)
        }
    })
}

impl Matcher for &[u8] {
    fn find<S: ConstBufferSequence + ?Sized>(
        &mut self,
        data: &S,
        searched: usize,
    ) -> Option<usize> {
        let delim: &[u8] = self;
        if delim.is_empty() {
            return Some(0);
        }
        // Re-scan the last `len - 1` searched bytes: a match may straddle them.
        let start = searched.saturating_sub(delim.len() - 1);
        let mut offset = start;
        let mut matched = 0;
        for region in regions_from(data, start) {
            let mut i = 0;
            while i < region.len() {
                if matched == 0 {
                    // Nothing pending: jump to the next candidate first byte.
                    match memchr::memchr(delim[0], &region[i..]) {
                        Some(j) => i += j,
                        None => break,
                    }
                }
                matched = kmp_step(delim, matched, region[i]);
                i += 1;
                if matched == delim.len() {
                    return Some(offset + i);
                }
            }
            offset += region.len();
        }
        None
    }
}

/// Knuth–Morris–Pratt step without a table (delimiters are short): the length of the
/// longest prefix of `delim` that ends at `b`, given `k` bytes matched before it.
fn kmp_step(delim: &[u8], mut k: usize, b: u8) -> usize {
    loop {
        if k < delim.len() && delim[k] == b {
            return k + 1;
        }
        if k == 0 {
            return 0;
        }
        // Fall back to the longest proper border of delim[..k].
        k = (1..k)
            .rev()
            .find(|&l| delim[..l] == delim[k - l..k])
            .unwrap_or(0);
    }
}

impl Matcher for &str {
    fn find<S: ConstBufferSequence + ?Sized>(
        &mut self,
        data: &S,
        searched: usize,
    ) -> Option<usize> {
        self.as_bytes().find(data, searched)
    }
}

/// Reads from `stream` into `buf` until `buf` holds a match of `matcher`; returns the
/// length of the data up to and including the match. Bytes after the match stay in
/// `buf` for the next call. If a match is already buffered, no I/O happens.
///
/// # Errors
/// `UnexpectedEof` when the stream ends without a match; `OutOfMemory` when `buf`
/// reaches its max size without one. Bytes read stay in `buf` in both cases.
pub async fn read_until<S, D, M>(stream: &mut S, mut buf: D, mut matcher: M) -> io::Result<usize>
where
    S: ReadStream + Unpin + ?Sized,
    D: DynamicBuffer,
    M: Matcher,
{
    let mut searched = 0;
    loop {
        if let Some(end) = matcher.find(&buf.data(), searched) {
            return Ok(end);
        }
        searched = buf.size();
        let room = buf.max_size() - buf.size();
        if room == 0 {
            return Err(io::Error::new(
                io::ErrorKind::OutOfMemory,
                "read_until: the dynamic buffer reached its max size without a match",
            ));
        }
        if read_prepared(stream, &mut buf, READ_CHUNK.min(room)).await? == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "read_until: end of stream before the delimiter",
            ));
        }
    }
}

/// Writes all of `bufs` to `stream`, then flushes it, so the bytes are on their way to
/// the peer when it completes even through a buffering layer (TLS, a buffered writer).
/// Eager: when every inner write and the flush are ready, it completes on its first
/// poll without suspending. Returns the bytes written.
pub async fn write_all<S, B>(stream: &mut S, bufs: B) -> io::Result<usize>
where
    S: WriteStream + Unpin + ?Sized,
    B: ConstBufferSequence,
{
    let mut cursor = Consuming::new(&bufs);
    while !cursor.is_empty() {
        match stream.write(&cursor).await {
            Ok(0) => {
                return Err(after_transfer(
                    io::Error::new(io::ErrorKind::WriteZero, "write_some wrote 0 bytes"),
                    cursor.consumed(),
                ))
            }
            Ok(n) => cursor.consume(n),
            Err(e) => return Err(after_transfer(e, cursor.consumed())),
        }
    }
    let written = cursor.consumed();
    stream
        .flush()
        .await
        .map_err(|e| after_transfer(e, written))?;
    Ok(written)
}

/// Moves everything `source` produces into `stream`, from the source's own buffers
/// (no intermediate copy), flushing as each window is written. Returns the bytes
/// moved. Does not shut `stream` down.
pub async fn push_to<Src, S>(source: &mut Src, stream: &mut S) -> io::Result<usize>
where
    Src: BufferSource + Unpin + ?Sized,
    S: WriteStream + Unpin + ?Sized,
{
    let mut total = 0;
    loop {
        let available = source.fill().await.map_err(|e| after_transfer(e, total))?;
        if available == 0 {
            return Ok(total);
        }
        let written = {
            let window = poll_window(source).await?;
            write_all(stream, window.as_slice()).await
        };
        match written {
            Ok(n) => {
                std::pin::Pin::new(&mut *source).consume(n);
                total += n;
            }
            Err(e) => return Err(after_transfer(e, total)),
        }
    }
}

/// Moves everything `source` produces into `sink` and ends the sink with
/// `write_eof`. Returns the bytes moved.
pub async fn push_to_sink<Src, K>(source: &mut Src, sink: &mut K) -> io::Result<usize>
where
    Src: BufferSource + Unpin + ?Sized,
    K: WriteSink + Unpin + ?Sized,
{
    let mut total = 0;
    loop {
        let available = source.fill().await.map_err(|e| after_transfer(e, total))?;
        if available == 0 {
            sink.close().await.map_err(|e| after_transfer(e, total))?;
            return Ok(total);
        }
        let window = poll_window(source).await?;
        let n = sink
            .write_all(window.as_slice())
            .await
            .map_err(|e| after_transfer(e, total))?;
        std::pin::Pin::new(&mut *source).consume(n);
        total += n;
    }
}

/// The window a `fill` just made ready (returns at once by the `BufferSource` contract).
async fn poll_window<Src: BufferSource + Unpin + ?Sized>(
    source: &mut Src,
) -> io::Result<strait_vocab::ConstWindow<'_>> {
    let mut source = Some(source);
    std::future::poll_fn(move |cx| {
        let s = source.take().expect("polled once");
        match std::pin::Pin::new(s).poll_pull(cx) {
            std::task::Poll::Ready(r) => std::task::Poll::Ready(r),
            std::task::Poll::Pending => std::task::Poll::Ready(Err(io::Error::other(
                "BufferSource broke its contract: pull after fill was not ready",
            ))),
        }
    })
    .await
}

/// Reads everything from `stream` into `sink`'s own buffers (no intermediate copy),
/// then ends the sink. Returns the bytes moved.
pub async fn pull_from<S, K>(stream: &mut S, sink: &mut K) -> io::Result<usize>
where
    S: ReadStream + Unpin + ?Sized,
    K: BufferSink + Unpin + ?Sized,
{
    use super::ext::BufferSinkExt;
    let mut total = 0;
    loop {
        sink.reserve().await.map_err(|e| after_transfer(e, total))?;
        let n = {
            let mut k = Some(&mut *sink);
            let mut window = std::future::poll_fn(move |cx| {
                let s = k.take().expect("polled once");
                match std::pin::Pin::new(s).poll_prepare(cx) {
                    std::task::Poll::Ready(r) => std::task::Poll::Ready(r),
                    std::task::Poll::Pending => std::task::Poll::Ready(Err(io::Error::other(
                        "BufferSink broke its contract: prepare after reserve was not ready",
                    ))),
                }
            })
            .await?;
            stream.read(window.as_mut_slice()).await
        };
        match n {
            Ok(0) => {
                sink.commit_eof(0)
                    .await
                    .map_err(|e| after_transfer(e, total))?;
                return Ok(total);
            }
            Ok(n) => {
                sink.commit(n).await.map_err(|e| after_transfer(e, total))?;
                total += n;
            }
            Err(e) => return Err(after_transfer(e, total)),
        }
    }
}
