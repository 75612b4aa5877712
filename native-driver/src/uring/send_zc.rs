//! Zero-copy sends (`IORING_OP_SEND_ZC`, Linux 6.0) for large write-behind blocks,
//! opt-in ([`Completions::set_zero_copy_send`]).
//!
//! A `SEND_ZC` pins the block's pages instead of copying them into socket buffers, so
//! the kernel reads the block until the network stack lets go of the last packet made
//! from it, which can be long after the send itself completed. It answers twice: a
//! result CQE (bytes sent, with `IORING_CQE_F_MORE` when a notification follows) and
//! later a notification CQE (`IORING_CQE_F_NOTIF`, no `F_MORE`), after which the kernel
//! no longer touches the block. The notification is thus the operation's *final* CQE:
//! the slot stays in the kernel until it comes, and with it the rules of the module
//! docs of `uring` hold unchanged — the block is not compacted, grown, pooled or freed,
//! and the slot (with its descriptor) is not released, whether the writer dropped, the
//! send was canceled (a cancel cannot stop a notification: it finds nothing) or the
//! layer shut down. The result CQE only records how many bytes went (the writer may
//! append behind them and `poll_flush` sees them accepted); compaction and the next
//! send of a short one wait for the notification.
//!
//! The notification comes once the network stack freed the last packet made from the
//! block, which on TCP is when the peer acknowledged those bytes: a peer that stops
//! reading holds it back (and so the slot and its descriptor). Teardown waits for it
//! within the host's limit, then leaks what is left rather than free it.
//!
//! Should the ring drop a CQE ([`Completions::completions_lost`]) while a zero-copy send
//! is in the kernel, nobody can say whether its notification is still to come: its
//! block is leaked, never freed or reused under the kernel.
//!
//! A socket that does not do zero copy (a Unix stream answers `EOPNOTSUPP`) or a
//! kernel that does not know the opcode (`EINVAL`) turns it off for that socket and
//! sends the same bytes again as a plain `SEND`; these and the sends that would have
//! gone zero-copy on a kernel without `SEND_ZC` are counted as fallbacks.

use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use io_uring::{cqueue, opcode, squeue, types};

use super::{Completions, Counters, Next};

/// `IORING_SEND_ZC_REPORT_USAGE` (SQE `ioprio`, Linux 6.2): the notification says in
/// its result whether the kernel copied the bytes after all.
const REPORT_USAGE: u16 = 1 << 3;

/// `IORING_NOTIF_USAGE_ZC_COPIED`: set in a notification's result when the kernel
/// copied (loopback, or a device without scatter-gather).
const ZC_COPIED: u32 = 1 << 31;

/// What the kernel offers for zero-copy sends (probed by the host).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZeroCopySupport {
    /// No `IORING_OP_SEND_ZC` (before Linux 6.0, or filtered): plain `SEND`s, counted
    /// as fallbacks.
    Unsupported,
    /// `SEND_ZC` without usage reports (Linux 6.0, 6.1).
    Supported,
    /// `SEND_ZC` whose notifications say whether the kernel copied (Linux 6.2).
    ReportsUsage,
}

const MODE_UNSUPPORTED: u8 = 0;
const MODE_SUPPORTED: u8 = 1;
const MODE_REPORTS: u8 = 2;

/// The layer's zero-copy setting, read by each send buffer as it opens.
#[derive(Debug)]
pub(crate) struct ZeroCopy {
    /// Smallest unsent run sent zero-copy; `usize::MAX`: off.
    threshold: AtomicUsize,
    mode: AtomicU8,
}

impl Default for ZeroCopy {
    fn default() -> Self {
        Self {
            threshold: AtomicUsize::new(usize::MAX),
            mode: AtomicU8::new(MODE_UNSUPPORTED),
        }
    }
}

impl ZeroCopy {
    /// The policy a send buffer opened now follows.
    pub(super) fn policy(&self) -> Policy {
        let threshold = self.threshold.load(Ordering::Relaxed);
        Policy {
            threshold: (threshold != usize::MAX).then_some(threshold),
            support: match self.mode.load(Ordering::Relaxed) {
                MODE_SUPPORTED => ZeroCopySupport::Supported,
                MODE_REPORTS => ZeroCopySupport::ReportsUsage,
                _ => ZeroCopySupport::Unsupported,
            },
        }
    }
}

impl Completions {
    /// Sends of `threshold` unsent bytes or more go as `SEND_ZC` from now on (sockets
    /// opened after this call), as `support` allows; `None` turns zero copy off.
    pub(crate) fn set_zero_copy_send(&self, threshold: Option<usize>, support: ZeroCopySupport) {
        let mode = match support {
            ZeroCopySupport::Unsupported => MODE_UNSUPPORTED,
            ZeroCopySupport::Supported => MODE_SUPPORTED,
            ZeroCopySupport::ReportsUsage => MODE_REPORTS,
        };
        self.zero_copy.mode.store(mode, Ordering::Relaxed);
        let threshold = threshold.map_or(usize::MAX, |t| t.clamp(1, usize::MAX - 1));
        self.zero_copy.threshold.store(threshold, Ordering::Relaxed);
    }
}

/// One socket's zero-copy policy.
#[derive(Debug, Clone, Copy)]
pub(super) struct Policy {
    threshold: Option<usize>,
    support: ZeroCopySupport,
}

