//! The stream-pair suite: connected [`Stream`] ends checked against every rule of the
//! stream traits (see `strait_streams::io`).

use std::future::Future;
use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;
use std::time::Duration;

use strait_streams::{
    is_canceled, read_exact, with_stop_token, write_all, ReadStreamExt, RunLoop, StopSource,
    Stream, WriteStreamExt,
};
use strait_vocab::{ConstBuffer, MutableBuffer};

use crate::report::{ensure, step, CaseResult, Outcome, Report};
use crate::util::{bounded, pattern, poll_once, within, Checksum};

/// What an author supplies to run the suite on a transport.
pub trait StreamPairFactory {
    /// One end of a connection.
    type Stream: Stream + Send + Unpin + 'static;

    /// Two freshly connected ends.
    fn pair(&self) -> (Self::Stream, Self::Stream);

    /// Runs `f` to completion wherever the transport's I/O is driven. The default is a
    /// strait [`RunLoop`]; a runtime adapter runs it in its runtime.
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        RunLoop::new().block_on(f)
    }

    /// Bytes sent in each direction by the large-transfer case (default 16 MiB).
    fn large_transfer_bytes(&self) -> u64 {
        16 << 20
    }

    /// Upper bound for operations that must complete "promptly" (default 2 s); whole
    /// cases are bounded by multiples of it (5x, and 30x for the large transfer), so a
    /// broken transport fails a case instead of hanging it.
    fn prompt(&self) -> Duration {
        Duration::from_secs(2)
    }
}

/// A case of this suite.
pub type Case<F> = fn(&F) -> CaseResult;

/// Every case, by name, in the order they run.
pub fn cases<F: StreamPairFactory>() -> Vec<(&'static str, Case<F>)> {
    vec![
        (
            "empty_buffers_complete_at_once",
            empty_buffers_complete_at_once::<F>,
        ),
        ("round_trip", round_trip::<F>),
        (
            "vectored_buffers_keep_order",
            vectored_buffers_keep_order::<F>,
        ),
        ("one_byte_reads_reassemble", one_byte_reads_reassemble::<F>),
        (
            "end_of_stream_after_shutdown",
            end_of_stream_after_shutdown::<F>,
        ),
        (
            "half_close_keeps_reverse_direction",
            half_close_keeps_reverse_direction::<F>,
        ),
        (
            "write_after_shutdown_fails",
            write_after_shutdown_fails::<F>,
        ),
        ("peer_drop_ends_reads", peer_drop_ends_reads::<F>),
        (
            "write_to_dropped_peer_fails",
            write_to_dropped_peer_fails::<F>,
        ),
        (
            "large_transfer_both_directions",
            large_transfer_both_directions::<F>,
        ),
        ("stop_cancels_pending_read", stop_cancels_pending_read::<F>),
        ("stopped_token_does_no_io", stopped_token_does_no_io::<F>),
        (
            "dropped_read_loses_nothing",
            dropped_read_loses_nothing::<F>,
        ),
        (
            "dropped_write_duplicates_nothing",
            dropped_write_duplicates_nothing::<F>,
        ),
        (
            "no_allocation_per_operation",
            no_allocation_per_operation::<F>,
        ),
    ]
}

/// Runs one case by name.
///
/// # Panics
/// If no case has that name.
pub fn run_case<F: StreamPairFactory>(factory: &F, name: &str) -> Outcome {
    let (_, case) = cases::<F>()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no stream-pair case named {name}"));
    crate::outcome_of(|| case(factory))
}

/// Runs every case and reports each outcome.
pub fn run<F: StreamPairFactory>(factory: &F) -> Report {
    Report {
        cases: cases::<F>()
            .into_iter()
            .map(|(name, case)| (name, crate::outcome_of(|| case(factory))))
            .collect(),
    }
}

/// Reads exactly `n` bytes (or until end of stream) and returns them.
async fn read_n<S: Stream + Unpin>(s: &mut S, n: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; n];
    let got = read_exact(s, &mut buf[..]).await?;
    buf.truncate(got);
    Ok(buf)
}

