//! run_async, run (executor hop) and their environments.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use strait_streams::{
    delay, env, is_canceled, run, run_async, with_stop_token, FrameAlloc, JoinError, RunLoop,
    StopSource, ThreadPool,
};

#[test]
fn run_hops_to_the_child_executor_and_back_to_the_caller() {
    let rl = RunLoop::new();
    let pool = ThreadPool::with_name(1, "hop-");
    let pool_ex = pool.executor();
    let loop_ex = rl.executor();
    let handle = rl.spawn(async move {
        let child_thread = run(pool_ex, async {
            std::thread::current().name().map(str::to_owned)
        })
        .await
        .unwrap();
        let back = env().executor() == loop_ex && env().executor().running_in_this_thread();
        (child_thread, back)
    });
    rl.run();
    let (child_thread, back) = rl.block_on(handle).unwrap();
    assert_eq!(child_thread.as_deref(), Some("hop-0"));
    assert!(back, "the caller resumed on its own executor");
}

#[test]
fn run_passes_the_callers_stop_token_to_the_child() {
    let pool = ThreadPool::new(1);
    let rl = RunLoop::new();
    let source = StopSource::new();
    source.request_stop();
    let pool_ex = pool.executor();
    let err = rl
        .block_on(with_stop_token(source.token(), async move {
            run(pool_ex, delay(Duration::from_secs(10))).await.unwrap()
        }))
        .unwrap_err();
    assert!(is_canceled(&err));
}

#[test]
fn dropping_a_run_aborts_the_child() {
    let pool = ThreadPool::new(1);
    let ran_to_end = Arc::new(AtomicBool::new(false));
    let r = ran_to_end.clone();
    let hop = run(pool.executor(), async move {
        let _ = delay(Duration::from_millis(200)).await;
        r.store(true, Ordering::SeqCst);
    });
    let rl = RunLoop::new();
    // Poll once (starts the child), then drop.
    let poll_once = async {
        let mut hop = std::pin::pin!(hop);
        std::future::poll_fn(|cx| {
            let _ = hop.as_mut().poll(cx);
            std::task::Poll::Ready(())
        })
        .await;
    };
    rl.block_on(poll_once);
    std::thread::sleep(Duration::from_millis(300));
    pool.join();
    assert!(!ran_to_end.load(Ordering::SeqCst));
}

use std::future::Future;

#[test]
fn run_async_sets_the_stop_token_and_frame_allocator() {
    let rl = RunLoop::new();
    let source = StopSource::new();
    let handle = run_async(rl.executor())
        .stop_token(source.token())
        .frame_allocator(FrameAlloc::system())
        .spawn(async {
            let e = env();
            (
                e.stop_token().stop_possible(),
                format!("{:?}", e.frame_allocator()),
            )
        });
    rl.run();
    assert_eq!(
        rl.block_on(handle).unwrap(),
        (true, "FrameAlloc::system".to_owned())
    );
}

#[test]
fn run_async_detach_delivers_values_panics_and_aborts_to_the_handlers() {
    let rl = RunLoop::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let (a, b) = (log.clone(), log.clone());
    run_async(rl.executor()).detach(
        async { 5 },
        move |v| a.lock().unwrap().push(format!("ok {v}")),
        move |e: JoinError| b.lock().unwrap().push(format!("err {e}")),
    );
    let (a, b) = (log.clone(), log.clone());
    run_async(rl.executor()).detach(
        async { panic!("handler test") },
        move |()| a.lock().unwrap().push("ok".into()),
        move |e: JoinError| b.lock().unwrap().push(format!("err {e}")),
    );
    rl.run();
    assert_eq!(*log.lock().unwrap(), ["ok 5", "err task panicked"]);

    let dropped = RunLoop::new();
    let (a, b) = (log.clone(), log.clone());
    run_async(dropped.executor()).detach(
        async { 1 },
        move |_| a.lock().unwrap().push("never".into()),
        move |e: JoinError| b.lock().unwrap().push(format!("err {e}")),
    );
    drop(dropped);
    assert_eq!(log.lock().unwrap().last().unwrap(), "err task was aborted");
}
