//! The async layer applies the state machine's deadlines: a slow head gets 408, an
//! idle keep-alive connection is closed, a body that stops arriving gets 408.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcp};
use std::time::{Duration, Instant};

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection_with, Exchange, ServeOptions};
use strait_http1::proto::Timeouts;
use strait_native::{Handle, IoContext, TcpListener, TcpStream};

fn server(timeouts: Timeouts) -> SocketAddr {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let ctx = IoContext::new().unwrap();
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        tx.send(listener.local_addr().unwrap()).unwrap();
        ctx.block_on(async move {
            let handle = Handle::current();
            while let Ok((conn, _)) = listener.accept().await {
                let mut options = ServeOptions::default();
                options.config.timeouts = timeouts;
                handle
                    .spawn(async move {
                        let _ = serve_connection_with(
                            conn,
                            options,
                            async |ex: &mut Exchange<'_, TcpStream>| {
                                let mut body = Vec::new();
                                ex.read_body_to_end(&mut body, 1 << 20).await?;
                                ex.respond(StatusCode::OK, &HeaderMap::new(), b"ok").await
                            },
                        )
                        .await;
                    })
                    .detach();
            }
        });
    });
    rx.recv().unwrap()
}

fn read_all(s: &mut StdTcp) -> Vec<u8> {
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut all = Vec::new();
    s.read_to_end(&mut all).unwrap();
    all
}

#[test]
fn a_slow_head_is_answered_408() {
    let addr = server(Timeouts {
        head: Some(Duration::from_millis(200)),
        keep_alive: None,
        body: None,
    });
    let mut s = StdTcp::connect(addr).unwrap();
    let start = Instant::now();
    s.write_all(b"GET / HTTP/1.1\r\nHo").unwrap();
    let got = read_all(&mut s);
    assert!(
        got.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(180) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn an_idle_keep_alive_connection_is_closed() {
    let addr = server(Timeouts {
        head: None,
        keep_alive: Some(Duration::from_millis(200)),
        body: None,
    });
    let mut s = StdTcp::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n").unwrap();
    let start = Instant::now();
    let got = read_all(&mut s);
    assert!(got.starts_with(b"HTTP/1.1 200 OK\r\n") && got.ends_with(b"ok"));
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(150) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn a_body_that_stops_arriving_is_answered_408() {
    let addr = server(Timeouts {
        head: None,
        keep_alive: None,
        body: Some(Duration::from_millis(200)),
    });
    let mut s = StdTcp::connect(addr).unwrap();
    let start = Instant::now();
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
        .unwrap();
    let got = read_all(&mut s);
    assert!(
        got.starts_with(b"HTTP/1.1 408 Request Timeout\r\n"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    let waited = start.elapsed();
    assert!(
        waited >= Duration::from_millis(180) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
}

#[test]
fn a_body_that_keeps_arriving_is_not_timed_out() {
    // Each piece comes before the 300 ms body timeout, the whole body after it.
    let addr = server(Timeouts {
        head: None,
        keep_alive: None,
        body: Some(Duration::from_millis(300)),
    });
    let mut s = StdTcp::connect(addr).unwrap();
    s.write_all(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nConnection: close\r\n\r\n")
        .unwrap();
    for b in b"hello" {
        std::thread::sleep(Duration::from_millis(100));
        s.write_all(&[*b]).unwrap();
    }
    let got = read_all(&mut s);
    assert!(
        got.starts_with(b"HTTP/1.1 200 OK\r\n") && got.ends_with(b"ok"),
        "{}",
        String::from_utf8_lossy(&got)
    );
}