/// Rule: an operation with no bytes to move completes at once with `Ok(0)`, even when
/// the stream has nothing to read.
fn empty_buffers_complete_at_once<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    let mut nothing = [0u8; 0];
    let r = poll_once(pin!(b.read(&mut nothing[..])));
    ensure(matches!(r, Poll::Ready(Ok(0))), || {
        format!("read_some with an empty buffer must be Ready(Ok(0)) at once, got {r:?}")
    })?;
    let mut none: [MutableBuffer<'_>; 0] = [];
    let r = poll_once(pin!(b.read(&mut none[..])));
    ensure(matches!(r, Poll::Ready(Ok(0))), || {
        format!("read_some with no buffers must be Ready(Ok(0)), got {r:?}")
    })?;
    let r = poll_once(pin!(a.write(&[ConstBuffer::EMPTY, ConstBuffer::EMPTY][..])));
    ensure(matches!(r, Poll::Ready(Ok(0))), || {
        format!("write_some of empty buffers must be Ready(Ok(0)), got {r:?}")
    })
}

/// Rule: bytes written on one end are read, in order, on the other.
fn round_trip<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    f.block_on(within(f.prompt() * 5, async {
        step("write_all", write_all(&mut a, "hello, peer").await)?;
        let got = step("read", read_n(&mut b, 11).await)?;
        ensure(got == b"hello, peer", || format!("read {got:?}"))?;
        step("write_all back", write_all(&mut b, "and back").await)?;
        let got = step("read back", read_n(&mut a, 8).await)?;
        ensure(got == b"and back", || format!("read back {got:?}"))
    }))
}

/// Rule: vectored writes send their buffers in order; vectored reads fill theirs in order.
fn vectored_buffers_keep_order<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    f.block_on(within(f.prompt() * 5, async {
        let parts = [
            ConstBuffer::from("one,"),
            ConstBuffer::EMPTY,
            ConstBuffer::from("two,"),
            ConstBuffer::from("three"),
        ];
        step("write_all", write_all(&mut a, &parts[..]).await)?;
        let (mut x, mut y, mut z) = ([0u8; 3], [0u8; 0], [0u8; 10]);
        let n = step(
            "read",
            read_exact(
                &mut b,
                [
                    MutableBuffer::new(&mut x),
                    MutableBuffer::new(&mut y),
                    MutableBuffer::new(&mut z),
                ],
            )
            .await,
        )?;
        ensure(n == 13 && &x == b"one" && &z == b",two,three", || {
            format!("vectored read got {n} bytes: {x:?} {z:?}")
        })
    }))
}

/// Rule: partial transfers lose nothing — one-byte reads reassemble the message.
fn one_byte_reads_reassemble<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    f.block_on(within(f.prompt() * 5, async {
        let msg: Vec<u8> = (0..300u64).map(|i| pattern(7, i)).collect();
        step("write_all", write_all(&mut a, &msg[..]).await)?;
        let mut got = Vec::new();
        while got.len() < msg.len() {
            let mut one = [0u8; 1];
            match step("read_some", b.read(&mut one[..]).await)? {
                0 => return Err(format!("end of stream after {} bytes", got.len())),
                _ => got.push(one[0]),
            }
        }
        ensure(got == msg, || {
            "one-byte reads returned different bytes".into()
        })
    }))
}

/// Rule: after the writer shuts down, the reader gets the buffered bytes, then `Ok(0)`,
/// and `Ok(0)` again.
fn end_of_stream_after_shutdown<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    f.block_on(within(f.prompt() * 5, async {
        step("write_all", write_all(&mut a, "last").await)?;
        step("shutdown", a.shutdown().await)?;
        let got = step("read", read_n(&mut b, 16).await)?;
        ensure(got == b"last", || {
            format!("read {got:?} before end of stream")
        })?;
        let mut buf = [0u8; 4];
        for _ in 0..2 {
            let n = bounded("read at end of stream", f.prompt(), b.read(&mut buf[..])).await?;
            let n = step("read at end of stream", n)?;
            ensure(n == 0, || {
                format!("expected Ok(0) at end of stream, got Ok({n})")
            })?;
        }
        Ok(())
    }))
}

