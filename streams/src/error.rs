//! The canceled error: one recognizable `io::Error` for every cancellation.
//!
//! Cancellation is never `ErrorKind::Interrupted` (std's loops retry on it). The error
//! is built from the platform's `ECANCELED` code, so creating it never allocates, and
//! [`is_canceled`] also recognizes the same code coming back from the OS.

use std::io;

#[cfg(target_os = "linux")]
const ECANCELED: i32 = 125;
#[cfg(any(target_os = "macos", target_os = "ios", target_os = "freebsd"))]
const ECANCELED: i32 = 89;
#[cfg(windows)]
const ECANCELED: i32 = 995; // ERROR_OPERATION_ABORTED

/// The error an operation completes with when its stop token was triggered, or when it
/// was canceled by `close`/`cancel` on its object.
#[cfg(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    windows
))]
pub fn canceled() -> io::Error {
    io::Error::from_raw_os_error(ECANCELED)
}

/// The error an operation completes with when its stop token was triggered.
#[cfg(not(any(
    target_os = "linux",
    target_os = "macos",
    target_os = "ios",
    target_os = "freebsd",
    windows
)))]
pub fn canceled() -> io::Error {
    io::Error::other(Canceled)
}

/// `true` when `err` means the operation was canceled.
pub fn is_canceled(err: &io::Error) -> bool {
    #[cfg(any(
        target_os = "linux",
        target_os = "macos",
        target_os = "ios",
        target_os = "freebsd",
        windows
    ))]
    if err.raw_os_error() == Some(ECANCELED) {
        return true;
    }
    match err.get_ref() {
        Some(inner) if inner.is::<Canceled>() => true,
        Some(inner) => inner
            .downcast_ref::<PartialTransfer>()
            .is_some_and(|p| is_canceled(&p.source)),
        None => false,
    }
}

/// The payload of an error from a composed operation (`read`, `write_all`, ...) that
/// failed after moving some bytes: the count, and the error that stopped it. The outer
/// `io::Error` keeps the inner error's kind.
#[derive(Debug)]
pub struct PartialTransfer {
    /// Bytes moved before the error.
    pub transferred: usize,
    /// The error that stopped the operation.
    pub source: io::Error,
}

impl std::fmt::Display for PartialTransfer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (after {} bytes)", self.source, self.transferred)
    }
}

impl std::error::Error for PartialTransfer {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Wraps `err` with the count of bytes moved before it (unchanged when none were).
pub(crate) fn after_transfer(err: io::Error, transferred: usize) -> io::Error {
    if transferred == 0 {
        err
    } else {
        io::Error::new(
            err.kind(),
            PartialTransfer {
                transferred,
                source: err,
            },
        )
    }
}

/// Bytes a composed operation moved before failing with `err` (0 when it moved none).
pub fn bytes_transferred(err: &io::Error) -> usize {
    err.get_ref()
        .and_then(|inner| inner.downcast_ref::<PartialTransfer>())
        .map_or(0, |p| p.transferred)
}

/// Marker payload of a canceled `io::Error` on platforms without an OS code for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Canceled;

impl std::fmt::Display for Canceled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("operation canceled")
    }
}

impl std::error::Error for Canceled {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canceled_is_recognizable_and_not_interrupted() {
        let err = canceled();
        assert!(is_canceled(&err));
        assert_ne!(err.kind(), io::ErrorKind::Interrupted);
        assert!(is_canceled(&io::Error::other(Canceled)));
        assert!(!is_canceled(&io::Error::from(io::ErrorKind::TimedOut)));
    }
}
