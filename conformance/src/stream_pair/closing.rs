//! Cases about the end of a connection: shutdown (half-close), a dropped peer, the
//! error kinds the traits document, and reads already waiting when the peer goes.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::Poll;

use strait_streams::{write_all, ReadStreamExt, Stream, WriteStreamExt};

use super::{is_connection_loss, read_n, with_pair, TransportFactory};
use crate::report::{ensure, CaseResult};
use crate::util::OnlyWhenWoken;
use crate::watch::Steps;

/// Rule: after the writer shuts down, the reader gets the buffered bytes, then `Ok(0)`,
/// and `Ok(0)` again.
pub(super) fn end_of_stream_after_shutdown<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        s.io("write_all", write_all(&mut a, "last")).await?;
        s.io("shutdown", a.shutdown()).await?;
        let got = s.io("read", read_n(&mut b, 16)).await?;
        ensure(got == b"last", || {
            format!("read {got:?} before end of stream")
        })?;
        let mut buf = [0u8; 4];
        for _ in 0..2 {
            let n = s
                .bounded("read at end of stream", f.prompt(), b.read(&mut buf[..]))
                .await?
                .map_err(|e| format!("read at end of stream: {e}"))?;
            ensure(n == 0, || {
                format!("expected Ok(0) at end of stream, got Ok({n})")
            })?;
        }
        Ok(())
    })
}

/// Rule: shutdown closes one direction only.
pub(super) fn half_close_keeps_reverse_direction<F: TransportFactory>(
    f: &F,
    s: &Steps,
) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        s.io("shutdown", a.shutdown()).await?;
        s.io("write back", write_all(&mut b, "still open")).await?;
        let got = s.io("read back", read_n(&mut a, 10)).await?;
        ensure(got == b"still open", || format!("read {got:?}"))
    })
}

/// Rule: a read already pending when the peer shuts down is woken and ends with
/// `Ok(0)` promptly. Checked from both ends.
pub(super) fn pending_read_ends_on_peer_shutdown<F: TransportFactory>(
    f: &F,
    s: &Steps,
) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        let end = |r: io::Result<usize>| match r {
            Ok(0) => Ok(()),
            other => Err(format!("expected Ok(0) at end of stream, got {other:?}")),
        };
        pending_read_ends(f, s, &mut b, async { a.shutdown().await }, end).await?;
        pending_read_ends(f, s, &mut a, async { b.shutdown().await }, end).await
    })
}

/// Rule: a read already pending when the peer is dropped is woken and ends promptly,
/// with `Ok(0)` or a connection-loss error. Checked from both ends.
pub(super) fn pending_read_ends_on_peer_drop<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |a, mut b| async move {
        let drop_a = async {
            drop(a);
            Ok(())
        };
        pending_read_ends(f, s, &mut b, drop_a, read_ended_by_drop).await
    })?;
    with_pair(f, s, f.prompt() * 5, |mut a, b| async move {
        let drop_b = async {
            drop(b);
            Ok(())
        };
        pending_read_ends(f, s, &mut a, drop_b, read_ended_by_drop).await
    })
}

/// Starts a read on `reader` (it must wait: nothing was written), runs `close` on the
/// peer, and requires the read to be woken *by the transport* and end within the
/// prompt bound, as `check` accepts.
async fn pending_read_ends<R: Stream + Unpin>(
    f: &impl TransportFactory,
    s: &Steps,
    reader: &mut R,
    close: impl Future<Output = io::Result<()>>,
    check: impl Fn(io::Result<usize>) -> Result<(), String>,
) -> CaseResult {
    let mut buf = [0u8; 8];
    let mut pending = pin!(OnlyWhenWoken::new(reader.read(&mut buf[..])));
    s.enter("start a read with nothing to read");
    let first = std::future::poll_fn(|cx| Poll::Ready(pending.as_mut().poll(cx))).await;
    if let Poll::Ready(r) = first {
        return Err(format!("a read with nothing written must wait, got {r:?}"));
    }
    s.io("close the peer while the read is pending", close)
        .await?;
    let r = s
        .bounded("pending read after the peer closed", f.prompt(), pending)
        .await?;
    check(r)
}

fn read_ended_by_drop(r: io::Result<usize>) -> Result<(), String> {
    match r {
        Ok(0) => Ok(()),
        Err(e) if is_connection_loss(e.kind()) || e.kind() == io::ErrorKind::UnexpectedEof => {
            Ok(())
        }
        other => Err(format!(
            "a read whose peer was dropped must end with Ok(0) or a connection-loss error \
             (BrokenPipe, ConnectionReset, ConnectionAborted, NotConnected, UnexpectedEof), \
             got {other:?}"
        )),
    }
}

/// Rule: writing after `shutdown` fails with `ErrorKind::BrokenPipe` (as the traits
/// document). Checked on both ends.
pub(super) fn write_after_shutdown_fails<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        write_after_shutdown(f, s, &mut a, "client").await?;
        write_after_shutdown(f, s, &mut b, "server").await
    })
}

async fn write_after_shutdown(
    f: &impl TransportFactory,
    s: &Steps,
    w: &mut (impl Stream + Unpin),
    who: &str,
) -> CaseResult {
    s.io("shutdown", w.shutdown()).await?;
    let r = s
        .bounded("write after shutdown", f.prompt(), w.write("late"))
        .await?;
    match r {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(format!(
            "a write after the {who}'s shutdown must fail with BrokenPipe, got {:?} ({e})",
            e.kind()
        )),
        Ok(n) => Err(format!(
            "a write after the {who}'s shutdown must fail with BrokenPipe, got Ok({n})"
        )),
    }
}

/// Rule: when the peer is dropped, reads end promptly: `Ok(0)` or a connection-loss
/// error, never data.
pub(super) fn peer_drop_ends_reads<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, b| async move {
        drop(b);
        let mut buf = [0u8; 8];
        let r = s
            .bounded("read from a dropped peer", f.prompt(), a.read(&mut buf[..]))
            .await?;
        read_ended_by_drop(r)
    })
}

/// Rule: writing to a dropped peer fails within a bounded amount of data with a
/// connection-loss error (BrokenPipe, ConnectionReset, ConnectionAborted,
/// NotConnected), and keeps failing (behaviour after an error).
pub(super) fn write_to_dropped_peer_fails<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, b| async move {
        drop(b);
        let chunk = vec![0x5Au8; 64 * 1024];
        let mut failed = None;
        for _ in 0..1024 {
            let r = s
                .bounded("write to a dropped peer", f.prompt(), a.write(&chunk[..]))
                .await?;
            if let Err(e) = r {
                failed = Some(e);
                break;
            }
        }
        let e = failed.ok_or("64 MiB were accepted by a stream whose peer is gone")?;
        ensure(is_connection_loss(e.kind()), || {
            format!("a write to a dropped peer must fail with a connection-loss error, got {e:?}")
        })?;
        let again = s
            .bounded(
                "write after a failed write",
                f.prompt(),
                a.write(&chunk[..]),
            )
            .await?;
        ensure(again.is_err(), || {
            format!("a write after a failed write succeeded: {again:?}")
        })
    })
}
