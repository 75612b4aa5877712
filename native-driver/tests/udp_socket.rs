//! UdpSocket: datagrams, zero-length datagrams, options, cancellation.

use std::future::Future;
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

use strait_native::{IoContext, UdpSocket};
use strait_streams::{is_canceled, when_all, with_stop_token, StopSource};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn datagrams_travel_between_connected_sockets() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    let b = UdpSocket::bind(&ctx, any()).unwrap();
    a.connect(b.local_addr().unwrap()).unwrap();
    b.connect(a.local_addr().unwrap()).unwrap();
    ctx.block_on(async {
        let mut buf = [0u8; 64];
        let (sent, got) = when_all((a.send(b"datagram"), b.recv(&mut buf)))
            .await
            .unwrap();
        assert_eq!((sent, got), (8, 8));
        assert_eq!(&buf[..8], b"datagram");
    });
}

#[test]
fn send_to_and_recv_from_name_the_peer() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    let b = UdpSocket::bind(&ctx, any()).unwrap();
    let b_addr = b.local_addr().unwrap();
    ctx.block_on(async {
        a.send_to(b"hi", b_addr).await.unwrap();
        let mut buf = [0u8; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, from), (2, a.local_addr().unwrap()));
    });
}

#[test]
fn zero_length_datagrams_are_delivered() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    let b = UdpSocket::bind(&ctx, any()).unwrap();
    ctx.block_on(async {
        assert_eq!(a.send_to(&[], b.local_addr().unwrap()).await.unwrap(), 0);
        let mut buf = [0u8; 8];
        let (n, from) = b.recv_from(&mut buf).await.unwrap();
        assert_eq!((n, from), (0, a.local_addr().unwrap()));
    });
}

#[test]
fn a_pending_recv_is_canceled_by_the_stop_token() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    let source = StopSource::new();
    let s = source.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(20));
        s.request_stop();
    });
    let mut buf = [0u8; 8];
    let err = ctx
        .block_on(with_stop_token(source.token(), a.recv_from(&mut buf)))
        .unwrap_err();
    assert!(is_canceled(&err));
    t.join().unwrap();
}

#[test]
fn broadcast_and_multicast_options_apply() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, "0.0.0.0:0").unwrap();
    a.set_broadcast(true).unwrap();
    a.set_multicast_loop_v4(true).unwrap();
    let group = Ipv4Addr::new(239, 255, 7, 7);
    match a.join_multicast_v4(group, Ipv4Addr::UNSPECIFIED) {
        Ok(()) => a.leave_multicast_v4(group, Ipv4Addr::UNSPECIFIED).unwrap(),
        // A sandbox without a multicast route refuses the join: say so, do not fail.
        Err(e) => eprintln!("multicast join refused here: {e}"),
    }
}

#[test]
fn cancel_and_close_complete_a_pending_receive() {
    let ctx = IoContext::new().unwrap();
    let sock = UdpSocket::bind(&ctx, any()).unwrap();
    let peer = UdpSocket::bind(&ctx, any()).unwrap();
    let wait_then = |f: &dyn Fn() -> bool| {
        let mut buf = [0u8; 16];
        ctx.block_on(async {
            when_all((
                async { Ok::<_, std::io::Error>(sock.recv_from(&mut buf).await) },
                async {
                    strait_streams::delay(Duration::from_millis(10)).await?;
                    Ok(f())
                },
            ))
            .await
        })
        .unwrap()
    };
    let (received, canceled) = wait_then(&|| sock.cancel());
    assert!(canceled);
    assert!(is_canceled(&received.unwrap_err()));
    // Still usable after a cancel.
    let to = sock.local_addr().unwrap();
    ctx.block_on(peer.send_to(b"ping", to)).unwrap();
    let mut buf = [0u8; 16];
    assert_eq!(ctx.block_on(sock.recv_from(&mut buf)).unwrap().0, 4);
    // After close, pending and later receives fail.
    let (received, _) = wait_then(&|| {
        sock.close();
        true
    });
    assert!(is_canceled(&received.unwrap_err()));
    let later = ctx.block_on(sock.send_to(b"x", peer.local_addr().unwrap()));
    assert!(is_canceled(&later.unwrap_err()));
}

#[test]
fn an_ended_receive_leaves_nothing_registered() {
    let ctx = IoContext::new().unwrap();
    let sock = UdpSocket::bind(&ctx, any()).unwrap();
    let mut buf = [0u8; 16];
    let waited = ctx.block_on(strait_streams::timeout(
        Duration::from_millis(10),
        sock.recv_from(&mut buf),
    ));
    assert_eq!(waited.unwrap_err().kind(), std::io::ErrorKind::TimedOut);
    // The timed-out receive ended (stopped by the timeout): no operation waits, so
    // cancel finds none and cannot leak into the next receive.
    assert!(!sock.cancel());
}

