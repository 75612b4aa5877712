//! What a head says about its message: body framing (RFC 9112 §6), persistence
//! (§9.3), Host (§3.2), Expect and Upgrade.

use http::{Method, StatusCode, Version};

use super::head::FieldIndex;
use super::Error;

/// How a received body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    Length(u64),
    Chunked,
    /// Until the peer closes (responses only).
    Close,
}

/// What the header fields say about framing and persistence, noted field by field as
/// the tokenizer records them (or in a pass over httparse's fields): no second pass
/// over a clean head.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct FieldSummary {
    pub(crate) content_length: Option<u64>,
    pub(crate) transfer_encoding: bool,
    /// The last coding seen is `chunked`.
    chunked_last: bool,
    /// `chunked` somewhere but not last, or more than once, or with parameters.
    chunked_misplaced: bool,
    /// A coding other than `chunked`.
    other_coding: bool,
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    pub(crate) connection_upgrade: bool,
    pub(crate) upgrade: bool,
    pub(crate) expect_continue: bool,
    hosts: u32,
    /// The first error a field showed (an unparsable or conflicting length): the
    /// message's framing is that error.
    error: Option<Error>,
}

/// `host` as a little-endian word.
const HOST: u32 = u32::from_le_bytes(*b"host");

/// By length, the first letter (lower case) of the field name of that length
/// [`FieldSummary::note`] looks at; 0 for lengths it ignores. Content-Length and
/// Connection share their letter.
const NOTED_FIRST: [u8; 18] = {
    let mut t = [0u8; 18];
    t[4] = b'h';
    t[6] = b'e';
    t[7] = b'u';
    t[10] = b'c';
    t[14] = b'c';
    t[17] = b't';
    t
};

fn trim(v: &[u8]) -> &[u8] {
    let start = v
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(v.len());
    let end = v
        .iter()
        .rposition(|b| !matches!(b, b' ' | b'\t'))
        .map_or(start, |e| e + 1);
    &v[start..end]
}

/// Elements of a comma-separated list value, trimmed, empty ones dropped (RFC 9110 §5.6.1).
fn list(v: &[u8]) -> impl Iterator<Item = &[u8]> {
    v.split(|&b| b == b',').map(trim).filter(|e| !e.is_empty())
}

fn parse_length(v: &[u8]) -> Result<u64, Error> {
    if v.is_empty() {
        return Err(Error::InvalidContentLength);
    }
    let mut n: u64 = 0;
    for &b in v {
        if !b.is_ascii_digit() {
            return Err(Error::InvalidContentLength);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(u64::from(b - b'0')))
            .ok_or(Error::InvalidContentLength)?;
    }
    Ok(n)
}

/// The fields framing and persistence depend on.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Field {
    Host,
    Expect,
    Upgrade,
    Connection,
    ContentLength,
    TransferEncoding,
}

/// Whether `name` (a field name or value as parsed: no CR or LF in it) is `lower` (lower
/// case letters and `-`, of the same length) in any case: setting bit 0x20 of each byte
/// folds case, and maps nothing but CR (onto `-`) onto a lower case letter or `-`.
#[inline(always)]
fn eq_fold(name: &[u8], lower: &[u8]) -> bool {
    debug_assert_eq!(name.len(), lower.len());
    let word = |s: &[u8], at: usize| u64::from_le_bytes(s[at..at + 8].try_into().expect("8"));
    let half = |s: &[u8], at: usize| u32::from_le_bytes(s[at..at + 4].try_into().expect("4"));
    let n = name.len();
    if n >= 8 {
        // Whole words, the last one overlapping the one before.
        let fold = u64::from_le_bytes([0x20; 8]);
        let mut at = 0;
        while at + 8 < n {
            if word(name, at) | fold != word(lower, at) {
                return false;
            }
            at += 8;
        }
        word(name, n - 8) | fold == word(lower, n - 8)
    } else if n >= 4 {
        let fold = u32::from_le_bytes([0x20; 4]);
        half(name, 0) | fold == half(lower, 0) && half(name, n - 4) | fold == half(lower, n - 4)
    } else {
        name.iter().zip(lower).all(|(&a, &b)| a | 0x20 == b)
    }
}

impl FieldSummary {
    /// One option of a Connection field; whether it is one we act on.
    fn connection_option(&mut self, token: &[u8]) -> bool {
        match token.len() {
            5 if eq_fold(token, b"close") => self.close = true,
            10 if eq_fold(token, b"keep-alive") => self.keep_alive = true,
            7 if eq_fold(token, b"upgrade") => self.connection_upgrade = true,
            _ => return false,
        }
        true
    }

