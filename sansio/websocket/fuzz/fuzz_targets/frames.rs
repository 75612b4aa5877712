//! Arbitrary bytes into a server connection, whole and cut at fuzzer-chosen points, in
//! both delivery modes: never a panic, and the same messages and outcome every way.
#![no_main]

use std::time::Instant;

use libfuzzer_sys::fuzz_target;
use strait_websocket::proto::{Config, Connection, Event, InPlace, Role};

/// Messages seen (fragments joined), and whether the input failed.
fn run(fragments: bool, wire: &[u8], cuts: &[usize]) -> (Vec<(u8, Vec<u8>)>, bool) {
    let now = Instant::now();
    let config = Config::default()
        .fragments(fragments)
        .max_message_size(1 << 16)
        .max_frame_size(1 << 15);
    let mut conn = Connection::new(Role::Server, config);
    let mut out = Vec::new();
    let mut acc = Vec::new();
    let mut prev = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        let mut rest = &wire[prev..cut.max(prev)];
        prev = cut.max(prev);
        while !rest.is_empty() {
            match conn.handle_input(now, rest) {
                Ok(n) => rest = &rest[n..],
                Err(_) => return (out, true),
            }
            while let Some(e) = conn.poll_event() {
                match e {
                    Event::Message(m) => out.push((0, m.as_bytes().to_vec())),
                    Event::Fragment { data, fin, .. } => {
                        acc.extend_from_slice(data);
                        if fin {
                            out.push((0, std::mem::take(&mut acc)));
                        }
                    }
                    Event::Ping(p) => out.push((1, p.to_vec())),
                    Event::Pong(p) => out.push((2, p.to_vec())),
                    Event::Close(_) => out.push((3, Vec::new())),
                    _ => {}
                }
            }
        }
    }
    let mut tx = Vec::new();
    conn.poll_transmit(&mut tx);
    (out, false)
}

/// [`run`] in whole-message mode through `handle_input_in_place`, gathering a partial
/// one-frame message the way the async layer does; also whether a frame was left
/// pending at the end.
fn run_in_place(wire: &[u8], cuts: &[usize]) -> (Vec<(u8, Vec<u8>)>, bool, bool) {
    let now = Instant::now();
    let config = Config::default()
        .max_message_size(1 << 16)
        .max_frame_size(1 << 15);
    let mut conn = Connection::new(Role::Server, config);
    let mut out = Vec::new();
    let mut buf = Vec::new();
    let mut prev = 0;
    for &cut in cuts.iter().chain(std::iter::once(&wire.len())) {
        buf.extend_from_slice(&wire[prev..cut.max(prev)]);
        prev = cut.max(prev);
        let mut start = 0;
        while start < buf.len() {
            match conn.handle_input_in_place(now, &mut buf[start..]) {
                Err(_) => return (out, true, false),
                Ok(InPlace::Message { used, message }) => {
                    out.push((0, message.as_bytes().to_vec()));
                    start += used;
                }
                Ok(InPlace::Incomplete { used, frame_len }) => {
                    start += used;
                    assert!(buf.len() - start < frame_len);
                    break;
                }
                Ok(InPlace::Used(n)) => {
                    start += n;
                    while let Some(e) = conn.poll_event() {
                        match e {
                            Event::Message(m) => out.push((0, m.as_bytes().to_vec())),
                            Event::Ping(p) => out.push((1, p.to_vec())),
                            Event::Pong(p) => out.push((2, p.to_vec())),
                            Event::Close(_) => out.push((3, Vec::new())),
                            _ => {}
                        }
                    }
                }
            }
        }
        buf.drain(..start);
    }
    (out, false, !buf.is_empty())
}

fuzz_target!(|data: &[u8]| {
    let (head, wire) = data.split_at(data.len().min(4));
    let mut cuts: Vec<usize> = head
        .iter()
        .map(|&b| usize::from(b) % (wire.len() + 1))
        .collect();
    cuts.sort_unstable();
    let whole = run(false, wire, &[]);
    let split = run(false, wire, &cuts);
    assert_eq!(whole.1, split.1);
    // In place: the same messages and outcome. A one-frame message cut short at the end
    // stays pending unread, so an error inside it (invalid UTF-8) is not seen yet.
    let inplace = run_in_place(wire, &cuts);
    if inplace.2 {
        assert!(!inplace.1);
        assert!(whole.0.starts_with(&inplace.0));
    } else {
        assert_eq!(whole.1, inplace.1);
        if !whole.1 {
            assert_eq!(whole.0, inplace.0);
        }
    }
    if !whole.1 {
        assert_eq!(whole.0, split.0);
        // Fragment mode reports a ping inside a message before the message's end, whole
        // mode too: the joined sequences agree.
        let frag = run(true, wire, &cuts);
        assert!(!frag.1);
        assert_eq!(whole.0, frag.0);
    }
});
