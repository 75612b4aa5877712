//! The ws scenarios on strait-websocket over strait-native, one thread.

use std::io;
use std::time::{Duration, Instant};

use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{when_all, JoinHandle};

use strait_websocket::io::WebSocket;
use strait_websocket::proto::{apply_mask, Config, DecoderRules, HeaderDecoder, Role};

use super::LOOPBACK;

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    t.set_linger(Some(Duration::ZERO))
}

fn join_err(e: strait_streams::JoinError) -> io::Error {
    io::Error::other(e.to_string())
}

async fn serve(s: TcpStream) -> io::Result<()> {
    let mut ws = WebSocket::new(s, Role::Server, Config::default());
    // Ends with an error when the client drops its socket at the end of the run. The
    // message is echoed while borrowed (no copy), as the peers echo what they read.
    while let Some((m, mut tx)) = ws.next_message_with_sender().await? {
        tx.send_binary(m.as_bytes()).await?;
    }
    Ok(())
}

async fn client(c: TcpStream, size: usize, until: Instant) -> io::Result<u64> {
    let mut ws = WebSocket::new(c, Role::Client, Config::default());
    // The client masks in place, as fastwebsockets' does: the buffer is reused for every
    // send.
    let mut msg = vec![7u8; size];
    let mut n = 0;
    while Instant::now() < until {
        ws.send_binary_mut(&mut msg).await?;
        match ws.next_message().await? {
            Some(m) if m.as_bytes().len() == size => n += 1,
            other => return Err(io::Error::other(format!("bad echo: {other:?}"))),
        }
    }
    Ok(n)
}

/// Echo round trips per second over `conns` connections of `size`-byte messages.
pub fn echo(conns: usize, size: usize, budget: Duration) -> io::Result<f64> {
    let ctx = IoContext::new_single_threaded()?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let addr = listener.local_addr()?;
    let mut clients = Vec::with_capacity(conns);
    for _ in 0..conns {
        let (c, (s, _)) = ctx.block_on(async {
            when_all((TcpStream::connect(&ctx, addr), listener.accept())).await
        })?;
        tune(&c)?;
        tune(&s)?;
        ctx.spawn(async move {
            let _ = serve(s).await;
        })
        .detach();
        clients.push(c);
    }
    let start = Instant::now();
    let until = start + budget;
    let handles: Vec<JoinHandle<io::Result<u64>>> = clients
        .into_iter()
        .map(|c| ctx.spawn(client(c, size, until)))
        .collect();
    let mut total = 0;
    for h in handles {
        total += ctx.block_on(h).map_err(join_err)??;
    }
    Ok(total as f64 / start.elapsed().as_secs_f64())
}

/// Decodes `n` frames from `wire`: each header, then its payload copied out and
/// unmasked (as tungstenite's codec hands out an unmasked payload).
pub fn decode(wire: &[u8], n: usize) {
    let mut decoder = HeaderDecoder::new(DecoderRules::SERVER);
    let mut payload = Vec::with_capacity(64);
    let mut rest = wire;
    for _ in 0..n {
        let (used, header) = decoder.decode(rest).expect("valid frame");
        let header = header.expect("a whole header");
        let len = header.payload_len as usize;
        payload.clear();
        payload.extend_from_slice(&rest[used..used + len]);
        apply_mask(&mut payload, header.mask.expect("masked"), 0);
        std::hint::black_box(&payload);
        rest = &rest[used + len..];
    }
}
