//! `Backend::Auto`: epoll drives the context and an io_uring serves files only. These
//! tests check the paths that split adds: a file completion wakes a runner asleep in
//! `epoll_wait`, an operation started on a thread that runs nothing reaches the kernel
//! and completes, and a context dropped with file operations in flight ends them and
//! frees their buffers only after the kernel is done (run them under AddressSanitizer
//! too: `native-driver/ci.sh` says how).
//!
//! They need `Auto` to be what runs: with `STRAIT_NATIVE_BACKEND` set to `epoll` or
//! `io_uring` (the suite's other CI passes) they return at once; unset or `auto` on a
//! kernel with io_uring they must find the file ring, or fail.

use std::fs::OpenOptions;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::pin;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use strait_native::{Backend, IoContext, RandomAccessFile, StreamFile};
use strait_streams::driver::enter_env;
use strait_streams::{IoEnv, ReadStreamExt};

/// An `Auto` context with its file ring, or `None` when the environment picked another
/// backend for this run.
fn auto_context(single_threaded: bool) -> Option<IoContext> {
    let ctx = IoContext::builder()
        .backend(Backend::Auto)
        .single_threaded(single_threaded)
        .build()
        .unwrap();
    match std::env::var("STRAIT_NATIVE_BACKEND").as_deref() {
        Ok("epoll") | Ok("io_uring") => return None,
        _ => {}
    }
    assert_eq!(ctx.backend(), Backend::Epoll, "epoll drives under Auto");
    assert!(
        ctx.completion_files(),
        "no file ring: {:?}",
        ctx.fallback_reason()
    );
    assert!(!ctx.completion_sockets());
    Some(ctx)
}

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("strait-file-auto-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn fifo(name: &str) -> PathBuf {
    let path = temp(name);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    path
}

fn read_write() -> OpenOptions {
    let mut o = OpenOptions::new();
    // Read-write: opening a FIFO for reading alone blocks until a writer comes.
    o.read(true).write(true);
    o
}

/// How many of this process's descriptors name `path`.
fn open_descriptors_of(path: &Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target == path)
        .count()
}

/// Runs `f` on a thread and fails the test if it has not returned within `limit` (a
/// lost wake-up hangs rather than fails).
fn within<T: Send + 'static>(limit: Duration, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || tx.send(f()).unwrap());
    rx.recv_timeout(limit)
        .unwrap_or_else(|_| panic!("no completion within {limit:?}: a lost wake-up"))
}

#[test]
fn a_file_read_wakes_the_only_runner_asleep_in_epoll_wait() {
    if auto_context(true).is_none() {
        return;
    }
    let path = fifo("sleeper");
    let (writer_path, cleanup) = (path.clone(), path.clone());
    let (got, stats_delta) = within(Duration::from_secs(20), move || {
        let ctx = auto_context(true).unwrap();
        let mut f = ctx.block_on(StreamFile::open(&path, read_write())).unwrap();
        // The data comes later, from a thread of its own: the read waits in the
        // kernel, and the runner (this thread, the only one) sleeps in `epoll_wait`
        // with no timer and nothing else queued. The read's completion runs as task
        // work of this thread: it must interrupt that wait and make the ring readable.
        let writer = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(200));
            let mut w = OpenOptions::new().write(true).open(&writer_path).unwrap();
            std::io::Write::write_all(&mut w, b"late bytes").unwrap();
            w
        });
        let before = ctx.stats();
        let mut buf = [0u8; 32];
        let n = ctx.block_on(f.read(&mut buf[..])).unwrap();
        let after = ctx.stats();
        drop(writer.join().unwrap());
        (
            buf[..n].to_vec(),
            (
                after.file_ring_completions - before.file_ring_completions,
                after.completion_operations - before.completion_operations,
                after.enters - before.enters,
            ),
        )
    });
    assert_eq!(got, b"late bytes");
    let (ring_cqes, ops, epoll_calls) = stats_delta;
    assert!(ring_cqes >= 1, "the read completed on the file ring");
    assert!(ops >= 1);
    assert!(epoll_calls >= 1, "the runner waited in epoll_wait");
    std::fs::remove_file(cleanup).unwrap();
}

/// A waker that unparks the thread that polls.
struct Unpark(std::thread::Thread);

impl Wake for Unpark {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }
}

