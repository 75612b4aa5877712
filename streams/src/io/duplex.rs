//! [`duplex`]: a connected pair of in-memory streams.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use strait_vocab::{ConstBuffer, MutableBuffer};

use super::traits::{ReadStream, WriteStream};
use crate::sync::lock;

/// Bytes buffered per direction when no capacity is given.
pub const DEFAULT_CAPACITY: usize = 64 * 1024;

/// One direction of the pair.
struct Pipe {
    data: VecDeque<u8>,
    capacity: usize,
    /// The writer shut down or was dropped: end of stream after `data` drains.
    write_closed: bool,
    /// The reader was dropped: writes fail with `BrokenPipe`.
    read_closed: bool,
    reader: Option<Waker>,
    writer: Option<Waker>,
}

fn store(slot: &mut Option<Waker>, waker: &Waker) {
    match slot {
        Some(w) if w.will_wake(waker) => {}
        _ => *slot = Some(waker.clone()),
    }
}

/// One end of a [`duplex`] pair: a [`Stream`](super::Stream) whose reads return what
/// the other end wrote.
///
/// - A read on an empty end waits until the peer writes (or ends).
/// - [`shutdown`](super::WriteStreamExt::shutdown) or dropping an end delivers end of
///   stream to the peer after the buffered bytes drain; the peer may still write back.
/// - Writes wait while the direction holds `capacity` bytes; a write to an end whose
///   reader is gone fails with `BrokenPipe`.
/// - `max_chunk` bounds each read and write, to exercise partial transfers.
///
/// Buffers are allocated once, at creation: operations never allocate.
pub struct DuplexStream {
    read: Arc<Mutex<Pipe>>,
    write: Arc<Mutex<Pipe>>,
    max_chunk: usize,
}

/// A connected pair with `capacity` bytes of buffering per direction and no chunk limit.
///
/// ```
/// use strait_streams::{block_on, duplex, ReadStreamExt, WriteStreamExt};
/// let (mut a, mut b) = duplex(1024);
/// block_on(async {
///     a.write("ping").await.unwrap();
///     let mut buf = [0u8; 8];
///     let n = b.read(&mut buf[..]).await.unwrap();
///     assert_eq!(&buf[..n], b"ping");
/// });
/// ```
pub fn duplex(capacity: usize) -> (DuplexStream, DuplexStream) {
    duplex_with_chunk(capacity, usize::MAX)
}

/// A connected pair whose reads and writes move at most `max_chunk` bytes each.
pub fn duplex_with_chunk(capacity: usize, max_chunk: usize) -> (DuplexStream, DuplexStream) {
    assert!(
        capacity > 0 && max_chunk > 0,
        "capacity and max_chunk must be positive"
    );
    let pipe = || {
        Arc::new(Mutex::new(Pipe {
            data: VecDeque::with_capacity(capacity),
            capacity,
            write_closed: false,
            read_closed: false,
            reader: None,
            writer: None,
        }))
    };
    let (ab, ba) = (pipe(), pipe());
    (
        DuplexStream {
            read: ba.clone(),
            write: ab.clone(),
            max_chunk,
        },
        DuplexStream {
            read: ab,
            write: ba,
            max_chunk,
        },
    )
}

impl DuplexStream {
    /// Changes the most bytes one read or write moves on this end.
    pub fn set_max_chunk(&mut self, max_chunk: usize) {
        assert!(max_chunk > 0, "max_chunk must be positive");
        self.max_chunk = max_chunk;
    }

    /// Bytes written by the peer and not yet read here.
    pub fn available(&self) -> usize {
        lock(&*self.read).data.len()
    }
}

impl ReadStream for DuplexStream {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let wanted = strait_vocab::buffer_size(&*bufs);
        if wanted == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut pipe = lock(&*self.read);
        if pipe.data.is_empty() {
            if pipe.write_closed {
                return Poll::Ready(Ok(0));
            }
            store(&mut pipe.reader, cx.waker());
            return Poll::Pending;
        }
        let mut left = wanted.min(self.max_chunk).min(pipe.data.len());
        let mut n = 0;
        for buf in bufs.iter_mut() {
            if left == 0 {
                break;
            }
            let take = buf.len().min(left);
            for (dst, src) in buf.as_mut_slice()[..take]
                .iter_mut()
                .zip(pipe.data.drain(..take))
            {
                *dst = src;
            }
            left -= take;
            n += take;
        }
        let writer = pipe.writer.take();
        drop(pipe);
        if let Some(w) = writer {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }
}

impl WriteStream for DuplexStream {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let offered = strait_vocab::buffer_size(bufs);
        if offered == 0 {
            return Poll::Ready(Ok(0));
        }
        let mut pipe = lock(&*self.write);
        if pipe.write_closed {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        if pipe.read_closed {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let room = pipe.capacity - pipe.data.len();
        if room == 0 {
            store(&mut pipe.writer, cx.waker());
            return Poll::Pending;
        }
        let mut left = offered.min(self.max_chunk).min(room);
        let mut n = 0;
        for buf in bufs {
            if left == 0 {
                break;
            }
            let take = buf.len().min(left);
            pipe.data.extend(&buf.as_slice()[..take]);
            left -= take;
            n += take;
        }
        let reader = pipe.reader.take();
        drop(pipe);
        if let Some(w) = reader {
            w.wake();
        }
        Poll::Ready(Ok(n))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let reader = {
            let mut pipe = lock(&*self.write);
            pipe.write_closed = true;
            pipe.reader.take()
        };
        if let Some(w) = reader {
            w.wake();
        }
        Poll::Ready(Ok(()))
    }
}

impl Drop for DuplexStream {
    fn drop(&mut self) {
        let reader = {
            let mut pipe = lock(&*self.write);
            pipe.write_closed = true;
            pipe.reader.take()
        };
        let writer = {
            let mut pipe = lock(&*self.read);
            pipe.read_closed = true;
            pipe.writer.take()
        };
        reader.into_iter().chain(writer).for_each(Waker::wake);
    }
}

impl fmt::Debug for DuplexStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DuplexStream")
            .field("available", &self.available())
            .field("max_chunk", &self.max_chunk)
            .finish()
    }
}