/// Rule: shutdown closes one direction only.
fn half_close_keeps_reverse_direction<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    f.block_on(within(f.prompt() * 5, async {
        step("shutdown", a.shutdown().await)?;
        step("write back", write_all(&mut b, "still open").await)?;
        let got = step("read back", read_n(&mut a, 10).await)?;
        ensure(got == b"still open", || format!("read {got:?}"))
    }))
}

/// Rule: writing after `shutdown` fails.
fn write_after_shutdown_fails<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, _b) = f.pair();
    f.block_on(async {
        step("shutdown", a.shutdown().await)?;
        let r = bounded("write after shutdown", f.prompt(), a.write("late")).await?;
        ensure(r.is_err(), || {
            format!("write after shutdown must fail, got {r:?}")
        })
    })
}

/// Rule: when the peer is dropped, reads end (end of stream or an error) promptly.
fn peer_drop_ends_reads<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, b) = f.pair();
    drop(b);
    f.block_on(async {
        let mut buf = [0u8; 8];
        let r = bounded("read from a dropped peer", f.prompt(), a.read(&mut buf[..])).await?;
        ensure(!matches!(r, Ok(n) if n > 0), || {
            format!("read from a dropped peer returned data: {r:?}")
        })
    })
}

/// Rule: writing to a dropped peer fails within a bounded amount of data, and keeps
/// failing (behaviour after an error).
fn write_to_dropped_peer_fails<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, b) = f.pair();
    drop(b);
    f.block_on(async {
        let chunk = vec![0x5Au8; 64 * 1024];
        let mut failed = false;
        for _ in 0..1024 {
            let r = bounded("write to a dropped peer", f.prompt(), a.write(&chunk[..])).await?;
            if r.is_err() {
                failed = true;
                break;
            }
        }
        ensure(failed, || {
            "64 MiB were accepted by a stream whose peer is gone".into()
        })?;
        let again = bounded("second write", f.prompt(), a.write(&chunk[..])).await?;
        ensure(again.is_err(), || {
            format!("a write after a failed write succeeded: {again:?}")
        })
    })
}

