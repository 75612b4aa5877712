//! TcpStream: connect, options and error paths.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use strait_native::{Interest, IoContext, TcpListener, TcpStream};
use strait_streams::{
    bytes_transferred, delay, is_canceled, read_exact, timeout, when_all, with_stop_token,
    write_all, ReadStreamExt, StopSource, WriteStreamExt,
};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn connected(ctx: &IoContext) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(ctx, loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (c, (s, _)) = ctx
        .block_on(async { when_all((TcpStream::connect(ctx, addr), listener.accept())).await })
        .unwrap();
    (c, s)
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let ctx = IoContext::new().unwrap();
    let addr = {
        let l = TcpListener::bind(&ctx, loopback()).unwrap();
        l.local_addr().unwrap()
    }; // closed again
    let err = ctx.block_on(TcpStream::connect(&ctx, addr)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn a_connect_still_in_progress_keeps_waiting() {
    let ctx = IoContext::new().unwrap();
    // A listener that never accepts, with the smallest backlog: once its queue is full
    // the kernel drops further SYNs, so those connects stay in progress. A plain
    // socket: on io_uring a `TcpListener` accepts ahead into its own queue.
    let listener =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    listener.bind(&loopback().into()).unwrap();
    listener.listen(0).unwrap();
    let addr = listener.local_addr().unwrap().as_socket().unwrap();
    let mut held = Vec::new();
    let mut stuck = 0;
    for _ in 0..8 {
        match ctx.block_on(timeout(
            Duration::from_millis(100),
            TcpStream::connect(&ctx, addr),
        )) {
            Ok(s) => held.push(s),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => stuck += 1,
            Err(e) => panic!("a pending connect must not fail early: {e:?}"),
        }
    }
    assert!(
        stuck > 0,
        "the backlog never filled ({} connected)",
        held.len()
    );
}

#[test]
fn connect_any_skips_refused_addresses() {
    let ctx = IoContext::new().unwrap();
    let dead = {
        let l = TcpListener::bind(&ctx, loopback()).unwrap();
        l.local_addr().unwrap()
    };
    let listener = TcpListener::bind(&ctx, loopback()).unwrap();
    let live = listener.local_addr().unwrap();
    let (stream, _) = ctx
        .block_on(async {
            when_all((
                TcpStream::connect_any(&ctx, &[dead, live]),
                listener.accept(),
            ))
            .await
        })
        .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), live);
    let empty = ctx.block_on(TcpStream::connect_any(&ctx, &[])).unwrap_err();
    assert_eq!(empty.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_reset_by_the_peer_fails_the_writer() {
    let ctx = IoContext::new().unwrap();
    let (mut writer, reader) = connected(&ctx);
    reader.set_linger(Some(Duration::ZERO)).unwrap();
    drop(reader); // RST
    let chunk = vec![7u8; 64 * 1024];
    let err = ctx
        .block_on(timeout(Duration::from_secs(5), async {
            loop {
                writer.write(&chunk[..]).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }))
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{err:?}"
    );
    // Reads after a reset fail or end; they never hang.
    let r = ctx.block_on(timeout(
        Duration::from_secs(5),
        writer.read(&mut [0u8; 8][..]),
    ));
    assert!(!matches!(r, Ok(n) if n > 0));
}

#[test]
fn half_close_delivers_end_of_stream_and_keeps_the_other_direction() {
    let ctx = IoContext::new().unwrap();
    let (mut a, mut b) = connected(&ctx);
    ctx.block_on(async {
        write_all(&mut a, "bye").await.unwrap();
        a.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(read_exact(&mut b, &mut buf[..]).await.unwrap(), 3);
        write_all(&mut b, "ok").await.unwrap();
        let mut back = [0u8; 2];
        assert_eq!(read_exact(&mut a, &mut back[..]).await.unwrap(), 2);
    });
}

#[test]
fn socket_options_apply() {
    let ctx = IoContext::new().unwrap();
    let (a, _b) = connected(&ctx);
    a.set_nodelay(true).unwrap();
    a.set_keepalive(true).unwrap();
    a.set_linger(Some(Duration::from_secs(1))).unwrap();
    a.set_buffer_sizes(64 * 1024, 64 * 1024).unwrap();
    a.set_ttl(32).unwrap();
    assert_ne!(a.local_addr().unwrap(), a.peer_addr().unwrap());
}

#[test]
fn a_pending_accept_is_canceled_by_the_stop_token() {
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, loopback()).unwrap();
    let source = StopSource::new();
    let stopper = {
        let s = source.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            s.request_stop();
        })
    };
    let err = ctx
        .block_on(with_stop_token(source.token(), listener.accept()))
        .unwrap_err();
    assert!(is_canceled(&err));
    stopper.join().unwrap();
}

