//! Arbitrary server bytes into the client state machine after a few requests: no
//! panic, no loop, and the same events whatever the cuts.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use strait_http1::proto::{BodyLength, ClientConnection, Event, Limits};

fn run(methods: &[http::Method], data: &[u8], step: usize) -> Vec<String> {
    let now = Instant::now();
    let mut conn = ClientConnection::new(Limits::default());
    let mut out = Vec::new();
    for m in methods {
        if conn
            .send_request(
                m,
                "/",
                "h",
                &http::HeaderMap::new(),
                BodyLength::Empty,
                &mut out,
            )
            .is_ok()
        {
            conn.send_end(None, &mut out).unwrap();
        }
    }
    let mut log = Vec::new();
    let mut body: Vec<u8> = Vec::new();
    let mut drain = |conn: &mut ClientConnection, log: &mut Vec<String>| -> bool {
        loop {
            match conn.poll_event() {
                Ok(Some(Event::Data(d))) => body.extend_from_slice(d),
                Ok(Some(e)) => {
                    log.push(format!("{:02x?}", std::mem::take(&mut body)));
                    log.push(format!("{e:?}"));
                }
                Ok(None) => return true,
                Err(e) => {
                    log.push(format!("{:02x?}", std::mem::take(&mut body)));
                    log.push(format!("ERR {e:?}"));
                    return false;
                }
            }
        }
    };
    for piece in data.chunks(step) {
        let mut rest = piece;
        while !rest.is_empty() {
            let n = conn.handle_input(now, rest);
            rest = &rest[n..];
            if !drain(&mut conn, &mut log) {
                return log;
            }
            if n == 0 {
                break;
            }
        }
    }
    conn.handle_eof(now);
    drain(&mut conn, &mut log);
    log
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let (ctl, data) = input.split_at(2);
    let all = [
        http::Method::GET,
        http::Method::HEAD,
        http::Method::CONNECT,
        http::Method::POST,
    ];
    let methods: Vec<http::Method> = (0..(ctl[0] % 4 + 1))
        .map(|i| all[usize::from((ctl[0] >> (2 * i)) & 3)].clone())
        .collect();
    let whole = run(&methods, data, data.len().max(1));
    let split = run(&methods, data, usize::from(ctl[1]).max(1));
    assert_eq!(whole, split);
});
