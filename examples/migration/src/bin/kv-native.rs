//! The migrated key-value server on strait's native driver: the only file that names
//! the runtime.

use std::sync::Arc;

use strait_migration_example::{kv, stop_on_stdin_eof, store::Store, Config};
use strait_native::{IoContext, TcpListener};
use strait_streams::{with_stop_token, StopSource};

fn main() -> std::io::Result<()> {
    let (addr, config) = Config::from_args();
    let ctx = IoContext::new()?;
    let stop = StopSource::new();
    let token = stop.token();
    stop_on_stdin_eof(move || {
        stop.request_stop();
    });
    ctx.block_on(async {
        let listener = TcpListener::bind(&ctx, addr.as_str())?;
        println!("listening on {}", listener.local_addr()?);
        let accept = || async { Ok(listener.accept().await?.0) };
        with_stop_token(token, kv::serve(accept, Arc::new(Store::new()), config)).await
    })
}
