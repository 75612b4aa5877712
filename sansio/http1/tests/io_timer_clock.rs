//! The async layer's deadlines agree with the timer service's clock: when the
//! environment's timer runs on a clock of its own (a driver over tokio's paused time,
//! whose clock can run ahead of the system's), a deadline that clock reports passed is
//! applied as passed, not re-armed forever.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::task::Waker;
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection_with, Exchange, ServeOptions};
use strait_http1::proto::Timeouts;
use strait_streams::driver::{TimerKey, TimerService, TimerTable};
use strait_streams::io::{duplex, DuplexStream};
use strait_streams::{
    run_async, write_all, AnyExecutor, Executor, ReadStreamExt, RunLoop, Runnable,
};

/// A clock an hour ahead of the system's: every deadline the server sets (from the
/// system clock) has passed on it, so its entries fire at once.
struct AheadClock {
    table: Mutex<TimerTable>,
}

const AHEAD: Duration = Duration::from_secs(3600);

impl TimerService for AheadClock {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        let (key, _) = self.table.lock().unwrap().schedule(deadline, waker, key);
        let now = self.now();
        let due: Vec<Waker> = {
            let mut table = self.table.lock().unwrap();
            std::iter::from_fn(|| table.pop_due(now))
                .flatten()
                .collect()
        };
        due.into_iter().for_each(Waker::wake);
        key
    }
    fn cancel(&self, key: TimerKey) {
        self.table.lock().unwrap().cancel(key);
    }
    fn now(&self) -> Instant {
        Instant::now() + AHEAD
    }
}

struct OnClock {
    inner: AnyExecutor,
    clock: Arc<AheadClock>,
}

impl Executor for OnClock {
    fn post(&self, task: Runnable) {
        self.inner.post(task);
    }
    fn on_work_started(&self) {
        self.inner.on_work_started();
    }
    fn on_work_finished(&self) {
        self.inner.on_work_finished();
    }
    fn timer_service(&self) -> Option<Arc<dyn TimerService>> {
        Some(self.clock.clone())
    }
}

/// Serves one connection whose client sends a head announcing a body and then nothing;
/// returns what the client read back.
fn stalled_body(timeouts: Timeouts) -> Vec<u8> {
    let (tx, rx) = mpsc::channel();
    // A thread of its own: before the fix the server spun inside one poll forever.
    std::thread::spawn(move || {
        let rl = RunLoop::new();
        let executor = AnyExecutor::new(OnClock {
            inner: rl.executor(),
            clock: Arc::new(AheadClock {
                table: Mutex::new(TimerTable::new()),
            }),
        });
        let (server, mut client): (DuplexStream, DuplexStream) = duplex(1 << 16);
        let mut options = ServeOptions::default();
        options.config.timeouts = timeouts;
        let served = run_async(executor.clone()).spawn(async move {
            serve_connection_with(
                server,
                options,
                async |ex: &mut Exchange<'_, DuplexStream>| {
                    let mut body = Vec::new();
                    ex.read_body_to_end(&mut body, 1 << 20).await?;
                    ex.respond(StatusCode::OK, &HeaderMap::new(), b"ok").await
                },
            )
            .await
            .map(drop)
        });
        let got = run_async(executor).spawn(async move {
            write_all(
                &mut client,
                "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n",
            )
            .await?;
            let mut got = Vec::new();
            let mut buf = [0u8; 1024];
            loop {
                match client.read(&mut buf[..]).await? {
                    0 => break,
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
            std::io::Result::Ok(got)
        });
        rl.run();
        let _ = rl.block_on(served);
        let _ = tx.send(rl.block_on(got).unwrap().unwrap());
    });
    rx.recv_timeout(Duration::from_secs(10))
        .expect("the server never applied a deadline its timer reported passed")
}

#[test]
fn a_body_deadline_passed_on_the_services_clock_is_answered_408() {
    let got = stalled_body(Timeouts {
        head: None,
        keep_alive: None,
        body: Some(Duration::from_secs(30)),
    });
    assert!(
        got.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn a_keep_alive_deadline_passed_on_the_services_clock_closes() {
    // No request at all: the idle deadline (an hour behind the clock) closes.
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let rl = RunLoop::new();
        let executor = AnyExecutor::new(OnClock {
            inner: rl.executor(),
            clock: Arc::new(AheadClock {
                table: Mutex::new(TimerTable::new()),
            }),
        });
        let (server, client) = duplex(1 << 16);
        let mut options = ServeOptions::default();
        options.config.timeouts = Timeouts {
            head: None,
            keep_alive: Some(Duration::from_secs(60)),
            body: None,
        };
        let served = run_async(executor).spawn(async move {
            serve_connection_with(
                server,
                options,
                async |ex: &mut Exchange<'_, DuplexStream>| {
                    ex.respond(StatusCode::OK, &HeaderMap::new(), b"ok").await
                },
            )
            .await
            .map(drop)
        });
        rl.run();
        let _ = tx.send(rl.block_on(served).unwrap().is_ok());
        drop(client);
    });
    assert!(rx
        .recv_timeout(Duration::from_secs(10))
        .expect("the server never applied a deadline its timer reported passed"));
}
