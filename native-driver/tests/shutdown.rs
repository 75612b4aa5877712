//! Dropping an `IoContext`: tasks it owns are aborted, their descriptors released, and
//! sockets or timers that outlive it fail promptly instead of hanging.
//!
//! Every test here counts or opens descriptors, so they run one at a time (`SERIAL`),
//! and this binary holds no other tests: a parallel test opening a socket would skew
//! the counts.

use std::io;
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use strait_native::{IoContext, TcpListener, TcpStream, Timer, UdpSocket};
use strait_streams::{JoinError, ReadStreamExt};

static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Runs `f` on its own thread and fails the test if it does not finish in `limit`.
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(limit)
        .expect("the operation hung instead of failing")
}

fn is_context_gone(e: &io::Error) -> bool {
    e.to_string().contains("IoContext")
}

#[test]
fn dropping_contexts_with_pending_accepts_releases_every_descriptor() {
    let _serial = serial();
    let other = IoContext::new().unwrap();
    let before = open_fds();
    for _ in 0..20 {
        let ctx = IoContext::new().unwrap();
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        let accept = ctx.spawn(async move { listener.accept().await.map(drop) });
        // The task runs and waits on the reactor.
        assert_eq!(ctx.poll(), 1);
        assert_eq!(ctx.outstanding_work(), 1);
        drop(ctx);
        // Aborted at the drop (a join handle keeps the task's memory, and through its
        // environment the context's selector and eventfd, until it is dropped).
        assert!(accept.is_finished());
        let r = other.block_on(accept);
        assert!(matches!(r, Err(JoinError::Aborted)), "{r:?}");
    }
    assert_eq!(
        open_fds(),
        before,
        "every context, listener and eventfd closed"
    );
}

#[test]
fn detached_tasks_release_their_context_with_it() {
    let _serial = serial();
    let before = open_fds();
    for _ in 0..20 {
        let ctx = IoContext::new().unwrap();
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        ctx.spawn(async move { listener.accept().await.map(drop) })
            .detach();
        assert_eq!(ctx.poll(), 1);
    }
    assert_eq!(
        open_fds(),
        before,
        "every context, listener and eventfd closed"
    );
}

#[test]
fn dropping_a_context_aborts_tasks_waiting_on_timers_and_reads() {
    let _serial = serial();
    let other = IoContext::new().unwrap();
    let before = open_fds();
    let (handles, client) = {
        let ctx = IoContext::new().unwrap();
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let conn = ctx.block_on(listener.accept()).unwrap().0;
        drop(listener);
        let reader = ctx.spawn(async move {
            let mut buf = [0u8; 8];
            (&mut &conn).read(&mut buf[..]).await
        });
        let sleeper = ctx.spawn(async { strait_streams::delay(Duration::from_secs(3600)).await });
        ctx.run_for(Duration::from_millis(10));
        assert_eq!(ctx.outstanding_work(), 2);
        ((reader, sleeper), client)
    };
    // The accepted connection was closed with its task: the peer sees end of stream.
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut &client, &mut buf).unwrap(), 0);
    drop(client);
    assert!(matches!(other.block_on(handles.0), Err(JoinError::Aborted)));
    assert!(matches!(other.block_on(handles.1), Err(JoinError::Aborted)));
    assert_eq!(open_fds(), before);
}

#[test]
fn dropping_a_context_aborts_a_task_waiting_on_something_outside_it() {
    let _serial = serial();
    let other = IoContext::new().unwrap();
    let never = Arc::new(strait_streams::AsyncEvent::new());
    let (handle, client) = {
        let ctx = IoContext::new().unwrap();
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let conn = ctx.block_on(listener.accept()).unwrap().0;
        let n = never.clone();
        // Idle on an event nobody sets: neither the reactor nor a timer will wake it.
        let handle = ctx.spawn(async move {
            let _conn = conn;
            n.wait().await
        });
        ctx.run_for(Duration::from_millis(10));
        (handle, client)
    };
    // Its future was dropped with the context: the connection it held is closed.
    client
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 1];
    assert_eq!(std::io::Read::read(&mut &client, &mut buf).unwrap(), 0);
    assert!(matches!(other.block_on(handle), Err(JoinError::Aborted)));
}

#[test]
fn a_read_on_a_socket_whose_context_was_dropped_fails_promptly() {
    let _serial = serial();
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let _client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let conn = ctx.block_on(listener.accept()).unwrap().0;
    drop(ctx);
    let err = within(Duration::from_secs(5), move || {
        let other = IoContext::new().unwrap();
        let mut buf = [0u8; 8];
        other
            .block_on(async { (&mut &conn).read(&mut buf[..]).await })
            .unwrap_err()
    });
    assert!(is_context_gone(&err), "{err}");
    let err = within(Duration::from_secs(5), move || {
        IoContext::new()
            .unwrap()
            .block_on(listener.accept())
            .unwrap_err()
    });
    assert!(is_context_gone(&err), "{err}");
}

#[test]
fn a_pending_receive_driven_elsewhere_fails_when_its_context_is_dropped() {
    let _serial = serial();
    let ctx = IoContext::new().unwrap();
    let socket = Arc::new(UdpSocket::bind(&ctx, "127.0.0.1:0").unwrap());
    let receiving = {
        let socket = socket.clone();
        std::thread::spawn(move || {
            let other = IoContext::new().unwrap();
            let mut buf = [0u8; 8];
            other.block_on(socket.recv_from(&mut buf)).map(drop)
        })
    };
    std::thread::sleep(Duration::from_millis(50));
    drop(ctx);
    let err = within(Duration::from_secs(5), move || receiving.join().unwrap()).unwrap_err();
    assert!(is_context_gone(&err), "{err}");
}

#[test]
fn a_timer_whose_context_was_dropped_fails_promptly() {
    let _serial = serial();
    let ctx = IoContext::new().unwrap();
    let timer = Timer::new(&ctx);
    timer.expires_after(Duration::from_secs(3600));
    drop(ctx);
    let err = within(Duration::from_secs(5), move || {
        IoContext::new()
            .unwrap()
            .block_on(timer.wait())
            .unwrap_err()
    });
    assert!(is_context_gone(&err), "{err}");
}

#[test]
fn a_connect_with_a_dropped_context_fails() {
    let _serial = serial();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let ctx = IoContext::new().unwrap();
    let stream = ctx.block_on(TcpStream::connect(&ctx, addr)).unwrap();
    drop(ctx);
    let err = within(Duration::from_secs(5), move || {
        IoContext::new()
            .unwrap()
            .block_on(stream.wait(strait_native::Interest::Read))
            .unwrap_err()
    });
    assert!(is_context_gone(&err), "{err}");
}
