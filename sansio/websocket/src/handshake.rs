//! The opening handshake (RFC 6455 §4) over the `http` crate's types.
//!
//! These helpers check and build heads; moving them over a transport (and keeping the
//! bytes read past the head) belongs to the HTTP layer.
//!
//! ```
//! use strait_websocket::handshake::{client_request, validate_request, verify_response};
//!
//! let (request, key) = client_request("ws://example.com/chat".parse().unwrap(), &["chat.v1"]);
//! let (parts, ()) = request.into_parts();
//!
//! // Server side.
//! let offer = validate_request(&parts).unwrap();
//! let protocol = offer.select_protocol(&["chat.v2", "chat.v1"]);
//! let response = offer.response(protocol);
//! assert_eq!(response.status(), 101);
//!
//! // Client side.
//! let (parts, ()) = response.into_parts();
//! assert_eq!(verify_response(&parts, &key, &["chat.v1"]).unwrap(), Some("chat.v1"));
//! ```

use std::fmt;

use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, Response, StatusCode, Uri, Version};
use sha1::{Digest, Sha1};

/// The GUID appended to the key before hashing (§1.3).
pub const GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// The only protocol version this crate speaks.
pub const VERSION: &str = "13";

/// `Sec-WebSocket-Key`.
pub const SEC_WEBSOCKET_KEY: HeaderName = HeaderName::from_static("sec-websocket-key");
/// `Sec-WebSocket-Accept`.
pub const SEC_WEBSOCKET_ACCEPT: HeaderName = HeaderName::from_static("sec-websocket-accept");
/// `Sec-WebSocket-Version`.
pub const SEC_WEBSOCKET_VERSION: HeaderName = HeaderName::from_static("sec-websocket-version");
/// `Sec-WebSocket-Protocol`.
pub const SEC_WEBSOCKET_PROTOCOL: HeaderName = HeaderName::from_static("sec-websocket-protocol");
/// `Sec-WebSocket-Extensions`.
pub const SEC_WEBSOCKET_EXTENSIONS: HeaderName =
    HeaderName::from_static("sec-websocket-extensions");

/// Why a handshake was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The request's method is not GET.
    Method,
    /// The HTTP version is older than 1.1.
    HttpVersion,
    /// `Upgrade` does not name `websocket`.
    Upgrade,
    /// `Connection` does not list `upgrade`.
    Connection,
    /// `Sec-WebSocket-Key` is missing, repeated, or not 16 bytes in base64.
    Key,
    /// `Sec-WebSocket-Version` is not 13 (answered with 426 and the supported version).
    WebSocketVersion,
    /// The response's status is not 101.
    Status(StatusCode),
    /// `Sec-WebSocket-Accept` is missing or does not match the key.
    Accept,
    /// The server chose a subprotocol the client did not offer, or several.
    Protocol,
    /// The server answered with an extension the client did not offer.
    Extension,
    /// The head is not valid HTTP/1.1 (or has more than [`MAX_HEADERS`] headers).
    Malformed,
}

impl HandshakeError {
    /// The status a server answers this error with: 426 for an unsupported version,
    /// 400 otherwise.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::WebSocketVersion => StatusCode::UPGRADE_REQUIRED,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    /// A response refusing the handshake: [`status`](Self::status), with
    /// `Sec-WebSocket-Version: 13` (§4.4).
    pub fn response(&self) -> Response<()> {
        let mut res = Response::new(());
        *res.status_mut() = self.status();
        res.headers_mut()
            .insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static(VERSION));
        res
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Method => f.write_str("the handshake request must use GET"),
            Self::HttpVersion => f.write_str("the handshake needs HTTP/1.1 or later"),
            Self::Upgrade => f.write_str("missing `Upgrade: websocket`"),
            Self::Connection => f.write_str("missing `Connection: upgrade`"),
            Self::Key => f.write_str("missing or malformed Sec-WebSocket-Key"),
            Self::WebSocketVersion => {
                f.write_str("unsupported Sec-WebSocket-Version (13 is supported)")
            }
            Self::Status(s) => write!(f, "the server answered {s} instead of 101"),
            Self::Accept => f.write_str("Sec-WebSocket-Accept does not match the key"),
            Self::Protocol => f.write_str("the server chose a subprotocol that was not offered"),
            Self::Extension => f.write_str("the server chose an extension that was not offered"),
            Self::Malformed => f.write_str("malformed HTTP head"),
        }
    }
}

