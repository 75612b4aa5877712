//! Suite `spawn`: the Corosio io_context shapes (post-and-run batches of 1000 and of
//! 100; 4 threads posting and running) for strait's `RunLoop` and `ThreadPool` against
//! tokio (current_thread, multi_thread) and smol's executor, and the batches of 100
//! again with futures carrying 4 KiB of state (a protocol handler's size class: each
//! runtime moves the future into its task block).

use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::harness::{rate, Better, Report};

const SUITE: &str = "spawn";

pub fn run(report: &mut Report) {
    for batch in [1000u64, 100] {
        let scenario = if batch == 1000 {
            "single_threaded (batches of 1000)"
        } else {
            "interleaved (batches of 100)"
        };
        batches(report, scenario, batch, small_task);
    }
    batches(report, "4 KiB futures (batches of 100)", 100, big_task);
    concurrent(report, "concurrent (4 threads post and run)", 4, 10_000);
}

/// The task the rows spawn: bumps the counter.
async fn small_task(c: Arc<AtomicU64>) {
    c.fetch_add(1, Ordering::Relaxed);
}

/// Bytes of state a big task carries.
const BIG_STATE: usize = 4096;

/// [`small_task`] carrying `BIG_STATE` bytes (made in the spawner's frame, as a
/// connection handler's buffers are; an `async fn` would make them at the first poll,
/// and the spawn would move a future of the same size but filled with nothing).
fn big_task(c: Arc<AtomicU64>) -> impl Future<Output = ()> + Send + 'static {
    let state = [1u8; BIG_STATE];
    async move {
        std::hint::black_box(&state);
        c.fetch_add(1, Ordering::Relaxed);
    }
}

/// Spawn `batch` tasks that bump a counter, then run until they are done; repeat.
fn batches<M, T>(report: &mut Report, scenario: &str, batch: u64, make: M)
where
    M: Fn(Arc<AtomicU64>) -> T + Copy + Send + 'static,
    T: Future<Output = ()> + Send + 'static,
{
    let mut row = report.row(SUITE, scenario, "throughput", "tasks/s", Better::Higher);
    row = row.subject("strait-runloop", move |budget| {
        let rl = strait_streams::RunLoop::new();
        let counter = Arc::new(AtomicU64::new(0));
        rate(budget, || {
            for _ in 0..batch {
                let c = counter.clone();
                rl.spawn(make(c)).detach();
            }
            rl.poll();
            batch
        })
    });
    row = row.subject("strait-threadpool-1", move |budget| {
        let pool = strait_streams::ThreadPool::new(1);
        let counter = Arc::new(AtomicU64::new(0));
        let mut target = 0;
        rate(budget, || {
            for _ in 0..batch {
                let c = counter.clone();
                pool.spawn(make(c)).detach();
            }
            target += batch;
            while counter.load(Ordering::Relaxed) < target {
                std::hint::spin_loop();
            }
            batch
        })
    });
    row = row.subject("tokio-current_thread", move |budget| {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        let mut target = 0;
        rate(budget, || {
            for _ in 0..batch {
                let c = counter.clone();
                drop(rt.spawn(make(c)));
            }
            target += batch;
            rt.block_on(async {
                while counter.load(Ordering::Relaxed) < target {
                    tokio::task::yield_now().await;
                }
            });
            batch
        })
    });
    row = row.subject("tokio-multi_thread-1", move |budget| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .build()
            .unwrap();
        let counter = Arc::new(AtomicU64::new(0));
        let mut target = 0;
        rate(budget, || {
            for _ in 0..batch {
                let c = counter.clone();
                drop(rt.spawn(make(c)));
            }
            target += batch;
            while counter.load(Ordering::Relaxed) < target {
                std::hint::spin_loop();
            }
            batch
        })
    });
    row = row.subject("smol-executor", move |budget| {
        let ex = smol::Executor::new();
        let counter = Arc::new(AtomicU64::new(0));
        rate(budget, || {
            for _ in 0..batch {
                let c = counter.clone();
                ex.spawn(make(c)).detach();
            }
            while ex.try_tick() {}
            batch
        })
    });
    row.pair("strait-runloop", "tokio-current_thread")
        .pair("strait-runloop", "smol-executor")
        .pair("strait-threadpool-1", "tokio-multi_thread-1")
        .run(report);
}