#[test]
fn a_dropped_receive_leaves_nothing_registered() {
    let ctx = IoContext::new().unwrap();
    let sock = UdpSocket::bind(&ctx, any()).unwrap();
    let mut buf = [0u8; 16];
    let mut recv = Box::pin(sock.recv_from(&mut buf));
    let polled = ctx.block_on(std::future::poll_fn(|cx| {
        std::task::Poll::Ready(recv.as_mut().poll(cx).is_pending())
    }));
    assert!(polled, "nothing to receive yet: the receive waits");
    drop(recv);
    assert!(!sock.cancel(), "the dropped receive left its waker behind");
}

#[test]
fn two_tasks_receiving_on_one_socket_both_complete() {
    let ctx = IoContext::new().unwrap();
    let socket = std::sync::Arc::new(UdpSocket::bind(&ctx, any()).unwrap());
    let addr = socket.local_addr().unwrap();
    let receives: Vec<_> = (0..2)
        .map(|_| {
            let socket = socket.clone();
            ctx.spawn(async move {
                let mut buf = [0u8; 16];
                socket.recv_from(&mut buf).await.map(|(n, _)| n)
            })
        })
        .collect();
    assert_eq!(ctx.poll(), 2, "both receives wait");
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    sender.send_to(b"one", addr).unwrap();
    sender.send_to(b"two", addr).unwrap();
    ctx.run_for(Duration::from_secs(5));
    for h in receives {
        assert!(h.is_finished(), "a receive missed its wake-up");
        assert_eq!(ctx.block_on(h).unwrap().unwrap(), 3);
    }
}

#[test]
fn a_receive_that_waits_allocates_nothing_in_steady_state() {
    use std::task::Poll;
    let ctx = IoContext::new().unwrap();
    let socket = UdpSocket::bind(&ctx, any()).unwrap();
    let addr = socket.local_addr().unwrap();
    let sender = std::net::UdpSocket::bind(any()).unwrap();
    let allocated = ctx.block_on(async {
        let mut buf = [0u8; 16];
        async fn cycle(
            socket: &UdpSocket,
            sender: &std::net::UdpSocket,
            to: SocketAddr,
            buf: &mut [u8],
        ) {
            let mut recv = std::pin::pin!(socket.recv_from(buf));
            let pending =
                std::future::poll_fn(|cx| Poll::Ready(recv.as_mut().poll(cx).is_pending())).await;
            assert!(pending, "the receive waits");
            sender.send_to(b"ping", to).unwrap();
            assert_eq!(recv.await.unwrap().0, 4);
        }
        for _ in 0..3 {
            cycle(&socket, &sender, addr, &mut buf).await; // warm-up: waiter slot
        }
        let before = strait_conformance::allocations();
        for _ in 0..1000 {
            cycle(&socket, &sender, addr, &mut buf).await;
        }
        strait_conformance::allocations() - before
    });
    assert_eq!(allocated, 0, "allocations in 1000 waiting receives");
}

/// A reported socket error (ICMP port unreachable) is consumed by the operation that
/// returns it; the next would-block receive must wait, not spin inside one poll.
#[test]
fn a_recv_after_an_icmp_error_waits_instead_of_spinning() {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ctx = IoContext::new().unwrap();
        // A port nobody listens on.
        let port = std::net::UdpSocket::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let sock = UdpSocket::bind(&ctx, "127.0.0.1:0").unwrap();
        sock.connect(format!("127.0.0.1:{port}").as_str()).unwrap();
        let out = ctx.block_on(async {
            sock.send(b"x").await.unwrap();
            // Let the reactor collect EPOLLERR (ICMP port unreachable).
            strait_streams::delay(Duration::from_millis(50))
                .await
                .unwrap();
            let mut buf = [0u8; 16];
            let first = sock.recv(&mut buf).await;
            tx.send(format!("first recv: {first:?}")).unwrap();
            // Nothing will arrive: this must time out, not spin inside one poll.
            let second =
                strait_streams::timeout(Duration::from_millis(200), sock.recv(&mut buf)).await;
            format!("second recv: {second:?}")
        });
        tx.send(out).unwrap();
    });
    println!("{}", rx.recv_timeout(Duration::from_secs(5)).unwrap());
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(s) => println!("{s}"),
        Err(_) => panic!("the second recv did not return within 5 s (spinning inside poll)"),
    }
}
