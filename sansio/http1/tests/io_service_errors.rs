//! What the client gets when the service fails before answering: the status of a
//! protocol error it returns (a target `http::Uri` refuses is 400, not a 500 or a
//! panic), 500 for any other error, and a close either way.

use std::io;

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_streams::{
    block_on, duplex, when_all, write_all, DuplexStream, ReadStreamExt, WriteStreamExt,
};

/// Sends `request` to a connection served by `service`; returns what came back before
/// the server closed, and how serving ended.
fn exchange(
    request: &'static [u8],
    service: impl AsyncFnMut(&mut Exchange<'_, DuplexStream>) -> io::Result<()>,
) -> (String, io::Result<()>) {
    let (server_end, mut client_end) = duplex(64 * 1024);
    // Wrapped so that `when_all` does not stop at the server's error.
    let server =
        async move { io::Result::Ok(serve_connection(server_end, service).await.map(drop)) };
    let client = async move {
        write_all(&mut client_end, request).await?;
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            match client_end.read(&mut buf).await? {
                0 => break,
                n => got.extend_from_slice(&buf[..n]),
            }
        }
        client_end.shutdown().await?;
        Ok(String::from_utf8(got).unwrap())
    };
    let (served, got) = block_on(when_all((server, client))).unwrap();
    (got, served)
}

#[test]
fn a_target_http_uri_refuses_is_answered_400() {
    // httparse takes `<` and `>` in a target; `http::Uri` does not.
    let (got, served) = exchange(
        b"GET /<> HTTP/1.1\r\nHost: a\r\n\r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n",
        async |ex: &mut Exchange<'_, DuplexStream>| {
            let parts = ex.to_parts()?;
            ex.respond(
                StatusCode::OK,
                &HeaderMap::new(),
                parts.uri.path().as_bytes(),
            )
            .await
        },
    );
    assert!(got.starts_with("HTTP/1.1 400 Bad Request\r\n"), "{got}");
    assert!(got.contains("\r\nconnection: close\r\n"), "{got}");
    // The pipelined second request is not served: the connection closed.
    assert_eq!(got.matches("HTTP/1.1").count(), 1, "{got}");
    let e = served.unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    let inner = e
        .get_ref()
        .unwrap()
        .downcast_ref::<strait_http1::proto::Error>();
    assert_eq!(inner, Some(&strait_http1::proto::Error::InvalidTarget));
}

#[test]
fn the_same_target_is_served_through_the_borrowed_head() {
    let (got, served) = exchange(
        b"GET /<>?q HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n",
        async |ex: &mut Exchange<'_, DuplexStream>| {
            let path = ex.request().path().to_owned();
            ex.respond(StatusCode::OK, &HeaderMap::new(), path.as_bytes())
                .await
        },
    );
    assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "{got}");
    assert!(got.ends_with("\r\n\r\n/<>"), "{got}");
    served.unwrap();
}

#[test]
fn another_service_error_is_answered_500() {
    let (got, served) = exchange(
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        async |_: &mut Exchange<'_, DuplexStream>| Err(io::Error::other("the database is down")),
    );
    assert!(
        got.starts_with("HTTP/1.1 500 Internal Server Error\r\n"),
        "{got}"
    );
    assert!(got.contains("\r\nconnection: close\r\n"), "{got}");
    assert_eq!(served.unwrap_err().to_string(), "the database is down");
}
