//! Unix-domain sockets: the conformance stream suite over socket pairs and over a
//! listener; datagrams.

use strait_conformance::StreamPairFactory;
use strait_native::{IoContext, UnixDatagram, UnixListener, UnixStream};
use strait_streams::when_all;

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

struct Pairs {
    ctx: IoContext,
}

impl StreamPairFactory for Pairs {
    type Stream = UnixStream;
    fn pair(&self) -> (UnixStream, UnixStream) {
        UnixStream::pair(&self.ctx).unwrap()
    }
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.ctx.block_on(f)
    }
}

strait_conformance::stream_pair_suite!(
    socket_pair,
    super::Pairs {
        ctx: strait_native::IoContext::new().unwrap()
    }
);

fn temp_path(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("strait-unix-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&dir);
    dir
}

#[test]
fn a_listener_accepts_a_connection_by_path() {
    let ctx = IoContext::new().unwrap();
    let path = temp_path("listener");
    let listener = UnixListener::bind(&ctx, &path).unwrap();
    let (mut client, mut server) = ctx
        .block_on(async { when_all((UnixStream::connect(&ctx, &path), listener.accept())).await })
        .unwrap();
    ctx.block_on(async {
        strait_streams::write_all(&mut client, "over a path")
            .await
            .unwrap();
        let mut buf = [0u8; 11];
        strait_streams::read_exact(&mut server, &mut buf[..])
            .await
            .unwrap();
        assert_eq!(&buf, b"over a path");
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn connecting_to_a_missing_path_fails() {
    let ctx = IoContext::new().unwrap();
    let err = ctx
        .block_on(UnixStream::connect(&ctx, temp_path("missing")))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn datagram_pairs_keep_message_boundaries() {
    let ctx = IoContext::new().unwrap();
    let (a, b) = UnixDatagram::pair(&ctx).unwrap();
    ctx.block_on(async {
        a.send(b"one").await.unwrap();
        a.send(b"two!").await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(b.recv(&mut buf).await.unwrap(), 3);
        assert_eq!(b.recv(&mut buf).await.unwrap(), 4);
        assert_eq!(&buf[..4], b"two!");
    });
}
