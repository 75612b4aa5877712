//! The futures `Stream`/`Sink` layer: an echo server written with futures-util's
//! combinators (split + forward), pings answered by the stream, the close handshake
//! ending the stream, a protocol error reported with its close frame sent, and the idle
//! ping timer driven by the stream.

use std::io;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use strait_streams::io::duplex_with_chunk;
use strait_streams::{block_on, duplex, when_all, write_all, ReadStreamExt};
use strait_websocket::io::{OwnedMessage, WebSocket};
use strait_websocket::proto::{CloseCode, Config, Event, Message, Role};

#[test]
fn echo_with_split_and_forward() {
    let (a, b) = duplex_with_chunk(8192, 100);
    let server = WebSocket::new(b, Role::Server, Config::default()).into_stream();
    let mut client = WebSocket::new(a, Role::Client, Config::default());
    block_on(async {
        let echo = async {
            let (sink, stream) = server.split();
            stream.forward(sink).await
        };
        let talk = async {
            for i in 0..30usize {
                let text = format!("{i} ").repeat(i * 40);
                client.send_text(&text).await?;
                assert_eq!(client.next_message().await?, Some(Message::Text(&text)));
                client.send_binary(&vec![i as u8; i * 500]).await?;
                assert_eq!(
                    client.next_message().await?,
                    Some(Message::Binary(&vec![i as u8; i * 500]))
                );
            }
            client.send_ping(b"p").await?;
            assert!(matches!(
                client.next_event().await?,
                Some(Event::Pong(b"p"))
            ));
            client.close(CloseCode::NORMAL, "bye").await
        };
        when_all((echo, talk)).await.unwrap();
    });
    assert!(client.connection().is_closed());
}

#[test]
fn sink_sends_and_close_ends_both_streams() {
    let (a, b) = duplex(64 * 1024);
    let mut server = WebSocket::new(b, Role::Server, Config::default()).into_stream();
    let mut client = WebSocket::new(a, Role::Client, Config::default()).into_stream();
    block_on(async {
        client.send(Message::Text("one")).await?;
        client.send(OwnedMessage::Binary(vec![2; 30_000])).await?;
        assert_eq!(
            server.next().await.unwrap()?,
            OwnedMessage::Text("one".into())
        );
        assert_eq!(
            server.next().await.unwrap()?,
            OwnedMessage::Binary(vec![2; 30_000])
        );
        SinkExt::<Message<'_>>::close(&mut client).await?;
        // The server's stream sees the close, echoes it and ends; then the client's.
        assert!(server.next().await.is_none());
        assert!(client.next().await.is_none());
        io::Result::Ok(())
    })
    .unwrap();
    assert!(client.get_ref().connection().is_closed());
    assert!(server.get_ref().connection().is_closed());
}

#[test]
fn protocol_error_is_reported_after_its_close_frame() {
    let (mut raw, b) = duplex(4096);
    let mut server = WebSocket::new(b, Role::Server, Config::default()).into_stream();
    block_on(async {
        // An unmasked frame from a client: 1002.
        write_all(&mut raw, &[0x81u8, 0x01, b'x'][..]).await?;
        let e = server.next().await.unwrap().unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData, "{e}");
        let mut got = [0u8; 4];
        raw.read(&mut got[..]).await?;
        assert_eq!(got, [0x88, 0x02, 0x03, 0xEA], "close 1002");
        assert!(server.next().await.is_none());
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn idle_ping_timer_runs_inside_the_stream() {
    let (mut raw, b) = duplex(4096);
    let config = Config::default().ping_interval(Some(Duration::from_millis(30)));
    let mut server = WebSocket::new(b, Role::Server, config).into_stream();
    block_on(async {
        // The idle clock starts with the first input: a masked "x" (zero mask key).
        write_all(&mut raw, &[0x81u8, 0x81, 0, 0, 0, 0, b'x'][..]).await?;
        assert_eq!(
            server.next().await.unwrap()?,
            OwnedMessage::Text("x".into())
        );
        let read = async {
            // The ping arrives without further input; unanswered, the stream times out.
            let mut got = [0u8; 2];
            raw.read(&mut got[..]).await?;
            assert_eq!(got[0], 0x89, "a ping");
            io::Result::Ok(())
        };
        let poll = async {
            let e = server.next().await.unwrap().unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::TimedOut, "{e}");
            io::Result::Ok(())
        };
        when_all((read, poll)).await.map(drop)
    })
    .unwrap();
}
