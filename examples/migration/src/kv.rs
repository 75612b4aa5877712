//! The program's protocol module after the migration: written once against strait's
//! stream traits, it runs unchanged on tokio, smol and the native driver. No runtime is
//! named here; the binary that opens the sockets picks one.
//!
//! | tokio (`original.rs`) | strait (here) |
//! |---|---|
//! | `TcpStream`, `into_split`, `BufReader::read_line` | [`AnyStream`], [`read_until`] into a bounded buffer |
//! | `tokio::time::timeout` | [`timeout`] (the driver's timer) |
//! | `tokio::spawn` | [`run_async`] on the environment's executor |
//! | `select!` on a shutdown channel | the environment's stop token: every strait read and wait ends with the canceled error when it stops |

use std::future::Future;
use std::io;
use std::pin::pin;
use std::sync::Arc;
use std::task::Poll;

use strait_streams::{
    env, is_canceled, read_until, run_async, stop_requested, timeout, write_all, AnyStream, Stream,
    VecBuffer, WriteStreamExt,
};

use crate::store::{Store, Then};
use crate::Config;

/// Accepts connections until the environment's stop token stops (run it inside
/// `with_stop_token`); each connection is a task on the environment's executor that
/// inherits the token. `accept` is the driver's accept, as a closure: the one thing
/// this module needs from the file that opens sockets.
///
/// # Errors
/// An accept error.
pub async fn serve<S, F>(
    mut accept: impl FnMut() -> F,
    store: Arc<Store>,
    config: Config,
) -> io::Result<()>
where
    F: Future<Output = io::Result<S>>,
    S: Stream + Send + Unpin + 'static,
{
    let env = env();
    loop {
        let stream = match until_stopped(accept()).await {
            Ok(stream) => stream,
            Err(e) if is_canceled(&e) => return Ok(()),
            Err(e) => return Err(e),
        };
        let store = store.clone();
        // Dropping the join handle detaches the task; the stop token still reaches it.
        drop(
            run_async(env.executor().clone())
                .stop_token(env.stop_token().clone())
                .spawn(
                    async move { serve_connection(AnyStream::new(stream), &store, config).await },
                ),
        );
    }
}

/// Serves one client: a command per line, a reply per command.
///
/// # Errors
/// An I/O error on the connection (a stop ends it quietly).
pub async fn serve_connection(
    mut stream: AnyStream<'_>,
    store: &Store,
    config: Config,
) -> io::Result<()> {
    let mut buf = Vec::with_capacity(256);
    loop {
        let line = VecBuffer::new(&mut buf, config.max_line);
        let len = match timeout(config.idle, read_until(&mut stream, line, b'\n')).await {
            Ok(len) => len,
            Err(e) if e.kind() == io::ErrorKind::TimedOut => {
                write_all(&mut stream, "ERR idle timeout\n").await?;
                break;
            }
            // The client went away, possibly mid-line; or the server is stopping.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof || is_canceled(&e) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                write_all(&mut stream, "ERR line too long\n").await?;
                break;
            }
            Err(e) => return Err(e),
        };
        let reply = match std::str::from_utf8(&buf[..len - 1]) {
            Ok(line) => store.execute(line),
            Err(_) => ("ERR not UTF-8\n".to_owned(), Then::Continue),
        };
        buf.drain(..len); // pipelined commands stay buffered
        write_all(&mut stream, reply.0.as_bytes()).await?;
        if reply.1 == Then::Close {
            break;
        }
    }
    stream.shutdown().await
}

/// Runs `future` until it completes or the environment's stop token stops, for driver
/// futures that do not watch the token themselves (tokio's and smol's `accept`).
async fn until_stopped<T>(future: impl Future<Output = io::Result<T>>) -> io::Result<T> {
    let mut future = pin!(future);
    std::future::poll_fn(|cx| {
        if stop_requested() {
            return Poll::Ready(Err(strait_streams::canceled()));
        }
        future.as_mut().poll(cx)
    })
    .await
}