#[test]
fn cancel_reaches_an_accept_that_was_woken_but_lost_its_connection() {
    use std::future::Future;
    use std::task::Poll;
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    let outcome = ctx.block_on(async {
        let mut first = std::pin::pin!(listener.accept());
        let waiting =
            std::future::poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx).is_pending())).await;
        assert!(waiting, "no connection yet: the first accept waits");
        // A connection arrives: the reactor wakes the first accept ...
        let _client = std::net::TcpStream::connect(addr).unwrap();
        delay(Duration::from_millis(20)).await.unwrap();
        // ... but a second accept takes it before the first runs again.
        listener.accept().await.unwrap();
        assert!(listener.cancel(), "the first accept is still pending");
        std::future::poll_fn(|cx| match first.as_mut().poll(cx) {
            Poll::Ready(r) => Poll::Ready(Some(r.map(|_| ()))),
            Poll::Pending => Poll::Ready(None),
        })
        .await
    });
    let err = outcome
        .expect("the canceled accept completed instead of waiting again")
        .unwrap_err();
    assert!(is_canceled(&err));
    assert!(!listener.cancel(), "nothing waits now");
}

#[test]
fn ipv6_dual_stack_listener_accepts_ipv4() {
    let ctx = IoContext::new().unwrap();
    let Ok(listener) = TcpListener::bind(&ctx, "[::]:0") else {
        eprintln!("no IPv6 on this machine; dual-stack not checked");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (c, _) = ctx
        .block_on(async { when_all((TcpStream::connect(&ctx, v4), listener.accept())).await })
        .unwrap();
    assert_eq!(c.peer_addr().unwrap().port(), port);
}

/// Writes into `stream` until the kernel's buffers are full (a write would wait).
fn fill_send_buffer(ctx: &IoContext, stream: &TcpStream) -> usize {
    stream.set_buffer_sizes(16 * 1024, 16 * 1024).unwrap();
    let chunk = vec![1u8; 64 * 1024];
    let mut sent = 0;
    loop {
        let w = ctx.block_on(timeout(
            Duration::from_millis(50),
            (&mut &*stream).write(&chunk[..]),
        ));
        match w {
            Ok(n) => sent += n,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return sent,
            Err(e) => panic!("{e:?}"),
        }
    }
}

#[test]
fn a_write_waiting_on_a_full_buffer_is_canceled_by_the_stop_token() {
    let ctx = IoContext::new().unwrap();
    let (mut writer, _reader) = connected(&ctx);
    writer.set_buffer_sizes(16 * 1024, 16 * 1024).unwrap();
    let source = StopSource::new();
    let data = vec![9u8; 8 * 1024 * 1024];
    let (written, ()) = ctx
        .block_on(async {
            when_all((
                async {
                    Ok(with_stop_token(source.token(), write_all(&mut writer, &data[..])).await)
                },
                async {
                    delay(Duration::from_millis(30)).await?;
                    source.request_stop();
                    Ok::<_, io::Error>(())
                },
            ))
            .await
        })
        .unwrap();
    let err = written.unwrap_err();
    assert!(is_canceled(&err), "{err:?}");
    let sent = bytes_transferred(&err);
    assert!(
        sent > 0 && sent < data.len(),
        "partial progress reported: {sent}"
    );
}

#[test]
fn cancel_completes_a_pending_read_and_the_stream_stays_usable() {
    let ctx = IoContext::new().unwrap();
    let (a, mut b) = connected(&ctx);
    let (pending, canceled) = ctx
        .block_on(async {
            when_all((
                async {
                    let mut buf = [0u8; 8];
                    Ok::<_, io::Error>((&mut &a).read(&mut buf[..]).await)
                },
                async {
                    delay(Duration::from_millis(20)).await?;
                    Ok(a.cancel())
                },
            ))
            .await
        })
        .unwrap();
    assert!(canceled, "a read was waiting");
    assert!(is_canceled(&pending.unwrap_err()));
    assert!(!a.cancel(), "nothing waits now");
    // Nothing was lost and later operations run normally.
    ctx.block_on(write_all(&mut b, "after")).unwrap();
    let mut buf = [0u8; 5];
    ctx.block_on(read_exact(&mut &a, &mut buf[..])).unwrap();
    assert_eq!(&buf, b"after");
}

#[test]
fn cancel_completes_a_write_waiting_on_a_full_buffer() {
    let ctx = IoContext::new().unwrap();
    let (a, _b) = connected(&ctx);
    fill_send_buffer(&ctx, &a);
    let (pending, canceled) = ctx
        .block_on(async {
            when_all((
                async { Ok::<_, io::Error>((&mut &a).write(&[5u8; 4096][..]).await) },
                async {
                    delay(Duration::from_millis(20)).await?;
                    Ok(a.cancel())
                },
            ))
            .await
        })
        .unwrap();
    assert!(canceled);
    assert!(is_canceled(&pending.unwrap_err()));
}

#[test]
fn close_fails_pending_and_later_operations_and_the_peer_sees_end_of_stream() {
    let ctx = IoContext::new().unwrap();
    let (a, mut b) = connected(&ctx);
    let (pending, ()) = ctx
        .block_on(async {
            when_all((
                async {
                    let mut buf = [0u8; 8];
                    Ok::<_, io::Error>((&mut &a).read(&mut buf[..]).await)
                },
                async {
                    delay(Duration::from_millis(20)).await?;
                    a.close();
                    Ok(())
                },
            ))
            .await
        })
        .unwrap();
    assert!(is_canceled(&pending.unwrap_err()));
    let later = ctx.block_on((&mut &a).write(&b"x"[..])).unwrap_err();
    assert!(is_canceled(&later));
    let mut buf = [0u8; 8];
    assert_eq!(ctx.block_on(b.read(&mut buf[..])).unwrap(), 0);
}

#[test]
fn wait_reports_readiness_exactly_and_consumes_nothing() {
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (mut a, (b, _)) = ctx
        .block_on(async {
            when_all((TcpStream::connect(&ctx, addr), async {
                listener.wait(Interest::Read).await?;
                listener.accept().await
            }))
            .await
        })
        .unwrap();
    ctx.block_on(b.wait(Interest::Write)).unwrap();
    // Nothing to read yet: the wait must not return.
    let early = ctx.block_on(timeout(Duration::from_millis(30), b.wait(Interest::Read)));
    assert_eq!(early.unwrap_err().kind(), io::ErrorKind::TimedOut);
    ctx.block_on(async {
        when_all((b.wait(Interest::Read), async {
            delay(Duration::from_millis(10)).await?;
            write_all(&mut a, "ready").await
        }))
        .await
    })
    .unwrap();
    let mut buf = [0u8; 5];
    ctx.block_on(read_exact(&mut &b, &mut buf[..])).unwrap();
    assert_eq!(&buf, b"ready");
    // A stop token cancels a wait.
    let source = StopSource::new();
    source.request_stop();
    let err = ctx
        .block_on(with_stop_token(source.token(), b.wait(Interest::Read)))
        .unwrap_err();
    assert!(is_canceled(&err));
}

#[test]
fn one_task_reads_while_another_writes_through_shared_references() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = connected(&ctx);
    let data: Vec<u8> = (0..4 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    let mut got = vec![0u8; data.len()];
    let (echoed, ()) = ctx
        .block_on(async {
            when_all((
                // Echo b's input back through b, reading and writing concurrently.
                async {
                    let (mut r, mut w) = (&b, &b);
                    let mut buf = vec![0u8; 64 * 1024];
                    loop {
                        let n = r.read(&mut buf[..]).await?;
                        if n == 0 {
                            return w.shutdown().await.map(|()| 0usize);
                        }
                        write_all(&mut w, &buf[..n]).await?;
                    }
                },
                async {
                    let (mut r, mut w) = (&a, &a);
                    let sender = async {
                        write_all(&mut w, &data[..]).await?;
                        w.shutdown().await
                    };
                    let (_, n) = when_all((sender, read_exact(&mut r, &mut got[..]))).await?;
                    assert_eq!(n, data.len());
                    Ok(())
                },
            ))
            .await
        })
        .unwrap();
    assert_eq!(echoed, 0);
    assert!(got == data);
}

#[test]
fn two_tasks_accepting_on_one_listener_both_complete() {
    let ctx = IoContext::new().unwrap();
    let listener = std::sync::Arc::new(TcpListener::bind(&ctx, loopback()).unwrap());
    let addr = listener.local_addr().unwrap();
    let accepts: Vec<_> = (0..2)
        .map(|_| {
            let listener = listener.clone();
            ctx.spawn(async move { listener.accept().await.map(drop) })
        })
        .collect();
    assert_eq!(ctx.poll(), 2, "both accepts wait");
    // Both connections are queued before the reactor sees the listener's edge.
    let _clients: Vec<_> = (0..2)
        .map(|_| std::net::TcpStream::connect(addr).unwrap())
        .collect();
    ctx.run_for(Duration::from_secs(5));
    for h in accepts {
        assert!(h.is_finished(), "an accept missed its wake-up");
        ctx.block_on(h).unwrap().unwrap();
    }
}

#[test]
fn two_tasks_waiting_for_readiness_on_one_stream_both_complete() {
    let ctx = IoContext::new().unwrap();
    let (a, mut b) = connected(&ctx);
    let a = std::sync::Arc::new(a);
    let waits: Vec<_> = (0..2)
        .map(|_| {
            let a = a.clone();
            ctx.spawn(async move { a.wait(Interest::Read).await })
        })
        .collect();
    assert_eq!(ctx.poll(), 2, "both waits are pending");
    ctx.block_on(write_all(&mut b, "x")).unwrap();
    ctx.run_for(Duration::from_secs(5));
    for h in waits {
        assert!(h.is_finished(), "a wait missed its wake-up");
        ctx.block_on(h).unwrap().unwrap();
    }
}

#[test]
fn a_cancel_left_by_a_dropped_read_does_not_fail_a_read_that_finds_data() {
    use std::future::Future;
    use std::task::Poll;
    let ctx = IoContext::new().unwrap();
    let (a, mut b) = connected(&ctx);
    ctx.block_on(async {
        let mut buf = [0u8; 8];
        let mut reader = &a;
        let mut dropped = std::pin::pin!(reader.read(&mut buf[..]));
        let pending =
            std::future::poll_fn(|cx| Poll::Ready(dropped.as_mut().poll(cx).is_pending())).await;
        assert!(pending, "the read waits");
    });
    // The dropped read's waker is still registered: the cancel applies to it.
    a.cancel();
    ctx.block_on(write_all(&mut b, "data")).unwrap();
    let mut buf = [0u8; 8];
    let n = ctx.block_on((&mut &a).read(&mut buf[..])).unwrap();
    assert_eq!(&buf[..n], b"data");
    // Nor does it linger for a later read that has to wait.
    let (n, _) = ctx
        .block_on(async {
            when_all(((&mut &a).read(&mut buf[..]), async {
                delay(Duration::from_millis(20)).await?;
                write_all(&mut b, "more").await
            }))
            .await
        })
        .unwrap();
    assert_eq!(&buf[..n], b"more");
}
