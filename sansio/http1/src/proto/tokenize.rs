//! The one-pass tokenizer: a request or response head that is all there is read once,
//! start line and fields validated in the same pass, fields recorded as ranges.
//!
//! It accepts a strict subset of what the incremental path (the [`HeadScanner`] finding
//! the end, then `httparse` and our start-line checks) accepts, with the same ranges:
//! every line ends in CRLF, the method and field names are tokens (RFC 9110 §5.6.2),
//! the request target is visible ASCII, field values are HTAB, SP, VCHAR or obs-text
//! (§5.5), the version is `HTTP/1.0` or `HTTP/1.1`, and the start line and head size
//! limits hold. Anything else — a bare CR or LF, obs-fold, a space before a colon, a
//! stray control byte, too many fields, a target with non-ASCII bytes — stops it with
//! [`Stop::OTHER`], and the caller takes the incremental path, which reports the exact
//! error in the order a byte-at-a-time reading meets it. So the smuggling rules have
//! one home, and the tokenizer only has to be right about clean heads.
//!
//! A head not all there stops it with [`Stop::more`]: the lines before the one the data
//! ends in are clean, so the scanner takes over at that line (in the state a
//! byte-at-a-time reading has there) and the tokenizer resumes there once the scanner
//! has found the end; no line is tokenized twice.
//!
//! Bytes are looked at eight at a time (field names, request target) or sixteen (field
//! values): a word's lanes that end the run are flagged with a few integer operations,
//! exactly for the lowest flagged lane, which is all the scan needs; the `tchar` table
//! decides only the bytes a name is rarely made of.
//!
//! [`HeadScanner`]: super::head::HeadScanner

use http::{Method, StatusCode, Version};

use super::framing::FieldSummary;
use super::head::{target_form_fits, FieldIndex, HeadIndex};
use super::Limits;

/// Why the tokenizer stopped short of a whole head: [`Stop::OTHER`], something it does
/// not take (the incremental path decides), or [`Stop::more`]`(at)`, the data ends
/// inside the line that starts at `at` and every line before it is clean — the scanner
/// may take over there, and the next call resumes there. One word, so results travel
/// in registers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stop(usize);

impl Stop {
    pub(crate) const OTHER: Stop = Stop(usize::MAX);

    #[inline(always)]
    fn more(at: usize) -> Stop {
        Stop(at)
    }

    /// Where the clean lines end, for a stop for want of bytes.
    pub(crate) fn clean_prefix(self) -> Option<usize> {
        (self != Self::OTHER).then_some(self.0)
    }
}

/// The byte at `at`, or `Stop::more(line)` when the data ends before it.
#[inline(always)]
fn byte(data: &[u8], at: usize, line: usize) -> Result<u8, Stop> {
    data.get(at).copied().ok_or(Stop::more(line))
}

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

/// The word at `at` (little-endian, so lane `i` is byte `at + i`), if eight bytes are
/// there.
#[inline(always)]
fn word(data: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(*data.get(at..)?.first_chunk::<8>()?))
}

/// The byte offset of the lowest flagged lane.
#[inline(always)]
fn lane(flagged: u64) -> usize {
    (flagged.trailing_zeros() / 8) as usize
}

/// Lanes of `w` holding a byte other than a letter or `-`, the bytes almost every field
/// name is made of, as their top bits. Exact per lane: every sum stays within its lane.
#[inline(always)]
fn uncommon_name_bytes(w: u64) -> u64 {
    // Bit 0x20 folds case; then `x + (0x80 - lo)` has its top bit set when `x >= lo`,
    // `x + (0x7F - hi)` when `x > hi`.
    let x = w & !HIGH;
    let folded = x | (LOW * 0x20);
    let letter =
        folded.wrapping_add(LOW * (0x80 - 0x61)) & !folded.wrapping_add(LOW * (0x7F - 0x7A));
    let dash = !(x ^ (LOW * 0x2D)).wrapping_add(LOW * 0x7F);
    // Bytes from 0x80 are never common.
    !((letter | dash) & !w) & HIGH
}