    /// Whether a field named `name` (a token) may be one [`note`](Self::note) acts on:
    /// most fields are ruled out by their length and first letter alone (Accept,
    /// Cookie, User-Agent share a length with one of ours).
    #[inline(always)]
    pub(crate) fn may_note(name: &[u8]) -> bool {
        match (NOTED_FIRST.get(name.len()), name.first()) {
            (Some(&want), Some(&first)) => first | 0x20 == want,
            _ => false,
        }
    }

    /// Summarises `fields` (ranges into `buf`) from scratch.
    pub(crate) fn gather(buf: &[u8], fields: &[FieldIndex]) -> Self {
        let mut s = Self::default();
        for f in fields {
            let name = &buf[f.name.0 as usize..f.name.1 as usize];
            if Self::may_note(name) {
                s.note(name, &buf[f.value.0 as usize..f.value.1 as usize]);
            }
        }
        s
    }

    /// Takes one field into account, in head order (a field name and its trimmed
    /// value), for a name [`may_note`](Self::may_note) lets through. Host, in every
    /// request, is counted inline; the rest is out of line (and cold: a call on the
    /// tokenizer's hot path would cost it registers).
    #[inline(always)]
    pub(crate) fn note(&mut self, name: &[u8], value: &[u8]) {
        match name.first_chunk::<4>() {
            Some(&four) if name.len() == 4 && u32::from_le_bytes(four) | 0x2020_2020 == HOST => {
                self.hosts += 1
            }
            _ => self.note_other(name, value),
        }
    }

    /// [`note`](Self::note) for any field but Host.
    #[cold]
    #[inline(never)]
    fn note_other(&mut self, name: &[u8], value: &[u8]) {
        let field = match name.len() {
            4 if eq_fold(name, b"host") => Field::Host,
            6 if eq_fold(name, b"expect") => Field::Expect,
            7 if eq_fold(name, b"upgrade") => Field::Upgrade,
            10 if eq_fold(name, b"connection") => Field::Connection,
            14 if eq_fold(name, b"content-length") => Field::ContentLength,
            17 if eq_fold(name, b"transfer-encoding") => Field::TransferEncoding,
            _ => return,
        };
        match field {
            Field::ContentLength => {
                if let Err(e) = self.note_length(value) {
                    // The first error is the one the message gets.
                    self.error.get_or_insert(e);
                }
            }
            Field::TransferEncoding => {
                self.transfer_encoding = true;
                // An empty one names no coding: no final `chunked` unless another did.
                for coding in list(value) {
                    let name = trim(coding.split(|&b| b == b';').next().unwrap_or(coding));
                    if self.chunked_last {
                        // Something follows `chunked`.
                        self.chunked_misplaced = true;
                    }
                    if name.eq_ignore_ascii_case(b"chunked") {
                        if name.len() != coding.len() {
                            // `chunked` takes no parameters.
                            self.chunked_misplaced = true;
                        }
                        self.chunked_last = true;
                    } else {
                        self.chunked_last = false;
                        self.other_coding = true;
                    }
                }
            }
            Field::Connection => {
                // Usually one known option, the whole (trimmed) value: no list to split.
                if !self.connection_option(value) {
                    for token in list(value) {
                        self.connection_option(token);
                    }
                }
            }
            Field::Upgrade => self.upgrade = true,
            Field::Expect => {
                self.expect_continue |= trim(value).eq_ignore_ascii_case(b"100-continue");
            }
            Field::Host => self.hosts += 1,
        }
    }

    /// A Content-Length value: `42, 42` is one length said twice (RFC 9110 §8.6);
    /// anything that differs is refused.
    fn note_length(&mut self, value: &[u8]) -> Result<(), Error> {
        // Usually one length, digits only: no list to split.
        if let Ok(n) = parse_length(value) {
            return match self.content_length {
                Some(m) if m != n => Err(Error::ConflictingContentLength),
                _ => {
                    self.content_length = Some(n);
                    Ok(())
                }
            };
        }
        let mut any = false;
        for element in value.split(|&b| b == b',') {
            let n = parse_length(trim(element))?;
            any = true;
            match self.content_length {
                Some(m) if m != n => return Err(Error::ConflictingContentLength),
                _ => self.content_length = Some(n),
            }
        }
        if !any {
            return Err(Error::InvalidContentLength);
        }
        Ok(())
    }

    /// Whether the final coding is `chunked`, applied once and without parameters.
    fn chunked_final(&self) -> bool {
        self.chunked_last && !self.chunked_misplaced
    }

