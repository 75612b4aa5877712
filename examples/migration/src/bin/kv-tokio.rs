//! The migrated key-value server on tokio: the only file that names the runtime.

use std::sync::Arc;

use strait_migration_example::{kv, stop_on_stdin_eof, store::Store, Config};
use strait_streams::{with_stop_token, StopSource};
use strait_tokio::{TcpListener, TokioExecutor};

fn main() -> std::io::Result<()> {
    let (addr, config) = Config::from_args();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let executor = TokioExecutor::new(runtime.handle());
    let stop = StopSource::new();
    let token = stop.token();
    stop_on_stdin_eof(move || {
        stop.request_stop();
    });
    executor.block_on(&runtime, async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let accept = || async { Ok(listener.accept().await?.0) };
        with_stop_token(token, kv::serve(accept, Arc::new(Store::new()), config)).await
    })
}
