//! Every split of every frame sequence yields the same events: whole, byte at a time,
//! at random cut points, in whole-message and in fragment mode.

mod util;

use std::time::Instant;

use proptest::prelude::*;
use strait_websocket::proto::{Config, Connection, Error, InPlace, Message, OpCode, Role};
use util::*;

/// One step of a peer's script.
#[derive(Debug, Clone)]
enum Step {
    /// A message cut into frames at the given fractions.
    Message {
        text: bool,
        data: Vec<u8>,
        cuts: Vec<usize>,
    },
    Ping(Vec<u8>),
    Pong(Vec<u8>),
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (any::<bool>(), prop_oneof![
                proptest::collection::vec(any::<u8>(), 0..300),
                proptest::collection::vec(any::<u8>(), 0..70_000),
            ], proptest::collection::vec(0usize..70_000, 0..4))
            .prop_map(|(text, data, cuts)| Step::Message { text, data, cuts }),
        1 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Step::Ping),
        1 => proptest::collection::vec(any::<u8>(), 0..=125).prop_map(Step::Pong),
    ]
}

/// Turns text steps' bytes into valid UTF-8 (lossily), so the script is valid.
fn normalize(steps: Vec<Step>) -> Vec<Step> {
    steps
        .into_iter()
        .map(|s| match s {
            Step::Message {
                text: true,
                data,
                cuts,
            } => Step::Message {
                text: true,
                data: String::from_utf8_lossy(&data).into_owned().into_bytes(),
                cuts,
            },
            s => s,
        })
        .collect()
}

/// The wire bytes of a script, with a ping interleaved inside every fragmented message,
/// and the events a server must report.
fn encode(steps: &[Step]) -> (Vec<u8>, Vec<Ev>) {
    let mut wire = Vec::new();
    let mut expected = Vec::new();
    for s in steps {
        match s {
            Step::Message { text, data, cuts } => {
                let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
                cuts.push(0);
                cuts.push(data.len());
                cuts.sort_unstable();
                let pieces: Vec<&[u8]> = cuts.windows(2).map(|w| &data[w[0]..w[1]]).collect();
                for (i, piece) in pieces.iter().enumerate() {
                    let opcode = match (i, text) {
                        (0, true) => OpCode::Text,
                        (0, false) => OpCode::Binary,
                        _ => OpCode::Continuation,
                    };
                    let fin = i == pieces.len() - 1;
                    client_frame(&mut wire, fin, opcode, piece);
                    if !fin && i == 0 {
                        client_frame(&mut wire, true, OpCode::Ping, b"mid");
                        expected.push(Ev::Ping(b"mid".to_vec()));
                    }
                }
                expected.push(if *text {
                    Ev::Text(String::from_utf8(data.clone()).unwrap())
                } else {
                    Ev::Binary(data.clone())
                });
            }
            Step::Ping(p) => {
                client_frame(&mut wire, true, OpCode::Ping, p);
                expected.push(Ev::Ping(p.clone()));
            }
            Step::Pong(p) => {
                client_frame(&mut wire, true, OpCode::Pong, p);
                expected.push(Ev::Pong(p.clone()));
            }
        }
    }
    (wire, expected)
}

/// Feeds `wire` as it would arrive in pieces cut at `cuts`, through
/// `handle_input_in_place`, gathering a partial one-frame message in the buffer the way
/// the async layer does.
fn feed_in_place(
    conn: &mut Connection,
    now: Instant,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Ev>, Result<(), Error>) {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(wire.len())).collect();
    cuts.push(wire.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut events = Vec::new();
    let mut buf: Vec<u8> = Vec::new();
    let mut arrived = 0;
    for cut in cuts {
        buf.extend_from_slice(&wire[arrived..cut]);
        arrived = cut;
        let mut start = 0;
        while start < buf.len() {
            match conn.handle_input_in_place(now, &mut buf[start..]) {
                Err(e) => return (events, Err(e)),
                Ok(InPlace::Message { used, message }) => {
                    events.push(match message {
                        Message::Text(t) => Ev::Text(t.to_owned()),
                        Message::Binary(b) => Ev::Binary(b.to_vec()),
                    });
                    start += used;
                }
                Ok(InPlace::Used(n)) => {
                    start += n;
                    let mut got = false;
                    while let Some(e) = conn.poll_event() {
                        events.push(Ev::from_event(e));
                        got = true;
                    }
                    assert!(n > 0 || got, "no progress");
                }
                Ok(InPlace::Incomplete { used, frame_len }) => {
                    start += used;
                    assert!(buf.len() - start < frame_len);
                    break;
                }
            }
        }
        buf.drain(..start);
    }
    assert!(buf.is_empty(), "a frame left incomplete at the end");
    (events, Ok(()))
}