/// Polls `future` on this thread (which runs no context) inside `env` until it is
/// ready, parking in between.
fn poll_outside<F: Future>(env: &IoEnv, future: F, limit: Duration) -> F::Output {
    let mut future = pin!(future);
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let deadline = Instant::now() + limit;
    loop {
        if let Poll::Ready(out) = enter_env(env, || future.as_mut().poll(&mut cx)) {
            return out;
        }
        assert!(Instant::now() < deadline, "never woken");
        std::thread::park_timeout(Duration::from_millis(500));
    }
}

#[test]
fn file_operations_started_on_a_thread_that_runs_nothing_complete() {
    let Some(ctx) = auto_context(false) else {
        return;
    };
    let ctx = Arc::new(ctx);
    let path = temp("outside");
    let data: Vec<u8> = (0..64 * 1024u32).map(|i| (i * 7 + i / 13) as u8).collect();
    std::fs::write(&path, &data).unwrap();
    let fifo_path = fifo("outside-fifo");
    let (file, mut stream) = ctx.block_on(async {
        let file = RandomAccessFile::open(&path, OpenOptions::new().read(true).clone()).await;
        let stream = StreamFile::open(&fifo_path, read_write()).await;
        (file.unwrap(), stream.unwrap())
    });
    // One runner, asleep in epoll_wait until stopped.
    let runner = {
        let ctx = ctx.clone();
        std::thread::spawn(move || {
            let guard = ctx.spawn(strait_streams::delay(Duration::from_secs(60)));
            ctx.run_for(Duration::from_secs(30));
            drop(guard);
        })
    };
    let before = ctx.stats();
    let env = IoEnv::new(ctx.executor());
    // A page-cache read: submitted by this thread's push, it completes inside that
    // very `io_uring_enter`; the runner sees the ring readable and wakes this thread.
    let mut got = Vec::new();
    let mut buf = vec![0u8; 8192];
    loop {
        let (n, b) = poll_outside(
            &env,
            file.read_at(buf, got.len() as u64),
            Duration::from_secs(10),
        );
        let n = n.unwrap();
        if n == 0 {
            break;
        }
        got.extend_from_slice(&b[..n]);
        buf = b;
    }
    assert!(got == data);
    // A read that waits: its completion runs as task work of this thread, parked in
    // a futex meanwhile (interrupted for it: no COOP_TASKRUN).
    let writer_path = fifo_path.clone();
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        let mut w = OpenOptions::new().write(true).open(&writer_path).unwrap();
        std::io::Write::write_all(&mut w, b"from a pipe").unwrap();
        w
    });
    let mut small = [0u8; 32];
    let n = poll_outside(&env, stream.read(&mut small[..]), Duration::from_secs(10)).unwrap();
    assert_eq!(&small[..n], b"from a pipe");
    drop(writer.join().unwrap());
    let after = ctx.stats();
    assert!(
        after.file_ring_completions - before.file_ring_completions >= (data.len() / 8192) as u64,
        "{before:?} -> {after:?}"
    );
    ctx.stop();
    runner.join().unwrap();
    std::fs::remove_file(&path).unwrap();
    std::fs::remove_file(&fifo_path).unwrap();
}

