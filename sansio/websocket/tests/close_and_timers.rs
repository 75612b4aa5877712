//! The closing handshake, close-code validation on receipt, and the deadlines.

mod util;

use std::time::{Duration, Instant};

use strait_websocket::proto::{CloseCode, Config, Connection, Error, OpCode, ProtocolError, Role};
use util::*;

fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

#[test]
fn received_close_codes_follow_rfc_6455_section_7_4() {
    let now = Instant::now();
    for code in 0..=5100u16 {
        let mut s = Connection::new(Role::Server, Config::default());
        let mut w = Vec::new();
        client_frame(&mut w, true, OpCode::Close, &close_payload(code, "why"));
        let (events, r) = feed(&mut s, now, &w);
        let valid = matches!(code, 1000..=1003 | 1007..=1014 | 3000..=4999);
        assert_eq!(CloseCode(code).is_valid_on_wire(), valid);
        if valid {
            assert_eq!(r, Ok(()), "{code}");
            assert_eq!(events, [Ev::Close(Some((code, "why".into())))]);
            // Echoed with the same code.
            assert_eq!(sent_close_code(&take_tx(&mut s)), Some(Some(code)));
        } else {
            assert_eq!(
                r,
                Err(Error::Protocol(ProtocolError::InvalidCloseCode(code))),
                "{code}"
            );
            assert_eq!(sent_close_code(&take_tx(&mut s)), Some(Some(1002)));
        }
        assert!(s.is_closed());
    }
}

#[test]
fn empty_close_is_answered_with_an_empty_close() {
    let mut s = Connection::new(Role::Server, Config::default());
    let mut w = Vec::new();
    client_frame(&mut w, true, OpCode::Close, &[]);
    assert_eq!(
        feed(&mut s, Instant::now(), &w),
        (vec![Ev::Close(None)], Ok(()))
    );
    assert_eq!(sent_close_code(&take_tx(&mut s)), Some(None));
}

#[test]
fn initiator_keeps_receiving_until_the_answer() {
    let now = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    client.close(now, CloseCode::GOING_AWAY, "done").unwrap();
    assert!(client.is_close_sent() && !client.is_closed());
    assert_eq!(client.poll_timeout(), Some(now + Duration::from_secs(5)));
    // The server had data in flight; the client still gets it.
    server.send_text("in flight").unwrap();
    let s2c = take_tx(&mut server);
    assert_eq!(
        feed(&mut client, now, &s2c),
        (vec![Ev::Text("in flight".into())], Ok(()))
    );
    // A ping after our close is reported but not answered.
    server.send_ping(b"?").unwrap();
    let s2c = take_tx(&mut server);
    assert_eq!(
        feed(&mut client, now, &s2c),
        (vec![Ev::Ping(b"?".to_vec())], Ok(()))
    );
    let c2s = take_tx(&mut client);
    assert_eq!(parse_frames(&c2s).len(), 1, "only the close frame, no pong");
    let (events, r) = feed(&mut server, now, &c2s);
    assert_eq!(
        (events, r),
        (vec![Ev::Close(Some((1001, "done".into())))], Ok(()))
    );
    assert!(server.is_closed());
    assert_eq!(server.send_text("late"), Err(Error::Closed));
    let answer = take_tx(&mut server);
    assert_eq!(
        feed(&mut client, now, &answer),
        (vec![Ev::Close(Some((1001, String::new())))], Ok(()))
    );
    assert!(client.is_closed());
    assert_eq!(client.poll_timeout(), None);
}

#[test]
fn close_timeout_gives_up() {
    let now = Instant::now();
    let mut c = Connection::new(
        Role::Client,
        Config::default().close_timeout(Some(Duration::from_secs(2))),
    );
    c.close(now, CloseCode::NORMAL, "").unwrap();
    let deadline = c.poll_timeout().unwrap();
    assert_eq!(deadline, now + Duration::from_secs(2));
    assert_eq!(c.handle_timeout(now + Duration::from_secs(1)), Ok(()));
    assert!(!c.is_closed());
    assert_eq!(c.handle_timeout(deadline), Err(Error::TimedOut));
    assert!(c.is_closed());
    assert_eq!(c.poll_timeout(), None);
}

#[test]
fn idle_ping_then_timeout() {
    let t0 = Instant::now();
    let sec = Duration::from_secs(1);
    let mut s = Connection::new(
        Role::Server,
        Config::default().ping_interval(Some(10 * sec)),
    );
    assert_eq!(
        s.poll_timeout(),
        None,
        "no input yet, nothing to measure idleness from"
    );
    let mut w = Vec::new();
    client_frame(&mut w, true, OpCode::Text, b"hi");
    feed(&mut s, t0, &w).1.unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + 10 * sec));
    // Input resets the idle timer.
    feed(&mut s, t0 + 5 * sec, &w).1.unwrap();
    assert_eq!(s.poll_timeout(), Some(t0 + 15 * sec));
    s.handle_timeout(t0 + 15 * sec).unwrap();
    let frames = parse_frames(&take_tx(&mut s));
    assert_eq!(frames.len(), 1);
    assert_eq!(frames[0].0.opcode, OpCode::Ping);
    // A pong (any input) in time keeps the connection.
    let mut pong = Vec::new();
    client_frame(&mut pong, true, OpCode::Pong, &[]);
    feed(&mut s, t0 + 16 * sec, &pong).1.unwrap();
    s.handle_timeout(t0 + 26 * sec).unwrap();
    assert_eq!(parse_frames(&take_tx(&mut s))[0].0.opcode, OpCode::Ping);
    // Silence for another interval: give up.
    assert_eq!(s.handle_timeout(t0 + 36 * sec), Err(Error::TimedOut));
    assert!(s.is_closed());
}

#[test]
fn manual_pong_when_auto_pong_is_off() {
    let now = Instant::now();
    let mut s = Connection::new(Role::Server, Config::default().auto_pong(false));
    let mut w = Vec::new();
    client_frame(&mut w, true, OpCode::Ping, b"1");
    assert_eq!(
        feed(&mut s, now, &w),
        (vec![Ev::Ping(b"1".to_vec())], Ok(()))
    );
    assert_eq!(s.pending_transmit(), 0);
    s.send_pong(b"1").unwrap();
    let frames = parse_frames(&take_tx(&mut s));
    assert_eq!(
        (frames[0].0.opcode, frames[0].1.as_slice()),
        (OpCode::Pong, &b"1"[..])
    );
}
