//! End to end over real sockets: `serve_connection` on the native driver, spoken to
//! with std TCP (raw bytes: pipelining, vanishing clients) and with the `io` client.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcp};
use std::sync::OnceLock;
use std::time::Duration;

use http::{HeaderMap, HeaderValue, Method, StatusCode};
use strait_http1::io::{serve_connection, Client, Exchange, Served};
use strait_http1::proto::BodyLength;
use strait_native::{Handle, IoContext, TcpListener, TcpStream};
use strait_streams::{write_all, ReadSourceExt, ReadStreamExt, WriteSinkExt};

async fn route(ex: &mut Exchange<'_, TcpStream>) -> io::Result<()> {
    let (method, path) = (
        ex.request().method().clone(),
        ex.request().path().to_string(),
    );
    match (method, path.as_str()) {
        (Method::GET, "/plaintext") => {
            ex.respond(StatusCode::OK, &HeaderMap::new(), b"Hello, World!")
                .await
        }
        (Method::POST, "/echo") => {
            // Read through the ReadSource in small pieces, answer through the WriteSink.
            let mut body = Vec::new();
            let mut piece = [0u8; 1000];
            loop {
                let n = ex.body().read_exact(&mut [(&mut piece[..]).into()]).await?;
                body.extend_from_slice(&piece[..n]);
                if n < piece.len() {
                    break;
                }
            }
            let mut sink = ex
                .start_response(StatusCode::OK, &HeaderMap::new(), BodyLength::Unknown)
                .await?;
            for chunk in body.chunks(777) {
                sink.write_all(&[chunk.into()]).await?;
            }
            sink.write_eof(&[]).await.map(drop)
        }
        (Method::GET, "/upgrade") => {
            let mut h = HeaderMap::new();
            h.insert("upgrade", HeaderValue::from_static("echo"));
            h.insert("connection", HeaderValue::from_static("upgrade"));
            ex.respond(StatusCode::SWITCHING_PROTOCOLS, &h, b"").await
        }
        _ => {
            ex.respond(StatusCode::NOT_FOUND, &HeaderMap::new(), b"")
                .await
        }
    }
}

async fn accept_loop(listener: TcpListener) {
    let handle = Handle::current();
    loop {
        let Ok((conn, _)) = listener.accept().await else {
            return;
        };
        handle
            .spawn(async move {
                let served = serve_connection(conn, async |ex: &mut Exchange<'_, TcpStream>| {
                    route(ex).await
                })
                .await;
                if let Ok(Served::Upgraded {
                    mut stream,
                    leftover,
                }) = served
                {
                    // The new protocol: echo what follows, starting with the leftover.
                    let _ = write_all(&mut stream, &leftover[..]).await;
                    let mut buf = [0u8; 1024];
                    while let Ok(n) = stream.read(&mut buf[..]).await {
                        if n == 0 || write_all(&mut stream, &buf[..n]).await.is_err() {
                            break;
                        }
                    }
                }
            })
            .detach();
    }
}

fn server() -> SocketAddr {
    static ADDR: OnceLock<SocketAddr> = OnceLock::new();
    *ADDR.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let ctx = IoContext::new().unwrap();
            let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
            tx.send(listener.local_addr().unwrap()).unwrap();
            ctx.block_on(accept_loop(listener));
        });
        rx.recv().unwrap()
    })
}