#[test]
fn a_context_dropped_with_file_operations_in_flight_ends_them_and_leaks_nothing() {
    if auto_context(false).is_none() {
        return;
    }
    let fifo_path = fifo("drop");
    let file_path = temp("drop-file");
    std::fs::write(&file_path, vec![9u8; 256 * 1024]).unwrap();
    for round in 0..20 {
        let ctx = Arc::new(auto_context(round % 2 == 0).unwrap());
        let (file, streams) = ctx.block_on(async {
            let file = RandomAccessFile::open(&file_path, OpenOptions::new().read(true).clone())
                .await
                .unwrap();
            let mut streams = Vec::new();
            for _ in 0..4 {
                streams.push(StreamFile::open(&fifo_path, read_write()).await.unwrap());
            }
            (file, streams)
        });
        // Reads that wait for ever (FIFOs nobody writes), owned by spawned tasks...
        for mut s in streams {
            ctx.spawn(async move {
                let mut buf = vec![0u8; 4096];
                let _ = s.read(&mut buf[..]).await;
            })
            .detach();
        }
        // ...page-cache reads that keep the ring busy...
        for t in 0..4u64 {
            let file = file.clone();
            ctx.spawn(async move {
                let mut buf = vec![0u8; 16 * 1024];
                for i in 0.. {
                    let (r, b) = file.read_at(buf, ((i * 4 + t) % 16) * 16 * 1024).await;
                    if r.is_err() {
                        break;
                    }
                    buf = b;
                }
            })
            .detach();
        }
        // ...and one polled from outside that outlives the context.
        let mut outside_stream = ctx
            .block_on(StreamFile::open(&fifo_path, read_write()))
            .unwrap();
        let env = IoEnv::new(ctx.executor());
        let mut outside = Box::pin(async move {
            let mut buf = [0u8; 16];
            outside_stream.read(&mut buf[..]).await
        });
        let mut cx = Context::from_waker(Waker::noop());
        let polled = enter_env(&env, || outside.as_mut().poll(&mut cx));
        assert!(polled.is_pending(), "{polled:?}");
        // Let the tasks start their reads.
        ctx.block_on(strait_streams::delay(Duration::from_millis(5)))
            .unwrap();
        let in_flight = ctx.stats();
        assert!(in_flight.file_ring_enters > 0, "{in_flight:?}");
        drop(env);
        let ctx = Arc::try_unwrap(ctx).expect("the only reference");
        let start = Instant::now();
        drop(ctx);
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "teardown waited for the kernel's operations"
        );
        // The outside read ends with an error once its context is gone (its buffer
        // was the slot's, freed after the kernel's final CQE).
        match outside.as_mut().poll(&mut cx) {
            Poll::Ready(r) => assert!(r.is_err(), "{r:?}"),
            Poll::Pending => panic!("a read outlived its context"),
        }
        drop(outside);
        drop(file);
    }
    // Every FIFO descriptor is closed: the operations' slots let go of them.
    let deadline = Instant::now() + Duration::from_secs(5);
    while open_descriptors_of(&fifo_path) > 0 {
        assert!(Instant::now() < deadline, "descriptors leaked");
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::remove_file(&fifo_path).unwrap();
    std::fs::remove_file(&file_path).unwrap();
}

/// A task that reads a cached file in a loop completes a read on nearly every wait of
/// the runner (the page-cache hit is posted inside its own submit, and the wait hands
/// it over without `epoll_wait`): sockets on the same runner must still get their
/// readiness (epoll is asked at least every few waits).
#[test]
fn a_stream_of_file_completions_does_not_starve_the_sockets() {
    let Some(ctx) = auto_context(true) else {
        return;
    };
    let path = temp("busy");
    std::fs::write(&path, vec![1u8; 64 * 1024]).unwrap();
    let file = ctx
        .block_on(RandomAccessFile::open(
            &path,
            OpenOptions::new().read(true).clone(),
        ))
        .unwrap();
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        let done = done.clone();
        ctx.spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut reads = 0u64;
            while !done.load(std::sync::atomic::Ordering::SeqCst) {
                let (n, b) = file.read_at(buf, (reads % 16) * 4096).await;
                assert_eq!(n.unwrap(), 4096);
                buf = b;
                reads += 1;
            }
            reads
        })
    };
    let listener = strait_native::TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let round_trips = ctx.block_on(async {
        let server = async {
            let (mut conn, _) = listener.accept().await?;
            let mut buf = [0u8; 4];
            for _ in 0..50 {
                strait_streams::read_exact(&mut conn, &mut buf[..]).await?;
                strait_streams::write_all(&mut conn, &buf[..]).await?;
            }
            Ok::<_, std::io::Error>(())
        };
        let client = async {
            let mut conn = strait_native::TcpStream::connect(&ctx, addr).await?;
            let mut buf = [0u8; 4];
            for i in 0..50u32 {
                strait_streams::write_all(&mut conn, &i.to_le_bytes()[..]).await?;
                strait_streams::read_exact(&mut conn, &mut buf[..]).await?;
                assert_eq!(u32::from_le_bytes(buf), i);
            }
            Ok::<_, std::io::Error>(50)
        };
        let both = strait_streams::when_all((server, client));
        strait_streams::timeout(Duration::from_secs(10), both).await
    });
    let ((), echoed) = round_trips.expect("the sockets starved, or a socket failed");
    assert_eq!(echoed, 50);
    done.store(true, std::sync::atomic::Ordering::SeqCst);
    let reads = ctx.block_on(reader).unwrap();
    assert!(reads > 0);
    let stats = ctx.stats();
    assert!(
        stats.file_ring_completions >= reads,
        "the reads ran on the file ring: {stats:?}"
    );
    std::fs::remove_file(&path).unwrap();
}