/// The index of the first byte from `at` that is not a `tchar` (`data.len()` if none).
#[inline(always)]
fn token_end(data: &[u8], mut at: usize) -> usize {
    while let Some(w) = word(data, at) {
        let uncommon = uncommon_name_bytes(w);
        if uncommon == 0 {
            at += 8;
            continue;
        }
        // The flagged byte, taken from the word.
        let b = (w >> (uncommon.trailing_zeros() & !7)) as u8;
        if TCHAR[b as usize] == 0 {
            return at + lane(uncommon);
        }
        // A rarer tchar (`_`, `.`, ...): look on past it.
        at += lane(uncommon) + 1;
    }
    while at < data.len() && TCHAR[data[at] as usize] == 1 {
        at += 1;
    }
    at
}

/// The index of the first byte from `at` outside `0x21..=0x7E` (`data.len()` if none).
#[inline(always)]
fn visible_end(data: &[u8], at: usize) -> usize {
    let Some(rest) = data.get(at..) else {
        return at;
    };
    let mut words = rest.chunks_exact(8);
    let mut base = at;
    for w in &mut words {
        let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
        // Lanes below 0x21 (a borrow may flag lanes above a true one, never below),
        // and lanes at or above 0x7F (no carry crosses lanes).
        let below = w.wrapping_sub(LOW * 0x21) & !w;
        let above = ((w & !HIGH).wrapping_add(LOW)) | w;
        let flagged = (below | above) & HIGH;
        if flagged != 0 {
            return base + lane(flagged);
        }
        base += 8;
    }
    let tail = words.remainder();
    base + tail
        .iter()
        .take_while(|&&b| matches!(b, 0x21..=0x7E))
        .count()
}

/// The index of the CR ending the field value (or reason phrase) that starts at `at`,
/// its LF checked: `Stop::OTHER` for any byte a value may not hold (RFC 9110 §5.5: HTAB, SP,
/// VCHAR and obs-text only) or a bare CR or LF, `Stop::more(line)` when the data ends first.
#[inline(always)]
fn value_end(data: &[u8], mut at: usize, line: usize) -> Result<usize, Stop> {
    loop {
        let rest = data.get(at..).ok_or(Stop::more(line))?;
        // Two words per step: half the loop overhead on long values.
        let mut pairs = rest.chunks_exact(16);
        let mut stop = None;
        for pair in &mut pairs {
            let (a, b) = pair.split_at(8);
            let a = value_stops(u64::from_le_bytes(a.try_into().expect("8 bytes")));
            let b = value_stops(u64::from_le_bytes(b.try_into().expect("8 bytes")));
            if a | b != 0 {
                stop = Some(at + if a != 0 { lane(a) } else { 8 + lane(b) });
                break;
            }
            at += 16;
        }
        let stop = match stop {
            Some(stop) => stop,
            None => {
                let tail = pairs.remainder();
                let i = tail.iter().position(|&b| b < 0x20 || b == 0x7F);
                at + i.ok_or(Stop::more(line))?
            }
        };
        match data[stop] {
            b'\t' => at = stop + 1,
            b'\r' => {
                return match byte(data, stop + 1, line)? {
                    b'\n' => Ok(stop),
                    _ => Err(Stop::OTHER),
                }
            }
            _ => return Err(Stop::OTHER),
        }
    }
}

/// Lanes of `w` a field value may not hold as such: below 0x20 (controls, HTAB, CR,
/// LF) or 0x7F (zero after the xor). A borrow only starts in such a lane, so it may
/// flag lanes above a true one, never below: the lowest flagged lane is exact.
#[inline(always)]
fn value_stops(w: u64) -> u64 {
    let ctl = w.wrapping_sub(LOW * 0x20) & !w;
    let x = w ^ (LOW * 0x7F);
    let del = x.wrapping_sub(LOW) & !x;
    (ctl | del) & HIGH
}

