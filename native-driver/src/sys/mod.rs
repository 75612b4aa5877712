//! The backend contract and its Linux epoll implementation.
//!
//! A backend provides a [`Selector`](epoll::Selector) that registers a descriptor once
//! (edge-triggered, for reading and writing), waits for readiness with a timeout, and
//! reports `(token, readiness)` pairs; and a [`Waker`](epoll::EventFd) that interrupts a
//! wait from any thread. The reactor above it knows nothing else about the OS, so an
//! io_uring backend can slot in beside epoll.

pub(crate) mod epoll;

/// Runs a libc call and turns `-1` into `io::Error::last_os_error()`.
macro_rules! syscall {
    ($fn:ident ( $($arg:expr),* $(,)? )) => {{
        let res = libc::$fn($($arg),*);
        if res == -1 {
            Err(std::io::Error::last_os_error())
        } else {
            Ok(res)
        }
    }};
}
pub(crate) use syscall;
