//! Files: [`RandomAccessFile`] (owned-buffer reads and writes at offsets) and
//! [`StreamFile`] (a file as a stream).
//!
//! Where the I/O runs is decided per operation, by the context of the task that awaits
//! it: on an io_uring context reads, writes and `fsync` are ring operations (`ring`:
//! positional `IORING_OP_READ`/`WRITE`, `IORING_OP_FSYNC`), whose slot owns the
//! caller's buffer until the kernel is done with it; elsewhere (epoll, which cannot
//! wait for regular files, or outside any context) they run on a shared pool of
//! blocking threads, never on a reactor thread. Opening, `size` and `set_len` always
//! use the pool.

mod ring;

use std::fs::{File, OpenOptions};
use std::future::{poll_fn, Future};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::mem::ManuallyDrop;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use strait_streams::{JoinHandle, ReadStream, WriteStream};
use strait_vocab::{buffer_copy, ConstBuffer, MutableBuffer};

use crate::context::Handle;

/// Size of a [`StreamFile`]'s transfer buffer.
const CHUNK: usize = 64 * 1024;

use crate::blocking::{file_pool, offload as offload_on};

async fn offload<T: Send + 'static>(job: impl FnOnce() -> T + Send + 'static) -> io::Result<T> {
    offload_on(file_pool(), job).await
}

/// The descriptor as a `File` for `std`'s methods, without owning it.
fn as_file(fd: &OwnedFd) -> ManuallyDrop<File> {
    // SAFETY: `fd` is an open descriptor for as long as the borrow lives, and the
    // `File` is never dropped (`ManuallyDrop`), so it never closes what it does not own.
    ManuallyDrop::new(unsafe { File::from_raw_fd(fd.as_raw_fd()) })
}

/// Opens `path` on the blocking pool.
async fn open_fd(path: &Path, options: OpenOptions) -> io::Result<Arc<OwnedFd>> {
    let path = path.to_owned();
    let file = offload(move || options.open(path)).await??;
    Ok(Arc::new(OwnedFd::from(file)))
}

/// A file read and written at explicit offsets with owned buffers (the shape io_uring
/// needs: the kernel may hold a buffer the caller cannot drop).
///
/// On an io_uring context an operation is a ring operation that owns the buffer until
/// its completion: dropping the future (or a stop) cancels it and the buffer is freed
/// only once the kernel is done with it; the caller then never gets it back. On epoll
/// the operation runs on the blocking pool and runs to its end even if dropped.
#[derive(Debug, Clone)]
pub struct RandomAccessFile {
    fd: Arc<OwnedFd>,
}

impl RandomAccessFile {
    /// Opens `path` with `options`.
    ///
    /// # Errors
    /// As `open(2)`: `NotFound`, `PermissionDenied`, ...
    pub async fn open(path: impl AsRef<Path>, options: OpenOptions) -> io::Result<Self> {
        Ok(RandomAccessFile {
            fd: open_fd(path.as_ref(), options).await?,
        })
    }

    /// Reads up to `buf.len()` bytes at `offset`; returns the count (0 at end of file)
    /// and the buffer (a fresh one of the same length after a stop, or an error that
    /// kept the original).
    ///
    /// # Errors
    /// As `pread`; the canceled error after a stop.
    pub async fn read_at(&self, mut buf: Vec<u8>, offset: u64) -> (io::Result<usize>, Vec<u8>) {
        if let Some((_, ring)) = ring::current() {
            if strait_streams::stop_requested() {
                return (Err(strait_streams::canceled()), buf); // starts nothing
            }
            return ring::read_at(&ring, &self.fd, buf, offset).await;
        }
        let fd = self.fd.clone();
        let len = buf.len();
        let result = offload(move || {
            let r = as_file(&fd).read_at(&mut buf, offset);
            (r, buf)
        })
        .await;
        match result {
            Ok((r, buf)) => (r, buf),
            Err(e) => (Err(e), vec![0; len]),
        }
    }

    /// Writes all of `buf` at `offset`; returns the buffer (empty after a stop, or an
    /// error that kept the original).
    ///
    /// # Errors
    /// As `pwrite`; `WriteZero` if the file takes no more; the canceled error after a
    /// stop (some of `buf` may have been written).
    pub async fn write_all_at(&self, buf: Vec<u8>, offset: u64) -> (io::Result<()>, Vec<u8>) {
        if let Some((_, ring)) = ring::current() {
            if strait_streams::stop_requested() {
                return (Err(strait_streams::canceled()), buf); // starts nothing
            }
            let mut write = ring::WriteAll::start(ring, self.fd.clone(), buf, offset);
            return poll_fn(|cx| {
                if strait_streams::stop_requested() {
                    return Poll::Ready((Err(strait_streams::canceled()), Vec::new()));
                }
                write.poll(cx)
            })
            .await;
        }
        let fd = self.fd.clone();
        match offload(move || (as_file(&fd).write_all_at(&buf, offset), buf)).await {
            Ok(pair) => pair,
            Err(e) => (Err(e), Vec::new()),
        }
    }

    /// The file's size.
    ///
    /// # Errors
    /// As `fstat`.
    pub async fn size(&self) -> io::Result<u64> {
        let fd = self.fd.clone();
        offload(move || as_file(&fd).metadata().map(|m| m.len())).await?
    }

    /// Truncates or extends the file to `len` bytes.
    ///
    /// # Errors
    /// As `ftruncate`.
    pub async fn set_len(&self, len: u64) -> io::Result<()> {
        let fd = self.fd.clone();
        offload(move || as_file(&fd).set_len(len)).await?
    }

