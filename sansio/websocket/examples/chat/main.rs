//! A chat room: an HTTP/1.1 server (strait-http1) that serves one page, `/`, with its
//! JavaScript inline, and a WebSocket endpoint, `/ws`, that sends every message it
//! receives to every connected client (the sender included). Run it and open the page in
//! two browser tabs:
//!
//! ```text
//! cargo run --release -p strait-websocket --example chat -- [ADDR]
//! ```
//! ADDR defaults to 127.0.0.1:8080. `chat_browser_test.py` beside this file drives it
//! with headless Chromium. The WebSocket comes from the HTTP server's upgrade hand-off;
//! each connection is split into a reader task and a writer shared with the others.

use std::cell::RefCell;
use std::io;
use std::rc::Rc;
use std::sync::Arc;

use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, HeaderValue, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_native::{IoContext, TcpListener, TcpStream};
use strait_websocket::http1::{is_websocket_request, respond, upgraded};
use strait_websocket::io::{Accepted, WebSocketWriter};
use strait_websocket::proto::deflate::DeflateConfig;
use strait_websocket::proto::{Config, Message};

const PAGE: &str = include_str!("index.html");

/// The connected clients' writers, by connection number.
type Room = Rc<RefCell<Vec<(u64, Arc<WebSocketWriter<TcpStream>>)>>>;

fn config() -> Config {
    // Chat messages are small: cap them, and compress when the browser offers it.
    Config::default()
        .max_message_size(64 * 1024)
        .compression(Some(DeflateConfig::default()))
}

async fn route(
    ex: &mut Exchange<'_, TcpStream>,
    accepted: &mut Option<Accepted>,
) -> io::Result<()> {
    let path = ex.request().path().to_owned();
    match path.as_str() {
        "/ws" if is_websocket_request(ex.request()) => {
            *accepted = respond(ex, config(), &[]).await?.ok();
            Ok(())
        }
        "/" => {
            let mut h = HeaderMap::new();
            h.insert(
                CONTENT_TYPE,
                HeaderValue::from_static("text/html; charset=utf-8"),
            );
            h.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
            ex.respond(StatusCode::OK, &h, PAGE.as_bytes()).await
        }
        _ => {
            ex.respond(StatusCode::NOT_FOUND, &HeaderMap::new(), b"")
                .await
        }
    }
}

/// Serves HTTP on one connection; after an upgrade, relays the client's messages to
/// the room until it leaves.
async fn connection(stream: TcpStream, id: u64, room: Room) -> io::Result<()> {
    let mut accepted = None;
    let served = serve_connection(stream, async |ex: &mut Exchange<'_, TcpStream>| {
        route(ex, &mut accepted).await
    })
    .await?;
    let Some(ws) = upgraded(served, accepted) else {
        return Ok(());
    };
    let (mut reader, writer) = ws.split();
    room.borrow_mut().push((id, Arc::new(writer)));
    let result = async {
        while let Some(m) = reader.next_message().await? {
            let Message::Text(text) = m else { continue };
            // Snapshot the room: no borrow is held across a send.
            let members: Vec<_> = room.borrow().iter().map(|(_, w)| w.clone()).collect();
            for member in members {
                // A member that left fails its send; its own task removes it.
                let _ = member.send_text(text).await;
            }
        }
        io::Result::Ok(())
    }
    .await;
    room.borrow_mut().retain(|(other, _)| *other != id);
    result
}

fn main() -> io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8080".into());
    let ctx = IoContext::new_single_threaded()?;
    let listener = TcpListener::bind(&ctx, addr.as_str())?;
    println!("chat listening on http://{}/", listener.local_addr()?);
    let room: Room = Rc::default();
    ctx.block_on(async {
        for id in 0.. {
            let (stream, peer) = listener.accept().await?;
            stream.set_nodelay(true)?;
            let room = room.clone();
            ctx.spawn_local(async move {
                if let Err(e) = connection(stream, id, room).await {
                    eprintln!("{peer}: {e}");
                }
            })
            .detach();
        }
        Ok(())
    })
}
