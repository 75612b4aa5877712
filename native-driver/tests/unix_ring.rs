//! Unix stream sockets as a user sees them, on either backend (`STRAIT_NATIVE_BACKEND`):
//! on io_uring they run the completion layer (multishot receive, write-behind sends,
//! multishot accept), as TCP does. The conformance stream suite over listener-made
//! pairs (`unix_stream.rs` runs it over socket pairs), closed peers, dropped reads,
//! listeners dropped with connections queued.

use std::io::ErrorKind;
use std::path::PathBuf;
use std::time::Duration;

use strait_conformance::StreamPairFactory;
use strait_native::{IoContext, UnixListener, UnixStream};
use strait_streams::{read_exact, when_all, write_all, ReadStreamExt, WriteStreamExt};

fn temp_path(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("strait-unix-ring-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

struct Listened {
    ctx: IoContext,
    listener: UnixListener,
    path: PathBuf,
}

impl Listened {
    fn new() -> Listened {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let ctx = IoContext::new().unwrap();
        let path = temp_path(&format!("suite-{}", N.fetch_add(1, Ordering::Relaxed)));
        let listener = UnixListener::bind(&ctx, &path).unwrap();
        Listened {
            ctx,
            listener,
            path,
        }
    }
}

impl Drop for Listened {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

impl StreamPairFactory for Listened {
    type Stream = UnixStream;
    fn pair(&self) -> (UnixStream, UnixStream) {
        self.ctx
            .block_on(async {
                when_all((
                    UnixStream::connect(&self.ctx, &self.path),
                    self.listener.accept(),
                ))
                .await
            })
            .unwrap()
    }
    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.ctx.block_on(f)
    }
}

strait_conformance::stream_pair_suite!(listened, super::Listened::new());

#[test]
fn streams_run_on_the_completion_layer_of_an_io_uring_context() {
    let ctx = IoContext::new().unwrap();
    let (mut a, mut b) = UnixStream::pair(&ctx).unwrap();
    let before = ctx.stats();
    ctx.block_on(async {
        let mut buf = [0u8; 5];
        for _ in 0..10 {
            write_all(&mut a, "hello").await.unwrap();
            read_exact(&mut b, &mut buf[..]).await.unwrap();
            assert_eq!(&buf, b"hello");
        }
    });
    let after = ctx.stats();
    let reads =
        (after.reads_inline + after.reads_waited) - (before.reads_inline + before.reads_waited);
    if ctx.completion_sockets() {
        assert!(reads >= 10, "completion reads counted: {after:?}");
    } else {
        assert_eq!(reads, 0);
    }
}

#[test]
fn a_closed_peer_is_the_end_of_the_stream_and_writes_to_it_fail() {
    let ctx = IoContext::new().unwrap();
    let (mut a, b) = UnixStream::pair(&ctx).unwrap();
    ctx.block_on(async {
        write_all(&mut a, "last words").await.unwrap();
    });
    let mut b = Some(b);
    ctx.block_on(async {
        let mut buf = [0u8; 10];
        read_exact(b.as_mut().unwrap(), &mut buf[..]).await.unwrap();
        assert_eq!(&buf, b"last words");
    });
    drop(b.take());
    ctx.block_on(async {
        let mut buf = [0u8; 4];
        assert_eq!(a.read(&mut buf[..]).await.unwrap(), 0, "end of stream");
        // Write-behind on io_uring: the error shows on a later write or the flush.
        let mut failed = None;
        for _ in 0..100 {
            let r = async {
                a.write(&[1u8; 1024][..]).await?;
                a.flush().await
            }
            .await;
            if let Err(e) = r {
                failed = Some(e);
                break;
            }
        }
        let e = failed.expect("writing to a closed peer fails");
        assert!(
            matches!(e.kind(), ErrorKind::BrokenPipe | ErrorKind::ConnectionReset),
            "{e:?}"
        );
    });
}

#[test]
fn a_read_dropped_while_waiting_loses_no_byte() {
    let ctx = IoContext::new().unwrap();
    let (mut a, mut b) = UnixStream::pair(&ctx).unwrap();
    ctx.block_on(async {
        let mut buf = [0u8; 8];
        for round in 0..20u8 {
            // A read that waits, dropped by the timeout...
            let r = strait_streams::timeout(Duration::from_millis(2), b.read(&mut buf[..])).await;
            assert!(r.is_err(), "nothing was sent yet");
            // ... then the bytes sent afterwards all arrive, in order.
            write_all(&mut a, &[round; 8][..]).await.unwrap();
            read_exact(&mut b, &mut buf[..]).await.unwrap();
            assert_eq!(buf, [round; 8]);
        }
    });
}

#[test]
fn many_connections_accepted_at_once_and_a_listener_dropped_with_some_queued() {
    let ctx = IoContext::new().unwrap();
    let path = temp_path("many");
    let listener = UnixListener::bind(&ctx, &path).unwrap();
    ctx.block_on(async {
        let mut pairs = Vec::new();
        for i in 0..32u8 {
            let (mut c, mut s) = when_all((UnixStream::connect(&ctx, &path), listener.accept()))
                .await
                .unwrap();
            write_all(&mut c, &[i][..]).await.unwrap();
            let mut one = [0u8];
            read_exact(&mut s, &mut one[..]).await.unwrap();
            assert_eq!(one[0], i);
            pairs.push((c, s));
        }
    });
    // Connections the listener queued (on io_uring, accepted by the kernel already)
    // and nobody took: dropping the listener closes them, and their clients see the
    // end of the stream.
    let mut waiting = Vec::new();
    for _ in 0..4 {
        waiting.push(ctx.block_on(UnixStream::connect(&ctx, &path)).unwrap());
    }
    ctx.block_on(strait_streams::delay(Duration::from_millis(20)))
        .unwrap();
    drop(listener);
    ctx.block_on(async {
        for mut c in waiting {
            let mut buf = [0u8; 1];
            let r = strait_streams::timeout(Duration::from_secs(5), c.read(&mut buf[..])).await;
            match r {
                Ok(n) => assert_eq!(n, 0),
                Err(e) => assert_eq!(e.kind(), ErrorKind::ConnectionReset),
            }
        }
    });
    assert!(
        ctx.block_on(UnixStream::connect(&ctx, &path)).is_err(),
        "nobody listens any more"
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn cancel_and_close_complete_waiting_operations() {
    let ctx = IoContext::new().unwrap();
    let path = temp_path("cancel");
    let listener = UnixListener::bind(&ctx, &path).unwrap();
    let (_a, b) = UnixStream::pair(&ctx).unwrap();
    ctx.block_on(async {
        let mut buf = [0u8; 4];
        let (r, canceled) = when_all((
            async { Ok::<_, std::io::Error>((&mut &b).read(&mut buf[..]).await) },
            async {
                strait_streams::delay(Duration::from_millis(10)).await?;
                Ok(b.cancel())
            },
        ))
        .await
        .unwrap();
        assert!(canceled);
        assert!(strait_streams::is_canceled(&r.unwrap_err()));
        let (r, ()) = when_all((
            async { Ok::<_, std::io::Error>(listener.accept().await) },
            async {
                strait_streams::delay(Duration::from_millis(10)).await?;
                listener.close();
                Ok(())
            },
        ))
        .await
        .unwrap();
        assert!(strait_streams::is_canceled(&r.unwrap_err()));
    });
    std::fs::remove_file(&path).unwrap();
}
