//! The program as it was: tokio all the way through. `tokio::net` sockets,
//! `tokio::io::BufReader` for lines, `tokio::time::timeout` for idle clients,
//! `tokio::spawn` per connection and `tokio::select!` on a shutdown signal (a `watch`
//! channel standing in for tokio-util's `CancellationToken`).

use std::io;
use std::sync::Arc;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::store::{Store, Then};
use crate::Config;

/// Accepts connections until `shutdown` turns true; each connection is a tokio task.
///
/// # Errors
/// An accept error.
pub async fn serve(
    listener: TcpListener,
    store: Arc<Store>,
    config: Config,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, _) = accepted?;
                let (store, shutdown) = (store.clone(), shutdown.clone());
                tokio::spawn(async move {
                    let _ = serve_connection(stream, &store, config, shutdown).await;
                });
            }
            _ = shutdown.changed() => return Ok(()),
        }
    }
}

/// Serves one client: a command per line, a reply per command.
///
/// # Errors
/// An I/O error on the connection.
pub async fn serve_connection(
    stream: TcpStream,
    store: &Store,
    config: Config,
    mut shutdown: watch::Receiver<bool>,
) -> io::Result<()> {
    let (reader, mut writer) = stream.into_split();
    let mut reader = BufReader::new(reader);
    let mut line = String::new();
    loop {
        line.clear();
        let read = tokio::select! {
            read = tokio::time::timeout(config.idle, reader.read_line(&mut line)) => read,
            _ = shutdown.changed() => return Ok(()),
        };
        match read {
            Err(_elapsed) => {
                writer.write_all(b"ERR idle timeout\n").await?;
                break;
            }
            Ok(Ok(0)) => return Ok(()), // the client went away
            Ok(Ok(_)) if !line.ends_with('\n') => return Ok(()), // cut off mid-line
            Ok(Ok(n)) if n > config.max_line => {
                writer.write_all(b"ERR line too long\n").await?;
                break;
            }
            Ok(Ok(_)) => {}
            Ok(Err(e)) => return Err(e),
        }
        let (reply, then) = store.execute(line.trim_end_matches('\n'));
        writer.write_all(reply.as_bytes()).await?;
        if then == Then::Close {
            break;
        }
    }
    writer.shutdown().await
}
