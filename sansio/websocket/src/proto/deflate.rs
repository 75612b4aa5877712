//! permessage-deflate (RFC 7692): negotiation parameters and the per-connection codec.
//!
//! # Memory
//! Measured by the test `memory_per_compressed_connection` (live heap bytes of a
//! connection that exchanged 50 chat messages each way, less the same connection without
//! compression):
//!
//! | settings | bytes per connection |
//! | --- | --- |
//! | default (window 2^12, context takeover both ways) | 66 KiB |
//! | `max_window_bits = 9` | 49 KiB |
//! | `no_context_takeover` and `peer_no_context_takeover` | 0 between messages; 46 KiB while one is inflated |
//!
//! The compressor is this crate's own (LZ77 with hash chains and fixed Huffman codes,
//! `4 * 2^bits` bytes of tables and window, 20 KiB at 2^12) because zlib's cost is in its
//! hash tables whatever the window: zlib-rs keeps 128 KiB of them, and flate2 does not
//! expose zlib's memory level, so a zlib compressor costs 150–350 KiB. Decompression is
//! zlib-rs (its safe API), whose state is a fixed ~46 KiB (a 32 KiB window whatever the
//! peer's window bits).
//!
//! What the fixed codes cost in ratio (compressed bytes at window 2^12, levels 1 / 6,
//! ours against zlib-rs): a 1 KiB chat message 61 / 61 against 62 / 64; 10 KB of JSON
//! 1989 / 1937 against 2379 / 1345; 29 KB of Rust source 10815 / 10371 against
//! 12411 / 8569. On par with or smaller than zlib's fast level; up to 45% larger than its
//! level 6 on long messages.
//!
//! A direction without context takeover holds no state between messages: it is created
//! for a message and dropped after it, which trades one allocation per compressed
//! message for idle memory. Decompressed messages are bounded by
//! [`Config::max_message_size`](super::Config), which stops decompression bombs as they
//! inflate (close code 1009).

mod encoder;

use encoder::Encoder;
use zlib_rs::{Inflate, InflateFlush, Status};

/// The extension's token.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The bytes a sync flush ends with; removed from each message on the wire (§7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// What this endpoint asks for or accepts when negotiating permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The largest window (log2, 9–15) we compress with. Our compressor holds
    /// `4 * 2^max_window_bits` bytes (20 KiB at the default 12, 2 KiB at 9).
    pub max_window_bits: u8,
    /// Reset our compressor after every message: its memory is freed between messages,
    /// at the cost of ratio and one allocation per message. Default `false`.
    pub no_context_takeover: bool,
    /// Ask the peer to reset its compressor after each message; our decompressor (about
    /// 46 KiB) is then freed between messages. Default `false`.
    pub peer_no_context_takeover: bool,
    /// The compression effort, 0–9 as in zlib (how many earlier matches are tried; 0
    /// codes literals only). Default 1 (fast; most of the ratio).
    pub level: u32,
    /// Messages shorter than this are sent uncompressed (a CPU saving for tiny messages;
    /// RFC 7692 lets each message choose). Default 0: everything is compressed.
    pub min_message_size: usize,
}

impl Default for DeflateConfig {
    fn default() -> Self {
        Self {
            max_window_bits: 12,
            no_context_takeover: false,
            peer_no_context_takeover: false,
            level: 1,
            min_message_size: 0,
        }
    }
}

/// The agreement reached in the handshake, from the server's and client's points of view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeflateParams {
    /// The server resets its compressor after each message.
    pub server_no_context_takeover: bool,
    /// The client resets its compressor after each message.
    pub client_no_context_takeover: bool,
    /// The server's compression window (log2).
    pub server_max_window_bits: u8,
    /// The client's compression window (log2).
    pub client_max_window_bits: u8,
}

/// Why an offer or answer was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidParams;

/// One extension item's parameters: `name; a; b=1; c="2"`.
fn params(item: &str) -> Option<(&str, impl Iterator<Item = (&str, Option<&str>)>)> {
    let mut parts = item.split(';').map(str::trim);
    let name = parts.next()?;
    Some((
        name,
        parts
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (k.trim(), Some(v.trim().trim_matches('"'))),
                None => (p, None),
            }),
    ))
}

fn window_bits(v: &str) -> Result<u8, InvalidParams> {
    match v.parse::<u8>() {
        // zlib cannot compress with a window of 2^8: 8 is refused.
        Ok(b @ 9..=15) if !v.starts_with('0') => Ok(b),
        _ => Err(InvalidParams),
    }
}

