//! The client role: persistence, pipelined responses, handing data back, and misuse.

use std::time::Instant;

use http::{HeaderMap, HeaderValue, Method};
use strait_http1::proto::{BodyLength, ClientConnection, Event, Limits, SendError};

fn sent(methods: &[Method]) -> ClientConnection {
    let mut c = ClientConnection::new(Limits::default());
    let mut out = Vec::new();
    for m in methods {
        c.send_request(m, "/", "h", &HeaderMap::new(), BodyLength::Empty, &mut out)
            .unwrap();
        c.send_end(None, &mut out).unwrap();
    }
    c
}

fn drain(c: &mut ClientConnection) -> Vec<String> {
    let mut log = Vec::new();
    while let Some(e) = c.poll_event().unwrap() {
        log.push(match e {
            Event::Response(r) => format!("RES {}", r.status().as_u16()),
            Event::Data(d) => format!("DATA {}", String::from_utf8_lossy(d)),
            Event::EndOfMessage => "END".into(),
            other => format!("{other:?}"),
        });
    }
    log
}

#[test]
fn http10_response_without_keep_alive_ends_the_connection() {
    let mut c = sent(&[Method::GET]);
    c.handle_input(
        Instant::now(),
        b"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(drain(&mut c), ["RES 200", "DATA x", "END"]);
    assert!(!c.is_reusable());
    assert_eq!(
        c.send_request(
            &Method::GET,
            "/",
            "h",
            &HeaderMap::new(),
            BodyLength::Empty,
            &mut Vec::new()
        ),
        Err(SendError::Closed)
    );

    let mut c = sent(&[Method::GET]);
    c.handle_input(
        Instant::now(),
        b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\nx",
    );
    assert_eq!(drain(&mut c), ["RES 200", "DATA x", "END"]);
    assert!(c.is_reusable());
}

#[test]
fn connection_close_response_is_not_reusable() {
    let mut c = sent(&[Method::GET]);
    c.handle_input(
        Instant::now(),
        b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
    );
    assert_eq!(drain(&mut c), ["RES 200", "END"]);
    assert!(!c.is_reusable());
}

#[test]
fn returned_data_comes_again() {
    let mut c = sent(&[Method::GET]);
    c.handle_input(
        Instant::now(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nabcdef",
    );
    assert!(matches!(c.poll_event().unwrap(), Some(Event::Response(_))));
    assert!(matches!(
        c.poll_event().unwrap(),
        Some(Event::Data(b"abcdef"))
    ));
    c.return_data(4);
    assert!(matches!(
        c.poll_event().unwrap(),
        Some(Event::Data(b"cdef"))
    ));
    c.return_data(1);
    assert!(matches!(c.poll_event().unwrap(), Some(Event::Data(b"f"))));
    assert!(matches!(c.poll_event().unwrap(), Some(Event::EndOfMessage)));
}

#[test]
fn requests_are_framed_from_the_declared_length() {
    let mut c = ClientConnection::new(Limits::default());
    let mut out = Vec::new();
    let mut h = HeaderMap::new();
    h.insert("expect", HeaderValue::from_static("100-continue"));
    c.send_request(
        &Method::POST,
        "/up",
        "h:1",
        &h,
        BodyLength::Unknown,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        c.send_request(
            &Method::GET,
            "/",
            "h",
            &HeaderMap::new(),
            BodyLength::Empty,
            &mut out
        ),
        Err(SendError::NotExpected),
        "one request at a time on the sending side"
    );
    c.send_data(b"abc", &mut out).unwrap();
    c.send_end(None, &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "POST /up HTTP/1.1\r\nhost: h:1\r\nexpect: 100-continue\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
    );
    let mut bad = Vec::new();
    assert_eq!(
        c.send_request(
            &Method::GET,
            "/a b",
            "h",
            &HeaderMap::new(),
            BodyLength::Empty,
            &mut bad
        ),
        Err(SendError::InvalidHeader)
    );
    assert!(bad.is_empty());
}

#[test]
fn pipelined_responses_match_their_requests() {
    let mut c = sent(&[Method::HEAD, Method::GET]);
    c.handle_input(
        Instant::now(),
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
    );
    assert_eq!(
        drain(&mut c),
        ["RES 200", "END", "RES 200", "DATA hello", "END"]
    );
}
