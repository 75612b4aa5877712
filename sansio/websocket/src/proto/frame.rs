//! The frame codec (RFC 6455 §5.2): header parsing in any split and header serialization.
//!
//! ```text
//!  0               1               2               3
//!  0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7 0 1 2 3 4 5 6 7
//! +-+-+-+-+-------+-+-------------+-------------------------------+
//! |F|R|R|R| opcode|M| Payload len |    Extended payload length    |
//! |I|S|S|S|  (4)  |A|     (7)     |             (16/64)           |
//! |N|V|V|V|       |S|             |   (if payload len==126/127)   |
//! | |1|2|3|       |K|             |                               |
//! +-+-+-+-+-------+-+-------------+ - - - - - - - - - - - - - - - +
//! |     Extended payload length continued, if payload len == 127  |
//! + - - - - - - - - - - - - - - - +-------------------------------+
//! |                               |Masking-key, if MASK set to 1  |
//! +-------------------------------+-------------------------------+
//! ```
//!
//! The payload is not touched here: the connection unmasks it in place with
//! [`apply_mask`](super::apply_mask) as it arrives.

use super::error::ProtocolError;

/// The largest header: 2 bytes, a 64-bit length and a masking key.
pub const MAX_HEADER_LEN: usize = 14;

/// The largest payload of a control frame (§5.5).
pub const MAX_CONTROL_PAYLOAD: usize = 125;

/// A frame's opcode (§5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// `0x0`: a continuation of a fragmented message.
    Continuation,
    /// `0x1`: the first frame of a text message.
    Text,
    /// `0x2`: the first frame of a binary message.
    Binary,
    /// `0x8`: close.
    Close,
    /// `0x9`: ping.
    Ping,
    /// `0xA`: pong.
    Pong,
}

impl OpCode {
    /// The opcode for the low four bits `bits`, or `None` for a reserved opcode.
    pub const fn from_bits(bits: u8) -> Option<Self> {
        Some(match bits {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            _ => return None,
        })
    }

    /// The four-bit wire value.
    pub const fn bits(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Whether this is a control opcode (close, ping, pong).
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A parsed or to-be-written frame header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: the last frame of its message.
    pub fin: bool,
    /// RSV1..RSV3 in the low three bits (RSV1 = `0b100`); zero unless an extension
    /// negotiated them.
    pub rsv: u8,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame.
    pub mask: Option<[u8; 4]>,
    /// The payload length in bytes.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A final, unmasked header with no reserved bits.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        Self {
            fin: true,
            rsv: 0,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// The encoded size of this header.
    pub const fn encoded_len(&self) -> usize {
        let len = match self.payload_len {
            0..=125 => 2,
            126..=0xFFFF => 4,
            _ => 10,
        };
        if self.mask.is_some() {
            len + 4
        } else {
            len
        }
    }

    /// Writes the header into `out` (at least [`encoded_len`](Self::encoded_len) bytes;
    /// [`MAX_HEADER_LEN`] always suffices) and returns the number of bytes written.
    /// Lengths use the shortest encoding, as §5.2 requires.
    ///
    /// # Panics
    /// When `out` is too short.
    ///
    /// # Examples
    /// ```
    /// use strait_websocket::proto::{FrameHeader, OpCode, MAX_HEADER_LEN};
    /// let mut buf = [0; MAX_HEADER_LEN];
    /// let n = FrameHeader::new(OpCode::Text, 300).encode(&mut buf);
    /// assert_eq!(&buf[..n], &[0x81, 126, 0x01, 0x2C]);
    /// ```
    pub fn encode(&self, out: &mut [u8]) -> usize {
        let len = self.encoded_len();
        let out = &mut out[..len];
        out[0] = (u8::from(self.fin) << 7) | ((self.rsv & 0b111) << 4) | self.opcode.bits();
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut at = match self.payload_len {
            n @ 0..=125 => {
                out[1] = mask_bit | n as u8;
                2
            }
            n @ 126..=0xFFFF => {
                out[1] = mask_bit | 126;
                out[2..4].copy_from_slice(&(n as u16).to_be_bytes());
                4
            }
            n => {
                out[1] = mask_bit | 127;
                out[2..10].copy_from_slice(&n.to_be_bytes());
                10
            }
        };
        if let Some(key) = self.mask {
            out[at..at + 4].copy_from_slice(&key);
            at += 4;
        }
        at
    }

    /// Appends the header to `out`.
    pub fn encode_to_vec(&self, out: &mut Vec<u8>) {
        let mut buf = [0; MAX_HEADER_LEN];
        let n = self.encode(&mut buf);
        out.extend_from_slice(&buf[..n]);
    }
}

/// What a decoder accepts: which reserved bits extensions claimed, and whether frames
/// must (server side) or must not (client side) be masked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderRules {
    /// RSV bits (low three bits, RSV1 = `0b100`) an extension negotiated.
    pub allowed_rsv: u8,
    /// `Some(true)`: every frame must be masked (a server reading a client);
    /// `Some(false)`: no frame may be masked (a client reading a server); `None`: either.
    pub require_mask: Option<bool>,
}

