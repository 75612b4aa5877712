//! loom models of the lock-free and concurrent parts: the stop token's callback
//! protocol, the task state machine, foreign scheduling (`ForeignTask`), the
//! allocator's global pool, the strand, the mutex/event claim protocols, and the run
//! queues' lock-free posting (`Inject`). The
//! sleeping-consumer handshake of the real `SharedQueue` is modelled next to it
//! (`exec::shared_queue::loom_models`, private to `exec`).
//!
//! No model touches the default environment: its system executor is a process-wide
//! `ThreadPool` whose queue would hold loom objects beyond one model execution.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test -p strait-streams --release --lib loom_models`.

use loom::sync::atomic::{AtomicBool, AtomicUsize};
use loom::sync::{Arc, Mutex};
use loom::thread;
use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::Ordering::SeqCst;
use std::task::{Context, Poll, Waker};

use crate::alloc::recycling::{GlobalPool, LOCAL_CAP};
use crate::{AnyExecutor, Executor, FrameAlloc, IoEnv, Runnable, StopCallback, StopSource};

#[test]
fn stop_callback_runs_at_most_once_and_drop_waits_for_it() {
    loom::model(|| {
        let source = Arc::new(StopSource::new());
        let started = Arc::new(AtomicBool::new(false));
        let finished = Arc::new(AtomicBool::new(false));
        let runs = Arc::new(AtomicUsize::new(0));
        let owner = {
            let token = source.token();
            let (started, finished, runs) = (started.clone(), finished.clone(), runs.clone());
            thread::spawn(move || {
                let (s, f, r) = (started.clone(), finished.clone(), runs.clone());
                let mut cb = Box::pin(StopCallback::new(token, move || {
                    s.store(true, SeqCst);
                    r.fetch_add(1, SeqCst);
                    f.store(true, SeqCst);
                }));
                cb.as_mut().register();
                drop(cb);
                if started.load(SeqCst) {
                    assert!(finished.load(SeqCst), "drop returned mid-callback");
                }
            })
        };
        source.request_stop();
        owner.join().unwrap();
        assert!(runs.load(SeqCst) <= 1);
    });
}

/// Panic payloads the models below raise on purpose start with this; the hook keeps
/// them out of the output (loom runs each model thousands of times).
const EXPECTED_PANIC: &str = "loom-model:";

fn quiet_expected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let msg = info.payload().downcast_ref::<&str>().copied().unwrap_or("");
            if !msg.starts_with(EXPECTED_PANIC) {
                default(info);
            }
        }));
    });
}

#[test]
fn a_panicking_callback_still_runs_the_rest_and_lets_a_concurrent_drop_return() {
    quiet_expected_panics();
    loom::model(|| {
        let source = Arc::new(StopSource::new());
        let ran = Arc::new(AtomicBool::new(false));
        let mut quiet = {
            let ran = ran.clone();
            Box::pin(StopCallback::new(source.token(), move || {
                ran.store(true, SeqCst)
            }))
        };
        let loud_ran = Arc::new(AtomicBool::new(false));
        let mut loud = {
            let loud_ran = loud_ran.clone();
            Box::pin(StopCallback::new(source.token(), move || {
                loud_ran.store(true, SeqCst);
                panic!("loom-model: a stop callback panics")
            }))
        };
        quiet.as_mut().register();
        loud.as_mut().register();
        let stopper = {
            let source = source.clone();
            thread::spawn(move || {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    source.request_stop();
                }))
                .is_err()
            })
        };
        // Unregisters, or waits for the panicking run to end: it must not spin forever.
        drop(loud);
        let panicked = stopper.join().unwrap();
        assert!(ran.load(SeqCst), "the other callback ran");
        drop(quiet);
        // The panic reaches the requester exactly when the callback ran (it may have
        // been unregistered first).
        assert_eq!(panicked, loud_ran.load(SeqCst));
    });
}

/// A loom-friendly executor: a queue drained by whoever calls `run_all`.
struct Queue(Mutex<VecDeque<Runnable>>);

