//! The io_uring completion layer: what the io_uring TCP path runs on.
//!
//! The ring itself belongs to the host (the reactor's io_uring backend). This layer
//! never owns it: it pushes SQEs through [`Submit`] and is handed every CQE whose
//! user_data kind is `0b1x` through [`Completions::complete_all`] (a drain at a time).
//!
//! ## Ownership: the kernel only ever holds memory the driver owns
//! - **Operation slots** (`ops`): every operation the kernel runs has a slot. The slot
//!   owns the descriptor (`Arc<OwnedFd>`), and every buffer or address the SQE points
//!   to, until the operation's *final* CQE (one without `IORING_CQE_F_MORE`). Dropping
//!   the handle (a future, a socket half) only marks the slot orphaned and, when the
//!   operation is in flight, submits `IORING_OP_ASYNC_CANCEL`; closing the socket only
//!   drops the handle's `Arc`. Nothing the kernel may write is freed before that CQE.
//!   A multishot never ends on its own, so a cancel the host cannot queue (or that
//!   comes back `EALREADY`) is retried with every batch of CQEs, and an abandoned
//!   multishot's next CQE asks again.
//! - **Received data** (`buf_ring`, `recv`): lands in a provided-buffer ring the driver
//!   maps and registers. A buffer named by a CQE is *held* by its socket's receive
//!   queue until the reader has copied (or, zero-copy, consumed) all of it; then it
//!   returns to the ring. An orphaned queue returns its buffers at once (the kernel
//!   handed them over, it no longer writes them). The ring is shared, so one socket may
//!   hold only its share (`Config::socket_buffers`): its receive pauses there and
//!   resumes when the reader has consumed half. Shares alone do not keep the ring
//!   live (`buf_entries / socket_buffers` paused sockets hold all of it), so should the
//!   ring be empty while receives starve, a paused socket's buffers but its front one
//!   are copied out of the ring into that socket's own memory (the overload path,
//!   counted as a spill), one socket per starved re-arm. The ring thus stays live for
//!   the others as long as fewer sockets than `buf_entries` hold unread data. A
//!   streaming socket read with large buffers *parks* its receive: the multishot is
//!   canceled and, once its final CQE is in and the queue read, reads `recvmsg`
//!   straight into the caller's buffer (one copy), waiting with a one-shot `POLL_ADD`
//!   (see `recv`).
//! - **Sent data** (`send`): with nothing queued and no send in flight, `poll_write`
//!   hands the caller's bytes to a synchronous `sendmsg` (the kernel has copied them
//!   when it returns, so it never holds the caller's memory); what the socket does not
//!   take is copied into the socket's write-behind block (or a zero-copy writer fills
//!   it in place: `poll_prepare`/`commit`), owned by its slot, and sent by a `SEND`; a
//!   send's bytes stay put until its CQE (the block grows and compacts only with no
//!   send in flight). A drained block goes back to a pool the layer shares (bounded),
//!   so an idle socket holds no send memory and steady state allocates none. A dropped writer lingers: what was accepted is still sent,
//!   within bounds ([`Completions::set_linger`]): a lingering send still unsent after
//!   the linger time (30 s by default), or the oldest ones once all lingering sends of
//!   this layer hold more than the linger budget (16 MiB), is canceled and its
//!   descriptor released. Deadlines are checked with every batch of CQEs and every
//!   handle drop, and when the host calls [`Completions::expire_lingering`]. Opt-in,
//!   large unsent runs go as `SEND_ZC` (`send_zc`): their final CQE is the kernel's
//!   notification, so the block stays put until it.
//! - **Accepted descriptors** (`accept`): become `OwnedFd`s the moment their CQE is
//!   handled, queued until taken and closed if never taken.
//! - **Teardown**: [`Completions::shutdown`] cancels everything in flight; the host
//!   drains the ring until only live handles hold slots, then closes it, and drops the
//!   last `Arc<Completions>` after that (having unregistered the buffer ring with
//!   [`Completions::unregister`], or letting the drop do it through
//!   [`Submit::unregister_buf_ring`]). Should operations still be in the kernel when
//!   `Completions` drops, or the buffer group still be registered, their slots and the
//!   buffer ring are leaked rather than freed under the kernel.
//!
//! ## Kernel
//! Provided-buffer rings need Linux 5.19 ([`Completions::new`] fails before that, and
//! the host falls back to epoll); multishot receive needs 6.0, multishot accept 5.19.
//!
//! ## Use by the sockets (`net::tcp_ring`)
//! On the io_uring backend the ring host (`sys::uring::Host`) owns one `Completions`
//! per context, and TCP runs on it. A connected socket is an `Arc<OwnedFd>` with a
//! [`RecvQueue`] and a [`SendBehind`]: `ReadStream::poll_read_some` is `poll_read_vectored`, `BufferSource` is
//! `poll_fill`/`consume`, `WriteStream` is `poll_write_vectored`/`poll_flush`/
//! `poll_shutdown`, `BufferSink` is `poll_prepare`/`commit` (`TcpStream`'s
//! `BufferSource`/`BufferSink` impls lend them with zero copy). A listener is an
//! [`Acceptor`]. `connect` does not use an [`Op`] yet: it waits on a readiness
//! registration it drops once connected. Each handle stores one waker; the TCP types
//! give the receive and accept slots a waker that wakes every task waiting on them.
//!
//! Unix streams use the same types. UDP (`net::udp_ring`) and files (`file::ring`)
//! run one-shot [`Op`]s (`datagram`: `RECVMSG`/`SENDMSG` over a slot-owned message
//! block; `file`: positional `READ`/`WRITE`, `FSYNC` over the caller's `Vec`).
//!
//! ## user_data layout (shared with the ring host)
//! The top two bits name the owner: `0b00` readiness registrations and `0b01` the
//! host's own entries (never seen here), `0b10` this layer's operations (slot index in
//! bits 0..32, generation in bits 32..62), `0b11` this layer's internal entries
//! (cancellations; same index and generation, naming their target).
//!
//! ## Locking and threads
//! One mutex guards the slots, the buffer ring and the queues; handles and
//! `Completions` are `Send`, so any runner thread may poll, drop or complete.
//! [`Submit::push`] is called while the mutex is held (arming, re-arming, cancelling),
//! so the host must not hold a lock that `push` needs while it calls
//! [`Completions::complete`] (with the io-uring crate: copy the CQEs out of the
//! completion queue, release it, then dispatch). An SQE pushed by one thread while
//! another waits in `io_uring_enter` is only submitted when someone enters the kernel
//! next: the host's `push` submits it itself or wakes the waiting thread.