/// `threads` threads each post `per_round` tasks, then help run them, until the budget.
fn concurrent(report: &mut Report, scenario: &str, threads: usize, per_round: u64) {
    let mut row = report.row(SUITE, scenario, "throughput", "tasks/s", Better::Higher);
    row = row.subject("strait-runloop-shared", move |budget| {
        let rl = Arc::new(strait_streams::RunLoop::new());
        let drain = rl.clone();
        concurrent_driver(
            budget,
            threads,
            per_round,
            move |counter| {
                for _ in 0..per_round {
                    let c = counter.clone();
                    rl.spawn(async move {
                        c.fetch_add(1, Ordering::Relaxed);
                    })
                    .detach();
                }
                rl.poll();
            },
            move || {
                drain.poll();
            },
        )
    });
    row = row.subject("strait-threadpool-2", move |budget| {
        let pool = Arc::new(strait_streams::ThreadPool::new(2));
        concurrent_driver(
            budget,
            threads,
            per_round,
            move |counter| {
                for _ in 0..per_round {
                    let c = counter.clone();
                    pool.spawn(async move {
                        c.fetch_add(1, Ordering::Relaxed);
                    })
                    .detach();
                }
            },
            || {},
        )
    });
    row = row.subject("tokio-multi_thread-2", move |budget| {
        let rt = Arc::new(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .build()
                .unwrap(),
        );
        concurrent_driver(
            budget,
            threads,
            per_round,
            move |counter| {
                for _ in 0..per_round {
                    let c = counter.clone();
                    drop(rt.spawn(async move {
                        c.fetch_add(1, Ordering::Relaxed);
                    }));
                }
            },
            || {},
        )
    });
    row = row.subject("smol-executor-shared", move |budget| {
        let ex = Arc::new(smol::Executor::new());
        let drain = ex.clone();
        concurrent_driver(
            budget,
            threads,
            per_round,
            move |counter| {
                for _ in 0..per_round {
                    let c = counter.clone();
                    ex.spawn(async move {
                        c.fetch_add(1, Ordering::Relaxed);
                    })
                    .detach();
                }
                while ex.try_tick() {}
            },
            move || while drain.try_tick() {},
        )
    });
    row.pair("strait-runloop-shared", "smol-executor-shared")
        .pair("strait-threadpool-2", "tokio-multi_thread-2")
        .run(report);
}

/// Runs `round` on `threads` threads until `budget`, then `finish` (which runs what is
/// left on executors without threads of their own); returns completed tasks per second.
fn concurrent_driver(
    budget: Duration,
    threads: usize,
    per_round: u64,
    round: impl Fn(&Arc<AtomicU64>) + Send + Sync + 'static,
    finish: impl Fn(),
) -> f64 {
    let counter = Arc::new(AtomicU64::new(0));
    let round = Arc::new(round);
    let deadline = Instant::now() + budget;
    let start = Instant::now();
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (round, counter) = (round.clone(), counter.clone());
            std::thread::spawn(move || {
                let mut posted = 0;
                while Instant::now() < deadline {
                    round(&counter);
                    posted += per_round;
                }
                posted
            })
        })
        .collect();
    let posted: u64 = workers.into_iter().map(|w| w.join().unwrap()).sum();
    finish();
    // Count only what ran: wait for stragglers (bounded), then measure.
    let wait_until = Instant::now() + Duration::from_secs(10);
    while counter.load(Ordering::Relaxed) < posted && Instant::now() < wait_until {
        std::thread::yield_now();
    }
    counter.load(Ordering::Relaxed) as f64 / start.elapsed().as_secs_f64()
}
