//! Files: [`RandomAccessFile`] (owned-buffer reads and writes at offsets) and
//! [`StreamFile`] (a file as a stream). Blocking file I/O runs on a shared pool of
//! blocking threads, never on a reactor thread (epoll cannot wait for regular files).

use std::fs::{File, OpenOptions};
use std::future::{poll_fn, Future};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use strait_streams::{JoinHandle, ReadStream, WriteStream};
use strait_vocab::{buffer_copy, ConstBuffer, MutableBuffer};

/// Size of a [`StreamFile`]'s transfer buffer.
const CHUNK: usize = 64 * 1024;

use crate::blocking::{file_pool, offload as offload_on};

async fn offload<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    offload_on(file_pool(), job).await
}

/// A file read and written at explicit offsets with owned buffers (the shape io_uring
/// needs: the kernel may hold a buffer the caller cannot drop).
#[derive(Debug, Clone)]
pub struct RandomAccessFile {
    file: Arc<File>,
}

impl RandomAccessFile {
    /// Opens `path` with `options`.
    ///
    /// # Errors
    /// As `open(2)`: `NotFound`, `PermissionDenied`, ...
    pub async fn open(path: impl AsRef<Path>, options: OpenOptions) -> io::Result<Self> {
        let path = path.as_ref().to_owned();
        let file = offload(move || options.open(path)).await??;
        Ok(RandomAccessFile {
            file: Arc::new(file),
        })
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns the count (0 at end of file)
    /// and the buffer.
    ///
    /// # Errors
    /// As `pread`.
    pub async fn read_at(&self, mut buf: Vec<u8>, offset: u64) -> (io::Result<usize>, Vec<u8>) {
        let file = self.file.clone();
        let len = buf.len();
        let result = offload(move || {
            let r = file.read_at(&mut buf, offset);
            (r, buf)
        })
        .await;
        match result {
            Ok((r, buf)) => (r, buf),
            Err(e) => (Err(e), vec![0; len]),
        }
    }

    /// Writes all of `buf` at `offset`; returns the buffer.
    ///
    /// # Errors
    /// As `pwrite`.
    pub async fn write_all_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>) {
        let file = self.file.clone();
        match offload(move || (file.write_all_at(&buf, offset), buf)).await {
            Ok(pair) => pair,
            Err(e) => (Err(e), Vec::new()),
        }
    }

    /// The file's size.
    ///
    /// # Errors
    /// As `fstat`.
    pub async fn size(&self) -> io::Result<u64> {
        let file = self.file.clone();
        offload(move || file.metadata().map(|m| m.len())).await?
    }

    /// Truncates or extends the file to `len` bytes.
    ///
    /// # Errors
    /// As `ftruncate`.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        let file = self.file.clone();
        offload(move || file.set_len(len)).await?
    }

    /// Flushes data and metadata to the device.
    ///
    /// # Errors
    /// As `fsync`.
    pub async fn sync_all(&self) -> io::Result<()> {
        let file = self.file.clone();
        offload(move || file.sync_all()).await?
    }
}

/// A file as a [`Stream`](strait_streams::Stream): reads and writes at a cursor.
///
/// Reads fill an internal 64 KiB buffer on the blocking pool, then copy out. Writes are
/// write-behind (as in tokio's `File`): a write (`poll_write_some`) copies into the
/// internal buffer, starts the write and returns; an error surfaces on the next
/// operation, and `flush` (so `write_all`, which flushes at its end), `shutdown` and
/// [`sync_all`](Self::sync_all) wait for the write in flight.
#[derive(Debug)]
pub struct StreamFile {
    file: Arc<File>,
    state: State,
    /// Bytes read ahead and not yet handed out.
    read_buf: Vec<u8>,
    read_pos: usize,
    /// The error of a write-behind, reported by the next operation.
    deferred: Option<io::Error>,
}

#[derive(Debug)]
enum State {
    Idle(Vec<u8>),
    Reading(JoinHandle<(io::Result<usize>, Vec<u8>)>),
    Writing(JoinHandle<(io::Result<()>, Vec<u8>)>),
}

impl StreamFile {
    /// Opens `path` with `options`; the cursor starts at 0 (or the end with append).
    ///
    /// # Errors
    /// As `open(2)`.
    pub async fn open(path: impl AsRef<Path>, options: OpenOptions) -> io::Result<Self> {
        let path = path.as_ref().to_owned();
        let file = offload(move || options.open(path)).await??;
        Ok(StreamFile {
            file: Arc::new(file),
            state: State::Idle(Vec::with_capacity(CHUNK)),
            read_buf: Vec::new(),
            read_pos: 0,
            deferred: None,
        })
    }

