//! Fault-injecting wrappers any test can put around a stream: chunk limits, `Pending`
//! interleaved between operations, errors injected at a chosen operation (with a
//! systematic "fail at point k" runner), and added latency.
//!
//! Each applies its fault to the one-slice operations too and passes them on as
//! one-slice operations, so the wrapped stream's own `poll_read_slice` and
//! `poll_write_slice` are what the faults land on.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use strait_streams::{combinators::Delay, ReadStream, WriteStream};
use strait_vocab::{ConstBuffer, MutableBuffer};

/// Limits every read and write of the inner stream to `max` bytes (down to 1).
#[derive(Debug)]
pub struct ChunkLimit<S> {
    inner: S,
    max: usize,
}

impl<S> ChunkLimit<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, max: usize) -> Self {
        assert!(max > 0, "max must be positive");
        ChunkLimit { inner, max }
    }
}

impl<S: ReadStream + Unpin> ReadStream for ChunkLimit<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match bufs.iter_mut().find(|b| !b.is_empty()) {
            None => Pin::new(&mut this.inner).poll_read_some(cx, bufs),
            Some(first) => {
                let keep = first.len().min(this.max);
                let mut one = [MutableBuffer::new(&mut first.as_mut_slice()[..keep])];
                Pin::new(&mut this.inner).poll_read_some(cx, &mut one)
            }
        }
    }

    /// The inner stream's one-slice read of at most `max` bytes of `buf`.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let keep = buf.len().min(this.max);
        Pin::new(&mut this.inner).poll_read_slice(cx, &mut buf[..keep])
    }
}

impl<S: WriteStream + Unpin> WriteStream for ChunkLimit<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let first = bufs.iter().find(|b| !b.is_empty());
        match first {
            None => Pin::new(&mut this.inner).poll_write_some(cx, bufs),
            Some(b) => {
                let mut b = *b;
                b.truncate(this.max);
                Pin::new(&mut this.inner).poll_write_some(cx, &[b])
            }
        }
    }
    /// The inner stream's one-slice write of at most `max` bytes of `buf`.
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let keep = buf.len().min(this.max);
        Pin::new(&mut this.inner).poll_write_slice(cx, &buf[..keep])
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Returns `Pending` (waking the task at once) before every other operation, so code
/// that assumes an operation completes on its first poll is caught.
#[derive(Debug)]
pub struct PendingEvery<S> {
    inner: S,
    read_turn: bool,
    write_turn: bool,
}

impl<S> PendingEvery<S> {
    /// Wraps `inner`.
    pub fn new(inner: S) -> Self {
        PendingEvery {
            inner,
            read_turn: false,
            write_turn: false,
        }
    }

    /// Flips the direction's turn; on a `Pending` turn wakes the task at once and
    /// returns `true`.
    fn pending_turn(&mut self, read: bool, cx: &mut Context<'_>) -> bool {
        let turn = if read {
            &mut self.read_turn
        } else {
            &mut self.write_turn
        };
        *turn = !*turn;
        if *turn {
            cx.waker().wake_by_ref();
        }
        *turn
    }
}

impl<S: ReadStream + Unpin> ReadStream for PendingEvery<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if strait_vocab::buffer_empty(&*bufs) {
            return Pin::new(&mut this.inner).poll_read_some(cx, bufs);
        }
        if this.pending_turn(true, cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_read_some(cx, bufs)
    }

    /// The same alternation, then the inner stream's one-slice read.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !buf.is_empty() && this.pending_turn(true, cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_read_slice(cx, buf)
    }
}

impl<S: WriteStream + Unpin> WriteStream for PendingEvery<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if strait_vocab::buffer_empty(bufs) {
            return Pin::new(&mut this.inner).poll_write_some(cx, bufs);
        }
        if this.pending_turn(false, cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_write_some(cx, bufs)
    }
    /// The same alternation, then the inner stream's one-slice write.
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if !buf.is_empty() && this.pending_turn(false, cx) {
            return Poll::Pending;
        }
        Pin::new(&mut this.inner).poll_write_slice(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// Decides which operation fails: shared by every [`FailAt`] made from it, like the
/// papers' `fuse`. Operation `k` (counting from 0 across all wrapped objects) fails with
/// the injected error; the others pass through.
#[derive(Debug, Clone)]
pub struct FailPlan {
    counter: Arc<AtomicU64>,
    fail_at: Option<u64>,
    kind: io::ErrorKind,
}

impl FailPlan {
    /// A plan that never fails (counts operations).
    pub fn inert() -> Self {
        FailPlan {
            counter: Arc::new(AtomicU64::new(0)),
            fail_at: None,
            kind: io::ErrorKind::Other,
        }
    }

    /// A plan that fails operation `k` with `kind`.
    pub fn fail_at(k: u64, kind: io::ErrorKind) -> Self {
        FailPlan {
            counter: Arc::new(AtomicU64::new(0)),
            fail_at: Some(k),
            kind,
        }
    }

    /// Operations seen so far.
    pub fn operations(&self) -> u64 {
        self.counter.load(Ordering::SeqCst)
    }

    /// `true` once the failure point was reached.
    pub fn triggered(&self) -> bool {
        self.fail_at.is_some_and(|k| self.operations() > k)
    }

    /// Counts one operation; returns the injected error if it is the failing one.
    pub fn maybe_fail(&self) -> io::Result<()> {
        let n = self.counter.fetch_add(1, Ordering::SeqCst);
        if self.fail_at == Some(n) {
            Err(io::Error::new(self.kind, "injected failure"))
        } else {
            Ok(())
        }
    }

    /// Wraps `inner` under this plan.
    pub fn wrap<S>(&self, inner: S) -> FailAt<S> {
        FailAt {
            inner,
            plan: self.clone(),
        }
    }
}

/// Fails the operation its [`FailPlan`] chooses; passes the others through.
#[derive(Debug)]
pub struct FailAt<S> {
    inner: S,
    plan: FailPlan,
}

impl<S: ReadStream + Unpin> ReadStream for FailAt<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.plan.maybe_fail() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read_some(cx, bufs)
    }

    /// Counted like a sequence read; passed on as the inner stream's one-slice read.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.plan.maybe_fail() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_read_slice(cx, buf)
    }
}

