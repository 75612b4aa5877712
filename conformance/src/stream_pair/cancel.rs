//! Cases about cancellation: by stop token and by dropping a pending operation.

use std::future::Future;
use std::pin::pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use strait_streams::{
    is_canceled, when_all, with_stop_token, write_all, ReadStreamExt, StopSource, WriteStreamExt,
};

use super::{read_n, with_pair, TransportFactory};
use crate::report::{ensure, CaseResult};
use crate::util::pattern;
use crate::watch::Steps;

/// When the peer writes, in [`stop_cancels_pending_read`]: well after the stop.
const LATE: Duration = Duration::from_millis(600);

/// Rule: a pending read completes promptly with the canceled error when the
/// environment's stop token is triggered (here from another thread).
pub(super) fn stop_cancels_pending_read<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    let source = StopSource::new();
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        let mut buf = [0u8; 8];
        let op = with_stop_token(source.token(), b.read(&mut buf[..]));
        // Promptness counts from the stop itself, not from spawning the stopper: its
        // sleep and a slow thread start under load are not the stream's latency.
        let stopped_at = std::sync::Arc::new(std::sync::OnceLock::new());
        let stopper = {
            let (source, stopped_at) = (source.clone(), stopped_at.clone());
            std::thread::spawn(move || {
                std::thread::sleep(Duration::from_millis(30));
                let _ = stopped_at.set(Instant::now());
                source.request_stop();
            })
        };
        // Data arrives only well after the stop: a read that ignores the stop returns it.
        let read = async {
            let r = s
                .bounded("pending read under stop", f.prompt() + LATE, op)
                .await?;
            let done = Instant::now();
            let took = stopped_at.get().map_or(Duration::ZERO, |at: &Instant| {
                done.saturating_duration_since(*at)
            });
            Ok::<_, String>((r, took))
        };
        let late_write = async {
            let _ = strait_streams::delay(LATE).await;
            let _ = write_all(&mut a, "late").await;
            Ok(())
        };
        let ((r, took), ()) = when_all((read, late_write)).await?;
        stopper.join().map_err(|_| "stopper thread panicked")?;
        ensure(matches!(&r, Err(e) if is_canceled(e)), || {
            format!("expected the canceled error, got {r:?} after {took:?}")
        })?;
        ensure(took < Duration::from_millis(500), || {
            format!("cancellation took {took:?}: not prompt")
        })
    })
}

/// Rule: under an already-stopped token, operations complete as canceled without I/O:
/// nothing is consumed, nothing is sent.
pub(super) fn stopped_token_does_no_io<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    let source = StopSource::new();
    source.request_stop();
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        s.io("write_all", write_all(&mut a, "x")).await?;
        s.enter("read under a stopped token");
        let r = with_stop_token(source.token(), b.read(&mut [0u8; 8][..])).await;
        ensure(matches!(&r, Err(e) if is_canceled(e)), || {
            format!("read under a stopped token: expected canceled, got {r:?}")
        })?;
        s.enter("write under a stopped token");
        let w = with_stop_token(source.token(), a.write("LOST")).await;
        ensure(matches!(&w, Err(e) if is_canceled(e)), || {
            format!("write under a stopped token: expected canceled, got {w:?}")
        })?;
        s.io("write_all", write_all(&mut a, "y")).await?;
        let got = s.io("read", read_n(&mut b, 2)).await?;
        ensure(got == b"xy", || {
            format!("after canceled operations the stream carried {got:?}, expected \"xy\"")
        })
    })
}

/// Rule: `read_some` is cancel-safe: dropping it while pending loses no byte.
pub(super) fn dropped_read_loses_nothing<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        {
            s.enter("start a read with nothing to read");
            let mut buf = [0u8; 8];
            let mut pending = pin!(b.read(&mut buf[..]));
            let first = std::future::poll_fn(|cx| Poll::Ready(pending.as_mut().poll(cx))).await;
            ensure(first.is_pending(), || {
                format!("a read with nothing written must wait, got {first:?}")
            })?;
        } // dropped while pending
        s.io("write_all", write_all(&mut a, "abc")).await?;
        let got = s.io("read", read_n(&mut b, 3)).await?;
        ensure(got == b"abc", || {
            format!("after a dropped read, read {got:?}")
        })
    })
}

/// Rule: `write_some` is cancel-safe: dropping a pending write sends nothing twice and
/// loses nothing that was reported written. The peer drains while the writer shuts
/// down, so a transport whose shutdown must flush (TLS) can finish it.
pub(super) fn dropped_write_duplicates_nothing<F: TransportFactory>(
    f: &F,
    s: &Steps,
) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        let chunk: Vec<u8> = (0..64 * 1024u64).map(|i| pattern(3, i)).collect();
        let mut reported = Vec::new();
        let mut saw_pending = false;
        // Fill the transport until a write must wait (bounded: 64 MiB).
        s.enter("fill until a write waits");
        for _ in 0..1024 {
            let mut w = pin!(a.write(&chunk[..]));
            match std::future::poll_fn(|cx| Poll::Ready(w.as_mut().poll(cx))).await {
                Poll::Ready(r) => {
                    let n = r.map_err(|e| format!("write_some: {e}"))?;
                    reported.extend_from_slice(&chunk[..n]);
                }
                Poll::Pending => {
                    saw_pending = true;
                    break; // dropped while pending
                }
            }
        }
        s.enter("shutdown while the peer drains");
        let shutdown = async {
            a.shutdown()
                .await
                .map_err(|e| format!("shutdown while the peer drains: {e}"))
        };
        let drain = async {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                match b.read(&mut buf[..]).await {
                    Ok(0) => return Ok(out),
                    Ok(n) => out.extend_from_slice(&buf[..n]),
                    Err(e) => return Err(format!("drain: {e}")),
                }
            }
        };
        let ((), got) = when_all((shutdown, drain)).await?;
        ensure(got.len() == reported.len() && got == reported, || {
            format!(
                "reported {} bytes written, peer received {} (pending write seen: {saw_pending})",
                reported.len(),
                got.len()
            )
        })
    })
}
