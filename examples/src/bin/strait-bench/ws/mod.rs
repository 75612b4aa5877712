//! Suite `ws`: WebSocket echo round trips over loopback TCP (nodelay, linger 0) — 1 and
//! 100 connections at 20 B, 1 KiB and 64 KiB binary messages — for strait-websocket on
//! strait-native against tokio-tungstenite and fastwebsockets on tokio current_thread,
//! and a frame-decode micro-benchmark (a 40 B masked frame) against tungstenite's frame
//! codec.
//!
//! Like for like: one thread per subject, client and server in the same runtime, each
//! library on both ends, no handshake (each wraps a connected socket in its server or
//! client role), no compression, whole messages delivered to the application, each
//! client waiting for its echo before the next send. Every library keeps its own read
//! buffer size (strait 16 KiB, growing to hold a one-frame message; tungstenite 128 KiB;
//! fastwebsockets its default, growing likewise). Each server echoes the message it
//! read without copying it first (strait through `next_message_with_sender`), and each
//! client masks in place where the library allows it (fastwebsockets' `BorrowedMut`,
//! strait's `send_binary_mut`; tungstenite masks a copy).

mod peer_fastws;
mod peer_tungstenite;
mod strait;

use std::io;
use std::time::Duration;

use crate::harness::{ns_per_op, Better, Report};

const SUITE: &str = "ws";
const LOOPBACK: &str = "127.0.0.1:0";

/// One subject's echo run: (connections, message size, budget) → round trips per second.
type EchoFn = fn(usize, usize, Duration) -> io::Result<f64>;

const STRAIT: &str = "strait-websocket";
const TUNGSTENITE: &str = "tokio-tungstenite";
const FASTWS: &str = "fastwebsockets";

pub fn run(report: &mut Report) {
    for conns in [1usize, 100] {
        for (label, size) in [("20 B", 20usize), ("1 KiB", 1024), ("64 KiB", 64 * 1024)] {
            let scenario = format!("echo {conns} conn {label}");
            let mut row = report.row(SUITE, &scenario, "round trips", "1/s", Better::Higher);
            let subjects: [(&str, EchoFn); 3] = [
                (STRAIT, strait::echo),
                (TUNGSTENITE, peer_tungstenite::echo),
                (FASTWS, peer_fastws::echo),
            ];
            for (name, f) in subjects {
                row = row.subject(name, move |budget| {
                    f(conns, size, budget).unwrap_or_else(|e| {
                        eprintln!("failed: {e}");
                        f64::NAN
                    })
                });
            }
            row.pair(STRAIT, TUNGSTENITE)
                .pair(STRAIT, FASTWS)
                .run(report);
        }
    }

    // Frame decode: the same buffer of back-to-back 40 B masked binary frames (2 header
    // bytes, 4 of mask, 34 of payload), each decoded to its unmasked payload.
    let wire = masked_frames(FRAMES);
    let mut row = report.row(
        SUITE,
        "decode 40 B frame",
        "time",
        "ns/frame",
        Better::Lower,
    );
    row = row.subject(STRAIT, |budget| {
        ns_per_op(budget, FRAMES as u64, || strait::decode(&wire, FRAMES))
    });
    row = row.subject("tungstenite", |budget| {
        ns_per_op(budget, FRAMES as u64, || {
            peer_tungstenite::decode(&wire, FRAMES)
        })
    });
    row.pair(STRAIT, "tungstenite").run(report);
}

/// Frames per decode round.
const FRAMES: usize = 10_000;
/// Payload bytes of the 40 B frame.
const PAYLOAD: usize = 34;

/// `n` masked binary frames of [`PAYLOAD`] bytes, back to back.
fn masked_frames(n: usize) -> Vec<u8> {
    let mut wire = Vec::with_capacity(n * (PAYLOAD + 6));
    let key = [0x37, 0xFA, 0x21, 0x3D];
    for i in 0..n {
        wire.extend_from_slice(&[0x82, 0x80 | PAYLOAD as u8]);
        wire.extend_from_slice(&key);
        wire.extend((0..PAYLOAD).map(|j| (i + j) as u8 ^ key[j % 4]));
    }
    wire
}
