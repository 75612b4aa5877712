//! A stop request finishes the request in flight, then closes the connection.

use std::io;

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange, Served};
use strait_streams::{
    block_on, duplex, when_all, with_stop_token, write_all, DuplexStream, ReadStreamExt, StopSource,
};

#[test]
fn stop_token_finishes_the_request_in_flight_then_closes() {
    let (server_end, mut client_end) = duplex(64 * 1024);
    let stop = StopSource::new();
    let stop_ref = &stop;
    let server = with_stop_token(stop.token(), async move {
        serve_connection(server_end, async |ex: &mut Exchange<'_, DuplexStream>| {
            // The stop arrives while this request is being served.
            stop_ref.request_stop();
            ex.respond(StatusCode::OK, &HeaderMap::new(), b"finished")
                .await
        })
        .await
    });
    let client = async move {
        write_all(&mut client_end, &b"GET / HTTP/1.1\r\nHost: a\r\n\r\n"[..]).await?;
        let mut all = Vec::new();
        let mut buf = [0u8; 1024];
        loop {
            let n = client_end.read(&mut buf[..]).await?;
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        io::Result::Ok(all)
    };
    let (served, answer) = block_on(when_all((server, client))).unwrap();
    assert!(matches!(served, Served::Closed));
    assert!(answer.starts_with(b"HTTP/1.1 200 OK\r\n"));
    assert!(
        answer.ends_with(b"finished"),
        "{}",
        String::from_utf8_lossy(&answer)
    );
}