impl DecoderRules {
    /// Rules for a server reading client frames: masked, no reserved bits.
    pub const SERVER: Self = Self {
        allowed_rsv: 0,
        require_mask: Some(true),
    };
    /// Rules for a client reading server frames: unmasked, no reserved bits.
    pub const CLIENT: Self = Self {
        allowed_rsv: 0,
        require_mask: Some(false),
    };
}

/// Parses frame headers from input arriving in any split, one byte at a time or many
/// frames at once; it keeps at most [`MAX_HEADER_LEN`] bytes of a partial header.
#[derive(Debug, Clone)]
pub struct HeaderDecoder {
    buf: [u8; MAX_HEADER_LEN],
    len: u8,
    rules: DecoderRules,
}

impl HeaderDecoder {
    /// A decoder at a frame boundary.
    pub const fn new(rules: DecoderRules) -> Self {
        Self {
            buf: [0; MAX_HEADER_LEN],
            len: 0,
            rules,
        }
    }

    /// The rules in force.
    pub fn rules(&self) -> DecoderRules {
        self.rules
    }

    /// Changes the rules (after extension negotiation).
    pub fn set_rules(&mut self, rules: DecoderRules) {
        self.rules = rules;
    }

    /// Whether part of a header is buffered.
    pub fn is_mid_header(&self) -> bool {
        self.len > 0
    }

    /// Consumes header bytes from `input`. Returns how many bytes were used and the header
    /// once complete; the payload starts right after the used bytes. Never consumes
    /// payload bytes.
    ///
    /// # Errors
    /// A [`ProtocolError`] for reserved bits or opcodes, a fragmented or oversized control
    /// frame, a length with its most significant bit set, or a masking violation. The
    /// error is reported as soon as the byte that shows it arrives.
    ///
    /// # Examples
    /// ```
    /// use strait_websocket::proto::{DecoderRules, HeaderDecoder, OpCode};
    /// let mut dec = HeaderDecoder::new(DecoderRules::CLIENT);
    /// let wire = [0x82, 126, 0x01, 0x00];
    /// assert_eq!(dec.decode(&wire[..3]).unwrap(), (3, None));
    /// let (used, header) = dec.decode(&wire[3..]).unwrap();
    /// let header = header.unwrap();
    /// assert_eq!((used, header.opcode, header.payload_len), (1, OpCode::Binary, 256));
    /// ```
    #[inline]
    pub fn decode(&mut self, input: &[u8]) -> Result<(usize, Option<FrameHeader>), ProtocolError> {
        // The common case: a whole header at a frame boundary, parsed straight from the
        // input without staging it.
        if self.len == 0 {
            if let [b0, b1, ..] = *input {
                let need = header_len(b1);
                if input.len() >= need {
                    let header = self.parse_whole(b0, b1, &input[..need])?;
                    return Ok((need, Some(header)));
                }
            }
        }
        self.decode_split(input)
    }

    /// Validates and parses a header whose `need` bytes are all in `head`, with the
    /// checks of the byte-at-a-time path in the same order.
    #[inline]
    fn parse_whole(&self, b0: u8, b1: u8, head: &[u8]) -> Result<FrameHeader, ProtocolError> {
        let opcode = self.first_opcode(b0)?;
        self.check_second_with(opcode, b1)?;
        let (payload_len, at) = match b1 & 0x7F {
            126 => (u64::from(u16::from_be_bytes([head[2], head[3]])), 4),
            127 => {
                let n = u64::from_be_bytes(head[2..10].try_into().expect("8 bytes"));
                if n >> 63 != 0 {
                    return Err(ProtocolError::LengthOverflow);
                }
                (n, 10)
            }
            n => (u64::from(n), 2),
        };
        // The key, when present, ends the header.
        let mask = match head.last_chunk::<4>() {
            Some(key) if b1 & 0x80 != 0 => Some(*key),
            _ => None,
        };
        debug_assert_eq!(head.len(), at + if mask.is_some() { 4 } else { 0 });
        Ok(FrameHeader {
            fin: b0 & 0x80 != 0,
            rsv: (b0 >> 4) & 0b111,
            opcode,
            mask,
            payload_len,
        })
    }