impl Policy {
    /// Zero copy off.
    pub(super) const OFF: Policy = Policy {
        threshold: None,
        support: ZeroCopySupport::Unsupported,
    };

    /// Zero copy from `threshold` bytes, with usage reports.
    #[cfg(test)]
    pub(super) fn for_test(threshold: usize) -> Policy {
        Policy {
            threshold: Some(threshold),
            support: ZeroCopySupport::ReportsUsage,
        }
    }

    /// A send of `len` bytes would go zero-copy.
    pub(super) fn zero_copy(&self, len: usize) -> bool {
        self.support != ZeroCopySupport::Unsupported && self.wanted(len)
    }

    /// The window a zero-copy writer is lent at least: one a zero-copy send can
    /// carry (0 when the threshold is off).
    pub(super) fn window(&self) -> usize {
        self.threshold.unwrap_or(0)
    }

    /// The threshold asks for zero copy at `len` bytes (supported or not).
    fn wanted(&self, len: usize) -> bool {
        self.threshold.is_some_and(|t| len >= t)
    }

    /// The socket refused zero copy: plain sends from now on (still counted as
    /// fallbacks when they reach the threshold).
    fn turn_off(&mut self) {
        self.support = ZeroCopySupport::Unsupported;
    }
}

/// What the send in flight is, and how far its CQEs got.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Flight {
    /// A plain `SEND` (or nothing in flight); `fallback`: it would have gone zero-copy.
    Plain { fallback: bool },
    /// A `SEND_ZC` whose result CQE is still to come.
    ZeroCopy,
    /// A `SEND_ZC` whose result came (with `F_MORE`): the kernel may read the block
    /// until the notification. `verdict`: what the result decided (an error, a
    /// resend), or `None` to decide from the bytes sent once the notification came;
    /// `refused`: the socket refused zero copy (its notification is not counted).
    Notification {
        verdict: Option<Next>,
        refused: bool,
    },
}

impl Flight {
    /// The kernel may still read the block after the send completed: it must stay put.
    pub(super) fn pins_block(self) -> bool {
        !matches!(self, Flight::Plain { .. })
    }
}

/// Builds the send for `len` bytes at `ptr` on `fd` as `policy` says; returns what
/// goes in flight.
pub(super) fn entry(
    policy: &Policy,
    fd: types::Fd,
    ptr: *const u8,
    len: u32,
) -> (squeue::Entry, Flight) {
    if policy.zero_copy(len as usize) {
        let usage = if policy.support == ZeroCopySupport::ReportsUsage {
            REPORT_USAGE
        } else {
            0
        };
        let entry = opcode::SendZc::new(fd, ptr, len)
            .flags(libc::MSG_NOSIGNAL)
            .zc_flags(usage)
            .build();
        return (entry, Flight::ZeroCopy);
    }
    let entry = opcode::Send::new(fd, ptr, len)
        .flags(libc::MSG_NOSIGNAL)
        .build();
    (
        entry,
        Flight::Plain {
            fallback: policy.wanted(len as usize),
        },
    )
}

/// What a CQE of a zero-copy send means for the socket's send state.
pub(super) enum ZcCqe {
    /// The result CQE: apply it like a plain send's result, and either wait for the
    /// notification (`F_MORE`) or finish now.
    Result { notification_follows: bool },
    /// The socket or the kernel refused zero copy: send the same bytes plainly.
    Refused { notification_follows: bool },
    /// The notification: the block is the layer's again; finish with `verdict` (or
    /// from the bytes sent).
    Notified { verdict: Option<Next> },
    /// The layer gave the send up after a lost CQE (`LOST`): the notification may
    /// still come, so the block must be leaked.
    Lost,
    /// A stray notification (of a send given up after a lost CQE): ignore.
    Stray,
}

/// Classifies a CQE for a send whose flight was `flight`, counting what it shows.
pub(super) fn classify(
    flight: Flight,
    policy: &mut Policy,
    result: i32,
    flags: u32,
    counters: &mut Counters,
) -> ZcCqe {
    let more = cqueue::more(flags);
    let notif = cqueue::notif(flags);
    match flight {
        Flight::Plain { .. } if notif => ZcCqe::Stray,
        Flight::Plain { fallback } => {
            if fallback {
                counters.zc_fallbacks += 1;
            }
            ZcCqe::Result {
                notification_follows: false,
            }
        }
        _ if result == -super::LOST && !notif => ZcCqe::Lost,
        Flight::ZeroCopy if notif => ZcCqe::Stray,
        Flight::ZeroCopy => {
            if result == -libc::EOPNOTSUPP || result == -libc::EINVAL {
                policy.turn_off();
                counters.zc_fallbacks += 1;
                ZcCqe::Refused {
                    notification_follows: more,
                }
            } else {
                counters.zc_sends += 1;
                ZcCqe::Result {
                    notification_follows: more,
                }
            }
        }
        // Only a notification ends this flight; anything else is not the kernel's
        // (the layer's own give-up): the block may still be read, so it is leaked.
        Flight::Notification { .. } if !notif => ZcCqe::Lost,
        Flight::Notification { verdict, refused } => {
            if !refused {
                counters.zc_notifications += 1;
                if (result as u32) & ZC_COPIED != 0 {
                    counters.zc_copied += 1;
                }
            }
            ZcCqe::Notified { verdict }
        }
    }
}