impl std::error::Error for HandshakeError {}

/// A `Sec-WebSocket-Accept` value: base64 of SHA-1(key + GUID), 28 characters.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct AcceptKey([u8; 28]);

impl AcceptKey {
    /// The value for the client key `key` (as sent, base64 text).
    ///
    /// # Examples
    /// ```
    /// // The example of RFC 6455 §1.3.
    /// use strait_websocket::handshake::AcceptKey;
    /// let accept = AcceptKey::from_key(b"dGhlIHNhbXBsZSBub25jZQ==");
    /// assert_eq!(accept.as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
    /// ```
    pub fn from_key(key: &[u8]) -> Self {
        let mut sha = Sha1::new();
        sha.update(key);
        sha.update(GUID);
        let mut out = [0; 28];
        let n = BASE64
            .encode_slice(sha.finalize(), &mut out)
            .expect("20 bytes encode to 28");
        debug_assert_eq!(n, 28);
        Self(out)
    }

    /// The base64 text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64 is ASCII")
    }

    /// As a header value.
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::from_str(self.as_str()).expect("base64 is a valid header value")
    }
}

impl fmt::Debug for AcceptKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("AcceptKey").field(&self.as_str()).finish()
    }
}

/// A client's `Sec-WebSocket-Key`: 16 random bytes in base64.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ClientKey([u8; 24]);

impl ClientKey {
    /// A fresh key from the operating system's random source.
    ///
    /// # Panics
    /// When the random source fails.
    pub fn generate() -> Self {
        let mut nonce = [0; 16];
        getrandom::fill(&mut nonce).expect("the OS random source failed");
        Self::from_nonce(nonce)
    }

    /// The key for a given 16-byte nonce (for tests and reproducible clients).
    pub fn from_nonce(nonce: [u8; 16]) -> Self {
        let mut out = [0; 24];
        BASE64
            .encode_slice(nonce, &mut out)
            .expect("16 bytes encode to 24");
        Self(out)
    }

    /// The base64 text.
    pub fn as_str(&self) -> &str {
        std::str::from_utf8(&self.0).expect("base64 is ASCII")
    }

    /// The `Sec-WebSocket-Accept` the server must answer with.
    pub fn accept(&self) -> AcceptKey {
        AcceptKey::from_key(&self.0)
    }
}

impl fmt::Debug for ClientKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ClientKey").field(&self.as_str()).finish()
    }
}

/// Whether the comma-separated lists in every `name` header contain `token`
/// (case-insensitively).
fn has_token(headers: &HeaderMap, name: HeaderName, token: &str) -> bool {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// The comma-separated items of every `name` header, trimmed, empty ones skipped.
fn list_items(headers: &HeaderMap, name: HeaderName) -> impl Iterator<Item = &str> {
    headers
        .get_all(name)
        .into_iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// A valid client handshake request, seen from the server.
#[derive(Debug, Clone, Copy)]
pub struct ClientOffer<'a> {
    key: &'a HeaderValue,
    headers: &'a HeaderMap,
}

/// Checks a handshake request's head (§4.2.1): GET, HTTP/1.1 or later,
/// `Upgrade: websocket`, `Connection: upgrade`, a 16-byte `Sec-WebSocket-Key` and
/// `Sec-WebSocket-Version: 13`.
///
/// # Errors
/// The first [`HandshakeError`] found; answer it with [`HandshakeError::response`].
pub fn validate_request(parts: &http::request::Parts) -> Result<ClientOffer<'_>, HandshakeError> {
    if parts.method != Method::GET {
        return Err(HandshakeError::Method);
    }
    if parts.version < Version::HTTP_11 {
        return Err(HandshakeError::HttpVersion);
    }
    let headers = &parts.headers;
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(HandshakeError::Upgrade);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(HandshakeError::Connection);
    }
    let mut keys = headers.get_all(SEC_WEBSOCKET_KEY).iter();
    let (Some(key), None) = (keys.next(), keys.next()) else {
        return Err(HandshakeError::Key);
    };
    let mut nonce = [0; 18];
    match BASE64.decode_slice(key.as_bytes(), &mut nonce) {
        Ok(16) => {}
        _ => return Err(HandshakeError::Key),
    }
    let mut versions = headers.get_all(SEC_WEBSOCKET_VERSION).iter();
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.as_bytes() == VERSION.as_bytes() => {}
        _ => return Err(HandshakeError::WebSocketVersion),
    }
    Ok(ClientOffer { key, headers })
}

