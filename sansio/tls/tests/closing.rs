//! Ending sessions: close_notify both ways, truncation, and peers that are not TLS,
//! go away mid-handshake or cut a record short: each ends with a clear error, no hang.

mod common;

use std::io;
use std::time::Duration;

use common::*;
use strait_streams::{
    block_on, duplex, is_canceled, with_stop_token, DuplexStream, ReadStreamExt, StopSource,
    WriteStreamExt,
};
use strait_tls::{TlsError, TlsStream};

fn setup() -> (strait_tls::ClientContext, strait_tls::ServerContext) {
    let ca = Ca::new("test CA");
    (client_ctx(&ca), server_ctx(ca.issue(&["localhost"])))
}

async fn read_some(s: &mut Tls) -> io::Result<Vec<u8>> {
    let mut buf = [0u8; 256];
    let n = s.read(&mut buf[..]).await?;
    Ok(buf[..n].to_vec())
}

#[test]
fn close_notify_client_to_server_then_server_to_client() {
    let (client, server) = setup();
    run_bounded(async {
        let (mut c, mut s) = connected(&client, "localhost", &server).await;
        c.write(&b"last words"[..]).await.unwrap();
        c.shutdown().await.unwrap();
        assert_eq!(read_some(&mut s).await.unwrap(), b"last words");
        assert_eq!(
            read_some(&mut s).await.unwrap(),
            b"",
            "clean end after close_notify"
        );
        assert_eq!(read_some(&mut s).await.unwrap(), b"", "and it stays ended");
        // The other direction still works until the server closes it too.
        s.write(&b"reply"[..]).await.unwrap();
        s.shutdown().await.unwrap();
        assert_eq!(read_some(&mut c).await.unwrap(), b"reply");
        assert_eq!(read_some(&mut c).await.unwrap(), b"");
    });
}