mod accept;
mod buf_ring;
pub(crate) mod datagram;
pub(crate) mod file;
mod ops;
mod recv;
mod send;
mod send_zc;
#[cfg(test)]
mod testing;
#[cfg(test)]
mod tests;

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use io_uring::{cqueue, opcode, squeue, types, Submitter};

pub(crate) use accept::Acceptor;
use buf_ring::BufRing;
pub(crate) use ops::{Keep, Op, Outcome, Resource};

use ops::{Body, Key, Phase, Slab};
pub(crate) use recv::RecvQueue;
pub(crate) use send::SendBehind;
pub(crate) use send_zc::ZeroCopySupport;

/// Where this layer's SQEs go: the host's submission queue.
pub(crate) trait Submit {
    /// Queues `entry` for submission; may submit to make room when the queue is full,
    /// and must make it reach the kernel even while another thread sleeps in
    /// `io_uring_enter` (submit at once, or wake that thread).
    ///
    /// # Contract
    /// `Err` only if the entry was not queued. On `Err` the layer frees what the entry
    /// points to (a one-shot operation's buffer or address, its slot and its descriptor
    /// reference), so an implementation that queued the entry and then failed a
    /// follow-up submit (or `io_uring_enter` to make room for a later entry) must
    /// return `Ok(())`: the entry is in the submission queue and is submitted the next
    /// time anyone enters the kernel. Returning `Err` after queueing lets the kernel
    /// write into freed memory. `EBUSY` or `EAGAIN` says the queue stays full for a
    /// moment: a re-arm or resend is kept and retried (the host calls
    /// [`Completions::retry_pending`] once it may have room); other errors end the
    /// stream or listener with that errno.
    ///
    /// # Safety
    /// Every buffer, address and descriptor `entry` points to must stay valid until
    /// the entry's final CQE (one without `IORING_CQE_F_MORE`) has been handed to
    /// [`Completions::complete`]. In this layer that memory is owned by the slot the
    /// entry's user_data names (see the module docs), which outlives its final CQE;
    /// cancellations point at nothing.
    unsafe fn push(&self, entry: squeue::Entry) -> io::Result<()>;

    /// Unregisters provided-buffer group `bgid` from the ring, if the ring is still
    /// open; `None` when the host cannot. Called when the last `Completions` drops
    /// with its group still registered (not [`Completions::unregister`]ed) and
    /// nothing in the kernel: on `Some(Ok(()))` the buffer mappings are freed,
    /// otherwise they are leaked rather than unmapped while a registered group names
    /// them. The default cannot. It runs in `Completions`' drop, so the host must not
    /// drop the last `Completions` while holding a lock this needs.
    fn unregister_buf_ring(&self, bgid: u16) -> Option<io::Result<()>> {
        let _ = bgid;
        None
    }
}

/// Bit position of the user_data kind.
const KIND_SHIFT: u32 = 62;
/// user_data kind of readiness registrations (the host's tokens).
pub(crate) const KIND_READINESS: u8 = 0b00;
/// user_data kind of the host's internal entries.
pub(crate) const KIND_HOST: u8 = 0b01;
/// user_data kind of this layer's operations.
pub(crate) const KIND_OP: u8 = 0b10;
/// user_data kind of this layer's internal entries (cancellations).
pub(crate) const KIND_INTERNAL: u8 = 0b11;
/// Generations are 30 bits (bits 32..62).
pub(crate) const GENERATION_MASK: u32 = (1 << 30) - 1;

/// The owner of a CQE, from its user_data's top two bits.
pub(crate) fn user_data_kind(user_data: u64) -> u8 {
    (user_data >> KIND_SHIFT) as u8
}

/// `true` when a CQE belongs to this layer (kind `0b1x`).
pub(crate) fn is_completion(user_data: u64) -> bool {
    user_data_kind(user_data) & 0b10 != 0
}

fn encode(kind: u8, index: u32, generation: u32) -> u64 {
    (u64::from(kind) << KIND_SHIFT)
        | (u64::from(generation & GENERATION_MASK) << 32)
        | u64::from(index)
}

/// user_data of slot `index`'s operations.
pub(crate) fn op_user_data(index: u32, generation: u32) -> u64 {
    encode(KIND_OP, index, generation)
}

/// user_data of an internal entry (a cancellation) aimed at slot `index`.
pub(crate) fn internal_user_data(index: u32, generation: u32) -> u64 {
    encode(KIND_INTERNAL, index, generation)
}

/// `(kind, slot index, generation)` of a user_data.
pub(crate) fn decode_user_data(user_data: u64) -> (u8, u32, u32) {
    (
        user_data_kind(user_data),
        user_data as u32,
        (user_data >> 32) as u32 & GENERATION_MASK,
    )
}

/// Sizes of the completion layer.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Config {
    /// Provided buffers (a power of two up to 32768).
    pub(crate) buf_entries: u16,
    /// Bytes per provided buffer.
    pub(crate) buf_size: u32,
    /// The buffer group id.
    pub(crate) bgid: u16,
    /// Write-behind bytes per socket.
    pub(crate) send_capacity: usize,
    /// Buffers one socket's receive queue may hold before its receive pauses, so a
    /// reader that does not read cannot take the whole ring from the others (it
    /// resumes when the reader has consumed half).
    pub(crate) socket_buffers: u16,
    /// Accepted connections a listener queues before its accept pauses (the kernel's
    /// backlog holds the rest until half were taken).
    pub(crate) accept_queue: u16,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            buf_entries: 256,
            // 16 KiB: a quarter of the CQEs (and wakes) of 4 KiB buffers on streams
            // (callgrind: 2.5M -> 1.2M instructions per 16 MiB at 64 KiB writes); the
            // ring's 4 MiB are shared by every socket and touched only as used.
            buf_size: 16 * 1024,
            bgid: 0,
            send_capacity: 64 * 1024,
            socket_buffers: 32,
            accept_queue: 256,
        }
    }
}

