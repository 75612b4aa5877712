//! The missing FIN, fixed: a strait shutdown on an async-std socket is a real
//! `shutdown(Write)`, so a plain blocking peer sees end of stream and can still answer.
//! The last test shows what it fixes: async-std's own close sends no FIN.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use async_std::io::Write as _;
use strait_async_std::{AsyncStdExecutor, FromFuturesIo, TcpStream};
use strait_streams::{read_to_end, write_all, VecBuffer, WriteStreamExt};

/// A blocking peer: reads until end of stream (or a 2 s silence), then answers "bye".
/// Returns what it read and whether it saw end of stream.
fn peer() -> (SocketAddr, std::thread::JoinHandle<(Vec<u8>, bool)>) {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let peer = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        let mut got = Vec::new();
        let saw_eof = socket.read_to_end(&mut got).is_ok();
        socket.write_all(b"bye").unwrap();
        (got, saw_eof)
    });
    (addr, peer)
}

#[test]
fn shutdown_sends_a_fin_a_plain_peer_sees() {
    let (addr, peer) = peer();
    let answer = AsyncStdExecutor::new().block_on(async {
        let mut stream = TcpStream::connect(addr).await?;
        write_all(&mut stream, "hello").await?;
        stream.shutdown().await?;
        let err = stream.write(&b"late"[..]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        let mut answer = Vec::new();
        read_to_end(&mut stream, VecBuffer::new(&mut answer, 1024)).await?;
        io::Result::Ok(answer)
    });
    assert_eq!(peer.join().unwrap(), (b"hello".to_vec(), true));
    assert_eq!(answer.unwrap(), b"bye");
}

/// Upstream's behaviour, kept visible: through the plain futures-io adapter (whose
/// shutdown is `poll_close`) and through async-std's own `close`, the peer never reads
/// end of stream. If this starts failing, async-std fixed its close.
#[test]
fn async_std_close_sends_no_fin() {
    let (addr, peer) = peer();
    async_std::task::block_on(async {
        let mut plain = FromFuturesIo::new(async_std::net::TcpStream::connect(addr).await?);
        write_all(&mut plain, "hello").await?;
        plain.shutdown().await?; // async-std's poll_close: a flush
        let mut socket = plain.into_inner();
        std::future::poll_fn(|cx| std::pin::Pin::new(&mut socket).poll_close(cx)).await?;
        let (got, saw_eof) = peer.join().unwrap();
        assert_eq!(got, b"hello");
        assert!(!saw_eof, "async-std now sends a FIN on close");
        io::Result::Ok(())
    })
    .unwrap();
}
