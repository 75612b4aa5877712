//! IoContext: run modes, several threads running one context, thread-per-core layout.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use strait_native::{IoContext, TcpListener, TcpStream, UnixStream};
use strait_streams::{read_exact, write_all, ReadStreamExt};

async fn echo_once(mut conn: TcpStream) -> std::io::Result<()> {
    let mut buf = [0u8; 64];
    let n = conn.read(&mut buf[..]).await?;
    write_all(&mut conn, &buf[..n]).await?;
    Ok(())
}

#[test]
fn run_returns_when_work_is_done_and_stop_restart_work() {
    let ctx = IoContext::new().unwrap();
    assert_eq!(ctx.run(), 0, "no work: returns at once");
    let h = ctx.spawn(async {
        strait_streams::delay(Duration::from_millis(5))
            .await
            .unwrap();
        1
    });
    assert!(ctx.run() >= 1);
    assert!(h.is_finished());
    ctx.stop();
    let _pending = ctx.spawn(async {});
    assert_eq!(ctx.run(), 0, "stopped");
    ctx.restart();
    assert_eq!(ctx.run(), 1);
    assert_eq!(ctx.run_for(Duration::from_millis(10)), 0);
    assert_eq!(ctx.poll(), 0);
}

#[test]
fn several_threads_can_run_one_context() {
    let ctx = IoContext::new().unwrap();
    let listener = Arc::new(TcpListener::bind(&ctx, "127.0.0.1:0").unwrap());
    let addr = listener.local_addr().unwrap();
    let served = Arc::new(AtomicUsize::new(0));
    const CLIENTS: usize = 64;
    {
        let (listener, served) = (listener.clone(), served.clone());
        ctx.spawn(async move {
            for _ in 0..CLIENTS {
                let (conn, _) = listener.accept().await.unwrap();
                let served = served.clone();
                strait_streams::spawn(async move {
                    echo_once(conn).await.unwrap();
                    served.fetch_add(1, Ordering::SeqCst);
                })
                .detach();
            }
        })
        .detach();
    }
    let ok = AtomicUsize::new(0);
    // Clients on their own context and thread; the server context runs on two threads.
    let client_ctx = IoContext::new().unwrap();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| ctx.run());
        }
        client_ctx.block_on(async {
            for _ in 0..CLIENTS {
                let mut c = TcpStream::connect(&client_ctx, addr).await.unwrap();
                write_all(&mut c, "ping").await.unwrap();
                let mut back = [0u8; 4];
                read_exact(&mut c, &mut back[..]).await.unwrap();
                assert_eq!(&back, b"ping");
                ok.fetch_add(1, Ordering::SeqCst);
            }
        });
    });
    assert_eq!(served.load(Ordering::SeqCst), CLIENTS);
    assert_eq!(ok.load(Ordering::SeqCst), CLIENTS);
}

#[test]
fn thread_per_core_contexts_share_a_port_with_reuseport() {
    // One single-threaded (lock-free) context per core, each with its own listener.
    let first = IoContext::new_single_threaded().unwrap();
    let l1 = TcpListener::bind_with(&first, "127.0.0.1:0", 128, true).unwrap();
    let addr: SocketAddr = l1.local_addr().unwrap();
    let second = IoContext::new_single_threaded().unwrap();
    let l2 = TcpListener::bind_with(&second, addr, 128, true).unwrap();
    let accepted = [AtomicUsize::new(0), AtomicUsize::new(0)];
    let accepted = &accepted;
    const CLIENTS: usize = 40;
    std::thread::scope(|s| {
        for (ctx, listener, count) in [(&first, &l1, &accepted[0]), (&second, &l2, &accepted[1])] {
            s.spawn(move || {
                ctx.block_on(async {
                    let total =
                        || accepted[0].load(Ordering::SeqCst) + accepted[1].load(Ordering::SeqCst);
                    while total() < CLIENTS {
                        let r =
                            strait_streams::timeout(Duration::from_millis(100), listener.accept())
                                .await;
                        if let Ok((conn, _)) = r {
                            count.fetch_add(1, Ordering::SeqCst);
                            echo_once(conn).await.unwrap();
                        }
                    }
                })
            });
        }
        let client = IoContext::new().unwrap();
        client.block_on(async {
            for _ in 0..CLIENTS {
                let mut c = TcpStream::connect(&client, addr).await.unwrap();
                write_all(&mut c, "x").await.unwrap();
                let mut b = [0u8; 1];
                read_exact(&mut c, &mut b[..]).await.unwrap();
            }
        });
    });
    let (a, b) = (
        accepted[0].load(Ordering::SeqCst),
        accepted[1].load(Ordering::SeqCst),
    );
    assert_eq!(a + b, CLIENTS);
    assert!(
        a > 0 && b > 0,
        "the kernel spread connections over both contexts ({a}/{b})"
    );
}