impl<S: WriteStream + Unpin> WriteStream for FailAt<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.plan.maybe_fail() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write_some(cx, bufs)
    }
    /// Counted like a sequence write; passed on as the inner stream's one-slice write.
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if let Err(e) = this.plan.maybe_fail() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_write_slice(cx, buf)
    }
    /// Forwarded without counting: flushes are not numbered operations of the plan.
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Err(e) = this.plan.maybe_fail() {
            return Poll::Ready(Err(e));
        }
        Pin::new(&mut this.inner).poll_shutdown(cx)
    }
}

/// One run of [`fail_at_each`]: the failure point and how the scenario ended.
#[derive(Debug)]
pub struct FailPoint {
    /// The operation that failed (counting from 0).
    pub point: u64,
    /// The scenario's result with that failure injected.
    pub result: Result<(), String>,
}

/// The systematic runner: runs `scenario` once with an inert plan (which must
/// succeed), then once per operation `k` with a plan failing operation `k`, until a
/// run no longer reaches its failure point. The scenario must turn an injected error
/// into a clean `Err` (or recover) — never panic, hang or corrupt data. Returns every
/// run's outcome.
pub fn fail_at_each(
    kind: io::ErrorKind,
    mut scenario: impl FnMut(&FailPlan) -> Result<(), String>,
) -> Result<Vec<FailPoint>, String> {
    let inert = FailPlan::inert();
    scenario(&inert).map_err(|e| format!("the scenario fails without injected faults: {e}"))?;
    let mut runs = Vec::new();
    for k in 0..=inert.operations() {
        let plan = FailPlan::fail_at(k, kind);
        let result = scenario(&plan);
        let reached = plan.triggered();
        runs.push(FailPoint { point: k, result });
        if !reached {
            break;
        }
    }
    Ok(runs)
}

/// Delays every operation that moves bytes by `latency` (a timer wait before the inner
/// operation). Its two timers are allocated once, at construction.
#[derive(Debug)]
pub struct Latency<S> {
    inner: S,
    read: Toll,
    write: Toll,
}

/// The delay one direction pays before each of its operations.
#[derive(Debug)]
struct Toll {
    latency: Duration,
    delay: Pin<Box<Delay>>,
    /// The current operation's delay is running.
    armed: bool,
    /// The current operation's delay is over; the inner operation may be pending.
    paid: bool,
}

impl Toll {
    fn new(latency: Duration) -> Self {
        Toll {
            latency,
            delay: Box::pin(strait_streams::delay(latency)),
            armed: false,
            paid: false,
        }
    }

    /// Runs `op` once this operation's delay is over; the next operation pays anew.
    fn pay_then<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(&mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if !self.paid {
            if !self.armed {
                let deadline = std::time::Instant::now() + self.latency;
                self.delay.as_mut().reset(deadline);
                self.armed = true;
            }
            let waited = std::task::ready!(self.delay.as_mut().poll(cx));
            self.armed = false;
            waited?;
            self.paid = true;
        }
        let r = std::task::ready!(op(cx));
        self.paid = false;
        Poll::Ready(r)
    }
}

impl<S> Latency<S> {
    /// Wraps `inner`.
    pub fn new(inner: S, latency: Duration) -> Self {
        Latency {
            inner,
            read: Toll::new(latency),
            write: Toll::new(latency),
        }
    }
}

impl<S: ReadStream + Unpin> ReadStream for Latency<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner);
        if strait_vocab::buffer_empty(&*bufs) {
            return inner.poll_read_some(cx, bufs);
        }
        this.read.pay_then(cx, |cx| inner.poll_read_some(cx, bufs))
    }

    /// The same delay, then the inner stream's one-slice read.
    fn poll_read_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner);
        if buf.is_empty() {
            return inner.poll_read_slice(cx, buf);
        }
        this.read.pay_then(cx, |cx| inner.poll_read_slice(cx, buf))
    }
}

impl<S: WriteStream + Unpin> WriteStream for Latency<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner);
        if strait_vocab::buffer_empty(bufs) {
            return inner.poll_write_some(cx, bufs);
        }
        this.write
            .pay_then(cx, |cx| inner.poll_write_some(cx, bufs))
    }
    /// The same delay, then the inner stream's one-slice write.
    fn poll_write_slice(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let inner = Pin::new(&mut this.inner);
        if buf.is_empty() {
            return inner.poll_write_slice(cx, buf);
        }
        this.write
            .pay_then(cx, |cx| inner.poll_write_slice(cx, buf))
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}
