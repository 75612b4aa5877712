//! Heads: finding their end incrementally, parsing those the tokenizer (see
//! `tokenize.rs`) does not take with `httparse` for the exact error, and the
//! borrowed views handed to the application.

use std::fmt;
use std::mem::MaybeUninit;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};

use super::framing::{is_forbidden_trailer, FieldSummary};
use super::{Error, Limits, MAX_HEADERS_CAP};

/// `0x0101…01`: multiplied by a byte, that byte in every lane of a word.
const LOW_BYTES: u64 = u64::from_le_bytes([1; 8]);
/// `0x8080…80`: the top bit of every lane.
const HIGH_BITS: u64 = LOW_BYTES * 0x80;

/// Finds the end of a head (or trailer section) across any split of its bytes, looking
/// at each byte once, and enforces the line rules httparse is lenient about: bare LF,
/// bare CR, obs-fold, and the start line and head size limits.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct HeadScanner {
    /// Next byte to look at, relative to the start of the head.
    pos: usize,
    line_start: usize,
    first_line_done: bool,
}

impl HeadScanner {
    /// Restarts for a head (with a start line) or a trailer section (without).
    pub(crate) fn reset(&mut self, trailers: bool) {
        *self = Self {
            pos: 0,
            line_start: 0,
            first_line_done: trailers,
        };
    }

    /// Takes over at `at`, the start of a line every byte before which is known clean
    /// (the tokenizer's `More`): the state a byte-at-a-time reading has there.
    pub(crate) fn resume_at(&mut self, at: usize) {
        *self = Self {
            pos: at,
            line_start: at,
            first_line_done: at > 0,
        };
    }

    /// The tokenizer's answer for a whole head: its length, or `None` when the head is
    /// not all there, after taking over behind the clean lines it vouched for.
    pub(crate) fn after_tokenizer(
        &mut self,
        tokenized: Result<usize, super::tokenize::Stop>,
    ) -> Option<usize> {
        match tokenized {
            Ok(len) => Some(len),
            Err(stop) => {
                if let Some(clean) = stop.clean_prefix() {
                    self.resume_at(clean);
                }
                None
            }
        }
    }

    /// Whether any byte of the head has been seen.
    pub(crate) fn started(&self) -> bool {
        self.pos > 0
    }

    /// Returns the head's length once `data` (the head so far, from its first byte)
    /// holds its final empty line.
    #[inline]
    pub(crate) fn scan(
        &mut self,
        data: &[u8],
        max_line: usize,
        max_bytes: usize,
        too_large: Error,
    ) -> Result<Option<usize>, Error> {
        // A byte at a time: an ordinary byte only moves the position on.
        if data.len() == self.pos + 1 && data.len() <= max_bytes {
            let b = data[self.pos];
            if b != b'\r' && b != b'\n' {
                self.check_line(data.len(), max_line)?;
                self.pos = data.len();
                return Ok(None);
            }
        }
        self.scan_words(data, max_line, max_bytes, too_large)
    }

    #[inline(never)]
    fn scan_words(
        &mut self,
        data: &[u8],
        max_line: usize,
        max_bytes: usize,
        too_large: Error,
    ) -> Result<Option<usize>, Error> {
        // Errors are decided as if byte by byte, in order, so any split of the input
        // meets the same one first; only CR and LF need a look.
        let stop = data.len().min(max_bytes);
        let from = self.pos.min(stop);
        let hay = &data[from..stop];
        // Where undecided bytes start: a CRLF's LF is decided with its CR.
        let mut next = self.pos;
        // Eight bytes at a time: a word's bytes below 0x0E (CR, LF, and the tabs and
        // controls that share the range) are flagged, possibly with false alarms just
        // above a true one; each flagged byte is looked at. Header lines are short, so
        // this beats a per-hit memchr set-up.
        let mut words = hay.chunks_exact(8);
        let mut base = from;
        for word in &mut words {
            let v = u64::from_le_bytes(word.try_into().expect("8 bytes"));
            let mut flagged = v.wrapping_sub(LOW_BYTES * 0x0E) & !v & HIGH_BITS;
            while flagged != 0 {
                let at = base + (flagged.trailing_zeros() / 8) as usize;
                flagged &= flagged - 1;
                if let Some(r) = self.at_byte(data, at, &mut next, max_line, max_bytes, too_large) {
                    return r;
                }
            }
            base += 8;
        }
        for at in base..stop {
            if let Some(r) = self.at_byte(data, at, &mut next, max_line, max_bytes, too_large) {
                return r;
            }
        }
        // Every byte left is an ordinary line byte.
        self.check_line(stop, max_line)?;
        if data.len() > max_bytes {
            return Err(too_large);
        }
        self.pos = data.len();
        Ok(None)
    }

