//! The reader/writer split: two tasks on a multi-threaded native context over TCP,
//! back-pressure from a bounded send buffer, and the close timeout reaching a reader that
//! waits in a read.

use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{block_on, delay, duplex, timeout, when_all, ReadStreamExt};
use strait_websocket::io::WebSocket;
use strait_websocket::proto::{CloseCode, Config, Message, Role};

#[test]
fn reader_and_writer_in_two_tasks_over_tcp() {
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    // The server: an echo on the same context.
    let server = ctx.spawn(async move {
        let (stream, _) = listener.accept().await?;
        let mut ws = WebSocket::new(stream, Role::Server, Config::default());
        let mut scratch = Vec::new();
        while let Some(m) = ws.next_message().await? {
            scratch.clear();
            scratch.extend_from_slice(m.as_bytes());
            ws.send_binary(&scratch).await?;
        }
        io::Result::Ok(())
    });
    let stream = ctx.block_on(TcpStream::connect(&ctx, addr)).unwrap();
    let ws = WebSocket::new(stream, Role::Client, Config::default());
    let (mut reader, writer) = ws.split();
    const N: usize = 500;
    let writer_task = ctx.spawn(async move {
        for i in 0..N {
            writer
                .send_binary(&(i as u32).to_le_bytes().repeat(i % 64 + 1))
                .await?;
        }
        writer.close(CloseCode::NORMAL, "done").await?;
        io::Result::Ok(())
    });
    let reader_task = ctx.spawn(async move {
        let mut seen = 0;
        while let Some(m) = reader.next_message().await? {
            let Message::Binary(b) = m else {
                panic!("text")
            };
            assert_eq!(b, (seen as u32).to_le_bytes().repeat(seen % 64 + 1));
            seen += 1;
        }
        io::Result::Ok(seen)
    });
    ctx.block_on(writer_task).unwrap().unwrap();
    // Every echo arrived, in order, and the close handshake ended the reader.
    assert_eq!(ctx.block_on(reader_task).unwrap().unwrap(), N);
    ctx.block_on(server).unwrap().unwrap();
}

#[test]
fn sends_wait_while_the_peer_does_not_read() {
    // 4 KiB in flight at most, and a 16 KiB send buffer.
    let (a, mut b) = duplex(4096);
    let config = Config::default().max_send_buffer(16 * 1024);
    let (_reader, writer) = WebSocket::new(a, Role::Client, config).split();
    let sent = AtomicUsize::new(0);
    let message = vec![1u8; 10_000];
    block_on(async {
        let send_all = async {
            for _ in 0..20 {
                writer.send_binary(&message).await?;
                sent.fetch_add(1, Ordering::Relaxed);
            }
            io::Result::Ok(())
        };
        // Nobody reads: the sender stops within the first message or two.
        let blocked = timeout(Duration::from_millis(100), send_all).await;
        assert_eq!(blocked.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert!(sent.load(Ordering::Relaxed) <= 1, "{sent:?}");

        // Once the peer reads, every send completes. The canceled send's frame was
        // already queued: it goes out first.
        let expected = (sent.load(Ordering::Relaxed) + 1 + 20) * (10_000 + 8);
        let send_all = async {
            for _ in 0..20 {
                writer.send_binary(&message).await?;
            }
            io::Result::Ok(())
        };
        let drain = async {
            let mut buf = vec![0u8; 64 * 1024];
            let mut total = 0;
            // Frames of 10 000 bytes with 8-byte headers (16-bit length, mask key).
            while total < expected {
                total += b.read(&mut buf[..]).await?;
            }
            io::Result::Ok(total)
        };
        let (_, total) = when_all((send_all, drain)).await.unwrap();
        assert_eq!(total, expected);
    });
}

#[test]
fn close_timeout_reaches_a_reader_waiting_in_a_read() {
    let (a, _b) = duplex(4096); // the peer never answers
    let config = Config::default().close_timeout(Some(Duration::from_millis(100)));
    let (mut reader, writer) = WebSocket::new(a, Role::Client, config).split();
    block_on(async {
        let start = Instant::now();
        let read = async {
            let r = reader.next_message().await.map(|m| m.is_some());
            io::Result::Ok((r, start.elapsed()))
        };
        let close = async {
            // The reader is already waiting (with no deadline) when the close goes out.
            delay(Duration::from_millis(20)).await?;
            writer.close(CloseCode::NORMAL, "").await
        };
        let ((r, elapsed), ()) = when_all((read, close)).await.unwrap();
        assert_eq!(r.unwrap_err().kind(), io::ErrorKind::TimedOut);
        assert!(elapsed < Duration::from_secs(2), "{elapsed:?}");
    });
}

#[test]
fn a_canceled_read_loses_nothing() {
    let (a, b) = duplex(4096);
    let (mut reader, _writer) = WebSocket::new(a, Role::Client, Config::default()).split();
    let mut server = WebSocket::new(b, Role::Server, Config::default());
    block_on(async {
        // Nothing to read: the stop token (through `timeout`) ends the wait.
        let waited = timeout(Duration::from_millis(20), async {
            reader.next_message().await.map(|m| m.is_some())
        })
        .await;
        assert_eq!(waited.unwrap_err().kind(), io::ErrorKind::TimedOut);
        // The reader goes on where it was.
        server.send_text("after").await?;
        assert_eq!(reader.next_message().await?, Some(Message::Text("after")));
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn reader_gathers_large_messages_in_small_reads() {
    use strait_streams::io::duplex_with_chunk;
    let (a, b) = duplex_with_chunk(4096, 333);
    let mut server = WebSocket::new(b, Role::Server, Config::default());
    let (mut reader, writer) = WebSocket::new(a, Role::Client, Config::default()).split();
    let sizes = [0usize, 10, 5000, 70_000, 3, 40_000];
    block_on(async {
        let echo = async {
            let mut n = 0;
            while let Some((m, mut tx)) = server.next_message_with_sender().await? {
                match m {
                    Message::Text(t) => tx.send_text(t).await?,
                    Message::Binary(b) => tx.send_binary(b).await?,
                }
                n += 1;
            }
            io::Result::Ok(n)
        };
        let talk = async {
            for (i, &size) in sizes.iter().enumerate() {
                let text = "é".repeat(size / 2);
                let bin: Vec<u8> = (0..size).map(|j| (j * 7 + i) as u8).collect();
                writer.send_text(&text).await?;
                assert_eq!(reader.next_message().await?, Some(Message::Text(&text)));
                writer.send_binary(&bin).await?;
                assert_eq!(
                    reader.next_message().await?,
                    Some(Message::Binary(&bin[..]))
                );
            }
            writer.close(CloseCode::NORMAL, "").await?;
            assert_eq!(reader.next_message().await?, None);
            io::Result::Ok(())
        };
        let (n, ()) = when_all((echo, talk)).await.unwrap();
        assert_eq!(n, 2 * sizes.len());
    });
}