fn range(start: usize, end: usize) -> (u32, u32) {
    (start as u32, end as u32)
}

impl HeadIndex {
    /// Parses the request head at the start of `data` in one pass when all of it is
    /// there and it is clean (see the module docs); returns its length. After
    /// `Stop::more(at)`, the next call (with the same bytes and more) resumes at `at`.
    /// `Stop::OTHER` leaves the head to the incremental path: nothing is decided.
    pub(crate) fn tokenize_request(&mut self, data: &[u8], limits: &Limits) -> Result<usize, Stop> {
        let data = &data[..data.len().min(limits.max_head_bytes)];
        if self.resume == 0 {
            let line_end = self.tokenize_request_line(data, limits)?;
            self.fields.clear();
            self.summary = FieldSummary::default();
            self.resume = line_end + 2;
        }
        self.finish(data, limits)
    }

    /// The request line, into `self`; returns the index of its CR.
    fn tokenize_request_line(&mut self, data: &[u8], limits: &Limits) -> Result<usize, Stop> {
        let more = Stop::more(0);
        // The method: the two most common spelled out, any other token looked up.
        let (method, target_start) = match data.get(..5).ok_or(more)? {
            [b'G', b'E', b'T', b' ', _] => (Method::GET, 4),
            b"POST " => (Method::POST, 5),
            _ => {
                let end = token_end(data, 0);
                if byte(data, end, 0)? != b' ' || end == 0 {
                    return Err(Stop::OTHER);
                }
                (
                    Method::from_bytes(&data[..end]).map_err(|_| Stop::OTHER)?,
                    end + 1,
                )
            }
        };
        let target_end = visible_end(data, target_start);
        if byte(data, target_end, 0)? != b' ' || target_end == target_start {
            return Err(Stop::OTHER);
        }
        let target = &data[target_start..target_end];
        // Origin-form fits every method but CONNECT; other forms take a closer look.
        if target[0] != b'/' || method == Method::CONNECT {
            // Visible ASCII only, so UTF-8.
            let fits = std::str::from_utf8(target).is_ok_and(|t| target_form_fits(&method, t));
            if !fits {
                return Err(Stop::OTHER);
            }
        }
        let version_at = target_end + 1;
        let (version, crlf) = data
            .get(version_at..version_at + 10)
            .ok_or(more)?
            .split_at(8);
        let version = match u64::from_le_bytes(version.try_into().expect("8 bytes")) {
            v if v == u64::from_le_bytes(*b"HTTP/1.1") => Version::HTTP_11,
            v if v == u64::from_le_bytes(*b"HTTP/1.0") => Version::HTTP_10,
            _ => return Err(Stop::OTHER),
        };
        if crlf != b"\r\n" || version_at + 8 > limits.max_request_line {
            return Err(Stop::OTHER);
        }
        self.method = method;
        self.target = range(target_start, target_end);
        self.version = version;
        Ok(version_at + 8)
    }

    /// Parses the response head at the start of `data` in one pass when all of it is
    /// there and it is clean; as [`tokenize_request`](Self::tokenize_request).
    pub(crate) fn tokenize_response(
        &mut self,
        data: &[u8],
        limits: &Limits,
    ) -> Result<usize, Stop> {
        let data = &data[..data.len().min(limits.max_head_bytes)];
        if self.resume == 0 {
            let line_end = self.tokenize_status_line(data, limits)?;
            self.fields.clear();
            self.summary = FieldSummary::default();
            self.resume = line_end + 2;
        }
        self.finish(data, limits)
    }