    /// Looks at the byte at `at`, flagged as possibly CR or LF: `at_cr_or_lf` when it is
    /// one that is not yet decided.
    #[inline(always)]
    fn at_byte(
        &mut self,
        data: &[u8],
        at: usize,
        next: &mut usize,
        max_line: usize,
        max_bytes: usize,
        too_large: Error,
    ) -> Option<Result<Option<usize>, Error>> {
        let b = data[at];
        if (b == b'\r' || b == b'\n') && at >= *next {
            self.at_cr_or_lf(data, at, next, max_line, max_bytes, too_large)
        } else {
            None
        }
    }

    /// Decides the CR or LF at `at` (every byte before it, from `*next`, being an
    /// ordinary line byte): `None` when a line ended there (`*next` moves past it),
    /// else what `scan` returns.
    #[inline(always)]
    fn at_cr_or_lf(
        &mut self,
        data: &[u8],
        at: usize,
        next: &mut usize,
        max_line: usize,
        max_bytes: usize,
        too_large: Error,
    ) -> Option<Result<Option<usize>, Error>> {
        if let Err(e) = self.check_line(at, max_line) {
            return Some(Err(e));
        }
        if data[at] == b'\n' {
            // Not preceded by CR: a CR is always decided with its next byte.
            return Some(Err(Error::BareLf));
        }
        let lf = at + 1;
        if lf == data.len() {
            // The CR's partner is not here yet: look at the CR again next time.
            self.pos = at;
            return Some(Ok(None));
        }
        if lf >= max_bytes {
            return Some(Err(too_large));
        }
        if data[lf] != b'\n' {
            return Some(Err(Error::BareCr));
        }
        let line_len = at - self.line_start;
        if !self.first_line_done {
            if line_len > max_line {
                return Some(Err(Error::RequestLineTooLong));
            }
            self.first_line_done = true;
        } else if line_len == 0 {
            self.pos = lf + 1;
            return Some(Ok(Some(lf + 1)));
        } else if matches!(data[self.line_start], b' ' | b'\t') {
            return Some(Err(Error::ObsFold));
        }
        self.line_start = lf + 1;
        *next = lf + 1;
        None
    }

    /// The start line may hold at most `max_line` bytes: `end` is one past the last
    /// ordinary byte seen on the current line.
    fn check_line(&self, end: usize, max_line: usize) -> Result<(), Error> {
        if !self.first_line_done && end > self.line_start + max_line {
            return Err(Error::RequestLineTooLong);
        }
        Ok(())
    }
}

/// Offsets of one header field in its head: name and value ranges.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FieldIndex {
    pub(crate) name: (u32, u32),
    pub(crate) value: (u32, u32),
}

/// A parsed head kept as offsets into the input buffer: no allocation per message.
#[derive(Debug)]
pub(crate) struct HeadIndex {
    pub(crate) method: Method,
    pub(crate) target: (u32, u32),
    pub(crate) version: Version,
    pub(crate) status: StatusCode,
    pub(crate) reason: (u32, u32),
    pub(crate) fields: Vec<FieldIndex>,
    /// Head length in bytes, CRLFs included.
    pub(crate) len: usize,
    /// Where the tokenizer resumes on a head that arrives in pieces (0: at the start).
    pub(crate) resume: usize,
    /// What the head's fields say about framing and persistence (not kept for a
    /// trailer section).
    pub(crate) summary: FieldSummary,
}

impl Default for HeadIndex {
    fn default() -> Self {
        Self {
            method: Method::GET,
            target: (0, 0),
            version: Version::HTTP_11,
            status: StatusCode::OK,
            reason: (0, 0),
            fields: Vec::new(),
            len: 0,
            resume: 0,
            summary: FieldSummary::default(),
        }
    }
}

