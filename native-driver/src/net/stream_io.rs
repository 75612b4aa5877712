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