impl Executor for Queue {
    fn post(&self, task: Runnable) {
        self.0.lock().unwrap().push_back(task);
    }
}

// SAFETY (for the test type): the loom mutex guards the queue.
unsafe impl Sync for Queue {}
// SAFETY: runnables are Send.
unsafe impl Send for Queue {}

fn run_all(q: &Queue) -> usize {
    let mut n = 0;
    loop {
        let task = q.0.lock().unwrap().pop_front();
        match task {
            Some(t) => {
                t.run();
                n += 1;
            }
            None => return n,
        }
    }
}

/// Pending until `ready`; stores its waker for a remote wake.
struct Remote {
    ready: Arc<AtomicBool>,
    waker: Arc<Mutex<Option<Waker>>>,
}

impl Future for Remote {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<u32> {
        *self.waker.lock().unwrap() = Some(cx.waker().clone());
        if self.ready.load(SeqCst) {
            Poll::Ready(7)
        } else {
            Poll::Pending
        }
    }
}

#[test]
fn task_woken_from_another_thread_while_running_completes_once() {
    loom::model(|| {
        let queue = std::sync::Arc::new(Queue(Mutex::new(VecDeque::new())));
        let executor = AnyExecutor::from_arc(queue.clone());
        let env = IoEnv {
            frame_allocator: FrameAlloc::system(),
            ..IoEnv::new(executor)
        };
        let ready = Arc::new(AtomicBool::new(false));
        let waker = Arc::new(Mutex::new(None::<Waker>));
        let handle = crate::task::spawn_with_env(
            Remote {
                ready: ready.clone(),
                waker: waker.clone(),
            },
            env,
        );
        let remote = {
            let (ready, waker) = (ready.clone(), waker.clone());
            thread::spawn(move || {
                ready.store(true, SeqCst);
                if let Some(w) = waker.lock().unwrap().take() {
                    w.wake();
                }
            })
        };
        // Run until the remote wake has been observed.
        loop {
            run_all(&queue);
            if handle.is_finished() {
                break;
            }
            thread::yield_now();
        }
        remote.join().unwrap();
        run_all(&queue);
        let out = spin_on(handle);
        assert_eq!(out.unwrap(), 7);
    });
}

/// An environment whose executor nobody runs (for models that spawn nothing).
fn inert_env(stop_token: crate::StopToken) -> IoEnv {
    IoEnv {
        stop_token,
        frame_allocator: FrameAlloc::system(),
        ..IoEnv::new(AnyExecutor::from_arc(std::sync::Arc::new(Queue(
            Mutex::new(VecDeque::new()),
        ))))
    }
}

/// Ready at once; its destructor panics.
struct PanicOnDrop;

impl Future for PanicOnDrop {
    type Output = u32;
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<u32> {
        Poll::Ready(1)
    }
}

impl Drop for PanicOnDrop {
    fn drop(&mut self) {
        panic!("loom-model: a future panics on drop");
    }
}

/// The join handle on another thread takes the stage the runner wrote (loom checks the
/// stage's `UnsafeCell` accesses), for an output and for a destructor's panic.
#[test]
fn a_join_handle_on_another_thread_sees_the_output_or_the_drop_panic() {
    quiet_expected_panics();
    for panics in [false, true] {
        loom::model(move || {
            let queue = std::sync::Arc::new(Queue(Mutex::new(VecDeque::new())));
            let env = IoEnv {
                frame_allocator: FrameAlloc::system(),
                ..IoEnv::new(AnyExecutor::from_arc(queue.clone()))
            };
            let joiner = if panics {
                let handle = crate::task::spawn_with_env(PanicOnDrop, env);
                thread::spawn(move || spin_on(handle).map_err(|e| e.is_panic()))
            } else {
                let handle = crate::task::spawn_with_env(async { 1u32 }, env);
                thread::spawn(move || spin_on(handle).map_err(|e| e.is_panic()))
            };
            assert_eq!(run_all(&queue), 1);
            let out = joiner.join().unwrap();
            if panics {
                assert_eq!(out, Err(true));
            } else {
                assert_eq!(out, Ok(1));
            }
        });
    }
}