    /// The status line, into `self`; returns the index of its CR.
    fn tokenize_status_line(&mut self, data: &[u8], limits: &Limits) -> Result<usize, Stop> {
        let line = data.get(..13).ok_or(Stop::more(0))?;
        let version = match &line[..9] {
            b"HTTP/1.1 " => Version::HTTP_11,
            b"HTTP/1.0 " => Version::HTTP_10,
            _ => return Err(Stop::OTHER),
        };
        let [h, t, o] = [line[9], line[10], line[11]];
        if ![h, t, o].iter().all(u8::is_ascii_digit) {
            return Err(Stop::OTHER);
        }
        let code = u16::from(h - b'0') * 100 + u16::from(t - b'0') * 10 + u16::from(o - b'0');
        let status = StatusCode::from_u16(code).map_err(|_| Stop::OTHER)?;
        let (reason, line_end) = match line[12] {
            b' ' => {
                let cr = value_end(data, 13, 0)?;
                (range(13, cr), cr)
            }
            b'\r' if byte(data, 13, 0)? == b'\n' => ((12, 12), 12),
            _ => return Err(Stop::OTHER),
        };
        if line_end > limits.max_request_line {
            return Err(Stop::OTHER);
        }
        self.version = version;
        self.status = status;
        self.reason = reason;
        Ok(line_end)
    }

    /// The field lines from `self.resume` on; the head's length once all are there.
    fn finish(&mut self, data: &[u8], limits: &Limits) -> Result<usize, Stop> {
        let fields = &mut self.fields;
        match tokenize_fields(
            fields,
            &mut self.summary,
            data,
            self.resume,
            limits.max_headers,
        ) {
            Ok(len) => {
                self.resume = 0;
                self.len = len;
                Ok(len)
            }
            Err(stop) => {
                self.resume = stop.clean_prefix().unwrap_or(0);
                Err(stop)
            }
        }
    }
}

/// The field lines from `at` (a line start) to the empty line ending the head, appended
/// to `fields` (at most `max` in all) and noted in `summary`; returns the head's length.
/// Out of line, so that its loops have the registers.
#[inline(never)]
fn tokenize_fields(
    fields: &mut Vec<FieldIndex>,
    summary: &mut FieldSummary,
    data: &[u8],
    mut at: usize,
    max: usize,
) -> Result<usize, Stop> {
    loop {
        let line = at;
        if byte(data, at, line)? == b'\r' {
            return match byte(data, at + 1, line)? {
                b'\n' => Ok(at + 2),
                _ => Err(Stop::OTHER),
            };
        }
        let name_end = token_end(data, at);
        if byte(data, name_end, line)? != b':' || name_end == at {
            return Err(Stop::OTHER);
        }
        // Whitespace around the value is not part of it (RFC 9112 §5.1); usually one
        // SP before it and none after. In a value only SP and HTAB are at or below
        // 0x20.
        let mut start = name_end + 1;
        if data.get(start) == Some(&b' ') {
            start += 1;
        }
        while byte(data, start, line)? <= b' ' && matches!(data[start], b' ' | b'\t') {
            start += 1;
        }
        let cr = value_end(data, start, line)?;
        let mut end = cr;
        if data[end - 1] <= b' ' {
            while end > start && data[end - 1] <= b' ' {
                end -= 1;
            }
        }
        if fields.len() == max {
            return Err(Stop::OTHER);
        }
        fields.push(FieldIndex {
            name: range(at, name_end),
            value: range(start, end),
        });
        // Noted with the line, so a head that stops for want of bytes has noted
        // exactly the lines it recorded.
        let name = &data[at..name_end];
        if FieldSummary::may_note(name) {
            summary.note(name, &data[start..end]);
        }
        at = cr + 2;
    }
}

