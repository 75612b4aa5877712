//! Operation slots: one per kernel operation (or per multishot stream of CQEs), in a
//! slab that recycles them without allocating once it reached its high-water mark.
//!
//! A slot owns everything the kernel may touch for its operation — the descriptor
//! (`Arc<OwnedFd>`), the data buffer, the address storage — until the operation's
//! *final* CQE (one without `IORING_CQE_F_MORE`). The handle that created it (an
//! [`Op`] future, a receive queue, a send buffer, an acceptor) may go away earlier: it
//! then marks the slot *orphaned* and, if the operation is in flight, asks the kernel
//! to cancel it (`IORING_OP_ASYNC_CANCEL`); the slot, and so the memory and the
//! descriptor, are released only when the final CQE arrives.

use std::future::Future;
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use io_uring::squeue::Entry;

use super::accept::AcceptState;
use super::recv::RecvState;
use super::send::SendState;
use super::{op_user_data, Completions, GENERATION_MASK};

/// Where a slot is in its operation's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// Allocated, no operation in the kernel.
    Idle,
    /// Submitted; more CQEs will come.
    InFlight,
    /// A cancellation was requested; the operation's final CQE is still to come.
    Canceled,
    /// A one-shot operation's final CQE arrived and waits for its future.
    Completed {
        /// The CQE's result (`-errno` on failure).
        result: i32,
        /// The CQE's flags.
        flags: u32,
    },
}

impl Phase {
    /// The kernel may still post CQEs for this slot (and touch what it owns).
    pub(crate) fn in_kernel(self) -> bool {
        matches!(self, Phase::InFlight | Phase::Canceled)
    }
}

/// Memory a one-shot operation lends the kernel; the slot holds it until the final CQE.
#[derive(Debug, Default)]
pub(crate) enum Keep {
    /// Nothing beyond the descriptor.
    #[default]
    None,
    /// A data buffer (its heap block does not move when the `Vec` does).
    Buf(Vec<u8>),
    /// Socket address storage (connect, sendto).
    Addr(Box<libc::sockaddr_storage>),
    /// Any other heap block (a datagram's message header, address and data).
    Boxed(Box<dyn std::any::Any + Send>),
}

/// A value a one-shot operation lends the kernel and gets back with its result.
///
/// Only heap-backed types implement it: the SQE is built from pointers into the value
/// before it moves into its slot, which must not change those pointers.
pub(crate) trait Resource: Sized {
    /// Moves the value into the slot's storage.
    fn into_keep(self) -> Keep;
    /// Takes it back (the slot stored what `into_keep` gave).
    fn from_keep(keep: Keep) -> Self;
}

impl Resource for () {
    fn into_keep(self) -> Keep {
        Keep::None
    }
    fn from_keep(_: Keep) -> Self {}
}

impl Resource for Vec<u8> {
    fn into_keep(self) -> Keep {
        Keep::Buf(self)
    }
    fn from_keep(keep: Keep) -> Self {
        match keep {
            Keep::Buf(buf) => buf,
            other => unreachable!("slot kept {other:?}, not a buffer"),
        }
    }
}

impl Resource for Box<libc::sockaddr_storage> {
    fn into_keep(self) -> Keep {
        Keep::Addr(self)
    }
    fn from_keep(keep: Keep) -> Self {
        match keep {
            Keep::Addr(addr) => addr,
            other => unreachable!("slot kept {other:?}, not an address"),
        }
    }
}

/// What a slot is for.
pub(crate) enum Body {
    /// Free; the index of the next free slot.
    Vacant(Option<u32>),
    /// A one-shot operation behind an [`Op`] future: what it lends, and its SQE
    /// (user_data set), submitted again when the kernel ends it for no reason of ours
    /// (see `Driver::on_op_cqe`).
    Oneshot(Keep, Entry),
    /// A socket's multishot receive and its queue of received buffers.
    Recv(RecvState),
    /// A socket's write-behind buffer.
    Send(SendState),
    /// A listener's multishot accept and its queue of accepted descriptors.
    Accept(AcceptState),
}

/// One operation slot.
pub(crate) struct Slot {
    pub(crate) generation: u32,
    pub(crate) phase: Phase,
    /// The handle is gone: release the slot at the final CQE.
    pub(crate) orphaned: bool,
    pub(crate) waker: Option<Waker>,
    /// The descriptor the operation names, kept open until the final CQE.
    pub(crate) fd: Option<Arc<OwnedFd>>,
    pub(crate) body: Body,
}

impl Slot {
    /// Stores `waker` unless the stored one already wakes the same task.
    pub(crate) fn set_waker(&mut self, waker: &Waker) {
        match &mut self.waker {
            Some(w) if w.will_wake(waker) => {}
            slot => *slot = Some(waker.clone()),
        }
    }

    /// The raw descriptor for building SQEs (slots with a body always have one,
    /// except one-shot operations that name none).
    pub(crate) fn raw_fd(&self) -> i32 {
        self.fd.as_ref().map_or(-1, |fd| fd.as_raw_fd())
    }
}

/// A slot's index and generation; stale keys find nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Key {
    pub(crate) index: u32,
    pub(crate) generation: u32,
}

impl Key {
    /// The user_data of this slot's operations.
    pub(crate) fn user_data(self) -> u64 {
        op_user_data(self.index, self.generation)
    }
}

