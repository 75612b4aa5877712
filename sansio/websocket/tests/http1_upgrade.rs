//! WebSocket through strait-http1's upgrade hand-off, over real sockets on the native
//! driver: plain HTTP and the upgrade on one connection, a frame sent in the same packet
//! as the request (the hand-off's leftover), a refused handshake that leaves the
//! connection HTTP, and permessage-deflate negotiated through `io::connect`.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{timeout, write_all, ReadStreamExt};
use strait_websocket::http1::{is_websocket_request, respond, upgraded};
use strait_websocket::io::{connect, Accepted, WebSocket};
use strait_websocket::proto::deflate::DeflateConfig;
use strait_websocket::proto::{CloseCode, Config, Message, Role};

fn server_config() -> Config {
    Config::default().compression(Some(DeflateConfig::default()))
}

/// Serves `n` connections one after the other: `GET /` answers "hello", WebSocket
/// requests on `/ws` become echo connections.
async fn serve(listener: TcpListener, n: usize) -> io::Result<()> {
    for _ in 0..n {
        let (stream, _) = listener.accept().await?;
        let mut accepted: Option<Accepted> = None;
        let served = serve_connection(stream, async |ex: &mut Exchange<'_, TcpStream>| {
            if ex.request().path() == "/ws" && is_websocket_request(ex.request()) {
                accepted = respond(ex, server_config(), &["chat"]).await?.ok();
                return Ok(());
            }
            ex.respond(StatusCode::OK, &HeaderMap::new(), b"hello")
                .await
        })
        .await?;
        let Some(mut ws) = upgraded(served, accepted.take()) else {
            continue;
        };
        let mut scratch = Vec::new();
        while let Some(m) = ws.next_message().await? {
            scratch.clear();
            scratch.extend_from_slice(m.as_bytes());
            match m {
                Message::Text(_) => ws.send_text(std::str::from_utf8(&scratch).unwrap()).await?,
                Message::Binary(_) => ws.send_binary(&scratch).await?,
            }
        }
    }
    Ok(())
}

/// Reads until the end of a response head (the one in flight), returning it and what
/// followed it.
async fn read_response_head(stream: &mut TcpStream) -> io::Result<(String, Vec<u8>)> {
    let mut buf = Vec::new();
    let mut piece = [0u8; 1024];
    loop {
        let n = stream.read(&mut piece[..]).await?;
        assert!(
            n > 0,
            "the server left: {:?}",
            String::from_utf8_lossy(&buf)
        );
        buf.extend_from_slice(&piece[..n]);
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let rest = buf.split_off(end + 4);
            return Ok((String::from_utf8(buf).unwrap(), rest));
        }
    }
}

fn run_server(n: usize) -> (SocketAddr, std::thread::JoinHandle<io::Result<()>>) {
    let (tx, rx) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || {
        let ctx = IoContext::new_single_threaded()?;
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0")?;
        tx.send(listener.local_addr()?).unwrap();
        ctx.block_on(serve(listener, n))
    });
    (rx.recv().unwrap(), server)
}

#[test]
fn http_then_upgrade_with_a_frame_in_the_same_packet() {
    let (addr, server) = run_server(1);
    let ctx = IoContext::new_single_threaded().unwrap();
    // A lost byte would hang the exchange: fail instead.
    ctx.block_on(timeout(Duration::from_secs(10), async {
        let mut stream = TcpStream::connect(&ctx, addr).await?;
        // Plain HTTP first, on the connection that then upgrades.
        write_all(&mut stream, &b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..]).await?;
        let (head, rest) = read_response_head(&mut stream).await?;
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        assert_eq!(rest, b"hello");
        // A handshake missing its key is refused and the connection stays HTTP.
        write_all(
            &mut stream,
            &b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
               Sec-WebSocket-Version: 13\r\nContent-Length: 0\r\n\r\n"[..],
        )
        .await?;
        let (head, _) = read_response_head(&mut stream).await?;
        assert!(head.starts_with("HTTP/1.1 400"), "{head}");
        // The RFC's example key, and a masked "hi" in the same write as the head: the
        // HTTP layer reads it with the request and hands it over.
        let mut request = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
            Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
            Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: chat\r\n\r\n"
            .to_vec();
        request.extend_from_slice(&[0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2]);
        write_all(&mut stream, &request[..]).await?;
        let (head, rest) = read_response_head(&mut stream).await?;
        assert!(head.starts_with("HTTP/1.1 101"), "{head}");
        assert!(
            head.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
            "the accept key: {head}"
        );
        assert!(head
            .to_ascii_lowercase()
            .contains("sec-websocket-protocol: chat"));
        let mut ws = WebSocket::with_leftover(stream, Role::Client, Config::default(), &rest);
        assert_eq!(ws.next_message().await?, Some(Message::Text("hi")));
        ws.send_binary(&[7; 3000]).await?;
        assert_eq!(ws.next_message().await?, Some(Message::Binary(&[7; 3000])));
        ws.close(CloseCode::NORMAL, "").await
    }))
    .unwrap();
    server.join().unwrap().unwrap();
}

#[test]
fn compression_negotiated_through_the_hand_off() {
    let (addr, server) = run_server(1);
    let ctx = IoContext::new_single_threaded().unwrap();
    ctx.block_on(timeout(Duration::from_secs(10), async {
        let stream = TcpStream::connect(&ctx, addr).await?;
        let uri = format!("ws://{addr}/ws").parse().unwrap();
        let config = Config::default()
            .compression(Some(DeflateConfig::default()))
            .close_timeout(Some(Duration::from_secs(5)));
        let mut ws = connect(stream, uri, &["chat"], config).await?;
        assert!(ws.connection().is_compressed());
        assert_eq!(ws.protocol(), Some("chat"));
        for i in 0..20 {
            let text = format!("message {i} ").repeat(100 * i);
            ws.send_text(&text).await?;
            assert_eq!(ws.next_message().await?, Some(Message::Text(&text)));
        }
        ws.close(CloseCode::NORMAL, "").await
    }))
    .unwrap();
    server.join().unwrap().unwrap();
}
