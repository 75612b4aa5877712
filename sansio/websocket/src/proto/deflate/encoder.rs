//! A small-memory DEFLATE encoder (RFC 1951) for permessage-deflate: LZ77 over a window
//! of `2^bits` bytes with hash chains, coded with the fixed Huffman tables.
//!
//! Why not zlib: zlib-rs (like zlib-ng) keeps a 128 KiB hash table whatever the window
//! and memory level, and flate2 cannot lower zlib's memory level either, so a zlib
//! compressor costs 150–350 KiB per connection. This encoder holds `2 * 2^bits` bytes of
//! window plus two `u16` tables (`2^bits` chain links and `2^(bits-1)` heads): 20 KiB
//! at the default window 2^12, 3 KiB at 2^9. Fixed Huffman codes cost a little ratio
//! against zlib's dynamic trees (no tree to send, which favours short messages).
//!
//! Correctness does not depend on the tables being fresh: every candidate match is
//! checked byte for byte, lies inside the window and after `valid` (the first byte the
//! peer's decompressor also holds), so stale links only cost time.

/// The shortest and longest match DEFLATE codes.
const MIN_MATCH: usize = 3;
const MAX_MATCH: usize = 258;

/// Length code base values and extra bits, for codes 257..=285.
const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131,
    163, 195, 227, 258,
];
const LEN_EXTRA: [u8; 29] = [
    0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0,
];
/// Distance code base values and extra bits, for codes 0..=29.
const DIST_BASE: [u16; 30] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537,
    2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577,
];
const DIST_EXTRA: [u8; 30] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13,
    13,
];

/// Reverses the low `len` bits: Huffman codes go on the wire most significant bit first.
const fn reverse(code: u16, len: u8) -> u16 {
    let mut out = 0;
    let mut i = 0;
    while i < len {
        out |= ((code >> i) & 1) << (len - 1 - i);
        i += 1;
    }
    out
}

/// The fixed literal/length code (RFC 1951 §3.2.6), bit-reversed, with its length.
const LIT_CODES: [(u16, u8); 288] = {
    let mut t = [(0u16, 0u8); 288];
    let mut s = 0;
    while s < 288 {
        let (code, len) = match s {
            0..=143 => (0x30 + s as u16, 8),
            144..=255 => (0x190 + (s as u16 - 144), 9),
            256..=279 => (s as u16 - 256, 7),
            _ => (0xC0 + (s as u16 - 280), 8),
        };
        t[s] = (reverse(code, len), len);
        s += 1;
    }
    t
};

/// For each match length minus 3, its length code index (0..29).
const LEN_CODE: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut code = 0;
    let mut len = 3;
    while len <= MAX_MATCH {
        while code + 1 < 29 && LEN_BASE[code + 1] as usize <= len {
            code += 1;
        }
        t[len - 3] = code as u8;
        len += 1;
    }
    t
};

/// Collects bits least significant first, as DEFLATE packs them.
struct BitWriter<'a> {
    out: &'a mut Vec<u8>,
    acc: u64,
    n: u32,
}

impl BitWriter<'_> {
    #[inline]
    fn put(&mut self, bits: u32, count: u32) {
        self.acc |= u64::from(bits) << self.n;
        self.n += count;
        if self.n >= 32 {
            self.out.extend_from_slice(&(self.acc as u32).to_le_bytes());
            self.acc >>= 32;
            self.n -= 32;
        }
    }

    /// Pads with zero bits to a byte boundary and writes what is pending.
    fn align(&mut self) {
        while self.n > 0 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n = self.n.saturating_sub(8);
        }
        self.acc = 0;
    }

    #[inline]
    fn literal(&mut self, byte: u8) {
        let (code, len) = LIT_CODES[byte as usize];
        self.put(u32::from(code), u32::from(len));
    }

    #[inline]
    fn matched(&mut self, len: usize, dist: usize) {
        let lc = LEN_CODE[len - MIN_MATCH] as usize;
        let (code, bits) = LIT_CODES[257 + lc];
        self.put(u32::from(code), u32::from(bits));
        self.put(
            (len - LEN_BASE[lc] as usize) as u32,
            u32::from(LEN_EXTRA[lc]),
        );
        let dc = DIST_BASE.partition_point(|&b| b as usize <= dist) - 1;
        self.put(u32::from(reverse(dc as u16, 5)), 5);
        self.put(
            (dist - DIST_BASE[dc] as usize) as u32,
            u32::from(DIST_EXTRA[dc]),
        );
    }
}

