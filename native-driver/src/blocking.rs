//! Blocking work kept off the reactor threads: a job runs on a thread pool and the
//! awaiting task is woken with its result. Files use one shared pool; the resolver has
//! its own, so slow lookups never hold up file I/O.

use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::Poll;

use strait_streams::ThreadPool;

/// The pool that file operations run on (four threads, started on first use).
pub(crate) fn file_pool() -> &'static ThreadPool {
    static POOL: OnceLock<ThreadPool> = OnceLock::new();
    POOL.get_or_init(|| ThreadPool::with_name(4, "strait-blocking-"))
}

/// Runs `job` on `pool`. Awaiting honours the environment's stop token: an already
/// stopped token starts nothing; a stop while the job runs gives the caller the
/// canceled error at once, while the job itself runs to completion and its result is
/// dropped (a blocking syscall cannot be interrupted).
///
/// # Errors
/// The canceled error on stop; `Other` if the job panicked.
pub(crate) async fn offload<T: Send + 'static>(
    pool: &ThreadPool,
    job: impl FnOnce() -> T + Send + 'static,
) -> io::Result<T> {
    // An already-stopped token starts nothing.
    if strait_streams::stop_requested() {
        return Err(strait_streams::canceled());
    }
    let mut handle = pool.spawn(async move { job() });
    poll_fn(|cx| {
        if strait_streams::stop_requested() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        Pin::new(&mut handle)
            .poll(cx)
            .map(|r| r.map_err(|e| io::Error::other(e.to_string())))
    })
    .await
}
