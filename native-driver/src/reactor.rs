//! The reactor: descriptors registered once with the selector (a slab of their
//! [`ScheduledIo`]s, indexed by token) and the registrations that own them. Readiness
//! and the waiting tasks of one descriptor live in `scheduled_io`.

use std::io;
use std::os::fd::RawFd;
use std::sync::{Arc, Mutex};

pub use crate::scheduled_io::Interest;
pub(crate) use crate::scheduled_io::{context_gone, ScheduledIo};
use crate::sync::lock;
use crate::sys::Selector;

/// Registered descriptors: a slab indexed by token, with generations so a stale event
/// never reaches a reused slot.
#[derive(Debug)]
pub(crate) struct Reactor {
    pub(crate) selector: Selector,
    slots: Mutex<Slab>,
}

#[derive(Debug, Default)]
struct Slab {
    entries: Vec<(u32, Option<Arc<ScheduledIo>>)>,
    free: Vec<usize>,
    /// The context was dropped: nothing registers any more.
    shut_down: bool,
}

/// How long dropping a registration waits for the kernel to confirm its poll's
/// removal on io_uring (normally at once; `EALREADY` lasts until the poll's pending
/// wake-up has run).
const REMOVAL_WAIT: std::time::Duration = std::time::Duration::from_millis(50);

/// Generations wrap within 30 bits: a token is `generation << 32 | slot`, and its top
/// two bits stay 0 (the readiness kind of the io_uring user_data layout, `sys::uring`).
const GENERATION_MASK: u32 = (1 << 30) - 1;

impl Reactor {
    pub(crate) fn new(selector: Selector) -> Reactor {
        Reactor {
            selector,
            slots: Mutex::new(Slab::default()),
        }
    }

    /// Registers `fd`; the returned registration deregisters on drop.
    ///
    /// # Errors
    /// As the selector's registration, or the context-gone error after [`shut_down`](Self::shut_down).
    pub(crate) fn register(self: &Arc<Self>, fd: RawFd) -> io::Result<Registration> {
        let io = Arc::new(ScheduledIo::default());
        let token = {
            let mut slab = lock(&self.slots);
            if slab.shut_down {
                return Err(context_gone());
            }
            let index = match slab.free.pop() {
                Some(i) => i,
                None => {
                    slab.entries.push((0, None));
                    slab.entries.len() - 1
                }
            };
            let entry = &mut slab.entries[index];
            // Generation 0 is never used: the ring's wake entry has it.
            entry.0 = match entry.0.wrapping_add(1) & GENERATION_MASK {
                0 => 1,
                g => g,
            };
            entry.1 = Some(io.clone());
            (u64::from(entry.0) << 32) | index as u64
        };
        if let Err(e) = self.selector.register(fd, token) {
            self.release(token);
            return Err(e);
        }
        Ok(Registration {
            io,
            token,
            fd,
            reactor: self.clone(),
        })
    }

    fn release(&self, token: u64) {
        let mut slab = lock(&self.slots);
        let index = (token & 0xFFFF_FFFF) as usize;
        if let Some(entry) = slab.entries.get_mut(index) {
            if u64::from(entry.0) == token >> 32 && entry.1.is_some() {
                entry.1 = None;
                slab.free.push(index);
            }
        }
    }

    /// The context is being dropped: fails every registered descriptor's pending and
    /// later operations (waking their tasks) and refuses new registrations. The
    /// descriptors themselves belong to their sockets.
    pub(crate) fn shut_down(&self) {
        let registered: Vec<Arc<ScheduledIo>> = {
            let mut slab = lock(&self.slots);
            slab.shut_down = true;
            slab.entries.iter().filter_map(|e| e.1.clone()).collect()
        };
        for io in registered {
            io.shut_down();
        }
        // The completion layer's operations end with the context-gone error too.
        self.selector.shut_down();
    }

    /// io_uring: submits what is queued and handles the completions already there,
    /// without waiting. A dropped socket calls it after its operations' cancellations
    /// were queued, so its descriptor closes now (the slots hold it until their final
    /// CQE) rather than at the next turn of a context that may not run again. It never
    /// waits for a lock: when another thread drains (or this one is inside a dispatch)
    /// that one handles the completions. `false` when it could not drain.
    pub(crate) fn settle(&self) -> bool {
        let Selector::Uring(host) = &self.selector else {
            return true;
        };
        let mut ready = Vec::new();
        let drained = host.poll_now(&mut ready);
        for (token, bits) in ready {
            self.dispatch(token, bits);
        }
        drained
    }

