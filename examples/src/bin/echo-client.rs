//! Sends a message to an echo server and prints what comes back.
//!
//! ```text
//! cargo run --release -p strait-examples --bin echo-client -- [ADDR] [MESSAGE...]
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use strait_native::{IoContext, TcpStream};
use strait_streams::VecBuffer;
use strait_streams::{read_to_end, timeout, write_all, WriteStreamExt};

fn main() -> io::Result<()> {
    let mut args = std::env::args().skip(1);
    let addr: SocketAddr = args
        .next()
        .unwrap_or_else(|| "127.0.0.1:7878".into())
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("bad address: {e}")))?;
    let words: Vec<String> = args.collect();
    let message = if words.is_empty() {
        "hello from strait".to_owned()
    } else {
        words.join(" ")
    };
    let ctx = IoContext::new()?;
    let reply = ctx.block_on(timeout(Duration::from_secs(5), async {
        let mut conn = TcpStream::connect(&ctx, addr).await?;
        write_all(&mut conn, message.as_bytes()).await?;
        conn.shutdown().await?;
        let mut reply = Vec::new();
        read_to_end(&mut conn, VecBuffer::new(&mut reply, 1 << 20)).await?;
        Ok::<_, io::Error>(reply)
    }))?;
    println!("{}", String::from_utf8_lossy(&reply));
    if reply != message.as_bytes() {
        return Err(io::Error::other("the echo differs from what was sent"));
    }
    Ok(())
}
