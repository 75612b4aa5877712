//! permessage-deflate: fuzzer-chosen messages compressed by one end (our encoder, at a
//! fuzzer-chosen window, level and context mode) must come out of the other end
//! unchanged; and the same bytes sent as a compressed frame's payload (arbitrary deflate
//! input) must inflate or fail cleanly, within the message limit.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use strait_websocket::proto::deflate::DeflateConfig;
use strait_websocket::proto::{Config, Connection, Event, Role};

fn deliver(to: &mut Connection, wire: &[u8]) -> Result<Vec<Vec<u8>>, ()> {
    let now = Instant::now();
    let mut got = Vec::new();
    let mut rest = wire;
    while !rest.is_empty() {
        rest = &rest[to.handle_input(now, rest).map_err(|_| ())?..];
        while let Some(e) = to.poll_event() {
            if let Event::Message(m) = e {
                got.push(m.as_bytes().to_vec());
            }
        }
    }
    Ok(got)
}

fuzz_target!(|data: &[u8]| {
    let Some((&ctl, rest)) = data.split_first() else {
        return;
    };
    let mut deflate = DeflateConfig::default();
    deflate.max_window_bits = 9 + ctl % 7;
    deflate.level = u32::from(ctl >> 3) % 10;
    deflate.no_context_takeover = ctl & 0x80 != 0;
    deflate.peer_no_context_takeover = ctl & 0x80 != 0;
    let (params, _) = deflate
        .accept_offer(deflate.offer().split(',').next().unwrap())
        .unwrap();
    let config = Config::default()
        .compression(Some(deflate))
        .max_message_size(1 << 20);
    let mut client = Connection::with_deflate(Role::Client, config.clone(), &params);
    let mut server = Connection::with_deflate(Role::Server, config, &params);

    // Round trips: the input as three messages (the last repeats the first, so context
    // takeover has history to use).
    let third = rest.len() / 3;
    let messages = [&rest[..third], &rest[third..], &rest[..third]];
    let mut wire = Vec::new();
    for m in messages {
        client.send_binary(m).unwrap();
        wire.clear();
        client.poll_transmit(&mut wire);
        assert_eq!(deliver(&mut server, &wire).unwrap(), vec![m.to_vec()]);
    }

    // Arbitrary deflate data: a masked binary frame with RSV1 set and `rest` as payload.
    let limited = Config::default()
        .compression(Some(deflate))
        .max_message_size(1 << 16);
    let mut server = Connection::with_deflate(Role::Server, limited, &params);
    let mut frame = vec![0xC2];
    match rest.len() {
        n @ 0..=125 => frame.push(0x80 | n as u8),
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&[0, 0, 0, 0]);
    frame.extend_from_slice(rest);
    if let Ok(got) = deliver(&mut server, &frame) {
        assert!(got.iter().all(|m| m.len() <= 1 << 16));
    }
});