/// One direction's compressor state; see the module docs for its memory.
pub(crate) struct Encoder {
    /// Window and lookahead: `2 * wsize` bytes; `buf[valid..len]` is history the peer holds.
    buf: Box<[u8]>,
    /// Most recent position of each 3-byte hash.
    head: Box<[u16]>,
    /// Previous position with the same hash, indexed by position modulo the window.
    prev: Box<[u16]>,
    len: usize,
    valid: usize,
    wsize: usize,
    hash_shift: u32,
    max_chain: usize,
}

impl Encoder {
    /// An encoder with a window of `2^bits` bytes (9–15) at zlib-like `level` (0–9).
    pub(crate) fn new(bits: u8, level: u32) -> Self {
        let bits = u32::from(bits.clamp(9, 15));
        // Half as many heads as window positions: the chains make up the difference.
        let hash_bits = (bits - 1).max(9);
        let wsize = 1usize << bits;
        Self {
            buf: vec![0; 2 * wsize].into_boxed_slice(),
            head: vec![0; 1 << hash_bits].into_boxed_slice(),
            prev: vec![0; wsize].into_boxed_slice(),
            len: 0,
            valid: 0,
            wsize,
            hash_shift: 32 - hash_bits,
            max_chain: [0, 4, 8, 16, 32, 48, 64, 128, 256, 1024][level.min(9) as usize],
        }
    }

    /// Bytes this encoder holds on the heap.
    #[cfg(test)]
    pub(crate) fn heap_size(&self) -> usize {
        self.buf.len() + 2 * (self.head.len() + self.prev.len())
    }

    /// Forgets the history: the next message references nothing before it. (The codec
    /// drops the encoder instead, to free its memory.)
    #[cfg(test)]
    fn reset(&mut self) {
        self.len = 0;
        self.valid = 0;
    }

    #[inline]
    fn hash(&self, p: usize) -> usize {
        let v = u32::from(self.buf[p])
            | u32::from(self.buf[p + 1]) << 8
            | u32::from(self.buf[p + 2]) << 16;
        (v.wrapping_mul(0x9E37_79B1) >> self.hash_shift) as usize
    }

    /// Records position `p` in its hash chain and returns the previous head.
    #[inline]
    fn insert(&mut self, p: usize) -> usize {
        let h = self.hash(p);
        let cand = self.head[h] as usize;
        self.head[h] = p as u16;
        self.prev[p & (self.wsize - 1)] = cand as u16;
        cand
    }

    /// Moves the last window of bytes to the front; positions drop by `wsize`.
    fn slide(&mut self) {
        let w = self.wsize;
        self.buf.copy_within(w..self.len, 0);
        self.len -= w;
        self.valid = self.valid.saturating_sub(w);
        for e in self.head.iter_mut().chain(self.prev.iter_mut()) {
            *e = e.saturating_sub(w as u16);
        }
    }

    /// Compresses one message onto `out` as a single fixed-Huffman block followed by the
    /// sync flush's empty stored block header, without its `00 00 FF FF` (RFC 7692 §7.2.1).
    pub(crate) fn compress(&mut self, mut input: &[u8], out: &mut Vec<u8>) {
        out.reserve(input.len() / 2 + 8);
        let mut w = BitWriter { out, acc: 0, n: 0 };
        w.put(0b010, 3); // BFINAL 0, BTYPE 01 (fixed codes)
        while !input.is_empty() {
            if self.len == self.buf.len() {
                self.slide();
            }
            let n = input.len().min(self.buf.len() - self.len);
            let start = self.len;
            self.buf[start..start + n].copy_from_slice(&input[..n]);
            input = &input[n..];
            self.len += n;
            self.encode(start, &mut w);
        }
        w.put(0, 7); // end of block
        w.put(0, 3); // BFINAL 0, BTYPE 00: the sync flush's stored block
        w.align();
    }

