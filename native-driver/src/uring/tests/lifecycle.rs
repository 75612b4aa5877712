//! Operations and handles coming and going: accept, one-shot operations dropped or
//! completed, shutdown.

use std::future::Future;
use std::pin::Pin;

use super::*;

#[test]
fn accept_errors_are_reported_and_accepting_resumes() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    // Not listening: every accept fails with EINVAL.
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(socket))).unwrap();
    for round in 1..=2 {
        ring.run_until(&c, || c.counters().finished >= round);
        let Poll::Ready(Err(e)) = acceptor.poll_accept(&mut noop_cx()) else {
            panic!("the error is reported")
        };
        assert_eq!(e.raw_os_error(), Some(libc::EINVAL));
    }
    assert_eq!(
        c.counters().rearms,
        0,
        "re-armed by the reader, not by the CQE"
    );
    drop(acceptor);
    settle(&ring, &c);
}

#[test]
fn shutdown_cancels_everything_and_refuses_new_operations() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    // A receive, an accept and a one-shot read that wait forever, live.
    let (a, b) = socketpair();
    let mut rx = RecvQueue::new(&c, b).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    let (r, _w) = pipe();
    // SAFETY: the entry points into the lent Vec and names the slot's descriptor.
    let mut op = unsafe {
        Op::submit(&c, Some(r.clone()), vec![0u8; 16], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    }
    .unwrap();
    // A dropped writer lingering on bytes its peer never reads.
    let (c1, c2) = socketpair();
    socket2::SockRef::from(&*c1)
        .set_send_buffer_size(4096)
        .unwrap();
    let mut tx = SendBehind::new(&c, c1).unwrap();
    let block = [0u8; 16 * 1024];
    for _ in 0..50 {
        let _ = tx.poll_write(&mut noop_cx(), &block);
        ring.turn(&c, false);
    }
    assert!(tx.poll_write(&mut noop_cx(), &block).is_pending() && tx.buffered() > 0);
    drop(tx);
    ring.turn(&c, false);
    assert_eq!(
        c.slots_in_use(),
        4,
        "three live handles and the lingering send"
    );
    c.shutdown();
    // Only the three live handles keep slots; the lingering send is gone.
    ring.run_until(&c, || c.slots_in_use() == 3 && c.counters().finished >= 4);
    let gone = |e: &std::io::Error| e.to_string().contains("IoContext");
    let mut cx = noop_cx();
    let Poll::Ready(Err(e)) = rx.poll_read(&mut cx, &mut [0u8; 4]) else {
        panic!("receive ends")
    };
    assert!(gone(&e), "{e:?}");
    let Poll::Ready(Err(e)) = acceptor.poll_accept(&mut cx) else {
        panic!("accept ends")
    };
    assert!(gone(&e), "{e:?}");
    let Poll::Ready(outcome) = Pin::new(&mut op).poll(&mut cx) else {
        panic!("read ends")
    };
    assert!(gone(&outcome.result.unwrap_err()));
    assert_eq!(outcome.resource.len(), 16, "the buffer comes back");
    // SAFETY: a NOP points at nothing.
    let refused = unsafe { Op::submit(&c, None, (), |(), _| opcode::Nop::new().build()) };
    assert!(gone(&refused.err().expect("refused after shutdown")));
    assert!(RecvQueue::new(&c, a).is_err());
    drop((rx, acceptor, op, c2));
    settle(&ring, &c);
}

#[test]
fn many_connections_are_accepted_and_untaken_ones_closed() {
    if !in_child("uring::tests::lifecycle::many_connections_are_accepted_and_untaken_ones_closed") {
        return;
    }
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config::default());
    let baseline = open_fds();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    let mut clients = Vec::new();
    let mut accepted = Vec::new();
    let mut cx = noop_cx();
    for i in 0..300 {
        clients.push(TcpStream::connect(addr).unwrap());
        if i % 3 == 0 {
            ring.turn(&c, false);
            while let Poll::Ready(fd) = acceptor.poll_accept(&mut cx) {
                accepted.push(fd.unwrap());
            }
        }
    }
    ring.run_until(&c, || {
        while let Poll::Ready(fd) = acceptor.poll_accept(&mut noop_cx()) {
            accepted.push(fd.unwrap());
        }
        accepted.len() == 300
    });
    // Each accepted descriptor is one of the clients' peers.
    let mut peers: Vec<SocketAddr> = accepted
        .iter()
        .map(|fd| {
            socket2::SockRef::from(fd)
                .peer_addr()
                .unwrap()
                .as_socket()
                .unwrap()
        })
        .collect();
    let mut locals: Vec<SocketAddr> = clients.iter().map(|s| s.local_addr().unwrap()).collect();
    peers.sort();
    locals.sort();
    assert_eq!(peers, locals);
    drop(accepted);
    // Ten more, never taken: closed with the acceptor.
    for _ in 0..10 {
        clients.push(TcpStream::connect(addr).unwrap());
    }
    ring.run_until(&c, || acceptor.queued() == 10);
    drop(acceptor);
    ring.run_until(&c, || c.slots_in_use() == 0);
    drop(clients);
    assert_eq!(open_fds(), baseline, "no descriptor leaked");
}