    /// io_uring: returns once the kernel confirmed the removal of `token`'s poll (it
    /// holds the descriptor's file open until then; it may answer `EALREADY` for a
    /// moment, and the removal is retried by whichever drain sees that), driving the
    /// ring meanwhile, or after `REMOVAL_WAIT` at most (then the removal stays queued
    /// in the ring and the file closes a little later); at once inside the completion
    /// layer's dispatch on this thread, which no drain can pass meanwhile, and at once
    /// when another thread drains: the removal was submitted (`deregister`), so the
    /// kernel ends the poll without this thread, and a retry it may need is that
    /// drain's (the ring submits retried removals at once). Waiting for that drain
    /// cost a `sched_yield` per try: ~0.3 per closed connection on the two-runner
    /// close-every-10 http probe.
    fn await_removal(&self, token: u64) {
        let Selector::Uring(host) = &self.selector else {
            return;
        };
        if crate::sys::uring::dispatching_here() {
            // This thread holds the hand-over lock: nobody can drain the removal's
            // CQE until it returns, so waiting would only stall every runner.
            return;
        }
        let deadline = std::time::Instant::now() + REMOVAL_WAIT;
        while host.ring.removal_pending(token) {
            if std::time::Instant::now() >= deadline {
                log::debug!("io_uring: a poll removal is still unconfirmed; its file closes later");
                return;
            }
            if !self.settle() {
                // Another thread drains: the confirmation is its business.
                return;
            }
        }
    }

    /// Delivers one selector event.
    pub(crate) fn dispatch(&self, token: u64, bits: usize) {
        let io = {
            let slab = lock(&self.slots);
            let index = (token & 0xFFFF_FFFF) as usize;
            match slab.entries.get(index) {
                Some((generation, Some(io))) if u64::from(*generation) == token >> 32 => io.clone(),
                _ => return,
            }
        };
        io.set_readiness(bits);
    }
}

/// A descriptor registered with a reactor; deregisters on drop (the descriptor itself
/// is owned and closed by the I/O object, after this).
#[derive(Debug)]
pub(crate) struct Registration {
    pub(crate) io: Arc<ScheduledIo>,
    token: u64,
    fd: RawFd,
    reactor: Arc<Reactor>,
}

impl Registration {
    pub(crate) fn reactor(&self) -> &Arc<Reactor> {
        &self.reactor
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        if self
            .reactor
            .selector
            .deregister(self.fd, self.token)
            .is_ok()
        {
            // The descriptor closes after this: the kernel must be done with it.
            self.reactor.await_removal(self.token);
        }
        self.reactor.release(self.token);
        // Operations borrow the object, so none is pending; this releases stale wakers.
        self.io.wake_all();
    }
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    use std::os::unix::net::UnixStream;

    use super::*;
    use crate::sys::uring::Host;

    #[test]
    fn once_a_registration_is_dropped_its_descriptor_may_be_closed() {
        // io_uring: the poll request holds the file open until the kernel removed it,
        // and the kernel may refuse the removal for a moment (EALREADY). Dropping the
        // registration must see it done, even with no runner to retry it later.
        let host = Host::open(true).unwrap();
        let ring = host.ring.clone();
        let reactor = Arc::new(Reactor::new(Selector::Uring(host)));
        let (a, b) = UnixStream::pair().unwrap();
        let reg = reactor.register(a.as_raw_fd()).unwrap();
        assert!(reactor.settle(), "the poll is armed");
        ring.simulate_removal_busy();
        drop(reg);
        drop(a);
        // The peer sees the close at once: nothing holds the file.
        b.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let read = (&b).read(&mut byte);
        assert!(matches!(read, Ok(0)), "the file is still open: {read:?}");
        reactor.shut_down();
    }

