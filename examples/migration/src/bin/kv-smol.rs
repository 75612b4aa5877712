//! The migrated key-value server on smol: the only file that names the runtime.

use std::sync::Arc;

use strait_migration_example::{kv, stop_on_stdin_eof, store::Store, Config};
use strait_smol::{SmolExecutor, TcpListener};
use strait_streams::{with_stop_token, StopSource};

fn main() -> std::io::Result<()> {
    let (addr, config) = Config::from_args();
    let smol = Arc::new(smol::Executor::new());
    for _ in 0..std::thread::available_parallelism().map_or(1, |n| n.get()) - 1 {
        let smol = smol.clone();
        std::thread::spawn(move || smol::block_on(smol.run(std::future::pending::<()>())));
    }
    let executor = SmolExecutor::new(&smol);
    let stop = StopSource::new();
    let token = stop.token();
    stop_on_stdin_eof(move || {
        stop.request_stop();
    });
    executor.block_on(async {
        let listener = TcpListener::bind(&addr).await?;
        println!("listening on {}", listener.local_addr()?);
        let accept = || async { Ok(listener.accept().await?.0) };
        with_stop_token(token, kv::serve(accept, Arc::new(Store::new()), config)).await
    })
}
