//! Strait code on smol sees the adapter: its executor in `env()`, spawns that become
//! smol tasks, and `delay`/`timeout` served by the adapter's timer on async-io.

use std::future::pending;
use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant};

use strait_smol::SmolExecutor;
use strait_streams::{delay, env, timeout, Strand};

/// A smol executor with one worker thread; the smol executor is returned so the test
/// decides when it goes away.
fn runtime() -> (Arc<async_executor::Executor<'static>>, SmolExecutor) {
    let smol = Arc::new(async_executor::Executor::new());
    let weak = Arc::downgrade(&smol);
    std::thread::spawn(move || {
        // Runs while the test holds the smol executor.
        while let Some(smol) = weak.upgrade() {
            async_io::block_on(smol.run(async_io::Timer::after(Duration::from_millis(20))));
        }
    });
    let executor = SmolExecutor::new(&smol);
    (smol, executor)
}

#[test]
fn spawned_strait_tasks_are_smol_tasks_and_see_the_adapter() {
    let (_smol, executor) = runtime();
    let ex = executor.executor();
    let seen = executor.block_on(async move {
        let outer = env().executor().spawn(async move {
            let inner = env().executor().spawn(async { env().executor().clone() });
            let inner_sees = inner.await.unwrap();
            (env().executor() == ex, inner_sees == ex)
        });
        outer.await.unwrap()
    });
    assert_eq!(seen, (true, true));
}

#[test]
fn block_on_and_in_env_publish_the_environment() {
    let (smol, executor) = runtime();
    let ex = executor.executor();
    assert!(executor.block_on(async { env().executor() == ex }));
    // A smol-native task running strait code through `in_env`.
    let ex = executor.executor();
    let native = smol.spawn(executor.in_env(async move { env().executor() == ex }));
    assert!(executor.block_on(native));
    // Without it, strait code in a plain smol task sees the default environment.
    let ex = executor.executor();
    let plain = smol.spawn(async move { env().executor() == ex });
    assert!(!executor.block_on(plain));
}

#[test]
fn delay_waits_on_the_adapters_timer() {
    let (_smol, executor) = runtime();
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
            "delay never reached the adapter's timer"
        );
        std::thread::yield_now();
    }
    let waited = executor.block_on(handle).unwrap().unwrap();
    assert!(
        waited >= Duration::from_millis(30),
        "woke early: {waited:?}"
    );
    assert!(waited < Duration::from_secs(2), "woke late: {waited:?}");
    assert_eq!(timer.scheduled(), 0, "a fired entry leaves the table");
}

#[test]
fn timeout_fires_and_cancels_its_entry() {
    let (_smol, executor) = runtime();
    let timer = executor.timer().clone();
    executor.block_on(async {
        let start = Instant::now();
        let err = timeout(Duration::from_millis(20), delay(Duration::from_secs(60)))
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert!(start.elapsed() >= Duration::from_millis(20));
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
    let (_smol, executor) = runtime();
    let long = executor.spawn(delay(Duration::from_secs(30)));
    let timer = executor.timer().clone();
    while timer.scheduled() == 0 {
        std::thread::yield_now();
    }
    let start = Instant::now();
    executor.block_on(delay(Duration::from_millis(10))).unwrap();
    assert!(start.elapsed() < Duration::from_secs(2));
    long.abort();
}

#[test]
fn strands_run_on_the_adapter_through_posts() {
    let (_smol, executor) = runtime();
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
    executor.block_on(async {
        for h in handles {
            h.await.unwrap();
        }
    });
    assert_eq!(*log.lock().unwrap(), (0..100).collect::<Vec<_>>());
}

#[test]
fn dropping_the_smol_executor_aborts_strait_tasks() {
    let (smol, executor) = runtime();
    let handle = executor.spawn(pending::<()>());
    let started = Instant::now();
    while executor.outstanding_work() == 0 && started.elapsed() < Duration::from_secs(1) {
        std::thread::yield_now();
    }
    drop(smol);
    // The worker may still hold it for one turn; wait for it to let go.
    let joined = strait_streams::RunLoop::new().block_on(handle);
    assert!(joined.unwrap_err().is_aborted());
    // A spawn after the executor is gone aborts its task instead of hanging.
    let late = executor.spawn(async {});
    assert!(strait_streams::RunLoop::new()
        .block_on(late)
        .unwrap_err()
        .is_aborted());
}

#[test]
fn block_on_inside_a_task_is_refused() {
    let (_smol, executor) = runtime();
    let inner = executor.clone();
    let task = executor.spawn(async move {
        // Blocking a smol worker inside a strait task would stall its other tasks.
        inner.block_on(async {});
    });
    let err = executor.block_on(task).unwrap_err();
    assert!(err.is_panic(), "{err:?}");
    // Outside any task, the same call is fine.
    executor.block_on(async {});
}

#[test]
fn the_executor_knows_when_it_runs_on_this_thread() {
    let (_smol, executor) = runtime();
    let ex = executor.executor();
    assert!(!ex.running_in_this_thread());
    let inside = executor.spawn(async { env().executor().running_in_this_thread() });
    assert!(executor.block_on(inside).unwrap());
}

#[test]
fn a_pending_accept_ends_when_the_stop_token_stops() {
    let (_smol, executor) = runtime();
    executor.block_on(async {
        let listener = strait_smol::TcpListener::bind("127.0.0.1:0").await.unwrap();
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
