//! The strictness table: each malformed or ambiguous request is refused with a typed
//! error, the status of its RFC rule, and a close; every split of its bytes gives the
//! same verdict.

mod common;

use std::time::Instant;

use common::{server_events, splits};
use strait_http1::proto::{Error, Limits, ServerConfig, ServerConnection};

struct Case {
    name: &'static str,
    rfc: &'static str,
    input: &'static [u8],
    error: Error,
    status: u16,
}

const fn case(
    name: &'static str,
    rfc: &'static str,
    input: &'static [u8],
    error: Error,
    status: u16,
) -> Case {
    Case {
        name,
        rfc,
        input,
        error,
        status,
    }
}

use Error::*;

const CASES: &[Case] = &[
    case("content-length and transfer-encoding", "RFC 9112 §6.3 ¶3",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n",
        ContentLengthAndTransferEncoding, 400),
    case("transfer-encoding then content-length", "RFC 9112 §6.3 ¶3",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n",
        ContentLengthAndTransferEncoding, 400),
    case("differing content-length fields", "RFC 9112 §6.3 ¶5",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        ConflictingContentLength, 400),
    case("differing content-length list", "RFC 9110 §8.6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, 6\r\n\r\n",
        ConflictingContentLength, 400),
    case("content-length with sign", "RFC 9110 §8.6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: +5\r\n\r\n", InvalidContentLength, 400),
    case("negative content-length", "RFC 9110 §8.6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", InvalidContentLength, 400),
    case("hex content-length", "RFC 9110 §8.6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0x5\r\n\r\n", InvalidContentLength, 400),
    case("whitespace inside content-length", "RFC 9110 §8.6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1 2\r\n\r\n", InvalidContentLength, 400),
    case("empty content-length", "RFC 9110 §8.6",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", InvalidContentLength, 400),
    case("overflowing content-length", "RFC 9112 §6.3 ¶5",
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 18446744073709551616\r\n\r\n",
        InvalidContentLength, 400),
    case("final coding not chunked", "RFC 9112 §6.3 ¶4",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", ChunkedNotFinal, 400),
    case("chunked before another coding", "RFC 9112 §6.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
        ChunkedNotFinal, 400),
    case("chunked twice", "RFC 9112 §6.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
        ChunkedNotFinal, 400),
    case("unknown coding before chunked", "RFC 9112 §6.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
        UnsupportedTransferEncoding, 501),
    case("transfer-encoding in HTTP/1.0", "RFC 9112 §6.1",
        b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", TransferEncodingInHttp10, 400),
    case("authority-form target without CONNECT", "RFC 9112 §3.2.3",
        b"GET example.com:80 HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("asterisk-form target without OPTIONS", "RFC 9112 §3.2.4",
        b"GET * HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("CONNECT with an origin-form target", "RFC 9112 §3.2.3",
        b"CONNECT / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("CONNECT without a port", "RFC 9112 §3.2.3",
        b"CONNECT example.com HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("relative target", "RFC 9112 §3.2",
        b"GET a/b HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("absolute-form target without authority", "RFC 9112 §3.2.2",
        b"GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("obs-fold", "RFC 9112 §5.2",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", ObsFold, 400),
    case("bare CR in a value", "RFC 9112 §2.2",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", BareCr, 400),
    case("bare LF after the request line", "RFC 9112 §2.2",
        b"GET / HTTP/1.1\nHost: a\r\n\r\n", BareLf, 400),
    case("bare LF ending the head", "RFC 9112 §2.2",
        b"GET / HTTP/1.1\r\nHost: a\r\n\n", BareLf, 400),
    case("whitespace before the colon", "RFC 9112 §5.1",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n", InvalidHeaderName, 400),
    case("empty header name", "RFC 9110 §5.1",
        b"GET / HTTP/1.1\r\nHost: a\r\n: x\r\n\r\n", InvalidHeaderName, 400),
    case("invalid token character in a name", "RFC 9110 §5.1",
        b"GET / HTTP/1.1\r\nHost: a\r\nX(y): 1\r\n\r\n", InvalidHeaderName, 400),
    case("control character in a value", "RFC 9110 §5.5",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x01b\r\n\r\n", InvalidHeaderValue, 400),
    case("DEL in a value", "RFC 9110 §5.5",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", InvalidHeaderValue, 400),
    case("NUL in a value", "RFC 9110 §5.5",
        b"GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", InvalidHeaderValue, 400),
    case("invalid method token", "RFC 9110 §9.1",
        b"G@T / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidMethod, 400),
    case("control character in the target", "RFC 9112 §3.2",
        b"GET /a\x01b HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("two spaces in the request line", "RFC 9112 §3",
        b"GET  / HTTP/1.1\r\nHost: a\r\n\r\n", InvalidTarget, 400),
    case("missing host in HTTP/1.1", "RFC 9112 §3.2",
        b"GET / HTTP/1.1\r\n\r\n", MissingHost, 400),
    case("repeated host", "RFC 9112 §3.2",
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", RepeatedHost, 400),
    case("unknown minor version", "RFC 9112 §2.3",
        b"GET / HTTP/1.2\r\nHost: a\r\n\r\n", UnsupportedVersion, 505),
    case("unknown major version", "RFC 9112 §2.3",
        b"GET / HTTP/2.0\r\nHost: a\r\n\r\n", UnsupportedVersion, 505),
    case("not a version", "RFC 9112 §2.3",
        b"GET / FOO/1.1\r\nHost: a\r\n\r\n", InvalidStartLine, 400),
    case("chunk size not hex", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", InvalidChunkSize, 400),
    case("empty chunk size", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", InvalidChunkSize, 400),
    case("chunk size with sign", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n+3\r\nabc\r\n", InvalidChunkSize, 400),
    case("whitespace after chunk size without extension", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n", InvalidChunkSize, 400),
    case("chunk size overflow", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n1ffffffffffffffff\r\n", ChunkSizeOverflow, 400),
    case("chunk data not followed by CRLF", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n0\r\n\r\n", MissingChunkCrlf, 400),
    case("chunk data followed by bare LF", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\n0\r\n\r\n", MissingChunkCrlf, 400),
    case("chunk size line ended by bare LF", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n", BareLf, 400),
    case("chunk extension ended by bare LF", "RFC 9112 §7.1.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\nabc\r\n0\r\n\r\n", BareLf, 400),
    case("chunk size line with bare CR", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\rabc\r\n0\r\n\r\n", BareCr, 400),
    case("control character in a chunk extension", "RFC 9112 §7.1.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\x01\r\nabc\r\n0\r\n\r\n", InvalidChunkExtension, 400),
    case("last chunk ended by bare LF", "RFC 9112 §7.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\n\r\n", BareLf, 400),
    case("trailer section ended by bare LF", "RFC 9112 §7.1.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n\n", BareLf, 400),
    case("obs-fold in trailers", "RFC 9112 §5.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\n 2\r\n\r\n", ObsFold, 400),
    case("invalid trailer name", "RFC 9112 §7.1.2",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX Y: 1\r\n\r\n", InvalidTrailers, 400),
    case("whitespace before the colon in trailers", "RFC 9112 §5.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX : 1\r\n\r\n", InvalidTrailers, 400),
    case("control character in a trailer value", "RFC 9110 §5.5",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\x01b\r\n\r\n", InvalidTrailers, 400),
    case("content-length in trailers", "RFC 9110 §6.5.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nContent-Length: 5\r\n\r\n", ForbiddenTrailer, 400),
    case("transfer-encoding in trailers", "RFC 9110 §6.5.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", ForbiddenTrailer, 400),
    case("host in trailers", "RFC 9110 §6.5.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: 1\r\nhOsT: b\r\n\r\n", ForbiddenTrailer, 400),
    case("authorization in trailers", "RFC 9110 §6.5.1",
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nAuthorization: x\r\n\r\n", ForbiddenTrailer, 400),
];

fn check(limits: Limits, name: &str, rfc: &str, input: &[u8], error: Error, status: u16) {
    let whole = server_events(limits, &[input], true);
    assert_eq!(
        whole.last().map(String::as_str),
        Some(format!("ERR {error:?}").as_str()),
        "{name} ({rfc}): {whole:?}"
    );
    assert_eq!(
        error.status().map(|s| s.as_u16()),
        Some(status),
        "{name} ({rfc})"
    );
    for split in splits(input) {
        assert_eq!(
            server_events(limits, &split, true),
            whole,
            "{name} ({rfc}) split {split:?}"
        );
    }
    // The connection answers the status and closes.
    let now = Instant::now();
    let mut conn = ServerConnection::new(
        ServerConfig {
            limits,
            ..Default::default()
        },
        now,
    );
    conn.handle_input(now, input);
    conn.handle_eof(now);
    let err = loop {
        match conn.poll_event() {
            Ok(Some(_)) => {}
            Ok(None) => panic!("{name}: no error"),
            Err(e) => break e,
        }
    };
    assert_eq!(err, error);
    assert!(!conn.wants_close(), "{name}: the answer is still owed");
    let mut out = Vec::new();
    assert!(conn.poll_transmit(&mut out));
    let expected = format!("HTTP/1.1 {status} ");
    assert!(
        out.starts_with(expected.as_bytes()),
        "{name}: {}",
        String::from_utf8_lossy(&out)
    );
    assert!(String::from_utf8_lossy(&out).contains("connection: close\r\n"));
    assert!(conn.wants_close());
    assert!(
        conn.poll_event().unwrap().is_none(),
        "nothing is read after an error"
    );
}

#[test]
fn strictness_table() {
    for c in CASES {
        check(Limits::default(), c.name, c.rfc, c.input, c.error, c.status);
    }
}

#[test]
fn limits_table() {
    let small = Limits::default()
        .max_request_line(32)
        .max_head_bytes(96)
        .max_headers(4)
        .max_chunk_line(16)
        .max_trailer_bytes(24)
        .max_body(10);
    let long_target =
        b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa HTTP/1.1\r\nHost: a\r\n\r\n";
    check(
        small,
        "request line too long",
        "RFC 9112 §3 (414)",
        long_target,
        RequestLineTooLong,
        414,
    );
    let big_head = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    check(
        small,
        "head too large",
        "RFC 6585 §5 (431)",
        big_head,
        HeadTooLarge,
        431,
    );
    // Found by fuzzing: an error past the size limit must not win over the limit in
    // one split and lose in another.
    let late_lf = b"GET / HTTP/1.1\r\nHost: a\r\nX-Long: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\nb\r\n\r\n";
    check(
        small,
        "bare LF beyond the head limit",
        "RFC 6585 §5 (431)",
        late_lf,
        HeadTooLarge,
        431,
    );
    let long_line_late_lf =
        b"GET /aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n HTTP/1.1\r\nHost: a\r\n\r\n";
    check(
        small,
        "bare LF beyond the request-line limit",
        "RFC 9112 §3 (414)",
        long_line_late_lf,
        RequestLineTooLong,
        414,
    );
    let many = b"GET / HTTP/1.1\r\nHost: a\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n";
    check(
        small,
        "too many headers",
        "RFC 6585 §5 (431)",
        many,
        TooManyHeaders,
        431,
    );
    let ext = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;aaaaaaaaaaaaaaaaaaaaaaa\r\nabc\r\n0\r\n\r\n";
    check(
        small,
        "chunk extension too long",
        "RFC 9112 §7.1.1",
        ext,
        ChunkExtensionTooLong,
        400,
    );
    let trailers = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX-Trailer: aaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    check(
        small,
        "trailers too large",
        "RFC 9112 §7.1.2 (431)",
        trailers,
        TrailersTooLarge,
        431,
    );
    let declared = b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\n";
    check(
        small,
        "declared body too large",
        "RFC 9110 §15.5.14 (413)",
        declared,
        BodyTooLarge,
        413,
    );
    let chunked = b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n6\r\naaaaaa\r\n6\r\naaaaaa\r\n0\r\n\r\n";
    check(
        small,
        "chunked body too large",
        "RFC 9110 §15.5.14 (413)",
        chunked,
        BodyTooLarge,
        413,
    );
}

#[test]
fn head_timeout_answers_408_and_idle_timeout_closes() {
    use std::time::Duration;
    let t0 = Instant::now();
    let mut conn = ServerConnection::new(ServerConfig::default(), t0);
    assert_eq!(conn.poll_timeout(), Some(t0 + Duration::from_secs(60)));
    conn.handle_input(t0, b"GET / HT");
    assert!(conn.poll_event().unwrap().is_none());
    assert_eq!(conn.poll_timeout(), Some(t0 + Duration::from_secs(30)));
    conn.handle_timeout(t0 + Duration::from_secs(29));
    assert!(conn.error().is_none());
    conn.handle_timeout(t0 + Duration::from_secs(30));
    assert_eq!(conn.error(), Some(HeadTimeout));
    let mut out = Vec::new();
    assert!(conn.poll_transmit(&mut out));
    assert!(out.starts_with(b"HTTP/1.1 408 "));
    assert!(conn.wants_close());

    let mut idle = ServerConnection::new(ServerConfig::default(), t0);
    idle.handle_timeout(t0 + Duration::from_secs(61));
    assert!(idle.wants_close());
    let mut out = Vec::new();
    assert!(!idle.poll_transmit(&mut out), "an idle close sends nothing");
}
