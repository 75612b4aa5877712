//! File operations on the ring: positional `READ`/`WRITE` and `FSYNC`, one-shot
//! [`Op`]s whose slot owns the caller's `Vec` (and the descriptor) until the final CQE.
//!
//! A dropped future therefore never lets the kernel write into freed memory: the
//! buffer stays in the orphaned slot, the operation is canceled
//! (`IORING_OP_ASYNC_CANCEL`), and the buffer is freed with the slot when the final CQE
//! arrives. A read or write already running in the kernel's worker pool cannot be
//! stopped (`EALREADY`); it ends on its own, and that is its final CQE.

use std::io;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use io_uring::{opcode, types};

use super::{Completions, Op};

/// The offset that means "at the file position, and advance it" (`read(2)`/`write(2)`).
pub(crate) const CURSOR: u64 = u64::MAX;

/// The most one read or write moves (the kernel caps a single transfer near 2 GiB).
const MAX_TRANSFER: usize = 0x7fff_f000;

/// Reads into `buf[..buf.len()]` at `offset` (or the file position: [`CURSOR`]); the
/// result is the count read (0 at the end of the file) and `buf` comes back with it.
///
/// # Errors
/// Submission errors (the context is gone, the ring refused the entry); `buf` is lost
/// with them.
pub(crate) fn read_at(
    completions: &Arc<Completions>,
    fd: &Arc<OwnedFd>,
    buf: Vec<u8>,
    offset: u64,
) -> io::Result<Op<Vec<u8>>> {
    // SAFETY: the entry points into `buf`'s heap block (which does not move when the
    // `Vec` moves into the slot, and is not touched by anyone else until the slot
    // gives it back after the final CQE) and names `fd`, which the slot keeps open.
    unsafe {
        Op::submit(completions, Some(fd.clone()), buf, |buf, raw| {
            let len = buf.len().min(MAX_TRANSFER) as u32;
            opcode::Read::new(types::Fd(raw), buf.as_mut_ptr(), len)
                .offset(offset)
                .build()
        })
    }
}

/// Writes `buf[from..]` at `offset` (or the file position: [`CURSOR`]); the result is
/// the count written (maybe short) and `buf` comes back with it.
///
/// # Errors
/// As [`read_at`].
///
/// # Panics
/// If `from > buf.len()`.
pub(crate) fn write_at(
    completions: &Arc<Completions>,
    fd: &Arc<OwnedFd>,
    buf: Vec<u8>,
    from: usize,
    offset: u64,
) -> io::Result<Op<Vec<u8>>> {
    assert!(from <= buf.len(), "write_at from {from} past {}", buf.len());
    // SAFETY: as in `read_at`: the entry points into `buf[from..]`, owned by the slot
    // until the final CQE, and names `fd`, which the slot keeps open.
    unsafe {
        Op::submit(completions, Some(fd.clone()), buf, |buf, raw| {
            let src = &buf[from..];
            let len = src.len().min(MAX_TRANSFER) as u32;
            opcode::Write::new(types::Fd(raw), src.as_ptr(), len)
                .offset(offset)
                .build()
        })
    }
}

/// `fsync(2)` of `fd` (data and metadata).
///
/// # Errors
/// As [`read_at`].
pub(crate) fn fsync(completions: &Arc<Completions>, fd: &Arc<OwnedFd>) -> io::Result<Op<()>> {
    // SAFETY: the entry points at no memory; it names `fd`, which the slot keeps open.
    unsafe {
        Op::submit(completions, Some(fd.clone()), (), |(), raw| {
            opcode::Fsync::new(types::Fd(raw)).build()
        })
    }
}
