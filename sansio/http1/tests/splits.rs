//! Every split of every message yields the same events as one chunk, and those are the
//! events the message means.

mod common;

use common::{client_events, server_events, splits, three_way_splits};
use http::Method;
use strait_http1::proto::Limits;

fn server_case(input: &[u8], eof: bool, expected: &[&str]) {
    let whole = server_events(Limits::default(), &[input], eof);
    assert_eq!(whole, expected, "{}", String::from_utf8_lossy(input));
    for split in splits(input) {
        assert_eq!(
            server_events(Limits::default(), &split, eof),
            whole,
            "split {split:?}"
        );
    }
    if input.len() <= 90 {
        for split in three_way_splits(input) {
            assert_eq!(
                server_events(Limits::default(), &split, eof),
                whole,
                "split {split:?}"
            );
        }
    }
}

#[test]
fn simple_get_then_clean_close() {
    server_case(
        b"GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n",
        true,
        &["REQ GET /a?b=c HTTP/1.1 [Host: x]", "END", "CLOSED"],
    );
}

#[test]
fn content_length_body() {
    server_case(
        b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world",
        false,
        &[
            "REQ POST /echo HTTP/1.1 [Host: x] [Content-Length: 11]",
            "DATA hello world",
            "END",
        ],
    );
}

#[test]
fn chunked_body_with_extensions_trailers_and_both_hex_cases() {
    server_case(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n\
          5;name=value;q=\"a b\"\r\nhello\r\nA\r\n0123456789\r\na ; ext\r\nabcdefghij\r\n\
          0\r\nX-Sum: 42\r\nX-More: a\r\n\r\n",
        false,
        &[
            "REQ POST / HTTP/1.1 [Host: x] [Transfer-Encoding: chunked]",
            "DATA hello0123456789abcdefghij",
            "TRAILERS [X-Sum: 42] [X-More: a]",
            "END",
        ],
    );
}

#[test]
fn chunked_body_without_trailers() {
    server_case(
        b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
        true,
        &[
            "REQ POST / HTTP/1.1 [Host: x] [Transfer-Encoding: chunked]",
            "DATA abc",
            "END",
            "CLOSED",
        ],
    );
}

#[test]
fn pipelined_requests_from_one_read() {
    server_case(
        b"GET /1 HTTP/1.1\r\nHost: x\r\n\r\nPOST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nok\
          GET /3 HTTP/1.1\r\nHost: x\r\n\r\n",
        true,
        &[
            "REQ GET /1 HTTP/1.1 [Host: x]",
            "END",
            "REQ POST /2 HTTP/1.1 [Host: x] [Content-Length: 2]",
            "DATA ok",
            "END",
            "REQ GET /3 HTTP/1.1 [Host: x]",
            "END",
            "CLOSED",
        ],
    );
}

#[test]
fn leading_empty_lines_are_ignored() {
    server_case(
        b"\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
        false,
        &["REQ GET / HTTP/1.1 [Host: x]", "END"],
    );
}

#[test]
fn http10_and_connection_close_stop_reading() {
    server_case(
        b"GET / HTTP/1.0\r\n\r\nGET /ignored HTTP/1.0\r\n\r\n",
        false,
        &["REQ GET / HTTP/1.0", "END"],
    );
    server_case(
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n",
        false,
        &["REQ GET / HTTP/1.1 [Host: x] [Connection: close]", "END"],
    );
}

#[test]
fn expect_continue_is_reported() {
    server_case(
        b"PUT / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nz",
        false,
        &[
            "REQ PUT / HTTP/1.1 [Host: x] [Expect: 100-continue] [Content-Length: 1] expect-100",
            "DATA z",
            "END",
        ],
    );
}

#[test]
fn client_vanishing_mid_request_is_an_error_without_answer() {
    server_case(
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc",
        true,
        &[
            "REQ POST / HTTP/1.1 [Host: x] [Content-Length: 10]",
            "DATA abc",
            "ERR IncompleteBody",
        ],
    );
    server_case(b"GET / HTTP/1.1\r\nHo", true, &["ERR IncompleteHead"]);
}

fn client_case(methods: &[Method], input: &[u8], eof: bool, expected: &[&str]) {
    let whole = client_events(methods, &[input], eof);
    assert_eq!(whole, expected, "{}", String::from_utf8_lossy(input));
    for split in splits(input) {
        assert_eq!(
            client_events(methods, &split, eof),
            whole,
            "split {split:?}"
        );
    }
}