impl DeflateConfig {
    /// The client's offer header value. Unless this client already gives up its
    /// context, a second offer follows that does (`client_no_context_takeover`), so a
    /// server that wants it can pick that one instead of declining compression.
    pub fn offer(&self) -> String {
        let one = |client_nct: bool| {
            let mut s = String::from(EXTENSION_NAME);
            if client_nct {
                s.push_str("; client_no_context_takeover");
            }
            if self.peer_no_context_takeover {
                s.push_str("; server_no_context_takeover");
            }
            // We can decompress any window; say which one we compress with.
            s.push_str("; client_max_window_bits");
            if self.max_window_bits < 15 {
                s.push_str(&format!("={}", self.max_window_bits));
            }
            s
        };
        if self.no_context_takeover {
            one(true)
        } else {
            format!("{}, {}", one(false), one(true))
        }
    }

    /// Server side: answers one offer item, or refuses it (then try the next offer).
    /// Returns the agreement and the response header value.
    ///
    /// # Errors
    /// [`InvalidParams`] for another extension, an unknown or repeated parameter, or a
    /// window outside 9–15.
    pub fn accept_offer(&self, item: &str) -> Result<(DeflateParams, String), InvalidParams> {
        let (name, ps) = params(item).ok_or(InvalidParams)?;
        if !name.eq_ignore_ascii_case(EXTENSION_NAME) {
            return Err(InvalidParams);
        }
        let mut seen = [false; 4];
        let mut server_nct = self.no_context_takeover;
        let mut client_nct = self.peer_no_context_takeover;
        let mut server_bits = self.max_window_bits;
        let mut client_bits = None; // None: the client did not offer the parameter
        for (k, v) in ps {
            let i = match k {
                "server_no_context_takeover" if v.is_none() => {
                    server_nct = true;
                    0
                }
                "client_no_context_takeover" if v.is_none() => {
                    client_nct = true;
                    1
                }
                "server_max_window_bits" => {
                    server_bits = server_bits.min(window_bits(v.ok_or(InvalidParams)?)?);
                    2
                }
                "client_max_window_bits" => {
                    client_bits = Some(match v {
                        Some(v) => window_bits(v)?,
                        None => 15,
                    });
                    3
                }
                _ => return Err(InvalidParams),
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(InvalidParams);
            }
        }
        let mut response = String::from(EXTENSION_NAME);
        if server_nct {
            response.push_str("; server_no_context_takeover");
        }
        if client_nct {
            response.push_str("; client_no_context_takeover");
        }
        if seen[2] {
            response.push_str(&format!("; server_max_window_bits={server_bits}"));
        }
        if let Some(bits) = client_bits {
            if bits < 15 {
                response.push_str(&format!("; client_max_window_bits={bits}"));
            }
        }
        Ok((
            DeflateParams {
                server_no_context_takeover: server_nct,
                client_no_context_takeover: client_nct,
                server_max_window_bits: server_bits,
                client_max_window_bits: client_bits.unwrap_or(15),
            },
            response,
        ))
    }

    /// Client side: reads the server's answer to [`offer`](Self::offer).
    ///
    /// # Errors
    /// [`InvalidParams`] for an answer the offer did not allow.
    pub fn accept_response(&self, item: &str) -> Result<DeflateParams, InvalidParams> {
        let (name, ps) = params(item).ok_or(InvalidParams)?;
        if !name.eq_ignore_ascii_case(EXTENSION_NAME) {
            return Err(InvalidParams);
        }
        let mut seen = [false; 4];
        let mut p = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: self.no_context_takeover,
            server_max_window_bits: 15,
            client_max_window_bits: self.max_window_bits,
        };
        for (k, v) in ps {
            let i = match k {
                "server_no_context_takeover" if v.is_none() => {
                    p.server_no_context_takeover = true;
                    0
                }
                "client_no_context_takeover" if v.is_none() => {
                    p.client_no_context_takeover = true;
                    1
                }
                "server_max_window_bits" => {
                    p.server_max_window_bits = window_bits(v.ok_or(InvalidParams)?)?;
                    2
                }
                "client_max_window_bits" => {
                    let bits = window_bits(v.ok_or(InvalidParams)?)?;
                    p.client_max_window_bits = p.client_max_window_bits.min(bits);
                    3
                }
                _ => return Err(InvalidParams),
            };
            if std::mem::replace(&mut seen[i], true) {
                return Err(InvalidParams);
            }
        }
        Ok(p)
    }
}

