//! TcpStream: connect, options and error paths.

use std::io;
use std::net::SocketAddr;
use std::time::Duration;

use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{
    is_canceled, read, timeout, when_all, with_stop_token, write_all, ReadStreamExt, StopSource,
    WriteStreamExt,
};

fn loopback() -> SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

fn connected(ctx: &IoContext) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind(ctx, loopback()).unwrap();
    let addr = listener.local_addr().unwrap();
    let (c, (s, _)) = ctx
        .block_on(async { when_all((TcpStream::connect(ctx, addr), listener.accept())).await })
        .unwrap();
    (c, s)
}

#[test]
fn connecting_to_a_closed_port_is_refused() {
    let ctx = IoContext::new().unwrap();
    let addr = {
        let l = TcpListener::bind(&ctx, loopback()).unwrap();
        l.local_addr().unwrap()
    }; // closed again
    let err = ctx.block_on(TcpStream::connect(&ctx, addr)).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionRefused);
}

#[test]
fn connect_any_skips_refused_addresses() {
    let ctx = IoContext::new().unwrap();
    let dead = {
        let l = TcpListener::bind(&ctx, loopback()).unwrap();
        l.local_addr().unwrap()
    };
    let listener = TcpListener::bind(&ctx, loopback()).unwrap();
    let live = listener.local_addr().unwrap();
    let (stream, _) = ctx
        .block_on(async {
            when_all((
                TcpStream::connect_any(&ctx, &[dead, live]),
                listener.accept(),
            ))
            .await
        })
        .unwrap();
    assert_eq!(stream.peer_addr().unwrap(), live);
    let empty = ctx.block_on(TcpStream::connect_any(&ctx, &[])).unwrap_err();
    assert_eq!(empty.kind(), io::ErrorKind::InvalidInput);
}

#[test]
fn a_reset_by_the_peer_fails_the_writer() {
    let ctx = IoContext::new().unwrap();
    let (mut writer, reader) = connected(&ctx);
    reader.set_linger(Some(Duration::ZERO)).unwrap();
    drop(reader); // RST
    let chunk = vec![7u8; 64 * 1024];
    let err = ctx
        .block_on(timeout(Duration::from_secs(5), async {
            loop {
                writer.write_some(&chunk[..]).await?;
            }
            #[allow(unreachable_code)]
            Ok::<(), io::Error>(())
        }))
        .unwrap_err();
    assert!(
        matches!(
            err.kind(),
            io::ErrorKind::ConnectionReset | io::ErrorKind::BrokenPipe
        ),
        "{err:?}"
    );
    // Reads after a reset fail or end; they never hang.
    let r = ctx.block_on(timeout(
        Duration::from_secs(5),
        writer.read_some(&mut [0u8; 8][..]),
    ));
    assert!(!matches!(r, Ok(n) if n > 0));
}

#[test]
fn half_close_delivers_end_of_stream_and_keeps_the_other_direction() {
    let ctx = IoContext::new().unwrap();
    let (mut a, mut b) = connected(&ctx);
    ctx.block_on(async {
        write_all(&mut a, "bye").await.unwrap();
        a.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(read(&mut b, &mut buf[..]).await.unwrap(), 3);
        write_all(&mut b, "ok").await.unwrap();
        let mut back = [0u8; 2];
        assert_eq!(read(&mut a, &mut back[..]).await.unwrap(), 2);
    });
}

#[test]
fn socket_options_apply() {
    let ctx = IoContext::new().unwrap();
    let (a, _b) = connected(&ctx);
    a.set_nodelay(true).unwrap();
    a.set_keepalive(true).unwrap();
    a.set_linger(Some(Duration::from_secs(1))).unwrap();
    a.set_buffer_sizes(64 * 1024, 64 * 1024).unwrap();
    a.set_ttl(32).unwrap();
    assert_ne!(a.local_addr().unwrap(), a.peer_addr().unwrap());
}

#[test]
fn a_pending_accept_is_canceled_by_the_stop_token() {
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, loopback()).unwrap();
    let source = StopSource::new();
    let stopper = {
        let s = source.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            s.request_stop();
        })
    };
    let err = ctx
        .block_on(with_stop_token(source.token(), listener.accept()))
        .unwrap_err();
    assert!(is_canceled(&err));
    stopper.join().unwrap();
}

#[test]
fn ipv6_dual_stack_listener_accepts_ipv4() {
    let ctx = IoContext::new().unwrap();
    let Ok(listener) = TcpListener::bind(&ctx, "[::]:0".parse().unwrap()) else {
        eprintln!("no IPv6 on this machine; dual-stack not checked");
        return;
    };
    let port = listener.local_addr().unwrap().port();
    let v4: SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let (c, _) = ctx
        .block_on(async { when_all((TcpStream::connect(&ctx, v4), listener.accept())).await })
        .unwrap();
    assert_eq!(c.peer_addr().unwrap().port(), port);
}