#[test]
fn write_after_shutdown_is_broken_pipe() {
    let (client, server) = setup();
    run_bounded(async {
        let (mut c, _s) = connected(&client, "localhost", &server).await;
        c.shutdown().await.unwrap();
        let err = c.write(&b"late"[..]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        c.shutdown().await.unwrap(); // idempotent
    });
}

#[test]
fn shutdown_can_wait_for_the_peers_close_notify() {
    let (client, server) = setup();
    run_bounded(async {
        let (mut c, mut s) = connected(&client, "localhost", &server).await;
        c.set_wait_for_close_notify(true);
        let peer = strait_streams::spawn(async move {
            // The server sends data, then answers the client's close_notify with its own.
            s.write(&b"before close"[..]).await?;
            s.flush().await?;
            let mut buf = [0u8; 16];
            assert_eq!(s.read(&mut buf[..]).await?, 0);
            s.shutdown().await
        });
        c.shutdown().await.unwrap();
        // What the server sent before its close_notify stays readable.
        assert_eq!(read_some(&mut c).await.unwrap(), b"before close");
        assert_eq!(read_some(&mut c).await.unwrap(), b"");
        peer.await.unwrap().unwrap();
    });
}

#[test]
fn eof_without_close_notify_is_truncation() {
    let (client, server) = setup();
    run_bounded(async {
        let (c, mut s) = connected(&client, "localhost", &server).await;
        drop(c); // the transport ends, no close_notify
        let err = read_some(&mut s).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(matches!(TlsError::from_io(&err), Some(TlsError::Truncated)));
        // It stays failed.
        assert!(read_some(&mut s).await.is_err());
    });
}

#[test]
fn truncation_can_be_allowed() {
    let (client, server) = setup();
    run_bounded(async {
        let (mut c, mut s) = connected(&client, "localhost", &server).await;
        s.set_allow_truncation(true);
        c.write(&b"data"[..]).await.unwrap();
        c.flush().await.unwrap();
        drop(c);
        assert_eq!(read_some(&mut s).await.unwrap(), b"data");
        assert_eq!(read_some(&mut s).await.unwrap(), b"");
    });
}

#[test]
fn garbage_instead_of_a_client_hello() {
    let (_, server) = setup();
    let (mut raw, b) = duplex(64 * 1024);
    let mut s = TlsStream::accept(&server, b).unwrap();
    run_bounded(async {
        raw.write(&b"GET / HTTP/1.1\r\nHost: x\r\n\r\n"[..])
            .await
            .unwrap();
        let err = s.handshake().await.unwrap_err();
        assert!(
            matches!(TlsError::from_io(&err), Some(TlsError::InvalidMessage)),
            "{err:?}"
        );
        // The server told the peer with an alert (a TLS record: type 21).
        let mut buf = [0u8; 64];
        let n = raw.read(&mut buf[..]).await.unwrap();
        assert!(n >= 7 && buf[0] == 21, "{:?}", &buf[..n]);
    });
}

#[test]
fn peer_closing_mid_handshake() {
    let (client, server) = setup();
    // The server goes away without a word.
    let (a, b) = duplex(64 * 1024);
    let mut c = TlsStream::connect(&client, "localhost", a).unwrap();
    drop(b);
    run_bounded(async {
        let err = c.handshake().await.unwrap_err();
        // Writing the ClientHello to a closed pipe fails, or reading finds the end.
        assert!(
            err.kind() == io::ErrorKind::BrokenPipe
                || matches!(TlsError::from_io(&err), Some(TlsError::HandshakeEof)),
            "{err:?}"
        );
    });
    // The client goes away after its ClientHello.
    let (mut raw, b) = duplex(64 * 1024);
    let mut s = TlsStream::accept(&server, b).unwrap();
    run_bounded(async {
        let hello = client_hello(&client).await;
        raw.write(&hello[..]).await.unwrap();
        raw.shutdown().await.unwrap();
        let err = s.handshake().await.unwrap_err();
        assert!(
            matches!(TlsError::from_io(&err), Some(TlsError::HandshakeEof)),
            "{err:?}"
        );
        drop(raw);
    });
}

/// The bytes of a ClientHello from `client`.
async fn client_hello(client: &strait_tls::ClientContext) -> Vec<u8> {
    let (a, mut raw) = duplex(64 * 1024);
    let mut c = TlsStream::connect(client, "localhost", a).unwrap();
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(c.poll_handshake(&mut cx).is_pending());
    let mut buf = vec![0u8; 4096];
    let n = raw.read(&mut buf[..]).await.unwrap();
    buf.truncate(n);
    buf
}

#[test]
fn a_record_cut_short_by_eof() {
    let (client, server) = setup();
    run_bounded(async {
        // A real server, and a client whose transport we can cut mid-record.
        let (a, mut raw) = duplex(64 * 1024);
        let (b, mut relay_end) = duplex(64 * 1024);
        let mut c = TlsStream::connect(&client, "localhost", a).unwrap();
        let mut s: TlsStream<DuplexStream> = TlsStream::accept(&server, b).unwrap();
        // Relay the handshake both ways by hand until both are done.
        let relay = async {
            let mut buf = vec![0u8; 64 * 1024];
            for _ in 0..4 {
                let n = raw.read(&mut buf[..]).await?;
                strait_streams::write_all(&mut relay_end, &buf[..n]).await?;
                if n == 0 {
                    break;
                }
                let n = relay_end.read(&mut buf[..]).await?;
                strait_streams::write_all(&mut raw, &buf[..n]).await?;
            }
            Ok::<_, io::Error>(())
        };
        let _ = strait_streams::when_any((
            async { Ok::<_, io::Error>(handshake_both(&mut c, &mut s).await) },
            async {
                relay.await?;
                std::future::pending::<io::Result<()>>().await
            },
        ))
        .await;
        assert!(!c.is_handshaking() && !s.is_handshaking());
        // The client sends one record; only half of it reaches the server.
        c.write(&[9u8; 1000][..]).await.unwrap();
        c.flush().await.unwrap();
        let mut record = vec![0u8; 4096];
        let mut n = 0;
        // Skip the client's post-handshake bytes: the last record is ours.
        while n < 1000 {
            n += raw.read(&mut record[n..]).await.unwrap();
        }
        strait_streams::write_all(&mut relay_end, &record[..n / 2])
            .await
            .unwrap();
        relay_end.shutdown().await.unwrap();
        let err = read_some(&mut s).await.unwrap_err();
        assert!(
            matches!(TlsError::from_io(&err), Some(TlsError::Truncated)),
            "{err:?}"
        );
    });
}

#[test]
fn handshake_is_canceled_by_the_stop_token() {
    let (client, _) = setup();
    let (a, _silent_peer) = duplex(64 * 1024);
    let mut c = TlsStream::connect(&client, "localhost", a).unwrap();
    let stop = StopSource::new();
    let token = stop.token();
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(50));
        stop.request_stop();
    });
    let err = block_on(with_stop_token(token, c.handshake())).unwrap_err();
    assert!(is_canceled(&err), "{err:?}");
    stopper.join().unwrap();
}

#[test]
fn halves_of_a_split_stream_work_from_two_tasks() {
    let (client, server) = setup();
    const LEN: usize = 1 << 20;
    run_bounded(async {
        let (c, s) = connected(&client, "localhost", &server).await;
        let (c_read, c_write) = strait_streams::split(c);
        let (s_read, s_write) = strait_streams::split(s);
        let data: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
        let sender = |mut half: strait_streams::WriteHalf<Tls>, data: Vec<u8>| {
            strait_streams::spawn(async move {
                strait_streams::write_all(&mut half, &data[..]).await?;
                half.shutdown().await
            })
        };
        let receiver = |mut half: strait_streams::ReadHalf<Tls>| {
            strait_streams::spawn(async move {
                let mut got = Vec::with_capacity(LEN);
                let mut buf = vec![0u8; 16 * 1024];
                loop {
                    let n = half.read(&mut buf[..]).await?;
                    if n == 0 {
                        return Ok::<_, io::Error>(got);
                    }
                    got.extend_from_slice(&buf[..n]);
                }
            })
        };
        let tasks = (
            sender(c_write, data.clone()),
            sender(s_write, data.clone()),
            receiver(c_read),
            receiver(s_read),
        );
        tasks.0.await.unwrap().unwrap();
        tasks.1.await.unwrap().unwrap();
        assert!(tasks.2.await.unwrap().unwrap() == data);
        assert!(tasks.3.await.unwrap().unwrap() == data);
    });
}

