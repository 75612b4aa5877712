//! Bad input fails the connection with a typed error and the matching close code, as soon
//! as the offending byte arrives.

mod util;

use std::time::Instant;

use strait_websocket::proto::{Config, Connection, Error, OpCode, ProtocolError, Role};
use util::*;

fn server() -> Connection {
    Connection::new(Role::Server, Config::default())
}

/// Feeds `wire` whole and byte by byte; both must fail with `err` and queue `code`.
fn assert_fails(wire: &[u8], err: Error, code: u16) {
    for bytewise in [false, true] {
        let mut s = server();
        let now = Instant::now();
        let (_, r) = if bytewise {
            feed_bytewise(&mut s, now, wire)
        } else {
            feed(&mut s, now, wire)
        };
        assert_eq!(r, Err(err.clone()), "bytewise={bytewise}");
        assert_eq!(err.close_code().map(|c| c.0), Some(code));
        assert!(s.is_closed());
        assert_eq!(s.error(), Some(&err));
        assert_eq!(sent_close_code(&take_tx(&mut s)), Some(Some(code)));
        // Later input is discarded, never reported.
        assert_eq!(s.handle_input(now, b"\x81\x80more"), Ok(6));
        assert!(s.poll_event().is_none());
    }
}

#[test]
fn framing_violations_close_with_1002() {
    let p = |e| Error::Protocol(e);
    let mut w = Vec::new();
    client_frame(&mut w, true, OpCode::Continuation, b"x");
    assert_fails(&w, p(ProtocolError::UnexpectedContinuation), 1002);

    let mut w = Vec::new();
    client_frame(&mut w, false, OpCode::Text, b"a");
    client_frame(&mut w, true, OpCode::Binary, b"b");
    assert_fails(&w, p(ProtocolError::ExpectedContinuation), 1002);

    let mut w = Vec::new();
    frame(&mut w, true, 0b100, OpCode::Text, Some([1, 2, 3, 4]), b"x");
    assert_fails(&w, p(ProtocolError::ReservedBits), 1002);

    assert_fails(
        &[0x83, 0x80, 0, 0, 0, 0],
        p(ProtocolError::ReservedOpcode),
        1002,
    );
    assert_fails(&[0x81, 0x00], p(ProtocolError::UnmaskedFrame), 1002);
    assert_fails(
        &[0x09, 0x80, 0, 0, 0, 0],
        p(ProtocolError::FragmentedControl),
        1002,
    );
    assert_fails(
        &[0x89, 0xFE, 0, 126],
        p(ProtocolError::ControlTooLong),
        1002,
    );

    let mut w = Vec::new();
    client_frame(&mut w, true, OpCode::Close, &[3]);
    assert_fails(&w, p(ProtocolError::CloseLength), 1002);
}

#[test]
fn invalid_utf8_fails_mid_fragment_before_the_message_ends() {
    let now = Instant::now();
    let mut w = Vec::new();
    client_frame(&mut w, false, OpCode::Text, b"valid ");
    client_frame(&mut w, false, OpCode::Continuation, b"ok \xff then more");
    client_frame(&mut w, true, OpCode::Continuation, b"never read");
    // Byte by byte: the error comes on the byte 0xff itself, not at the frame's end.
    let mut s = Connection::new(Role::Server, Config::default().fragments(true));
    let (events, r) = feed_split(&mut s, now, &w, &(0..w.len()).collect::<Vec<_>>());
    assert_eq!(r, Err(Error::InvalidUtf8));
    let delivered: usize = events
        .iter()
        .map(|e| match e {
            Ev::Fragment(_, d, _) => d.len(),
            _ => 0,
        })
        .sum();
    assert_eq!(
        delivered,
        "valid ok ".len(),
        "everything before the bad byte, nothing after"
    );
    assert_eq!(sent_close_code(&take_tx(&mut s)), Some(Some(1007)));

    // Whole-message mode fails on the same frame, long before FIN.
    assert_fails(&w, Error::InvalidUtf8, 1007);
}

#[test]
fn text_ending_inside_a_code_point_fails_with_1007() {
    let mut w = Vec::new();
    client_frame(&mut w, false, OpCode::Text, "é".as_bytes());
    client_frame(&mut w, true, OpCode::Continuation, &"€".as_bytes()[..2]);
    assert_fails(&w, Error::InvalidUtf8, 1007);
}

