//! A UDP echo server, or with `--send` a client that sends one datagram and prints the
//! echo.
//!
//! ```text
//! cargo run --release -p strait-examples --bin udp-echo -- [ADDR]                 (server, default 127.0.0.1:7879)
//! cargo run --release -p strait-examples --bin udp-echo -- --send ADDR MESSAGE    (client)
//! ```

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use strait_native::{IoContext, UdpSocket};

fn parse(addr: &str) -> io::Result<SocketAddr> {
    addr.parse().map_err(|e| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("bad address {addr}: {e}"),
        )
    })
}

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let ctx = IoContext::new()?;
    if args.first().map(String::as_str) == Some("--send") {
        let target = parse(args.get(1).map_or("127.0.0.1:7879", String::as_str))?;
        let message = args.get(2).cloned().unwrap_or_else(|| "ping".into());
        let sock = UdpSocket::bind(&ctx, "127.0.0.1:0")?;
        sock.connect(target)?;
        let reply = ctx.block_on(strait_streams::timeout(Duration::from_secs(3), async {
            sock.send(message.as_bytes()).await?;
            let mut buf = vec![0u8; 64 * 1024];
            let n = sock.recv(&mut buf).await?;
            buf.truncate(n);
            Ok(buf)
        }))?;
        println!("{}", String::from_utf8_lossy(&reply));
        return Ok(());
    }
    let addr = parse(args.first().map_or("127.0.0.1:7879", String::as_str))?;
    let sock = UdpSocket::bind(&ctx, addr)?;
    println!("udp-echo listening on {}", sock.local_addr()?);
    ctx.block_on(async {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let (n, from) = sock.recv_from(&mut buf).await?;
            sock.send_to(&buf[..n], from).await?;
        }
    })
}
