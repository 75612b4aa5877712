//! [`SignalSet`]: waiting for POSIX signals through `signalfd`.

use std::future::poll_fn;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::Poll;

use crate::context::Handle;
use crate::reactor::{Interest, Registration};
use crate::scheduled_io::OneShot;
use crate::sys::syscall;

/// A set of signals that tasks wait for.
///
/// `add` blocks the signal for the calling thread (so it is queued instead of running
/// its default action) and adds it to this set's `signalfd`. A process-directed signal
/// reaches the set only if every thread blocks it, so add signals before spawning
/// threads (or block them in every thread); a signal sent to the thread that added it
/// (`raise`, `pthread_kill`) always arrives. Each set has its own descriptor, so several
/// contexts can each own sets; a queued signal is taken by one reader.
#[derive(Debug)]
pub struct SignalSet {
    reg: Registration,
    fd: OwnedFd,
    mask: std::sync::Mutex<libc::sigset_t>,
    canceled: AtomicBool,
}

impl SignalSet {
    /// An empty set on the context `ctx` (`&IoContext` or a [`Handle`]).
    ///
    /// # Errors
    /// As `signalfd` or the reactor registration.
    pub fn new(ctx: impl AsRef<Handle>) -> io::Result<SignalSet> {
        // SAFETY: `mask` is a plain C struct initialized by sigemptyset before use.
        let mut mask: libc::sigset_t = unsafe { std::mem::zeroed() };
        // SAFETY: `mask` is a valid sigset_t.
        unsafe { libc::sigemptyset(&mut mask) };
        // SAFETY: -1 asks for a new descriptor; `mask` is valid.
        let fd = unsafe { syscall!(signalfd(-1, &mask, libc::SFD_NONBLOCK | libc::SFD_CLOEXEC)) }?;
        // SAFETY: `fd` is a fresh descriptor nobody else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        let reg = ctx.as_ref().reactor().register(fd.as_raw_fd())?;
        Ok(SignalSet {
            reg,
            fd,
            mask: std::sync::Mutex::new(mask),
            canceled: AtomicBool::new(false),
        })
    }

    fn update(&self, signal: i32, add: bool) -> io::Result<()> {
        let mut mask = crate::sync::lock(&self.mask);
        // SAFETY: `mask` is a valid sigset_t; `signal` is validated by the call.
        let rc = unsafe {
            if add {
                libc::sigaddset(&mut *mask, signal)
            } else {
                libc::sigdelset(&mut *mask, signal)
            }
        };
        if rc != 0 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("bad signal {signal}"),
            ));
        }
        if add {
            // SAFETY: a sigset with just `signal`, built on the stack.
            let mut one: libc::sigset_t = unsafe { std::mem::zeroed() };
            // SAFETY: valid sigset pointers.
            unsafe {
                libc::sigemptyset(&mut one);
                libc::sigaddset(&mut one, signal);
            }
            // SAFETY: blocks `signal` for this thread; `one` is valid.
            let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &one, std::ptr::null_mut()) };
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
        }
        // SAFETY: updates this set's own descriptor with a valid mask.
        unsafe {
            syscall!(signalfd(
                self.fd.as_raw_fd(),
                &*mask,
                libc::SFD_NONBLOCK | libc::SFD_CLOEXEC
            ))
        }
        .map(drop)
    }

    /// Adds `signal` (e.g. `libc::SIGUSR1`).
    ///
    /// # Errors
    /// `InvalidInput` for an invalid signal number (or `SIGKILL`/`SIGSTOP`, which
    /// cannot be caught).
    pub fn add(&self, signal: i32) -> io::Result<()> {
        if signal == libc::SIGKILL || signal == libc::SIGSTOP {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "SIGKILL and SIGSTOP cannot be caught",
            ));
        }
        self.update(signal, true)
    }

    /// Removes `signal` from the set (it stays blocked for the thread).
    ///
    /// # Errors
    /// `InvalidInput` for an invalid signal number.
    pub fn remove(&self, signal: i32) -> io::Result<()> {
        self.update(signal, false)
    }

    /// Waits for a signal of the set and returns its number. Cancel-safe; honours the
    /// stop token; completes as canceled after [`cancel`](Self::cancel). Several tasks
    /// may wait at once; each queued signal goes to one of them.
    ///
    /// # Errors
    /// The canceled error, an error of `read(2)` on the signalfd, or an error saying the
    /// set's context was dropped.
    pub async fn wait(&self) -> io::Result<i32> {
        let mut waiter = OneShot::new(&self.reg.io, Interest::Read);
        poll_fn(|cx| {
            if self.canceled.load(Ordering::Acquire) || strait_streams::stop_requested() {
                return Poll::Ready(Err(strait_streams::canceled()));
            }
            waiter.poll(cx, || {
                // SAFETY: signalfd_siginfo is plain data; we read exactly its size.
                let mut info: libc::signalfd_siginfo = unsafe { std::mem::zeroed() };
                let size = std::mem::size_of::<libc::signalfd_siginfo>();
                // SAFETY: `info` is a writable buffer of `size` bytes.
                let n = unsafe {
                    syscall!(read(
                        self.fd.as_raw_fd(),
                        (&mut info as *mut libc::signalfd_siginfo).cast(),
                        size
                    ))
                }?;
                if n as usize != size {
                    return Err(io::Error::other("short read from signalfd"));
                }
                Ok(info.ssi_signo as i32)
            })
        })
        .await
    }

    /// Completes every pending and future `wait` with the canceled error.
    pub fn cancel(&self) {
        self.canceled.store(true, Ordering::Release);
        self.reg.io.wake_all();
    }
}
