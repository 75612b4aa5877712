//! Helpers shared by the integration tests: drive a connection over a split input and
//! record what it reports as comparable strings.
#![allow(dead_code)]

use std::time::Instant;

use strait_http1::proto::{ClientConnection, Error, Event, Limits, ServerConfig, ServerConnection};

/// Records an event; consecutive data events are merged (their boundaries depend on
/// how the input was split, the bytes do not).
pub fn record(log: &mut Vec<String>, event: &Event<'_>) {
    let line = match event {
        Event::Request(r) => {
            let mut s = format!("REQ {} {} {:?}", r.method(), r.target(), r.version());
            for (n, v) in r.headers().iter() {
                s += &format!(" [{n}: {}]", String::from_utf8_lossy(v));
            }
            if r.expects_continue() {
                s += " expect-100";
            }
            s
        }
        Event::Response(r) | Event::Informational(r) => {
            let kind = if matches!(event, Event::Informational(_)) {
                "INFO"
            } else {
                "RES"
            };
            let mut s = format!("{kind} {} {:?}", r.status().as_u16(), r.version());
            for (n, v) in r.headers().iter() {
                s += &format!(" [{n}: {}]", String::from_utf8_lossy(v));
            }
            s
        }
        Event::Data(d) => {
            if let Some(last) = log.last_mut() {
                if last.starts_with("DATA ") {
                    last.push_str(&String::from_utf8_lossy(d));
                    return;
                }
            }
            format!("DATA {}", String::from_utf8_lossy(d))
        }
        Event::Trailers(t) => {
            let mut s = "TRAILERS".to_string();
            for (n, v) in t.iter() {
                s += &format!(" [{n}: {}]", String::from_utf8_lossy(v));
            }
            s
        }
        Event::EndOfMessage => "END".into(),
        Event::Upgrade => "UPGRADE".into(),
        Event::ConnectionClosed => "CLOSED".into(),
        _ => format!("{event:?}"),
    };
    log.push(line);
}

fn drain_server(conn: &mut ServerConnection, log: &mut Vec<String>) -> Option<Error> {
    loop {
        match conn.poll_event() {
            Ok(Some(e)) => record(log, &e),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    }
}

/// Feeds `chunks` in order to a fresh server (then end of stream if `eof`) and returns
/// the events, with a final `ERR <error>` line if one was reported.
pub fn server_events(limits: Limits, chunks: &[&[u8]], eof: bool) -> Vec<String> {
    let now = Instant::now();
    let config = ServerConfig {
        limits,
        ..Default::default()
    };
    let mut conn = ServerConnection::new(config, now);
    let mut log = Vec::new();
    for chunk in chunks {
        let mut rest = *chunk;
        while !rest.is_empty() {
            let n = conn.handle_input(now, rest);
            rest = &rest[n..];
            if let Some(e) = drain_server(&mut conn, &mut log) {
                log.push(format!("ERR {e:?}"));
                return log;
            }
            assert!(
                n > 0 || rest.is_empty(),
                "input refused while no event is pending"
            );
        }
    }
    if eof {
        conn.handle_eof(now);
    }
    if let Some(e) = drain_server(&mut conn, &mut log) {
        log.push(format!("ERR {e:?}"));
    }
    log
}

/// Feeds `chunks` to a client that sent requests with `methods`, in order.
pub fn client_events(methods: &[http::Method], chunks: &[&[u8]], eof: bool) -> Vec<String> {
    let now = Instant::now();
    let mut conn = ClientConnection::new(Limits::default());
    let mut out = Vec::new();
    for m in methods {
        conn.send_request(
            m,
            "/",
            "h",
            &http::HeaderMap::new(),
            strait_http1::proto::BodyLength::Empty,
            &mut out,
        )
        .unwrap();
        conn.send_end(None, &mut out).unwrap();
    }
    let mut log = Vec::new();
    let drain = |conn: &mut ClientConnection, log: &mut Vec<String>| loop {
        match conn.poll_event() {
            Ok(Some(e)) => record(log, &e),
            Ok(None) => return None,
            Err(e) => return Some(e),
        }
    };
    for chunk in chunks {
        conn.handle_input(now, chunk);
        if let Some(e) = drain(&mut conn, &mut log) {
            log.push(format!("ERR {e:?}"));
            return log;
        }
    }
    if eof {
        conn.handle_eof(now);
    }
    if let Some(e) = drain(&mut conn, &mut log) {
        log.push(format!("ERR {e:?}"));
    }
    log
}

/// Every way to cut `msg` in two, and one byte at a time.
pub fn splits(msg: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = Vec::new();
    for i in 0..=msg.len() {
        all.push(vec![&msg[..i], &msg[i..]]);
    }
    all.push(msg.chunks(1).collect());
    all
}

/// Every way to cut `msg` in three (for short messages).
pub fn three_way_splits(msg: &[u8]) -> Vec<Vec<&[u8]>> {
    let mut all = Vec::new();
    for i in 0..=msg.len() {
        for j in i..=msg.len() {
            all.push(vec![&msg[..i], &msg[i..j], &msg[j..]]);
        }
    }
    all
}
