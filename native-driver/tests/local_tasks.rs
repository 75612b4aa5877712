//! A single-threaded context's local tasks are polled and dropped only on its runner
//! thread: not by another thread's `block_on`, a remote wake during the drop, or a later
//! thread that inherits an exited runner's thread-local addresses; a drop off the runner
//! thread leaks them and aborts later spawns.
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};
use std::thread::ThreadId;
use strait_native::IoContext;
use strait_streams::exec::ExecutionContext;

type Log = Arc<Mutex<Vec<(&'static str, ThreadId)>>>;

struct Witness(#[allow(dead_code)] Rc<()>, Log);
impl Drop for Witness {
    fn drop(&mut self) {
        self.1
            .lock()
            .unwrap()
            .push(("drop", std::thread::current().id()));
    }
}

/// An idle local task whose waker is published in `slot`.
fn idle_local(ctx: &IoContext, log: &Log, slot: &Arc<Mutex<Option<Waker>>>) {
    let w = Witness(Rc::new(()), log.clone());
    let slot = slot.clone();
    ctx.spawn_local(async move {
        let _keep = &w;
        std::future::poll_fn(|cx| {
            *slot.lock().unwrap() = Some(cx.waker().clone());
            Poll::<()>::Pending
        })
        .await
    })
    .detach();
}

/// `block_on` on a thread that is not the runner is refused before it polls (a wake it
/// caused would otherwise be queued, and dropped, on that thread).
#[test]
fn block_on_from_another_thread_is_refused_before_it_polls() {
    let ctx = IoContext::new_single_threaded().unwrap();
    let log: Log = Arc::default();
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    idle_local(&ctx, &log, &slot);
    ctx.poll(); // thread A runs it once: it waits
    let a = std::thread::current().id();
    std::thread::scope(|s| {
        s.spawn(|| {
            let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                ctx.block_on(async {
                    slot.lock().unwrap().take().unwrap().wake();
                })
            }));
            assert!(r.is_err(), "B is not the runner");
            std::thread::current().id()
        })
        .join()
        .unwrap()
    });
    let log = log.lock().unwrap().clone();
    assert!(
        log.iter().all(|(_, t)| *t == a),
        "local future dropped on B: {log:?}"
    );
}

/// A wake from another thread while the context is being dropped (here: from a
/// service's shutdown) leaves the local runnable to the runner thread's drain.
#[test]
fn a_remote_wake_during_the_drop_leaves_local_futures_to_the_runner() {
    struct Hook(Mutex<Option<(mpsc::Sender<()>, mpsc::Receiver<()>)>>);
    impl strait_streams::exec::Service for Hook {
        fn shutdown(&self) {
            let (go, done) = self.0.lock().unwrap().take().unwrap();
            go.send(()).unwrap();
            done.recv().unwrap();
        }
    }
    let log: Log = Arc::default();
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let (go_tx, go_rx) = mpsc::channel();
    let (done_tx, done_rx) = mpsc::channel();
    let remote = {
        let slot = slot.clone();
        std::thread::spawn(move || {
            go_rx.recv().unwrap();
            slot.lock().unwrap().take().unwrap().wake();
            done_tx.send(()).unwrap();
            std::thread::current().id()
        })
    };
    let ctx = IoContext::new_single_threaded().unwrap();
    ctx.services()
        .make_service(Hook(Mutex::new(Some((go_tx, done_rx)))))
        .ok()
        .unwrap();
    idle_local(&ctx, &log, &slot);
    ctx.poll();
    let a = std::thread::current().id();
    drop(ctx);
    remote.join().unwrap();
    let log = log.lock().unwrap().clone();
    assert!(
        log.iter().all(|(_, t)| *t == a),
        "local future dropped on the remote thread: {log:?}"
    );
}

#[test]
fn a_new_thread_never_inherits_an_exited_runners_identity() {
    let polls: Arc<Mutex<Vec<ThreadId>>> = Arc::default();
    let slot: Arc<Mutex<Option<Waker>>> = Arc::default();
    let (ctx, a) = {
        let (polls, slot) = (polls.clone(), slot.clone());
        std::thread::spawn(move || {
            let ctx = IoContext::new_single_threaded().unwrap();
            let rc = Rc::new(()); // !Send state
            ctx.spawn_local(async move {
                let _rc = rc;
                std::future::poll_fn(|cx| {
                    polls.lock().unwrap().push(std::thread::current().id());
                    *slot.lock().unwrap() = Some(cx.waker().clone());
                    Poll::<()>::Pending
                })
                .await
            })
            .detach();
            ctx.poll();
            (ctx, std::thread::current().id())
        })
        .join()
        .unwrap()
    };
    slot.lock().unwrap().take().unwrap().wake();
    let _ = std::thread::spawn(move || {
        ctx.poll(); // should panic: not the runner thread
        std::mem::forget(ctx);
        std::thread::current().id()
    })
    .join();
    let polls = polls.lock().unwrap().clone();
    assert!(
        polls.iter().all(|t| *t == a),
        "the !Send future was polled on another thread"
    );
}

#[test]
fn a_spawn_after_a_drop_off_the_runner_thread_is_aborted() {
    let ctx = IoContext::new_single_threaded().unwrap();
    let handle = ctx.handle();
    let rc = std::rc::Rc::new(());
    ctx.spawn_local(async move {
        let _rc = rc;
        std::future::pending::<()>().await
    })
    .detach();
    ctx.poll();
    std::thread::spawn(move || drop(ctx)).join().unwrap(); // leak mode
    let h = handle.spawn(async { 1 });
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(
        h.is_finished(),
        "IoContext docs: a task spawned afterwards is aborted at spawn"
    );
}