impl<'a> ClientOffer<'a> {
    /// The `Sec-WebSocket-Accept` answer.
    pub fn accept_key(&self) -> AcceptKey {
        AcceptKey::from_key(self.key.as_bytes())
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn protocols(&self) -> impl Iterator<Item = &'a str> {
        list_items(self.headers, SEC_WEBSOCKET_PROTOCOL)
    }

    /// The extension offers, one item per offer with its parameters (`permessage-deflate;
    /// client_max_window_bits`).
    pub fn extensions(&self) -> impl Iterator<Item = &'a str> {
        list_items(self.headers, SEC_WEBSOCKET_EXTENSIONS)
    }

    /// The first of `supported` (the server's order of preference) that the client
    /// offered, compared exactly (subprotocol names are case-sensitive).
    pub fn select_protocol<'p>(&self, supported: &[&'p str]) -> Option<&'p str> {
        supported
            .iter()
            .copied()
            .find(|s| self.protocols().any(|p| p == *s))
    }

    /// The 101 response accepting this offer with `protocol` (which should come from
    /// [`select_protocol`](Self::select_protocol)).
    ///
    /// # Panics
    /// When `protocol` is not a valid header value.
    pub fn response(&self, protocol: Option<&str>) -> Response<()> {
        let mut res = Response::new(());
        *res.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
        let h = res.headers_mut();
        h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
        h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
        h.insert(SEC_WEBSOCKET_ACCEPT, self.accept_key().to_header_value());
        if let Some(p) = protocol {
            h.insert(
                SEC_WEBSOCKET_PROTOCOL,
                HeaderValue::from_str(p).expect("a subprotocol is a token"),
            );
        }
        res
    }
}

/// A handshake request for `uri` (a `ws:`/`wss:` or `http:`/`https:` URI; `Host` comes
/// from its authority) offering `protocols`, and the key to check the answer against.
///
/// # Panics
/// When a protocol is not a valid header value.
pub fn client_request(uri: Uri, protocols: &[&str]) -> (Request<()>, ClientKey) {
    let key = ClientKey::generate();
    let mut req = Request::new(());
    if let Some(authority) = uri.authority() {
        let host = HeaderValue::from_str(authority.as_str())
            .expect("an authority is a valid header value");
        req.headers_mut().insert(header::HOST, host);
    }
    *req.uri_mut() = uri;
    let h = req.headers_mut();
    h.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(
        SEC_WEBSOCKET_KEY,
        HeaderValue::from_str(key.as_str()).expect("base64 is a valid header value"),
    );
    h.insert(SEC_WEBSOCKET_VERSION, HeaderValue::from_static(VERSION));
    if !protocols.is_empty() {
        let joined = protocols.join(", ");
        h.insert(
            SEC_WEBSOCKET_PROTOCOL,
            HeaderValue::from_str(&joined).expect("subprotocols are tokens"),
        );
    }
    (req, key)
}

/// Checks the server's answer (§4.1): 101, `Upgrade: websocket`, `Connection: upgrade`,
/// the matching accept, a subprotocol among `offered` (returned) and no extension (none
/// is offered by [`client_request`]).
///
/// # Errors
/// The first [`HandshakeError`] found; the client must then fail the connection.
pub fn verify_response<'a>(
    parts: &'a http::response::Parts,
    key: &ClientKey,
    offered: &[&str],
) -> Result<Option<&'a str>, HandshakeError> {
    verify_head(parts, key, offered)?;
    if list_items(&parts.headers, SEC_WEBSOCKET_EXTENSIONS)
        .next()
        .is_some()
    {
        return Err(HandshakeError::Extension);
    }
    chosen_protocol(parts, offered)
}