/// What the layer has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Counters {
    /// CQEs of operations handled.
    pub(crate) completions: u64,
    /// Operations whose final CQE arrived.
    pub(crate) finished: u64,
    /// Cancellations requested (`IORING_OP_ASYNC_CANCEL` submitted).
    pub(crate) canceled: u64,
    /// Multishot receives ended by `ENOBUFS` (the buffer ring was empty).
    pub(crate) buffer_exhaustions: u64,
    /// Multishot operations submitted again after their final CQE.
    pub(crate) rearms: u64,
    /// Receives (and accepts) paused because their socket held its share of buffers
    /// (its listener queued `accept_queue` connections).
    pub(crate) pauses: u64,
    /// Paused sockets whose buffers (but the front one) were copied out of the ring
    /// because others starved (the overload path; it allocates).
    pub(crate) spills: u64,
    /// Reads (`poll_read*`, `poll_fill`) that found data or the end already queued on
    /// their first poll.
    pub(crate) reads_inline: u64,
    /// Reads that had to wait (returned `Pending` first).
    pub(crate) reads_waited: u64,
    /// Reads that `recvmsg`ed straight into the caller's buffers (a parked receive,
    /// see `recv`): one copy, no operation.
    pub(crate) reads_direct: u64,
    /// Streaming receives parked for direct reads (their multishot canceled).
    pub(crate) parks: u64,
    /// Writes (`poll_write*`, `poll_prepare`) that found room on their first poll.
    pub(crate) writes_inline: u64,
    /// Writes that had to wait for room.
    pub(crate) writes_waited: u64,
    /// Writes the kernel took whole in a direct `sendmsg` (nothing was queued), with
    /// no copy into the write-behind block and no `SEND` operation.
    pub(crate) sends_direct: u64,
    /// CQEs naming a slot that is gone, or a buffer id out of order (driver bugs; 0).
    pub(crate) anomalies: u64,
    /// Lingering sends of dropped writers canceled before they were delivered (past
    /// the linger time, or over the linger budget).
    pub(crate) lingers_canceled: u64,
    /// `SEND_ZC` operations whose result came (`send_zc`).
    pub(crate) zc_sends: u64,
    /// Their notifications (the kernel let go of the block).
    pub(crate) zc_notifications: u64,
    /// Notifications saying the kernel copied the bytes anyway.
    pub(crate) zc_copied: u64,
    /// Sends that reached the zero-copy threshold but went as plain `SEND`s (no
    /// `SEND_ZC` in the kernel, or a socket that refused it).
    pub(crate) zc_fallbacks: u64,
}

/// The completion layer: operation slots, the provided-buffer ring, the receive, send
/// and accept queues, and the entry point for their CQEs.
pub(crate) struct Completions {
    driver: Mutex<Driver>,
    submit: Arc<dyn Submit + Send + Sync>,
    send_capacity: usize,
    socket_buffers: u16,
    accept_queue: u16,
    /// `Counters::sends_direct`, counted outside the lock (the direct send runs
    /// without it).
    sends_direct: std::sync::atomic::AtomicU64,
    /// When sends go zero-copy ([`Completions::set_zero_copy_send`]).
    zero_copy: send_zc::ZeroCopy,
}

impl std::fmt::Debug for Completions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Completions")
            .field("send_capacity", &self.send_capacity)
            .field("socket_buffers", &self.socket_buffers)
            .finish_non_exhaustive()
    }
}

/// Everything behind the lock.
struct Driver {
    slots: Slab,
    bufs: BufRing,
    /// Receives stopped by `ENOBUFS`, re-armed as buffers come back (oldest first).
    starved: VecDeque<Key>,
    /// Paused receives holding buffers beyond their front one, spilled (oldest first)
    /// if others starve.
    overfull: VecDeque<Key>,
    counters: Counters,
    /// [`Completions::shutdown`] ran: nothing is submitted any more.
    shut_down: bool,
    /// Wakers of handles whose operation failed on behalf of someone else (a starved
    /// receive that could not be re-armed, the shutdown), woken once the lock is
    /// released ([`Completions::unlock`]). Empty, and so unallocated, in steady state.
    deferred: Vec<Waker>,
    /// Orphaned or shut-down operations whose cancellation could not be queued (or
    /// came back `EALREADY`): retried on every [`Completions::complete_all`], since a
    /// multishot accept or receive never ends on its own.
    cancel_pending: VecDeque<Key>,
    /// Re-arms and resends the host refused for a moment (a submission queue that
    /// stays full): retried on every [`Completions::complete_all`] and
    /// [`Completions::retry_pending`], rather than ending the stream or listener.
    rearm_pending: VecDeque<Key>,
    /// Sends of dropped writers still delivering, oldest first.
    lingering: VecDeque<Lingering>,
    /// Unsent bytes of `lingering` when their writers dropped (an upper bound).
    lingering_bytes: usize,
    /// Operations in the kernel when the ring dropped a completion
    /// ([`Completions::completions_lost`]) whose final CQE has not come since: for
    /// these only, a cancellation that finds nothing names an operation whose final
    /// CQE was the lost one. Empty (unallocated) but after a loss.
    suspects: Vec<Key>,
    /// The starved receive `rearm_starved` re-armed last, and [`BufRing::puts`] then.
    starved_rearm: Option<(Key, u32)>,
    /// `BufRing::puts` when that receive found the ring empty anyway while
    /// `available() > 0` with no buffer back since: a buffer CQE the kernel dropped
    /// left the count too high, and it is not trusted until a buffer goes back.
    count_doubted_at: Option<u32>,
    /// How long a dropped writer's send may linger.
    linger: Duration,
    /// Unsent bytes all lingering sends together may hold.
    linger_budget: usize,
    /// Write-behind blocks of sockets whose sends drained, for the next socket that
    /// needs one (idle sockets hold none; steady state allocates none).
    send_blocks: send::BlockPool,
}

/// A dropped writer's send still delivering.
struct Lingering {
    key: Key,
    deadline: Instant,
    bytes: usize,
}

/// Default of [`Completions::set_linger`]'s time.
const LINGER: Duration = Duration::from_secs(30);
/// Default of [`Completions::set_linger`]'s budget.
const LINGER_BUDGET: usize = 16 << 20;

/// The errno stored when an operation ended because the layer shut down (outside the
/// errno range); [`to_error`] turns it into the driver's "context gone" error.
const GONE: i32 = i32::MAX;

/// The errno stored when a stream's state became unknown because the ring dropped a
/// completion ([`Completions::completions_lost`]; outside the errno range).
const LOST: i32 = i32::MAX - 1;

/// The error for a stored errno.
fn to_error(errno: i32) -> io::Error {
    match errno {
        GONE => crate::scheduled_io::context_gone(),
        LOST => io::Error::other(
            "io_uring dropped a completion (the kernel was out of memory): \
             what this operation sent or received is unknown",
        ),
        _ => io::Error::from_raw_os_error(errno),
    }
}

/// Counts a finished read or write as inline or waited; `waited` is the stream's flag
/// set when it returned `Pending`.
fn count_ready(waited: &mut bool, inline: &mut u64, after_wait: &mut u64) {
    if std::mem::take(waited) {
        *after_wait += 1;
    } else {
        *inline += 1;
    }
}

