//! The one-pass tokenizer: a request or response head that is all there is read once,
//! start line and fields validated in the same pass, fields recorded as ranges.
//!
//! It accepts a strict subset of what the incremental path (the [`HeadScanner`] finding
//! the end, then `httparse` and our start-line checks) accepts, with the same ranges:
//! every line ends in CRLF, the method and field names are tokens (RFC 9110 §5.6.2),
//! the request target is visible ASCII, field values are HTAB, SP, VCHAR or obs-text
//! (§5.5), the version is `HTTP/1.0` or `HTTP/1.1`, and the start line and head size
//! limits hold. Anything else — an incomplete head, a bare CR or LF, obs-fold, a space
//! before a colon, a stray control byte, too many fields, a target with non-ASCII
//! bytes — returns `None`, and the caller takes the incremental path, which reports the
//! exact error in the order a byte-at-a-time reading meets it. So the smuggling rules
//! have one home, and the tokenizer only has to be right about clean heads.
//!
//! Bytes are looked at eight at a time where runs are long (request target, field
//! values): a word's lanes that end the run are flagged with a few integer operations,
//! exactly for the lowest flagged lane, which is all the scan needs.
//!
//! [`HeadScanner`]: super::head::HeadScanner

use http::{Method, StatusCode, Version};

use super::head::{target_form_fits, FieldIndex, HeadIndex};
use super::Limits;

/// `0x0101…01`: multiplied by a byte, that byte in every lane of a word.
const LOW: u64 = u64::from_le_bytes([1; 8]);
/// `0x8080…80`: the top bit of every lane.
const HIGH: u64 = LOW * 0x80;

/// RFC 9110 §5.6.2 `tchar`, as `1`, else `0`.
static TCHAR: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = matches!(
            b,
            b'!' | b'#'
                | b'$'
                | b'%'
                | b'&'
                | b'\''
                | b'*'
                | b'+'
                | b'-'
                | b'.'
                | b'^'
                | b'_'
                | b'`'
                | b'|'
                | b'~'
                | b'0'..=b'9'
                | b'A'..=b'Z'
                | b'a'..=b'z'
        ) as u8;
        i += 1;
    }
    t
};

#[inline(always)]
fn word(data: &[u8], at: usize) -> Option<u64> {
    let w: [u8; 8] = data.get(at..at + 8)?.try_into().ok()?;
    Some(u64::from_le_bytes(w))
}

/// The index of the first byte from `at` that is not a `tchar` (`data.len()` if none).
#[inline(always)]
fn token_end(data: &[u8], mut at: usize) -> usize {
    // Eight table look-ups folded without a branch, then one branch: names are mostly
    // longer than a word.
    while let Some(w) = data.get(at..at + 8) {
        if w.iter().fold(1, |all, &b| all & TCHAR[b as usize]) == 0 {
            break;
        }
        at += 8;
    }
    while at < data.len() && TCHAR[data[at] as usize] == 1 {
        at += 1;
    }
    at
}