/// [`verify_response`] for a request that offered permessage-deflate as `deflate`
/// (with [`DeflateConfig::offer`](crate::proto::deflate::DeflateConfig::offer)): also
/// returns the agreement when the server accepted it.
///
/// # Errors
/// As [`verify_response`]; [`HandshakeError::Extension`] for an answer the offer did not
/// allow.
#[cfg(feature = "deflate")]
pub fn verify_response_deflate<'a>(
    parts: &'a http::response::Parts,
    key: &ClientKey,
    offered: &[&str],
    deflate: &crate::proto::deflate::DeflateConfig,
) -> Result<
    (
        Option<&'a str>,
        Option<crate::proto::deflate::DeflateParams>,
    ),
    HandshakeError,
> {
    verify_head(parts, key, offered)?;
    let mut items = list_items(&parts.headers, SEC_WEBSOCKET_EXTENSIONS);
    let params = match (items.next(), items.next()) {
        (None, _) => None,
        (Some(item), None) => Some(
            deflate
                .accept_response(item)
                .map_err(|_| HandshakeError::Extension)?,
        ),
        _ => return Err(HandshakeError::Extension),
    };
    Ok((chosen_protocol(parts, offered)?, params))
}

fn verify_head(
    parts: &http::response::Parts,
    key: &ClientKey,
    _offered: &[&str],
) -> Result<(), HandshakeError> {
    if parts.status != StatusCode::SWITCHING_PROTOCOLS {
        return Err(HandshakeError::Status(parts.status));
    }
    let headers = &parts.headers;
    if !has_token(headers, header::UPGRADE, "websocket") {
        return Err(HandshakeError::Upgrade);
    }
    if !has_token(headers, header::CONNECTION, "upgrade") {
        return Err(HandshakeError::Connection);
    }
    let mut accepts = headers.get_all(SEC_WEBSOCKET_ACCEPT).iter();
    match (accepts.next(), accepts.next()) {
        (Some(a), None) if a.as_bytes() == key.accept().as_str().as_bytes() => Ok(()),
        _ => Err(HandshakeError::Accept),
    }
}

fn chosen_protocol<'a>(
    parts: &'a http::response::Parts,
    offered: &[&str],
) -> Result<Option<&'a str>, HandshakeError> {
    let mut chosen = list_items(&parts.headers, SEC_WEBSOCKET_PROTOCOL);
    match (chosen.next(), chosen.next()) {
        (None, _) => Ok(None),
        (Some(p), None) if offered.contains(&p) => Ok(Some(p)),
        _ => Err(HandshakeError::Protocol),
    }
}

/// The most headers [`parse_request`] and [`parse_response`] accept.
pub const MAX_HEADERS: usize = 64;

fn version(minor: Option<u8>) -> Version {
    if minor == Some(0) {
        Version::HTTP_10
    } else {
        Version::HTTP_11
    }
}

fn collect_headers(
    parsed: &[httparse::Header<'_>],
    into: &mut HeaderMap,
) -> Result<(), HandshakeError> {
    for h in parsed {
        let name =
            HeaderName::from_bytes(h.name.as_bytes()).map_err(|_| HandshakeError::Malformed)?;
        let value = HeaderValue::from_bytes(h.value).map_err(|_| HandshakeError::Malformed)?;
        into.append(name, value);
    }
    Ok(())
}

/// Parses a request head from the start of `buf` (standalone use over a raw stream):
/// `Ok(None)` until the head is complete, then the head and its length; the bytes after
/// it belong to the WebSocket stream.
///
/// # Errors
/// [`HandshakeError::Malformed`].
pub fn parse_request(buf: &[u8]) -> Result<Option<(http::request::Parts, usize)>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut req = httparse::Request::new(&mut headers);
    let len = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HandshakeError::Malformed),
    };
    let method = Method::from_bytes(req.method.unwrap_or_default().as_bytes())
        .map_err(|_| HandshakeError::Malformed)?;
    let uri: Uri = req
        .path
        .unwrap_or_default()
        .parse()
        .map_err(|_| HandshakeError::Malformed)?;
    let mut out = Request::new(());
    *out.method_mut() = method;
    *out.uri_mut() = uri;
    *out.version_mut() = version(req.version);
    collect_headers(req.headers, out.headers_mut())?;
    Ok(Some((out.into_parts().0, len)))
}

