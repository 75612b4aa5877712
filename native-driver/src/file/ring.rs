//! Files on the io_uring completion layer: the jobs `RandomAccessFile` and `StreamFile`
//! run when the awaiting task's context runs io_uring (`uring::file`: positional
//! `READ`/`WRITE`, `FSYNC`; the slot owns the buffer until the final CQE).

use std::future::{poll_fn, Future};
use std::io;
use std::os::fd::OwnedFd;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use crate::context::Handle;
use crate::uring::{file as ops, Completions, Op, Outcome, Resource};

pub(super) use ops::CURSOR;

/// The completion layer of the running task's context, if it runs io_uring.
pub(super) fn current() -> Option<(Handle, Arc<Completions>)> {
    let handle = Handle::try_current()?;
    let completions = handle.reactor().selector.completions()?.clone();
    Some((handle, completions))
}

/// Awaits `op`, honouring the environment's stop token (a stop drops the operation:
/// it is canceled, and what it lent stays in its slot until the kernel is done).
pub(super) async fn run<T: Resource>(op: io::Result<Op<T>>) -> io::Result<Outcome<T>> {
    let mut op = op?;
    // (Callers check the token before submitting: an already-stopped one starts
    // nothing.)
    poll_fn(|cx| {
        if strait_streams::stop_requested() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        Pin::new(&mut op).poll(cx).map(Ok)
    })
    .await
}

/// `pread` on the ring; `buf` comes back (a fresh zeroed one if the operation could
/// not be submitted or was stopped: the original is the kernel's until its CQE).
pub(super) async fn read_at(
    ring: &Arc<Completions>,
    fd: &Arc<OwnedFd>,
    buf: Vec<u8>,
    offset: u64,
) -> (io::Result<usize>, Vec<u8>) {
    let len = buf.len();
    match run(ops::read_at(ring, fd, buf, offset)).await {
        Ok(out) => (out.result.map(|n| n as usize), out.resource),
        Err(e) => (Err(e), vec![0; len]),
    }
}

/// Writes all of a buffer at an offset (or the cursor), one `WRITE` at a time (a
/// short write goes on from where it stopped). Polled by hand: `StreamFile` keeps it
/// in its state.
pub(super) struct WriteAll {
    ring: Arc<Completions>,
    fd: Arc<OwnedFd>,
    op: Option<Op<Vec<u8>>>,
    /// Bytes of the buffer written so far.
    done: usize,
    /// The offset of the buffer's first byte, or [`CURSOR`].
    offset: u64,
    /// A submission error (the buffer is lost with it).
    failed: Option<io::Error>,
}

impl std::fmt::Debug for WriteAll {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteAll")
            .field("done", &self.done)
            .field("offset", &self.offset)
            .finish_non_exhaustive()
    }
}

impl WriteAll {
    pub(super) fn start(
        ring: Arc<Completions>,
        fd: Arc<OwnedFd>,
        buf: Vec<u8>,
        offset: u64,
    ) -> WriteAll {
        let mut write = WriteAll {
            ring,
            fd,
            op: None,
            done: 0,
            offset,
            failed: None,
        };
        write.submit(buf);
        write
    }

    fn submit(&mut self, buf: Vec<u8>) {
        let offset = if self.offset == CURSOR {
            CURSOR
        } else {
            self.offset + self.done as u64
        };
        match ops::write_at(&self.ring, &self.fd, buf, self.done, offset) {
            Ok(op) => self.op = Some(op),
            Err(e) => self.failed = Some(e),
        }
    }

    /// Ready with the outcome and the buffer (empty if it was lost to a submission
    /// error).
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(io::Result<()>, Vec<u8>)> {
        loop {
            if let Some(e) = self.failed.take() {
                return Poll::Ready((Err(e), Vec::new()));
            }
            let op = self.op.as_mut().expect("a write in flight or failed");
            let out = std::task::ready!(Pin::new(op).poll(cx));
            self.op = None;
            let buf = out.resource;
            match out.result {
                Ok(n) => {
                    self.done += n as usize;
                    if self.done >= buf.len() {
                        return Poll::Ready((Ok(()), buf));
                    }
                    if n == 0 {
                        return Poll::Ready((Err(io::ErrorKind::WriteZero.into()), buf));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Poll::Ready((Err(e), buf)),
            }
            self.submit(buf);
        }
    }

    /// Lets the write finish on its own: spawned on `handle`'s context, so a dropped
    /// `StreamFile` still writes what it accepted (as the blocking pool does).
    pub(super) fn detach(mut self, handle: &Handle) {
        if self.op.is_some() {
            drop(handle.spawn(poll_fn(move |cx| self.poll(cx).map(drop))));
        }
    }
}

/// `fsync` on the ring.
pub(super) async fn sync_all(ring: &Arc<Completions>, fd: &Arc<OwnedFd>) -> io::Result<()> {
    if strait_streams::stop_requested() {
        return Err(strait_streams::canceled());
    }
    run(ops::fsync(ring, fd)).await?.result.map(drop)
}

/// A `StreamFile` read ahead in flight (a read at the file position).
pub(super) struct ReadAhead(Op<Vec<u8>>);

impl std::fmt::Debug for ReadAhead {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReadAhead").finish_non_exhaustive()
    }
}

impl ReadAhead {
    /// Starts reading into all of `buf` at the file position.
    ///
    /// # Errors
    /// As [`read_at`]; `buf` is lost with them.
    pub(super) fn start(
        ring: &Arc<Completions>,
        fd: &Arc<OwnedFd>,
        buf: Vec<u8>,
    ) -> io::Result<Self> {
        ops::read_at(ring, fd, buf, CURSOR).map(ReadAhead)
    }

    /// The read's outcome and its buffer.
    pub(super) fn poll(&mut self, cx: &mut Context<'_>) -> Poll<(io::Result<usize>, Vec<u8>)> {
        Pin::new(&mut self.0)
            .poll(cx)
            .map(|out| (out.result.map(|n| n as usize), out.resource))
    }
}