/// The index of the first byte from `at` outside `0x21..=0x7E` (`data.len()` if none).
#[inline(always)]
fn visible_end(data: &[u8], mut at: usize) -> usize {
    while let Some(w) = word(data, at) {
        // Lanes below 0x21 (a borrow may flag lanes above a true one, never below),
        // and lanes at or above 0x7F (no carry crosses lanes).
        let below = w.wrapping_sub(LOW * 0x21) & !w;
        let above = ((w & !HIGH).wrapping_add(LOW)) | w;
        let flagged = (below | above) & HIGH;
        if flagged != 0 {
            return at + (flagged.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < data.len() && matches!(data[at], 0x21..=0x7E) {
        at += 1;
    }
    at
}

/// The index of the CR ending the field value (or reason phrase) that starts at `at`,
/// its LF checked; `None` for any byte a value may not hold (RFC 9110 §5.5: HTAB, SP,
/// VCHAR and obs-text only), a bare CR or LF, or the end of `data`.
#[inline(always)]
fn value_end(data: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let stop = loop {
            let Some(w) = word(data, at) else {
                break data[at..]
                    .iter()
                    .position(|&b| b < 0x20 || b == 0x7F)
                    .map(|i| at + i)?;
            };
            // Lanes below 0x20 (controls, HTAB, CR, LF) and lanes equal to 0x7F.
            let ctl = w.wrapping_sub(LOW * 0x20) & !w;
            let x = w ^ (LOW * 0x7F);
            let del = x.wrapping_sub(LOW) & !x;
            let flagged = (ctl | del) & HIGH;
            if flagged != 0 {
                break at + (flagged.trailing_zeros() / 8) as usize;
            }
            at += 8;
        };
        match data[stop] {
            b'\t' => at = stop + 1,
            b'\r' if data.get(stop + 1) == Some(&b'\n') => return Some(stop),
            _ => return None,
        }
    }
}

fn range(start: usize, end: usize) -> (u32, u32) {
    (start as u32, end as u32)
}

impl HeadIndex {
    /// Parses the request head at the start of `data` in one pass when all of it is
    /// there and it is clean (see the module docs); returns its length. `None` means
    /// "take the incremental path": nothing is decided.
    pub(crate) fn tokenize_request(&mut self, data: &[u8], limits: &Limits) -> Option<usize> {
        let data = &data[..data.len().min(limits.max_head_bytes)];
        // The method: the two most common spelled out, any other token looked up.
        let (method, target_start) = match data.get(..5)? {
            [b'G', b'E', b'T', b' ', _] => (Method::GET, 4),
            b"POST " => (Method::POST, 5),
            _ => {
                let end = token_end(data, 0);
                if end == 0 || *data.get(end)? != b' ' {
                    return None;
                }
                (Method::from_bytes(&data[..end]).ok()?, end + 1)
            }
        };
        let target_end = visible_end(data, target_start);
        if target_end == target_start || *data.get(target_end)? != b' ' {
            return None;
        }
        let target = &data[target_start..target_end];
        // Visible ASCII only, so UTF-8.
        let target_str = std::str::from_utf8(target).ok()?;
        if !target_form_fits(&method, target_str) {
            return None;
        }
        let version_at = target_end + 1;
        let version = match data.get(version_at..version_at + 10)? {
            b"HTTP/1.1\r\n" => Version::HTTP_11,
            b"HTTP/1.0\r\n" => Version::HTTP_10,
            _ => return None,
        };
        if version_at + 8 > limits.max_request_line {
            return None;
        }
        let len = self.tokenize_fields(data, version_at + 10, limits.max_headers)?;
        self.method = method;
        self.target = range(target_start, target_end);
        self.version = version;
        self.len = len;
        Some(len)
    }

    /// Parses the response head at the start of `data` in one pass when all of it is
    /// there and it is clean; as [`tokenize_request`](Self::tokenize_request).
    pub(crate) fn tokenize_response(&mut self, data: &[u8], limits: &Limits) -> Option<usize> {
        let data = &data[..data.len().min(limits.max_head_bytes)];
        let line = data.get(..13)?;
        let version = match &line[..9] {
            b"HTTP/1.1 " => Version::HTTP_11,
            b"HTTP/1.0 " => Version::HTTP_10,
            _ => return None,
        };
        let [h, t, o] = [line[9], line[10], line[11]];
        if ![h, t, o].iter().all(u8::is_ascii_digit) {
            return None;
        }
        let code = u16::from(h - b'0') * 100 + u16::from(t - b'0') * 10 + u16::from(o - b'0');
        let status = StatusCode::from_u16(code).ok()?;
        let (reason, line_end) = match line[12] {
            b' ' => {
                let cr = value_end(data, 13)?;
                (range(13, cr), cr)
            }
            b'\r' if data.get(13) == Some(&b'\n') => ((12, 12), 12),
            _ => return None,
        };
        if line_end > limits.max_request_line {
            return None;
        }
        let len = self.tokenize_fields(data, line_end + 2, limits.max_headers)?;
        self.version = version;
        self.status = status;
        self.reason = reason;
        self.len = len;
        Some(len)
    }

    /// The field lines from `at` to the empty line ending the head; returns the head's
    /// length.
    #[inline(always)]
    fn tokenize_fields(&mut self, data: &[u8], mut at: usize, max: usize) -> Option<usize> {
        self.fields.clear();
        loop {
            if *data.get(at)? == b'\r' {
                return (*data.get(at + 1)? == b'\n').then_some(at + 2);
            }
            let name_end = token_end(data, at);
            if name_end == at || *data.get(name_end)? != b':' {
                return None;
            }
            let mut start = name_end + 1;
            while matches!(data.get(start), Some(b' ' | b'\t')) {
                start += 1;
            }
            let cr = value_end(data, start)?;
            let mut end = cr;
            while end > start && matches!(data[end - 1], b' ' | b'\t') {
                end -= 1;
            }
            if self.fields.len() == max {
                return None;
            }
            self.fields.push(FieldIndex {
                name: range(at, name_end),
                value: range(start, end),
            });
            at = cr + 2;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_scans_stop_at_the_first_byte_out_of_their_run() {
        for b in 0u8..=255 {
            for at in 0..20 {
                let mut data = vec![b'a'; 24];
                data[at] = b;
                let visible = (0x21..=0x7E).contains(&b);
                assert_eq!(visible_end(&data, 0), if visible { 24 } else { at }, "{b:#x}");
                let token = TCHAR[b as usize] == 1;
                assert_eq!(token_end(&data, 0), if token { 24 } else { at }, "{b:#x}");
                data.extend_from_slice(b"\r\n");
                let value = b == b'\t' || b == b' ' || (0x21..=0x7E).contains(&b) || b >= 0x80;
                // A CR inside is bare (an `a` follows it): no value ends there.
                assert_eq!(value_end(&data, 0), value.then_some(24), "{b:#x} at {at}");
            }
        }
    }
}
