//! Choosing the backend at run time: what was asked for (the builder, else the
//! `STRAIT_NATIVE_BACKEND` environment variable), what the kernel allows (the ring's
//! probe), and why epoll took over when it did.

use std::fmt;
use std::io;

use super::{epoll, file_ring, uring, Selector};

/// Environment variable that overrides [`Backend::Auto`]: `auto`, `io_uring` or `epoll`.
pub(crate) const BACKEND_VAR: &str = "STRAIT_NATIVE_BACKEND";
/// Environment variable that makes the io_uring probe fail with a simulated reason.
pub(crate) const PROBE_FAIL_VAR: &str = "STRAIT_NATIVE_URING_PROBE_FAIL";

/// Which kernel interface an [`IoContext`](crate::IoContext) waits on; chosen with
/// [`IoContextBuilder::backend`](crate::IoContextBuilder::backend).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Backend {
    /// Epoll drives the context (every socket, signals, timers, wake-ups, exactly as
    /// [`Epoll`](Backend::Epoll)), and when the kernel allows io_uring a second ring,
    /// used only for files, runs their reads, writes and syncs as completion
    /// operations (one `io_uring_enter` per read instead of a blocking-pool round
    /// trip); its descriptor sits in epoll, so a completion wakes the epoll wait.
    /// Without io_uring this is plain epoll, and the reason is kept (see
    /// [`IoContext::fallback_reason`](crate::IoContext::fallback_reason)). The
    /// environment variable `STRAIT_NATIVE_BACKEND` (`auto`, `io_uring`, `epoll`)
    /// overrides this choice, and only this one.
    ///
    /// What a context built this way reports: [`IoContext::backend`](crate::IoContext::backend)
    /// is `Epoll` (what drives it), [`IoContext::completion_files`](crate::IoContext::completion_files)
    /// says whether the file ring is there,
    /// [`IoContext::completion_sockets`](crate::IoContext::completion_sockets) is
    /// `false`, and [`IoStats`](crate::IoStats) counts epoll's calls in `enters` and
    /// the file ring's in `file_ring_enters`.
    ///
    /// Why the split: measured side by side (`strait-bench`), sockets waiting for
    /// readiness on a ring cost more kernel work per event than on epoll (a task-work
    /// run and a CQE per event) and trailed it on the http rows (keep-alive 0.99 vs
    /// 1.15 of hyper, close-every-10 0.88 vs 1.05); sockets on the completion layer
    /// trail epoll on throughput (0.53–0.73). Files win clearly on the ring (1 syscall
    /// per `read_at` against ~7.7 through the blocking pool). Ask for
    /// [`IoUring`](Backend::IoUring) to put everything on the ring.
    #[default]
    Auto,
    /// io_uring with every socket, stream and file on the completion layer
    /// (multishot receive into provided buffers, write-behind sends, multishot
    /// accept), or an error when the kernel cannot provide it.
    IoUring,
    /// Edge-triggered epoll.
    Epoll,
}

