//! Strait code on tokio sees the adapter: its executor in `env()`, spawns that become
//! tokio tasks, and `delay`/`timeout` served by tokio's timer.

use std::future::pending;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_streams::{delay, env, timeout, Strand};
use strait_tokio::TokioExecutor;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn spawned_strait_tasks_are_tokio_tasks_and_see_the_adapter() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    let ex = executor.executor();
    let seen = executor.block_on(&rt, async move {
        let outer = strait_streams::env().executor().spawn(async move {
            let inner = env()
                .executor()
                .spawn(async { (tokio::task::try_id().is_some(), env().executor().clone()) });
            let (inner_is_tokio_task, inner_sees) = inner.await.unwrap();
            (
                tokio::task::try_id().is_some(),
                env().executor() == ex,
                inner_is_tokio_task,
                inner_sees == ex,
            )
        });
        outer.await.unwrap()
    });
    assert_eq!(seen, (true, true, true, true));
}

#[test]
fn block_on_and_in_env_publish_the_environment() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    let ex = executor.executor();
    assert!(executor.block_on(&rt, async { env().executor() == ex }));
    // A tokio-native task running strait code through `in_env`.
    let ex = executor.executor();
    let native = rt.spawn(executor.in_env(async move { env().executor() == ex }));
    assert!(rt.block_on(native).unwrap());
    // Without it, strait code in a plain tokio task sees the default environment.
    let ex = executor.executor();
    let plain = rt.spawn(async move { env().executor() == ex });
    assert!(!rt.block_on(plain).unwrap());
}

#[test]
fn delay_waits_on_tokios_timer() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    let timer = executor.timer().clone();
    let handle = executor.spawn(async {
        let start = Instant::now();
        delay(Duration::from_millis(30)).await?;
        io::Result::Ok(start.elapsed())
    });
    // The entry shows up in the adapter's timer table (not the fallback timer's).
    let deadline = Instant::now() + Duration::from_secs(5);
    while timer.scheduled() == 0 {
        assert!(
            Instant::now() < deadline,
            "delay never reached the tokio timer"
        );
        std::thread::yield_now();
    }
    let waited = executor.block_on(&rt, handle).unwrap().unwrap();
    assert!(
        waited >= Duration::from_millis(30),
        "woke early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(2), "woke late: {waited:?}");
    assert_eq!(timer.scheduled(), 0, "a fired entry leaves the table");
}

#[test]
fn timeout_fires_on_tokios_timer_and_cancels_its_entry() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    let timer = executor.timer().clone();
    executor.block_on(&rt, async {
        let start = Instant::now();
        // The child must be stop-aware: `timeout` waits for it to end.
        let err = timeout(Duration::from_millis(20), delay(Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(20));
        // A timeout whose future wins removes its entry at once.
        assert_eq!(
            timeout(Duration::from_secs(60), async { io::Result::Ok(7) })
                .await
                .unwrap(),
            7
        );
        assert_eq!(timer.scheduled(), 0);
    });
}

#[test]
fn an_earlier_deadline_shortens_the_drivers_sleep() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    let long = executor.spawn(delay(Duration::from_secs(30)));
    let timer = executor.timer().clone();
    while timer.scheduled() == 0 {
        std::thread::yield_now();
    }
    let start = Instant::now();
    executor
        .block_on(&rt, delay(Duration::from_millis(10)))
        .unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    long.abort();
}

#[test]
fn strands_run_on_the_adapter_through_posts() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    let strand = Strand::new(executor.executor());
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let handles: Vec<_> = (0..100)
        .map(|i| {
            let log = log.clone();
            strand.spawn(async move {
                strait_streams::yield_now().await;
                log.lock().unwrap().push(i);
            })
        })
        .collect();
    executor.block_on(&rt, async {
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(log.lock().unwrap().len(), 100);
}

#[test]
fn shutting_the_runtime_down_aborts_strait_tasks() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    let handle = executor.spawn(pending::<()>());
    let started = Instant::now();
    while executor.outstanding_work() == 0 && started.elapsed() < Duration::from_secs(1) {
        std::thread::yield_now();
    }
    drop(rt);
    let joined = futures_block_on(handle);
    assert!(joined.unwrap_err().is_aborted());
    // A spawn after shutdown aborts its task instead of hanging.
    let late = executor.spawn(async {});
    assert!(futures_block_on(late).unwrap_err().is_aborted());
}

/// Polls a future on this thread (no runtime needed for a join handle).
fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    strait_streams::RunLoop::new().block_on(f)
}

#[test]
#[should_panic(expected = "timers are disabled")]
fn a_runtime_without_timers_is_refused_at_once() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()
        .unwrap();
    let _ = TokioExecutor::new(rt.handle());
}

/// A strand made over an executor whose runtime is gone: its invoker is aborted at
/// once, and the strand then aborts its tasks instead of leaving them waiting.
#[test]
fn a_strand_over_a_shut_down_runtime_aborts_its_tasks() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    drop(rt);
    let strand = Strand::new(executor.executor());
    let late = strand.spawn(async {});
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(futures_block_on(late).is_err());
    });
    assert_eq!(rx.recv_timeout(Duration::from_secs(2)), Ok(true));
}

#[test]
fn delay_and_timeout_follow_tokios_paused_clock() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    let executor = TokioExecutor::new(rt.handle());
    let real = Instant::now();
    let (slept, timed_out) = executor
        .block_on(&rt, async {
            let virtual_start = tokio::time::Instant::now();
            // An hour on the paused clock: tokio jumps to the deadline as soon as all is idle.
            delay(Duration::from_secs(3600)).await?;
            let slept = virtual_start.elapsed();
            let r = timeout(Duration::from_secs(60), delay(Duration::from_secs(86_400))).await;
            io::Result::Ok((slept, r))
        })
        .unwrap();
    assert!(
        slept >= Duration::from_secs(3600),
        "virtual time: {slept:?}"
    );
    assert_eq!(timed_out.unwrap_err().kind(), io::ErrorKind::TimedOut);
    assert!(
        real.elapsed() < Duration::from_secs(30),
        "the paused clock drove the timers, not the wall clock"
    );
}

#[test]
fn a_pending_accept_ends_when_the_stop_token_stops() {
    let rt = runtime();
    let executor = TokioExecutor::new(rt.handle());
    executor.block_on(&rt, async {
        let listener = strait_tokio::TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap();
        let source = strait_streams::StopSource::new();
        let stopper = source.clone();
        let accept = strait_streams::with_stop_token(source.token(), listener.accept());
        let stop_later = async move {
            delay(Duration::from_millis(20)).await?;
            stopper.request_stop();
            io::Result::Ok(())
        };
        let err = strait_streams::when_all((accept, stop_later))
            .await
            .expect_err("no connection came: the accept ends only by the stop");
        assert!(strait_streams::is_canceled(&err), "{err:?}");
    });
}
