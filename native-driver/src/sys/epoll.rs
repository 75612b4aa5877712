//! Edge-triggered epoll and an eventfd waker.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::syscall;

/// Readiness bits reported by [`Selector::wait`].
pub(crate) mod ready {
    pub(crate) const READABLE: usize = 1;
    pub(crate) const WRITABLE: usize = 2;
    pub(crate) const READ_CLOSED: usize = 4;
    pub(crate) const WRITE_CLOSED: usize = 8;
    pub(crate) const ERROR: usize = 16;
}

/// An epoll instance.
#[derive(Debug)]
pub(crate) struct Selector {
    epfd: OwnedFd,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let fd = unsafe { syscall!(epoll_create1(libc::EPOLL_CLOEXEC)) }?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(Selector { epfd })
    }

    /// Registers `fd` once, edge-triggered, for reading, writing and hang-ups.
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let mut event = libc::epoll_event {
            events: (libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET) as u32,
            u64: token,
        };
        // SAFETY: `event` is a valid epoll_event for the duration of the call.
        unsafe {
            syscall!(epoll_ctl(
                self.epfd.as_raw_fd(),
                libc::EPOLL_CTL_ADD,
                fd,
                &mut event
            ))
        }
        .map(drop)
    }

    pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        // SAFETY: a null event is allowed for EPOLL_CTL_DEL since Linux 2.6.9.
        unsafe {
            syscall!(epoll_ctl(
                self.epfd.as_raw_fd(),
                libc::EPOLL_CTL_DEL,
                fd,
                std::ptr::null_mut()
            ))
        }
        .map(drop)
    }

    /// Waits up to `timeout` (forever when `None`) and appends `(token, readiness)`.
    pub(crate) fn wait(
        &self,
        events: &mut Vec<libc::epoll_event>,
        timeout: Option<Duration>,
        out: &mut Vec<(u64, usize)>,
    ) -> io::Result<()> {
        let ms = match timeout {
            None => -1,
            // Round up so a 0.5 ms timer does not spin with 0 ms waits.
            Some(d) => d.as_nanos().div_ceil(1_000_000).min(i32::MAX as u128) as i32,
        };
        events.clear();
        let cap = events.capacity() as i32;
        // SAFETY: the kernel writes at most `cap` events into the vector's spare capacity.
        let n = match unsafe {
            syscall!(epoll_wait(
                self.epfd.as_raw_fd(),
                events.as_mut_ptr(),
                cap,
                ms
            ))
        } {
            Ok(n) => n as usize,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => 0,
            Err(e) => return Err(e),
        };
        // SAFETY: epoll_wait initialized the first `n` entries.
        unsafe { events.set_len(n) };
        for ev in events.iter() {
            let bits = ev.events as i32;
            let mut r = 0;
            if bits & (libc::EPOLLIN | libc::EPOLLPRI) != 0 {
                r |= ready::READABLE;
            }
            if bits & libc::EPOLLOUT != 0 {
                r |= ready::WRITABLE;
            }
            if bits & (libc::EPOLLRDHUP | libc::EPOLLHUP) != 0 {
                r |= ready::READ_CLOSED | ready::READABLE;
            }
            if bits & libc::EPOLLHUP != 0 {
                r |= ready::WRITE_CLOSED | ready::WRITABLE;
            }
            if bits & libc::EPOLLERR != 0 {
                r |= ready::ERROR | ready::READABLE | ready::WRITABLE;
            }
            out.push((ev.u64, r));
        }
        Ok(())
    }
}

/// An eventfd that interrupts a `Selector::wait` from any thread.
#[derive(Debug)]
pub(crate) struct EventFd {
    fd: OwnedFd,
}

impl EventFd {
    pub(crate) fn new() -> io::Result<EventFd> {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let fd = unsafe { syscall!(eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK)) }?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Ok(EventFd { fd })
    }

    /// Makes the descriptor readable (wakes a waiting selector).
    pub(crate) fn wake(&self) {
        let one: u64 = 1;
        // SAFETY: writes 8 bytes from a valid u64. EAGAIN (counter saturated) means a
        // wake is already pending, which is all we need.
        let _ = unsafe { libc::write(self.fd.as_raw_fd(), (&one as *const u64).cast(), 8) };
    }

    /// Resets the counter after a wake.
    pub(crate) fn drain(&self) {
        let mut buf: u64 = 0;
        // SAFETY: reads 8 bytes into a valid u64; EAGAIN means nothing to drain.
        let _ = unsafe { libc::read(self.fd.as_raw_fd(), (&mut buf as *mut u64).cast(), 8) };
    }

    pub(crate) fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