#[test]
fn global_pool_conserves_blocks_under_concurrent_give_and_refill() {
    loom::model(|| {
        let pool = Arc::new(GlobalPool::new());
        let layout = std::alloc::Layout::from_size_align(64, 16).unwrap();
        let giver = {
            let pool = pool.clone();
            thread::spawn(move || {
                for _ in 0..2 {
                    // SAFETY: a fresh 64-byte, 16-aligned block (class 0).
                    let block = unsafe { std::alloc::alloc(layout) };
                    // SAFETY: we own the fresh block.
                    assert!(unsafe { pool.give(0, block) }.is_ok());
                }
            })
        };
        let mut local = crate::alloc::recycling::FreeList::EMPTY_FOR_MODELS;
        let taken = pool.refill(0, &mut local);
        giver.join().unwrap();
        assert!(taken <= 2 && taken <= LOCAL_CAP);
        pool.absorb(0, &mut local);
        assert_eq!(pool.drain(), 2);
    });
}

fn spawn_counting(strand: &crate::Strand, in_flight: Arc<AtomicUsize>, done: Arc<AtomicUsize>) {
    let env = IoEnv {
        frame_allocator: FrameAlloc::system(),
        ..IoEnv::new(strand.executor())
    };
    crate::task::spawn_with_env(
        async move {
            assert_eq!(in_flight.fetch_add(1, SeqCst), 0, "overlap");
            in_flight.fetch_sub(1, SeqCst);
            done.fetch_add(1, SeqCst);
        },
        env,
    )
    .detach();
}

#[test]
fn strand_never_runs_two_tasks_at_once() {
    loom::model(|| {
        let queue = std::sync::Arc::new(Queue(Mutex::new(VecDeque::new())));
        let strand = crate::Strand::with_frame_allocator(
            AnyExecutor::from_arc(queue.clone()),
            FrameAlloc::system(),
        );
        let in_flight = Arc::new(AtomicUsize::new(0));
        let done = Arc::new(AtomicUsize::new(0));
        let remote = {
            let (strand, in_flight, done) = (strand.clone(), in_flight.clone(), done.clone());
            thread::spawn(move || spawn_counting(&strand, in_flight, done))
        };
        spawn_counting(&strand, in_flight.clone(), done.clone());
        loop {
            run_all(&queue);
            if done.load(SeqCst) == 2 {
                break;
            }
            thread::yield_now();
        }
        remote.join().unwrap();
        drop(strand);
        run_all(&queue);
    });
}

/// Never ready; counts its drops.
struct PendingCounted(Arc<AtomicUsize>);

impl Future for PendingCounted {
    type Output = ();
    fn poll(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        Poll::Pending
    }
}

impl Drop for PendingCounted {
    fn drop(&mut self) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// The harness's stop registration (`TaskStop`) holds no reference to its task: a stop
/// racing the last release either takes a reference while one exists (and wakes the
/// task, whose runnable then frees it) or finds none and does nothing, while the
/// freeing thread's unregister waits for it. Either way the future is dropped once.
#[test]
fn a_stop_racing_the_last_release_of_a_waiting_task_wakes_or_frees_it_once() {
    loom::model(|| {
        let queue = std::sync::Arc::new(Queue(Mutex::new(VecDeque::new())));
        let source = StopSource::new();
        let drops = Arc::new(AtomicUsize::new(0));
        let env = IoEnv {
            stop_token: source.token(),
            frame_allocator: FrameAlloc::system(),
            ..IoEnv::new(AnyExecutor::from_arc(queue.clone()))
        };
        let handle = crate::task::spawn_with_env(PendingCounted(drops.clone()), env);
        assert_eq!(run_all(&queue), 1);
        let stopper = thread::spawn(move || {
            source.request_stop();
        });
        drop(handle);
        stopper.join().unwrap();
        assert!(run_all(&queue) <= 1);
        assert_eq!(drops.load(SeqCst), 1);
    });
}

/// Counts wakes.
struct CountWakes(Arc<AtomicUsize>);

impl std::task::Wake for CountWakes {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.fetch_add(1, SeqCst);
    }
}