#[test]
fn client_reads_length_chunked_and_close_delimited_bodies() {
    client_case(
        &[Method::GET, Method::GET, Method::GET],
        b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabc\
          HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\nT: 1\r\n\r\n\
          HTTP/1.1 200 OK\r\n\r\nuntil the end",
        true,
        &[
            "RES 200 HTTP/1.1 [Content-Length: 3]",
            "DATA abc",
            "END",
            "RES 200 HTTP/1.1 [Transfer-Encoding: chunked]",
            "DATA de",
            "TRAILERS [T: 1]",
            "END",
            "RES 200 HTTP/1.1",
            "DATA until the end",
            "END",
            "CLOSED",
        ],
    );
}

#[test]
fn client_knows_bodiless_responses() {
    client_case(
        &[Method::HEAD, Method::GET, Method::GET, Method::GET],
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n\
          HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n\
          HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n\
          HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
        false,
        &[
            "RES 200 HTTP/1.1 [Content-Length: 100]",
            "END",
            "INFO 100 HTTP/1.1",
            "RES 204 HTTP/1.1",
            "END",
            "RES 304 HTTP/1.1 [Content-Length: 5]",
            "END",
            "RES 200 HTTP/1.1 [Content-Length: 0]",
            "END",
        ],
    );
}

#[test]
fn client_upgrade_keeps_leftover() {
    client_case(
        &[Method::GET],
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n\x81\x00",
        false,
        &["RES 101 HTTP/1.1 [Upgrade: websocket] [Connection: upgrade]", "UPGRADE"],
    );
}

#[test]
fn client_rejects_smuggling_shapes() {
    client_case(
        &[Method::GET],
        b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        false,
        &["ERR ConflictingContentLength"],
    );
    client_case(
        &[],
        b"HTTP/1.1 200 OK\r\n\r\n",
        false,
        &["ERR UnexpectedResponse"],
    );
}

mod whole_head_fast_path {
    //! A head that arrives whole is parsed in one pass; it must decide exactly as the
    //! incremental path (byte at a time) does, errors and limits included.
    use super::common::server_events;
    use proptest::prelude::*;
    use strait_http1::proto::Limits;

    fn terminator() -> impl Strategy<Value = &'static [u8]> {
        prop_oneof![
            8 => Just(&b"\r\n"[..]),
            1 => Just(&b"\n"[..]),
            1 => Just(&b"\r"[..]),
            1 => Just(&b"\r\r\n"[..]),
        ]
    }

    fn field() -> impl Strategy<Value = Vec<u8>> {
        let name = prop_oneof![
            Just(b"Host".to_vec()),
            Just(b"X-A".to_vec()),
            Just(b"Content-Length".to_vec()),
            Just(b" Folded".to_vec()),
            Just(b"Bad Name".to_vec()),
            Just(b"".to_vec()),
        ];
        let value = prop_oneof![
            Just(b"x".to_vec()),
            Just(b" 0 ".to_vec()),
            Just(b"a\x01b".to_vec()),
            Just(b"\xFFhigh".to_vec()),
            Just(b"".to_vec()),
            "[a-z ]{0,20}".prop_map(String::into_bytes),
        ];
        (name, value, terminator()).prop_map(|(n, v, t)| {
            let mut line = n;
            line.extend_from_slice(b": ");
            line.extend_from_slice(&v);
            line.extend_from_slice(t);
            line
        })
    }

    fn head() -> impl Strategy<Value = Vec<u8>> {
        let start = prop_oneof![
            Just(b"GET / HTTP/1.1".to_vec()),
            Just(b"GET /a/long/path/here?q=1 HTTP/1.1".to_vec()),
            Just(b"\nGET / HTTP/1.1".to_vec()),
            Just(b"GET / HTTP/1.0".to_vec()),
            Just(b"G(T / HTTP/1.1".to_vec()),
            Just(b"GET * HTTP/1.1".to_vec()),
            Just(b"GET / HTTP/2.0".to_vec()),
        ];
        (
            start,
            terminator(),
            proptest::collection::vec(field(), 0..5),
            terminator(),
            "[a-z]{0,3}",
        )
            .prop_map(|(s, t, fields, end, rest)| {
                let mut head = s;
                head.extend_from_slice(t);
                for f in fields {
                    head.extend_from_slice(&f);
                }
                head.extend_from_slice(end);
                head.extend_from_slice(rest.as_bytes());
                head
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn whole_decides_like_byte_at_a_time(
            head in head(),
            eof in any::<bool>(),
            max_request_line in 10usize..40,
            max_head_bytes in 20usize..200,
        ) {
            for limits in [
                Limits::default(),
                Limits::default().max_request_line(max_request_line).max_head_bytes(max_head_bytes),
            ] {
                let whole = server_events(limits, &[&head], eof);
                let bytes: Vec<&[u8]> = head.chunks(1).collect();
                let bytewise = server_events(limits, &bytes, eof);
                prop_assert_eq!(&whole, &bytewise, "{:?}", String::from_utf8_lossy(&head));
            }
        }
    }
}
