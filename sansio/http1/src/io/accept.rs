//! Accept loops with a limit on open connections: one over any listener's `accept`
//! (every driver), and its strait-native form.

use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

#[cfg(feature = "native")]
use strait_native::{TcpListener, TcpStream};
use strait_streams::AsyncEvent;

/// The most connections open at once, shared by every accept loop given the same
/// limit (one per context of a thread-per-core server, say).
#[derive(Debug)]
pub struct ConnectionLimit {
    max: usize,
    open: AtomicUsize,
    /// Set whenever a connection ends; cleared by a loop before it looks.
    freed: AsyncEvent,
}

impl ConnectionLimit {
    /// A limit of `max` open connections (at least 1).
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            max: max.max(1),
            open: AtomicUsize::new(0),
            freed: AsyncEvent::new(),
        })
    }

    /// Connections open now (and slots reserved by loops waiting in `accept`).
    pub fn open(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Waits for a free slot and reserves it before the loop accepts: loops sharing
    /// the limit cannot each take the last slot while they wait in `accept` at once.
    async fn slot(self: &Arc<Self>) -> io::Result<Slot> {
        loop {
            // Cleared before looking: a connection ending after the look sets it again.
            self.freed.clear();
            let mut open = self.open.load(Ordering::Acquire);
            while open < self.max {
                match self.open.compare_exchange_weak(
                    open,
                    open + 1,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => return Ok(Slot(self.clone())),
                    Err(actual) => open = actual,
                }
            }
            self.freed.wait().await?;
        }
    }
}

/// A reserved slot: freed when the accept fails, or when the connection's task ends
/// (returns, panics or is dropped).
struct Slot(Arc<ConnectionLimit>);

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, Ordering::AcqRel);
        self.0.freed.set();
    }
}

/// Accepts connections on `listener` and runs `serve(stream, peer)` for each on a task
/// of its own, with at most `limit` connections open at once: at the limit the loop
/// stops accepting (new clients wait in the listen backlog) until one ends. Returns
/// `Ok` when the environment's stop token is triggered, and the error when accepting
/// fails otherwise.
///
/// [`accept_loop_with`] over a strait-native listener.
///
/// ```no_run
/// use http::{HeaderMap, StatusCode};
/// use strait_http1::io::{accept_loop, serve_connection, ConnectionLimit, Exchange};
/// use strait_native::{IoContext, TcpListener, TcpStream};
///
/// async fn hello(ex: &mut Exchange<'_, TcpStream>) -> std::io::Result<()> {
///     ex.respond(StatusCode::OK, &HeaderMap::new(), b"hello").await
/// }
///
/// # fn main() -> std::io::Result<()> {
/// let ctx = IoContext::new()?;
/// let listener = TcpListener::bind(&ctx, "127.0.0.1:8080")?;
/// let limit = ConnectionLimit::new(10_000);
/// ctx.block_on(accept_loop(&listener, &limit, |conn: TcpStream, _peer| async move {
///     let _ = conn.set_nodelay(true);
///     let _ = serve_connection(conn, async |ex: &mut Exchange<'_, TcpStream>| hello(ex).await).await;
/// }))
/// # }
/// ```
#[cfg(feature = "native")]
pub async fn accept_loop<F, Fut>(
    listener: &TcpListener,
    limit: &Arc<ConnectionLimit>,
    serve: F,
) -> io::Result<()>
where
    F: FnMut(TcpStream, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    accept_loop_with(|| listener.accept(), limit, serve).await
}

/// Runs `serve(stream, peer)` on a task of its own for each connection `accept` yields,
/// with at most `limit` connections open at once (at the limit it stops accepting until
/// one ends). Tasks go to the current environment's executor, so the same loop runs on
/// strait-native, tokio or smol through their drivers. Returns `Ok` when the
/// environment's stop token is triggered, and the error when accepting fails otherwise.
pub async fn accept_loop_with<S, A, AFut, F, Fut>(
    mut accept: A,
    limit: &Arc<ConnectionLimit>,
    mut serve: F,
) -> io::Result<()>
where
    A: FnMut() -> AFut,
    AFut: Future<Output = io::Result<(S, SocketAddr)>>,
    F: FnMut(S, SocketAddr) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    loop {
        let accepted = match limit.slot().await {
            Ok(slot) => accept().await.map(|accepted| (accepted, slot)),
            Err(e) => Err(e),
        };
        let ((conn, peer), slot) = match accepted {
            Ok(c) => c,
            Err(e) if strait_streams::is_canceled(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let connection = serve(conn, peer);
        strait_streams::spawn(async move {
            let _slot = slot;
            connection.await;
        })
        .detach();
    }
}