#[test]
fn a_task_reading_a_busy_stream_cannot_starve_the_others() {
    let ctx = IoContext::new().unwrap();
    let (mut reader, mut writer) = UnixStream::pair(&ctx).unwrap();
    const BYTES: usize = 32 * 1024;
    // Everything is buffered up front: every one-byte read completes inline.
    ctx.block_on(write_all(&mut writer, &[3u8; BYTES][..]))
        .unwrap();
    let other_ran = Arc::new(AtomicBool::new(false));
    let seen = other_ran.clone();
    let busy = ctx.spawn(async move {
        let mut byte = [0u8; 1];
        let mut reads = 0;
        while !seen.load(Ordering::SeqCst) {
            assert_eq!(reader.read(&mut byte[..]).await.unwrap(), 1);
            reads += 1;
            assert!(reads < BYTES, "the other task never ran");
        }
        reads
    });
    let flag = other_ran.clone();
    ctx.spawn(async move { flag.store(true, Ordering::SeqCst) })
        .detach();
    ctx.run();
    let reads = ctx.block_on(busy).unwrap();
    assert!(
        reads <= 1024,
        "yielded after its budget, not after {reads} reads"
    );
}

#[test]
fn a_single_threaded_context_runs_io_timers_and_remote_spawns() {
    let ctx = IoContext::new_single_threaded().unwrap();
    let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = ctx.spawn(async move {
        let (conn, _) = listener.accept().await.unwrap();
        echo_once(conn).await.unwrap();
    });
    // A task spawned from another thread arrives through the lock-free stack.
    let remote = std::thread::scope(|s| {
        s.spawn(|| {
            ctx.spawn(async {
                strait_streams::delay(Duration::from_millis(5))
                    .await
                    .unwrap();
                7
            })
        })
        .join()
        .unwrap()
    });
    let echoed = ctx.block_on(async {
        let mut c = TcpStream::connect(&ctx, addr).await.unwrap();
        write_all(&mut c, "hi").await.unwrap();
        let mut b = [0u8; 2];
        read_exact(&mut c, &mut b[..]).await.unwrap();
        b
    });
    assert_eq!(&echoed, b"hi");
    ctx.run();
    assert!(server.is_finished());
    assert_eq!(ctx.block_on(remote).unwrap(), 7);
}

#[test]
fn a_single_threaded_context_refuses_a_second_runner_thread() {
    let ctx = IoContext::new_single_threaded().unwrap();
    ctx.poll(); // this thread owns it now
    let second = std::thread::scope(|s| s.spawn(|| ctx.poll()).join());
    let panic = second.unwrap_err();
    let msg = panic
        .downcast_ref::<&str>()
        .map(ToString::to_string)
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default();
    assert!(msg.contains("single-threaded IoContext"), "{msg}");
    // The owner still runs it.
    assert_eq!(ctx.block_on(async { 5 }), 5);
}

#[test]
fn run_for_duration_max_runs_until_the_work_is_done() {
    let ctx = IoContext::new().unwrap();
    let h = ctx.spawn(async {
        strait_streams::delay(Duration::from_millis(5))
            .await
            .unwrap();
        7
    });
    assert!(ctx.run_for(Duration::MAX) >= 1);
    assert_eq!(ctx.block_on(h).unwrap(), 7);
}

#[test]
fn a_spawned_task_connects_through_the_current_handle() {
    use strait_native::Handle;
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(ctx.handle(), "127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let client = ctx.spawn(async move {
        // No context in sight: the task finds its own.
        let handle = Handle::current();
        let ip: std::net::IpAddr = std::net::Ipv4Addr::LOCALHOST.into();
        let mut c = TcpStream::connect(&handle, (ip, port)).await?;
        write_all(&mut c, "hi").await?;
        Ok::<_, std::io::Error>(())
    });
    let (mut conn, _) = ctx.block_on(listener.accept()).unwrap();
    let mut buf = [0u8; 2];
    ctx.block_on(read_exact(&mut conn, &mut buf[..])).unwrap();
    assert_eq!(&buf, b"hi");
    ctx.block_on(client).unwrap().unwrap();
    assert!(
        Handle::try_current().is_none(),
        "no context outside its tasks"
    );
    assert!(ctx.block_on(async { Handle::try_current() }).is_some());
}