/// `bytes` as a `str`, empty if they are not UTF-8 (a parsed target or field name
/// always is). The targets and names are short and almost always ASCII: walking them
/// as [`Utf8Chunks`](std::str::Utf8Chunks) costs half of `from_utf8`'s alignment
/// bookkeeping on so few bytes.
#[inline]
fn utf8(bytes: &[u8]) -> &str {
    match bytes.utf8_chunks().next() {
        Some(chunk) if chunk.invalid().is_empty() => chunk.valid(),
        _ => "",
    }
}

fn range_in(base: &[u8], part: &[u8]) -> (u32, u32) {
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    (start as u32, (start + part.len()) as u32)
}

fn is_tchar(b: u8) -> bool {
    matches!(
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
    ) || b.is_ascii_alphanumeric()
}

fn map_httparse(e: httparse::Error, head: &[u8]) -> Error {
    match e {
        httparse::Error::HeaderName => Error::InvalidHeaderName,
        httparse::Error::HeaderValue => Error::InvalidHeaderValue,
        httparse::Error::NewLine => Error::BareLf,
        httparse::Error::Status => Error::InvalidStatus,
        httparse::Error::Token => Error::InvalidTarget,
        httparse::Error::TooManyHeaders => Error::TooManyHeaders,
        httparse::Error::Version => {
            // A well-formed `HTTP/x.y` we do not speak is 505; anything else is 400.
            let line = head.split(|&b| b == b'\r').next().unwrap_or(head);
            let version = line.rsplit(|&b| b == b' ').next().unwrap_or(line);
            let first = line.split(|&b| b == b' ').next().unwrap_or(line);
            let looks_like = |v: &[u8]| {
                v.len() == 8
                    && v.starts_with(b"HTTP/")
                    && v[5].is_ascii_digit()
                    && v[6] == b'.'
                    && v[7].is_ascii_digit()
            };
            if looks_like(version) || looks_like(first) {
                Error::UnsupportedVersion
            } else {
                Error::InvalidStartLine
            }
        }
    }
}

/// RFC 9112 §3.2: origin-form (`/path?query`) for any method, absolute-form
/// (`scheme://authority/path`) for any method, authority-form (`host:port`) only for
/// CONNECT, which takes nothing else, and asterisk-form (`*`) only for OPTIONS.
pub(crate) fn target_form_fits(method: &Method, target: &str) -> bool {
    let absolute = || {
        target.split_once("://").is_some_and(|(scheme, rest)| {
            // RFC 3986 §3.1: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), then an authority.
            let mut s = scheme.bytes();
            s.next().is_some_and(|b| b.is_ascii_alphabetic())
                && s.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
                && !rest.is_empty()
                && !rest.starts_with('/')
        })
    };
    if *method == Method::CONNECT {
        // host ":" port, the port required.
        return target.rsplit_once(':').is_some_and(|(host, port)| {
            !host.is_empty()
                && !host.contains(['/', '?', '#', '@'])
                && !port.is_empty()
                && port.bytes().all(|b| b.is_ascii_digit())
        });
    }
    match target.as_bytes().first() {
        Some(b'/') => true,
        Some(b'*') => target == "*" && *method == Method::OPTIONS,
        _ => absolute(),
    }
}

/// The method: one or more token characters before the first space.
fn check_method(head: &[u8]) -> Result<(), Error> {
    let method_end = head.iter().position(|&b| b == b' ').unwrap_or(head.len());
    if method_end == 0 || !head[..method_end].iter().all(|&b| is_tchar(b)) {
        return Err(Error::InvalidMethod);
    }
    Ok(())
}

impl HeadIndex {
    /// Becomes a copy of `other`, reusing this index's storage.
    pub(crate) fn copy_from(&mut self, other: &HeadIndex) {
        self.method.clone_from(&other.method);
        self.target = other.target;
        self.version = other.version;
        self.status = other.status;
        self.reason = other.reason;
        self.fields.clear();
        self.fields.extend_from_slice(&other.fields);
        self.len = other.len;
        self.summary = other.summary;
    }

