//! The async client against the async server over an in-memory pipe: pipelined
//! requests answered in order from one write, streamed request bodies (chunked and
//! with a declared length), and misuse refused.

use std::io;

use http::{HeaderMap, Method, StatusCode};
use strait_http1::io::{serve_connection, Client, Exchange};
use strait_http1::proto::BodyLength;
use strait_streams::vocab::ConstBuffer;
use strait_streams::{block_on, duplex, when_all, DuplexStream, WriteSinkExt};

/// Answers `METHOD path:body`.
async fn echo(ex: &mut Exchange<'_, DuplexStream>) -> io::Result<()> {
    let mut body = Vec::new();
    ex.read_body_to_end(&mut body, 1 << 24).await?;
    let mut answer = format!("{} {}:", ex.request().method(), ex.request().path()).into_bytes();
    answer.extend_from_slice(&body);
    ex.respond(StatusCode::OK, &HeaderMap::new(), &answer).await
}

/// Runs `client` against a server answering with `echo`.
fn with_server<T>(client: impl AsyncFnOnce(Client<DuplexStream>) -> io::Result<T>) -> T {
    let (server_end, client_end) = duplex(8 * 1024);
    let server = async move {
        serve_connection(server_end, async |ex: &mut Exchange<'_, DuplexStream>| {
            echo(ex).await
        })
        .await
        .map(drop)
    };
    let (_, out) = block_on(when_all((server, client(Client::new(client_end))))).unwrap();
    out
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    with_server(async |mut c: Client<DuplexStream>| {
        let h = HeaderMap::new();
        for i in 0..20 {
            let method = if i % 3 == 0 {
                Method::POST
            } else {
                Method::GET
            };
            let body = if i % 3 == 0 {
                format!("b{i}")
            } else {
                String::new()
            };
            c.queue(method, &format!("/r{i}"), "a", &h, body.as_bytes())?;
        }
        assert_eq!(c.in_flight(), 20);
        // Another request cannot jump the queue.
        let e = c.send(Method::GET, "/x", "a", &h, b"").await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        for i in 0..20 {
            let res = c.read_response().await?;
            let want = if i % 3 == 0 {
                format!("POST /r{i}:b{i}")
            } else {
                format!("GET /r{i}:")
            };
            assert_eq!(res.status(), StatusCode::OK);
            assert_eq!(String::from_utf8_lossy(res.body()), want);
        }
        assert_eq!(c.in_flight(), 0);
        let e = c.read_response().await.unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        // The connection is still good for a plain exchange.
        let res = c.send(Method::GET, "/last", "a", &h, b"").await?;
        assert_eq!(res.body(), b"GET /last:");
        Ok(())
    });
}

#[test]
fn streamed_request_bodies_arrive_whole() {
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let expected = big.clone();
    with_server(async move |mut c: Client<DuplexStream>| {
        let h = HeaderMap::new();
        // Chunked: the length is not known up front.
        let mut body = c
            .start_request(Method::POST, "/chunked", "a", &h, BodyLength::Unknown)
            .await?;
        for piece in big.chunks(7_001) {
            body.write_all(&[ConstBuffer::from(piece)]).await?;
        }
        body.write_eof(&[ConstBuffer::from(&b""[..])]).await?;
        let res = c.read_response().await?;
        assert_eq!(&res.body()[..b"POST /chunked:".len()], b"POST /chunked:");
        assert_eq!(&res.body()[b"POST /chunked:".len()..], &expected[..]);

        // A declared length, written in two parts.
        let mut body = c
            .start_request(Method::PUT, "/sized", "a", &h, BodyLength::Known(11))
            .await?;
        body.write_all(&[ConstBuffer::from(&b"hello "[..])]).await?;
        body.write_eof(&[ConstBuffer::from(&b"world"[..])]).await?;
        let res = c.read_response().await?;
        assert_eq!(res.body(), b"PUT /sized:hello world");

        // Writing past the declared length is refused, and nothing extra is sent.
        let mut body = c
            .start_request(Method::PUT, "/short", "a", &h, BodyLength::Known(2))
            .await?;
        let e = body
            .write_all(&[ConstBuffer::from(&b"abc"[..])])
            .await
            .unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidInput);
        body.write_eof(&[ConstBuffer::from(&b"ab"[..])]).await?;
        let res = c.read_response().await?;
        assert_eq!(res.body(), b"PUT /short:ab");
        Ok(())
    });
}
