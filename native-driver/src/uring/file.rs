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

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::io::Write;
    use std::os::fd::OwnedFd;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use super::super::testing::TestRing;
    use super::super::{Completions, Config, Op, Outcome, Resource};
    use super::{fsync, read_at, write_at, CURSOR};

    fn temp_file(name: &str, contents: &[u8], write: bool) -> Arc<OwnedFd> {
        let path =
            std::env::temp_dir().join(format!("strait-uring-file-{}-{name}", std::process::id()));
        std::fs::write(&path, contents).unwrap();
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(write)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        Arc::new(OwnedFd::from(file))
    }

    /// Turns the ring until `op` completes.
    fn wait<T: Resource>(ring: &TestRing, c: &Completions, mut op: Op<T>) -> Outcome<T> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = None;
        ring.run_until(c, || {
            if let Poll::Ready(o) = Pin::new(&mut op).poll(&mut cx) {
                out = Some(o);
            }
            out.is_some()
        });
        out.expect("completed")
    }

    fn settle(ring: &TestRing, c: &Completions) {
        ring.run_until(c, || c.slots_in_use() == 0);
        assert_eq!(c.in_kernel(), 0);
        assert_eq!(c.counters().anomalies, 0);
    }

    #[test]
    fn positional_reads_writes_and_fsync() {
        let Some(ring) = TestRing::new(16) else {
            return;
        };
        let c = ring.completions(Config::default());
        let fd = temp_file("rw", b"", true);
        let out = wait(
            &ring,
            &c,
            write_at(&c, &fd, b"hello world".to_vec(), 0, 0).unwrap(),
        );
        assert_eq!(out.result.unwrap(), 11);
        // Only the tail from `from` goes out, at the offset given.
        let out = wait(
            &ring,
            &c,
            write_at(&c, &fd, b"xxWORLD".to_vec(), 2, 6).unwrap(),
        );
        assert_eq!(out.result.unwrap(), 5);
        assert_eq!(out.resource, b"xxWORLD", "the buffer comes back");
        wait(&ring, &c, fsync(&c, &fd).unwrap()).result.unwrap();
        let out = wait(&ring, &c, read_at(&c, &fd, vec![0; 32], 0).unwrap());
        let n = out.result.unwrap() as usize;
        assert_eq!(&out.resource[..n], b"hello WORLD");
        let out = wait(&ring, &c, read_at(&c, &fd, vec![0; 8], 100).unwrap());
        assert_eq!(out.result.unwrap(), 0, "past the end of the file");
        settle(&ring, &c);
    }

    #[test]
    fn reads_at_the_cursor_advance_it() {
        let Some(ring) = TestRing::new(16) else {
            return;
        };
        let c = ring.completions(Config::default());
        let fd = temp_file("cursor", b"abcdef", false);
        let mut got = Vec::new();
        loop {
            let out = wait(&ring, &c, read_at(&c, &fd, vec![0; 4], CURSOR).unwrap());
            let n = out.result.unwrap() as usize;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&out.resource[..n]);
        }
        assert_eq!(got, b"abcdef");
        settle(&ring, &c);
    }

    #[test]
    fn errors_come_back_with_the_buffer() {
        let Some(ring) = TestRing::new(16) else {
            return;
        };
        let c = ring.completions(Config::default());
        let read_only = temp_file("ro", b"data", false);
        let out = wait(
            &ring,
            &c,
            write_at(&c, &read_only, vec![1; 4], 0, 0).unwrap(),
        );
        assert_eq!(out.result.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(out.resource, vec![1; 4]);
        // A descriptor that is not open for reading.
        let (_r, w) = std::io::pipe().unwrap();
        let w = Arc::new(OwnedFd::from(w));
        let out = wait(&ring, &c, read_at(&c, &w, vec![0; 4], CURSOR).unwrap());
        assert_eq!(out.result.unwrap_err().raw_os_error(), Some(libc::EBADF));
        settle(&ring, &c);
    }

    #[test]
    fn a_dropped_read_is_canceled_and_frees_its_buffer_and_descriptor_after_its_cqe() {
        let Some(ring) = TestRing::new(16) else {
            return;
        };
        let c = ring.completions(Config::default());
        let (r, mut w) = std::io::pipe().unwrap();
        let r = Arc::new(OwnedFd::from(r));
        let mut op = read_at(&c, &r, vec![0; 64], CURSOR).unwrap();
        ring.turn(&c, false);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(
            Pin::new(&mut op).poll(&mut cx).is_pending(),
            "an empty pipe"
        );
        drop(op);
        drop(r);
        assert_eq!(c.slots_in_use(), 1, "the slot keeps buffer and descriptor");
        settle(&ring, &c);
        assert!(c.counters().canceled >= 1);
        // The read end closed with the slot: nothing reads any more.
        let err = w.write_all(b"late").unwrap_err();
        assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    }

    #[test]
    fn operations_dropped_at_random_points_leak_nothing() {
        let Some(ring) = TestRing::new(64) else {
            return;
        };
        let c = ring.completions(Config::default());
        let data: Vec<u8> = (0..8192u32).map(|i| (i * 7) as u8).collect();
        let file = temp_file("torture", &data, true);
        let (r, mut w) = std::io::pipe().unwrap();
        let r = Arc::new(OwnedFd::from(r));
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut cx = Context::from_waker(Waker::noop());
        let mut completed = 0;
        for _ in 0..2000 {
            let roll = next();
            let offset = roll % 8192;
            let mut op = match roll % 4 {
                0 => read_at(&c, &r, vec![0; 16], CURSOR),
                1 => write_at(&c, &file, vec![9; 32], 0, 8192 + offset),
                _ => read_at(&c, &file, vec![0; 512], offset),
            }
            .unwrap();
            if roll % 4 == 0 && roll % 3 == 0 {
                w.write_all(&[1; 16]).unwrap(); // sometimes the pipe read completes
            }
            for _ in 0..(roll >> 8) % 3 {
                ring.turn(&c, false);
            }
            match Pin::new(&mut op).poll(&mut cx) {
                Poll::Ready(out) => {
                    completed += 1;
                    if roll % 4 >= 2 {
                        let n = out.result.unwrap() as usize;
                        let at = offset as usize;
                        let (old, new) = out.resource[..n].split_at(n.min(8192 - at));
                        assert_eq!(old, &data[at..at + old.len()], "read at {at}");
                        // Past the original data: written nines, or holes.
                        assert!(new.iter().all(|&b| b == 9 || b == 0));
                    }
                }
                Poll::Pending => drop(op),
            }
        }
        drop(r);
        settle(&ring, &c);
        assert!(completed > 0 && c.counters().canceled > 0, "both paths ran");
    }
}