    fn store_fields(&mut self, head: &[u8], fields: &[httparse::Header<'_>]) {
        self.fields.clear();
        for f in fields {
            self.fields.push(FieldIndex {
                name: range_in(head, f.name.as_bytes()),
                value: range_in(head, f.value),
            });
        }
    }

    /// Parses a complete request head (its end already found by [`HeadScanner`]) that
    /// the tokenizer did not take: `httparse` and the start-line checks say what is
    /// wrong with it, or parse what the tokenizer leaves to them (a target with UTF-8).
    pub(crate) fn parse_request(&mut self, head: &[u8], limits: &Limits) -> Result<(), Error> {
        check_method(head)?;
        // Uninitialized slots: filling 128 empty headers would cost more than parsing.
        let mut storage = [const { MaybeUninit::uninit() }; MAX_HEADERS_CAP];
        let mut req = httparse::Request::new(&mut []);
        match req.parse_with_uninit_headers(head, &mut storage[..limits.max_headers]) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(Error::InvalidStartLine),
            Err(e) => return Err(map_httparse(e, head)),
        }
        self.store_request(head, &req)
    }

    /// The start line's checks httparse does not make, and the head stored as offsets.
    fn store_request(&mut self, head: &[u8], req: &httparse::Request<'_, '_>) -> Result<(), Error> {
        let method = req.method.ok_or(Error::InvalidStartLine)?;
        self.method = Method::from_bytes(method.as_bytes()).map_err(|_| Error::InvalidMethod)?;
        let target = req.path.ok_or(Error::InvalidStartLine)?;
        if !target_form_fits(&self.method, target) {
            return Err(Error::InvalidTarget);
        }
        self.target = range_in(head, target.as_bytes());
        self.version = match req.version {
            Some(0) => Version::HTTP_10,
            Some(1) => Version::HTTP_11,
            _ => return Err(Error::UnsupportedVersion),
        };
        self.store_fields(head, req.headers);
        self.summary = FieldSummary::gather(head, &self.fields);
        self.len = head.len();
        Ok(())
    }

    /// Parses a complete response head.
    pub(crate) fn parse_response(&mut self, head: &[u8], limits: &Limits) -> Result<(), Error> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
        let mut res = httparse::Response::new(&mut storage[..limits.max_headers]);
        match res.parse(head) {
            Ok(httparse::Status::Complete(_)) => {}
            Ok(httparse::Status::Partial) => return Err(Error::InvalidStartLine),
            Err(e) => return Err(map_httparse(e, head)),
        }
        self.version = match res.version {
            Some(0) => Version::HTTP_10,
            Some(1) => Version::HTTP_11,
            _ => return Err(Error::UnsupportedVersion),
        };
        let code = res.code.ok_or(Error::InvalidStatus)?;
        self.status = StatusCode::from_u16(code).map_err(|_| Error::InvalidStatus)?;
        // The reason as received, obs-text included (httparse hands back an empty
        // string for one with obs-text): after `HTTP/1.x NNN ` on the status line,
        // which may follow empty lines.
        let start = head
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        let line = &head[start..];
        let line_len = line
            .iter()
            .position(|&b| b == b'\r' || b == b'\n')
            .unwrap_or(line.len());
        self.reason = ((start + line_len.min(13)) as u32, (start + line_len) as u32);
        self.store_fields(head, res.headers);
        self.summary = FieldSummary::gather(head, &self.fields);
        self.len = head.len();
        Ok(())
    }

    /// Parses a complete trailer section.
    pub(crate) fn parse_trailers(&mut self, section: &[u8], limits: &Limits) -> Result<(), Error> {
        let mut storage = [httparse::EMPTY_HEADER; MAX_HEADERS_CAP];
        match httparse::parse_headers(section, &mut storage[..limits.max_headers]) {
            Ok(httparse::Status::Complete((_, fields))) => {
                if fields
                    .iter()
                    .any(|f| is_forbidden_trailer(f.name.as_bytes()))
                {
                    return Err(Error::ForbiddenTrailer);
                }
                self.store_fields(section, fields);
                self.len = section.len();
                Ok(())
            }
            Err(httparse::Error::TooManyHeaders) => Err(Error::TrailersTooLarge),
            _ => Err(Error::InvalidTrailers),
        }
    }
}

/// Header fields of a parsed head or trailer section, borrowed from the connection's
/// buffer: names and values as received, in order, duplicates kept.
#[derive(Clone, Copy)]
pub struct Headers<'a> {
    buf: &'a [u8],
    fields: &'a [FieldIndex],
}

impl<'a> Headers<'a> {
    pub(crate) fn new(buf: &'a [u8], fields: &'a [FieldIndex]) -> Self {
        Self { buf, fields }
    }