#[test]
fn addresses_are_accepted_in_every_numeric_form_and_host_names_refused() {
    use std::net::{Ipv4Addr, SocketAddr};
    use strait_native::UdpSocket;
    let ctx = IoContext::new().unwrap();
    let a: SocketAddr = "127.0.0.1:0".parse().unwrap();
    TcpListener::bind(&ctx, a).unwrap();
    TcpListener::bind(&ctx, (Ipv4Addr::LOCALHOST, 0)).unwrap();
    TcpListener::bind(&ctx, String::from("127.0.0.1:0")).unwrap();
    UdpSocket::bind(&ctx, "[::1]:0")
        .or_else(|_| UdpSocket::bind(&ctx, "127.0.0.1:0"))
        .unwrap();
    let err = TcpListener::bind(&ctx, "localhost:0").unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
    let err = ctx
        .block_on(TcpStream::connect(&ctx, "localhost:80"))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

#[test]
fn a_handle_that_outlives_its_context_makes_nothing() {
    let ctx = IoContext::new().unwrap();
    let handle = ctx.handle();
    drop(ctx);
    let err = TcpListener::bind(&handle, "127.0.0.1:0").unwrap_err();
    assert!(err.to_string().contains("IoContext"), "{err}");
    let spawned = handle.spawn(async { 1 });
    assert!(spawned.is_finished(), "aborted at once");
}

/// The message of a caught panic.
fn panic_message<T: std::fmt::Debug>(caught: std::thread::Result<T>) -> String {
    let payload = caught.expect_err("expected a panic");
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
        .unwrap_or_default()
}

/// Blocking inside a task of the context would stall the context's other tasks, and
/// deadlocks when the awaited work is queued behind the blocked task: `block_on` refuses
/// and says why, inside a spawned task and inside another `block_on`, on both kinds of
/// context.
#[test]
fn block_on_inside_a_task_of_the_context_panics_saying_why() {
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let contexts = [
        IoContext::new().unwrap(),
        IoContext::new_single_threaded().unwrap(),
    ];
    for ctx in contexts {
        let ctx = Arc::new(ctx);
        let inner = ctx.clone();
        let task = ctx.spawn(async move {
            panic_message(catch_unwind(AssertUnwindSafe(|| {
                inner.block_on(async { 1 })
            })))
        });
        ctx.run();
        let msg = ctx.block_on(task).unwrap();
        assert!(msg.contains("inside a task"), "{msg}");
        assert!(msg.contains("deadlock"), "{msg}");

        let msg = ctx.block_on(async {
            panic_message(catch_unwind(AssertUnwindSafe(|| ctx.block_on(async { 2 }))))
        });
        assert!(msg.contains("inside a task"), "{msg}");
        // The context still works afterwards.
        assert_eq!(ctx.block_on(async { 3 }), 3);
    }
}

#[test]
fn spawn_local_runs_non_send_tasks_with_sockets_on_a_single_threaded_context() {
    use std::rc::Rc;
    use strait_streams::{LocalAnyStream, ReadStreamExt};
    let ctx = IoContext::new_single_threaded().unwrap();
    let listener = strait_native::TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let log = Rc::new(std::cell::RefCell::new(Vec::new())); // !Send
    let l = log.clone();
    let server = ctx.spawn_local(async move {
        let (conn, _) = listener.accept().await.unwrap();
        let mut conn = LocalAnyStream::new(conn);
        let mut buf = [0u8; 16];
        let n = conn.read(&mut buf[..]).await.unwrap();
        l.borrow_mut()
            .push(String::from_utf8_lossy(&buf[..n]).into_owned());
        strait_streams::write_all(&mut conn, "ok").await.unwrap();
    });
    let client = ctx.spawn(async move {
        let mut c = strait_native::TcpStream::connect(strait_native::Handle::current(), addr)
            .await
            .unwrap();
        strait_streams::write_all(&mut c, "local").await.unwrap();
        let mut back = [0u8; 2];
        strait_streams::read_exact(&mut c, &mut back[..])
            .await
            .unwrap();
        back
    });
    ctx.block_on(server).unwrap();
    assert_eq!(&ctx.block_on(client).unwrap(), b"ok");
    assert_eq!(*log.borrow(), ["local"]);
}

#[test]
#[should_panic(expected = "needs a single-threaded context")]
fn spawn_local_refuses_a_multi_threaded_context() {
    let ctx = IoContext::new().unwrap();
    ctx.spawn_local(async {}).detach();
}

#[test]
fn a_context_with_local_tasks_refuses_another_runner_thread() {
    let ctx = std::sync::Arc::new(IoContext::new_single_threaded().unwrap());
    let state = std::rc::Rc::new(std::cell::Cell::new(0));
    let s = state.clone();
    let handle = ctx.spawn_local(async move { s.set(1) });
    let other = ctx.clone();
    let err = std::thread::spawn(move || other.run())
        .join()
        .expect_err("another runner must panic");
    let msg = err.downcast_ref::<&str>().copied().unwrap_or_default();
    assert!(msg.contains("run by one thread only"), "{msg}");
    ctx.block_on(handle).unwrap();
    assert_eq!(state.get(), 1);
}
