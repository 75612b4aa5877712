//! A connection limit shared by several accept loops (one per context of a
//! thread-per-core server) holds across all of them: a loop reserves its slot before it
//! accepts, so loops waiting in `accept` at once cannot each take "the last" slot.

use std::collections::VecDeque;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::task::{Poll, Waker};

use strait_http1::io::{accept_loop_with, ConnectionLimit};
use strait_streams::RunLoop;

/// A listener's backlog shared by the loops: `accept` takes the next queued connection.
#[derive(Default)]
struct Backlog {
    queue: Mutex<(VecDeque<u32>, Vec<Waker>)>,
}

impl Backlog {
    fn connect(&self, id: u32) {
        let wakers = {
            let mut q = self.queue.lock().unwrap();
            q.0.push_back(id);
            std::mem::take(&mut q.1)
        };
        wakers.into_iter().for_each(Waker::wake);
    }

    async fn accept(&self) -> io::Result<(u32, SocketAddr)> {
        std::future::poll_fn(|cx| {
            let mut q = self.queue.lock().unwrap();
            match q.0.pop_front() {
                Some(id) => Poll::Ready(Ok((id, "127.0.0.1:1".parse().unwrap()))),
                None => {
                    q.1.push(cx.waker().clone());
                    Poll::Pending
                }
            }
        })
        .await
    }
}

#[test]
fn two_loops_sharing_a_limit_of_one_serve_one_connection_at_a_time() {
    let rl = RunLoop::new();
    let limit = ConnectionLimit::new(1);
    let backlog = Arc::new(Backlog::default());
    for _ in 0..2 {
        let (limit, backlog) = (limit.clone(), backlog.clone());
        rl.spawn(async move {
            let _ = accept_loop_with(
                || backlog.accept(),
                &limit,
                // Each connection stays open (until the loop is dropped).
                |_conn, _peer| std::future::pending::<()>(),
            )
            .await;
        })
        .detach();
    }
    rl.poll();
    backlog.connect(1);
    backlog.connect(2);
    rl.poll();
    assert_eq!(limit.open(), 1, "a limit of one let two connections open");
    assert_eq!(
        backlog.queue.lock().unwrap().0.len(),
        1,
        "the second client waits in the backlog"
    );
}
