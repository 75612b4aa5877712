//! Cases about the bytes themselves: empty operations, order, partial transfers,
//! delivery after a flush, integrity of large transfers.

use std::io;
use std::pin::{pin, Pin};
use std::task::Poll;

use strait_streams::{read_exact, write_all, ReadStreamExt, Stream, WriteStreamExt};
use strait_vocab::{ConstBuffer, MutableBuffer};

use super::{read_n, with_pair, TransportFactory};
use crate::report::{ensure, CaseResult};
use crate::util::{pattern, poll_once, Checksum};
use crate::watch::Steps;

/// Rule: an operation with no bytes to move completes at once with `Ok(0)`, even when
/// the stream has nothing to read.
pub(super) fn empty_buffers_complete_at_once<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        s.enter("read_some into an empty buffer");
        let mut nothing = [0u8; 0];
        let r = poll_once(pin!(b.read(&mut nothing[..])));
        ensure(matches!(r, Poll::Ready(Ok(0))), || {
            format!("read_some with an empty buffer must be Ready(Ok(0)) at once, got {r:?}")
        })?;
        s.enter("read_some into no buffers");
        let mut none: [MutableBuffer<'_>; 0] = [];
        let r = poll_once(pin!(b.read(&mut none[..])));
        ensure(matches!(r, Poll::Ready(Ok(0))), || {
            format!("read_some with no buffers must be Ready(Ok(0)), got {r:?}")
        })?;
        s.enter("write_some of empty buffers");
        let r = poll_once(pin!(a.write(&[ConstBuffer::EMPTY, ConstBuffer::EMPTY][..])));
        ensure(matches!(r, Poll::Ready(Ok(0))), || {
            format!("write_some of empty buffers must be Ready(Ok(0)), got {r:?}")
        })
    })
}

/// Rule: bytes written on one end are read, in order, on the other.
pub(super) fn round_trip<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        s.io("write_all", write_all(&mut a, "hello, peer")).await?;
        let got = s.io("read", read_n(&mut b, 11)).await?;
        ensure(got == b"hello, peer", || format!("read {got:?}"))?;
        s.io("write_all back", write_all(&mut b, "and back"))
            .await?;
        let got = s.io("read back", read_n(&mut a, 8)).await?;
        ensure(got == b"and back", || format!("read back {got:?}"))
    })
}

/// Rule: vectored writes send their buffers in order; vectored reads fill theirs in order.
pub(super) fn vectored_buffers_keep_order<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        let parts = [
            ConstBuffer::from("one,"),
            ConstBuffer::EMPTY,
            ConstBuffer::from("two,"),
            ConstBuffer::from("three"),
        ];
        s.io("write_all", write_all(&mut a, &parts[..])).await?;
        let (mut x, mut y, mut z) = ([0u8; 3], [0u8; 0], [0u8; 10]);
        let bufs = [
            MutableBuffer::new(&mut x),
            MutableBuffer::new(&mut y),
            MutableBuffer::new(&mut z),
        ];
        let n = s.io("vectored read", read_exact(&mut b, bufs)).await?;
        ensure(n == 13 && &x == b"one" && &z == b",two,three", || {
            format!("vectored read got {n} bytes: {x:?} {z:?}")
        })
    })
}

/// Rule: partial transfers lose nothing — one-byte reads reassemble the message.
pub(super) fn one_byte_reads_reassemble<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        let msg: Vec<u8> = (0..300u64).map(|i| pattern(7, i)).collect();
        s.io("write_all", write_all(&mut a, &msg[..])).await?;
        let mut got = Vec::new();
        while got.len() < msg.len() {
            let mut one = [0u8; 1];
            match s.io("one-byte read_some", b.read(&mut one[..])).await? {
                0 => return Err(format!("end of stream after {} bytes", got.len())),
                _ => got.push(one[0]),
            }
        }
        ensure(got == msg, || {
            "one-byte reads returned different bytes".into()
        })
    })
}

/// Rule: bytes reported written reach the peer once flushed, without a shutdown
/// (write-behind is allowed, withholding after `flush` is not). Checked from both ends.
pub(super) fn flushed_bytes_arrive_without_shutdown<F: TransportFactory>(
    f: &F,
    s: &Steps,
) -> CaseResult {
    with_pair(f, s, f.prompt() * 5, |mut a, mut b| async move {
        flushed_arrive(f, s, &mut a, &mut b, "client").await?;
        flushed_arrive(f, s, &mut b, &mut a, "server").await
    })
}

async fn flushed_arrive<F: TransportFactory>(
    f: &F,
    s: &Steps,
    writer: &mut (impl Stream + Unpin),
    reader: &mut (impl Stream + Unpin),
    who: &str,
) -> CaseResult {
    let n = s.io("write_some", writer.write("flush me")).await?;
    s.io("flush", writer.flush()).await?;
    let got = s
        .bounded("read the flushed bytes", f.prompt(), read_n(reader, n))
        .await?;
    let got = got.map_err(|e| format!("reading the flushed bytes failed: {e}"))?;
    ensure(got == b"flush me"[..n], || {
        format!("after the {who}'s write_some ({n} bytes) and flush, the peer read {got:?}")
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
pub(super) fn large_transfer_both_directions<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    let total = f.large_transfer_bytes();
    with_pair(f, s, f.prompt() * 30, |mut a, mut b| async move {
        s.enter("large transfer both ways");
        let both = strait_streams::when_all((
            full_duplex(&mut a, total, 1),
            full_duplex(&mut b, total, 2),
        ));
        let (ab, ba) = both
            .await
            .map_err(|e| format!("large transfer failed: {e}"))?;
        let (a_sent, a_received) = ab;
        let (b_sent, b_received) = ba;
        ensure(a_sent == expected_checksum(total, 1), || {
            "the client sent the wrong bytes".into()
        })?;
        ensure(a_received == b_sent, || {
            format!(
                "the client received {} bytes (hash {:x}), the server sent {} (hash {:x})",
                a_received.len, a_received.hash, b_sent.len, b_sent.hash
            )
        })?;
        ensure(b_received == a_sent, || {
            format!(
                "the server received {} bytes (hash {:x}), the client sent {} (hash {:x})",
                b_received.len, b_received.hash, a_sent.len, a_sent.hash
            )
        })
    })
}
