//! Per-socket multishot `RECV` with buffer selection.
//!
//! Each data CQE names a provided buffer; the socket's queue holds `(buffer id, len)`
//! in arrival order until a reader has taken every byte, then the buffer goes back to
//! the ring. A reader copies (`poll_read`, `poll_read_vectored`) or borrows the front
//! buffer with zero copy (`poll_fill` / `consume`); partially read buffers keep an
//! offset, so a read that is dropped or returns early loses nothing. End of stream and
//! errors are delivered after the data that arrived before them. The receive is
//! re-armed after a final CQE that did not end the stream, and after `ENOBUFS` once
//! buffers come back to the ring.

use std::collections::VecDeque;
use std::io::{self, IoSliceMut};
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::task::{Context, Poll};

use io_uring::cqueue;

use super::buf_ring::BufRing;
use super::ops::{Body, Key};
use super::{count_ready, to_error, Completions, Counters, Next};

/// How the stream ended (delivered after the queued data).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Eof,
    Error(i32),
}

/// The receive queue of one socket (a slot body).
pub(crate) struct RecvState {
    /// Received buffers `(id, len)`, oldest first.
    queue: VecDeque<(u16, u32)>,
    /// Bytes of the front buffer already read.
    offset: usize,
    end: Option<End>,
    /// The last read returned `Pending` (for the inline/waited counters).
    waited: bool,
}

impl RecvState {
    fn new(capacity: usize) -> Self {
        Self {
            queue: VecDeque::with_capacity(capacity),
            offset: 0,
            end: None,
            waited: false,
        }
    }

    /// Handles one CQE of the multishot receive.
    pub(super) fn on_cqe(
        &mut self,
        result: i32,
        flags: u32,
        orphaned: bool,
        bufs: &mut BufRing,
        counters: &mut Counters,
    ) -> Next {
        let bid = cqueue::buffer_select(flags);
        if result > 0 && bid.is_none() {
            // Data without a buffer cannot happen with buffer selection.
            counters.anomalies += 1;
        }
        if let Some(bid) = bid {
            if bufs.take(bid).is_err() {
                counters.anomalies += 1;
            }
            if result > 0 && !orphaned && self.end.is_none() {
                self.queue.push_back((bid, result as u32));
            } else if bufs.put(bid).is_err() {
                counters.anomalies += 1;
            }
        }
        match result {
            r if r > 0 => {
                if orphaned {
                    Next::Done
                } else {
                    Next::Resubmit // only acted on when the multishot ended
                }
            }
            0 => {
                self.end.get_or_insert(End::Eof);
                Next::Done
            }
            r if r == -libc::ENOBUFS => {
                counters.buffer_exhaustions += 1;
                if orphaned {
                    Next::Done
                } else {
                    Next::Starved
                }
            }
            r if r == -libc::ECANCELED && orphaned => Next::Done,
            r => {
                self.end.get_or_insert(End::Error(-r));
                Next::Done
            }
        }
    }

    /// Records a failed (re-)submission as the stream's end.
    pub(super) fn fail(&mut self, errno: i32) {
        self.end.get_or_insert(End::Error(errno));
    }

    /// Still expects data (not ended): worth re-arming.
    pub(super) fn wants_data(&self) -> bool {
        self.end.is_none()
    }

    /// Returns every queued buffer to the ring (the queue's owner is gone).
    pub(super) fn return_all(&mut self, bufs: &mut BufRing, counters: &mut Counters) {
        for (bid, _) in self.queue.drain(..) {
            if bufs.put(bid).is_err() {
                counters.anomalies += 1;
            }
        }
        self.offset = 0;
    }

