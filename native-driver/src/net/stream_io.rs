//! The read/write paths shared by every connected stream socket (TCP, Unix).

use std::io::{self, Read};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd};
use std::task::{Context, Poll};

use socket2::SockRef;
use strait_vocab::{ConstBuffer, IoSliceArray, IoSliceMutArray, MutableBuffer};

use crate::reactor::{Interest, ScheduledIo};
use crate::scheduled_io::OneShot;
use crate::sys::syscall;

/// `readv` into `bufs` (`recv` when the first buffer is all there is: the kernel's
/// scalar path skips importing an iovec, measurably cheaper per small read), waiting on
/// the reactor when the socket is empty.
pub(crate) fn poll_read<S: AsFd>(
    io: &ScheduledIo,
    sock: &S,
    cx: &mut Context<'_>,
    bufs: &mut [MutableBuffer<'_>],
) -> Poll<io::Result<usize>>
where
    for<'a> &'a S: Read,
{
    let wanted = strait_vocab::buffer_size(&*bufs);
    if wanted == 0 {
        return Poll::Ready(Ok(0));
    }
    let fd = sock.as_fd().as_raw_fd();
    io.poll_stream(
        Interest::Read,
        cx,
        || {
            if let Some(first) = bufs.first_mut().filter(|b| b.len() == wanted) {
                let dst = first.as_mut_slice();
                // SAFETY: `dst` is valid for writes of `dst.len()` bytes for the call.
                let n = unsafe { syscall!(recv(fd, dst.as_mut_ptr().cast(), dst.len(), 0)) }?;
                return Ok(n as usize);
            }
            let mut slices = IoSliceMutArray::from_buffers(bufs);
            let mut reader = sock;
            reader.read_vectored(&mut slices)
        },
        // A short read drained the socket (end of stream keeps the flag).
        |&n| n > 0 && n < wanted,
    )
}

/// [`poll_read`] into one slice (`ReadStream::poll_read_slice`): `recv`, with no
/// buffer sequence to build and walk.
pub(crate) fn poll_read_slice<S: AsFd>(
    io: &ScheduledIo,
    sock: &S,
    cx: &mut Context<'_>,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let wanted = buf.len();
    if wanted == 0 {
        return Poll::Ready(Ok(0));
    }
    let fd = sock.as_fd().as_raw_fd();
    io.poll_stream(
        Interest::Read,
        cx,
        || {
            // SAFETY: `buf` is valid for writes of `buf.len()` bytes for the call.
            let n = unsafe { syscall!(recv(fd, buf.as_mut_ptr().cast(), buf.len(), 0)) }?;
            Ok(n as usize)
        },
        |&n| n > 0 && n < wanted,
    )
}

/// [`poll_write`] of one slice (`WriteStream::poll_write_slice`): `send`, with no
/// buffer sequence to build and walk.
pub(crate) fn poll_write_slice<S: AsFd>(
    io: &ScheduledIo,
    sock: &S,
    cx: &mut Context<'_>,
    buf: &[u8],
) -> Poll<io::Result<usize>> {
    let offered = buf.len();
    if offered == 0 {
        return Poll::Ready(Ok(0));
    }
    let fd = sock.as_fd().as_raw_fd();
    io.poll_stream(
        Interest::Write,
        cx,
        || {
            // SAFETY: `buf` is valid for reads of `buf.len()` bytes for the call.
            let n =
                unsafe { syscall!(send(fd, buf.as_ptr().cast(), buf.len(), libc::MSG_NOSIGNAL)) }?;
            Ok(n as usize)
        },
        |&n| n < offered,
    )
}

/// `sendmsg(MSG_NOSIGNAL)` of `bufs` (`send` when the first buffer is all there is),
/// waiting on the reactor when the socket is full.
pub(crate) fn poll_write<S: AsFd>(
    io: &ScheduledIo,
    sock: &S,
    cx: &mut Context<'_>,
    bufs: &[ConstBuffer<'_>],
) -> Poll<io::Result<usize>> {
    let offered = strait_vocab::buffer_size(bufs);
    if offered == 0 {
        return Poll::Ready(Ok(0));
    }
    let fd = sock.as_fd().as_raw_fd();
    let sock = SockRef::from(sock);
    io.poll_stream(
        Interest::Write,
        cx,
        || {
            if let Some(first) = bufs.first().filter(|b| b.len() == offered) {
                let src = first.as_slice();
                // SAFETY: `src` is valid for reads of `src.len()` bytes for the call.
                let n = unsafe {
                    syscall!(send(fd, src.as_ptr().cast(), src.len(), libc::MSG_NOSIGNAL))
                }?;
                return Ok(n as usize);
            }
            let slices = IoSliceArray::from_buffers(bufs);
            sock.send_vectored_with_flags(&slices, libc::MSG_NOSIGNAL)
        },
        // A short write filled the send buffer.
        |&n| n < offered,
    )
}

/// Polls `op` unless the environment's stop token was triggered.
pub(crate) fn stoppable<T>(
    cx: &mut Context<'_>,
    op: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
) -> Poll<io::Result<T>> {
    if strait_streams::stop_requested() {
        return Poll::Ready(Err(strait_streams::canceled()));
    }
    op(cx)
}

/// Runs a socket operation that moves one datagram (or accepts one connection): never
/// "drains" readiness on success, honours the stop token, waits on the reactor in its
/// own waiter entry (so any number of tasks can wait on one socket at once), which it
/// gives back when it ends.
pub(crate) async fn one_shot<T>(
    io: &ScheduledIo,
    dir: Interest,
    mut op: impl FnMut() -> io::Result<T>,
) -> io::Result<T> {
    let mut waiter = OneShot::new(io, dir);
    std::future::poll_fn(|cx| stoppable(cx, |cx| waiter.poll(cx, &mut op))).await
}

/// Waits until `fd` is ready in `interest`, asking the kernel (`poll(2)`, zero timeout)
/// before each wait so the answer is exact.
pub(crate) async fn wait(
    io: &ScheduledIo,
    fd: BorrowedFd<'_>,
    interest: Interest,
) -> io::Result<()> {
    let events = match interest {
        Interest::Read => libc::POLLIN | libc::POLLRDHUP,
        Interest::Write => libc::POLLOUT,
    };
    let probe = || {
        let mut pfd = libc::pollfd {
            fd: fd.as_raw_fd(),
            events,
            revents: 0,
        };
        // SAFETY: `pfd` is one valid pollfd for the duration of the call.
        match unsafe { syscall!(poll(&mut pfd, 1, 0)) }? {
            // Errors and hang-ups count as ready: the next operation reports them.
            0 => Err(io::ErrorKind::WouldBlock.into()),
            _ => Ok(()),
        }
    };
    one_shot(io, interest, probe).await
}

/// `accept4` returning a socket that is already non-blocking and close-on-exec (one
/// syscall, where `std`'s accept needs a second to switch the mode).
pub(crate) fn accept_nonblocking(
    listener: BorrowedFd<'_>,
) -> io::Result<(socket2::Socket, socket2::SockAddr)> {
    // SAFETY: `try_init` hands us storage and its length to fill; `accept4` writes at
    // most `len` bytes there and updates `len`.
    let (fd, addr) = unsafe {
        socket2::SockAddr::try_init(|storage, len| {
            syscall!(accept4(
                listener.as_raw_fd(),
                storage.cast(),
                len,
                libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
            ))
        })
    }?;
    // SAFETY: `accept4` returned a fresh descriptor that nothing else owns.
    let sock = unsafe { <socket2::Socket as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    Ok((sock, addr))
}

/// Waits for a non-blocking `connect` to finish (the socket turns writable, or reports
/// an error), then reports its outcome. The readiness wait is exact: a connect still in
/// progress is never mistaken for a finished one.
pub(crate) async fn finish_connect(
    io: &ScheduledIo,
    sock: &socket2::SockRef<'_>,
) -> io::Result<()> {
    wait(io, sock.as_fd(), Interest::Write).await?;
    match sock.take_error()? {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Buffers of `BufferSource`/`BufferSink` on a readiness (epoll) stream, which has none
/// of its own (on io_uring the completion layer lends its buffers instead). Allocated
/// on first use, so a stream that never pulls or prepares holds none.
///
/// Pulled bytes not consumed yet, and committed bytes the kernel has not taken yet,
/// come before anything read or written later: the plain reads and writes go through
/// the staged bytes first (`active` says when there are any, so they pay one atomic
/// load otherwise).
#[derive(Debug, Default)]
pub(crate) struct Staging {
    active: std::sync::atomic::AtomicU8,
    read: std::sync::Mutex<Stage>,
    write: std::sync::Mutex<Stage>,
}

/// A staging buffer: bytes `[start, end)` are staged.
#[derive(Debug, Default)]
pub(crate) struct Stage {
    buf: Vec<u8>,
    start: usize,
    end: usize,
}

/// Bytes of a staging buffer.
const STAGE: usize = 16 * 1024;
const READ_STAGED: u8 = 1;
const WRITE_STAGED: u8 = 2;

impl Stage {
    fn staged(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    fn advance(&mut self, n: usize) {
        self.start += n;
        assert!(self.start <= self.end, "consumed past the staged bytes");
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}

impl Staging {
    fn is(&self, bit: u8) -> bool {
        self.active.load(std::sync::atomic::Ordering::Acquire) & bit != 0
    }

    fn set(&self, bit: u8, on: bool) {
        use std::sync::atomic::Ordering::AcqRel;
        if on {
            self.active.fetch_or(bit, AcqRel);
        } else {
            self.active.fetch_and(!bit, AcqRel);
        }
    }

    /// `BufferSource::poll_pull`: the staged bytes, else one read into the stage.
    pub(crate) fn poll_pull<'s, S: AsFd>(
        &'s mut self,
        io: &ScheduledIo,
        sock: &S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&'s [u8]>> {
        let stage = self.read.get_mut().unwrap_or_else(|e| e.into_inner());
        if stage.start == stage.end {
            if stage.buf.is_empty() {
                stage.buf = vec![0; STAGE];
            }
            let n = match poll_stage_io(io, sock, cx, Interest::Read, &mut stage.buf) {
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            stage.start = 0;
            stage.end = n;
            if n > 0 {
                self.active
                    .fetch_or(READ_STAGED, std::sync::atomic::Ordering::AcqRel);
            }
        }
        Poll::Ready(Ok(stage.staged()))
    }

    /// `BufferSource::consume`.
    pub(crate) fn consume(&mut self, n: usize) {
        let stage = self.read.get_mut().unwrap_or_else(|e| e.into_inner());
        stage.advance(n);
        if stage.start == stage.end {
            self.set(READ_STAGED, false);
        }
    }

    /// A plain read: staged bytes first; `None` when nothing is staged.
    #[inline]
    pub(crate) fn read_staged(&self, bufs: &mut [MutableBuffer<'_>]) -> Option<usize> {
        if !self.is(READ_STAGED) {
            return None;
        }
        self.read_staged_slow(bufs)
    }

    // Out of line: inlined, it makes the plain read path too big for the compiler to
    // inline the reactor's readiness loop into it (callgrind: ~250 more instructions a
    // round trip on epoll ping-pong).
    #[cold]
    #[inline(never)]
    fn read_staged_slow(&self, bufs: &mut [MutableBuffer<'_>]) -> Option<usize> {
        let mut stage = crate::sync::lock(&self.read);
        if stage.start == stage.end {
            return None;
        }
        let n = strait_vocab::buffer_copy(bufs, &[ConstBuffer::new(stage.staged())], usize::MAX);
        stage.advance(n);
        if stage.start == stage.end {
            self.set(READ_STAGED, false);
        }
        Some(n)
    }

    /// `BufferSink::poll_prepare`: the free part of the stage, sending staged bytes
    /// first when it is full.
    pub(crate) fn poll_prepare<'s, S: AsFd>(
        &'s mut self,
        io: &ScheduledIo,
        sock: &S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<&'s mut [u8]>> {
        if self.write.get_mut().unwrap_or_else(|e| e.into_inner()).end == STAGE {
            match self.poll_drain(io, sock, cx) {
                Poll::Ready(Ok(())) => {}
                other => return other.map_ok(|()| &mut [][..]),
            }
        }
        let stage = self.write.get_mut().unwrap_or_else(|e| e.into_inner());
        if stage.buf.is_empty() {
            stage.buf = vec![0; STAGE];
        }
        if stage.start > 0 {
            stage.buf.copy_within(stage.start..stage.end, 0);
            stage.end -= stage.start;
            stage.start = 0;
        }
        let end = stage.end;
        Poll::Ready(Ok(&mut stage.buf[end..]))
    }

    /// `BufferSink::poll_commit`: stages `n` prepared bytes and sends what the socket
    /// takes now (the rest goes with the next write, prepare or flush).
    pub(crate) fn commit<S: AsFd>(
        &mut self,
        io: &ScheduledIo,
        sock: &S,
        cx: &mut Context<'_>,
        n: usize,
    ) -> io::Result<()> {
        let stage = self.write.get_mut().unwrap_or_else(|e| e.into_inner());
        assert!(
            stage.end + n <= stage.buf.len(),
            "committing past the prepared window"
        );
        stage.end += n;
        if stage.start == stage.end {
            return Ok(());
        }
        self.set(WRITE_STAGED, true);
        match self.poll_drain(io, sock, cx) {
            Poll::Ready(Err(e)) => Err(e),
            // Staged: `poll_flush` (or the next write or prepare) sends the rest.
            _ => Ok(()),
        }
    }

    /// Sends the staged bytes; ready once the kernel took them all.
    #[inline]
    pub(crate) fn poll_drain<S: AsFd>(
        &self,
        io: &ScheduledIo,
        sock: &S,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        if !self.is(WRITE_STAGED) {
            return Poll::Ready(Ok(()));
        }
        self.poll_drain_slow(io, sock.as_fd(), cx)
    }

    // Out of line, as `read_staged_slow`.
    #[cold]
    #[inline(never)]
    fn poll_drain_slow(
        &self,
        io: &ScheduledIo,
        sock: BorrowedFd<'_>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<()>> {
        let sock = &sock;
        let mut stage = crate::sync::lock(&self.write);
        while stage.start < stage.end {
            let (start, end) = (stage.start, stage.end);
            let n = match poll_stage_io(io, sock, cx, Interest::Write, &mut stage.buf[start..end]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            };
            stage.advance(n);
        }
        self.set(WRITE_STAGED, false);
        Poll::Ready(Ok(()))
    }
}

/// One `recv` into, or `send` from, a staging buffer. Not `poll_read`/`poll_write`: a
/// second caller of theirs would stop the compiler inlining the hot stream paths
/// (callgrind: about 500 more instructions a round trip on epoll ping-pong).
fn poll_stage_io<S: AsFd>(
    io: &ScheduledIo,
    sock: &S,
    cx: &mut Context<'_>,
    dir: Interest,
    buf: &mut [u8],
) -> Poll<io::Result<usize>> {
    let fd = sock.as_fd().as_raw_fd();
    let len = buf.len();
    io.poll_stream(
        dir,
        cx,
        || {
            // SAFETY: `buf` is valid for reads and writes of `len` bytes for the call.
            let n = unsafe {
                if dir == Interest::Read {
                    syscall!(recv(fd, buf.as_mut_ptr().cast(), len, 0))
                } else {
                    syscall!(send(fd, buf.as_ptr().cast(), len, libc::MSG_NOSIGNAL))
                }
            }?;
            Ok(n as usize)
        },
        // Short: the socket was drained (read) or filled (write).
        |&n| n < len && (n > 0 || dir == Interest::Write),
    )
}
