//! Limits and timeouts, each with a default and a setter.

use std::time::Duration;

/// The most header fields one head may carry, whatever [`Limits::max_headers`] says:
/// heads are parsed into a stack array of this size, so parsing never allocates.
pub const MAX_HEADERS_CAP: usize = 128;

/// Bounds on what a peer may make a connection hold. Exceeding one is a typed
/// [`Error`](super::Error) mapped to its status (414, 431, 413).
///
/// ```
/// use strait_http1::proto::Limits;
/// let limits = Limits::default().max_head_bytes(8 * 1024).max_body(1 << 20);
/// assert_eq!(limits.get_max_head_bytes(), 8 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub(crate) max_request_line: usize,
    pub(crate) max_head_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_chunk_line: usize,
    pub(crate) max_trailer_bytes: usize,
    pub(crate) max_body: u64,
    pub(crate) max_buffered: usize,
    pub(crate) max_pipelined: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_request_line: 8 * 1024,
            max_head_bytes: 16 * 1024,
            max_headers: 100,
            max_chunk_line: 1024,
            max_trailer_bytes: 8 * 1024,
            max_body: u64::MAX,
            max_buffered: 64 * 1024,
            max_pipelined: 32,
        }
    }
}

macro_rules! limit {
    ($(#[$doc:meta])* $name:ident, $get:ident, $ty:ty) => {
        $(#[$doc])*
        pub fn $name(mut self, value: $ty) -> Self {
            self.$name = value;
            self.fix();
            self
        }
        /// The current value of the limit of the same name.
        pub fn $get(&self) -> $ty {
            self.$name
        }
    };
}

impl Limits {
    limit!(
        /// Longest request line or status line, CRLF excluded (default 8 KiB; 414).
        max_request_line, get_max_request_line, usize);
    limit!(
        /// Largest head, start line and CRLFs included (default 16 KiB; 431).
        max_head_bytes, get_max_head_bytes, usize);
    limit!(
        /// Most header fields in a head or trailer section (default 100, at most
        /// [`MAX_HEADERS_CAP`]; 431).
        max_headers, get_max_headers, usize);
    limit!(
        /// Longest chunk-size line, extensions included (default 1 KiB; 400).
        max_chunk_line, get_max_chunk_line, usize);
    limit!(
        /// Largest trailer section (default 8 KiB; 431).
        max_trailer_bytes, get_max_trailer_bytes, usize);
    limit!(
        /// Largest message body, declared or received (default unlimited; 413).
        max_body, get_max_body, u64);
    limit!(
        /// Most unconsumed input bytes the connection buffers (default 64 KiB, at least
        /// `max_head_bytes`): the input buffer grows to this size and no further.
        max_buffered, get_max_buffered, usize);
    limit!(
        /// Most requests parsed ahead of their responses (server, default 32): beyond it
        /// the connection stops producing request events until responses catch up.
        max_pipelined, get_max_pipelined, usize);

    fn fix(&mut self) {
        self.max_headers = self.max_headers.min(MAX_HEADERS_CAP);
        self.max_buffered = self.max_buffered.max(self.max_head_bytes).max(64);
        self.max_pipelined = self.max_pipelined.max(1);
    }
}

/// Timeouts a connection reports through `poll_timeout` (its caller owns the clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Longest time from the first byte of a request head to its end (default 30 s;
    /// answered 408). `None` disables it.
    pub head: Option<Duration>,
    /// Longest idle time between keep-alive requests (default 60 s; the connection
    /// closes without an answer). `None` disables it.
    pub keep_alive: Option<Duration>,
    /// Longest wait for the next bytes of a request body the application is reading
    /// (default 30 s; answered 408). It runs only while more body bytes are needed and
    /// no `100 Continue` is owed. `None` disables it.
    pub body: Option<Duration>,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            head: Some(Duration::from_secs(30)),
            keep_alive: Some(Duration::from_secs(60)),
            body: Some(Duration::from_secs(30)),
        }
    }
}