/// A server delivering whole messages, or fragments. Whole-message mode reports a ping
/// that interrupts a message before the message, fragment mode between its fragments:
/// joining fragments at the message's end gives the same order.
fn server(fragments: bool) -> Connection {
    Connection::new(Role::Server, Config::default().fragments(fragments))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_split_yields_the_same_messages(
        steps in proptest::collection::vec(step(), 0..6).prop_map(normalize),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        let now = Instant::now();
        let (wire, expected) = encode(&steps);
        let cuts: Vec<usize> = cuts.iter().map(|i| i.index(wire.len() + 1)).collect();

        let (whole, r) = feed(&mut server(false), now, &wire);
        prop_assert!(r.is_ok(), "{r:?}");
        prop_assert_eq!(&whole, &expected);

        let (split, r) = feed_split(&mut server(false), now, &wire, &cuts);
        prop_assert!(r.is_ok());
        prop_assert_eq!(&split, &expected);

        // In place, gathering partial one-frame messages.
        let (inplace, r) = feed_in_place(&mut server(false), now, &wire, &cuts);
        prop_assert!(r.is_ok(), "{r:?}");
        prop_assert_eq!(&inplace, &expected);

        // Fragment mode: the same messages once joined.
        let (frags, r) = feed_split(&mut server(true), now, &wire, &cuts);
        prop_assert!(r.is_ok());
        prop_assert_eq!(&join_fragments(frags), &expected);

        // Automatic pongs answer every ping, in order.
        let mut conn = server(false);
        let (_, r) = feed_split(&mut conn, now, &wire, &cuts);
        prop_assert!(r.is_ok());
        let pongs: Vec<Vec<u8>> = parse_frames(&take_tx(&mut conn))
            .into_iter()
            .map(|(h, p)| { assert_eq!(h.opcode, OpCode::Pong); assert!(h.mask.is_none()); p })
            .collect();
        let pings: Vec<Vec<u8>> = expected.iter().filter_map(|e| match e { Ev::Ping(p) => Some(p.clone()), _ => None }).collect();
        prop_assert_eq!(pongs, pings);
    }
}

#[test]
fn byte_at_a_time_matches_whole() {
    let now = Instant::now();
    let steps = vec![
        Step::Message {
            text: true,
            data: "héllo wörld ✓ 𝄞".as_bytes().to_vec(),
            cuts: vec![2, 7, 13],
        },
        Step::Ping(b"p".to_vec()),
        Step::Message {
            text: false,
            data: (0..=255).cycle().take(70_000).collect(),
            cuts: vec![1, 65_600],
        },
        Step::Message {
            text: false,
            data: vec![],
            cuts: vec![],
        },
        Step::Pong(vec![]),
    ];
    let (wire, expected) = encode(&steps);
    for fragments in [false, true] {
        let (a, r) = feed_bytewise(&mut server(fragments), now, &wire);
        assert!(r.is_ok());
        assert_eq!(join_fragments(a), expected);
    }
}

#[test]
fn client_reads_unmasked_frames_and_masks_its_own() {
    let now = Instant::now();
    let mut server = server(false);
    let mut client = Connection::new(Role::Client, Config::default());
    for i in 0..100 {
        let text = "x".repeat(i * 37);
        client.send_text(&text).unwrap();
        server.send_binary(text.as_bytes()).unwrap();
        let c2s = take_tx(&mut client);
        let s2c = take_tx(&mut server);
        assert!(parse_frames(&c2s).iter().all(|(h, _)| h.mask.is_some()));
        assert!(parse_frames(&s2c).iter().all(|(h, _)| h.mask.is_none()));
        assert_eq!(
            feed(&mut server, now, &c2s),
            (vec![Ev::Text(text.clone())], Ok(()))
        );
        assert_eq!(
            feed(&mut client, now, &s2c),
            (vec![Ev::Binary(text.into_bytes())], Ok(()))
        );
    }
}

#[test]
fn sent_fragments_arrive_as_one_message() {
    use strait_websocket::proto::MessageKind;
    let now = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = server(false);
    let text = "añb".as_bytes();
    client
        .send_fragment(MessageKind::Text, &text[..2], false)
        .unwrap();
    // A split code point in the middle, a ping in between.
    client.send_ping(b"between").unwrap();
    assert!(
        client.send_text("no").is_err(),
        "a new message inside a fragmented one"
    );
    client
        .send_fragment(MessageKind::Text, &text[2..], true)
        .unwrap();
    let (events, r) = feed(&mut server, now, &take_tx(&mut client));
    assert!(r.is_ok());
    assert_eq!(
        events,
        [Ev::Ping(b"between".to_vec()), Ev::Text("añb".into())]
    );
}

#[test]
fn in_place_text_is_validated() {
    let now = Instant::now();
    let mut wire = Vec::new();
    client_frame(&mut wire, true, OpCode::Text, b"ok \xFF");
    let mut conn = server(false);
    assert_eq!(
        conn.handle_input_in_place(now, &mut wire),
        Err(Error::InvalidUtf8)
    );
    // The failure is answered with 1007.
    assert_eq!(sent_close_code(&take_tx(&mut conn)), Some(Some(1007)));
    assert!(conn.is_closed());
}

#[test]
fn in_place_leaves_oversized_frames_to_the_limits() {
    let now = Instant::now();
    let mut wire = Vec::new();
    client_frame(&mut wire, true, OpCode::Binary, &[0; 300]);
    let mut conn = Connection::new(Role::Server, Config::default().max_message_size(100));
    assert!(matches!(
        conn.handle_input_in_place(now, &mut wire),
        Err(Error::MessageTooLarge { .. })
    ));
    assert_eq!(sent_close_code(&take_tx(&mut conn)), Some(Some(1009)));
}

#[test]
fn in_place_text_still_arriving_fails_on_its_first_bad_piece() {
    let now = Instant::now();
    let mut payload = b"ok \xFF".to_vec();
    payload.resize(1000, b'a');
    let mut wire = Vec::new();
    client_frame(&mut wire, true, OpCode::Text, &payload);
    let mut conn = server(false);
    // Header and the bad byte, not the rest: no waiting for the frame's end.
    assert_eq!(
        conn.handle_input_in_place(now, &mut wire[..20]),
        Err(Error::InvalidUtf8)
    );
    assert_eq!(sent_close_code(&take_tx(&mut conn)), Some(Some(1007)));
}