    /// Flushes data and metadata to the device.
    ///
    /// # Errors
    /// As `fsync`.
    pub async fn sync_all(&self) -> io::Result<()> {
        if let Some((_, ring)) = ring::current() {
            return ring::sync_all(&ring, &self.fd).await;
        }
        let fd = self.fd.clone();
        offload(move || as_file(&fd).sync_all()).await?
    }
}

/// A file as a [`Stream`](strait_streams::Stream): reads and writes at a cursor.
///
/// Reads fill an internal 64 KiB buffer (one ring read at the file position on an
/// io_uring context, else a read on the blocking pool), then copy out. Writes are
/// write-behind (as in tokio's `File`): a write (`poll_write_some`) copies into the
/// internal buffer, starts the write and returns; an error surfaces on the next
/// operation, and `flush` (so `write_all`, which flushes at its end), `shutdown` and
/// [`sync_all`](Self::sync_all) wait for the write in flight. Dropping the file still
/// finishes a write in flight; a read ahead in flight is canceled.
#[derive(Debug)]
pub struct StreamFile {
    fd: Arc<OwnedFd>,
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
    PoolRead(JoinHandle<(io::Result<usize>, Vec<u8>)>),
    PoolWrite(JoinHandle<(io::Result<()>, Vec<u8>)>),
    RingRead(ring::ReadAhead),
    /// The write and the context it runs on (where a dropped file finishes it).
    RingWrite(ring::WriteAll, Handle),
}

impl StreamFile {
    /// Opens `path` with `options`; the cursor starts at 0 (or the end with append).
    ///
    /// # Errors
    /// As `open(2)`.
    pub async fn open(path: impl AsRef<Path>, options: OpenOptions) -> io::Result<Self> {
        Ok(StreamFile {
            fd: open_fd(path.as_ref(), options).await?,
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
        if let Some((_, ring)) = ring::current() {
            return ring::sync_all(&ring, &self.fd).await;
        }
        let fd = self.fd.clone();
        offload(move || as_file(&fd).sync_all()).await?
    }

    /// A read finished with `r` into `buf`: its bytes become the read-ahead (the old
    /// read-ahead buffer, all handed out, is the next transfer buffer).
    fn read_done(&mut self, r: io::Result<usize>, mut buf: Vec<u8>) -> io::Result<()> {
        match r {
            Ok(n) => {
                buf.truncate(n);
                let mut spare = std::mem::replace(&mut self.read_buf, buf);
                spare.clear();
                self.read_pos = 0;
                self.state = State::Idle(spare);
                Ok(())
            }
            Err(e) => {
                buf.clear();
                self.state = State::Idle(buf);
                Err(e)
            }
        }
    }

    /// A write finished with `r`: its error is deferred to the next operation.
    fn write_done(&mut self, r: io::Result<()>, mut buf: Vec<u8>) {
        buf.clear();
        self.state = State::Idle(buf);
        if let Err(e) = r {
            self.deferred = Some(e);
        }
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
                State::PoolWrite(h) => {
                    let (r, buf) = std::task::ready!(Pin::new(h).poll(cx))
                        .unwrap_or_else(|e| (Err(io::Error::other(e.to_string())), Vec::new()));
                    self.write_done(r, buf);
                }
                State::RingWrite(w, _) => {
                    let (r, buf) = std::task::ready!(w.poll(cx));
                    self.write_done(r, buf);
                }
                State::PoolRead(h) => {
                    let (r, buf) = std::task::ready!(Pin::new(h).poll(cx))
                        .unwrap_or_else(|e| (Err(io::Error::other(e.to_string())), Vec::new()));
                    self.read_done(r, buf)?;
                }
                State::RingRead(read) => {
                    let (r, buf) = std::task::ready!(read.poll(cx));
                    self.read_done(r, buf)?;
                }
            }
        }
    }
}

impl Drop for StreamFile {
    fn drop(&mut self) {
        // A pool job runs to its end anyway; a ring write is finished by a task of its
        // context (a ring read is canceled by its `Op`'s drop).
        if let State::RingWrite(write, handle) =
            std::mem::replace(&mut self.state, State::Idle(Vec::new()))
        {
            write.detach(&handle);
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
            let was_reading = matches!(this.state, State::PoolRead(_) | State::RingRead(_));
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
            this.state = match ring::current() {
                Some((_, ring)) => match ring::ReadAhead::start(&ring, &this.fd, buf) {
                    Ok(op) => State::RingRead(op),
                    Err(e) => {
                        this.state = State::Idle(Vec::with_capacity(CHUNK));
                        return Poll::Ready(Err(e));
                    }
                },
                None => {
                    let fd = this.fd.clone();
                    State::PoolRead(file_pool().spawn(async move {
                        let mut f: &File = &as_file(&fd);
                        let r = f.read(&mut buf);
                        (r, buf)
                    }))
                }
            };
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
            let mut f: &File = &as_file(&this.fd);
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
        this.state = match ring::current() {
            Some((handle, ring)) => State::RingWrite(
                ring::WriteAll::start(ring, this.fd.clone(), buf, ring::CURSOR),
                handle,
            ),
            None => {
                let fd = this.fd.clone();
                State::PoolWrite(file_pool().spawn(async move {
                    let mut f: &File = &as_file(&fd);
                    let r = f.write_all(&buf);
                    (r, buf)
                }))
            }
        };
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
