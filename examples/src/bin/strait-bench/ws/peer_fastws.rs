//! The ws echo scenarios on fastwebsockets (tokio current_thread).

use std::io;
use std::time::{Duration, Instant};

use fastwebsockets::{Frame, OpCode, Payload, Role, WebSocket};
use tokio::net::{TcpListener, TcpStream};

use super::LOOPBACK;

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    socket2::SockRef::from(t).set_linger(Some(Duration::ZERO))
}

async fn serve(s: TcpStream) -> io::Result<()> {
    let mut ws = WebSocket::after_handshake(s, Role::Server);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    loop {
        let frame = ws.read_frame().await.map_err(other)?;
        match frame.opcode {
            OpCode::Close => return Ok(()),
            OpCode::Binary | OpCode::Text => ws.write_frame(frame).await.map_err(other)?,
            _ => {}
        }
    }
}

async fn client(c: TcpStream, size: usize, until: Instant) -> io::Result<u64> {
    let mut ws = WebSocket::after_handshake(c, Role::Client);
    ws.set_auto_close(true);
    ws.set_auto_pong(true);
    // The client masks in place: the buffer is reused for every send.
    let mut msg = vec![7u8; size];
    let mut n = 0;
    while Instant::now() < until {
        ws.write_frame(Frame::binary(Payload::BorrowedMut(&mut msg)))
            .await
            .map_err(other)?;
        let frame = ws.read_frame().await.map_err(other)?;
        if frame.opcode != OpCode::Binary || frame.payload.len() != size {
            return Err(io::Error::other("bad echo"));
        }
        n += 1;
    }
    Ok(n)
}

/// Echo round trips per second over `conns` connections of `size`-byte messages.
pub fn echo(conns: usize, size: usize, budget: Duration) -> io::Result<f64> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
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
