//! `accept_loop` keeps at most `limit` connections open: the next client waits in the
//! backlog until one ends, then is served; a stop ends the loop.
#![cfg(feature = "native")]

use std::io::{Read, Write};
use std::net::TcpStream as StdTcp;
use std::sync::Arc;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use strait_http1::io::{accept_loop, serve_connection, ConnectionLimit, Exchange};
use strait_native::{IoContext, TcpListener, TcpStream};

async fn hello(ex: &mut Exchange<'_, TcpStream>) -> std::io::Result<()> {
    ex.respond(StatusCode::OK, &HeaderMap::new(), b"hello")
        .await
}

/// Sends one GET and reads its answer (keep-alive: the connection stays open).
fn get(s: &mut StdTcp) -> std::io::Result<String> {
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")?;
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"hello") {
        let n = s.read(&mut buf)?;
        if n == 0 {
            break;
        }
        got.extend_from_slice(&buf[..n]);
    }
    Ok(String::from_utf8(got).unwrap())
}

#[test]
fn the_limit_holds_back_the_next_client_until_one_leaves() {
    let ctx = Arc::new(IoContext::new().unwrap());
    let listener = TcpListener::bind(&*ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let limit = ConnectionLimit::new(2);
    let server = {
        let limit = limit.clone();
        ctx.spawn(async move {
            accept_loop(&listener, &limit, |conn: TcpStream, _| async move {
                let _ = serve_connection(conn, async |ex: &mut Exchange<'_, TcpStream>| {
                    hello(ex).await
                })
                .await;
            })
            .await
        })
    };
    let runner = {
        let ctx = ctx.clone();
        std::thread::spawn(move || ctx.run())
    };

    let mut a = StdTcp::connect(addr).unwrap();
    let mut b = StdTcp::connect(addr).unwrap();
    assert!(get(&mut a).unwrap().ends_with("hello"));
    assert!(get(&mut b).unwrap().ends_with("hello"));
    assert_eq!(limit.open(), 2);

    // The third connects (the kernel's backlog) but is not served while two are open.
    let mut c = StdTcp::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let e = get(&mut c).unwrap_err();
    assert!(
        matches!(
            e.kind(),
            std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
        ),
        "{e}"
    );

    // One leaves: the third is accepted and answered.
    drop(a);
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while !got.ends_with(b"hello") {
        let n = c.read(&mut buf).unwrap();
        assert!(n > 0, "closed before the answer");
        got.extend_from_slice(&buf[..n]);
    }
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert_eq!(limit.open(), 2);

    drop((b, c));
    ctx.stop();
    runner.join().unwrap();
    drop(server);
}