#[cfg(test)]
mod tests {
    use super::super::head::HeadScanner;
    use super::super::Error;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn value_scan_flags_only_true_lanes_after_obs_text() {
        // Every pair (obs-text or not, then any byte) in every lane of a word.
        for first in [0x80u8, 0x85, 0xA0, 0xFF, b'a'] {
            for b in 0u8..=255 {
                for at in 0..15 {
                    let mut data = vec![b'a'; 16];
                    data[at] = first;
                    data[at + 1] = b;
                    data.extend_from_slice(b"\r\n");
                    let value = b == b'\t' || b == b' ' || (0x21..=0x7E).contains(&b) || b >= 0x80;
                    assert_eq!(
                        value_end(&data, 0, 0).ok(),
                        value.then_some(16),
                        "{first:#x} {b:#x} at {at}"
                    );
                }
            }
        }
    }

    #[test]
    fn word_scans_stop_at_the_first_byte_out_of_their_run() {
        for b in 0u8..=255 {
            for at in 0..20 {
                let mut data = vec![b'a'; 24];
                data[at] = b;
                let visible = (0x21..=0x7E).contains(&b);
                assert_eq!(
                    visible_end(&data, 0),
                    if visible { 24 } else { at },
                    "{b:#x}"
                );
                let token = TCHAR[b as usize] == 1;
                assert_eq!(token_end(&data, 0), if token { 24 } else { at }, "{b:#x}");
                data.extend_from_slice(b"\r\n");
                let value = b == b'\t' || b == b' ' || (0x21..=0x7E).contains(&b) || b >= 0x80;
                // A CR inside is bare (an `a` follows it): no value ends there.
                assert_eq!(
                    value_end(&data, 0, 0).ok(),
                    value.then_some(24),
                    "{b:#x} at {at}"
                );
            }
        }
    }

    /// What the incremental path makes of `data`: the scanner finds the end, then
    /// httparse and our start-line checks parse it.
    fn incremental(data: &[u8], limits: &Limits, response: bool) -> Result<HeadIndex, Error> {
        let mut scanner = HeadScanner::default();
        let len = scanner
            .scan(
                data,
                limits.max_request_line,
                limits.max_head_bytes,
                Error::HeadTooLarge,
            )?
            .ok_or(Error::IncompleteHead)?;
        let mut index = HeadIndex::default();
        if response {
            index.parse_response(&data[..len], limits)?;
        } else {
            index.parse_request(&data[..len], limits)?;
        }
        Ok(index)
    }

    fn same(a: &HeadIndex, b: &HeadIndex, response: bool) -> bool {
        let fields =
            |h: &HeadIndex| -> Vec<_> { h.fields.iter().map(|f| (f.name, f.value)).collect() };
        a.len == b.len
            && a.version == b.version
            && fields(a) == fields(b)
            && if response {
                a.status == b.status && a.reason == b.reason
            } else {
                a.method == b.method && a.target == b.target
            }
    }