thread_local! {
    /// The wakers a [`Completions::complete_all`] collects, kept between drains so
    /// steady state allocates none (taken while in use: a wake that drains again on
    /// this thread finds it empty and makes its own).
    static WAKES: std::cell::Cell<Vec<Waker>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Wakers to wake once the layer's lock is released: woken when dropped (on an unwind
/// too, so no task waits for a CQE that was handled), then given back to [`WAKES`].
struct Wakes(Vec<Waker>);

impl Wakes {
    fn take() -> Self {
        Self(WAKES.take())
    }
}

impl Drop for Wakes {
    fn drop(&mut self) {
        for waker in self.0.drain(..) {
            waker.wake();
        }
        let kept = std::mem::take(&mut self.0);
        // Whichever is larger stays (a nested drain on this thread put its own back).
        let _ = WAKES.try_with(|wakes| {
            let other = wakes.take();
            wakes.set(if other.capacity() > kept.capacity() {
                other
            } else {
                kept
            });
        });
    }
}

/// What a slot wants after its operation's final CQE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Next {
    /// Nothing more (or the handle decides later).
    Done,
    /// Submit the slot's operation again.
    Resubmit,
    /// Re-arm when a buffer returns to the ring.
    Starved,
    /// Cancel the multishot still in flight (the socket holds its share of buffers).
    Pause,
}

impl Completions {
    /// Maps and registers the buffer ring through `submitter`; SQEs go to `submit`.
    pub(crate) fn new(
        submitter: &Submitter<'_>,
        submit: Arc<dyn Submit + Send + Sync>,
        config: Config,
    ) -> io::Result<Arc<Self>> {
        let bufs = BufRing::new(submitter, config.buf_entries, config.buf_size, config.bgid)?;
        Ok(Arc::new(Self {
            driver: Mutex::new(Driver {
                slots: Slab::default(),
                bufs,
                starved: VecDeque::new(),
                overfull: VecDeque::new(),
                counters: Counters::default(),
                shut_down: false,
                deferred: Vec::new(),
                cancel_pending: VecDeque::new(),
                rearm_pending: VecDeque::new(),
                lingering: VecDeque::new(),
                suspects: Vec::new(),
                starved_rearm: None,
                count_doubted_at: None,
                lingering_bytes: 0,
                linger: LINGER,
                linger_budget: LINGER_BUDGET,
                send_blocks: send::BlockPool::default(),
            }),
            submit,
            send_capacity: config.send_capacity,
            socket_buffers: config.socket_buffers.max(1),
            accept_queue: config.accept_queue.max(1),
            sends_direct: Default::default(),
            zero_copy: Default::default(),
        }))
    }

    fn lock(&self) -> MutexGuard<'_, Driver> {
        self.driver.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Releases the lock, then wakes the handles deferred while it was held.
    fn unlock(&self, mut guard: MutexGuard<'_, Driver>) {
        let deferred = std::mem::take(&mut guard.deferred);
        drop(guard);
        for waker in deferred {
            waker.wake();
        }
    }

    /// Handles one CQE whose user_data kind is `0b1x`.
    pub(crate) fn complete(&self, user_data: u64, result: i32, flags: u32) {
        self.complete_all(&mut std::iter::once((user_data, result, flags)));
    }

    /// Handles CQEs whose user_data kind is `0b1x`, `(user_data, result, flags)` in the
    /// order the kernel posted them (a drain's worth): the lock is taken once, and the
    /// tasks they wake are woken once the lock is released, each once (a slot's
    /// waker is taken by the first CQE that wakes it). Pulled one at a time, so what
    /// is not pulled when a CQE's handling panics stays with the caller.
    pub(crate) fn complete_all(&self, cqes: &mut dyn Iterator<Item = (u64, i32, u32)>) {
        let mut wakes = Wakes::take();
        let mut driver = self.lock();
        for (user_data, result, flags) in cqes {
            let (kind, index, generation) = decode_user_data(user_data);
            let key = Key { index, generation };
            let waker = match kind {
                KIND_OP => driver.on_op_cqe(&*self.submit, key, result, flags),
                // A cancellation's own CQE: its target reports, unless it could not be
                // canceled just now.
                KIND_INTERNAL => driver.on_cancel_cqe(&*self.submit, key, result),
                _ => {
                    driver.counters.anomalies += 1;
                    None
                }
            };
            if let Some(waker) = waker {
                wakes.0.push(waker);
            }
        }
        if !driver.cancel_pending.is_empty() {
            driver.retry_cancels(&*self.submit);
        }
        if !driver.rearm_pending.is_empty() {
            driver.retry_rearms(&*self.submit);
        }
        if !driver.lingering.is_empty() {
            driver.expire_lingering(&*self.submit, Instant::now());
        }
        self.unlock(driver);
        drop(wakes);
    }

    /// The host's ring dropped a completion (`EBADR`: the kernel had no memory for its
    /// overflow list) and cannot say whose. A stream whose receive or send was in the
    /// kernel may have lost bytes, or cannot know what was sent: it fails (after the
    /// data queued before) with an error that says so. Every operation in flight is
    /// canceled, so each ends with a CQE; one whose final CQE was the lost one is
    /// found by its cancellation coming back `ENOENT` while the operation still
    /// counts as in the kernel, and ends there (its memory is the layer's again: the
    /// kernel no longer knows it); an accept is re-armed, anything else fails.
    pub(crate) fn completions_lost(&self) {
        let mut guard = self.lock();
        let driver = &mut *guard;
        for index in 0..driver.slots.capacity() {
            let Some(slot) = driver.slots.at(index) else {
                continue;
            };
            if !slot.phase.in_kernel() {
                continue;
            }
            match &mut slot.body {
                Body::Recv(recv) => recv.fail(LOST),
                Body::Send(send) => send.fail(LOST),
                _ => {}
            }
            if let Some(waker) = slot.waker.take() {
                driver.deferred.push(waker);
            }
            // Canceled ones too: if the lost CQE was their final one, only another
            // cancellation's `ENOENT` can end them.
            if slot.phase.in_kernel() {
                let key = Key {
                    index: index as u32,
                    generation: slot.generation,
                };
                if !driver.suspects.contains(&key) {
                    driver.suspects.push(key);
                }
                cancel(
                    &*self.submit,
                    key,
                    slot,
                    &mut driver.counters,
                    &mut driver.cancel_pending,
                );
            }
        }
        self.unlock(guard);
    }