/// The slab of slots: grows to its high-water mark, never shrinks, recycles freed slots
/// (a freed slot's generation moves on, so late CQEs for it are recognised as stale).
/// Slots move when the slab grows, so nothing the kernel sees lives inline in a slot:
/// buffers, addresses and send blocks are separate heap blocks the slot owns.
#[derive(Default)]
pub(crate) struct Slab {
    slots: Vec<Slot>,
    free: Option<u32>,
    in_use: usize,
}

impl Slab {
    /// Takes a free slot (or grows) for `body` on `fd`, idle.
    pub(crate) fn insert(&mut self, body: Body, fd: Option<Arc<OwnedFd>>) -> Key {
        self.in_use += 1;
        if let Some(index) = self.free {
            let slot = &mut self.slots[index as usize];
            let Body::Vacant(next) = slot.body else {
                unreachable!("free list points at an occupied slot")
            };
            self.free = next;
            slot.phase = Phase::Idle;
            slot.orphaned = false;
            slot.fd = fd;
            slot.body = body;
            return Key {
                index,
                generation: slot.generation,
            };
        }
        let index = u32::try_from(self.slots.len()).expect("more than 2^32 slots");
        self.slots.push(Slot {
            generation: 0,
            phase: Phase::Idle,
            orphaned: false,
            waker: None,
            fd,
            body,
        });
        Key {
            index,
            generation: 0,
        }
    }

    /// The live slot `key` names.
    pub(crate) fn get_mut(&mut self, key: Key) -> Option<&mut Slot> {
        self.slots
            .get_mut(key.index as usize)
            .filter(|s| s.generation == key.generation && !matches!(s.body, Body::Vacant(_)))
    }

    /// Frees slot `key`, dropping what it owns (the caller made sure the kernel is done
    /// with it). Returns the body so the caller can give buffers back first.
    pub(crate) fn remove(&mut self, key: Key) -> Body {
        let slot = &mut self.slots[key.index as usize];
        debug_assert_eq!(slot.generation, key.generation);
        debug_assert!(
            !slot.phase.in_kernel(),
            "freeing a slot the kernel still uses"
        );
        slot.generation = (slot.generation + 1) & GENERATION_MASK;
        slot.waker = None;
        slot.fd = None;
        slot.phase = Phase::Idle;
        self.in_use -= 1;
        let body = std::mem::replace(&mut slot.body, Body::Vacant(self.free));
        self.free = Some(key.index);
        body
    }

    /// The live slot at `index`, whatever its generation.
    pub(crate) fn at(&mut self, index: usize) -> Option<&mut Slot> {
        self.slots
            .get_mut(index)
            .filter(|s| !matches!(s.body, Body::Vacant(_)))
    }

    /// Slots allocated (in any phase).
    pub(crate) fn in_use(&self) -> usize {
        self.in_use
    }

    /// Slots whose operation the kernel may still complete.
    pub(crate) fn in_kernel(&self) -> usize {
        self.slots.iter().filter(|s| s.phase.in_kernel()).count()
    }

    /// High-water mark (slots ever allocated at once).
    pub(crate) fn capacity(&self) -> usize {
        self.slots.len()
    }
}

/// A one-shot operation. Resolves to the CQE's result (`Err` for `-errno`) and the
/// lent [`Resource`] back. Dropping it before completion cancels the operation; the
/// resource and descriptor stay in the slot until the kernel is done with them.
#[must_use = "futures do nothing unless polled"]
pub(crate) struct Op<T: Resource> {
    completions: Arc<Completions>,
    key: Option<Key>,
    _lent: std::marker::PhantomData<fn() -> T>,
}

/// The outcome of a one-shot operation.
#[derive(Debug)]
pub(crate) struct Outcome<T> {
    /// The CQE's result: the non-negative value or the error.
    pub(crate) result: io::Result<u32>,
    /// The CQE's flags.
    pub(crate) flags: u32,
    /// What the operation borrowed.
    pub(crate) resource: T,
}

impl<T: Resource> Op<T> {
    /// Submits the entry `build` makes from the resource (pointers into its heap
    /// block) and the raw descriptor of `fd` (or -1). The SQE's user_data is set here.
    ///
    /// # Safety
    /// The entry may only reference memory owned by `resource` (heap blocks that do
    /// not move with it) and the descriptor `fd`, which the slot keeps alive until the
    /// final CQE; anything else it points to must outlive the operation.
    pub(crate) unsafe fn submit(
        completions: &Arc<Completions>,
        fd: Option<Arc<OwnedFd>>,
        mut resource: T,
        build: impl FnOnce(&mut T, i32) -> Entry,
    ) -> io::Result<Self> {
        let raw = fd.as_ref().map_or(-1, |fd| fd.as_raw_fd());
        let entry = build(&mut resource, raw);
        let key = completions.submit_oneshot(entry, fd, resource.into_keep())?;
        Ok(Self {
            completions: completions.clone(),
            key: Some(key),
            _lent: std::marker::PhantomData,
        })
    }
}

impl<T: Resource> Future for Op<T> {
    type Output = Outcome<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Outcome<T>> {
        let key = self.key.expect("Op polled after completion");
        match self.completions.poll_oneshot(key, cx) {
            Poll::Ready((result, flags, keep)) => {
                self.key = None;
                let result = if result < 0 {
                    Err(super::to_error(-result))
                } else {
                    Ok(result as u32)
                };
                Poll::Ready(Outcome {
                    result,
                    flags,
                    resource: T::from_keep(keep),
                })
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<T: Resource> Drop for Op<T> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.completions.release(key);
        }
    }
}