    /// Copies queued bytes into `dst`, returning fully read buffers to the ring.
    fn copy_out(&mut self, bufs: &mut BufRing, dst: &mut [IoSliceMut<'_>]) -> usize {
        let mut copied = 0;
        for out in dst.iter_mut() {
            let mut filled = 0;
            while filled < out.len() {
                let Some(&(bid, len)) = self.queue.front() else {
                    break;
                };
                let src = &bufs.bytes(bid, len as usize)[self.offset..];
                let n = src.len().min(out.len() - filled);
                out[filled..filled + n].copy_from_slice(&src[..n]);
                filled += n;
                self.advance(bufs, n);
            }
            copied += filled;
            if self.queue.is_empty() {
                break;
            }
        }
        copied
    }

    /// Marks `n` bytes of the front buffer read; a finished buffer goes back.
    fn advance(&mut self, bufs: &mut BufRing, n: usize) {
        let Some(&(bid, len)) = self.queue.front() else {
            assert_eq!(n, 0, "consuming from an empty receive queue");
            return;
        };
        self.offset += n;
        assert!(
            self.offset <= len as usize,
            "consumed past the front buffer"
        );
        if self.offset == len as usize {
            self.queue.pop_front();
            self.offset = 0;
            bufs.put(bid).expect("a queued buffer is held");
        }
    }

    fn end_result(&self) -> Option<io::Result<()>> {
        match self.end? {
            End::Eof => Some(Ok(())),
            End::Error(errno) => Some(Err(to_error(errno))),
        }
    }
}

/// The receiving half of a socket on the ring: a multishot receive and its queue.
/// Dropping it cancels the receive and returns the queued buffers.
pub(crate) struct RecvQueue {
    completions: Arc<Completions>,
    key: Key,
}

impl RecvQueue {
    /// Arms a multishot receive on `fd` (a connected stream socket).
    pub(crate) fn new(completions: &Arc<Completions>, fd: Arc<OwnedFd>) -> io::Result<Self> {
        // Grows to the socket's high-water mark, then never allocates again.
        let key = completions.open(Body::Recv(RecvState::new(8)), fd, true)?;
        Ok(Self {
            completions: completions.clone(),
            key,
        })
    }

    /// Reads into `dst`: queued bytes at once, else waits. `Ok(0)` is end of stream
    /// (or an empty `dst`).
    pub(crate) fn poll_read(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_read_vectored(cx, &mut [IoSliceMut::new(dst)])
    }

    /// Reads into `dst` in order, like [`poll_read`](Self::poll_read).
    pub(crate) fn poll_read_vectored(
        &mut self,
        cx: &mut Context<'_>,
        dst: &mut [IoSliceMut<'_>],
    ) -> Poll<io::Result<usize>> {
        if dst.iter().all(|b| b.is_empty()) {
            return Poll::Ready(Ok(0));
        }
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &mut slot.body else {
            unreachable!("receive slot")
        };
        let counters = &mut driver.counters;
        if !recv.queue.is_empty() {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            let n = recv.copy_out(&mut driver.bufs, dst);
            driver.rearm_starved(&*self.completions.submit);
            return Poll::Ready(Ok(n));
        }
        if let Some(end) = recv.end_result() {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            return Poll::Ready(end.map(|()| 0));
        }
        recv.waited = true;
        slot.set_waker(cx.waker());
        Poll::Pending
    }

    /// Borrows the unread bytes of the front buffer with zero copy; empty at end of
    /// stream. They stay queued until [`consume`](Self::consume).
    pub(crate) fn poll_fill(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &mut slot.body else {
            unreachable!("receive slot")
        };
        let counters = &mut driver.counters;
        if let Some(&(bid, len)) = recv.queue.front() {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            let ptr = driver.bufs.raw(bid);
            let offset = recv.offset;
            drop(guard);
            // SAFETY: buffer `bid` is held by this queue's front entry: the kernel does
            // not write it, and only `consume`/`poll_read*` (which need `&mut self`, so
            // cannot run while this borrow lives) or dropping `self` (likewise) give it
            // back. The mapping lives as long as `self.completions`, which `self` keeps.
            let bytes =
                unsafe { std::slice::from_raw_parts(ptr.add(offset), len as usize - offset) };
            return Poll::Ready(Ok(bytes));
        }
        if let Some(end) = recv.end_result() {
            count_ready(
                &mut recv.waited,
                &mut counters.reads_inline,
                &mut counters.reads_waited,
            );
            return Poll::Ready(end.map(|()| &[][..]));
        }
        recv.waited = true;
        slot.set_waker(cx.waker());
        Poll::Pending
    }

    /// Marks the first `n` bytes returned by [`poll_fill`](Self::poll_fill) as read.
    ///
    /// # Panics
    /// If `n` exceeds what `poll_fill` returned.
    pub(crate) fn consume(&mut self, n: usize) {
        let mut guard = self.completions.lock();
        let driver = &mut *guard;
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &mut slot.body else {
            unreachable!("receive slot")
        };
        recv.advance(&mut driver.bufs, n);
        driver.rearm_starved(&*self.completions.submit);
    }

    /// Bytes queued and not yet read.
    pub(crate) fn queued(&self) -> usize {
        let mut driver = self.completions.lock();
        let slot = driver
            .slots
            .get_mut(self.key)
            .expect("a receive queue's slot lives with it");
        let Body::Recv(recv) = &slot.body else {
            unreachable!("receive slot")
        };
        recv.queue
            .iter()
            .map(|&(_, len)| len as usize)
            .sum::<usize>()
            - recv.offset
    }
}

impl Drop for RecvQueue {
    fn drop(&mut self) {
        self.completions.release(self.key);
    }
}
