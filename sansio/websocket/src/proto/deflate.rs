//! permessage-deflate (RFC 7692): negotiation parameters and the per-connection codec.
//!
//! # Memory
//! Each direction keeps one zlib stream (flate2 on the zlib-rs backend). flate2 fixes
//! zlib's memory level at 8, so the compressor's hash tables dominate whatever the
//! window: measured (test `memory_per_compressed_connection`), one connection holds about
//! 370 KiB at the default window 2^12, 357 KiB at 2^9, the same without context
//! takeover (the streams stay allocated). Bringing this to the 70 KiB range needs a
//! smaller memory level, which flate2 does not expose. Decompressed messages are
//! bounded by [`Config::max_message_size`](super::Config), which stops decompression
//! bombs as they inflate (close code 1009).

use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// The extension's token.
pub const EXTENSION_NAME: &str = "permessage-deflate";

/// The bytes a sync flush ends with; removed from each message on the wire (§7.2.1).
const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// What this endpoint asks for or accepts when negotiating permessage-deflate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeflateConfig {
    /// The largest window (log2, 9–15) we compress with. Smaller saves memory per
    /// connection. Default 12.
    pub max_window_bits: u8,
    /// Reset our compressor after every message (saves its memory between messages at
    /// the cost of ratio). Default `false`.
    pub no_context_takeover: bool,
    /// Ask the peer to reset its compressor after each message. Default `false`.
    pub peer_no_context_takeover: bool,
    /// The zlib compression level, 0–9. Default 1 (fast; most of the ratio).
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
pub(crate) struct Codec {
    compress: Compress,
    decompress: Decompress,
    reset_compress: bool,
    reset_decompress: bool,
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
        Self {
            compress: Compress::new_with_window_bits(
                Compression::new(config.level.min(9)),
                false,
                our_bits.clamp(9, 15),
            ),
            decompress: Decompress::new_with_window_bits(false, their_bits.clamp(9, 15)),
            reset_compress: our_reset,
            reset_decompress: their_reset,
            min_message_size: config.min_message_size,
        }
    }

    /// Compresses one whole message into `out` (cleared first), without the tail.
    pub(crate) fn compress(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), CodecError> {
        out.clear();
        let start_in = self.compress.total_in();
        loop {
            let consumed = (self.compress.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(input.len() / 2 + 64);
            }
            let before_out = out.len();
            let status = self
                .compress
                .compress_vec(&input[consumed..], out, FlushCompress::Sync)
                .map_err(|_| CodecError)?;
            let done_in = (self.compress.total_in() - start_in) as usize == input.len();
            // Done when all input is in and the flush left spare room in the output.
            if done_in && out.len() < out.capacity() && out.ends_with(&TAIL) {
                break;
            }
            if status == Status::BufError && out.len() == before_out && out.len() < out.capacity() {
                return Err(CodecError);
            }
        }
        out.truncate(out.len() - TAIL.len());
        if self.reset_compress {
            self.compress.reset();
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
        let mut input = input;
        loop {
            let len = out.len();
            // Output window: bounded by the limit, and by a multiple of the input so that
            // zero-filling it costs no more than the work itself.
            let window = (64 * 1024).max(input.len() * 4);
            let end = limit.min(len + window);
            if end == len {
                // At the limit: any further output means the message is too large.
                let mut probe = [0u8; 1];
                let (in0, out0) = (self.decompress.total_in(), self.decompress.total_out());
                self.decompress
                    .decompress(input, &mut probe, FlushDecompress::Sync)
                    .map_err(|_| CodecError)?;
                if self.decompress.total_out() > out0 {
                    return Ok(false);
                }
                let used = (self.decompress.total_in() - in0) as usize;
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
            let (in0, out0) = (self.decompress.total_in(), self.decompress.total_out());
            let status = self
                .decompress
                .decompress(input, &mut out[len..end], FlushDecompress::Sync)
                .map_err(|_| CodecError);
            let produced = (self.decompress.total_out() - out0) as usize;
            out.truncate(len + produced);
            let status = status?;
            let used = (self.decompress.total_in() - in0) as usize;
            input = &input[used..];
            if status == Status::StreamEnd {
                // A final block inside a message: what follows cannot be inflated.
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

    /// Ends a compressed message: inflates the removed tail and resets the decompressor
    /// when the peer does not keep its context.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<bool, CodecError> {
        let ok = self.decompress(&TAIL, out, limit)?;
        if self.reset_decompress {
            self.decompress.reset(false);
        }
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
