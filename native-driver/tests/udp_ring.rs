//! UDP as a user sees it on either backend (`STRAIT_NATIVE_BACKEND`); on io_uring it is
//! completion I/O (`RECVMSG`/`SENDMSG`). Dropped receives lose no datagram, truncation,
//! errors, closed sockets, an echo on the ring.

use std::net::SocketAddr;
use std::time::Duration;

use strait_native::{IoContext, UdpSocket};
use strait_streams::{is_canceled, timeout, when_all};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

fn any() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[test]
fn receives_dropped_while_waiting_lose_no_datagram() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    let b = UdpSocket::bind(&ctx, any()).unwrap();
    let to = b.local_addr().unwrap();
    ctx.block_on(async {
        let mut buf = [0u8; 16];
        for i in 0..50u8 {
            // A receive that waits, dropped by the timeout (on io_uring its RECVMSG
            // stays in the kernel) ...
            let r = timeout(Duration::from_millis(1), b.recv_from(&mut buf)).await;
            assert!(r.is_err(), "nothing was sent yet");
            // ... and the datagram that arrives after it goes to the next receive.
            a.send_to(&[i; 3], to).await.unwrap();
            let (n, from) = b.recv_from(&mut buf).await.unwrap();
            assert_eq!((n, &buf[..n]), (3, &[i; 3][..]), "round {i}");
            assert_eq!(from, a.local_addr().unwrap());
        }
    });
}

#[test]
fn a_datagram_larger_than_the_buffer_is_truncated_and_the_next_is_whole() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    let b = UdpSocket::bind(&ctx, any()).unwrap();
    let to = b.local_addr().unwrap();
    ctx.block_on(async {
        let big: Vec<u8> = (0..60_000u32).map(|i| i as u8).collect();
        a.send_to(&big, to).await.unwrap();
        a.send_to(b"next", to).await.unwrap();
        let mut small = [0u8; 100];
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(n, 100);
        assert_eq!(&small[..], &big[..100]);
        let (n, _) = b.recv_from(&mut small).await.unwrap();
        assert_eq!(&small[..n], b"next");
        // A large buffer takes a large datagram whole.
        a.send_to(&big, to).await.unwrap();
        let mut large = vec![0u8; 65_536];
        let (n, _) = b.recv_from(&mut large).await.unwrap();
        assert!(n == big.len() && large[..n] == big[..]);
    });
}

#[test]
fn a_connected_socket_reports_a_refused_peer() {
    let ctx = IoContext::new().unwrap();
    let gone = UdpSocket::bind(&ctx, any()).unwrap();
    let addr = gone.local_addr().unwrap();
    drop(gone);
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    a.connect(addr).unwrap();
    ctx.block_on(async {
        a.send(b"anyone?").await.unwrap();
        let mut buf = [0u8; 8];
        // The ICMP port unreachable shows on the receive (or on a later send).
        let r = timeout(Duration::from_secs(2), async {
            match a.recv(&mut buf).await {
                Err(e) => Ok(e),
                Ok(n) => panic!("received {n} bytes from nobody"),
            }
        })
        .await
        .unwrap();
        assert_eq!(r.kind(), std::io::ErrorKind::ConnectionRefused);
    });
}

#[test]
fn closed_and_canceled_sockets_fail_their_operations_as_canceled() {
    let ctx = IoContext::new().unwrap();
    let a = UdpSocket::bind(&ctx, any()).unwrap();
    ctx.block_on(async {
        let mut buf = [0u8; 8];
        let (r, canceled) = when_all((
            async { Ok::<_, std::io::Error>(a.recv_from(&mut buf).await) },
            async {
                strait_streams::delay(Duration::from_millis(10)).await?;
                Ok(a.cancel())
            },
        ))
        .await
        .unwrap();
        assert!(canceled);
        assert!(is_canceled(&r.unwrap_err()));
        a.close();
        assert!(is_canceled(&a.recv_from(&mut buf).await.unwrap_err()));
        assert!(is_canceled(&a.send_to(b"x", any()).await.unwrap_err()));
    });
}

