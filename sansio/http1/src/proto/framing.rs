//! What a head says about its message: body framing (RFC 9112 §6), persistence
//! (§9.3), Host (§3.2), Expect and Upgrade.

use http::{Method, StatusCode, Version};

use super::head::Headers;
use super::Error;

/// How a received body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    Length(u64),
    Chunked,
    /// Until the peer closes (responses only).
    Close,
}

/// What the header fields say, gathered in one pass.
#[derive(Debug, Default)]
pub(crate) struct FieldSummary {
    pub(crate) content_length: Option<u64>,
    pub(crate) transfer_encoding: bool,
    /// The final coding is `chunked`, applied once.
    pub(crate) chunked_final: bool,
    /// `chunked` somewhere but not last, or more than once.
    pub(crate) chunked_misplaced: bool,
    /// A coding other than `chunked`.
    pub(crate) other_coding: bool,
    pub(crate) close: bool,
    pub(crate) keep_alive: bool,
    pub(crate) connection_upgrade: bool,
    pub(crate) upgrade: bool,
    pub(crate) expect_continue: bool,
    pub(crate) hosts: usize,
}

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

    pub(crate) fn gather(headers: &Headers<'_>) -> Result<Self, Error> {
        let mut s = Self::default();
        let mut codings = 0usize;
        let (buf, fields) = headers.raw();
        for f in fields {
            let (from, to) = (f.name.0 as usize, f.name.1 as usize);
            // Most fields are none of these: their length alone says so.
            let name = || &buf[from..to];
            let field = match to - from {
                4 if eq_fold(name(), b"host") => Field::Host,
                6 if eq_fold(name(), b"expect") => Field::Expect,
                7 if eq_fold(name(), b"upgrade") => Field::Upgrade,
                10 if eq_fold(name(), b"connection") => Field::Connection,
                14 if eq_fold(name(), b"content-length") => Field::ContentLength,
                17 if eq_fold(name(), b"transfer-encoding") => Field::TransferEncoding,
                _ => continue,
            };
            let value = &buf[f.value.0 as usize..f.value.1 as usize];
            if field == Field::ContentLength {
                // `42, 42` is one length said twice (RFC 9110 §8.6); anything that
                // differs is refused.
                let mut any = false;
                for element in value.split(|&b| b == b',') {
                    let n = parse_length(trim(element))?;
                    any = true;
                    match s.content_length {
                        Some(m) if m != n => return Err(Error::ConflictingContentLength),
                        _ => s.content_length = Some(n),
                    }
                }
                if !any {
                    return Err(Error::InvalidContentLength);
                }
            } else if field == Field::TransferEncoding {
                s.transfer_encoding = true;
                for coding in list(value) {
                    let name = trim(coding.split(|&b| b == b';').next().unwrap_or(coding));
                    codings += 1;
                    if s.chunked_final {
                        // Something follows `chunked`.
                        s.chunked_misplaced = true;
                    }
                    if name.eq_ignore_ascii_case(b"chunked") {
                        if name.len() != coding.len() {
                            // `chunked` takes no parameters.
                            s.chunked_misplaced = true;
                        }
                        s.chunked_final = true;
                    } else {
                        s.chunked_final = false;
                        s.other_coding = true;
                    }
                }
            } else if field == Field::Connection {
                // Usually one known option, the whole (trimmed) value: no list to split.
                if !s.connection_option(value) {
                    for token in list(value) {
                        s.connection_option(token);
                    }
                }
            } else if field == Field::Upgrade {
                s.upgrade = true;
            } else if field == Field::Expect {
                s.expect_continue |= trim(value).eq_ignore_ascii_case(b"100-continue");
            } else {
                s.hosts += 1;
            }
        }
        if s.transfer_encoding && codings == 0 {
            // An empty Transfer-Encoding names no final `chunked`.
            s.chunked_misplaced = true;
        }
        if s.chunked_misplaced {
            s.chunked_final = false;
        }
        Ok(s)
    }

    /// Whether the connection persists after this message (RFC 9112 §9.3).
    pub(crate) fn persistent(&self, version: Version) -> bool {
        !self.close && (version == Version::HTTP_11 || self.keep_alive)
    }

    /// The framing of a request body (RFC 9112 §6.3), refusing every ambiguity.
    pub(crate) fn request_framing(&self, version: Version) -> Result<BodyFraming, Error> {
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
            if !self.chunked_final {
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
            if self.chunked_final {
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