    /// Number of fields.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether there are no fields.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Every field as `(name, value)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (&'a str, &'a [u8])> + 'a {
        let buf = self.buf;
        self.fields.iter().map(move |f| {
            let name = &buf[f.name.0 as usize..f.name.1 as usize];
            // Parsed names are tokens, so ASCII.
            let name = utf8(name);
            (name, &buf[f.value.0 as usize..f.value.1 as usize])
        })
    }

    /// The value of the first field named `name` (compared case-insensitively).
    pub fn get(&self, name: &str) -> Option<&'a [u8]> {
        self.get_all(name).next()
    }

    /// Every value of the fields named `name`, in order.
    pub fn get_all<'n>(&self, name: &'n str) -> impl Iterator<Item = &'a [u8]> + 'n
    where
        'a: 'n,
    {
        self.iter()
            .filter(move |(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// Copies the fields into an `http::HeaderMap` (allocates).
    pub fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::with_capacity(self.len());
        for (name, value) in self.iter() {
            // Both were validated when parsed; the conversions cannot fail.
            if let (Ok(n), Ok(v)) = (
                HeaderName::from_bytes(name.as_bytes()),
                HeaderValue::from_bytes(value),
            ) {
                map.append(n, v);
            }
        }
        map
    }
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(n, v)| (n, String::from_utf8_lossy(v))))
            .finish()
    }
}

/// A request head, borrowed from the connection's buffer until the next `poll_event`.
#[derive(Clone, Copy)]
pub struct RequestHead<'a> {
    buf: &'a [u8],
    index: &'a HeadIndex,
    pub(crate) expects_continue: bool,
}

impl<'a> RequestHead<'a> {
    pub(crate) fn new(buf: &'a [u8], index: &'a HeadIndex, expects_continue: bool) -> Self {
        Self {
            buf,
            index,
            expects_continue,
        }
    }

    /// The method (no allocation for the standard methods).
    pub fn method(&self) -> &'a Method {
        &self.index.method
    }

    /// The request target as received (origin, absolute, authority or asterisk form).
    pub fn target(&self) -> &'a str {
        let t = &self.buf[self.index.target.0 as usize..self.index.target.1 as usize];
        // A parsed target is visible ASCII (tokenizer) or UTF-8 (httparse).
        utf8(t)
    }

    /// The path of the target: up to the `?` of an origin-form target, the path after
    /// the authority of an absolute-form one (`/` when it has none), `*` for the
    /// asterisk form and empty for the authority form (CONNECT) — as `http::Uri::path`.
    pub fn path(&self) -> &'a str {
        let target = self.target();
        let path = match target.as_bytes().first() {
            Some(b'/') => target,
            Some(b'*') => return target,
            _ if *self.method() == Method::CONNECT => return "",
            _ => {
                let after_scheme = target.split_once("://").map_or("", |(_, rest)| rest);
                match after_scheme.find(['/', '?']) {
                    Some(i) if after_scheme.as_bytes()[i] == b'/' => &after_scheme[i..],
                    _ => return "/",
                }
            }
        };
        path.split_once('?').map_or(path, |(p, _)| p)
    }

    /// The query of the target (after the first `?`), if it has one.
    pub fn query(&self) -> Option<&'a str> {
        if *self.method() == Method::CONNECT {
            return None;
        }
        self.target().split_once('?').map(|(_, q)| q)
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.index.version
    }

    /// The header fields.
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.buf, &self.index.fields)
    }

    /// Whether the client sent `Expect: 100-continue` and waits for a 100 (or a final
    /// answer) before sending its body.
    pub fn expects_continue(&self) -> bool {
        self.expects_continue
    }

    /// Copies the head into `http::request::Parts` (allocates: `Uri` and `HeaderMap`
    /// own their bytes).
    pub fn to_parts(&self) -> Result<http::request::Parts, Error> {
        let uri: http::Uri = self.target().parse().map_err(|_| Error::InvalidTarget)?;
        let (mut parts, ()) = http::Request::new(()).into_parts();
        parts.method = self.index.method.clone();
        parts.uri = uri;
        parts.version = self.index.version;
        parts.headers = self.headers().to_header_map();
        Ok(parts)
    }
}

impl fmt::Debug for RequestHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestHead")
            .field("method", self.method())
            .field("target", &self.target())
            .field("version", &self.version())
            .field("headers", &self.headers())
            .finish()
    }
}