    /// The header at the start of `input` without consuming it, when the decoder is at a
    /// frame boundary and `input` holds all of it: its size and the header. `Ok(None)`
    /// otherwise (mid-header, or too few bytes).
    ///
    /// # Errors
    /// As [`decode`](Self::decode).
    #[inline]
    pub(crate) fn peek(&self, input: &[u8]) -> Result<Option<(usize, FrameHeader)>, ProtocolError> {
        if self.len != 0 {
            return Ok(None);
        }
        let [b0, b1, ..] = *input else {
            return Ok(None);
        };
        let need = header_len(b1);
        if input.len() < need {
            return Ok(None);
        }
        Ok(Some((need, self.parse_whole(b0, b1, &input[..need])?)))
    }

    /// [`decode`](Self::decode) for a header split across inputs: staged in `buf`.
    #[cold]
    fn decode_split(
        &mut self,
        input: &[u8],
    ) -> Result<(usize, Option<FrameHeader>), ProtocolError> {
        let mut used = 0;
        // First two bytes: everything needed to validate and to know the header's size.
        while self.len < 2 {
            let Some(&b) = input.get(used) else {
                return Ok((used, None));
            };
            self.buf[usize::from(self.len)] = b;
            self.len += 1;
            used += 1;
            if self.len == 1 {
                self.check_first(b)?;
            } else {
                self.check_second(b)?;
            }
        }
        let need = self.needed();
        let have = usize::from(self.len);
        let take = (need - have).min(input.len() - used);
        self.buf[have..have + take].copy_from_slice(&input[used..used + take]);
        self.len += take as u8;
        used += take;
        if usize::from(self.len) < need {
            return Ok((used, None));
        }
        let header = self.finish()?;
        self.len = 0;
        Ok((used, Some(header)))
    }

    #[inline]
    fn first_opcode(&self, b: u8) -> Result<OpCode, ProtocolError> {
        let rsv = (b >> 4) & 0b111;
        if rsv & !self.rules.allowed_rsv != 0 {
            return Err(ProtocolError::ReservedBits);
        }
        let opcode = OpCode::from_bits(b & 0x0F).ok_or(ProtocolError::ReservedOpcode)?;
        if opcode.is_control() && b & 0x80 == 0 {
            return Err(ProtocolError::FragmentedControl);
        }
        Ok(opcode)
    }

    fn check_first(&self, b: u8) -> Result<(), ProtocolError> {
        self.first_opcode(b).map(|_| ())
    }

    #[inline]
    fn check_second_with(&self, opcode: OpCode, b: u8) -> Result<(), ProtocolError> {
        let masked = b & 0x80 != 0;
        match self.rules.require_mask {
            Some(true) if !masked => return Err(ProtocolError::UnmaskedFrame),
            Some(false) if masked => return Err(ProtocolError::MaskedFrame),
            _ => {}
        }
        if opcode.is_control() && usize::from(b & 0x7F) > MAX_CONTROL_PAYLOAD {
            return Err(ProtocolError::ControlTooLong);
        }
        Ok(())
    }

    fn check_second(&self, b: u8) -> Result<(), ProtocolError> {
        let opcode = OpCode::from_bits(self.buf[0] & 0x0F).expect("checked on the first byte");
        self.check_second_with(opcode, b)
    }

    fn needed(&self) -> usize {
        header_len(self.buf[1])
    }

    fn finish(&self) -> Result<FrameHeader, ProtocolError> {
        let b = &self.buf;
        let (payload_len, at) = match b[1] & 0x7F {
            126 => (u64::from(u16::from_be_bytes([b[2], b[3]])), 4),
            127 => {
                let n = u64::from_be_bytes(b[2..10].try_into().expect("8 bytes"));
                if n >> 63 != 0 {
                    return Err(ProtocolError::LengthOverflow);
                }
                (n, 10)
            }
            n => (u64::from(n), 2),
        };
        let mask = (b[1] & 0x80 != 0).then(|| [b[at], b[at + 1], b[at + 2], b[at + 3]]);
        Ok(FrameHeader {
            fin: b[0] & 0x80 != 0,
            rsv: (b[0] >> 4) & 0b111,
            opcode: OpCode::from_bits(b[0] & 0x0F).expect("checked on the first byte"),
            mask,
            payload_len,
        })
    }
}