#[test]
fn after_a_fatal_error_every_operation_fails() {
    let (client, server) = setup();
    run_bounded(async {
        let (c, mut s) = connected(&client, "localhost", &server).await;
        drop(c);
        let err = read_some(&mut s).await.unwrap_err();
        assert!(matches!(TlsError::from_io(&err), Some(TlsError::Truncated)));
        let err = s.write(&b"x"[..]).await.unwrap_err();
        assert!(
            matches!(TlsError::from_io(&err), Some(TlsError::Truncated)),
            "{err:?}"
        );
        assert!(s.flush().await.is_err());
    });
}

#[test]
fn waiting_for_close_notify_behind_unread_data_fails_instead_of_dropping_it() {
    let (client, server) = setup();
    run_bounded(async {
        let (mut c, mut s) = connected(&client, "localhost", &server).await;
        c.set_wait_for_close_notify(true);
        // More than rustls's plaintext queue (16 KiB) arrives, and no close_notify.
        strait_streams::write_all(&mut s, &vec![1u8; 48 * 1024][..])
            .await
            .unwrap();
        let err = c.shutdown().await.unwrap_err();
        assert!(err.to_string().contains("buffer full"), "{err:?}");
        // Nothing was dropped: the queued bytes still read back in order.
        let mut buf = vec![0u8; 16 * 1024];
        let n = c.read(&mut buf[..]).await.unwrap();
        assert!(n > 0 && buf[..n].iter().all(|&b| b == 1));
    });
}

#[test]
fn over_an_erased_stream_with_complete_reads_and_write_eof() {
    use strait_streams::{AnyStream, ReadSourceExt, WriteSinkExt};
    let (client, server) = setup();
    let (a, b) = duplex(64 * 1024);
    // TLS over erased transports.
    let mut c = TlsStream::connect(&client, "localhost", AnyStream::new(a)).unwrap();
    let mut s = TlsStream::accept(&server, AnyStream::new(b)).unwrap();
    run_bounded(async {
        let peer = strait_streams::spawn(async move {
            // `write_eof`: the bytes, then close_notify, in one operation.
            let parts = [b"hello, ".as_slice().into(), b"world".as_slice().into()];
            s.write_eof(&parts).await?;
            Ok::<_, io::Error>(s)
        });
        let mut buf = [0u8; 12];
        let mut bufs = [strait_streams::MutableBuffer::new(&mut buf)];
        // A complete read stops short only at the (clean) end.
        let n = c.read_exact(&mut bufs).await.unwrap();
        assert_eq!(&buf[..n], b"hello, world");
        let mut rest = [0u8; 4];
        assert_eq!(c.read(&mut rest[..]).await.unwrap(), 0, "close_notify");
        // And TLS erased into an `AnyStream` in turn.
        let mut c = AnyStream::new(c);
        assert_eq!(c.read(&mut rest[..]).await.unwrap(), 0);
        let mut s = peer.await.unwrap().unwrap();
        let err = strait_streams::write_all(&mut s, &b"x"[..])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn over_a_write_behind_transport() {
    // A buffered writer holds what it is given until flushed: the handshake must flush
    // each flight before waiting for the answer, and flush/shutdown must reach through.
    let (client, server) = setup();
    let (a, b) = duplex(64 * 1024);
    let mut c = TlsStream::connect(
        &client,
        "localhost",
        strait_streams::BufWriter::with_capacity(64 * 1024, a),
    )
    .unwrap();
    let mut s = TlsStream::accept(
        &server,
        strait_streams::BufWriter::with_capacity(64 * 1024, b),
    )
    .unwrap();
    run_bounded(async {
        let both = strait_streams::when_all((c.handshake(), s.handshake())).await;
        both.unwrap();
        c.write(&b"through the buffer"[..]).await.unwrap();
        c.flush().await.unwrap();
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf[..]).await.unwrap();
        assert_eq!(&buf[..n], b"through the buffer");
        c.shutdown().await.unwrap();
        assert_eq!(
            s.read(&mut buf[..]).await.unwrap(),
            0,
            "close_notify came through"
        );
    });
}

#[test]
fn waiting_for_close_notify_that_never_comes_is_truncation() {
    let (client, server) = setup();
    run_bounded(async {
        let (mut c, mut s) = connected(&client, "localhost", &server).await;
        c.set_wait_for_close_notify(true);
        // The server's transport ends its write side without a close_notify.
        s.get_mut().shutdown().await.unwrap();
        let err = c.shutdown().await.unwrap_err();
        assert!(
            matches!(TlsError::from_io(&err), Some(TlsError::Truncated)),
            "{err:?}"
        );
        // The server still got our close_notify.
        assert_eq!(read_some(&mut s).await.unwrap(), b"");
    });
}
