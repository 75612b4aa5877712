//! An echo server on strait's native reactor: every byte a client sends comes back.
//!
//! ```text
//! cargo run --release -p strait-examples --bin echo-server -- [ADDR] [--threads N]
//! ```
//! ADDR defaults to 127.0.0.1:7878. With `--threads N` one `IoContext` is run by N
//! threads at once (default 1): connections, their tasks and their I/O are served by
//! whichever runner is free. Try it with
//! `cargo run --release -p strait-examples --bin echo-client -- 127.0.0.1:7878 hello`
//! or `nc 127.0.0.1 7878`.

use std::io;
use std::num::NonZeroUsize;

use strait_native::{Handle, IoContext, TcpListener, TcpStream};
use strait_streams::{write_all, ReadStreamExt, WriteStreamExt};

/// Echoes until the client ends its side, then ends ours.
async fn echo(mut conn: TcpStream) -> io::Result<u64> {
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = conn.read(&mut buf[..]).await?;
        if n == 0 {
            conn.shutdown().await?;
            return Ok(total);
        }
        write_all(&mut conn, &buf[..n]).await?;
        total += n as u64;
    }
}

/// Accepts connections and spawns a task for each on the running context.
async fn serve(listener: TcpListener) -> io::Result<()> {
    // The context running this task, found through the task's environment.
    let handle = Handle::current();
    loop {
        let (conn, peer) = listener.accept().await?;
        conn.set_nodelay(true)?;
        handle
            .spawn(async move {
                let result = echo(conn).await;
                // The runner thread that happened to finish the connection.
                let thread = std::thread::current();
                let runner = thread.name().unwrap_or("unnamed");
                match result {
                    Ok(n) => println!("{peer}: echoed {n} bytes (on {runner})"),
                    Err(e) => println!("{peer}: {e} (on {runner})"),
                }
            })
            .detach();
    }
}

/// `[ADDR] [--threads N]`.
fn parse_args() -> io::Result<(String, NonZeroUsize)> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let mut addr = None;
    let mut threads = NonZeroUsize::MIN;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--threads" {
            let n = args
                .next()
                .ok_or_else(|| invalid("--threads needs N".into()))?;
            threads = n
                .parse()
                .map_err(|e| invalid(format!("bad thread count {n:?}: {e}")))?;
        } else if addr.is_none() {
            addr = Some(arg);
        } else {
            return Err(invalid(format!("unexpected argument {arg:?}")));
        }
    }
    Ok((addr.unwrap_or_else(|| "127.0.0.1:7878".into()), threads))
}

fn main() -> io::Result<()> {
    let (addr, threads) = parse_args()?;
    let ctx = IoContext::new()?;
    let listener = TcpListener::bind(&ctx, addr.as_str())?;
    println!("echo-server listening on {}", listener.local_addr()?);
    println!("{threads} runner thread(s)");
    let server = ctx.spawn(serve(listener));
    // Several threads run one context: each takes queued tasks and waits on the same
    // epoll instance; `run` returns once no work is left (here: when `serve` fails and
    // the last connection ends).
    std::thread::scope(|s| {
        for i in 1..threads.get() {
            let runner = std::thread::Builder::new()
                .name(format!("runner-{i}"))
                .spawn_scoped(s, || ctx.run());
            if let Err(e) = runner {
                ctx.stop(); // the runners already started return
                return Err(e);
            }
        }
        ctx.run();
        io::Result::Ok(())
    })?;
    ctx.block_on(server)
        .map_err(|e| io::Error::other(format!("the accept loop failed: {e:?}")))?
}
