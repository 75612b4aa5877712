//! Stop-token cancellation of a pending read and a pending write on a TLS stream,
//! over an in-memory duplex and over loopback TCP: the operation ends canceled soon
//! after the stop (measured from the stop itself, not from when the stopping thread
//! was started), and the stream loses nothing: later reads get every byte.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use strait_streams::{
    is_canceled, read_exact, when_all, with_stop_token, write_all, ReadStreamExt, StopSource,
    Stream, WriteStreamExt,
};
use strait_tls::TlsStream;

/// How long after the stop a pending operation may take to end: generous, as the
/// machine may be loaded; what it bounds is the path from the stop to the task.
const PROMPT: Duration = Duration::from_millis(500);

/// Requests a stop from another thread after `after`; the returned slot holds when.
fn stop_later(
    source: &StopSource,
    after: Duration,
) -> (std::thread::JoinHandle<()>, Arc<Mutex<Option<Instant>>>) {
    let at = Arc::new(Mutex::new(None));
    let (source, slot) = (source.clone(), at.clone());
    let stopper = std::thread::spawn(move || {
        std::thread::sleep(after);
        *slot.lock().unwrap() = Some(Instant::now());
        source.request_stop();
    });
    (stopper, at)
}

/// A read with nothing to read, stopped; then data written afterwards arrives whole.
async fn pending_read_is_canceled<A, B>(mut a: TlsStream<A>, mut b: TlsStream<B>)
where
    A: Stream + Unpin,
    B: Stream + Unpin,
{
    let source = StopSource::new();
    let (stopper, stopped_at) = stop_later(&source, Duration::from_millis(20));
    let mut buf = [0u8; 8];
    let r = with_stop_token(source.token(), b.read(&mut buf[..])).await;
    let done = Instant::now();
    stopper.join().unwrap();
    assert!(matches!(&r, Err(e) if is_canceled(e)), "{r:?}");
    let took = done - stopped_at.lock().unwrap().expect("stopped");
    assert!(took < PROMPT, "the read ended {took:?} after the stop");
    // Nothing lost or corrupted: the session carries on.
    write_all(&mut a, &b"after"[..]).await.unwrap();
    let mut got = [0u8; 5];
    assert_eq!(read_exact(&mut b, &mut got[..]).await.unwrap(), 5);
    assert_eq!(&got, b"after");
}

#[test]
fn a_pending_read_is_canceled_over_duplex() {
    let ca = Ca::new("test CA");
    let (client, server) = (client_ctx(&ca), server_ctx(ca.issue(&["localhost"])));
    run_bounded(async {
        let (c, s) = connected(&client, "localhost", &server).await;
        pending_read_is_canceled(c, s).await;
    });
}

#[test]
fn a_pending_read_is_canceled_over_tcp() {
    use strait_native::{IoContext, TcpListener, TcpStream};
    let ca = Ca::new("test CA");
    let (client, server) = (client_ctx(&ca), server_ctx(ca.issue(&["localhost"])));
    let ctx = IoContext::new_single_threaded().unwrap();
    ctx.block_on(async {
        let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (tcp_c, (tcp_s, _)) = when_all((TcpStream::connect(&ctx, addr), listener.accept()))
            .await
            .unwrap();
        let mut c = TlsStream::connect(&client, "localhost", tcp_c).unwrap();
        let mut s = TlsStream::accept(&server, tcp_s).unwrap();
        when_all((c.handshake(), s.handshake())).await.unwrap();
        pending_read_is_canceled(c, s).await;
    });
}

#[test]
fn a_pending_write_is_canceled_and_what_was_accepted_still_arrives() {
    let ca = Ca::new("test CA");
    let (client, server) = (client_ctx(&ca), server_ctx(ca.issue(&["localhost"])));
    run_bounded(async {
        let (mut c, mut s) = connected(&client, "localhost", &server).await;
        // The peer reads nothing: the duplex fills, then rustls's send buffer, then
        // writes wait.
        let source = StopSource::new();
        let (stopper, stopped_at) = stop_later(&source, Duration::from_millis(20));
        let chunk = vec![7u8; 16 * 1024];
        let mut accepted = 0usize;
        let r = with_stop_token(source.token(), async {
            loop {
                accepted += c.write(&chunk[..]).await?;
            }
        })
        .await;
        let done = Instant::now();
        stopper.join().unwrap();
        let r: std::io::Result<()> = r;
        assert!(matches!(&r, Err(e) if is_canceled(e)), "{r:?}");
        let took = done - stopped_at.lock().unwrap().expect("stopped");
        assert!(took < PROMPT, "the write ended {took:?} after the stop");
        assert!(accepted > 0);
        // Every accepted byte arrives, then end of stream after close_notify.
        let send = async {
            c.shutdown().await?;
            Ok::<_, std::io::Error>(())
        };
        let receive = async {
            let mut total = 0usize;
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match s.read(&mut buf[..]).await? {
                    0 => return Ok::<_, std::io::Error>(total),
                    n => {
                        assert!(buf[..n].iter().all(|&b| b == 7));
                        total += n;
                    }
                }
            }
        };
        let ((), received) = when_all((send, receive)).await.unwrap();
        assert_eq!(received, accepted);
    });
}