/// One side's codec: compresses what we send, decompresses what the peer sends.
///
/// A direction whose context is reset after each message holds no state between
/// messages: its encoder or decompressor is created for the message and dropped after.
pub(crate) struct Codec {
    compress: Option<Encoder>,
    decompress: Option<Inflate>,
    our_bits: u8,
    their_bits: u8,
    level: u32,
    reset_compress: bool,
    reset_decompress: bool,
    /// The current message ended the peer's deflate stream (a final block).
    stream_ended: bool,
    pub(crate) min_message_size: usize,
}

impl std::fmt::Debug for Codec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Codec").finish_non_exhaustive()
    }
}

/// Deflate failed (corrupt input from the peer, or an internal error).
#[derive(Debug)]
pub(crate) struct CodecError;

impl Codec {
    /// `ours` / `theirs`: the windows and resets of our compressor and of the peer's.
    pub(crate) fn new(params: &DeflateParams, server: bool, config: &DeflateConfig) -> Self {
        let (our_bits, our_reset, their_bits, their_reset) = if server {
            (
                params.server_max_window_bits,
                params.server_no_context_takeover,
                params.client_max_window_bits,
                params.client_no_context_takeover,
            )
        } else {
            (
                params.client_max_window_bits,
                params.client_no_context_takeover,
                params.server_max_window_bits,
                params.server_no_context_takeover,
            )
        };
        let mut codec = Self {
            compress: None,
            decompress: None,
            our_bits: our_bits.clamp(9, 15),
            their_bits: their_bits.clamp(9, 15),
            level: config.level.min(9),
            reset_compress: our_reset,
            reset_decompress: their_reset,
            stream_ended: false,
            min_message_size: config.min_message_size,
        };
        // With context takeover the state lives as long as the connection: allocate it
        // now, so that steady state allocates nothing.
        if !our_reset {
            codec.compress = Some(Encoder::new(codec.our_bits, codec.level));
        }
        if !their_reset {
            codec.decompress = Some(codec.new_inflate());
        }
        codec
    }

    fn new_inflate(&self) -> Inflate {
        Inflate::new(false, self.their_bits)
    }