    /// Bounds what dropped writers leave behind: a send still undelivered `limit`
    /// after its writer dropped is canceled (its bytes are lost, its descriptor
    /// released), and so are the oldest lingering sends whenever all of them together
    /// held more than `budget` unsent bytes when their writers dropped (a send larger
    /// than `budget` does not linger at all). Defaults: 30 s, 16 MiB.
    pub(crate) fn set_linger(&self, limit: Duration, budget: usize) {
        let mut driver = self.lock();
        driver.linger = limit;
        driver.linger_budget = budget;
    }

    /// Cancels the lingering sends past their deadline and returns the next deadline,
    /// if any: a host whose ring may stay quiet calls it when that deadline passes
    /// (every CQE checks too).
    pub(crate) fn expire_lingering(&self) -> Option<Instant> {
        let mut driver = self.lock();
        driver.expire_lingering(&*self.submit, Instant::now());
        let next = driver.lingering.front().map(|l| l.deadline);
        self.unlock(driver);
        next
    }

    /// Queues the cancellations, re-arms and resends the host refused before: a host
    /// calls it once its submission queue has room again (`complete` does too).
    pub(crate) fn retry_pending(&self) {
        let mut driver = self.lock();
        if !driver.cancel_pending.is_empty() {
            driver.retry_cancels(&*self.submit);
        }
        if !driver.rearm_pending.is_empty() {
            driver.retry_rearms(&*self.submit);
        }
        self.unlock(driver);
    }

    /// Operations the kernel still holds (in flight, or canceled and not yet ended).
    pub(crate) fn in_kernel(&self) -> usize {
        self.lock().slots.in_kernel()
    }

    /// Takes the waker stored by slot `key`'s handle, if any (for a `cancel` that
    /// wakes it).
    pub(crate) fn take_waker(&self, key: Key) -> Option<Waker> {
        self.lock()
            .slots
            .get_mut(key)
            .and_then(|slot| slot.waker.take())
    }

    /// The counters so far.
    pub(crate) fn counters(&self) -> Counters {
        let mut counters = self.lock().counters;
        counters.sends_direct = self.sends_direct.load(std::sync::atomic::Ordering::Relaxed);
        counters
    }

    /// Bytes of drained write-behind blocks kept for reuse.
    #[cfg(test)]
    pub(crate) fn pooled_send_bytes(&self) -> usize {
        self.lock().send_blocks.bytes()
    }

    /// Slots allocated (handles alive plus orphans awaiting their final CQE).
    pub(crate) fn slots_in_use(&self) -> usize {
        self.lock().slots.in_use()
    }

    /// The slab's high-water mark.
    pub(crate) fn slot_capacity(&self) -> usize {
        self.lock().slots.capacity()
    }

    /// Buffers currently in the ring (not held by any receive queue).
    pub(crate) fn buffers_available(&self) -> usize {
        self.lock().bufs.available()
    }

    /// Buffers in the ring in total.
    pub(crate) fn buffer_entries(&self) -> usize {
        usize::from(self.lock().bufs.entries())
    }

    /// Unregisters the buffer ring (teardown, with no receive in flight). Without it,
    /// dropping the last `Completions` asks [`Submit::unregister_buf_ring`], and leaks
    /// the buffer mappings if the host cannot.
    pub(crate) fn unregister(&self, submitter: &Submitter<'_>) -> io::Result<()> {
        self.lock().bufs.unregister(submitter)
    }

    /// Shuts the layer down: cancels every operation in flight (lingering sends too)
    /// and refuses new ones. Operations of live handles end with the driver's "context
    /// gone" error: those in the kernel when their final CQE arrives, the others (a
    /// receive starved or paused, an idle accept or send) at once, and their handles'
    /// wakers are woken. Orphaned slots are freed as their final CQEs arrive, so the
    /// host drains the ring until [`slots_in_use`](Self::slots_in_use) counts only live
    /// handles before it closes the ring.
    pub(crate) fn shutdown(&self) {
        let mut guard = self.lock();
        let driver = &mut *guard;
        driver.shut_down = true;
        for index in 0..driver.slots.capacity() {
            let Some(slot) = driver.slots.at(index) else {
                continue;
            };
            if !slot.phase.in_kernel() {
                // Nothing of the kernel's will end it: end it here, wake its reader.
                match &mut slot.body {
                    Body::Recv(recv) => recv.fail(GONE),
                    Body::Accept(accept) => accept.fail(GONE),
                    Body::Send(send) => send.fail(GONE),
                    Body::Oneshot(..) | Body::Vacant(_) => continue,
                }
                if let Some(waker) = slot.waker.take() {
                    driver.deferred.push(waker);
                }
                continue;
            }
            if slot.phase != Phase::InFlight {
                continue;
            }
            let target = Key {
                index: index as u32,
                generation: slot.generation,
            };
            cancel(
                &*self.submit,
                target,
                slot,
                &mut driver.counters,
                &mut driver.cancel_pending,
            );
        }
        self.unlock(guard);
    }

    fn submit_oneshot(
        &self,
        entry: squeue::Entry,
        fd: Option<Arc<std::os::fd::OwnedFd>>,
        keep: Keep,
    ) -> io::Result<Key> {
        let mut driver = self.lock();
        if driver.shut_down {
            return Err(to_error(GONE));
        }
        let key = driver.slots.insert(Body::Oneshot(keep, entry), fd);
        let Some(Body::Oneshot(_, kept)) = driver.slots.get_mut(key).map(|s| &mut s.body) else {
            unreachable!("just inserted")
        };
        *kept = kept.clone().user_data(key.user_data());
        let entry = kept.clone();
        // SAFETY: the caller (`Op::submit`) guarantees the entry points only into the
        // kept resource and the descriptor, both moved into the slot just inserted,
        // which holds them until the final CQE.
        if let Err(e) = unsafe { self.submit.push(entry) } {
            driver.slots.remove(key);
            return Err(e);
        }
        driver.slots.get_mut(key).expect("just inserted").phase = Phase::InFlight;
        Ok(key)
    }

    fn poll_oneshot(&self, key: Key, cx: &mut Context<'_>) -> Poll<(i32, u32, Keep)> {
        let mut driver = self.lock();
        let slot = driver
            .slots
            .get_mut(key)
            .expect("an Op's slot lives until it completes");
        match slot.phase {
            Phase::Completed { result, flags } => {
                let Body::Oneshot(keep, _) = driver.slots.remove(key) else {
                    unreachable!("an Op's slot holds a one-shot body")
                };
                Poll::Ready((result, flags, keep))
            }
            _ => {
                slot.set_waker(cx.waker());
                Poll::Pending
            }
        }
    }