/// `StopWaker`'s lock-free waker slot: a stop racing a re-registration with another
/// waker either makes that poll report the stop or wakes the new waker.
#[test]
fn a_stop_racing_a_stop_waker_re_registration_is_never_lost() {
    loom::model(|| {
        let source = StopSource::new();
        let w1 = Waker::from(std::sync::Arc::new(CountWakes(Arc::new(AtomicUsize::new(
            0,
        )))));
        let second = Arc::new(AtomicUsize::new(0));
        let w2 = Waker::from(std::sync::Arc::new(CountWakes(second.clone())));
        let mut registration = Box::pin(crate::StopWaker::new(source.token()));
        assert!(!registration.as_mut().poll_stopped(&w1));
        let stopper = {
            let source = source.clone();
            thread::spawn(move || {
                source.request_stop();
            })
        };
        let saw_stop = registration.as_mut().poll_stopped(&w2);
        stopper.join().unwrap();
        assert!(saw_stop || second.load(SeqCst) == 1, "the stop was lost");
        drop(registration);
    });
}

/// Polls `f` on the current loom thread until it completes, yielding between polls.
fn spin_on<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(out) = f.as_mut().poll(&mut cx) {
            return out;
        }
        thread::yield_now();
    }
}

#[test]
fn mutex_hand_off_and_stop_claim_exactly_one_outcome() {
    loom::model(|| {
        let mutex = Arc::new(crate::AsyncMutex::new(0u32));
        let source = StopSource::new();
        let held = mutex.try_lock().expect("free");
        let waiter = {
            let (mutex, token) = (mutex.clone(), source.token());
            thread::spawn(move || {
                let env = inert_env(token);
                // SAFETY (test): `env` outlives the guard.
                let _g = unsafe { crate::env::EnvGuard::enter(&env) };
                match spin_on(mutex.lock()) {
                    Ok(mut g) => {
                        *g += 1;
                        true
                    }
                    Err(e) => {
                        assert!(crate::is_canceled(&e));
                        false
                    }
                }
            })
        };
        let stopper = thread::spawn(move || {
            source.request_stop();
        });
        drop(held);
        let got = waiter.join().unwrap();
        stopper.join().unwrap();
        let value = *mutex.try_lock().expect("unlocked at the end");
        assert_eq!(value, u32::from(got));
    });
}

#[test]
fn event_set_and_stop_claim_exactly_one_outcome() {
    loom::model(|| {
        let event = Arc::new(crate::AsyncEvent::new());
        let source = StopSource::new();
        let waiter = {
            let (event, token) = (event.clone(), source.token());
            thread::spawn(move || {
                let env = inert_env(token);
                // SAFETY (test): `env` outlives the guard.
                let _g = unsafe { crate::env::EnvGuard::enter(&env) };
                spin_on(event.wait())
            })
        };
        source.request_stop();
        event.set();
        match waiter.join().unwrap() {
            Ok(()) => {}
            Err(e) => assert!(crate::is_canceled(&e)),
        }
        assert!(event.is_set());
    });
}

/// An executor whose posts go to an `Inject` stack.
struct InjectExec(crate::driver::Inject);

impl Executor for InjectExec {
    fn post(&self, task: Runnable) {
        self.0.push(task);
    }
}

// SAFETY (for the test type): `Inject` is a lock-free stack of `Send` runnables.
unsafe impl Sync for InjectExec {}
// SAFETY: as above.
unsafe impl Send for InjectExec {}

/// Spawns a task that records `id` in `log` when it runs; its spawn posts it.
fn spawn_logging(exec: &std::sync::Arc<InjectExec>, log: &Arc<Mutex<Vec<u32>>>, id: u32) {
    let env = IoEnv {
        frame_allocator: FrameAlloc::system(),
        ..IoEnv::new(AnyExecutor::from_arc(exec.clone()))
    };
    let log = log.clone();
    crate::task::spawn_with_env(async move { log.lock().unwrap().push(id) }, env).detach();
}

