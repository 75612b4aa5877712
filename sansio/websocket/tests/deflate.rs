//! permessage-deflate through the connection: round trips in any split, both delivery
//! modes, context takeover on and off, RSV1 rules, bombs and corrupt data.
#![cfg(feature = "deflate")]

mod util;

use std::time::Instant;

use proptest::prelude::*;
use strait_websocket::proto::deflate::{DeflateConfig, DeflateParams};
use strait_websocket::proto::{Config, Connection, Error, OpCode, ProtocolError, Role};
use util::*;

fn params(nct: bool) -> DeflateParams {
    let mut cfg = DeflateConfig::default();
    cfg.no_context_takeover = nct;
    cfg.peer_no_context_takeover = nct;
    cfg.accept_offer(cfg.offer().split(',').next().unwrap())
        .unwrap()
        .0
}

fn pair(nct: bool, config: Config) -> (Connection, Connection) {
    let p = params(nct);
    (
        Connection::with_deflate(Role::Client, config.clone(), &p),
        Connection::with_deflate(Role::Server, config, &p),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(32))]
    #[test]
    fn compressed_messages_survive_any_split(
        msgs in proptest::collection::vec((any::<bool>(), "[a-c ]{0,3000}"), 1..6),
        nct: bool,
        fragments: bool,
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..10),
    ) {
        let now = Instant::now();
        let (mut client, mut server) = pair(nct, Config::default().fragments(fragments));
        let mut expected = Vec::new();
        for (text, m) in &msgs {
            if *text {
                client.send_text(m).unwrap();
                expected.push(Ev::Text(m.clone()));
            } else {
                client.send_binary(m.as_bytes()).unwrap();
                expected.push(Ev::Binary(m.clone().into_bytes()));
            }
        }
        let wire = take_tx(&mut client);
        // Every data frame is compressed (RSV1) and smaller for repetitive input.
        for (h, _) in parse_frames(&wire) {
            prop_assert_eq!(h.rsv, 0b100);
        }
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();
        let (events, r) = feed_split(&mut server, now, &wire, &cuts);
        prop_assert_eq!(r, Ok(()));
        prop_assert_eq!(join_fragments(events), expected);
    }
}

#[test]
fn context_takeover_shrinks_repeated_messages() {
    let msg = "the same sentence, again and again. ".repeat(20);
    let sizes = |nct| {
        let (mut client, _) = pair(nct, Config::default());
        client.send_text(&msg).unwrap();
        let first = take_tx(&mut client).len();
        client.send_text(&msg).unwrap();
        (first, take_tx(&mut client).len())
    };
    let (first, second) = sizes(false);
    assert!(second < first / 2, "{first} {second}");
    let (first, second) = sizes(true);
    assert_eq!(first, second, "no context: every message compresses alike");
}

#[test]
fn rsv1_rules() {
    let now = Instant::now();
    // RSV1 on a continuation frame.
    let (mut client, mut server) = pair(false, Config::default());
    client.send_text("first part, compressed").unwrap();
    let mut wire = take_tx(&mut client);
    // Turn FIN off on the message's frame and add a continuation with RSV1.
    wire[0] &= 0x7F;
    frame(
        &mut wire,
        true,
        0b100,
        OpCode::Continuation,
        Some([1, 2, 3, 4]),
        b"x",
    );
    assert_eq!(
        feed(&mut server, now, &wire).1,
        Err(Error::Protocol(ProtocolError::ReservedBits))
    );

    // RSV1 on a control frame.
    let (_, mut server) = pair(false, Config::default());
    let mut wire = Vec::new();
    frame(
        &mut wire,
        true,
        0b100,
        OpCode::Ping,
        Some([1, 2, 3, 4]),
        b"",
    );
    assert_eq!(
        feed(&mut server, now, &wire).1,
        Err(Error::Protocol(ProtocolError::ReservedBits))
    );

    // RSV1 without negotiation.
    let mut plain = Connection::new(Role::Server, Config::default());
    let mut wire = Vec::new();
    frame(
        &mut wire,
        true,
        0b100,
        OpCode::Text,
        Some([1, 2, 3, 4]),
        b"x",
    );
    assert_eq!(
        feed(&mut plain, now, &wire).1,
        Err(Error::Protocol(ProtocolError::ReservedBits))
    );
}

#[test]
fn bombs_stop_at_the_message_limit_with_1009() {
    let now = Instant::now();
    let (mut client, _) = pair(false, Config::default());
    client.send_binary(&vec![0u8; 4 << 20]).unwrap();
    let wire = take_tx(&mut client);
    assert!(wire.len() < 64 * 1024, "{}", wire.len());
    let p = params(false);
    let mut server = Connection::with_deflate(
        Role::Server,
        Config::default().max_message_size(1 << 20),
        &p,
    );
    let (events, r) = feed(&mut server, now, &wire);
    assert!(events.is_empty());
    assert!(
        matches!(r, Err(Error::MessageTooLarge { limit, .. }) if limit == 1 << 20),
        "{r:?}"
    );
    assert_eq!(sent_close_code(&take_tx(&mut server)), Some(Some(1009)));
}

#[test]
fn corrupt_data_closes_with_1007() {
    let now = Instant::now();
    let (_, mut server) = pair(false, Config::default());
    let mut wire = Vec::new();
    // 0xFF: a block type 3 (reserved) right away.
    frame(
        &mut wire,
        true,
        0b100,
        OpCode::Binary,
        Some([9, 9, 9, 9]),
        &[0xFF, 0xFF, 0xFF],
    );
    assert_eq!(
        feed(&mut server, now, &wire).1,
        Err(Error::InvalidCompressedData)
    );
    assert_eq!(sent_close_code(&take_tx(&mut server)), Some(Some(1007)));
}

#[test]
fn invalid_utf8_inside_compressed_text_closes_with_1007() {
    let now = Instant::now();
    let (mut client, mut server) = pair(false, Config::default());
    // Compress invalid UTF-8 as binary, then relabel the frame as text.
    client.send_binary(b"valid then \xff invalid").unwrap();
    let mut wire = take_tx(&mut client);
    wire[0] = (wire[0] & 0xF0) | 0x1;
    assert_eq!(feed(&mut server, now, &wire).1, Err(Error::InvalidUtf8));
}
