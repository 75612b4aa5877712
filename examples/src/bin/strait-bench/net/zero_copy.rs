//! Rows "unidirectional {64 KiB, 1 MiB} writes, SEND_ZC from 16 KiB" (and "…
//! committed"): strait-native on io_uring (completion sockets) with
//! `zero_copy_send_threshold(Some(16 KiB))` against the same without, like for like —
//! one thread, the same pair set-up (nodelay, linger 0), the same writer and reader
//! (64 KiB reads until the end), interleaved rounds. Only the threshold differs: queued
//! runs of 16 KiB and up go as `IORING_OP_SEND_ZC` instead of `SEND`.
//!
//! Two writers: `write_all` of each chunk (a direct `sendmsg` takes what the socket
//! has room for, only the rest is queued, so few bytes go zero-copy while the reader
//! keeps up), and a `BufferSink` writer filling and committing the socket's own
//! windows until the chunk is out (a large commit skips the direct `sendmsg` and goes
//! zero-copy: the case the setting is for).
//!
//! The setting also lends a `BufferSink` writer the whole 64 KiB block as its window
//! (without it, 4 KiB windows until a write grew the block), which by itself changes
//! the committed rows. So there the like-for-like peer is
//! `strait-native-io_uring-send_zc-unreached`: a threshold no send reaches, hence the
//! same windows and plain `SEND`s; `strait-native-io_uring` (the setting off) is
//! measured beside them without a pair, for the setting's whole effect.
//!
//! On loopback the kernel copies anyway (the notifications say so), so these rows show
//! what zero copy costs where it cannot win: one notification CQE per send. A row
//! beside each gives the zero-copy sends per MiB written, so a reader sees how much
//! of the stream went zero-copy.

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;
use std::time::{Duration, Instant};

use strait_native::{Backend, IoContext, TcpListener, TcpStream};
use strait_streams::{when_all, write_all, BufferSink, ReadStreamExt, WriteStreamExt};

use super::{LOOPBACK, SUITE};
use crate::harness::{Better, Report};

const THRESHOLD: usize = 16 * 1024;
const WITH: &str = "strait-native-io_uring-send_zc16k";
const WITHOUT: &str = "strait-native-io_uring";
const UNREACHED: &str = "strait-native-io_uring-send_zc-unreached";
/// A threshold no send reaches (one send carries at most the 64 KiB block).
const NEVER: usize = 1 << 40;

/// Both rows, and the zero-copy share of each.
pub fn run(report: &mut Report) {
    let budget = report.budget();
    for (label, chunk, commit) in [
        ("64 KiB writes", 64 * 1024usize, false),
        ("1 MiB writes", 1 << 20, false),
        ("64 KiB committed", 64 * 1024, true),
        ("1 MiB committed", 1 << 20, true),
    ] {
        let scenario = format!("unidirectional {label}, SEND_ZC from 16 KiB");
        let shares = std::cell::RefCell::new(Vec::new());
        let shares = &shares;
        let mut row = report.row(SUITE, &scenario, "throughput", "MiB/s", Better::Higher);
        let subjects: &[(&str, Option<usize>)] = if commit {
            &[
                (WITH, Some(THRESHOLD)),
                (UNREACHED, Some(NEVER)),
                (WITHOUT, None),
            ]
        } else {
            &[(WITH, Some(THRESHOLD)), (WITHOUT, None)]
        };
        for &(name, threshold) in subjects {
            row = row.subject(name, move |_budget| {
                match unidirectional(threshold, budget, chunk, commit) {
                    Ok((rate, per_mib)) => {
                        if threshold == Some(THRESHOLD) {
                            shares.borrow_mut().push(per_mib);
                        }
                        rate / (1 << 20) as f64
                    }
                    Err(e) => {
                        eprintln!("failed: {e}");
                        f64::NAN
                    }
                }
            });
        }
        let peer = if commit { UNREACHED } else { WITHOUT };
        row.pair(WITH, peer).run(report);
        let rounds = shares.take();
        if !rounds.is_empty() {
            report.push_rounds(
                SUITE,
                &format!("{scenario}: zero-copy sends"),
                WITH,
                "sends per MiB",
                "1/MiB",
                Better::Higher,
                rounds,
            );
        }
    }
}

fn tune(t: &TcpStream) -> io::Result<()> {
    t.set_nodelay(true)?;
    t.set_linger(Some(Duration::ZERO))
}

/// Hands `len` bytes to `w` through its own windows (`BufferSink`), filled in place.
async fn commit_chunk(w: &mut TcpStream, len: usize) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        let n = poll_fn(|cx| match Pin::new(&mut *w).poll_prepare(cx) {
            Poll::Ready(Ok(mut window)) => {
                let first = &mut window.as_mut_slice()[0];
                let n = first.len().min(left);
                first.as_mut_slice()[..n].fill(1);
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        })
        .await?;
        poll_fn(|cx| Pin::new(&mut *w).poll_commit(cx, n)).await?;
        left -= n;
    }
    Ok(())
}

/// Writes `chunk`s (`write_all`, or committed windows with `commit`) for `budget`
/// from one end of a loopback pair while the other reads; bytes per second, and
/// zero-copy sends per MiB written.
fn unidirectional(
    threshold: Option<usize>,
    budget: Duration,
    chunk: usize,
    commit: bool,
) -> io::Result<(f64, f64)> {
    let ctx = IoContext::builder()
        .backend(Backend::IoUring)
        .single_threaded(true)
        .zero_copy_send_threshold(threshold)
        .build()?;
    let listener = TcpListener::bind(&ctx, LOOPBACK)?;
    let addr = listener.local_addr()?;
    let (mut c, (mut s, _)) = ctx
        .block_on(async { when_all((TcpStream::connect(&ctx, addr), listener.accept())).await })?;
    tune(&c)?;
    tune(&s)?;
    let reader = ctx.spawn(async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        loop {
            match s.read(&mut buf[..]).await? {
                0 => return Ok::<_, io::Error>(total),
                n => total += n as u64,
            }
        }
    });
    let start = Instant::now();
    ctx.block_on(async {
        let data = vec![1u8; chunk];
        while start.elapsed() < budget {
            if commit {
                commit_chunk(&mut c, chunk).await?;
            } else {
                write_all(&mut c, &data[..]).await?;
            }
        }
        c.shutdown().await
    })?;
    let total = ctx
        .block_on(reader)
        .map_err(|e| io::Error::other(e.to_string()))??;
    let elapsed = start.elapsed().as_secs_f64();
    let stats = ctx.stats();
    let per_mib = stats.zero_copy_sends as f64 / (total as f64 / (1 << 20) as f64);
    Ok((total as f64 / elapsed, per_mib))
}