    #[test]
    fn a_registration_dropped_while_another_thread_drains_returns_at_once_and_the_file_closes() {
        // The removal is submitted by the drop itself, so the kernel ends the poll (and
        // lets the file go) without anyone draining its confirmation: a drop that finds
        // another thread draining (a runner) must not wait for it.
        let host = Host::open(false).unwrap();
        let ring = host.ring.clone();
        let reactor = Arc::new(Reactor::new(Selector::Uring(host)));
        let (a, b) = UnixStream::pair().unwrap();
        let reg = reactor.register(a.as_raw_fd()).unwrap();
        assert!(reactor.settle(), "the poll is armed");
        let (held_tx, held_rx) = std::sync::mpsc::channel();
        let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
        let drainer = {
            let ring = ring.clone();
            std::thread::spawn(move || {
                let _held = ring.hold_completion_queue();
                held_tx.send(()).unwrap();
                let _ = release_rx.recv_timeout(std::time::Duration::from_secs(5));
            })
        };
        held_rx.recv().unwrap();
        let start = std::time::Instant::now();
        drop(reg);
        let took = start.elapsed();
        drop(a);
        // The peer sees the close while the other thread still holds the queue.
        b.set_read_timeout(Some(std::time::Duration::from_secs(2)))
            .unwrap();
        let mut byte = [0u8; 1];
        let read = (&b).read(&mut byte);
        release_tx.send(()).unwrap();
        drainer.join().unwrap();
        assert!(matches!(read, Ok(0)), "the file is still open: {read:?}");
        assert!(
            took < std::time::Duration::from_millis(20),
            "the drop waited {took:?} for the other thread's drain"
        );
        reactor.shut_down();
    }

    #[test]
    fn a_poll_removal_that_cannot_be_queued_is_queued_later_and_the_file_closes() {
        // A submission queue that stays full for a moment refuses the removal: it must
        // be retried, or the multishot poll holds the file open until the ring closes.
        let host = Host::open(true).unwrap();
        let ring = host.ring.clone();
        let reactor = Arc::new(Reactor::new(Selector::Uring(host)));
        let (a, b) = UnixStream::pair().unwrap();
        let reg = reactor.register(a.as_raw_fd()).unwrap();
        assert!(reactor.settle(), "the poll is armed");
        ring.simulate_refused_pushes(1);
        drop(reg);
        drop(a);
        b.set_nonblocking(true).unwrap();
        let mut byte = [0u8; 1];
        let read = (&b).read(&mut byte);
        assert!(matches!(read, Ok(0)), "the file is still open: {read:?}");
        reactor.shut_down();
    }

    #[test]
    fn a_registration_dropped_inside_a_dispatch_does_not_stall_the_ring() {
        // A waker run by the completion layer's dispatch may drop a future that owns
        // a registration. That thread holds the hand-over lock: waiting there for the
        // removal's CQE (which no drain can hand over meanwhile) only stalls.
        let host = Host::open(true).unwrap();
        let (ring, completions) = (host.ring.clone(), host.completions.clone());
        let reactor = Arc::new(Reactor::new(Selector::Uring(host)));
        let (a, _b) = UnixStream::pair().unwrap();
        let reg = std::cell::RefCell::new(Some(reactor.register(a.as_raw_fd()).unwrap()));
        assert!(reactor.settle(), "the poll is armed");
        let (c, mut c_peer) = UnixStream::pair().unwrap();
        let _recv = crate::uring::RecvQueue::new(&completions, Arc::new(c.into())).unwrap();
        std::io::Write::write_all(&mut c_peer, b"x").unwrap();
        let took = std::cell::Cell::new(None);
        let layer = |data, result, flags| {
            completions.complete(data, result, flags);
            if let Some(reg) = reg.borrow_mut().take() {
                let start = std::time::Instant::now();
                drop(reg);
                took.set(Some(start.elapsed()));
            }
        };
        let start = std::time::Instant::now();
        while took.get().is_none() {
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "no CQE"
            );
            ring.wait(
                Some(std::time::Duration::from_millis(10)),
                &mut Vec::new(),
                &layer,
                &mut || {},
            )
            .unwrap();
        }
        let took = took.get().unwrap();
        assert!(
            took < std::time::Duration::from_millis(20),
            "the drop waited {took:?}"
        );
        drop(a);
        reactor.shut_down();
    }
}
