//! The client side of the Autobahn conformance run: connects to a fuzzing server
//! (`kosoku -m fuzzingserver`), runs every case by echoing each message back, then asks
//! the server to write its reports.
//!
//! ```text
//! cargo run --release -p strait-websocket --example ws-autobahn-client -- [HOST:PORT]
//! ```
//! HOST:PORT defaults to 127.0.0.1:9001.

use std::io;

use strait_native::{Handle, IoContext, TcpStream};
use strait_websocket::io::{connect, WebSocket};
use strait_websocket::proto::deflate::DeflateConfig;
use strait_websocket::proto::{Config, Message};

const AGENT: &str = "strait";

async fn open(addr: &str, path: &str) -> io::Result<WebSocket<TcpStream>> {
    let stream = TcpStream::connect(Handle::current(), addr).await?;
    stream.set_nodelay(true)?;
    let uri: http::Uri = format!("ws://{addr}{path}")
        .parse()
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    connect(stream, uri, &[], config()).await
}

/// Echoes until the server closes; a failure is part of a case, not of the run.
async fn echo(ws: &mut WebSocket<TcpStream>) -> io::Result<()> {
    let mut scratch = Vec::new();
    loop {
        let text = match ws.next_message().await? {
            None => return Ok(()),
            Some(m) => {
                scratch.clear();
                scratch.extend_from_slice(m.as_bytes());
                matches!(m, Message::Text(_))
            }
        };
        if text {
            ws.send_text(std::str::from_utf8(&scratch).expect("validated"))
                .await?;
        } else {
            ws.send_binary(&scratch).await?;
        }
    }
}

async fn run(addr: String) -> io::Result<()> {
    let mut ws = open(&addr, "/getCaseCount").await?;
    let count: u32 = match ws.next_message().await? {
        Some(Message::Text(t)) => t
            .trim()
            .parse()
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?,
        other => {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("expected the case count, got {other:?}"),
            ))
        }
    };
    drop(ws);
    println!("running {count} cases");
    for case in 1..=count {
        let mut ws = open(&addr, &format!("/runCase?case={case}&agent={AGENT}")).await?;
        if let Err(e) = echo(&mut ws).await {
            println!("case {case}: {e}");
        }
    }
    // The server writes its reports and may drop the connection without a close frame.
    let mut ws = open(&addr, &format!("/updateReports?agent={AGENT}")).await?;
    while let Ok(Some(_)) = ws.next_message().await {}
    Ok(())
}

/// Default limits, permessage-deflate offered (client) or accepted (server).
fn config() -> Config {
    Config::default().compression(Some(DeflateConfig::default()))
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:9001".into());
    let ctx = IoContext::new()?;
    ctx.block_on(run(addr))
}
