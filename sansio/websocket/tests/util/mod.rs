//! Shared helpers: a frame writer independent of `Connection`, and a driver that feeds
//! input in chosen pieces and records events as owned values.
#![allow(dead_code)]

use std::time::Instant;

use strait_websocket::proto::{
    apply_mask, Connection, Error, Event, FrameHeader, Message, MessageKind, OpCode,
};

/// An event, owned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ev {
    Text(String),
    Binary(Vec<u8>),
    Fragment(MessageKind, Vec<u8>, bool),
    Ping(Vec<u8>),
    Pong(Vec<u8>),
    Close(Option<(u16, String)>),
}

impl Ev {
    pub fn from_event(e: Event<'_>) -> Self {
        match e {
            Event::Message(Message::Text(t)) => Ev::Text(t.to_owned()),
            Event::Message(Message::Binary(b)) => Ev::Binary(b.to_vec()),
            Event::Fragment { kind, data, fin } => Ev::Fragment(kind, data.to_vec(), fin),
            Event::Ping(p) => Ev::Ping(p.to_vec()),
            Event::Pong(p) => Ev::Pong(p.to_vec()),
            Event::Close(c) => Ev::Close(c.map(|c| (c.code.0, c.reason.to_owned()))),
            other => panic!("unexpected event {other:?}"),
        }
    }
}

/// Joins fragments into whole messages (as whole-message mode would deliver them).
pub fn join_fragments(events: Vec<Ev>) -> Vec<Ev> {
    let mut out = Vec::new();
    let mut acc: Option<(MessageKind, Vec<u8>)> = None;
    for e in events {
        match e {
            Ev::Fragment(kind, data, fin) => {
                let (k, buf) = acc.get_or_insert_with(|| (kind, Vec::new()));
                assert_eq!(*k, kind, "kind changes inside a message");
                buf.extend_from_slice(&data);
                if fin {
                    let (k, buf) = acc.take().unwrap();
                    out.push(match k {
                        MessageKind::Text => {
                            Ev::Text(String::from_utf8(buf).expect("validated text"))
                        }
                        MessageKind::Binary => Ev::Binary(buf),
                    });
                }
            }
            other => out.push(other),
        }
    }
    assert!(acc.is_none(), "unfinished message");
    out
}

/// Feeds `wire` cut at `cuts` (positions, any order, clamped), draining events after
/// every input. Returns the events and the first error.
pub fn feed_split(
    conn: &mut Connection,
    now: Instant,
    wire: &[u8],
    cuts: &[usize],
) -> (Vec<Ev>, Result<(), Error>) {
    let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(wire.len())).collect();
    cuts.push(0);
    cuts.push(wire.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut events = Vec::new();
    for w in cuts.windows(2) {
        let mut rest = &wire[w[0]..w[1]];
        while !rest.is_empty() {
            let n = match conn.handle_input(now, rest) {
                Ok(n) => n,
                Err(e) => return (events, Err(e)),
            };
            rest = &rest[n..];
            let mut got = false;
            while let Some(e) = conn.poll_event() {
                events.push(Ev::from_event(e));
                got = true;
            }
            assert!(n > 0 || got, "no progress");
        }
    }
    (events, Ok(()))
}

/// Feeds `wire` whole.
pub fn feed(conn: &mut Connection, now: Instant, wire: &[u8]) -> (Vec<Ev>, Result<(), Error>) {
    feed_split(conn, now, wire, &[])
}

/// Feeds `wire` one byte at a time.
pub fn feed_bytewise(
    conn: &mut Connection,
    now: Instant,
    wire: &[u8],
) -> (Vec<Ev>, Result<(), Error>) {
    let cuts: Vec<usize> = (0..wire.len()).collect();
    feed_split(conn, now, wire, &cuts)
}

/// Appends one frame to `out`, masked with `mask` when given.
pub fn frame(
    out: &mut Vec<u8>,
    fin: bool,
    rsv: u8,
    opcode: OpCode,
    mask: Option<[u8; 4]>,
    payload: &[u8],
) {
    let h = FrameHeader {
        fin,
        rsv,
        opcode,
        mask,
        payload_len: payload.len() as u64,
    };
    h.encode_to_vec(out);
    let start = out.len();
    out.extend_from_slice(payload);
    if let Some(key) = mask {
        apply_mask(&mut out[start..], key, 0);
    }
}

/// A client-to-server (masked) frame.
pub fn client_frame(out: &mut Vec<u8>, fin: bool, opcode: OpCode, payload: &[u8]) {
    frame(out, fin, 0, opcode, Some([0x37, 0xfa, 0x21, 0x3d]), payload);
}

/// The frames a connection queued, parsed back (header, unmasked payload).
pub fn parse_frames(mut wire: &[u8]) -> Vec<(FrameHeader, Vec<u8>)> {
    use strait_websocket::proto::{DecoderRules, HeaderDecoder};
    let mut out = Vec::new();
    while !wire.is_empty() {
        let mut dec = HeaderDecoder::new(DecoderRules {
            allowed_rsv: 0b111,
            require_mask: None,
        });
        let (n, h) = dec.decode(wire).unwrap();
        let h = h.expect("whole header");
        wire = &wire[n..];
        let len = h.payload_len as usize;
        let mut payload = wire[..len].to_vec();
        if let Some(key) = h.mask {
            apply_mask(&mut payload, key, 0);
        }
        wire = &wire[len..];
        out.push((h, payload));
    }
    out
}

/// The close code of the close frame among `wire`'s frames, if any.
pub fn sent_close_code(wire: &[u8]) -> Option<Option<u16>> {
    parse_frames(wire)
        .into_iter()
        .find(|(h, _)| h.opcode == OpCode::Close)
        .map(|(_, p)| (p.len() >= 2).then(|| u16::from_be_bytes([p[0], p[1]])))
}

/// Takes everything `conn` wants to transmit.
pub fn take_tx(conn: &mut Connection) -> Vec<u8> {
    let mut v = Vec::new();
    conn.poll_transmit(&mut v);
    v
}