    /// Compresses one whole message into `out` (cleared first), without the tail.
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        let our_bits = self.our_bits;
        let level = self.level;
        let encoder = self
            .compress
            .get_or_insert_with(|| Encoder::new(our_bits, level));
        encoder.compress(input, out);
        if self.reset_compress {
            self.compress = None;
        }
        Ok(())
    }

    /// Inflates `input` (a piece of a compressed message; call [`finish`](Self::finish)
    /// at its end) onto `out`, never letting `out` grow past `limit` bytes.
    ///
    /// Returns `Ok(false)` when the message would exceed `limit`.
    pub(crate) fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<bool, CodecError> {
        if self.stream_ended {
            // Bytes after a final block cannot be inflated.
            return if input.is_empty() {
                Ok(true)
            } else {
                Err(CodecError)
            };
        }
        let their_bits = self.their_bits;
        let inflate = self
            .decompress
            .get_or_insert_with(|| Inflate::new(false, their_bits));
        let mut input = input;
        loop {
            let len = out.len();
            // Output room: the buffer's spare capacity, grown in proportion to the input
            // (the Vec doubles), so that a buffer sized for the largest message is reused
            // and zero-filling costs no more than the work itself. Bounded by the limit.
            if out.capacity() - len < 256 {
                out.reserve((input.len() * 2).max(1024));
            }
            let end = limit.min(out.capacity());
            if end == len {
                // At the limit: any further output means the message is too large.
                let mut probe = [0u8; 1];
                let (in0, out0) = (inflate.total_in(), inflate.total_out());
                inflate
                    .decompress(input, &mut probe, InflateFlush::SyncFlush)
                    .map_err(|_| CodecError)?;
                if inflate.total_out() > out0 {
                    return Ok(false);
                }
                let used = (inflate.total_in() - in0) as usize;
                input = &input[used..];
                if input.is_empty() {
                    return Ok(true);
                }
                if used == 0 {
                    return Err(CodecError);
                }
                continue;
            }
            out.resize(end, 0);
            let (in0, out0) = (inflate.total_in(), inflate.total_out());
            let status = inflate
                .decompress(input, &mut out[len..end], InflateFlush::SyncFlush)
                .map_err(|_| CodecError);
            let produced = (inflate.total_out() - out0) as usize;
            out.truncate(len + produced);
            let status = status?;
            let used = (inflate.total_in() - in0) as usize;
            input = &input[used..];
            if status == Status::StreamEnd {
                // A final block inside a message: what follows cannot be inflated, and
                // the next message starts a new stream.
                self.stream_ended = true;
                return if input.is_empty() {
                    Ok(true)
                } else {
                    Err(CodecError)
                };
            }
            let room_left = len + produced < end;
            if input.is_empty() && room_left {
                return Ok(true);
            }
            if used == 0 && produced == 0 {
                return Err(CodecError);
            }
        }
    }

    /// Ends a compressed message: inflates the removed tail and drops the decompressor
    /// when the peer does not keep its context.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<bool, CodecError> {
        // After a final block the tail is not part of any stream.
        let ok = self.stream_ended || self.decompress(&TAIL, out, limit)?;
        if self.reset_decompress {
            self.decompress = None;
        } else if std::mem::take(&mut self.stream_ended) {
            // The peer keeps its context, but its stream ended: start a new one.
            self.decompress = Some(self.new_inflate());
        }
        self.stream_ended = false;
        Ok(ok)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(cfg: &DeflateConfig) -> (Codec, Codec) {
        let (params, _) = cfg
            .accept_offer(cfg.offer().split(',').next().unwrap())
            .unwrap();
        (
            Codec::new(&params, false, cfg),
            Codec::new(&params, true, cfg),
        )
    }

    #[test]
    fn round_trips_with_and_without_context() {
        for nct in [false, true] {
            let cfg = DeflateConfig {
                no_context_takeover: nct,
                peer_no_context_takeover: nct,
                ..Default::default()
            };
            let (mut client, mut server) = pair(&cfg);
            let mut wire = Vec::new();
            let mut out = Vec::new();
            for i in 0..20 {
                let msg: Vec<u8> = format!("message {i} ").repeat(i * 50).into_bytes();
                client.compress(&msg, &mut wire).unwrap();
                out.clear();
                // Inflate in pieces.
                for piece in wire.chunks(7) {
                    assert!(server.decompress(piece, &mut out, 1 << 20).unwrap());
                }
                assert!(server.finish(&mut out, 1 << 20).unwrap());
                assert_eq!(out, msg);
            }
        }
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let cfg = DeflateConfig::default();
        let (mut client, mut server) = pair(&cfg);
        let mut wire = Vec::new();
        client.compress(&vec![0u8; 1 << 20], &mut wire).unwrap();
        assert!(wire.len() < 20_000, "{}", wire.len());
        let mut out = Vec::new();
        assert!(!server.decompress(&wire, &mut out, 10_000).unwrap());
        assert!(out.len() <= 10_000);
        // Exactly at the limit is fine.
        let (mut client, mut server) = pair(&cfg);
        client.compress(&[7u8; 10_000], &mut wire).unwrap();
        let mut out = Vec::new();
        assert!(server.decompress(&wire, &mut out, 10_000).unwrap());
        assert!(server.finish(&mut out, 10_000).unwrap());
        assert_eq!(out.len(), 10_000);
    }

    #[test]
    fn negotiation() {
        let cfg = DeflateConfig::default();
        let (p, resp) = cfg
            .accept_offer("permessage-deflate; client_max_window_bits; server_max_window_bits=10")
            .unwrap();
        assert_eq!(p.server_max_window_bits, 10);
        assert_eq!(p.client_max_window_bits, 15);
        assert_eq!(resp, "permessage-deflate; server_max_window_bits=10");
        let (p, resp) = cfg.accept_offer("permessage-deflate").unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (12, 15)
        );
        assert_eq!(resp, "permessage-deflate");
        let (p, _) = cfg
            .accept_offer(
                "permessage-deflate; server_no_context_takeover; client_no_context_takeover",
            )
            .unwrap();
        assert!(p.server_no_context_takeover && p.client_no_context_takeover);
        for bad in [
            "x-webkit-deflate-frame",
            "permessage-deflate; server_max_window_bits=8",
            "permessage-deflate; server_max_window_bits=16",
            "permessage-deflate; server_max_window_bits",
            "permessage-deflate; client_max_window_bits=010",
            "permessage-deflate; foo",
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        ] {
            assert_eq!(cfg.accept_offer(bad), Err(InvalidParams), "{bad}");
        }
        let p = cfg
            .accept_response(
                "permessage-deflate; server_max_window_bits=9; client_max_window_bits=10",
            )
            .unwrap();
        assert_eq!(
            (p.server_max_window_bits, p.client_max_window_bits),
            (9, 10)
        );
        assert_eq!(
            cfg.accept_response("permessage-deflate; foo"),
            Err(InvalidParams)
        );
    }
}
