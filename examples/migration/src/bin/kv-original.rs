//! The original tokio key-value server (see `original.rs`).

use std::sync::Arc;

use strait_migration_example::{original, stop_on_stdin_eof, store::Store, Config};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let (addr, config) = Config::from_args();
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on {}", listener.local_addr()?);
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    stop_on_stdin_eof(move || {
        let _ = stop.send(true);
    });
    original::serve(listener, Arc::new(Store::new()), config, shutdown).await
}