/// Drives both directions of one end at once: sends `total` patterned bytes (then
/// shuts down) while reading until end of stream. Returns (sent, received) checksums.
async fn full_duplex<S: Stream + Unpin>(
    s: &mut S,
    total: u64,
    seed: u64,
) -> io::Result<(Checksum, Checksum)> {
    let mut sent = Checksum::new();
    let mut received = Checksum::new();
    let mut out = vec![0u8; 64 * 1024];
    let mut out_len = 0usize;
    let mut out_pos = 0usize;
    let mut shut = false;
    let mut eof = false;
    let mut inbuf = vec![0u8; 64 * 1024];
    std::future::poll_fn(|cx| loop {
        let mut progressed = false;
        if !shut {
            if out_pos == out_len {
                let left = total - sent.len;
                if left == 0 {
                    match Pin::new(&mut *s).poll_shutdown(cx) {
                        Poll::Ready(Ok(())) => {
                            shut = true;
                            progressed = true;
                        }
                        Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                        Poll::Pending => {}
                    }
                } else {
                    out_len = out.len().min(left as usize);
                    let base = sent.len;
                    for (i, b) in out[..out_len].iter_mut().enumerate() {
                        *b = pattern(seed, base + i as u64);
                    }
                    out_pos = 0;
                }
            }
            if !shut && out_pos < out_len {
                match Pin::new(&mut *s)
                    .poll_write_some(cx, &[ConstBuffer::new(&out[out_pos..out_len])])
                {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        sent.update(&out[out_pos..out_pos + n]);
                        out_pos += n;
                        progressed = true;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => {}
                }
            }
        }
        if !eof {
            match Pin::new(&mut *s).poll_read_some(cx, &mut [MutableBuffer::new(&mut inbuf)]) {
                Poll::Ready(Ok(0)) => {
                    eof = true;
                    progressed = true;
                }
                Poll::Ready(Ok(n)) => {
                    received.update(&inbuf[..n]);
                    progressed = true;
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {}
            }
        }
        if shut && eof {
            return Poll::Ready(Ok((sent, received)));
        }
        if !progressed {
            return Poll::Pending;
        }
    })
    .await
}

fn expected_checksum(total: u64, seed: u64) -> Checksum {
    let mut c = Checksum::new();
    let mut chunk = Vec::with_capacity(64 * 1024);
    let mut at = 0;
    while at < total {
        chunk.clear();
        let n = (total - at).min(64 * 1024);
        chunk.extend((0..n).map(|i| pattern(seed, at + i)));
        c.update(&chunk);
        at += n;
    }
    c
}

/// Rule: data integrity on large transfers in both directions at once (checksummed),
/// with one reader and one writer active on each end concurrently.
fn large_transfer_both_directions<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    let total = f.large_transfer_bytes();
    let limit = f.prompt() * 30;
    let both =
        strait_streams::when_all((full_duplex(&mut a, total, 1), full_duplex(&mut b, total, 2)));
    let (ab, ba) = f
        .block_on(bounded("large transfer", limit, both))?
        .map_err(|e| format!("large transfer failed: {e}"))?;
    let (a_sent, a_received) = ab;
    let (b_sent, b_received) = ba;
    ensure(a_sent == expected_checksum(total, 1), || {
        "a sent the wrong bytes".into()
    })?;
    ensure(a_received == b_sent, || {
        format!(
            "a received {} bytes (hash {:x}), b sent {} (hash {:x})",
            a_received.len, a_received.hash, b_sent.len, b_sent.hash
        )
    })?;
    ensure(b_received == a_sent, || {
        format!(
            "b received {} bytes (hash {:x}), a sent {} (hash {:x})",
            b_received.len, b_received.hash, a_sent.len, a_sent.hash
        )
    })
}

/// Rule: a pending read completes promptly with the canceled error when the
/// environment's stop token is triggered (here from another thread).
fn stop_cancels_pending_read<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    let source = StopSource::new();
    let stopper = {
        let source = source.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(30));
            source.request_stop();
        })
    };
    // Data arrives only well after the stop: a read that ignores the stop returns it.
    let late_writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(600));
        strait_streams::block_on(async { write_all(&mut a, "late").await.map(|_| a) })
    });
    let started = std::time::Instant::now();
    let r = f.block_on(async {
        let mut buf = [0u8; 8];
        let op = with_stop_token(source.token(), b.read(&mut buf[..]));
        bounded(
            "pending read under stop",
            f.prompt() + Duration::from_millis(600),
            op,
        )
        .await
    });
    let took = started.elapsed();
    stopper.join().map_err(|_| "stopper thread panicked")?;
    let _ = late_writer.join();
    let r = r?;
    ensure(matches!(&r, Err(e) if is_canceled(e)), || {
        format!("expected the canceled error, got {r:?} after {took:?}")
    })?;
    ensure(took < Duration::from_millis(500), || {
        format!("cancellation took {took:?}: not prompt")
    })
}

/// Rule: under an already-stopped token, operations complete as canceled without I/O:
/// nothing is consumed, nothing is sent.
fn stopped_token_does_no_io<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    let source = StopSource::new();
    source.request_stop();
    f.block_on(within(f.prompt() * 5, async {
        step("write_all", write_all(&mut a, "x").await)?;
        let r = with_stop_token(source.token(), b.read(&mut [0u8; 8][..])).await;
        ensure(matches!(&r, Err(e) if is_canceled(e)), || {
            format!("read under a stopped token: expected canceled, got {r:?}")
        })?;
        let w = with_stop_token(source.token(), a.write("LOST")).await;
        ensure(matches!(&w, Err(e) if is_canceled(e)), || {
            format!("write under a stopped token: expected canceled, got {w:?}")
        })?;
        step("write_all", write_all(&mut a, "y").await)?;
        let got = step("read", read_n(&mut b, 2).await)?;
        ensure(got == b"xy", || {
            format!("after canceled operations the stream carried {got:?}, expected \"xy\"")
        })
    }))
}

