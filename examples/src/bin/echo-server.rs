//! An echo server on strait's native reactor: every byte a client sends comes back.
//!
//! ```text
//! cargo run --release -p strait-examples --bin echo-server -- [ADDR]   (default 127.0.0.1:7878)
//! ```
//! Try it with `cargo run --release -p strait-examples --bin echo-client -- 127.0.0.1:7878 hello`
//! or `nc 127.0.0.1 7878`.

use std::io;
use std::net::SocketAddr;

use strait_native::{IoContext, TcpListener, TcpStream};
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

fn main() -> io::Result<()> {
    let addr: SocketAddr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".into())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("bad address: {e}")))?;
    let ctx = IoContext::new()?;
    let listener = TcpListener::bind(&ctx, addr)?;
    println!("echo-server listening on {}", listener.local_addr()?);
    let executor = ctx.executor();
    ctx.block_on(async {
        loop {
            let (conn, peer) = listener.accept().await?;
            conn.set_nodelay(true)?;
            executor
                .spawn(async move {
                    match echo(conn).await {
                        Ok(n) => println!("{peer}: echoed {n} bytes"),
                        Err(e) => println!("{peer}: {e}"),
                    }
                })
                .detach();
        }
    })
}
