//! The async layer over an in-memory duplex pair: echo, leftover bytes, failures with
//! their close codes, the close handshake and its timeout.

use std::io;
use std::time::Duration;

use strait_streams::io::duplex_with_chunk;
use strait_streams::{block_on, duplex, when_all, write_all, ReadStreamExt};
use strait_websocket::io::WebSocket;
use strait_websocket::proto::{CloseCode, Config, Error, Event, Message, ProtocolError, Role};

async fn echo<S: strait_streams::Stream + Unpin>(ws: &mut WebSocket<S>) -> io::Result<usize> {
    let mut n = 0;
    let mut scratch = Vec::new();
    while let Some(m) = ws.next_message().await? {
        n += 1;
        scratch.clear();
        scratch.extend_from_slice(m.as_bytes());
        match m {
            Message::Text(_) => ws.send_text(std::str::from_utf8(&scratch).unwrap()).await?,
            Message::Binary(_) => ws.send_binary(&scratch).await?,
        }
    }
    Ok(n)
}

#[test]
fn echoes_through_small_chunks() {
    // 7-byte chunks: every frame header and payload arrives split.
    let (a, b) = duplex_with_chunk(4096, 7);
    let mut client = WebSocket::new(a, Role::Client, Config::default());
    let mut server = WebSocket::new(b, Role::Server, Config::default());
    block_on(async {
        let talk = async {
            for i in 0..50usize {
                let text = "ü".repeat(i * 13);
                client.send_text(&text).await?;
                assert_eq!(client.next_message().await?, Some(Message::Text(&text)));
                let bin = vec![i as u8; i * 1000];
                client.send_binary(&bin).await?;
                assert_eq!(client.next_message().await?, Some(Message::Binary(&bin)));
            }
            client.send_ping(b"still there?").await?;
            match client.next_event().await? {
                Some(Event::Pong(p)) => assert_eq!(p, b"still there?"),
                other => panic!("{other:?}"),
            }
            client.close(CloseCode::NORMAL, "done").await
        };
        let (echoed, ()) = when_all((echo(&mut server), talk)).await.unwrap();
        assert_eq!(echoed, 100);
    });
    assert!(client.connection().is_closed() && server.connection().is_closed());
}

#[test]
fn leftover_bytes_from_the_handshake_are_the_first_frames() {
    let (a, b) = duplex(4096);
    // A masked "hi" the HTTP layer read together with the request head.
    let leftover = [0x81, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2];
    let mut server = WebSocket::with_leftover(b, Role::Server, Config::default(), &leftover);
    let mut client = WebSocket::new(a, Role::Client, Config::default());
    block_on(async {
        assert_eq!(
            server.next_message().await.unwrap(),
            Some(Message::Text("hi"))
        );
        server.send_text("ho").await.unwrap();
        assert_eq!(
            client.next_message().await.unwrap(),
            Some(Message::Text("ho"))
        );
    });
}

#[test]
fn protocol_violation_closes_with_its_code() {
    let (mut raw, b) = duplex(4096);
    let mut server = WebSocket::new(b, Role::Server, Config::default());
    block_on(async {
        // An unmasked frame from a "client".
        write_all(&mut raw, &[0x81u8, 0x01, b'x'][..])
            .await
            .unwrap();
        let err = server.next_message().await.unwrap_err();
        let inner = err
            .get_ref()
            .and_then(|e| e.downcast_ref::<Error>())
            .unwrap();
        assert_eq!(inner, &Error::Protocol(ProtocolError::UnmaskedFrame));
        let mut buf = [0u8; 16];
        let n = raw.read(&mut buf[..]).await.unwrap();
        assert_eq!(&buf[..n], &[0x88, 0x02, 0x03, 0xEA], "close 1002");
        assert_eq!(
            raw.read(&mut buf[..]).await.unwrap(),
            0,
            "then the stream is shut down"
        );
    });
}

#[test]
fn close_gives_up_when_the_peer_stays_silent() {
    let (a, _silent) = duplex(4096);
    let config = Config::default().close_timeout(Some(Duration::from_millis(30)));
    let mut client = WebSocket::new(a, Role::Client, config);
    let err = block_on(client.close(CloseCode::NORMAL, "")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::TimedOut);
    assert!(client.connection().is_closed());
}