#[test]
fn inject_delivers_every_post_once_in_each_posters_order() {
    loom::model(|| {
        let exec = std::sync::Arc::new(InjectExec(crate::driver::Inject::new()));
        let log = Arc::new(Mutex::new(Vec::new()));
        let poster = {
            let (exec, log) = (exec.clone(), log.clone());
            thread::spawn(move || {
                spawn_logging(&exec, &log, 1);
                spawn_logging(&exec, &log, 2);
            })
        };
        spawn_logging(&exec, &log, 10);
        let mut ran = 0;
        while ran < 3 {
            let mut batch = exec.0.take();
            while let Some(task) = batch.pop() {
                task.run();
                ran += 1;
            }
            thread::yield_now();
        }
        poster.join().unwrap();
        assert!(exec.0.take().is_empty());
        let log = log.lock().unwrap();
        let pos = |id| log.iter().position(|&x| x == id).unwrap();
        assert_eq!(log.len(), 3);
        assert!(
            pos(1) < pos(2),
            "one poster's tasks run in posting order: {log:?}"
        );
    });
}

/// The waker of the foreign "runtime" in the models below: records that it was woken.
struct ForeignFlag(AtomicBool);

impl std::task::Wake for ForeignFlag {
    fn wake(self: std::sync::Arc<Self>) {
        self.0.store(true, SeqCst);
    }
}

/// A foreign scheduler polls a `ForeignTask` while another thread wakes the strait
/// task: the wake reaches the scheduler's waker (never `post`), none is lost, and the
/// task completes exactly once.
#[test]
fn a_foreign_task_woken_from_another_thread_is_never_lost() {
    loom::model(|| {
        let queue = std::sync::Arc::new(Queue(Mutex::new(VecDeque::new())));
        let env = IoEnv::new(AnyExecutor::from_arc(queue.clone()))
            .with_frame_allocator(FrameAlloc::system());
        let ready = Arc::new(AtomicBool::new(false));
        let waker = Arc::new(Mutex::new(None::<Waker>));
        // `spawn_with_env` posts; take the runnable back as a foreign scheduler would
        // from `spawn_task`.
        let handle = crate::task::spawn_with_env(
            Remote {
                ready: ready.clone(),
                waker: waker.clone(),
            },
            env,
        );
        let runnable = queue.0.lock().unwrap().pop_front().expect("spawned");
        let mut task = Box::pin(crate::driver::ForeignTask::new(runnable));
        let remote = {
            let (ready, waker) = (ready.clone(), waker.clone());
            thread::spawn(move || {
                ready.store(true, SeqCst);
                if let Some(w) = waker.lock().unwrap().take() {
                    w.wake();
                }
            })
        };
        let flag = std::sync::Arc::new(ForeignFlag(AtomicBool::new(false)));
        let foreign_waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&foreign_waker);
        // The first poll races with the remote wake; once the remote thread is done,
        // an unfinished task must have woken the scheduler (else the wake was lost).
        let mut done = task.as_mut().poll(&mut cx).is_ready();
        remote.join().unwrap();
        while !done {
            assert!(flag.0.swap(false, SeqCst), "a wake was lost");
            done = task.as_mut().poll(&mut cx).is_ready();
        }
        assert!(
            queue.0.lock().unwrap().is_empty(),
            "a foreign task is never posted"
        );
        assert_eq!(spin_on(handle).unwrap(), 7);
    });
}

