//! The ws scenarios on tokio-tungstenite (tokio current_thread), and tungstenite's frame
//! codec for the decode row.

use std::io::{self, Cursor};
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_tungstenite::WebSocketStream;
use tungstenite::protocol::frame::FrameSocket;
use tungstenite::protocol::Role;
use tungstenite::Message;

use super::LOOPBACK;

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    socket2::SockRef::from(t).set_linger(Some(Duration::ZERO))
}

async fn serve(s: TcpStream) -> io::Result<()> {
    let mut ws = WebSocketStream::from_raw_socket(s, Role::Server, None).await;
    while let Some(m) = ws.next().await {
        match m.map_err(other)? {
            m @ Message::Binary(_) => ws.send(m).await.map_err(other)?,
            Message::Close(_) => break,
            _ => {}
        }
    }
    Ok(())
}

async fn client(c: TcpStream, size: usize, until: Instant) -> io::Result<u64> {
    let mut ws = WebSocketStream::from_raw_socket(c, Role::Client, None).await;
    let msg = bytes_of(size);
    let mut n = 0;
    while Instant::now() < until {
        ws.send(Message::Binary(msg.clone())).await.map_err(other)?;
        match ws.next().await {
            Some(Ok(Message::Binary(b))) if b.len() == size => n += 1,
            other => return Err(io::Error::other(format!("bad echo: {other:?}"))),
        }
    }
    Ok(n)
}

fn bytes_of(size: usize) -> tungstenite::Bytes {
    vec![7u8; size].into()
}

/// Echo round trips per second over `conns` connections of `size`-byte messages.
pub fn echo(conns: usize, size: usize, budget: Duration) -> io::Result<f64> {
    let rt = runtime()?;
    rt.block_on(async {
        let listener = TcpListener::bind(LOOPBACK).await?;
        let addr = listener.local_addr()?;
        let mut clients = Vec::with_capacity(conns);
        for _ in 0..conns {
            // The kernel completes a loopback connect from the backlog: accept after.
            let c = TcpStream::connect(addr).await?;
            let (s, _) = listener.accept().await?;
            tune(&c)?;
            tune(&s)?;
            tokio::spawn(async move {
                let _ = serve(s).await;
            });
            clients.push(c);
        }
        let start = Instant::now();
        let until = start + budget;
        let handles: Vec<_> = clients
            .into_iter()
            .map(|c| tokio::spawn(client(c, size, until)))
            .collect();
        let mut total = 0;
        for h in handles {
            total += h.await.map_err(other)??;
        }
        Ok(total as f64 / start.elapsed().as_secs_f64())
    })
}

/// Decodes `n` frames from `wire` with tungstenite's frame codec (header, payload,
/// unmasking).
pub fn decode(wire: &[u8], n: usize) {
    let mut socket = FrameSocket::new(Cursor::new(wire));
    for _ in 0..n {
        let frame = socket
            .read(None)
            .expect("valid frame")
            .expect("a whole frame");
        std::hint::black_box(frame.payload());
    }
}
