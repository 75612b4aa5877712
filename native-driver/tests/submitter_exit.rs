//! Requests outlive the thread that submitted them.
//!
//! Without SQPOLL an io_uring request belongs to the thread whose `io_uring_enter`
//! submitted it: its wake-ups run as that thread's task work, and once the thread has
//! exited the kernel ends the request at its next event with `ECANCELED` (its task work
//! falls back to a kernel worker, which may not run it). Any thread that submits (a
//! short-lived runner, or a push that submits at once because a runner sleeps in the
//! kernel) may be that thread for a long-lived socket's operation. Each kind of
//! operation must survive it: after a short-lived thread used a socket (and so
//! submitted its next operation) and exited, the socket must still work (skipped
//! where the kernel has no io_uring).

use std::future::Future;
use std::io::{Read, Write};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use strait_native::{Backend, IoContext, TcpListener, TcpStream, UdpSocket};
use strait_streams::{read_exact, write_all, WriteStreamExt};

/// A context of `backend`, or `None` when the kernel has no io_uring (noted).
fn context(backend: Backend) -> Option<Arc<IoContext>> {
    match IoContext::builder().backend(backend).build() {
        Ok(ctx) => Some(Arc::new(ctx)),
        Err(e) => {
            eprintln!("skipped: no io_uring here ({e})");
            None
        }
    }
}

/// A future that stays pending until [`Release::release`].
#[derive(Clone, Default)]
struct Release(Arc<Mutex<(bool, Option<Waker>)>>);

impl Release {
    fn release(&self) {
        let waker = {
            let mut state = self.0.lock().unwrap();
            state.0 = true;
            state.1.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }
}

impl Future for Release {
    type Output = ();
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.0.lock().unwrap();
        if state.0 {
            return Poll::Ready(());
        }
        state.1 = Some(cx.waker().clone());
        Poll::Pending
    }
}

/// A long-lived runner asleep in the ring until released: while it sleeps, a push
/// from any other thread submits at once, from that thread.
struct SleepingRunner {
    release: Release,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl SleepingRunner {
    fn start(ctx: &Arc<IoContext>) -> Self {
        let release = Release::default();
        let thread = {
            let (ctx, release) = (ctx.clone(), release.clone());
            std::thread::spawn(move || ctx.block_on(release))
        };
        // Let it reach the kernel.
        std::thread::sleep(Duration::from_millis(50));
        Self {
            release,
            thread: Some(thread),
        }
    }
}

impl Drop for SleepingRunner {
    fn drop(&mut self) {
        self.release.release();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Runs `f` on a thread that exits before this returns.
fn on_short_lived_thread<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(f).join().unwrap())
}

#[test]
fn a_datagram_socket_used_by_a_thread_that_exited_still_receives() {
    let Some(ctx) = context(Backend::IoUring) else {
        return;
    };
    let _runner = SleepingRunner::start(&ctx);
    let sock = UdpSocket::bind(&*ctx, "127.0.0.1:0").unwrap();
    let addr = sock.local_addr().unwrap();
    let peer = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    peer.send_to(b"one", addr).unwrap();
    // A short-lived thread receives one datagram: the receive it arms for the next
    // one is submitted from that thread (a runner sleeps in the kernel).
    let first = on_short_lived_thread(|| {
        let mut buf = [0u8; 16];
        let (n, _) = ctx.block_on(sock.recv_from(&mut buf)).unwrap();
        buf[..n].to_vec()
    });
    assert_eq!(first, b"one");
    std::thread::sleep(Duration::from_millis(20));
    peer.send_to(b"two", addr).unwrap();
    let mut buf = [0u8; 16];
    let second = ctx.block_on(strait_streams::timeout(
        Duration::from_secs(5),
        sock.recv_from(&mut buf),
    ));
    let (n, _) = second.expect("the next datagram failed after its submitter exited");
    assert_eq!(&buf[..n], b"two");
}

/// A connection made on a short-lived thread (its receive submitted there), then
/// read and written by the long-lived one; and a listener whose accept was armed
/// there.
fn streams_outlive_their_submitter(backend: Backend) {
    let Some(ctx) = context(backend) else {
        return;
    };
    let _runner = SleepingRunner::start(&ctx);
    let peer = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = peer.local_addr().unwrap();
    let (mut stream, listener) = on_short_lived_thread(|| {
        ctx.block_on(async {
            let mut s = TcpStream::connect(&*ctx, addr).await.unwrap();
            // Something the peer reads, so a send (maybe direct) happens here too.
            write_all(&mut s, b"hello").await.unwrap();
            let listener = TcpListener::bind(&*ctx, "127.0.0.1:0").unwrap();
            let l_addr = listener.local_addr().unwrap();
            let c = std::net::TcpStream::connect(l_addr).unwrap();
            let (_accepted, _) = listener.accept().await.unwrap();
            drop(c);
            (s, listener)
        })
    });
    let (mut theirs, _) = peer.accept().unwrap();
    let mut hello = [0u8; 5];
    theirs.read_exact(&mut hello).unwrap();
    assert_eq!(&hello, b"hello");
    std::thread::sleep(Duration::from_millis(20));
    for round in 0..3u8 {
        theirs.write_all(&[round; 100]).unwrap();
        let got = ctx.block_on(strait_streams::timeout(Duration::from_secs(5), async {
            let mut buf = [0u8; 100];
            read_exact(&mut stream, &mut buf[..]).await.map(|_| buf)
        }));
        let got = got.expect("the stream failed after its submitter exited");
        assert_eq!(got, [round; 100]);
        ctx.block_on(async {
            write_all(&mut stream, &[round; 10]).await.unwrap();
            stream.flush().await.unwrap();
        });
        let mut back = [0u8; 10];
        theirs.read_exact(&mut back).unwrap();
        assert_eq!(back, [round; 10]);
    }
    let l_addr = listener.local_addr().unwrap();
    let _c = std::net::TcpStream::connect(l_addr).unwrap();
    let accepted = ctx.block_on(strait_streams::timeout(
        Duration::from_secs(5),
        listener.accept(),
    ));
    accepted.expect("the listener failed after its submitter exited");
}

#[test]
fn streams_and_listeners_on_the_completion_layer_outlive_their_submitter() {
    streams_outlive_their_submitter(Backend::IoUring);
}

#[test]
fn streams_and_listeners_on_readiness_polls_outlive_their_submitter() {
    streams_outlive_their_submitter(Backend::Auto);
}