/// Rule: `read_some` is cancel-safe: dropping it while pending loses no byte.
fn dropped_read_loses_nothing<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    f.block_on(within(f.prompt() * 5, async {
        {
            let mut buf = [0u8; 8];
            let mut pending = pin!(b.read(&mut buf[..]));
            let first = std::future::poll_fn(|cx| Poll::Ready(pending.as_mut().poll(cx))).await;
            ensure(first.is_pending(), || {
                format!("a read with nothing written must wait, got {first:?}")
            })?;
        } // dropped while pending
        step("write_all", write_all(&mut a, "abc").await)?;
        let got = step("read", read_n(&mut b, 3).await)?;
        ensure(got == b"abc", || {
            format!("after a dropped read, read {got:?}")
        })
    }))
}

/// Rule: `write_some` is cancel-safe: dropping a pending write sends nothing twice and
/// loses nothing that was reported written.
fn dropped_write_duplicates_nothing<F: StreamPairFactory>(f: &F) -> CaseResult {
    let (mut a, mut b) = f.pair();
    f.block_on(within(f.prompt() * 5, async {
        let chunk: Vec<u8> = (0..64 * 1024u64).map(|i| pattern(3, i)).collect();
        let mut reported = Vec::new();
        let mut saw_pending = false;
        // Fill the transport until a write must wait (bounded: 64 MiB).
        for _ in 0..1024 {
            let mut w = pin!(a.write(&chunk[..]));
            match std::future::poll_fn(|cx| Poll::Ready(w.as_mut().poll(cx))).await {
                Poll::Ready(r) => {
                    let n = step("write_some", r)?;
                    reported.extend_from_slice(&chunk[..n]);
                }
                Poll::Pending => {
                    saw_pending = true;
                    break; // dropped while pending
                }
            }
        }
        step("shutdown", a.shutdown().await)?;
        let got = {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = bounded("drain", Duration::from_secs(10), b.read(&mut buf[..])).await?;
                match step("drain", n)? {
                    0 => break,
                    n => out.extend_from_slice(&buf[..n]),
                }
            }
            out
        };
        ensure(got.len() == reported.len() && got == reported, || {
            format!(
                "reported {} bytes written, peer received {} (pending write seen: {saw_pending})",
                reported.len(),
                got.len()
            )
        })
    }))
}

/// Rule: in steady state, `read_some`/`write_some` allocate nothing. Runs only with
/// [`CountingAllocator`](crate::CountingAllocator) installed.
fn no_allocation_per_operation<F: StreamPairFactory>(f: &F) -> CaseResult {
    if !crate::alloc_count::counting_installed() {
        return Err(crate::SKIP_NO_COUNTER.into());
    }
    let (mut a, mut b) = f.pair();
    f.block_on(async {
        let body = async {
            let mut buf = [0u8; 64];
            let mut round = async |a: &mut F::Stream, b: &mut F::Stream| -> io::Result<()> {
                write_all(a, &b"0123456789abcdef"[..]).await?;
                let mut got = 0;
                while got < 16 {
                    match b.read(&mut buf[got..16]).await? {
                        0 => return Err(io::ErrorKind::UnexpectedEof.into()),
                        n => got += n,
                    }
                }
                Ok(())
            };
            for _ in 0..100 {
                round(&mut a, &mut b).await?; // warm-up
            }
            // Transports may yield on their own (an inline budget): suspend once here so
            // the time bound's timer entry is set up before counting starts.
            strait_streams::yield_now().await;
            let before = crate::alloc_count::allocations();
            for _ in 0..1000 {
                round(&mut a, &mut b).await?;
            }
            Ok(crate::alloc_count::allocations() - before)
        };
        let n = bounded("1000 round trips", Duration::from_secs(30), body).await?;
        let n = step("round trip", n)?;
        ensure(n == 0, || {
            format!("{n} allocations in 1000 write/read round trips")
        })
    })
}
