//! Arbitrary bytes, cut at arbitrary points, into the server state machine. It must
//! never panic or loop; the events must not depend on the cuts; every error must have
//! been answered before the connection asks to close; answers must serialize.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use strait_http1::proto::{BodyLength, Event, Limits, ServerConfig, ServerConnection};

fn run(data: &[u8], cuts: &[usize], limits: Limits) -> Vec<String> {
    let now = Instant::now();
    let mut conn = ServerConnection::new(
        ServerConfig {
            limits,
            ..Default::default()
        },
        now,
    );
    let mut log = Vec::new();
    let mut out = Vec::new();
    let mut start = 0;
    let mut pieces: Vec<&[u8]> = Vec::new();
    for &c in cuts {
        let c = c.clamp(start, data.len());
        pieces.push(&data[start..c]);
        start = c;
    }
    pieces.push(&data[start..]);
    let mut body_seen: Vec<u8> = Vec::new();
    for (i, piece) in pieces.iter().enumerate() {
        let mut rest = *piece;
        loop {
            let n = conn.handle_input(now, rest);
            rest = &rest[n..];
            loop {
                match conn.poll_event() {
                    Ok(Some(Event::Data(d))) => body_seen.extend_from_slice(d),
                    Ok(Some(Event::EndOfMessage)) => {
                        log.push(format!("{:02x?}", std::mem::take(&mut body_seen)));
                        log.push("END".into());
                        // Answer in order so pipelining never stalls.
                        out.clear();
                        if conn
                            .send_response(
                                now,
                                http::StatusCode::OK,
                                &http::HeaderMap::new(),
                                BodyLength::Unknown,
                                &mut out,
                            )
                            .is_ok()
                        {
                            conn.send_data(b"ok", &mut out).unwrap();
                            conn.send_end(None, &mut out).unwrap();
                        }
                    }
                    Ok(Some(e)) => log.push(format!("{e:?}")),
                    Ok(None) => break,
                    Err(e) => {
                        log.push(format!("ERR {e:?}"));
                        conn.poll_transmit(&mut out);
                        assert!(conn.wants_close());
                        return log;
                    }
                }
            }
            if rest.is_empty() || n == 0 && conn.wants_close() {
                break;
            }
            assert!(n > 0 || !rest.is_empty(), "no progress");
            if n == 0 {
                // Input refused while nothing can be delivered: the connection must
                // be paused on an upgrade or stopped.
                break;
            }
        }
        if i + 1 == pieces.len() {
            conn.handle_eof(now);
            loop {
                match conn.poll_event() {
                    Ok(Some(e)) => log.push(format!("{e:?}")),
                    Ok(None) => break,
                    Err(e) => {
                        log.push(format!("ERR {e:?}"));
                        break;
                    }
                }
            }
        }
    }
    log.push(format!("{body_seen:02x?}"));
    log
}

fuzz_target!(|input: &[u8]| {
    if input.len() < 2 {
        return;
    }
    let (ctl, data) = input.split_at(2);
    let limits = if ctl[0] & 1 == 1 {
        Limits::default()
            .max_head_bytes(256)
            .max_headers(8)
            .max_chunk_line(32)
            .max_body(1024)
    } else {
        Limits::default()
    };
    let whole = run(data, &[], limits);
    let step = usize::from(ctl[1]).max(1);
    let cuts: Vec<usize> = (1..data.len()).step_by(step).collect();
    let split = run(data, &cuts, limits);
    // Data boundaries may differ with the cuts; everything else must not.
    assert_eq!(whole, split);
});
