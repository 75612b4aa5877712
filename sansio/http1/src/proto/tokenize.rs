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
/// its LF checked; `None` for any byte a value may not hold (RFC 9110 §5.5: HTAB, SP,
/// VCHAR and obs-text only), a bare CR or LF, or the end of `data`.
#[inline(always)]
fn value_end(data: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let mut words = data.get(at..)?.chunks_exact(8);
        let mut stop = None;
        for w in &mut words {
            let w = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            // Lanes below 0x20 (controls, HTAB, CR, LF) or equal to 0x7F: below 0x80,
            // those whose seven low bits plus one, kept to seven bits, are below 0x21
            // (0x7F wraps to 0). With each lane's top bit set first, no sum or
            // difference crosses a lane: the test is exact in every lane.
            let next = (w & !HIGH).wrapping_add(LOW) & !HIGH;
            let flagged = !((next | HIGH).wrapping_sub(LOW * 0x21) | w) & HIGH;
            if flagged != 0 {
                stop = Some(at + lane(flagged));
                break;
            }
            at += 8;
        }
        let stop = match stop {
            Some(stop) => stop,
            None => {
                at + words
                    .remainder()
                    .iter()
                    .position(|&b| b < 0x20 || b == 0x7F)?
            }
        };
        match *data.get(stop)? {
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
        // Origin-form fits every method but CONNECT; other forms take a closer look.
        if target[0] != b'/' || method == Method::CONNECT {
            // Visible ASCII only, so UTF-8.
            let target = std::str::from_utf8(target).ok()?;
            if !target_form_fits(&method, target) {
                return None;
            }
        }
        let version_at = target_end + 1;
        let (version, crlf) = data.get(version_at..version_at + 10)?.split_at(8);
        let version = match u64::from_le_bytes(version.try_into().expect("8 bytes")) {
            v if v == u64::from_le_bytes(*b"HTTP/1.1") => Version::HTTP_11,
            v if v == u64::from_le_bytes(*b"HTTP/1.0") => Version::HTTP_10,
            _ => return None,
        };
        if crlf != b"\r\n" {
            return None;
        }
        if version_at + 8 > limits.max_request_line {
            return None;
        }
        let len = tokenize_fields(&mut self.fields, data, version_at + 10, limits.max_headers)?;
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
        let len = tokenize_fields(&mut self.fields, data, line_end + 2, limits.max_headers)?;
        self.version = version;
        self.status = status;
        self.reason = reason;
        self.len = len;
        Some(len)
    }
}

/// The field lines from `at` to the empty line ending the head, into `fields` (at most
/// `max`); returns the head's length. Out of line, so that its loops have the registers.
#[inline(never)]
fn tokenize_fields(
    fields: &mut Vec<FieldIndex>,
    data: &[u8],
    mut at: usize,
    max: usize,
) -> Option<usize> {
    fields.clear();
    loop {
        if *data.get(at)? == b'\r' {
            return (*data.get(at + 1)? == b'\n').then_some(at + 2);
        }
        let name_end = token_end(data, at);
        if name_end == at || *data.get(name_end)? != b':' {
            return None;
        }
        // Whitespace around the value is not part of it (RFC 9112 §5.1); usually one
        // SP before it and none after. In a value only SP and HTAB are at or below
        // 0x20.
        let mut start = name_end + 1;
        if data.get(start) == Some(&b' ') {
            start += 1;
        }
        while *data.get(start)? <= b' ' && matches!(data[start], b' ' | b'\t') {
            start += 1;
        }
        let cr = value_end(data, start)?;
        let mut end = cr;
        if data[end - 1] <= b' ' {
            while end > start && data[end - 1] <= b' ' {
                end -= 1;
            }
        }
        if fields.len() == max {
            return None;
        }
        fields.push(FieldIndex {
            name: range(at, name_end),
            value: range(start, end),
        });
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
                        value_end(&data, 0),
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
                assert_eq!(value_end(&data, 0), value.then_some(24), "{b:#x} at {at}");
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
    fn agrees(data: &[u8], limits: &Limits, response: bool) -> Result<(), TestCaseError> {
        let mut tokenized = HeadIndex::default();
        let taken = if response {
            tokenized.tokenize_response(data, limits)
        } else {
            tokenized.tokenize_request(data, limits)
        };
        let want = incremental(data, limits, response);
        let shown = String::from_utf8_lossy(data);
        match (taken, &want) {
            (Some(len), Ok(index)) => {
                prop_assert_eq!(len, index.len, "{:?}", shown);
                prop_assert!(same(&tokenized, index, response), "{:?}", shown);
            }
            (Some(_), Err(e)) => prop_assert!(false, "took {:?}, incremental says {:?}", shown, e),
            (None, Ok(_)) => {
                // Only heads with something unusual are left to the incremental path.
                let clean = !data.starts_with(b"\r\n")
                    && !data.windows(2).any(|w| w == b" \r" || w == b"\t\r")
                    && data
                        .iter()
                        .all(|&b| b == b'\r' || b == b'\n' || (0x20..0x7F).contains(&b));
                prop_assert!(!clean, "left {:?} to the incremental path", shown);
            }
            (None, Err(_)) => {}
        }
        Ok(())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn the_tokenizer_decides_like_the_incremental_path_on_requests(
            data in request(),
            limits in limits(),
        ) {
            agrees(&data, &limits, false)?;
        }

        #[test]
        fn the_tokenizer_decides_like_the_incremental_path_on_responses(
            data in response(),
            limits in limits(),
        ) {
            agrees(&data, &limits, true)?;
        }
    }

    #[test]
    fn typical_heads_are_tokenized() {
        let limits = Limits::default();
        let mut index = HeadIndex::default();
        let request = b"GET /a?b HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Pad: \t v \t\r\n\r\nbody";
        assert_eq!(
            index.tokenize_request(request, &limits),
            Some(request.len() - 4)
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
            Some(response.len())
        );
        assert_eq!(index.status, StatusCode::NOT_FOUND);
        let (a, b) = index.reason;
        assert_eq!(&response[a as usize..b as usize], b"Not \xFFFound");
        // Incomplete: left to the scanner.
        assert_eq!(index.tokenize_request(&request[..20], &limits), None);
    }
}
