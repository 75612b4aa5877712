//! A strait shutdown is a real `shutdown(Write)`: a plain blocking peer sees end of
//! stream and can still answer. And the check would catch the bug it guards against:
//! through `poll_close` alone, async-io's `Async<TcpStream>` sends no FIN.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::time::Duration;

use strait_smol::{FromFuturesIo, FuturesSocket, TcpStream};
use strait_streams::{read_to_end, write_all, ReadStream, VecBuffer, WriteStream, WriteStreamExt};

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

async fn talk<S: ReadStream + WriteStream + Unpin>(mut stream: S) -> io::Result<Vec<u8>> {
    write_all(&mut stream, "hello").await?;
    stream.shutdown().await?;
    let err = stream.write(&b"late"[..]).await.unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    let mut answer = Vec::new();
    read_to_end(&mut stream, VecBuffer::new(&mut answer, 1024)).await?;
    Ok(answer)
}

#[test]
fn tcp_stream_shutdown_sends_a_fin_a_plain_peer_sees() {
    let (addr, peer) = peer();
    let answer = async_io::block_on(async { talk(TcpStream::connect(addr).await?).await });
    assert_eq!(peer.join().unwrap(), (b"hello".to_vec(), true));
    assert_eq!(answer.unwrap(), b"bye");
}

#[test]
fn futures_socket_shutdown_sends_a_fin_where_poll_close_does_not() {
    let (addr, peer) = peer();
    let answer = async_io::block_on(async {
        let socket = async_io::Async::<std::net::TcpStream>::connect(addr).await?;
        talk(FuturesSocket::new(socket)).await
    });
    assert_eq!(peer.join().unwrap(), (b"hello".to_vec(), true));
    assert_eq!(answer.unwrap(), b"bye");
}

/// The bug `FuturesSocket` exists for, shown: async-io's `poll_close` only flushes, so
/// through the plain adapter the peer never sees end of stream (it times out).
#[test]
fn poll_close_alone_sends_no_fin_on_async_io_sockets() {
    let (addr, peer) = peer();
    async_io::block_on(async {
        let socket = async_io::Async::<std::net::TcpStream>::connect(addr).await?;
        let mut stream = FromFuturesIo::new(socket);
        write_all(&mut stream, "hello").await?;
        stream.shutdown().await?;
        let (got, saw_eof) = peer.join().unwrap();
        assert_eq!(got, b"hello");
        assert!(
            !saw_eof,
            "async-io now sends a FIN on close: FuturesSocket may go"
        );
        io::Result::Ok(())
    })
    .unwrap();
}