/// A request head copied out of the connection's buffer into storage of its own that
/// is reused from request to request: it outlives the event (a driver keeps it while the
/// body is read) and, once its buffers have grown, copying into it allocates nothing.
///
/// ```
/// use strait_http1::proto::{Event, OwnedRequestHead, ServerConnection};
/// use std::time::Instant;
///
/// let now = Instant::now();
/// let mut conn = ServerConnection::new(Default::default(), now);
/// conn.handle_input(now, b"GET /a?b=1 HTTP/1.1\r\nHost: x\r\n\r\n");
/// let mut kept = OwnedRequestHead::default();
/// if let Some(Event::Request(head)) = conn.poll_event().unwrap() {
///     kept.copy_from(&head);
/// }
/// assert!(matches!(conn.poll_event().unwrap(), Some(Event::EndOfMessage)));
/// let head = kept.get();
/// assert_eq!((head.path(), head.query()), ("/a", Some("b=1")));
/// assert_eq!(head.headers().get("host"), Some(&b"x"[..]));
/// ```
#[derive(Default)]
pub struct OwnedRequestHead {
    buf: Vec<u8>,
    index: HeadIndex,
    expects_continue: bool,
}

impl OwnedRequestHead {
    /// Becomes a copy of `head`.
    pub fn copy_from(&mut self, head: &RequestHead<'_>) {
        self.buf.clear();
        self.buf.extend_from_slice(head.buf);
        self.index.copy_from(head.index);
        self.expects_continue = head.expects_continue;
    }

    /// The copied head (a default one, `GET` with an empty target, before any copy).
    pub fn get(&self) -> RequestHead<'_> {
        RequestHead::new(&self.buf, &self.index, self.expects_continue)
    }
}

impl fmt::Debug for OwnedRequestHead {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.get().fmt(f)
    }
}

/// A response head, borrowed from the connection's buffer until the next `poll_event`.
#[derive(Clone, Copy)]
pub struct ResponseHead<'a> {
    buf: &'a [u8],
    index: &'a HeadIndex,
}

impl<'a> ResponseHead<'a> {
    pub(crate) fn new(buf: &'a [u8], index: &'a HeadIndex) -> Self {
        Self { buf, index }
    }

    /// The status code.
    pub fn status(&self) -> StatusCode {
        self.index.status
    }

    /// The reason phrase as received (may be empty; may hold obs-text).
    pub fn reason(&self) -> &'a [u8] {
        &self.buf[self.index.reason.0 as usize..self.index.reason.1 as usize]
    }

    /// HTTP/1.0 or HTTP/1.1.
    pub fn version(&self) -> Version {
        self.index.version
    }

    /// The header fields.
    pub fn headers(&self) -> Headers<'a> {
        Headers::new(self.buf, &self.index.fields)
    }

    /// Copies the head into `http::response::Parts` (allocates).
    pub fn to_parts(&self) -> http::response::Parts {
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = self.index.status;
        parts.version = self.index.version;
        parts.headers = self.headers().to_header_map();
        parts
    }
}