    fn line_end() -> impl Strategy<Value = &'static [u8]> {
        prop_oneof![
            12 => Just(&b"\r\n"[..]),
            1 => Just(&b"\n"[..]),
            1 => Just(&b"\r"[..]),
            1 => Just(&b" \r\n"[..]),
        ]
    }

    /// Bytes that matter to one rule or another, around the edges of every class.
    fn value_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            8 => prop::sample::select(&b"abcXYZ019-_.:;,/\"=()"[..]),
            2 => Just(b' '),
            1 => Just(b'\t'),
            1 => prop::sample::select(&[0x00, 0x08, 0x0A, 0x0B, 0x0D, 0x1F, 0x7F, 0x80, 0xC3, 0xFF][..]),
        ]
    }

    fn field() -> impl Strategy<Value = Vec<u8>> {
        let name = prop_oneof![
            4 => prop::sample::select(vec![
                "Host", "host", "X-A", "Content-Length", "Transfer-Encoding", "Connection",
                "Upgrade-Insecure-Requests", "a_b.c!#$%&'*+^`|~", "ACCEPT-ENCODING",
            ]).prop_map(|s| s.as_bytes().to_vec()),
            1 => proptest::collection::vec(value_byte(), 0..20),
        ];
        let sep = prop_oneof![
            6 => Just(&b": "[..]),
            2 => Just(&b":"[..]),
            1 => Just(&b":\t "[..]),
            1 => Just(&b" :"[..]),
        ];
        let value = proptest::collection::vec(value_byte(), 0..40);
        (name, sep, value, line_end()).prop_map(|(n, s, v, e)| [&n[..], s, &v, e].concat())
    }

    fn fields_and_end() -> impl Strategy<Value = Vec<u8>> {
        (
            proptest::collection::vec(field(), 0..6),
            line_end(),
            "[a-z]{0,3}",
        )
            .prop_map(|(fields, end, rest)| {
                [fields.concat(), end.to_vec(), rest.into_bytes()].concat()
            })
    }

    fn request() -> impl Strategy<Value = Vec<u8>> {
        let method = prop_oneof![
            6 => prop::sample::select(vec!["GET", "POST", "PUT", "OPTIONS", "CONNECT", "M-SEARCH"]),
            1 => prop::sample::select(vec!["", "G(T", "get", "GET ", "\r\nGET"]),
        ];
        let target = prop_oneof![
            6 => prop::sample::select(vec![
                "/", "/plaintext", "/a/b?c=d&e", "*", "h.example:443", "http://h.example/x",
                "/\u{e9}", "/a\tb", "", "/a b",
            ]).prop_map(|s| s.as_bytes().to_vec()),
            1 => proptest::collection::vec(value_byte(), 0..30),
        ];
        let version = prop::sample::select(vec![
            "HTTP/1.1",
            "HTTP/1.0",
            "HTTP/2.0",
            "HTTP/1.1 ",
            "http/1.1",
        ]);
        (method, target, version, line_end(), fields_and_end()).prop_map(|(m, t, v, e, rest)| {
            [m.as_bytes(), b" ", &t, b" ", v.as_bytes(), e, &rest].concat()
        })
    }

    fn response() -> impl Strategy<Value = Vec<u8>> {
        let version =
            prop::sample::select(vec!["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "\r\nHTTP/1.1"]);
        let status = prop::sample::select(vec!["200", "404", "101", "099", "20x", "1000"]);
        let reason = prop_oneof![
            4 => prop::sample::select(vec![" OK", " Not Found", "", " ", "  two  spaces "])
                .prop_map(|s| s.as_bytes().to_vec()),
            1 => proptest::collection::vec(value_byte(), 0..20),
        ];
        (version, status, reason, line_end(), fields_and_end()).prop_map(|(v, s, r, e, rest)| {
            [v.as_bytes(), b" ", s.as_bytes(), &r, e, &rest].concat()
        })
    }

    fn limits() -> impl Strategy<Value = Limits> {
        prop_oneof![
            Just(Limits::default()),
            (5usize..40, 10usize..200, 0usize..5).prop_map(|(line, head, fields)| {
                Limits::default()
                    .max_request_line(line)
                    .max_head_bytes(head)
                    .max_headers(fields)
            }),
        ]
    }

    /// The tokenizer takes only what the incremental path takes, with the same result;
    /// and it takes every clean head the incremental path takes.
    fn tokenize(
        index: &mut HeadIndex,
        data: &[u8],
        limits: &Limits,
        response: bool,
    ) -> Result<usize, Stop> {
        if response {
            index.tokenize_response(data, limits)
        } else {
            index.tokenize_request(data, limits)
        }
    }

    /// The tokenizer takes only what the incremental path takes, with the same result,
    /// and it takes every clean head the incremental path takes. Stopped at `cut` for
    /// want of bytes, the scanner may take over where it says and it resumes there to
    /// the same result.
    fn agrees(
        data: &[u8],
        limits: &Limits,
        response: bool,
        cut: usize,
    ) -> Result<(), TestCaseError> {
        let mut tokenized = HeadIndex::default();
        let taken = tokenize(&mut tokenized, data, limits, response);
        let want = incremental(data, limits, response);
        let shown = String::from_utf8_lossy(data);
        match (taken, &want) {
            (Ok(len), Ok(index)) => {
                prop_assert_eq!(len, index.len, "{:?}", shown);
                prop_assert!(same(&tokenized, index, response), "{:?}", shown);
            }
            (Ok(_), Err(e)) => prop_assert!(false, "took {:?}, incremental says {:?}", shown, e),
            (Err(_), Ok(_)) => {
                // Only heads with something unusual are left to the incremental path.
                let clean = !data.starts_with(b"\r\n")
                    && !data.windows(2).any(|w| w == b" \r" || w == b"\t\r")
                    && data
                        .iter()
                        .all(|&b| b == b'\r' || b == b'\n' || (0x20..0x7F).contains(&b));
                prop_assert!(!clean, "left {:?} to the incremental path", shown);
            }
            (Err(_), Err(_)) => {}
        }
        let cut = cut % (data.len() + 1);
        let mut resumed = HeadIndex::default();
        if let Some(clean) = tokenize(&mut resumed, &data[..cut], limits, response)
            .err()
            .and_then(Stop::clean_prefix)
        {
            prop_assert!(clean <= cut);
            let scan = |scanner: &mut HeadScanner| {
                scanner.scan(
                    &data[..cut],
                    limits.max_request_line,
                    limits.max_head_bytes,
                    Error::HeadTooLarge,
                )
            };
            let mut from_start = HeadScanner::default();
            let mut taking_over = HeadScanner::default();
            taking_over.resume_at(clean);
            prop_assert_eq!(
                scan(&mut taking_over),
                scan(&mut from_start),
                "{:?} cut at {}",
                shown,
                cut
            );
            let again = tokenize(&mut resumed, data, limits, response);
            prop_assert_eq!(again, taken, "{:?} cut at {}", shown, cut);
            if again.is_ok() {
                prop_assert!(
                    same(&resumed, &tokenized, response),
                    "{:?} cut at {}",
                    shown,
                    cut
                );
            }
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn the_tokenizer_decides_like_the_incremental_path_on_requests(
            data in request(),
            limits in limits(),
            cut in any::<usize>(),
        ) {
            agrees(&data, &limits, false, cut)?;
        }

        #[test]
        fn the_tokenizer_decides_like_the_incremental_path_on_responses(
            data in response(),
            limits in limits(),
            cut in any::<usize>(),
        ) {
            agrees(&data, &limits, true, cut)?;
        }
    }

    #[test]
    fn typical_heads_are_tokenized() {
        let limits = Limits::default();
        let mut index = HeadIndex::default();
        let request = b"GET /a?b HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\nbody";
        assert_eq!(
            index.tokenize_request(request, &limits),
            Ok(request.len() - 4)
        );
        let field = |i: usize| {
            let f = index.fields[i];
            let at = |(a, b): (u32, u32)| &request[a as usize..b as usize];
            (at(f.name), at(f.value))
        };
        assert_eq!(field(0), (&b"Host"[..], &b"x"[..]));
        assert_eq!(field(1), (&b"X-Empty"[..], &b""[..]));
        assert_eq!(field(2), (&b"X-Pad"[..], &b"v"[..]));
        let response = b"HTTP/1.0 404 Not \xFFFound\r\nContent-Length: 0\r\n\r\n";
        assert_eq!(
            index.tokenize_response(response, &limits),
            Ok(response.len())
        );
        assert_eq!(index.status, StatusCode::NOT_FOUND);
        let (a, b) = index.reason;
        assert_eq!(&response[a as usize..b as usize], b"Not \xFFFound");
        // Incomplete: left to the scanner.
        assert_eq!(
            index.tokenize_request(&request[..20], &limits),
            Err(Stop::more(19))
        );
        // ... and resumes where the clean lines end.
        assert_eq!(
            index.tokenize_request(request, &limits),
            Ok(request.len() - 4)
        );
    }
}