fn connect() -> StdTcp {
    let s = StdTcp::connect(server()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    s
}

/// Reads until `n` complete occurrences of `marker` followed by what `done` accepts.
fn read_until(s: &mut StdTcp, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut all = Vec::new();
    let mut buf = [0u8; 65536];
    while !done(&all) {
        let n = s.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        all.extend_from_slice(&buf[..n]);
    }
    all
}

fn count(hay: &[u8], needle: &[u8]) -> usize {
    hay.windows(needle.len()).filter(|w| *w == needle).count()
}

#[test]
fn keep_alive_reuses_the_connection() {
    let mut s = connect();
    for _ in 0..3 {
        s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
            .unwrap();
        let got = read_until(&mut s, |b| b.ends_with(b"Hello, World!"));
        assert!(
            got.starts_with(b"HTTP/1.1 200 OK\r\n"),
            "{}",
            String::from_utf8_lossy(&got)
        );
        assert!(count(&got, b"date: ") == 1);
    }
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let mut s = connect();
    let mut req = Vec::new();
    for i in 0..20 {
        if i % 5 == 4 {
            req.extend_from_slice(b"GET /missing HTTP/1.1\r\nHost: a\r\n\r\n");
        } else {
            req.extend_from_slice(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n");
        }
    }
    req.extend_from_slice(b"GET /plaintext HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    s.write_all(&req).unwrap();
    let got = read_until(&mut s, |_| false);
    let text = String::from_utf8_lossy(&got);
    let statuses: Vec<&str> = text
        .match_indices("HTTP/1.1 ")
        .map(|(i, _)| &text[i + 9..i + 12])
        .collect();
    let expected: Vec<&str> = (0..21)
        .map(|i| if i % 5 == 4 && i < 20 { "404" } else { "200" })
        .collect();
    assert_eq!(statuses, expected);
    assert!(
        text.ends_with("connection: close\r\n\r\nHello, World!") || text.ends_with("Hello, World!")
    );
}

#[test]
fn chunked_upload_is_echoed_chunked() {
    let mut s = connect();
    let mut req = b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    let mut body = Vec::new();
    for i in 0..50u32 {
        let piece: Vec<u8> = (0..(i * 97 % 400 + 1)).map(|j| (i + j) as u8).collect();
        req.extend_from_slice(format!("{:X};n={i}\r\n", piece.len()).as_bytes());
        req.extend_from_slice(&piece);
        req.extend_from_slice(b"\r\n");
        body.extend_from_slice(&piece);
    }
    req.extend_from_slice(b"0\r\nX-Done: 1\r\n\r\n");
    s.write_all(&req).unwrap();
    let got = read_until(&mut s, |b| b.ends_with(b"\r\n0\r\n\r\n"));
    let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
    assert!(String::from_utf8_lossy(&got[..head_end]).contains("transfer-encoding: chunked"));
    // Decode the chunked answer with the client state machine's rules by hand.
    let mut rest = &got[head_end..];
    let mut echoed = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").unwrap();
        let size =
            usize::from_str_radix(std::str::from_utf8(&rest[..line_end]).unwrap(), 16).unwrap();
        rest = &rest[line_end + 2..];
        if size == 0 {
            break;
        }
        echoed.extend_from_slice(&rest[..size]);
        rest = &rest[size + 2..];
    }
    assert_eq!(echoed, body);
}

#[test]
fn expect_continue_gets_100_before_the_body() {
    let mut s = connect();
    s.write_all(
        b"POST /echo HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n",
    )
    .unwrap();
    let interim = read_until(&mut s, |b| b.ends_with(b"\r\n\r\n"));
    assert_eq!(interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    s.write_all(b"hello").unwrap();
    let got = read_until(&mut s, |b| b.ends_with(b"0\r\n\r\n"));
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(count(&got, b"hello") == 1);
}

#[test]
fn huge_head_gets_431_and_close() {
    let mut s = connect();
    let mut req = b"GET /plaintext HTTP/1.1\r\nHost: a\r\nX-Big: ".to_vec();
    req.extend(std::iter::repeat_n(b'a', 20_000));
    req.extend_from_slice(b"\r\n\r\n");
    let _ = s.write_all(&req);
    let got = read_until(&mut s, |_| false);
    assert!(
        got.starts_with(b"HTTP/1.1 431 "),
        "{}",
        String::from_utf8_lossy(&got)
    );
}

#[test]
fn bad_request_gets_400_and_close() {
    let mut s = connect();
    s.write_all(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    )
    .unwrap();
    let got = read_until(&mut s, |_| false);
    assert!(got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert!(count(&got, b"connection: close") == 1);
}

#[test]
fn a_client_vanishing_mid_request_leaves_the_server_serving() {
    for _ in 0..5 {
        let mut s = connect();
        s.write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 100\r\n\r\nabc")
            .unwrap();
        drop(s);
    }
    let mut s = connect();
    s.write_all(b"GET /plaintext HTTP/1.1\r\nHost: a\r\n\r\n")
        .unwrap();
    assert!(read_until(&mut s, |b| b.ends_with(b"Hello, World!")).starts_with(b"HTTP/1.1 200"));
}

#[test]
fn upgrade_hands_over_the_stream_and_leftover() {
    let mut s = connect();
    s.write_all(
        b"GET /upgrade HTTP/1.1\r\nHost: a\r\nConnection: upgrade\r\nUpgrade: echo\r\n\r\nearly",
    )
    .unwrap();
    let got = read_until(&mut s, |b| b.ends_with(b"early"));
    assert!(got.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    s.write_all(b" and later").unwrap();
    assert_eq!(read_until(&mut s, |b| b.ends_with(b"later")), b" and later");
}

#[test]
fn io_client_talks_to_the_server_with_keep_alive() {
    let ctx = IoContext::new().unwrap();
    let addr = server();
    ctx.block_on(async {
        let stream = TcpStream::connect(&ctx, addr).await?;
        let mut client = Client::new(stream);
        let host = addr.to_string();
        let res = client
            .send(Method::GET, "/plaintext", &host, &HeaderMap::new(), b"")
            .await?;
        assert_eq!(res.status(), StatusCode::OK);
        assert_eq!(res.body(), b"Hello, World!");
        assert!(client.is_reusable());
        let mut h = HeaderMap::new();
        h.insert("expect", HeaderValue::from_static("100-continue"));
        let res = client
            .send(Method::POST, "/echo", &host, &h, b"ping")
            .await?;
        assert_eq!(res.body(), b"ping");
        let res = client
            .send(Method::GET, "/nope", &host, &HeaderMap::new(), b"")
            .await?;
        assert_eq!(res.status(), StatusCode::NOT_FOUND);
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn a_bad_chunk_in_a_body_being_read_is_answered_400() {
    let mut s = connect();
    s.write_all(b"POST /echo HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcXY")
        .unwrap();
    let got = read_until(&mut s, |_| false);
    assert!(
        got.starts_with(b"HTTP/1.1 400 Bad Request\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}