/// Aborting through the join handle from another thread while the foreign scheduler
/// polls or drops the task: the future is dropped exactly once and the handle reports
/// the abort (or the output, when the task finished first).
#[test]
fn a_foreign_task_aborted_from_another_thread_ends_once() {
    loom::model(|| {
        let queue = std::sync::Arc::new(Queue(Mutex::new(VecDeque::new())));
        let env = IoEnv::new(AnyExecutor::from_arc(queue.clone()))
            .with_frame_allocator(FrameAlloc::system());
        let handle = crate::task::spawn_with_env(
            Remote {
                ready: Arc::new(AtomicBool::new(false)),
                waker: Arc::new(Mutex::new(None)),
            },
            env,
        );
        let runnable = queue.0.lock().unwrap().pop_front().expect("spawned");
        let mut task = Box::pin(crate::driver::ForeignTask::new(runnable));
        let flag = std::sync::Arc::new(ForeignFlag(AtomicBool::new(false)));
        let foreign_waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&foreign_waker);
        assert!(task.as_mut().poll(&mut cx).is_pending());
        let aborter = thread::spawn(move || {
            handle.abort();
            spin_on(handle)
        });
        // The scheduler polls once more if woken, then shuts down (drops the task).
        if flag.0.swap(false, SeqCst) {
            let _ = task.as_mut().poll(&mut cx);
        }
        drop(task);
        assert!(aborter.join().unwrap().unwrap_err().is_aborted());
    });
}

/// An executor that keeps an owned list and hands its tasks to a foreign scheduler.
struct OwningForeign {
    owned: crate::driver::OwnedTasks,
    spawned: Mutex<Vec<crate::driver::ForeignTask>>,
}

impl Executor for OwningForeign {
    fn post(&self, _: Runnable) {
        panic!("foreign tasks are never posted");
    }
    fn spawn_task(&self, task: Runnable) {
        self.spawned
            .lock()
            .unwrap()
            .push(crate::driver::ForeignTask::new(task));
    }
    fn owned_tasks(&self) -> Option<&crate::driver::OwnedTasks> {
        Some(&self.owned)
    }
}

// SAFETY (for the test type): the loom mutex guards the vector; runnables are Send.
unsafe impl Sync for OwningForeign {}
// SAFETY: as above.
unsafe impl Send for OwningForeign {}

/// The context's shutdown (`close_and_abort_all`) races with the foreign scheduler's
/// poll of a waiting task: only the scheduler runs it, so the abort happens once.
#[test]
fn an_owned_abort_and_a_foreign_poll_never_both_run_the_task() {
    loom::model(|| {
        let exec = std::sync::Arc::new(OwningForeign {
            owned: crate::driver::OwnedTasks::new(),
            spawned: Mutex::new(Vec::new()),
        });
        let env = IoEnv::new(AnyExecutor::from_arc(exec.clone()))
            .with_frame_allocator(FrameAlloc::system());
        let handle = crate::task::spawn_with_env(
            Remote {
                ready: Arc::new(AtomicBool::new(false)),
                waker: Arc::new(Mutex::new(None)),
            },
            env,
        );
        let mut task = Box::pin(exec.spawned.lock().unwrap().pop().expect("spawned"));
        let flag = std::sync::Arc::new(ForeignFlag(AtomicBool::new(false)));
        let foreign_waker = Waker::from(flag.clone());
        let mut cx = Context::from_waker(&foreign_waker);
        assert!(task.as_mut().poll(&mut cx).is_pending()); // now waiting, listed
        let closer = {
            let exec = exec.clone();
            thread::spawn(move || exec.owned.close_and_abort_all())
        };
        let mut done = task.as_mut().poll(&mut cx).is_ready();
        closer.join().unwrap();
        while !done {
            assert!(
                flag.0.swap(false, SeqCst),
                "the abort never reached the scheduler"
            );
            done = task.as_mut().poll(&mut cx).is_ready();
        }
        assert!(spin_on(handle).unwrap_err().is_aborted());
    });
}

/// An executor that keeps the runnables its spawns post, for a model to hand out.
struct Collect(Mutex<Vec<Runnable>>);

impl Executor for Collect {
    fn post(&self, task: Runnable) {
        self.0.lock().unwrap().push(task);
    }
}

// SAFETY (for the test type): the loom mutex guards the list.
unsafe impl Sync for Collect {}
// SAFETY: runnables are Send.
unsafe impl Send for Collect {}