/// Parses a response head from the start of `buf`, as [`parse_request`].
///
/// # Errors
/// [`HandshakeError::Malformed`].
pub fn parse_response(
    buf: &[u8],
) -> Result<Option<(http::response::Parts, usize)>, HandshakeError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut headers);
    let len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(_) => return Err(HandshakeError::Malformed),
    };
    let mut out = Response::new(());
    *out.status_mut() = StatusCode::from_u16(res.code.unwrap_or_default())
        .map_err(|_| HandshakeError::Malformed)?;
    *out.version_mut() = version(res.version);
    collect_headers(res.headers, out.headers_mut())?;
    Ok(Some((out.into_parts().0, len)))
}

fn write_headers(headers: &HeaderMap, out: &mut Vec<u8>) {
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
}

/// Appends `res`'s head as HTTP/1.1 (the body is not written; a refusal gets
/// `Content-Length: 0` unless it has a length already).
pub fn write_response(res: &Response<()>, out: &mut Vec<u8>) {
    let status = res.status();
    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(status.canonical_reason().unwrap_or("").as_bytes());
    out.extend_from_slice(b"\r\n");
    if status != StatusCode::SWITCHING_PROTOCOLS
        && !res.headers().contains_key(header::CONTENT_LENGTH)
    {
        out.extend_from_slice(b"content-length: 0\r\n");
    }
    write_headers(res.headers(), out);
}