/// A header's size, from its second byte.
#[inline]
const fn header_len(b1: u8) -> usize {
    let mask = if b1 & 0x80 != 0 { 4 } else { 0 };
    2 + mask
        + match b1 & 0x7F {
            126 => 2,
            127 => 8,
            _ => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn any_header() -> impl Strategy<Value = FrameHeader> {
        let opcode = prop_oneof![
            Just(OpCode::Continuation),
            Just(OpCode::Text),
            Just(OpCode::Binary),
            Just(OpCode::Close),
            Just(OpCode::Ping),
            Just(OpCode::Pong),
        ];
        let len = prop_oneof![0u64..=125, 126u64..=0xFFFF, 0x1_0000u64..=(u64::MAX >> 1)];
        (any::<bool>(), opcode, any::<Option<[u8; 4]>>(), len).prop_map(
            |(fin, opcode, mask, len)| {
                let control = opcode.is_control();
                FrameHeader {
                    fin: fin || control,
                    rsv: 0,
                    opcode,
                    mask,
                    payload_len: if control { len % 126 } else { len },
                }
            },
        )
    }

    proptest! {
        #[test]
        fn decodes_what_it_encodes_in_any_split(h in any_header(), cut in 0usize..MAX_HEADER_LEN) {
            let mut buf = [0; MAX_HEADER_LEN];
            let n = h.encode(&mut buf);
            let rules = DecoderRules { allowed_rsv: 0, require_mask: None };
            // Whole.
            let mut dec = HeaderDecoder::new(rules);
            prop_assert_eq!(dec.decode(&buf[..n]).unwrap(), (n, Some(h)));
            // Two pieces.
            let cut = cut.min(n);
            let mut dec = HeaderDecoder::new(rules);
            let (a, got) = dec.decode(&buf[..cut]).unwrap();
            prop_assert_eq!(a, cut);
            if cut < n {
                prop_assert_eq!(got, None);
                prop_assert_eq!(dec.decode(&buf[cut..n]).unwrap(), (n - cut, Some(h)));
            } else {
                prop_assert_eq!(got, Some(h));
            }
            // Byte at a time.
            let mut dec = HeaderDecoder::new(rules);
            for i in 0..n {
                let (used, got) = dec.decode(&buf[i..=i]).unwrap();
                prop_assert_eq!(used, 1);
                prop_assert_eq!(got.is_some(), i == n - 1);
                if let Some(got) = got { prop_assert_eq!(got, h); }
            }
        }
    }

    #[test]
    fn shortest_length_encodings() {
        for (len, size) in [(0, 2), (125, 2), (126, 4), (0xFFFF, 4), (0x1_0000, 10)] {
            assert_eq!(FrameHeader::new(OpCode::Binary, len).encoded_len(), size);
        }
    }

    #[test]
    fn stops_at_the_header() {
        let mut dec = HeaderDecoder::new(DecoderRules::CLIENT);
        let (used, h) = dec.decode(&[0x81, 0x03, b'a', b'b', b'c']).unwrap();
        assert_eq!(used, 2);
        assert_eq!(h.unwrap().payload_len, 3);
    }

    #[test]
    fn rejects_bad_headers_on_the_revealing_byte() {
        let cases: &[(&[u8], DecoderRules, ProtocolError)] = &[
            (&[0xC1], DecoderRules::CLIENT, ProtocolError::ReservedBits),
            (&[0x91], DecoderRules::CLIENT, ProtocolError::ReservedBits),
            (&[0x83], DecoderRules::CLIENT, ProtocolError::ReservedOpcode),
            (&[0x8B], DecoderRules::CLIENT, ProtocolError::ReservedOpcode),
            (
                &[0x09],
                DecoderRules::CLIENT,
                ProtocolError::FragmentedControl,
            ),
            (
                &[0x89, 126],
                DecoderRules::CLIENT,
                ProtocolError::ControlTooLong,
            ),
            (
                &[0x81, 0x01],
                DecoderRules::SERVER,
                ProtocolError::UnmaskedFrame,
            ),
            (
                &[0x81, 0x81],
                DecoderRules::CLIENT,
                ProtocolError::MaskedFrame,
            ),
            (
                &[0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0],
                DecoderRules::CLIENT,
                ProtocolError::LengthOverflow,
            ),
        ];
        for (wire, rules, err) in cases {
            let mut dec = HeaderDecoder::new(*rules);
            assert_eq!(dec.decode(wire), Err(*err), "{wire:?}");
        }
        // An extension that claims RSV1 lets it through.
        let mut dec = HeaderDecoder::new(DecoderRules {
            allowed_rsv: 0b100,
            require_mask: Some(false),
        });
        assert!(dec.decode(&[0xC1, 0]).unwrap().1.is_some());
    }
}
