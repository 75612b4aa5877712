//! The request body as a `BufferSource`: the service reads the bytes in the
//! connection's input buffer without a copy, any split of consumes gives the whole body
//! once, and bytes pulled but not consumed stay for the next reader.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;

use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_streams::vocab::MutableBuffer;
use strait_streams::{
    block_on, duplex, when_all, write_all, BufferSource, DuplexStream, ReadSourceExt,
    ReadStreamExt, WriteStreamExt,
};

/// Sends `request` (which must close the connection) and returns everything answered.
fn exchange(
    request: Vec<u8>,
    service: impl AsyncFnMut(&mut Exchange<'_, DuplexStream>) -> io::Result<()>,
) -> String {
    let (server_end, mut client_end) = duplex(1024);
    let server = async move { serve_connection(server_end, service).await.map(drop) };
    let client = async move {
        write_all(&mut client_end, &request[..]).await?;
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
    block_on(when_all((server, client))).unwrap().1
}

/// Pulls the whole body, consuming at most `step` bytes of each window.
async fn pull_all(ex: &mut Exchange<'_, DuplexStream>, step: usize) -> io::Result<Vec<u8>> {
    let mut body = ex.body();
    let mut all = Vec::new();
    loop {
        let n = poll_fn(|cx| {
            Pin::new(&mut body).poll_pull(cx).map_ok(|w| {
                let mut n = 0;
                for b in w.as_slice() {
                    let take = (step - n).min(b.len());
                    all.extend_from_slice(&b[..take]);
                    n += take;
                    if n == step {
                        break;
                    }
                }
                n
            })
        })
        .await?;
        if n == 0 {
            return Ok(all);
        }
        Pin::new(&mut body).consume(n);
    }
}

fn payload() -> Vec<u8> {
    (0..5000u32).map(|i| (i * 7 % 251) as u8).collect()
}

fn chunked(body: &[u8]) -> Vec<u8> {
    let mut r =
        b"POST /up HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for c in body.chunks(777) {
        r.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
        r.extend_from_slice(c);
        r.extend_from_slice(b"\r\n");
    }
    r.extend_from_slice(b"0\r\n\r\n");
    r
}

fn with_length(body: &[u8]) -> Vec<u8> {
    let mut r = format!(
        "POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    r.extend_from_slice(body);
    r
}

#[test]
fn any_consume_step_reads_the_whole_body_once() {
    let body = payload();
    for request in [chunked(&body), with_length(&body)] {
        for step in [1, 3, 100, 4096, usize::MAX] {
            let expected = body.clone();
            let got = exchange(
                request.clone(),
                async |ex: &mut Exchange<'_, DuplexStream>| {
                    let all = pull_all(ex, step).await?;
                    let status = if all == expected {
                        StatusCode::OK
                    } else {
                        StatusCode::BAD_REQUEST
                    };
                    ex.respond(status, &HeaderMap::new(), &all[..all.len().min(16)])
                        .await
                },
            );
            assert!(got.starts_with("HTTP/1.1 200 OK\r\n"), "step {step}: {got}");
        }
    }
}

#[test]
fn pulled_bytes_not_consumed_stay_for_the_next_reader() {
    let body = payload();
    let expected = body.clone();
    let got = exchange(
        chunked(&body),
        async |ex: &mut Exchange<'_, DuplexStream>| {
            {
                let mut source = ex.body();
                // Pull twice without consuming: the same bytes; then drop the source.
                let first = poll_fn(|cx| {
                    Pin::new(&mut source)
                        .poll_pull(cx)
                        .map_ok(|w| w.as_slice()[0].to_vec())
                })
                .await?;
                let again = poll_fn(|cx| {
                    Pin::new(&mut source)
                        .poll_pull(cx)
                        .map_ok(|w| w.as_slice()[0].to_vec())
                })
                .await?;
                assert_eq!(first, again);
                assert_eq!(first[..], expected[..first.len()]);
                Pin::new(&mut source).consume(10);
                let rest = poll_fn(|cx| {
                    Pin::new(&mut source)
                        .poll_pull(cx)
                        .map_ok(|w| w.as_slice()[0].to_vec())
                })
                .await?;
                assert_eq!(rest[..], expected[10..10 + rest.len()]);
            }
            // The ReadSource side continues where the consume left off.
            let mut all = vec![0u8; expected.len() - 10];
            let n = ex
                .body()
                .read_exact(&mut [MutableBuffer::from(&mut all[..])])
                .await?;
            assert_eq!(n, all.len());
            assert_eq!(all[..], expected[10..]);
            let mut tail = Vec::new();
            ex.read_body_to_end(&mut tail, 10).await?;
            assert!(tail.is_empty());
            ex.respond(StatusCode::OK, &HeaderMap::new(), b"ok").await
        },
    );
    assert!(
        got.starts_with("HTTP/1.1 200 OK\r\n") && got.ends_with("ok"),
        "{got}"
    );
}
