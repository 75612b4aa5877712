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
    err.get_ref().is_some_and(|inner| inner.is::<Canceled>())
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