#[test]
fn stream_end_without_close_is_an_error() {
    let (a, b) = duplex(4096);
    let mut client = WebSocket::new(a, Role::Client, Config::default());
    drop(b);
    let err = block_on(client.next_message()).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
}

#[test]
fn standalone_handshake_then_messages() {
    use strait_websocket::io::{accept, connect};
    let (a, b) = duplex_with_chunk(4096, 5);
    block_on(async {
        let server = async {
            let (mut ws, head) = accept(b, Config::default(), &["v2", "v1"]).await?;
            assert_eq!(head.uri, "/chat");
            assert_eq!(ws.protocol(), Some("v1"));
            echo(&mut ws).await
        };
        let client = async {
            let mut ws = connect(
                a,
                "ws://localhost/chat".parse().unwrap(),
                &["v1"],
                Config::default(),
            )
            .await?;
            assert_eq!(ws.protocol(), Some("v1"));
            ws.send_text("over the handshake").await?;
            assert_eq!(
                ws.next_message().await?,
                Some(Message::Text("over the handshake"))
            );
            ws.close(CloseCode::NORMAL, "").await
        };
        let (n, ()) = when_all((server, client)).await.unwrap();
        assert_eq!(n, 1);
    });
}

#[test]
fn refused_handshake_is_answered() {
    use strait_websocket::io::accept;
    let (mut raw, b) = duplex(4096);
    block_on(async {
        let req = b"GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n";
        write_all(&mut raw, &req[..]).await.unwrap();
        let err = accept(b, Config::default(), &[]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidData);
        let mut answer = Vec::new();
        strait_streams::read_to_end(&mut raw, strait_streams::VecBuffer::new(&mut answer, 4096))
            .await
            .unwrap();
        let answer = String::from_utf8(answer).unwrap();
        assert!(
            answer.starts_with("HTTP/1.1 426 Upgrade Required\r\n"),
            "{answer}"
        );
        assert!(answer.contains("sec-websocket-version: 13\r\n"), "{answer}");
    });
}

#[cfg(feature = "deflate")]
#[test]
fn handshake_negotiates_compression() {
    use strait_websocket::io::{accept, connect};
    use strait_websocket::proto::deflate::DeflateConfig;
    let with = Config::default().compression(Some(DeflateConfig::default()));
    for (client_cfg, server_cfg, expect) in [
        (with.clone(), with.clone(), true),
        (with.clone(), Config::default(), false),
        (Config::default(), with.clone(), false),
    ] {
        let (a, b) = duplex(64 * 1024);
        block_on(async {
            let server = async {
                let (mut ws, _) = accept(b, server_cfg, &[]).await?;
                assert_eq!(ws.connection().is_compressed(), expect);
                echo(&mut ws).await
            };
            let client = async {
                let mut ws = connect(a, "ws://x/".parse().unwrap(), &[], client_cfg).await?;
                assert_eq!(ws.connection().is_compressed(), expect);
                let text = "compressible ".repeat(1000);
                ws.send_text(&text).await?;
                assert_eq!(ws.next_message().await?, Some(Message::Text(&text)));
                ws.close(CloseCode::NORMAL, "").await
            };
            when_all((server, client)).await.unwrap();
        });
    }
}