/// Appends `req`'s head as HTTP/1.1 (origin form: path and query).
pub fn write_request(req: &Request<()>, out: &mut Vec<u8>) {
    out.extend_from_slice(req.method().as_str().as_bytes());
    out.push(b' ');
    let target = req.uri().path_and_query().map_or("/", |p| p.as_str());
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    write_headers(req.headers(), out);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(headers: &[(&str, &str)]) -> http::request::Parts {
        let mut b = Request::builder().method("GET").uri("/chat");
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        b.body(()).unwrap().into_parts().0
    }

    const GOOD: &[(&str, &str)] = &[
        ("host", "example.com"),
        ("upgrade", "WebSocket"),
        ("connection", "keep-alive, Upgrade"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
        ("sec-websocket-version", "13"),
        ("sec-websocket-protocol", "chat, superchat"),
    ];

    fn without(name: &str) -> Vec<(&'static str, &'static str)> {
        GOOD.iter().copied().filter(|(k, _)| *k != name).collect()
    }

    fn with(name: &'static str, value: &'static str) -> Vec<(&'static str, &'static str)> {
        let mut h = without(name);
        h.push((name, value));
        h
    }

    #[test]
    fn accepts_the_rfc_example() {
        let parts = request(GOOD);
        let offer = validate_request(&parts).unwrap();
        assert_eq!(offer.accept_key().as_str(), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
        assert_eq!(offer.protocols().collect::<Vec<_>>(), ["chat", "superchat"]);
        assert_eq!(
            offer.select_protocol(&["superchat", "chat"]),
            Some("superchat")
        );
        assert_eq!(offer.select_protocol(&["Chat"]), None);
        let res = offer.response(Some("chat"));
        assert_eq!(
            res.headers()["sec-websocket-accept"],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(res.headers()["sec-websocket-protocol"], "chat");
    }

    #[test]
    fn refuses_bad_requests() {
        let cases = [
            (without("upgrade"), HandshakeError::Upgrade),
            (with("upgrade", "h2c"), HandshakeError::Upgrade),
            (without("connection"), HandshakeError::Connection),
            (with("connection", "keep-alive"), HandshakeError::Connection),
            (without("sec-websocket-key"), HandshakeError::Key),
            (with("sec-websocket-key", "c2hvcnQ="), HandshakeError::Key),
            (
                with("sec-websocket-key", "not base64!"),
                HandshakeError::Key,
            ),
            (
                without("sec-websocket-version"),
                HandshakeError::WebSocketVersion,
            ),
            (
                with("sec-websocket-version", "8"),
                HandshakeError::WebSocketVersion,
            ),
        ];
        for (headers, err) in cases {
            let parts = request(&headers);
            assert_eq!(validate_request(&parts).unwrap_err(), err, "{headers:?}");
        }
        let mut parts = request(GOOD);
        parts.method = Method::POST;
        assert_eq!(
            validate_request(&parts).unwrap_err(),
            HandshakeError::Method
        );
        let mut parts = request(GOOD);
        parts.version = Version::HTTP_10;
        assert_eq!(
            validate_request(&parts).unwrap_err(),
            HandshakeError::HttpVersion
        );
        let res = HandshakeError::WebSocketVersion.response();
        assert_eq!(res.status(), 426);
        assert_eq!(res.headers()["sec-websocket-version"], "13");
    }

    #[test]
    fn client_checks_the_answer() {
        let (req, key) =
            client_request("ws://example.com:9001/x?y=1".parse().unwrap(), &["a", "b"]);
        assert_eq!(req.headers()["host"], "example.com:9001");
        assert_eq!(req.headers()["sec-websocket-protocol"], "a, b");
        let (parts, ()) = req.into_parts();
        let offer = validate_request(&parts).unwrap();
        let good = offer.response(Some("b")).into_parts().0;
        assert_eq!(verify_response(&good, &key, &["a", "b"]), Ok(Some("b")));
        // Another key's accept.
        let other = ClientKey::from_nonce([7; 16]);
        assert_eq!(
            verify_response(&good, &other, &["a", "b"]),
            Err(HandshakeError::Accept)
        );
        // A protocol not offered.
        assert_eq!(
            verify_response(&good, &key, &["a"]),
            Err(HandshakeError::Protocol)
        );
        // An extension not offered.
        let mut ext = offer.response(None).into_parts().0;
        ext.headers.insert(
            SEC_WEBSOCKET_EXTENSIONS,
            HeaderValue::from_static("permessage-deflate"),
        );
        assert_eq!(
            verify_response(&ext, &key, &[]),
            Err(HandshakeError::Extension)
        );
        // Not 101.
        let mut refused = offer.response(None).into_parts().0;
        refused.status = StatusCode::FORBIDDEN;
        assert_eq!(
            verify_response(&refused, &key, &[]),
            Err(HandshakeError::Status(StatusCode::FORBIDDEN))
        );
    }

    #[test]
    fn heads_round_trip_through_bytes() {
        let (req, key) = client_request("ws://h:1/p?q".parse().unwrap(), &["x"]);
        let mut wire = Vec::new();
        write_request(&req, &mut wire);
        wire.extend_from_slice(b"\x81\x00");
        for cut in 0..wire.len() - 2 {
            assert_eq!(
                parse_request(&wire[..cut]).unwrap().map(|_| ()),
                None,
                "{cut}"
            );
        }
        let (parts, len) = parse_request(&wire).unwrap().unwrap();
        assert_eq!(len, wire.len() - 2, "leftover bytes stay unread");
        assert_eq!(parts.uri, "/p?q");
        let offer = validate_request(&parts).unwrap();
        let mut wire = Vec::new();
        write_response(&offer.response(Some("x")), &mut wire);
        let (parts, len) = parse_response(&wire).unwrap().unwrap();
        assert_eq!(len, wire.len());
        assert_eq!(verify_response(&parts, &key, &["x"]), Ok(Some("x")));
        assert_eq!(
            parse_request(b"GET / HTTP/1.1\r\nbad header\r\n\r\n").unwrap_err(),
            HandshakeError::Malformed
        );
    }

    #[test]
    fn keys_are_random() {
        assert_ne!(ClientKey::generate(), ClientKey::generate());
        assert_eq!(ClientKey::generate().as_str().len(), 24);
    }
}
