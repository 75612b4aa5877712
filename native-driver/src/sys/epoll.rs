//! Edge-triggered epoll and an eventfd waker.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

use super::{readiness, syscall, Counters};

/// Token of the selector's own eventfd (user_data kind `0b01`, like the ring's
/// internal entries: never a reactor token).
const WAKE_TOKEN: u64 = 1 << 62;

/// An epoll instance and the eventfd that wakes its waits.
#[derive(Debug)]
pub(crate) struct Selector {
    epfd: OwnedFd,
    waker: EventFd,
    pub(crate) counters: Counters,
}

impl Selector {
    pub(crate) fn new() -> io::Result<Selector> {
        // SAFETY: plain syscall; the returned descriptor is owned below.
        let fd = unsafe { syscall!(epoll_create1(libc::EPOLL_CLOEXEC)) }?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let epfd = unsafe { OwnedFd::from_raw_fd(fd) };
        let selector = Selector {
            epfd,
            waker: EventFd::new()?,
            counters: Counters::default(),
        };
        selector.register(selector.waker.as_raw_fd(), WAKE_TOKEN)?;
        Ok(selector)
    }

    /// Interrupts a wait from any thread.
    pub(crate) fn wake(&self) {
        Counters::add(&self.counters.wakeups, 1);
        self.waker.wake();
    }

    /// Registers `fd` once, edge-triggered, for reading, writing and hang-ups.
    pub(crate) fn register(&self, fd: RawFd, token: u64) -> io::Result<()> {
        let events = libc::EPOLLIN | libc::EPOLLOUT | libc::EPOLLRDHUP | libc::EPOLLET;
        self.add(fd, token, events as u32)
    }

    fn add(&self, fd: RawFd, token: u64, events: u32) -> io::Result<()> {
        Counters::add(&self.counters.enters, 1);
        Counters::add(&self.counters.submitted, 1);
        let mut event = libc::epoll_event { events, u64: token };
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

    /// Registers `fd` edge-triggered for reading only (the file ring's descriptor:
    /// `sys::file_ring`).
    pub(crate) fn register_readable(&self, fd: RawFd, token: u64) -> io::Result<()> {
        self.add(fd, token, (libc::EPOLLIN | libc::EPOLLET) as u32)
    }

    pub(crate) fn deregister(&self, fd: RawFd) -> io::Result<()> {
        Counters::add(&self.counters.enters, 1);
        Counters::add(&self.counters.submitted, 1);
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
        Counters::add(&self.counters.enters, 1);
        Counters::add(&self.counters.completions, n as u64);
        for ev in events.iter() {
            if ev.u64 == WAKE_TOKEN {
                // Edge-triggered: reset the counter so the next write is a new edge.
                self.waker.drain();
            } else {
                out.push((ev.u64, readiness(ev.events)));
            }
        }
        Ok(())
    }
}

/// An eventfd that interrupts a wait from any thread (epoll's and the ring's).
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
