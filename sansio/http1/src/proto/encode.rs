//! Serialization: start lines, header fields, body framing and the Date header,
//! written straight into the caller's buffer.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, StatusCode};

use super::framing::is_forbidden_trailer;
use super::SendError;

/// How long the body of a message being sent is, as the application declares it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyLength {
    /// No body (`Content-Length: 0` where a length is due).
    Empty,
    /// Exactly this many bytes: sent with `Content-Length`.
    Known(u64),
    /// Not known in advance: `Transfer-Encoding: chunked` to HTTP/1.1 peers, the end
    /// of the connection for an HTTP/1.0 client.
    Unknown,
}

/// How the body being sent is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sending {
    /// This many bytes still due.
    Length(u64),
    Chunked,
    /// Ends when the connection closes.
    Close,
    /// The message has no body (HEAD, 1xx, 204, 304).
    Nothing,
}

/// The framing around one piece of body data, for a vectored write without copying
/// the data: send [`prefix`](Self::prefix), the data, then [`suffix`](Self::suffix).
#[derive(Debug, Clone, Copy)]
pub struct DataFrame {
    prefix: [u8; 18],
    prefix_len: u8,
    chunked: bool,
}

impl DataFrame {
    /// Bytes before the data (a chunk-size line, or nothing).
    pub fn prefix(&self) -> &[u8] {
        &self.prefix[..self.prefix_len as usize]
    }

    /// Bytes after the data (a chunk's CRLF, or nothing).
    pub fn suffix(&self) -> &'static [u8] {
        if self.chunked {
            b"\r\n"
        } else {
            b""
        }
    }
}

/// The sending half of one message: tracks the declared framing.
#[derive(Debug, Default)]
pub(crate) struct Encoder {
    pub(crate) sending: Option<Sending>,
}

impl Encoder {
    /// Whether a message is being sent (its head went out, its end has not).
    pub(crate) fn is_open(&self) -> bool {
        self.sending.is_some()
    }

    /// Whether the open message carries body bytes (not a HEAD answer, 204 or 304).
    pub(crate) fn sends_body(&self) -> bool {
        matches!(self.sending, Some(s) if s != Sending::Nothing)
    }

    pub(crate) fn frame(&mut self, len: usize) -> Result<DataFrame, SendError> {
        let mut frame = DataFrame {
            prefix: [0; 18],
            prefix_len: 0,
            chunked: false,
        };
        match self.sending.as_mut().ok_or(SendError::NoMessage)? {
            Sending::Length(rem) => {
                *rem = rem.checked_sub(len as u64).ok_or(SendError::BodyTooLong)?;
            }
            Sending::Nothing if len > 0 => return Err(SendError::BodyTooLong),
            Sending::Nothing | Sending::Close => {}
            Sending::Chunked if len == 0 => {}
            Sending::Chunked => {
                let digits = (usize::BITS - len.leading_zeros()).div_ceil(4) as usize;
                for d in 0..digits {
                    let nibble = (len >> (4 * (digits - 1 - d))) & 0xf;
                    frame.prefix[d] = b"0123456789abcdef"[nibble];
                }
                frame.prefix[digits] = b'\r';
                frame.prefix[digits + 1] = b'\n';
                frame.prefix_len = (digits + 2) as u8;
                frame.chunked = true;
            }
        }
        Ok(frame)
    }

    pub(crate) fn data(&mut self, data: &[u8], dst: &mut Vec<u8>) -> Result<(), SendError> {
        let frame = self.frame(data.len())?;
        if self.sending == Some(Sending::Nothing) {
            return Ok(());
        }
        dst.extend_from_slice(frame.prefix());
        dst.extend_from_slice(data);
        dst.extend_from_slice(frame.suffix());
        Ok(())
    }

    /// Ends the message: the last chunk and trailers, or a check that the declared
    /// length was sent. Returns whether the body was close-delimited.
    pub(crate) fn end(
        &mut self,
        trailers: Option<&HeaderMap>,
        dst: &mut Vec<u8>,
    ) -> Result<bool, SendError> {
        match self.sending.ok_or(SendError::NoMessage)? {
            Sending::Length(0) | Sending::Nothing => {}
            Sending::Length(_) => return Err(SendError::BodyTooShort),
            Sending::Close => {}
            Sending::Chunked => {
                // Checked before anything is written: a refused end writes nothing.
                if let Some(t) = trailers {
                    if t.keys().any(is_framing) {
                        return Err(SendError::FramingHeader);
                    }
                    if t.keys()
                        .any(|n| is_forbidden_trailer(n.as_str().as_bytes()))
                    {
                        return Err(SendError::ForbiddenTrailer);
                    }
                }
                dst.extend_from_slice(b"0\r\n");
                if let Some(t) = trailers {
                    write_fields(dst, t, true)?;
                }
                dst.extend_from_slice(b"\r\n");
            }
        }
        let close = self.sending == Some(Sending::Close);
        self.sending = None;
        Ok(close)
    }
}

