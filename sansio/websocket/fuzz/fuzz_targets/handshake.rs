//! Arbitrary header lines into the server's request check and the client's response
//! check: never a panic; an accepted request yields a response its client would accept.
#![no_main]

use libfuzzer_sys::fuzz_target;
use strait_websocket::handshake::{validate_request, verify_response, ClientKey};

fuzz_target!(|data: &[u8]| {
    let mut req = http::Request::builder().method("GET").uri("/");
    let mut res = http::Response::builder().status(101);
    for line in data.split(|&b| b == b'\n') {
        let Some(colon) = line.iter().position(|&b| b == b':') else { continue };
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        let (Ok(name), Ok(value)) = (
            http::header::HeaderName::from_bytes(name),
            http::header::HeaderValue::from_bytes(value.trim_ascii()),
        ) else {
            continue;
        };
        req = req.header(name.clone(), value.clone());
        res = res.header(name, value);
    }
    let Ok(req) = req.body(()) else { return };
    let (parts, ()) = req.into_parts();
    if let Ok(offer) = validate_request(&parts) {
        let protocols: Vec<&str> = offer.protocols().collect();
        let chosen = offer.select_protocol(&protocols);
        let _ = offer.response(chosen);
    }
    if let Ok(res) = res.body(()) {
        let (parts, ()) = res.into_parts();
        let _ = verify_response(&parts, &ClientKey::from_nonce([0; 16]), &["a"]);
    }
});