impl Backend {
    /// The name used by `STRAIT_NATIVE_BACKEND`: `auto`, `io_uring` or `epoll`.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::IoUring => "io_uring",
            Backend::Epoll => "epoll",
        }
    }

    fn parse(s: &str) -> Option<Backend> {
        match s.trim().to_ascii_lowercase().as_str() {
            "auto" | "" => Some(Backend::Auto),
            "io_uring" | "iouring" | "uring" => Some(Backend::IoUring),
            "epoll" => Some(Backend::Epoll),
            _ => None,
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why io_uring could not be used (so [`Backend::Auto`] chose epoll, or an explicit
/// [`Backend::IoUring`] request failed: the error's inner value is this).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FallbackReason {
    /// `io_uring_setup` is not there: an old kernel, or a seccomp filter (containers)
    /// that refuses it (`ENOSYS`).
    Unsupported,
    /// io_uring is switched off for this process: the `kernel.io_uring_disabled`
    /// sysctl, or a security policy (`EPERM`).
    Disabled,
    /// The ring's memory could not be had: the locked-memory limit (`RLIMIT_MEMLOCK`,
    /// kernels before 5.12) or memory pressure (`ENOMEM`).
    Memlock,
    /// The kernel lacks a feature the ring relies on (`EXT_ARG` for waits with a
    /// timeout, `NODROP` so completions are never lost, multishot poll, multishot
    /// receive from Linux 6.0, provided-buffer rings).
    MissingFeature(&'static str),
    /// The kernel lacks an operation the ring uses (found with `register_probe`).
    MissingOpcode(&'static str),
    /// `io_uring_setup` or the probe failed with another error (its errno).
    Os(i32),
}

impl FallbackReason {
    /// The names accepted by `STRAIT_NATIVE_URING_PROBE_FAIL`, one per simulated
    /// reason: `enosys`, `eperm`, `enomem`, `ext_arg`, `nodrop`, `multishot_poll`,
    /// `opcode`, `einval`, `old_kernel` (older than 6.0: no multishot receive).
    pub const SIMULATED: [&'static str; 9] = [
        "enosys",
        "eperm",
        "enomem",
        "ext_arg",
        "nodrop",
        "multishot_poll",
        "opcode",
        "einval",
        "old_kernel",
    ];

    /// The reason an `io_uring_setup` error stands for.
    pub(crate) fn from_setup_error(e: &io::Error) -> FallbackReason {
        match e.raw_os_error() {
            Some(libc::ENOSYS) => FallbackReason::Unsupported,
            Some(libc::EPERM) | Some(libc::EACCES) => FallbackReason::Disabled,
            Some(libc::ENOMEM) => FallbackReason::Memlock,
            Some(errno) => FallbackReason::Os(errno),
            None => FallbackReason::Os(0),
        }
    }

    /// The simulated reason named by `name` (see [`SIMULATED`](Self::SIMULATED)).
    fn simulated(name: &str) -> Option<FallbackReason> {
        let setup = |errno| Some(Self::from_setup_error(&io::Error::from_raw_os_error(errno)));
        match name.trim().to_ascii_lowercase().as_str() {
            "enosys" | "unsupported" | "seccomp" => setup(libc::ENOSYS),
            "eperm" | "disabled" => setup(libc::EPERM),
            "enomem" | "memlock" => setup(libc::ENOMEM),
            "einval" => setup(libc::EINVAL),
            "ext_arg" => Some(FallbackReason::MissingFeature("EXT_ARG")),
            "nodrop" => Some(FallbackReason::MissingFeature("NODROP")),
            "multishot_poll" => Some(FallbackReason::MissingFeature("multishot poll")),
            "opcode" => Some(FallbackReason::MissingOpcode("POLL_REMOVE")),
            "old_kernel" => Some(FallbackReason::MissingFeature(uring::MULTISHOT_RECV)),
            _ => None,
        }
    }
}

impl fmt::Display for FallbackReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FallbackReason::Unsupported => {
                f.write_str("io_uring_setup is not available (old kernel or seccomp: ENOSYS)")
            }
            FallbackReason::Disabled => {
                f.write_str("io_uring is disabled (kernel.io_uring_disabled or policy: EPERM)")
            }
            FallbackReason::Memlock => {
                f.write_str("io_uring ring memory refused (RLIMIT_MEMLOCK or memory: ENOMEM)")
            }
            FallbackReason::MissingFeature(name) => write!(f, "io_uring lacks feature {name}"),
            FallbackReason::MissingOpcode(name) => write!(f, "io_uring lacks opcode {name}"),
            FallbackReason::Os(errno) => write!(
                f,
                "io_uring setup failed: {}",
                io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for FallbackReason {}

/// The probe's simulated failure, when `STRAIT_NATIVE_URING_PROBE_FAIL` asks for one.
pub(crate) fn simulated_failure() -> Option<FallbackReason> {
    let name = std::env::var(PROBE_FAIL_VAR).ok()?;
    let reason = FallbackReason::simulated(&name);
    if reason.is_none() {
        log::warn!(
            "{PROBE_FAIL_VAR}={name:?} names no reason (expected one of {:?}); ignored",
            FallbackReason::SIMULATED
        );
    }
    reason
}

/// The backend `requested` stands for once `STRAIT_NATIVE_BACKEND` is read (it
/// overrides `Auto` only).
fn effective(requested: Backend) -> Backend {
    if requested != Backend::Auto {
        return requested;
    }
    match std::env::var(BACKEND_VAR) {
        Ok(value) => Backend::parse(&value).unwrap_or_else(|| {
            log::warn!("{BACKEND_VAR}={value:?} is not auto, io_uring or epoll; using auto");
            Backend::Auto
        }),
        Err(_) => Backend::Auto,
    }
}

/// Makes the selector for `requested`; with the reason epoll replaced io_uring.
pub(crate) fn open(requested: Backend) -> io::Result<(Selector, Option<FallbackReason>)> {
    match effective(requested) {
        Backend::Epoll => Ok((Selector::Epoll(epoll::Selector::new()?), None)),
        Backend::IoUring => match uring::Host::open(true) {
            Ok(host) => Ok((Selector::Uring(host), None)),
            Err(reason) => Err(io::Error::new(io::ErrorKind::Unsupported, reason)),
        },
        Backend::Auto => match file_ring::Hybrid::open()? {
            Ok(hybrid) => Ok((Selector::Hybrid(hybrid), None)),
            Err((epoll, reason)) => {
                log::info!("strait-native: io_uring unavailable ({reason}); using epoll");
                Ok((Selector::Epoll(epoll), Some(reason)))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_simulated_name_parses_to_a_distinct_reason() {
        let reasons: Vec<_> = FallbackReason::SIMULATED
            .iter()
            .map(|n| FallbackReason::simulated(n).expect(n))
            .collect();
        for (i, a) in reasons.iter().enumerate() {
            for b in &reasons[i + 1..] {
                assert_ne!(a, b);
            }
        }
        assert_eq!(FallbackReason::simulated("bogus"), None);
    }

    #[test]
    fn setup_errors_map_to_reasons() {
        let r = |e| FallbackReason::from_setup_error(&io::Error::from_raw_os_error(e));
        assert_eq!(r(libc::ENOSYS), FallbackReason::Unsupported);
        assert_eq!(r(libc::EPERM), FallbackReason::Disabled);
        assert_eq!(r(libc::ENOMEM), FallbackReason::Memlock);
        assert_eq!(r(libc::EINVAL), FallbackReason::Os(libc::EINVAL));
    }

    #[test]
    fn backend_names_round_trip() {
        for b in [Backend::Auto, Backend::IoUring, Backend::Epoll] {
            assert_eq!(Backend::parse(b.name()), Some(b));
        }
        assert_eq!(Backend::parse("kqueue"), None);
    }
}
