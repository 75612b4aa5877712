//! A WebSocket echo server on strait's native reactor: every message comes back, text as
//! text, binary as binary. It is what the Autobahn conformance run (`ci.sh`) tests.
//!
//! ```text
//! cargo run --release -p strait-websocket --example ws-echo -- [ADDR]
//! ```
//! ADDR defaults to 127.0.0.1:9001. The handshake is the crate's standalone one over
//! the raw TCP stream (any path is accepted).

use std::io;

use strait_native::{Handle, IoContext, TcpListener, TcpStream};
use strait_websocket::io::{accept, WebSocket};
use strait_websocket::proto::deflate::DeflateConfig;
use strait_websocket::proto::{Config, Message};

/// Echoes messages until the peer closes.
async fn echo(conn: TcpStream) -> io::Result<usize> {
    let (mut ws, _head) = accept(conn, config(), &[]).await?;
    serve_messages(&mut ws).await
}

async fn serve_messages(ws: &mut WebSocket<TcpStream>) -> io::Result<usize> {
    // The message borrows the connection: copy it out before sending. The scratch buffer
    // grows to the largest message and is reused.
    let mut scratch = Vec::new();
    let mut count = 0;
    loop {
        let text = match ws.next_message().await? {
            None => return Ok(count),
            Some(m) => {
                scratch.clear();
                scratch.extend_from_slice(m.as_bytes());
                matches!(m, Message::Text(_))
            }
        };
        if text {
            let text = std::str::from_utf8(&scratch).expect("validated by the connection");
            ws.send_text(text).await?;
        } else {
            ws.send_binary(&scratch).await?;
        }
        count += 1;
    }
}

async fn serve(listener: TcpListener) -> io::Result<()> {
    let handle = Handle::current();
    loop {
        let (conn, peer) = listener.accept().await?;
        conn.set_nodelay(true)?;
        handle
            .spawn(async move {
                if let Err(e) = echo(conn).await {
                    eprintln!("{peer}: {e}");
                }
            })
            .detach();
    }
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
    let listener = TcpListener::bind(&ctx, addr.as_str())?;
    println!("ws-echo listening on {}", listener.local_addr()?);
    let server = ctx.spawn(serve(listener));
    ctx.run();
    ctx.block_on(server)
        .map_err(|e| io::Error::other(format!("the accept loop failed: {e:?}")))?
}