fn is_framing(name: &http::HeaderName) -> bool {
    name == http::header::CONTENT_LENGTH || name == http::header::TRANSFER_ENCODING
}

/// Writes `name: value\r\n` for each field; framing fields are refused (they are the
/// connection's to write), and so are trailers that would be framing.
pub(crate) fn write_fields(
    dst: &mut Vec<u8>,
    headers: &HeaderMap,
    refuse_framing: bool,
) -> Result<(), SendError> {
    if refuse_framing && headers.keys().any(is_framing) {
        return Err(SendError::FramingHeader);
    }
    for (name, value) in headers {
        // `HeaderValue` may hold obs-text but never CR, LF or NUL: it is wire-safe.
        dst.extend_from_slice(name.as_str().as_bytes());
        dst.extend_from_slice(b": ");
        dst.extend_from_slice(value.as_bytes());
        dst.extend_from_slice(b"\r\n");
    }
    Ok(())
}

pub(crate) fn write_status_line(dst: &mut Vec<u8>, status: StatusCode) {
    dst.extend_from_slice(b"HTTP/1.1 ");
    dst.extend_from_slice(status.as_str().as_bytes());
    dst.push(b' ');
    dst.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    dst.extend_from_slice(b"\r\n");
}

pub(crate) fn write_decimal(dst: &mut Vec<u8>, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    dst.extend_from_slice(&digits[i..]);
}

/// The Date header value, rendered at most once a second. Wall time comes from an
/// anchor pair the caller supplies once (`Instant` ↔ `SystemTime`) and the `now` of
/// each call: the state machine never reads a clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DateCache {
    anchor: Option<(Instant, SystemTime)>,
    second: u64,
    text: [u8; 29],
}

impl DateCache {
    pub(crate) fn new(anchor: Option<(Instant, SystemTime)>) -> Self {
        Self {
            anchor,
            second: u64::MAX,
            text: [0; 29],
        }
    }

    /// The IMF-fixdate for `now`, or `None` without an anchor (a server without a
    /// clock sends no Date, RFC 9110 §6.6.1).
    pub(crate) fn get(&mut self, now: Instant) -> Option<&[u8; 29]> {
        let (at, wall) = self.anchor?;
        let wall = match now.checked_duration_since(at) {
            Some(d) => wall + d,
            None => wall - at.duration_since(now),
        };
        let secs = wall.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
        if secs != self.second {
            self.second = secs;
            self.text = imf_fixdate(secs);
        }
        Some(&self.text)
    }
}

/// Formats seconds since the epoch as `Sun, 06 Nov 1994 08:49:37 GMT`.
pub fn imf_fixdate(secs: u64) -> [u8; 29] {
    const DAYS: [&[u8; 3]; 7] = [b"Thu", b"Fri", b"Sat", b"Sun", b"Mon", b"Tue", b"Wed"];
    const MONTHS: [&[u8; 3]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    let days = secs / 86_400;
    let rem = secs % 86_400;
    let (h, m, s) = (rem / 3600, rem / 60 % 60, rem % 60);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    let mut out = *b"Thu, 01 Jan 1970 00:00:00 GMT";
    out[..3].copy_from_slice(DAYS[(days % 7) as usize]);
    let two = |v: u64| [b'0' + (v / 10) as u8, b'0' + (v % 10) as u8];
    out[5..7].copy_from_slice(&two(day as u64));
    out[8..11].copy_from_slice(MONTHS[(month - 1) as usize]);
    let y = year as u64;
    out[12..16].copy_from_slice(&[
        b'0' + (y / 1000 % 10) as u8,
        b'0' + (y / 100 % 10) as u8,
        b'0' + (y / 10 % 10) as u8,
        b'0' + (y % 10) as u8,
    ]);
    out[17..19].copy_from_slice(&two(h));
    out[20..22].copy_from_slice(&two(m));
    out[23..25].copy_from_slice(&two(s));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixdate_matches_rfc_example() {
        assert_eq!(&imf_fixdate(784_111_777), b"Sun, 06 Nov 1994 08:49:37 GMT");
        assert_eq!(&imf_fixdate(0), b"Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(&imf_fixdate(951_782_400), b"Tue, 29 Feb 2000 00:00:00 GMT");
    }

    #[test]
    fn chunk_prefix_is_lowercase_hex() {
        let mut e = Encoder {
            sending: Some(Sending::Chunked),
        };
        assert_eq!(e.frame(255).unwrap().prefix(), b"ff\r\n");
        assert_eq!(e.frame(1).unwrap().prefix(), b"1\r\n");
        assert_eq!(e.frame(0x10000).unwrap().prefix(), b"10000\r\n");
    }
}