#[test]
fn close_reason_must_be_utf8() {
    let mut w = Vec::new();
    client_frame(&mut w, true, OpCode::Close, b"\x03\xe8\xff");
    assert_fails(&w, Error::InvalidUtf8, 1007);
}

#[test]
fn frame_and_message_limits_close_with_1009() {
    let config = Config::default().max_frame_size(100).max_message_size(250);
    let run = |w: &[u8], err: Error| {
        for bytewise in [false, true] {
            let mut s = Connection::new(Role::Server, config.clone());
            let now = Instant::now();
            let (events, r) = if bytewise {
                feed_bytewise(&mut s, now, w)
            } else {
                feed(&mut s, now, w)
            };
            assert!(events.is_empty());
            assert_eq!(r, Err(err.clone()));
            assert_eq!(sent_close_code(&take_tx(&mut s)), Some(Some(1009)));
        }
    };
    let mut w = Vec::new();
    client_frame(&mut w, true, OpCode::Binary, &[0; 101]);
    run(
        &w,
        Error::FrameTooLarge {
            size: 101,
            limit: 100,
        },
    );

    // The limit is checked from the header: the payload is never buffered.
    let w = [0x82, 0xFF, 0, 0, 0, 1, 0, 0, 0, 0, 1, 2, 3, 4];
    run(
        &w,
        Error::FrameTooLarge {
            size: 1 << 32,
            limit: 100,
        },
    );

    // Each frame within the frame limit, the message over the message limit: refused at
    // the header of the frame that crosses it.
    let mut w = Vec::new();
    client_frame(&mut w, false, OpCode::Binary, &[0; 100]);
    client_frame(&mut w, false, OpCode::Continuation, &[0; 100]);
    client_frame(&mut w, true, OpCode::Continuation, &[0; 51]);
    run(
        &w,
        Error::MessageTooLarge {
            size: 251,
            limit: 250,
        },
    );

    // At the limits exactly: fine.
    let mut ok = Vec::new();
    client_frame(&mut ok, false, OpCode::Binary, &[1; 100]);
    client_frame(&mut ok, false, OpCode::Continuation, &[2; 100]);
    client_frame(&mut ok, true, OpCode::Continuation, &[3; 50]);
    let mut s = Connection::new(Role::Server, config.clone());
    let (events, r) = feed(&mut s, Instant::now(), &ok);
    assert_eq!(r, Ok(()));
    assert_eq!(events.len(), 1);
}

#[test]
fn application_can_fail_with_policy_violation() {
    let mut s = server();
    assert_eq!(s.fail(Error::PolicyViolation), Error::PolicyViolation);
    assert_eq!(sent_close_code(&take_tx(&mut s)), Some(Some(1008)));
    assert!(s.is_closed());
    assert_eq!(s.send_text("late"), Err(Error::Closed));
    assert_eq!(Error::Internal.close_code().map(|c| c.0), Some(1011));
}

#[test]
fn send_side_checks() {
    let mut s = Connection::new(Role::Server, Config::default().max_send_buffer(64));
    assert_eq!(s.send_ping(&[0; 126]), Err(Error::ControlPayloadTooLong));
    // An empty buffer takes any message; a full one refuses until drained.
    s.send_binary(&[0; 100]).unwrap();
    assert_eq!(s.send_binary(&[0; 10]), Err(Error::SendBufferFull));
    take_tx(&mut s);
    s.send_binary(&[0; 10]).unwrap();
    let now = Instant::now();
    use strait_websocket::proto::CloseCode;
    assert_eq!(
        s.close(now, CloseCode(1005), ""),
        Err(Error::InvalidCloseCode(1005))
    );
    assert_eq!(
        s.close(now, CloseCode::NORMAL, &"r".repeat(124)),
        Err(Error::ControlPayloadTooLong)
    );
    s.close(now, CloseCode::NORMAL, &"r".repeat(123)).unwrap();
    assert_eq!(s.close(now, CloseCode::NORMAL, ""), Err(Error::Closed));
    assert_eq!(s.send_text("after close"), Err(Error::Closed));
}