#[test]
fn a_full_accept_queue_pauses_until_half_is_taken() {
    let Some(ring) = TestRing::new(64) else {
        return;
    };
    let c = ring.completions(Config {
        accept_queue: 4,
        ..Config::default()
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let mut acceptor = Acceptor::new(&c, Arc::new(OwnedFd::from(listener))).unwrap();
    ring.turn(&c, false);
    let clients: Vec<TcpStream> = (0..40).map(|_| TcpStream::connect(addr).unwrap()).collect();
    ring.run_until(&c, || {
        c.counters().pauses >= 1 && c.counters().finished >= 1
    });
    // Paused: what the kernel handed over before the pause landed, the rest waits in
    // the listen backlog.
    let held = acceptor.queued();
    for _ in 0..5 {
        ring.turn(&c, false);
    }
    assert_eq!(acceptor.queued(), held, "no accept while paused");
    let mut accepted = Vec::new();
    ring.run_until(&c, || {
        while let Poll::Ready(fd) = acceptor.poll_accept(&mut noop_cx()) {
            accepted.push(fd.unwrap());
        }
        accepted.len() == clients.len()
    });
    assert!(c.counters().rearms >= 1);
    drop((acceptor, accepted, clients));
    settle(&ring, &c);
}

#[test]
fn dropped_ops_keep_their_buffer_until_the_kernel_is_done() {
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (r, w) = pipe();
    let mut cx = noop_cx();
    // A read nobody feeds, dropped: the buffer and the descriptor stay with the slot.
    // SAFETY: the entry points into the lent Vec and names the slot's descriptor.
    let op = unsafe {
        Op::submit(&c, Some(r.clone()), vec![0u8; 64], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    }
    .unwrap();
    ring.turn(&c, false);
    drop(op);
    drop(r);
    assert_eq!(c.slots_in_use(), 1, "the orphan waits for its CQE");
    ring.run_until(&c, || c.slots_in_use() == 0);
    assert_eq!(c.counters().canceled, 1);
    // A read that completes hands its buffer back with the result.
    let (r, w2) = pipe();
    // SAFETY: as above.
    let mut op = unsafe {
        Op::submit(&c, Some(r), vec![0u8; 64], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    }
    .unwrap();
    std::fs::File::from(Arc::try_unwrap(w2).unwrap())
        .write_all(b"ping")
        .unwrap();
    let outcome = loop {
        if let Poll::Ready(o) = Pin::new(&mut op).poll(&mut cx) {
            break o;
        }
        ring.turn(&c, true);
    };
    assert_eq!(outcome.result.unwrap(), 4);
    assert!(
        !io_uring::cqueue::more(outcome.flags),
        "a one-shot read ends with its CQE"
    );
    assert_eq!(&outcome.resource[..4], b"ping");
    drop(op);
    assert_eq!(c.slots_in_use(), 0);
    drop(w);
    settle(&ring, &c);
}

#[test]
fn a_push_error_means_not_queued_and_only_then_is_the_slot_freed() {
    // The layer frees a one-shot operation's buffer on a push error: that is sound
    // only under the contract the trait states.
    assert!(include_str!("../mod.rs").contains("`Err` only if the entry was not queued"));
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (r, w) = pipe();
    let mut w = std::fs::File::from(Arc::try_unwrap(w).unwrap());
    let mut cx = noop_cx();
    // The reviewer's case: the entry is queued, the submit after it fails. The host
    // honours the contract (the push succeeded), so the slot keeps the buffer and the
    // descriptor until the read's CQE.
    ring.fail_after_queue.store(1, Ordering::SeqCst);
    // SAFETY: the entry points into the lent Vec and names the slot's descriptor.
    let mut op = unsafe {
        Op::submit(&c, Some(r.clone()), vec![0u8; 64], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    }
    .expect("queued, so the push succeeded");
    assert_eq!(ring.fail_after_queue.load(Ordering::SeqCst), 0);
    assert_eq!(
        c.slots_in_use(),
        1,
        "the slot owns the buffer the kernel writes"
    );
    w.write_all(b"pong").unwrap();
    let outcome = loop {
        if let Poll::Ready(o) = Pin::new(&mut op).poll(&mut cx) {
            break o;
        }
        ring.turn(&c, true);
    };
    assert_eq!(outcome.result.unwrap(), 4);
    assert_eq!(&outcome.resource[..4], b"pong");
    drop(op);
    // A host that cannot queue refuses: the slot and the lent buffer are freed, and
    // nothing reaches the kernel.
    ring.refuse.store(1, Ordering::SeqCst);
    // SAFETY: as above.
    let refused = unsafe {
        Op::submit(&c, Some(r.clone()), vec![0u8; 64], |buf, fd| {
            opcode::Read::new(types::Fd(fd), buf.as_mut_ptr(), buf.len() as u32).build()
        })
    };
    assert_eq!(
        refused.err().and_then(|e| e.raw_os_error()),
        Some(libc::EBUSY)
    );
    assert_eq!(c.slots_in_use(), 0);
    w.write_all(b"late").unwrap();
    assert_eq!(ring.turn(&c, false), 0, "the refused read never ran");
    settle(&ring, &c);
}

/// A slot already `Canceled` when the ring reports a dropped CQE is canceled again by
/// `completions_lost`: if its final CQE was the lost one, that cancellation's `ENOENT`
/// ends it (else it would count as in the kernel for ever, and teardown would wait
/// its limit and leak the buffer ring and every slot). Review 21, R21-3.
#[test]
fn a_canceled_op_whose_final_cqe_was_lost_is_recovered() {
    use std::future::Future;
    use std::pin::Pin;
    use std::task::{Context, Waker};
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    let (r, _w) = std::io::pipe().unwrap();
    let r = std::sync::Arc::new(std::os::fd::OwnedFd::from(r));
    let mut op =
        crate::uring::file::read_at(&c, &r, vec![0; 64], crate::uring::file::CURSOR).unwrap();
    ring.turn(&c, false);
    assert!(Pin::new(&mut op)
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
    drop(op); // orphaned, cancel queued: Phase::Canceled
              // The read's final CQE (ECANCELED, kind 0b10) is the one the kernel drops; the
              // cancellation's own CQE (kind 0b11) arrives.
    let mut lost = 0;
    for _ in 0..5 {
        ring.turn_losing(&c, &mut |u, _, _| {
            let op = crate::uring::user_data_kind(u) == crate::uring::KIND_OP;
            lost += usize::from(op);
            op
        });
    }
    assert_eq!(lost, 1, "the read's final CQE was dropped");
    c.completions_lost(); // what the host calls after EBADR
    for _ in 0..10 {
        ring.turn(&c, true);
        if c.in_kernel() == 0 {
            break;
        }
    }
    assert_eq!(
        c.in_kernel(),
        0,
        "the canceled read still counts as in the kernel"
    );
    assert_eq!(c.slots_in_use(), 0);
}

/// Only operations in the kernel when a CQE was lost are suspects: long after such a
/// loss, a cancellation that finds nothing (its target's final CQE posted but not yet
/// dispatched) must not end the target in its stead, which would free the memory the
/// real CQE then names. Review 21, R21-2.
#[test]
fn a_loss_long_ago_does_not_make_a_later_cancellations_enoent_final() {
    use std::io::Write;
    use std::task::{Context, Waker};
    let Some(ring) = TestRing::new(16) else {
        return;
    };
    let c = ring.completions(Config::default());
    c.completions_lost(); // a loss with nothing in flight
    let (r, mut w) = std::io::pipe().unwrap();
    let r = Arc::new(OwnedFd::from(r));
    let mut op =
        crate::uring::file::read_at(&c, &r, vec![0; 64], crate::uring::file::CURSOR).unwrap();
    ring.turn(&c, false);
    assert!(Pin::new(&mut op)
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending());
    w.write_all(b"data").unwrap();
    // The read's final CQE is posted but held back (as if another runner had taken it
    // and not dispatched it yet)...
    let mut held = Vec::new();
    for _ in 0..5 {
        ring.turn_losing(&c, &mut |u, res, f| {
            let op = crate::uring::user_data_kind(u) == crate::uring::KIND_OP;
            if op {
                held.push((u, res, f));
            }
            op
        });
        if !held.is_empty() {
            break;
        }
    }
    assert_eq!(held.len(), 1, "the read completed");
    // ...while the drop's cancellation finds nothing (ENOENT) and is dispatched first.
    drop(op);
    for _ in 0..3 {
        ring.turn(&c, true);
    }
    assert_eq!(
        c.in_kernel(),
        1,
        "an ENOENT ended an operation that was no suspect"
    );
    for (u, res, f) in held {
        c.complete(u, res, f);
    }
    assert_eq!(c.counters().anomalies, 0);
    assert_eq!(c.in_kernel(), 0);
    assert_eq!(c.slots_in_use(), 0);
}