impl fmt::Debug for ResponseHead<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseHead")
            .field("status", &self.status())
            .field("version", &self.version())
            .field("headers", &self.headers())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The scanner as first written: every byte looked at, one by one. The word-wise
    /// scanner must decide exactly as it does, under every split.
    fn reference(data: &[u8], max_line: usize, max_bytes: usize) -> Result<Option<usize>, Error> {
        let (mut line_start, mut first_line_done) = (0, false);
        for i in 0..data.len() {
            if i >= max_bytes {
                return Err(Error::HeadTooLarge);
            }
            let b = data[i];
            if i > 0 && data[i - 1] == b'\r' && b != b'\n' {
                return Err(Error::BareCr);
            }
            if b == b'\n' {
                if i == 0 || data[i - 1] != b'\r' {
                    return Err(Error::BareLf);
                }
                let line_len = i - 1 - line_start;
                if !first_line_done {
                    if line_len > max_line {
                        return Err(Error::RequestLineTooLong);
                    }
                    first_line_done = true;
                } else if line_len == 0 {
                    return Ok(Some(i + 1));
                } else if matches!(data[line_start], b' ' | b'\t') {
                    return Err(Error::ObsFold);
                }
                line_start = i + 1;
            } else if !first_line_done && b != b'\r' && i - line_start >= max_line {
                return Err(Error::RequestLineTooLong);
            }
        }
        Ok(None)
    }

    /// Feeds growing prefixes of `data`, cut at `cuts`, as the server does.
    fn scan_in_pieces(
        data: &[u8],
        cuts: &[usize],
        max_line: usize,
        max_bytes: usize,
    ) -> Result<Option<usize>, Error> {
        let mut scanner = HeadScanner::default();
        let mut ends: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        ends.push(data.len());
        ends.sort_unstable();
        for end in ends {
            if let Some(found) =
                scanner.scan(&data[..end], max_line, max_bytes, Error::HeadTooLarge)?
            {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    fn parsed(request: &str) -> Result<(OwnedRequestHead, String, Option<String>), Error> {
        let mut index = HeadIndex::default();
        index.parse_request(request.as_bytes(), &Limits::default())?;
        let mut owned = OwnedRequestHead::default();
        owned.copy_from(&RequestHead::new(request.as_bytes(), &index, false));
        let (path, query) = {
            let head = owned.get();
            (head.path().to_owned(), head.query().map(str::to_owned))
        };
        Ok((owned, path, query))
    }

    #[test]
    fn path_and_query_of_every_target_form() {
        for (method, target, path, query) in [
            ("GET", "/", "/", None),
            ("GET", "/a/b?c=d&e", "/a/b", Some("c=d&e")),
            ("GET", "/a?", "/a", Some("")),
            ("GET", "http://h.example:8080/x/y?z", "/x/y", Some("z")),
            ("GET", "http://h.example", "/", None),
            ("GET", "https://h.example?q", "/", Some("q")),
            ("OPTIONS", "*", "*", None),
            ("OPTIONS", "/p", "/p", None),
            ("CONNECT", "h.example:443", "", None),
            ("CONNECT", "[::1]:443", "", None),
        ] {
            let request = format!("{method} {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            let (owned, p, q) = parsed(&request).unwrap_or_else(|e| panic!("{target}: {e:?}"));
            assert_eq!((p.as_str(), q.as_deref()), (path, query), "{target}");
            assert_eq!(owned.get().target(), target);
            assert_eq!(owned.get().method().as_str(), method);
        }
    }

    #[test]
    fn target_forms_their_method_does_not_take_are_refused() {
        for (method, target) in [
            ("GET", "h.example:80"),
            ("GET", "*"),
            ("OPTIONS", "*x"),
            ("CONNECT", "/"),
            ("CONNECT", "h.example"),
            ("CONNECT", "h.example:"),
            ("CONNECT", "h.example:4a"),
            ("CONNECT", "http://h.example:80"),
            ("GET", "a/b"),
            ("GET", "http:///x"),
            ("GET", "1http://h/"),
            ("GET", "://h/"),
        ] {
            let request = format!("{method} {target} HTTP/1.1\r\nHost: a\r\n\r\n");
            assert_eq!(
                parsed(&request).err(),
                Some(Error::InvalidTarget),
                "{method} {target}"
            );
        }
    }

    #[test]
    fn an_owned_head_reuses_its_storage() {
        let (mut owned, ..) = parsed("GET /a HTTP/1.1\r\nHost: a\r\nX: 1\r\n\r\n").unwrap();
        let request = b"PUT /bb HTTP/1.0\r\nY: 2\r\n\r\n";
        let mut index = HeadIndex::default();
        index.parse_request(request, &Limits::default()).unwrap();
        owned.copy_from(&RequestHead::new(request, &index, true));
        let head = owned.get();
        assert_eq!((head.method(), head.path()), (&Method::PUT, "/bb"));
        assert_eq!(head.version(), Version::HTTP_10);
        assert!(head.expects_continue());
        assert_eq!(
            head.headers().iter().collect::<Vec<_>>(),
            [("Y", &b"2"[..])]
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn word_scanner_decides_like_the_bytewise_one(
            data in proptest::collection::vec(
                prop_oneof![
                    Just(b'a'), Just(b' '), Just(b'\t'), Just(b'\r'), Just(b'\n'), Just(b':'),
                    // Around the word-wise filter's threshold, and high bytes.
                    Just(0x0C), Just(0x0E), Just(0x80), Just(0xFF),
                ],
                0..48,
            ),
            cuts in proptest::collection::vec(0usize..64, 0..6),
            max_line in 1usize..12,
            max_bytes in 1usize..48,
        ) {
            let want = reference(&data, max_line, max_bytes);
            prop_assert_eq!(scan_in_pieces(&data, &cuts, max_line, max_bytes), want);
        }
    }
}