    /// Inserts a multishot/stream slot for `fd` and submits its first operation.
    fn open(&self, body: Body, fd: Arc<std::os::fd::OwnedFd>, arm: bool) -> io::Result<Key> {
        let mut driver = self.lock();
        let key = driver.slots.insert(body, Some(fd));
        if arm {
            if let Err(e) = driver.submit_again(&*self.submit, key) {
                driver.free(key);
                return Err(e);
            }
        }
        Ok(key)
    }

    /// The handle of slot `key` is gone: free it now, or orphan it until its final CQE
    /// (cancelling its operation, except a send that still has bytes to deliver).
    fn release(&self, key: Key) {
        let mut guard = self.lock();
        let driver = &mut *guard;
        let in_kernel = match driver.slots.get_mut(key) {
            Some(slot) => {
                slot.waker = None;
                // A refused resend still has bytes to deliver: it lingers too.
                slot.phase.in_kernel() || driver.rearm_pending.contains(&key)
            }
            None => return,
        };
        if !in_kernel {
            driver.free(key);
            driver.rearm_starved(&*self.submit);
            self.unlock(guard);
            return;
        }
        let slot = driver.slots.get_mut(key).expect("checked above");
        slot.orphaned = true;
        match &mut slot.body {
            Body::Send(send) if !send.failed() => {
                // Lingers until delivered, within the linger bounds.
                let bytes = send.unsent();
                driver.linger(&*self.submit, key, bytes);
                self.unlock(guard);
                return;
            }
            Body::Recv(recv) => recv.return_all(&mut driver.bufs, &mut driver.counters),
            Body::Accept(accept) => accept.close_queued(),
            _ => {}
        }
        if slot.phase == Phase::InFlight {
            // A cancel that cannot be queued now is retried on every CQE.
            cancel(
                &*self.submit,
                key,
                slot,
                &mut driver.counters,
                &mut driver.cancel_pending,
            );
        }
        driver.rearm_starved(&*self.submit);
        self.unlock(guard);
    }
}

impl Driver {
    fn on_op_cqe(
        &mut self,
        submit: &dyn Submit,
        key: Key,
        result: i32,
        flags: u32,
    ) -> Option<Waker> {
        self.counters.completions += 1;
        // Cancelled by the shutdown: report the context gone, not a cancellation.
        let result = if self.shut_down && result == -libc::ECANCELED {
            -GONE
        } else {
            result
        };
        if !self.suspects.is_empty() && !cqueue::more(flags) {
            self.suspects.retain(|&k| k != key); // its final CQE was not the lost one
        }
        let Some(slot) = self.slots.get_mut(key) else {
            // Slots outlive their final CQE, so this does not happen. A buffer it names
            // goes back to the ring only if it really left it: one already held belongs
            // to a live queue (maybe lent to a reader) and is not this CQE's to return.
            self.counters.anomalies += 1;
            if let Some(bid) = cqueue::buffer_select(flags) {
                if self.bufs.take(bid).is_ok() {
                    let _ = self.bufs.put(bid);
                }
            }
            return None;
        };
        let more = cqueue::more(flags);
        let orphaned = slot.orphaned;
        let next = match &mut slot.body {
            Body::Oneshot(_, entry) => {
                if !more && result == -libc::ECANCELED && slot.phase == Phase::InFlight && !orphaned
                {
                    // Not ours (our cancels mark the slot `Canceled`, a shutdown's
                    // reads as `GONE`): the thread whose `io_uring_enter` submitted it
                    // exited, and the kernel ended it at its first event without doing
                    // it. The same operation goes again.
                    // SAFETY: as in `submit_oneshot`: the entry points into the slot's
                    // kept resource and descriptor, held until the final CQE (now the
                    // resubmission's).
                    if unsafe { submit.push(entry.clone()) }.is_ok() {
                        self.counters.rearms += 1;
                        return None;
                    }
                }
                if !more {
                    slot.phase = Phase::Completed { result, flags };
                }
                Next::Done
            }
            Body::Recv(recv) => {
                recv.on_cqe(result, flags, orphaned, &mut self.bufs, &mut self.counters)
            }
            Body::Send(send) => {
                let next = send.on_cqe(result, flags, orphaned, &mut self.counters);
                if next == Next::Done {
                    send.release_block(&mut self.send_blocks);
                }
                next
            }
            Body::Accept(accept) => accept.on_cqe(result, flags, orphaned, &mut self.counters),
            Body::Vacant(_) => unreachable!("get_mut skips vacant slots"),
        };
        let waker = slot.waker.take();
        if next == Next::Pause && more && slot.phase == Phase::InFlight {
            // Without the cancel the receive just goes on past the socket's share.
            // SAFETY: a cancellation points at no memory (its target is a user_data).
            if unsafe { submit.push(cancel_entry(key)) }.is_ok() {
                slot.phase = Phase::Canceled;
            } else {
                match &mut slot.body {
                    Body::Recv(recv) => recv.pause_failed(),
                    Body::Accept(accept) => accept.pause_failed(),
                    _ => {}
                }
            }
        }
        // A send's `F_MORE` (SEND_ZC) announces only its notification, which no
        // cancel stops.
        let multishot = !matches!(slot.body, Body::Send(_));
        if more && multishot && slot.phase == Phase::InFlight && (orphaned || self.shut_down) {
            // An abandoned multishot still running: its cancel was not queued, or came
            // back EALREADY. Ask again (or keep it pending).
            cancel(
                submit,
                key,
                slot,
                &mut self.counters,
                &mut self.cancel_pending,
            );
        }
        if more {
            self.rearm_starved(submit);
            return waker;
        }
        self.counters.finished += 1;
        if let Phase::Completed { .. } = slot.phase {
            if orphaned {
                self.free(key);
            }
            return waker;
        }
        slot.phase = Phase::Idle;
        if matches!(&slot.body, Body::Recv(recv) if recv.spillable()) && !orphaned {
            self.overfull.push_back(key);
        }
        match next {
            Next::Resubmit => {
                self.counters.rearms += 1;
                // A failed submission is recorded in the body; its handle reports it.
                let _ = self.submit_again(submit, key);
            }
            Next::Starved => {
                // Its CQEs come after those of the buffers taken before it: with none
                // put back since its re-arm, the ring really is empty (R21-7).
                let puts = self.bufs.puts();
                if self.starved_rearm == Some((key, puts)) && self.bufs.available() > 0 {
                    self.counters.anomalies += 1;
                    self.count_doubted_at = Some(puts);
                }
                self.starved.push_back(key);
            }
            Next::Done | Next::Pause => {}
        }
        if orphaned
            && self
                .slots
                .get_mut(key)
                .is_some_and(|s| !s.phase.in_kernel())
            && !self.rearm_pending.contains(&key)
        {
            self.free(key);
        }
        self.rearm_starved(submit);
        waker
    }

