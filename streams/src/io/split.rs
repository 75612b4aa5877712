//! [`split`]: one stream as a read half and a write half that two tasks can own.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use strait_vocab::{ConstBuffer, MutableBuffer};

use super::traits::{ReadStream, WriteStream};
use crate::sync::lock;

/// Splits `stream` into a [`ReadHalf`] and a [`WriteHalf`] that can move to different
/// tasks (a reader loop and a writer loop over one connection).
///
/// The halves share the stream behind a lock held only for the duration of one
/// `poll_*` call — never across a wait — so a pending read never blocks a write. The
/// stream must keep the wakers of a pending read and a pending write apart (as the
/// duplex pair, strait-native's sockets and the runtime adapters do): a transport with
/// a single waker slot would let one half's wait replace the other's. Erased streams
/// split too ([`AnyStream::split`](super::AnyStream) calls this).
/// Costs one allocation, here. Transports that can be shared without a lock (a native
/// `&TcpStream`) offer their own split as well.
///
/// ```
/// use strait_streams::{block_on, duplex, split, write_all, ReadStreamExt, WriteStreamExt};
/// let (a, mut b) = duplex(64);
/// let (mut reader, mut writer) = split(a);
/// block_on(async {
///     write_all(&mut writer, "to b").await?;
///     write_all(&mut b, "to a").await?;
///     let mut got = [0u8; 4];
///     reader.read(&mut got[..]).await?;
///     assert_eq!(&got, b"to a");
///     let stream = reader.unsplit(writer); // the original stream back
///     std::io::Result::Ok(())
/// })
/// .unwrap();
/// ```
pub fn split<S: ReadStream + WriteStream + Unpin>(stream: S) -> (ReadHalf<S>, WriteHalf<S>) {
    let shared = Arc::new(Mutex::new(stream));
    (
        ReadHalf {
            shared: shared.clone(),
        },
        WriteHalf { shared },
    )
}

/// The reading half made by [`split`].
pub struct ReadHalf<S> {
    shared: Arc<Mutex<S>>,
}

/// The writing half made by [`split`].
pub struct WriteHalf<S> {
    shared: Arc<Mutex<S>>,
}

impl<S> ReadHalf<S> {
    /// `true` when `other` was split from the same stream.
    pub fn is_pair_of(&self, other: &WriteHalf<S>) -> bool {
        Arc::ptr_eq(&self.shared, &other.shared)
    }

    /// Joins the halves back into the stream.
    ///
    /// # Panics
    ///
    /// If `other` was split from a different stream.
    pub fn unsplit(self, other: WriteHalf<S>) -> S {
        assert!(
            self.is_pair_of(&other),
            "unsplit: the halves come from different streams"
        );
        drop(other);
        match Arc::try_unwrap(self.shared) {
            Ok(mutex) => mutex.into_inner().unwrap_or_else(|e| e.into_inner()),
            Err(_) => unreachable!("both halves were given back"),
        }
    }
}

impl<S: ReadStream + Unpin> ReadStream for ReadHalf<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&*self.shared)).poll_read_some(cx, bufs)
    }
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&*self.shared)).poll_read_slice(cx, buf)
    }
}

impl<S: WriteStream + Unpin> WriteStream for WriteHalf<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&*self.shared)).poll_write_some(cx, bufs)
    }
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut *lock(&*self.shared)).poll_write_slice(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&*self.shared)).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut *lock(&*self.shared)).poll_shutdown(cx)
    }
}

impl<S> fmt::Debug for ReadHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ReadHalf").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for WriteHalf<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WriteHalf").finish_non_exhaustive()
    }
}
