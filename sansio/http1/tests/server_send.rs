//! The server's answers: framing chosen from the declared length, bodies omitted where
//! the RFC says, persistence, 100-continue, upgrades, and answer order.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode};
use strait_http1::proto::{BodyLength, Event, Limits, SendError, ServerConfig, ServerConnection};

fn conn_with(input: &[u8]) -> ServerConnection {
    let now = Instant::now();
    let mut c = ServerConnection::new(ServerConfig::default(), now);
    assert_eq!(c.handle_input(now, input), input.len());
    c
}

/// Polls until a request ends; returns its target.
fn next_request(c: &mut ServerConnection) -> String {
    let mut target = None;
    loop {
        match c.poll_event().unwrap() {
            Some(Event::Request(r)) => target = Some(r.target().to_string()),
            Some(Event::EndOfMessage) => return target.unwrap(),
            Some(_) => {}
            None => panic!("no complete request"),
        }
    }
}

fn answer(c: &mut ServerConnection, status: StatusCode, body: &[u8]) -> String {
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        status,
        &HeaderMap::new(),
        BodyLength::Known(body.len() as u64),
        &mut out,
    )
    .unwrap();
    c.send_data(body, &mut out).unwrap();
    c.send_end(None, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn keep_alive_answers_in_order_then_reads_on() {
    let mut c = conn_with(b"GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n");
    assert_eq!(next_request(&mut c), "/1");
    assert_eq!(next_request(&mut c), "/2");
    assert_eq!(
        answer(&mut c, StatusCode::OK, b"one"),
        "HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\none"
    );
    assert_eq!(
        answer(&mut c, StatusCode::NOT_FOUND, b""),
        "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"
    );
    assert!(!c.wants_close());
    let mut out = Vec::new();
    assert_eq!(
        c.send_response(
            Instant::now(),
            StatusCode::OK,
            &HeaderMap::new(),
            BodyLength::Empty,
            &mut out
        ),
        Err(SendError::NotExpected)
    );
}

#[test]
fn head_204_and_304_carry_no_body() {
    let mut c = conn_with(b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n");
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Known(13),
        &mut out,
    )
    .unwrap();
    assert_eq!(c.send_data(b"x", &mut out), Err(SendError::BodyTooLong));
    c.send_end(None, &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 200 OK\r\ncontent-length: 13\r\n\r\n");
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::NO_CONTENT,
        &HeaderMap::new(),
        BodyLength::Known(5),
        &mut out,
    )
    .unwrap();
    c.send_end(None, &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 204 No Content\r\n\r\n");
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::NOT_MODIFIED,
        &HeaderMap::new(),
        BodyLength::Unknown,
        &mut out,
    )
    .unwrap();
    c.send_end(None, &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 304 Not Modified\r\n\r\n");
}

#[test]
fn unknown_length_is_chunked_for_11_and_close_delimited_for_10() {
    let mut c = conn_with(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Unknown,
        &mut out,
    )
    .unwrap();
    c.send_data(b"hello", &mut out).unwrap();
    c.send_data(b"", &mut out).unwrap();
    let frame = c.frame_data(300).unwrap();
    assert_eq!(frame.prefix(), b"12c\r\n");
    assert_eq!(frame.suffix(), b"\r\n");
    let mut trailers = HeaderMap::new();
    trailers.insert("x-check", HeaderValue::from_static("1"));
    c.send_end(Some(&trailers), &mut out).unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        "HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-check: 1\r\n\r\n"
    );
    assert!(!c.wants_close());

    let mut c = conn_with(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Unknown,
        &mut out,
    )
    .unwrap();
    c.send_data(b"raw", &mut out).unwrap();
    c.send_end(None, &mut out).unwrap();
    assert_eq!(out, b"HTTP/1.1 200 OK\r\nconnection: close\r\n\r\nraw");
    assert!(c.wants_close());
}

#[test]
fn http10_keep_alive_is_answered_as_such() {
    let mut c = conn_with(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    next_request(&mut c);
    let out = answer(&mut c, StatusCode::OK, b"");
    assert_eq!(
        out,
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: keep-alive\r\n\r\n"
    );
    assert!(!c.wants_close());
}

#[test]
fn connection_close_from_either_side_closes_after_the_answer() {
    let mut c = conn_with(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    next_request(&mut c);
    assert_eq!(
        answer(&mut c, StatusCode::OK, b""),
        "HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
    );
    assert!(c.wants_close());

    let mut c =
        conn_with(b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /next HTTP/1.1\r\nHost: a\r\n\r\n");
    next_request(&mut c);
    let mut h = HeaderMap::new();
    h.insert("connection", HeaderValue::from_static("close"));
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::OK,
        &h,
        BodyLength::Empty,
        &mut out,
    )
    .unwrap();
    c.send_end(None, &mut out).unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 0\r\n\r\n"
    );
    assert!(c.wants_close());
    assert!(
        c.poll_event().unwrap().is_none(),
        "the pipelined request is not read"
    );
}

#[test]
fn framing_is_the_connections_job() {
    let mut c = conn_with(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    next_request(&mut c);
    let mut h = HeaderMap::new();
    h.insert("content-length", HeaderValue::from_static("3"));
    let mut out = Vec::new();
    assert_eq!(
        c.send_response(
            Instant::now(),
            StatusCode::OK,
            &h,
            BodyLength::Known(3),
            &mut out
        ),
        Err(SendError::FramingHeader)
    );
    assert!(out.is_empty(), "nothing written on error");
    c.send_response(
        Instant::now(),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Known(3),
        &mut out,
    )
    .unwrap();
    c.send_data(b"ab", &mut out).unwrap();
    assert_eq!(c.send_end(None, &mut out), Err(SendError::BodyTooShort));
    assert_eq!(c.send_data(b"cd", &mut out), Err(SendError::BodyTooLong));
    c.send_data(b"c", &mut out).unwrap();
    c.send_end(None, &mut out).unwrap();
}

#[test]
fn expect_continue_is_the_servers_decision() {
    let mut c = conn_with(
        b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert!(matches!(c.poll_event().unwrap(), Some(Event::Request(r)) if r.expects_continue()));
    assert!(c.awaits_continue());
    let mut out = Vec::new();
    assert!(c.send_continue(&mut out));
    assert!(!c.send_continue(&mut out), "only once");
    assert_eq!(out, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.handle_input(Instant::now(), b"ok");
    assert!(matches!(c.poll_event().unwrap(), Some(Event::Data(b"ok"))));
    assert!(matches!(c.poll_event().unwrap(), Some(Event::EndOfMessage)));
    answer(&mut c, StatusCode::OK, b"");
    assert!(!c.wants_close());

    // Refusing without reading the body: the connection cannot tell whether the body
    // will come, so it closes after the answer.
    let mut c = conn_with(
        b"PUT / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n",
    );
    assert!(matches!(c.poll_event().unwrap(), Some(Event::Request(_))));
    assert!(c.poll_event().unwrap().is_none());
    answer(&mut c, StatusCode::PAYLOAD_TOO_LARGE, b"");
    assert!(c.wants_close());
}

#[test]
fn upgrade_hands_off_the_leftover_bytes() {
    let mut c = conn_with(
        b"GET /chat HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n\x81\x85frame",
    );
    next_request(&mut c);
    assert!(
        c.poll_event().unwrap().is_none(),
        "paused until the upgrade is decided"
    );
    let mut out = Vec::new();
    let mut h = HeaderMap::new();
    h.insert("upgrade", HeaderValue::from_static("websocket"));
    h.insert("connection", HeaderValue::from_static("upgrade"));
    c.send_response(
        Instant::now(),
        StatusCode::SWITCHING_PROTOCOLS,
        &h,
        BodyLength::Empty,
        &mut out,
    )
    .unwrap();
    assert_eq!(
        out,
        b"HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: upgrade\r\n\r\n"
    );
    assert!(c.is_upgraded());
    let mut rest = Vec::new();
    c.take_leftover(&mut rest);
    assert_eq!(rest, b"\x81\x85frame");

    // Declined: the connection goes on as HTTP.
    let mut c = conn_with(
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    next_request(&mut c);
    answer(&mut c, StatusCode::OK, b"");
    assert_eq!(next_request(&mut c), "/2");

    // 101 without an upgrade request is refused.
    let mut c = conn_with(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    next_request(&mut c);
    assert_eq!(
        c.send_response(
            Instant::now(),
            StatusCode::SWITCHING_PROTOCOLS,
            &HeaderMap::new(),
            BodyLength::Empty,
            &mut Vec::new()
        ),
        Err(SendError::UnexpectedUpgrade)
    );
}

#[test]
fn connect_2xx_is_a_tunnel() {
    let mut c =
        conn_with(b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01");
    assert_eq!(next_request(&mut c), "example.com:443");
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Empty,
        &mut out,
    )
    .unwrap();
    assert_eq!(out, b"HTTP/1.1 200 OK\r\n\r\n");
    let mut rest = Vec::new();
    c.take_leftover(&mut rest);
    assert_eq!(rest, b"\x16\x03\x01");
}

#[test]
fn error_answer_waits_for_earlier_answers() {
    let mut c = conn_with(b"GET /ok HTTP/1.1\r\nHost: a\r\n\r\nGET /bad HTTP/1.1\r\n\r\n");
    assert_eq!(next_request(&mut c), "/ok");
    assert!(c.poll_event().is_err());
    let mut out = Vec::new();
    assert!(!c.poll_transmit(&mut out), "the first answer goes first");
    assert_eq!(
        answer(&mut c, StatusCode::OK, b"1"),
        "HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n1"
    );
    assert!(c.poll_transmit(&mut out));
    assert!(out.starts_with(b"HTTP/1.1 400 Bad Request\r\n"));
    assert!(c.wants_close());
}

#[test]
fn pipelining_depth_is_bounded() {
    let mut input = Vec::new();
    for _ in 0..5 {
        input.extend_from_slice(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    }
    let now = Instant::now();
    let config = ServerConfig {
        limits: Limits::default().max_pipelined(2),
        ..Default::default()
    };
    let mut c = ServerConnection::new(config, now);
    c.handle_input(now, &input);
    next_request(&mut c);
    next_request(&mut c);
    assert!(
        c.poll_event().unwrap().is_none(),
        "paused at the depth limit"
    );
    answer(&mut c, StatusCode::OK, b"");
    next_request(&mut c);
}

#[test]
fn input_is_bounded_by_max_buffered() {
    let now = Instant::now();
    let config = ServerConfig {
        limits: Limits::default().max_head_bytes(64).max_buffered(64),
        ..Default::default()
    };
    let mut c = ServerConnection::new(config, now);
    let body = [b'x'; 200];
    let head = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n";
    assert_eq!(c.handle_input(now, head), head.len());
    let taken = c.handle_input(now, &body);
    assert!(taken < body.len(), "took {taken}");
    assert!(matches!(c.poll_event().unwrap(), Some(Event::Request(_))));
    let mut got = 0;
    let mut offset = taken;
    loop {
        match c.poll_event().unwrap() {
            Some(Event::Data(d)) => got += d.len(),
            Some(Event::EndOfMessage) => break,
            Some(e) => panic!("{e:?}"),
            None => offset += c.handle_input(now, &body[offset..]),
        }
    }
    assert_eq!(got, 200);
}

#[test]
fn date_header_comes_from_now_and_changes_each_second() {
    let t0 = Instant::now();
    let wall = UNIX_EPOCH + Duration::from_secs(784_111_777);
    let config = ServerConfig {
        date_anchor: Some((t0, wall)),
        ..Default::default()
    };
    let mut c = ServerConnection::new(config, t0);
    c.handle_input(
        t0,
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
    );
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        t0 + Duration::from_millis(999),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Empty,
        &mut out,
    )
    .unwrap();
    c.send_end(None, &mut out).unwrap();
    assert!(String::from_utf8_lossy(&out).contains("date: Sun, 06 Nov 1994 08:49:37 GMT\r\n"));
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        t0 + Duration::from_secs(61),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Empty,
        &mut out,
    )
    .unwrap();
    assert!(String::from_utf8_lossy(&out).contains("date: Sun, 06 Nov 1994 08:50:38 GMT\r\n"));
    let _ = SystemTime::now();
}

#[test]
fn forbidden_trailers_are_refused_before_anything_is_written() {
    let mut c = conn_with(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
    next_request(&mut c);
    let mut out = Vec::new();
    c.send_response(
        Instant::now(),
        StatusCode::OK,
        &HeaderMap::new(),
        BodyLength::Unknown,
        &mut out,
    )
    .unwrap();
    c.send_data(b"abc", &mut out).unwrap();
    let sent = out.len();
    for (name, error) in [
        ("content-length", SendError::FramingHeader),
        ("host", SendError::ForbiddenTrailer),
        ("content-type", SendError::ForbiddenTrailer),
        ("set-cookie", SendError::ForbiddenTrailer),
    ] {
        let mut t = HeaderMap::new();
        t.insert("x-ok", HeaderValue::from_static("1"));
        t.insert(name, HeaderValue::from_static("1"));
        assert_eq!(c.send_end(Some(&t), &mut out), Err(error), "{name}");
        assert_eq!(out.len(), sent, "{name}: nothing written on error");
    }
    let mut t = HeaderMap::new();
    t.insert("x-checksum", HeaderValue::from_static("abc"));
    c.send_end(Some(&t), &mut out).unwrap();
    assert!(out.ends_with(b"3\r\nabc\r\n0\r\nx-checksum: abc\r\n\r\n"));
}