    /// Submits slot `key`'s operation (multishot receive or accept, or the next send).
    /// On failure the body records the error (its handle reports it) and it is returned.
    fn submit_again(&mut self, submit: &dyn Submit, key: Key) -> io::Result<()> {
        let bgid = self.bufs.bgid();
        let slot = self.slots.get_mut(key).expect("submitting a live slot");
        if self.shut_down {
            match &mut slot.body {
                Body::Recv(recv) => recv.fail(GONE),
                Body::Accept(accept) => accept.fail(GONE),
                Body::Send(send) => send.fail(GONE),
                _ => {}
            }
            return Err(to_error(GONE));
        }
        let fd = types::Fd(slot.raw_fd());
        let entry = match &mut slot.body {
            Body::Recv(recv) => recv.entry(fd, bgid),
            // Non-blocking like every socket of the driver: a stream syscalls it
            // directly (shutdown, options), and a user may take it out.
            Body::Accept(_) => opcode::AcceptMulti::new(fd)
                .flags(libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK)
                .build(),
            Body::Send(send) => send.entry(fd),
            Body::Oneshot(..) | Body::Vacant(_) => {
                unreachable!("one-shot operations are not resubmitted")
            }
        };
        // SAFETY: the entry points at the slot's descriptor (its `Arc<OwnedFd>`), the
        // provided-buffer ring (alive as long as `Completions`) or the slot's send
        // block, which does not move while the send is in flight; the slot outlives
        // the final CQE (orphaned slots are freed only after it).
        match unsafe { submit.push(entry.user_data(key.user_data())) } {
            Ok(()) => {
                slot.phase = Phase::InFlight;
                Ok(())
            }
            Err(e) if matches!(e.raw_os_error(), Some(libc::EBUSY | libc::EAGAIN)) => {
                // Refused for a moment (the submission queue stays full): retried
                // later, and the stream or listener goes on (R21-4).
                if let Body::Send(send) = &mut slot.body {
                    send.not_submitted();
                }
                if !self.rearm_pending.contains(&key) {
                    self.rearm_pending.push_back(key);
                }
                Ok(())
            }
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(libc::EIO);
                match &mut slot.body {
                    Body::Recv(recv) => recv.fail(errno),
                    Body::Accept(accept) => accept.fail(errno),
                    Body::Send(send) => {
                        send.not_submitted();
                        send.fail(errno);
                    }
                    _ => {}
                }
                Err(e)
            }
        }
    }

    /// Frees slot `key` (the kernel is done with it), returning any buffers it held.
    fn free(&mut self, key: Key) {
        match self.slots.remove(key) {
            Body::Recv(mut recv) => recv.return_all(&mut self.bufs, &mut self.counters),
            Body::Send(_) if !self.lingering.is_empty() => {
                if let Some(i) = self.lingering.iter().position(|l| l.key == key) {
                    let done = self.lingering.remove(i).expect("found");
                    self.lingering_bytes -= done.bytes;
                }
            }
            _ => {}
        }
    }

    /// Slot `key`'s writer dropped with `bytes` unsent (its send in flight): it
    /// lingers, unless that exceeds the budget; older lingering sends make room.
    fn linger(&mut self, submit: &dyn Submit, key: Key, bytes: usize) {
        let now = Instant::now();
        self.expire_lingering(submit, now);
        while self.lingering_bytes + bytes > self.linger_budget {
            let Some(oldest) = self.lingering.pop_front() else {
                break;
            };
            self.lingering_bytes -= oldest.bytes;
            self.abandon_send(submit, oldest.key);
        }
        if bytes > self.linger_budget {
            self.abandon_send(submit, key);
            return;
        }
        self.lingering_bytes += bytes;
        self.lingering.push_back(Lingering {
            key,
            deadline: now + self.linger,
            bytes,
        });
    }

    /// Cancels the lingering sends whose deadline passed (oldest first: they were
    /// all given the same time).
    fn expire_lingering(&mut self, submit: &dyn Submit, now: Instant) {
        while self.lingering.front().is_some_and(|l| l.deadline <= now) {
            let expired = self.lingering.pop_front().expect("checked");
            self.lingering_bytes -= expired.bytes;
            self.abandon_send(submit, expired.key);
        }
    }

    /// Gives up a dropped writer's send: it sends nothing more, and its operation is
    /// canceled; the slot (and the descriptor) go with its final CQE.
    fn abandon_send(&mut self, submit: &dyn Submit, key: Key) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let Body::Send(send) = &mut slot.body else {
            return;
        };
        send.fail(libc::ECANCELED);
        self.counters.lingers_canceled += 1;
        if slot.phase == Phase::InFlight {
            cancel(
                submit,
                key,
                slot,
                &mut self.counters,
                &mut self.cancel_pending,
            );
        }
    }

    /// Re-arms one starved receive per buffer back in the ring.
    /// Parks receive `key` (see `recv`'s direct reads): cancels its multishot. Left
    /// as it is if the cancel cannot be queued.
    fn park(&mut self, submit: &dyn Submit, key: Key) {
        let Some(slot) = self.slots.get_mut(key) else {
            return;
        };
        let Body::Recv(recv) = &mut slot.body else {
            return;
        };
        if slot.phase != Phase::InFlight {
            return;
        }
        // SAFETY: a cancellation points at no memory (its target is a user_data).
        if unsafe { submit.push(cancel_entry(key)) }.is_ok() {
            recv.park();
            slot.phase = Phase::Canceled;
            self.counters.parks += 1;
        }
    }

    fn rearm_starved(&mut self, submit: &dyn Submit) {
        if self.starved.is_empty() {
            // Nothing to re-arm, and `relieve` only runs for starved receives.
            return;
        }
        let in_doubt = self.count_doubted_at == Some(self.bufs.puts());
        if (in_doubt || self.bufs.available() == 0) && self.starved_wanting() {
            self.relieve();
        }
        while self.bufs.available() > 0 && self.count_doubted_at != Some(self.bufs.puts()) {
            let Some(key) = self.starved.pop_front() else {
                return;
            };
            let wants = self.slots.get_mut(key).is_some_and(|slot| {
                slot.phase == Phase::Idle
                    && !slot.orphaned
                    && matches!(&slot.body, Body::Recv(recv) if recv.wants_data())
            });
            if wants {
                self.starved_rearm = Some((key, self.bufs.puts()));
                self.counters.rearms += 1;
                if self.submit_again(submit, key).is_err() {
                    // Recorded as the stream's end: its reader must hear of it.
                    if let Some(waker) = self.slots.get_mut(key).and_then(|s| s.waker.take()) {
                        self.deferred.push(waker);
                    }
                }
                return;
            }
        }
    }
}

