//! The other strait layers over TLS: HTTPS (strait-http1's server and client over
//! `TlsStream`, ALPN `http/1.1`) over loopback TCP, and WSS (strait-websocket over
//! `TlsStream`, standalone and upgraded from an HTTPS request).

mod common;

use std::io;

use common::*;
use http::{HeaderMap, Method, StatusCode};
use strait_http1::io::{serve_connection, Client, Exchange, Served};
use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{when_all, WriteStreamExt};
use strait_tls::{ClientContext, ServerContext, ServerVerification, TlsError, TlsStream};
use strait_websocket::io::WebSocket;
use strait_websocket::proto::{CloseCode, Config, Message, Role};

fn contexts(alpn_client: &[&str]) -> (ClientContext, ServerContext) {
    let ca = Ca::new("layers CA");
    let client = ClientContext::builder(ServerVerification::Full(ca.roots()))
        .alpn_protocols(alpn_client)
        .build()
        .unwrap();
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .alpn_protocols(&["http/1.1"])
        .build()
        .unwrap();
    (client, server)
}

/// Answers `METHOD PATH: BODY-LENGTH` for every request.
async fn describe<S: strait_streams::Stream + Unpin>(ex: &mut Exchange<'_, S>) -> io::Result<()> {
    let mut body = Vec::new();
    ex.read_body_to_end(&mut body, 4 << 20).await?;
    let text = format!(
        "{} {}: {}",
        ex.request().method(),
        ex.request().path(),
        body.len()
    );
    ex.respond(StatusCode::OK, &HeaderMap::new(), text.as_bytes())
        .await
}

#[test]
fn https_server_and_client_over_tls_on_tcp() {
    let (client_ctx, server_ctx) = contexts(&["http/1.1"]);
    let ctx = IoContext::new_single_threaded().unwrap();
    let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = async {
        let (tcp, _) = listener.accept().await?;
        let mut tls = TlsStream::accept(&server_ctx, tcp).map_err(io::Error::other)?;
        tls.handshake().await?;
        assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
        match serve_connection(tls, describe).await? {
            Served::Closed => Ok(()),
            _ => Err(io::Error::other("unexpected upgrade")),
        }
    };
    let client = async {
        let tcp = TcpStream::connect(&ctx, addr).await?;
        let tls = TlsStream::connect(&client_ctx, "localhost", tcp).map_err(io::Error::other)?;
        let mut client = Client::new(tls);
        let headers = HeaderMap::new();
        let res = client
            .send(Method::GET, "/hello", "localhost", &headers, b"")
            .await?;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body(), b"GET /hello: 0");
        // A body of many records, on the same kept-alive connection.
        let big = vec![b'x'; 1 << 20];
        let res = client
            .send(Method::POST, "/upload", "localhost", &headers, &big)
            .await?;
        assert_eq!(
            res.body(),
            format!("POST /upload: {}", big.len()).as_bytes()
        );
        assert!(client.is_reusable());
        let mut tls = client.into_inner();
        assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
        // close_notify: the server sees the client leave cleanly (not truncation).
        tls.shutdown().await
    };
    ctx.block_on(async { when_all((server, client)).await })
        .unwrap();
}

#[test]
fn an_https_server_refuses_a_client_without_http11() {
    let (client_ctx, server_ctx) = contexts(&["h2"]);
    let (mut c, mut s) = pair(&client_ctx, "localhost", &server_ctx);
    let (rc, rs) = run_bounded(handshake_both(&mut c, &mut s));
    assert!(matches!(tls_error(&rs), TlsError::NoApplicationProtocol));
    assert!(matches!(
        tls_error(&rc),
        TlsError::AlertReceived(strait_tls::AlertDescription::NoApplicationProtocol)
    ));
}

/// Echoes text and binary messages until the client closes; returns how many.
async fn ws_echo(mut ws: WebSocket<Tls>) -> io::Result<u64> {
    let mut echoed = 0;
    loop {
        let (text, binary) = match ws.next_message().await? {
            None => return Ok(echoed),
            Some(Message::Text(t)) => (Some(t.to_owned()), None),
            Some(Message::Binary(b)) => (None, Some(b.to_vec())),
        };
        if let Some(t) = text {
            ws.send_text(&t).await?;
        }
        if let Some(b) = binary {
            ws.send_binary(&b).await?;
        }
        echoed += 1;
    }
}

/// The client's part of a WSS conversation: a text, a large binary, close.
async fn ws_talk(mut ws: WebSocket<Tls>) -> io::Result<()> {
    ws.send_text("hello over tls").await?;
    assert_eq!(
        ws.next_message().await?,
        Some(Message::Text("hello over tls"))
    );
    let big: Vec<u8> = (0..200_000u32).map(|i| i as u8).collect();
    ws.send_binary(&big).await?;
    match ws.next_message().await? {
        Some(Message::Binary(b)) => assert_eq!(b, &big[..]),
        other => panic!("expected the binary echo, got {other:?}"),
    }
    ws.close(CloseCode::NORMAL, "done").await
}

#[test]
fn wss_over_tls() {
    let (client_ctx, server_ctx) = contexts(&["http/1.1"]);
    let (c, s) = pair(&client_ctx, "localhost", &server_ctx);
    let echoed = run_bounded(async {
        let server = async {
            let (ws, request) = strait_websocket::io::accept(s, Config::default(), &[]).await?;
            assert_eq!(request.uri.path(), "/chat");
            ws_echo(ws).await
        };
        let client = async {
            let uri = "wss://localhost/chat".parse().unwrap();
            let ws = strait_websocket::io::connect(c, uri, &[], Config::default()).await?;
            ws_talk(ws).await
        };
        when_all((server, client)).await
    })
    .unwrap()
    .0;
    assert_eq!(echoed, 2);
}

#[test]
fn wss_upgraded_from_an_https_request() {
    let (client_ctx, server_ctx) = contexts(&["http/1.1"]);
    let (c, s) = pair(&client_ctx, "localhost", &server_ctx);
    run_bounded(async {
        let server = async {
            let served = serve_connection(s, async |ex: &mut Exchange<'_, Tls>| {
                let parts = ex.to_parts()?;
                let offer = strait_websocket::handshake::validate_request(&parts)
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                let response = offer.response(None);
                ex.respond(response.status(), response.headers(), b"").await
            })
            .await?;
            let Served::Upgraded { stream, leftover } = served else {
                return Err(io::Error::other("no upgrade"));
            };
            let ws = WebSocket::with_leftover(stream, Role::Server, Config::default(), &leftover);
            ws_echo(ws).await
        };
        let client = async {
            let uri = "wss://localhost/chat".parse().unwrap();
            let ws = strait_websocket::io::connect(c, uri, &[], Config::default()).await?;
            ws_talk(ws).await
        };
        when_all((server, client)).await
    })
    .unwrap();
}