    /// Codes `buf[from..len]`, matching against everything from `valid`.
    fn encode(&mut self, from: usize, w: &mut BitWriter<'_>) {
        let end = self.len;
        let mut p = from;
        while p < end {
            if end - p < MIN_MATCH {
                w.literal(self.buf[p]);
                p += 1;
                continue;
            }
            let mut cand = self.insert(p);
            let max = (end - p).min(MAX_MATCH);
            let (mut best_len, mut best_dist) = (0, 0);
            let mut chain = self.max_chain;
            while chain > 0 && cand >= self.valid && cand < p && p - cand < self.wsize {
                if self.buf[cand + best_len] == self.buf[p + best_len] {
                    let l = self.buf[cand..cand + max]
                        .iter()
                        .zip(&self.buf[p..p + max])
                        .take_while(|(a, b)| a == b)
                        .count();
                    if l > best_len {
                        best_len = l;
                        best_dist = p - cand;
                        if l == max {
                            break;
                        }
                    }
                }
                let next = self.prev[cand & (self.wsize - 1)] as usize;
                if next >= cand {
                    break; // the link was overwritten by a newer position
                }
                cand = next;
                chain -= 1;
            }
            if best_len >= MIN_MATCH {
                w.matched(best_len, best_dist);
                for q in p + 1..(p + best_len).min(end - (MIN_MATCH - 1)) {
                    self.insert(q);
                }
                p += best_len;
            } else {
                w.literal(self.buf[p]);
                p += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(inflater: &mut zlib_rs::Inflate, wire: &[u8]) -> Vec<u8> {
        let mut input = wire.to_vec();
        input.extend_from_slice(&[0, 0, 0xFF, 0xFF]);
        let mut out = vec![0; 1 << 20];
        let before = inflater.total_out();
        inflater
            .decompress(&input, &mut out, zlib_rs::InflateFlush::SyncFlush)
            .unwrap();
        out.truncate((inflater.total_out() - before) as usize);
        out
    }

    #[test]
    fn empty_message_is_the_usual_two_bytes() {
        let mut e = Encoder::new(12, 1);
        let mut out = Vec::new();
        e.compress(b"", &mut out);
        assert_eq!(out, [0x02, 0x00]);
    }

    #[test]
    fn round_trips_through_zlib_at_every_window() {
        for bits in 9..=15u8 {
            for level in [0, 1, 6, 9] {
                let mut e = Encoder::new(bits, level);
                let mut d = zlib_rs::Inflate::new(false, bits);
                let mut seed = 7u32;
                for i in 0..40usize {
                    // Text-like, repetitive, random and long messages, some past the window.
                    let msg: Vec<u8> = match i % 4 {
                        0 => format!("message {i} ").repeat(i * 30).into_bytes(),
                        1 => (0..i * 97)
                            .map(|_| {
                                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                                (seed >> 24) as u8
                            })
                            .collect(),
                        2 => vec![b'a'; i * 1000],
                        _ => (0..70_000)
                            .map(|j| (j % 251) as u8 ^ (j / 4000) as u8)
                            .collect(),
                    };
                    let mut wire = Vec::new();
                    e.compress(&msg, &mut wire);
                    assert_eq!(
                        inflate(&mut d, &wire),
                        msg,
                        "bits {bits} level {level} i {i}"
                    );
                }
            }
        }
    }

    #[test]
    fn compresses_repetition_and_references_earlier_messages() {
        let mut e = Encoder::new(12, 1);
        let msg = "a fairly ordinary chat message, sent again and again; ".repeat(20);
        let mut first = Vec::new();
        e.compress(msg.as_bytes(), &mut first);
        assert!(first.len() < msg.len() / 5, "{}", first.len());
        let mut second = Vec::new();
        e.compress(msg.as_bytes(), &mut second);
        assert!(
            second.len() < first.len(),
            "{} {}",
            second.len(),
            first.len()
        );
        // After a reset the history is gone: a fresh decompressor reads the message.
        e.reset();
        let mut third = Vec::new();
        e.compress(msg.as_bytes(), &mut third);
        assert_eq!(
            inflate(&mut zlib_rs::Inflate::new(false, 12), &third),
            msg.as_bytes()
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        /// Any messages, at any window and level, with or without history: zlib
        /// inflates exactly what went in. A small alphabet makes matches likely.
        #[test]
        fn any_messages_round_trip(
            bits in 9u8..=15,
            level in 0u32..=9,
            reset in proptest::prelude::any::<bool>(),
            msgs in proptest::collection::vec(
                proptest::collection::vec(0u8..4, 0..3000), 1..6),
        ) {
            let mut e = Encoder::new(bits, level);
            let mut d = zlib_rs::Inflate::new(false, bits);
            for m in &msgs {
                if reset {
                    e.reset();
                    d = zlib_rs::Inflate::new(false, bits);
                }
                let mut wire = Vec::new();
                e.compress(m, &mut wire);
                proptest::prop_assert_eq!(&inflate(&mut d, &wire), m);
            }
        }
    }

    #[test]
    fn memory_follows_the_window() {
        assert_eq!(Encoder::new(12, 1).heap_size(), 8192 + 2 * (2048 + 4096));
        assert_eq!(Encoder::new(9, 1).heap_size(), 1024 + 2 * (512 + 512));
    }
}