#[test]
fn an_echo_runs_on_the_completion_layer_of_an_io_uring_context() {
    let ctx = IoContext::new().unwrap();
    let server = UdpSocket::bind(&ctx, any()).unwrap();
    let client = UdpSocket::bind(&ctx, any()).unwrap();
    let to = server.local_addr().unwrap();
    let before = ctx.stats();
    let rounds = 200u32;
    ctx.block_on(async {
        let echo = async {
            let mut buf = [0u8; 64];
            for _ in 0..rounds {
                let (n, from) = server.recv_from(&mut buf).await?;
                server.send_to(&buf[..n], from).await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let ask = async {
            let mut buf = [0u8; 64];
            for i in 0..rounds {
                client.send_to(&i.to_le_bytes(), to).await?;
                let (n, _) = client.recv_from(&mut buf).await?;
                assert_eq!(&buf[..n], &i.to_le_bytes());
            }
            Ok(())
        };
        when_all((echo, ask)).await.unwrap();
    });
    let after = ctx.stats();
    if ctx.completion_sockets() {
        // Four operations per round trip (two sends, two receives), each an SQE.
        assert!(
            after.submitted - before.submitted >= 4 * u64::from(rounds),
            "{before:?} -> {after:?}"
        );
    }
}

/// The port is free again right after the drop: the descriptor closed (on io_uring,
/// once the receive's cancellation came back, which the drop waits for).
#[test]
fn sockets_dropped_with_a_receive_in_flight_release_their_descriptors() {
    let ctx = IoContext::new().unwrap();
    for _ in 0..20 {
        let s = UdpSocket::bind(&ctx, any()).unwrap();
        let addr = s.local_addr().unwrap();
        ctx.block_on(async {
            let mut buf = [0u8; 8];
            let r = timeout(Duration::from_millis(1), s.recv_from(&mut buf)).await;
            assert!(r.is_err());
        });
        drop(s);
        let again = UdpSocket::bind(&ctx, addr);
        assert!(again.is_ok(), "{addr} still bound: {again:?}");
    }
}

/// Sends and receives recycle their message blocks (io_uring) or use none (epoll): an
/// echo allocates nothing per datagram once warm.
#[test]
fn an_echo_allocates_nothing_in_steady_state() {
    let ctx = IoContext::new().unwrap();
    let server = UdpSocket::bind(&ctx, any()).unwrap();
    let client = UdpSocket::bind(&ctx, any()).unwrap();
    let to = server.local_addr().unwrap();
    let allocated = ctx.block_on(async {
        let round = async || {
            let mut sbuf = [0u8; 64];
            let mut cbuf = [0u8; 64];
            client.send_to(b"ping", to).await.unwrap();
            let (n, from) = server.recv_from(&mut sbuf).await.unwrap();
            server.send_to(&sbuf[..n], from).await.unwrap();
            let (n, _) = client.recv_from(&mut cbuf).await.unwrap();
            assert_eq!(&cbuf[..n], b"ping");
        };
        // Warm-up: slots, message blocks, waiter lists, and (readiness on the ring,
        // under `Auto`) one list of the host's that grows once within the first few
        // hundred round trips.
        for _ in 0..1000 {
            round().await;
        }
        let before = strait_conformance::allocations();
        for _ in 0..1000 {
            round().await;
        }
        strait_conformance::allocations() - before
    });
    assert_eq!(allocated, 0, "allocations in 1000 echoes");
}

/// Not a check: the echo to profile (`strace -c -f`, callgrind) on each backend.
/// `cargo test --test udp_ring -- --ignored profile_an_echo`
#[test]
#[ignore = "a profiling workload, run by hand"]
fn profile_an_echo() {
    let ctx = IoContext::new_single_threaded().unwrap();
    let server = UdpSocket::bind(&ctx, any()).unwrap();
    let client = UdpSocket::bind(&ctx, any()).unwrap();
    let to = server.local_addr().unwrap();
    // `STRAIT_PROFILE_ROUNDS`: two runs of different lengths cancel out the start-up.
    let rounds: u32 = std::env::var("STRAIT_PROFILE_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5000);
    ctx.block_on(async {
        let echo = async {
            let mut buf = [0u8; 64];
            for _ in 0..rounds {
                let (n, from) = server.recv_from(&mut buf).await?;
                server.send_to(&buf[..n], from).await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let ask = async {
            let mut buf = [0u8; 64];
            for i in 0..rounds {
                client.send_to(&i.to_le_bytes(), to).await?;
                client.recv_from(&mut buf).await?;
            }
            Ok(())
        };
        when_all((echo, ask)).await.unwrap();
    });
    eprintln!(
        "{rounds} round trips on {:?}: {:?}",
        ctx.backend(),
        ctx.stats()
    );
}