    /// Whether the connection persists after this message (RFC 9112 §9.3).
    pub(crate) fn persistent(&self, version: Version) -> bool {
        !self.close && (version == Version::HTTP_11 || self.keep_alive)
    }

    /// The framing of a request body (RFC 9112 §6.3), refusing every ambiguity.
    pub(crate) fn request_framing(&self, version: Version) -> Result<BodyFraming, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if version == Version::HTTP_11 {
            match self.hosts {
                0 => return Err(Error::MissingHost),
                1 => {}
                _ => return Err(Error::RepeatedHost),
            }
        } else if self.hosts > 1 {
            return Err(Error::RepeatedHost);
        }
        if self.transfer_encoding {
            if version == Version::HTTP_10 {
                return Err(Error::TransferEncodingInHttp10);
            }
            if self.content_length.is_some() {
                return Err(Error::ContentLengthAndTransferEncoding);
            }
            if !self.chunked_final() {
                return Err(Error::ChunkedNotFinal);
            }
            if self.other_coding {
                return Err(Error::UnsupportedTransferEncoding);
            }
            return Ok(BodyFraming::Chunked);
        }
        Ok(BodyFraming::Length(self.content_length.unwrap_or(0)))
    }

    /// The framing of a response body to a request with `method` (RFC 9112 §6.3);
    /// `None` means no body at all.
    pub(crate) fn response_framing(
        &self,
        version: Version,
        method_head: bool,
        status: StatusCode,
    ) -> Result<BodyFraming, Error> {
        if let Some(e) = self.error {
            return Err(e);
        }
        if method_head
            || status.is_informational()
            || status == StatusCode::NO_CONTENT
            || status == StatusCode::NOT_MODIFIED
        {
            return Ok(BodyFraming::Length(0));
        }
        if self.transfer_encoding {
            if version == Version::HTTP_10 {
                return Err(Error::TransferEncodingInHttp10);
            }
            if self.content_length.is_some() {
                return Err(Error::ContentLengthAndTransferEncoding);
            }
            if self.chunked_final() {
                return Ok(BodyFraming::Chunked);
            }
            return Ok(BodyFraming::Close);
        }
        Ok(match self.content_length {
            Some(n) => BodyFraming::Length(n),
            None => BodyFraming::Close,
        })
    }
}

/// Whether a request asks for a protocol switch: CONNECT, or `Connection: upgrade`
/// with an `Upgrade` field.
pub(crate) fn wants_upgrade(method: &Method, s: &FieldSummary) -> bool {
    method == Method::CONNECT || (s.connection_upgrade && s.upgrade)
}

/// Fields that must not travel in a trailer section (RFC 9110 §6.5.1): framing,
/// routing, connection management, request modifiers, authentication, response control
/// data and content processing. Merged by a careless recipient they would smuggle
/// what the head did not say; a strict one refuses them.
pub(crate) fn is_forbidden_trailer(name: &[u8]) -> bool {
    const FORBIDDEN: &[&[u8]] = &[
        b"content-length",
        b"transfer-encoding",
        b"trailer",
        b"host",
        b"connection",
        b"keep-alive",
        b"proxy-connection",
        b"te",
        b"upgrade",
        b"expect",
        b"max-forwards",
        b"range",
        b"if-match",
        b"if-none-match",
        b"if-modified-since",
        b"if-unmodified-since",
        b"if-range",
        b"cache-control",
        b"pragma",
        b"authorization",
        b"proxy-authorization",
        b"www-authenticate",
        b"proxy-authenticate",
        b"cookie",
        b"set-cookie",
        b"age",
        b"expires",
        b"date",
        b"location",
        b"retry-after",
        b"vary",
        b"content-encoding",
        b"content-type",
        b"content-range",
    ];
    FORBIDDEN.iter().any(|f| f.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::eq_fold;

    #[test]
    fn eq_fold_is_eq_ignore_ascii_case_for_every_byte_a_name_or_value_may_hold() {
        for lower in [
            &b"host"[..],
            b"te",
            b"expect",
            b"keep-alive",
            b"transfer-encoding",
        ] {
            for at in 0..lower.len() {
                for b in (0u8..=255).filter(|&b| b != b'\r' && b != b'\n') {
                    let mut name = lower.to_vec();
                    name[at] = b;
                    assert_eq!(
                        eq_fold(&name, lower),
                        name.eq_ignore_ascii_case(lower),
                        "{:?}",
                        String::from_utf8_lossy(&name)
                    );
                }
            }
        }
    }
}