/// One runnable per id, each recording its id in `log` when it runs; made on the
/// model's main thread so the posters below do nothing but post.
fn logging_runnables(log: &Arc<Mutex<Vec<u32>>>, ids: &[u32]) -> Vec<Runnable> {
    let exec = std::sync::Arc::new(Collect(Mutex::new(Vec::new())));
    for &id in ids {
        let env = IoEnv {
            frame_allocator: FrameAlloc::system(),
            ..IoEnv::new(AnyExecutor::from_arc(exec.clone()))
        };
        let log = log.clone();
        crate::task::spawn_with_env(async move { log.lock().unwrap().push(id) }, env).detach();
    }
    let runnables = std::mem::take(&mut *exec.0.lock().unwrap());
    runnables
}

/// Runs everything `inject` yields one take at a time until `total` ran; a take that
/// finds a poster between its swap and its link returns short, and the consumer
/// retries after yielding (it never waits inside the queue).
fn consume(inject: &crate::driver::Inject, total: usize, per_take: usize) {
    let mut ran = 0;
    while ran < total {
        let mut batch = inject.take_batch(per_take);
        assert!(batch.len() <= per_take);
        if batch.is_empty() {
            thread::yield_now();
        }
        while let Some(task) = batch.pop() {
            task.run();
            ran += 1;
        }
    }
}

/// Explores every interleaving with at most `bound` preemptions (the models with
/// spinning consumers are too large to explore exhaustively in CI time).
fn bounded_model(bound: usize, f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(bound);
    builder.check(f);
}

#[test]
fn inject_two_posters_lose_nothing_and_keep_each_posters_order() {
    bounded_model(3, || {
        let inject = std::sync::Arc::new(crate::driver::Inject::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut runnables = logging_runnables(&log, &[1, 2, 3]).into_iter();
        let (r1, r2, r3) = (
            runnables.next().unwrap(),
            runnables.next().unwrap(),
            runnables.next().unwrap(),
        );
        let a = {
            let inject = inject.clone();
            thread::spawn(move || {
                inject.push(r1);
                inject.push(r2);
            })
        };
        let b = {
            let inject = inject.clone();
            thread::spawn(move || inject.push(r3))
        };
        consume(&inject, 3, 2);
        a.join().unwrap();
        b.join().unwrap();
        assert!(inject.is_empty());
        assert!(inject.take().is_empty());
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 3, "every post ran exactly once: {log:?}");
        let pos = |id| log.iter().position(|&x| x == id).unwrap();
        assert!(pos(1) < pos(2), "one poster's posts run in order: {log:?}");
    });
}

#[test]
fn inject_is_never_empty_while_a_post_waits() {
    // The consumer takes the last queued runnable (putting the stub behind it) while a
    // poster swaps itself in: `is_empty` must still count both, or a context going to
    // sleep (announce, fence, check) could miss a post whose poster saw no sleeper.
    loom::model(|| {
        let inject = std::sync::Arc::new(crate::driver::Inject::new());
        let log = Arc::new(Mutex::new(Vec::new()));
        let mut runnables = logging_runnables(&log, &[1, 2]).into_iter();
        inject.push(runnables.next().unwrap());
        let sleeping = Arc::new(AtomicBool::new(false));
        let woken = Arc::new(AtomicBool::new(false));
        let poster = {
            let (inject, sleeping, woken) = (inject.clone(), sleeping.clone(), woken.clone());
            let task = runnables.next().unwrap();
            thread::spawn(move || {
                inject.push(task);
                loom::sync::atomic::fence(SeqCst);
                if sleeping.load(SeqCst) {
                    woken.store(true, SeqCst);
                }
            })
        };
        let mut batch = inject.take();
        let mut ran = 0;
        while let Some(task) = batch.pop() {
            task.run();
            ran += 1;
        }
        sleeping.store(true, SeqCst);
        loom::sync::atomic::fence(SeqCst);
        let would_sleep = inject.is_empty();
        poster.join().unwrap();
        if would_sleep && !woken.load(SeqCst) {
            assert_eq!(ran, 2, "the consumer slept with a post left behind");
        }
        consume(&inject, 2 - ran, usize::MAX);
        assert_eq!(log.lock().unwrap().len(), 2);
    });
}
