//! Serialize → parse round trips for random heads and bodies, both directions, over a
//! random split of the bytes.

use std::time::Instant;

use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use proptest::prelude::*;
use strait_http1::proto::{
    BodyLength, ClientConnection, Event, Limits, ServerConfig, ServerConnection,
};

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::POST),
        Just(Method::PUT),
        Just(Method::DELETE),
        Just(Method::PATCH),
        Just(Method::OPTIONS),
        "[A-Z]{1,12}".prop_map(|m| Method::from_bytes(m.as_bytes()).unwrap()),
    ]
}

fn headers() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec(("x-[a-z0-9-]{1,12}", "([!-~]([ -~]{0,30}[!-~])?)?"), 0..12)
}

fn to_map(fields: &[(String, String)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (n, v) in fields {
        map.append(
            HeaderName::from_bytes(n.as_bytes()).unwrap(),
            HeaderValue::from_str(v).unwrap(),
        );
    }
    map
}

/// The fields of `map` in wire order, as strings.
fn map_fields(map: &HeaderMap) -> Vec<(String, String)> {
    map.iter()
        .map(|(n, v)| (n.as_str().to_string(), v.to_str().unwrap().to_string()))
        .collect()
}

fn body_length(body: &[u8], chunked: bool) -> BodyLength {
    match (chunked, body.len()) {
        (true, _) => BodyLength::Unknown,
        (false, 0) => BodyLength::Empty,
        (false, n) => BodyLength::Known(n as u64),
    }
}

fn write_body(body: &[u8], pieces: usize, mut send: impl FnMut(&[u8])) {
    let step = body.len() / pieces.max(1) + 1;
    for chunk in body.chunks(step) {
        send(chunk);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn request_round_trip(
        method in method(),
        target in "/[a-zA-Z0-9._~!$&'()*+,;=:@/?-]{0,40}",
        fields in headers(),
        body in prop::collection::vec(any::<u8>(), 0..400),
        chunked: bool,
        pieces in 1usize..5,
        cut in any::<prop::sample::Index>(),
    ) {
        let now = Instant::now();
        let mut client = ClientConnection::new(Limits::default());
        let mut wire = Vec::new();
        let map = to_map(&fields);
        client.send_request(&method, &target, "example.com", &map, body_length(&body, chunked), &mut wire).unwrap();
        write_body(&body, pieces, |c| client.send_data(c, &mut wire).unwrap());
        client.send_end(None, &mut wire).unwrap();

        let mut server = ServerConnection::new(ServerConfig::default(), now);
        let cut = cut.index(wire.len() + 1);
        let mut got_body = Vec::new();
        let mut head = None;
        let mut ended = false;
        for part in [&wire[..cut], &wire[cut..]] {
            server.handle_input(now, part);
            while let Some(ev) = server.poll_event().unwrap() {
                match ev {
                    Event::Request(r) => {
                        let fields: Vec<(String, String)> = r.headers().iter()
                            .map(|(n, v)| (n.to_string(), String::from_utf8(v.to_vec()).unwrap()))
                            .collect();
                        head = Some((r.method().clone(), r.target().to_string(), fields));
                    }
                    Event::Data(d) => got_body.extend_from_slice(d),
                    Event::EndOfMessage => ended = true,
                    other => panic!("{other:?}"),
                }
            }
        }
        prop_assert!(ended);
        let (m, t, got_fields) = head.unwrap();
        prop_assert_eq!(m, method);
        prop_assert_eq!(t, target);
        let mut expected = vec![("host".to_string(), "example.com".to_string())];
        expected.extend(map_fields(&map));
        match body_length(&body, chunked) {
            BodyLength::Known(n) => expected.push(("content-length".into(), n.to_string())),
            BodyLength::Unknown => expected.push(("transfer-encoding".into(), "chunked".into())),
            BodyLength::Empty => {}
        }
        prop_assert_eq!(got_fields, expected);
        prop_assert_eq!(got_body, body);
    }

    #[test]
    fn response_round_trip(
        status in (200u16..600).prop_filter("bodiless", |s| *s != 204 && *s != 304),
        fields in headers(),
        body in prop::collection::vec(any::<u8>(), 0..400),
        chunked: bool,
        pieces in 1usize..5,
        with_trailers: bool,
        cut in any::<prop::sample::Index>(),
    ) {
        let now = Instant::now();
        let mut server = ServerConnection::new(ServerConfig::default(), now);
        server.handle_input(now, b"GET / HTTP/1.1\r\nHost: a\r\n\r\n");
        while server.poll_event().unwrap().is_some() {}
        let status = StatusCode::from_u16(status).unwrap();
        let map = to_map(&fields);
        let mut wire = Vec::new();
        server.send_response(now, status, &map, body_length(&body, chunked), &mut wire).unwrap();
        write_body(&body, pieces, |c| server.send_data(c, &mut wire).unwrap());
        let mut trailers = HeaderMap::new();
        trailers.insert("x-digest", HeaderValue::from_static("abc"));
        let send_trailers = with_trailers && chunked;
        server.send_end(send_trailers.then_some(&trailers), &mut wire).unwrap();

        let mut client = ClientConnection::new(Limits::default());
        client.send_request(&Method::GET, "/", "a", &HeaderMap::new(), BodyLength::Empty, &mut Vec::new()).unwrap();
        client.send_end(None, &mut Vec::new()).unwrap();
        let cut = cut.index(wire.len() + 1);
        let mut got_body = Vec::new();
        let mut got_status = None;
        let mut got_trailers = None;
        let mut ended = false;
        for part in [&wire[..cut], &wire[cut..]] {
            client.handle_input(now, part);
            while let Some(ev) = client.poll_event().unwrap() {
                match ev {
                    Event::Response(r) => {
                        got_status = Some(r.status());
                        let parts = r.to_parts();
                        for (n, v) in &map {
                            prop_assert!(parts.headers.get_all(n).iter().any(|x| x == v));
                        }
                    }
                    Event::Data(d) => got_body.extend_from_slice(d),
                    Event::Trailers(t) => got_trailers = Some(t.to_header_map()),
                    Event::EndOfMessage => ended = true,
                    other => panic!("{other:?}"),
                }
            }
        }
        prop_assert!(ended);
        prop_assert_eq!(got_status, Some(status));
        prop_assert_eq!(got_body, body);
        prop_assert_eq!(got_trailers, send_trailers.then_some(trailers));
        prop_assert!(client.is_reusable());
    }
}