    /// Waits for outstanding writes, then flushes data and metadata to the device.
    ///
    /// # Errors
    /// A deferred write error, or `fsync`'s.
    pub async fn sync_all(&mut self) -> io::Result<()> {
        poll_fn(|cx| self.poll_idle(cx)).await?;
        let file = self.file.clone();
        offload(move || file.sync_all()).await?
    }

    /// Finishes the job in flight (if any) and surfaces a deferred error.
    fn poll_idle(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        loop {
            match &mut self.state {
                State::Idle(_) => {
                    return Poll::Ready(match self.deferred.take() {
                        Some(e) => Err(e),
                        None => Ok(()),
                    })
                }
                State::Writing(h) => {
                    let (r, mut buf) = std::task::ready!(Pin::new(h).poll(cx))
                        .unwrap_or_else(|e| (Err(io::Error::other(e.to_string())), Vec::new()));
                    buf.clear();
                    self.state = State::Idle(buf);
                    if let Err(e) = r {
                        self.deferred = Some(e);
                    }
                }
                State::Reading(h) => {
                    let (r, buf) = std::task::ready!(Pin::new(h).poll(cx))
                        .unwrap_or_else(|e| (Err(io::Error::other(e.to_string())), Vec::new()));
                    match r {
                        Ok(n) => {
                            let mut buf = buf;
                            buf.truncate(n);
                            self.read_buf = buf;
                            self.read_pos = 0;
                            self.state = State::Idle(Vec::with_capacity(CHUNK));
                        }
                        Err(e) => {
                            self.state = State::Idle(Vec::with_capacity(CHUNK));
                            return Poll::Ready(Err(e));
                        }
                    }
                }
            }
        }
    }
}

impl ReadStream for StreamFile {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if strait_vocab::buffer_empty(&*bufs) {
            return Poll::Ready(Ok(0));
        }
        loop {
            if this.read_pos < this.read_buf.len() {
                let n = buffer_copy(bufs, &this.read_buf[this.read_pos..], usize::MAX);
                this.read_pos += n;
                return Poll::Ready(Ok(n));
            }
            let was_reading = matches!(this.state, State::Reading(_));
            std::task::ready!(this.poll_idle(cx))?;
            if was_reading {
                if this.read_buf.is_empty() {
                    return Poll::Ready(Ok(0)); // end of file
                }
                continue;
            }
            // Start a read of the next chunk at the cursor.
            let State::Idle(mut buf) = std::mem::replace(&mut this.state, State::Idle(Vec::new()))
            else {
                unreachable!("idle after poll_idle")
            };
            buf.resize(CHUNK, 0);
            let file = this.file.clone();
            this.state = State::Reading(file_pool().spawn(async move {
                let mut f: &File = &file;
                let r = f.read(&mut buf);
                (r, buf)
            }));
        }
    }
}

impl WriteStream for StreamFile {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if strait_vocab::buffer_empty(bufs) {
            return Poll::Ready(Ok(0));
        }
        std::task::ready!(this.poll_idle(cx))?;
        if this.read_pos < this.read_buf.len() {
            // Read-ahead moved the OS cursor past what was handed out: step back.
            let unread = (this.read_buf.len() - this.read_pos) as i64;
            let mut f: &File = &this.file;
            f.seek(SeekFrom::Current(-unread))?;
            this.read_buf.clear();
            this.read_pos = 0;
        }
        let State::Idle(mut buf) = std::mem::replace(&mut this.state, State::Idle(Vec::new()))
        else {
            unreachable!("idle after poll_idle")
        };
        for b in bufs {
            let room = CHUNK - buf.len();
            buf.extend_from_slice(&b[..b.len().min(room)]);
            if buf.len() == CHUNK {
                break;
            }
        }
        let n = buf.len();
        let file = this.file.clone();
        this.state = State::Writing(file_pool().spawn(async move {
            let mut f: &File = &file;
            let r = f.write_all(&buf);
            (r, buf)
        }));
        Poll::Ready(Ok(n))
    }

    /// Waits for the write in flight and reports its error (write-behind).
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().poll_idle(cx)
    }
}