#[test]
fn echo_with_sender_answers_in_place_and_fragmented_messages() {
    use std::time::Instant;
    use strait_websocket::proto::{Connection, MessageKind};
    // Small chunks: the large one-frame message is gathered in place across many reads
    // and its echo goes out through many partial vectored writes.
    let (mut raw, b) = duplex_with_chunk(4096, 1000);
    let mut server = WebSocket::new(b, Role::Server, Config::default());
    let mut client = Connection::new(Role::Client, Config::default());
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    client.send_binary(&big).unwrap();
    client
        .send_fragment(MessageKind::Text, "hé".as_bytes(), false)
        .unwrap();
    client
        .send_fragment(MessageKind::Text, "llo".as_bytes(), true)
        .unwrap();
    client.send_text("small").unwrap();
    let mut wire = Vec::new();
    client.poll_transmit(&mut wire);
    block_on(async {
        let serve = async {
            let mut n = 0;
            while let Some((m, mut tx)) = server.next_message_with_sender().await? {
                n += 1;
                match m {
                    Message::Text(t) => tx.send_text(t).await?,
                    Message::Binary(b) => tx.send_binary(b).await?,
                }
                if n == 3 {
                    break;
                }
            }
            Ok::<_, io::Error>(n)
        };
        let talk = async {
            write_all(&mut raw, &wire[..]).await?;
            let mut got = Vec::new();
            let mut buf = vec![0; 8192];
            while got.len() < 3 {
                let n = raw.read(&mut buf).await?;
                assert!(n > 0, "the server ended early");
                let mut rest = &buf[..n];
                while !rest.is_empty() {
                    let used = client.handle_input(Instant::now(), rest).unwrap();
                    rest = &rest[used..];
                    while let Some(e) = client.poll_event() {
                        if let Event::Message(m) = e {
                            got.push((m.kind(), m.as_bytes().to_vec()));
                        }
                    }
                }
            }
            Ok::<_, io::Error>(got)
        };
        let (n, got) = when_all((serve, talk)).await.unwrap();
        assert_eq!(n, 3);
        assert_eq!(
            got,
            vec![
                (MessageKind::Binary, big.clone()),
                (MessageKind::Text, "héllo".as_bytes().to_vec()),
                (MessageKind::Text, b"small".to_vec()),
            ]
        );
    });
}

#[test]
fn client_masks_in_place_with_send_binary_mut() {
    let (a, b) = duplex_with_chunk(4096, 777);
    let mut client = WebSocket::new(a, Role::Client, Config::default());
    let mut server = WebSocket::new(b, Role::Server, Config::default());
    let original: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    block_on(async {
        let talk = async {
            for size in [10, 5000, 50_000] {
                let mut buf = original[..size].to_vec();
                client.send_binary_mut(&mut buf).await?;
                let echoed = client.next_message().await?;
                assert_eq!(echoed, Some(Message::Binary(&original[..size])));
            }
            client.close(CloseCode::NORMAL, "").await
        };
        let (echoed, ()) = when_all((echo(&mut server), talk)).await.unwrap();
        assert_eq!(echoed, 3);
    });
}

#[test]
fn a_canceled_direct_send_still_goes_out_whole() {
    use std::time::Instant;
    use strait_streams::{read_to_end, timeout, WriteStreamExt};
    use strait_websocket::proto::Connection;
    // A small pipe nobody reads yet: the server's large send blocks part way through its
    // vectored write, and is dropped there.
    let (mut raw, b) = duplex(1024);
    let mut server = WebSocket::new(b, Role::Server, Config::default());
    let big: Vec<u8> = (0..20_000u32).map(|i| (i % 241) as u8).collect();
    let wire = block_on(async {
        let blocked = timeout(Duration::from_millis(20), server.send_binary(&big)).await;
        assert!(
            blocked.is_err(),
            "the send should have been waiting on the peer"
        );
        let send = async {
            // The rest of the canceled frame goes first, then these.
            server.send_binary(b"after").await?;
            server.send_binary(&big[..5000]).await?;
            server.into_inner().shutdown().await
        };
        let read = async {
            let mut wire = Vec::new();
            read_to_end(&mut raw, strait_streams::VecBuffer::new(&mut wire, 1 << 20)).await?;
            Ok::<_, io::Error>(wire)
        };
        let ((), wire) = when_all((send, read)).await.unwrap();
        wire
    });
    // The bytes are exactly the three frames, whole and in order.
    let mut client = Connection::new(Role::Client, Config::default());
    let mut got = Vec::new();
    let mut rest = &wire[..];
    while !rest.is_empty() {
        let n = client.handle_input(Instant::now(), rest).unwrap();
        rest = &rest[n..];
        while let Some(e) = client.poll_event() {
            if let Event::Message(m) = e {
                got.push(m.as_bytes().to_vec());
            }
        }
    }
    assert_eq!(
        got,
        vec![big.clone(), b"after".to_vec(), big[..5000].to_vec()]
    );
    assert_eq!(wire.len(), (4 + 20_000) + (2 + 5) + (4 + 5000));
}