/// The `IORING_OP_ASYNC_CANCEL` aimed at slot `key`.
fn cancel_entry(key: Key) -> squeue::Entry {
    opcode::AsyncCancel::new(key.user_data())
        .build()
        .user_data(internal_user_data(key.index, key.generation))
}

/// Asks the kernel to cancel slot `key`'s operation (in flight); when the cancel
/// cannot be queued now, `key` waits in `pending` for the next CQE to retry it.
fn cancel(
    submit: &dyn Submit,
    key: Key,
    slot: &mut ops::Slot,
    counters: &mut Counters,
    pending: &mut VecDeque<Key>,
) {
    // SAFETY: a cancellation points at no memory (its target is a user_data).
    if unsafe { submit.push(cancel_entry(key)) }.is_ok() {
        slot.phase = Phase::Canceled;
        counters.canceled += 1;
    } else if !pending.contains(&key) {
        pending.push_back(key);
    }
}

impl Driver {
    /// A cancellation's CQE. `EALREADY`: the operation could not be stopped just now
    /// and, if multishot, may go on for ever, so an abandoned one is asked again (a
    /// pause gives up, like a pause whose cancel could not be queued).
    fn on_cancel_cqe(&mut self, submit: &dyn Submit, target: Key, result: i32) -> Option<Waker> {
        if result == -libc::ENOENT && self.suspects.contains(&target) {
            // Not in the kernel, yet no final CQE came before this one (the kernel
            // posts it before a cancellation that finds nothing): it was the one lost.
            let slot = self.slots.get_mut(target)?;
            if !slot.phase.in_kernel() {
                return None;
            }
            let errno = match slot.body {
                Body::Accept(_) => libc::ECANCELED, // re-armed
                _ => LOST,
            };
            return self.on_op_cqe(submit, target, -errno, 0);
        }
        if result != -libc::EALREADY {
            return None; // canceled (the target's final CQE reports) or already finished
        }
        let shut_down = self.shut_down;
        let slot = self.slots.get_mut(target)?;
        if slot.phase != Phase::Canceled {
            return None;
        }
        if matches!(slot.body, Body::Oneshot(..)) {
            return None; // a one-shot (a file read in the kernel's workers) ends on its own
        }
        slot.phase = Phase::InFlight;
        if slot.orphaned || shut_down {
            if !self.cancel_pending.contains(&target) {
                self.cancel_pending.push_back(target);
            }
        } else {
            match &mut slot.body {
                Body::Recv(recv) => recv.pause_failed(),
                Body::Accept(accept) => accept.pause_failed(),
                _ => {}
            }
        }
        None
    }

    /// Submits again the re-arms and resends the host refused, oldest first, until it
    /// refuses one; drops those no longer wanted (freeing an orphan's slot).
    fn retry_rearms(&mut self, submit: &dyn Submit) {
        while let Some(key) = self.rearm_pending.pop_front() {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            let orphaned = slot.orphaned;
            let wanted = slot.phase == Phase::Idle
                && match &slot.body {
                    Body::Recv(recv) => !orphaned && recv.wants_data(),
                    Body::Accept(accept) => !orphaned && accept.wants_connections(),
                    Body::Send(send) => !send.failed() && send.unsent() > 0,
                    _ => false,
                };
            if wanted {
                if self.submit_again(submit, key).is_err() {
                    // Failed for good: recorded in the body, its handle must hear.
                    if let Some(waker) = self.slots.get_mut(key).and_then(|s| s.waker.take()) {
                        self.deferred.push(waker);
                    }
                } else if self.rearm_pending.contains(&key) {
                    return; // refused again
                }
            }
            if orphaned
                && self
                    .slots
                    .get_mut(key)
                    .is_some_and(|s| !s.phase.in_kernel())
            {
                self.free(key);
            }
        }
    }

    /// Queues the cancellations that could not be queued before, oldest first, until
    /// the host refuses one.
    fn retry_cancels(&mut self, submit: &dyn Submit) {
        let shut_down = self.shut_down;
        while let Some(&key) = self.cancel_pending.front() {
            let Some(slot) = self.slots.get_mut(key) else {
                self.cancel_pending.pop_front();
                continue;
            };
            let suspect = slot.phase.in_kernel() && self.suspects.contains(&key);
            if !suspect && (slot.phase != Phase::InFlight || !(slot.orphaned || shut_down)) {
                self.cancel_pending.pop_front();
                continue;
            }
            // SAFETY: a cancellation points at no memory (its target is a user_data).
            if unsafe { submit.push(cancel_entry(key)) }.is_err() {
                return;
            }
            slot.phase = Phase::Canceled;
            self.counters.canceled += 1;
            self.cancel_pending.pop_front();
        }
    }

    /// Some starved receive still wants data (not paused, not ended): only then is
    /// spilling a paused socket worth its copy.
    fn starved_wanting(&mut self) -> bool {
        let slots = &mut self.slots;
        self.starved.iter().any(|&key| {
            slots.get_mut(key).is_some_and(|slot| {
                !slot.orphaned && matches!(&slot.body, Body::Recv(recv) if recv.wants_data())
            })
        })
    }

    /// The ring is empty and receives starve: spills one paused socket down to its
    /// front buffer, so readers that do not read cannot stall the others.
    fn relieve(&mut self) {
        while let Some(key) = self.overfull.pop_front() {
            let Some(slot) = self.slots.get_mut(key) else {
                continue;
            };
            if slot.phase != Phase::Idle || slot.orphaned {
                continue;
            }
            if let Body::Recv(recv) = &mut slot.body {
                if recv.spill_excess(&mut self.bufs) {
                    self.counters.spills += 1;
                    return;
                }
            }
        }
    }
}

impl Drop for Completions {
    fn drop(&mut self) {
        let driver = self
            .driver
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner);
        if driver.slots.in_kernel() > 0 {
            // Operations the kernel may still complete: leak their buffers, descriptors
            // and the buffer ring rather than free memory it can write.
            driver.bufs.leak_on_drop();
            std::mem::forget(std::mem::take(&mut driver.slots));
        } else if driver.bufs.is_registered() {
            // Unmapped only once the group is gone (else `BufRing` leaks it).
            if let Some(Ok(())) = self.submit.unregister_buf_ring(driver.bufs.bgid()) {
                driver.bufs.unregistered();
            }
        }
    }
}
