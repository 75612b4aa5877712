//! Suites for sources and sinks: [`ReadSource`], [`BufferSource`], [`WriteSink`]
//! (with `write_eof`) and [`BufferSink`].

use std::future::Future;
use std::pin::Pin;
use std::task::Poll;

use strait_streams::{
    BufferSink, BufferSinkExt, BufferSource, BufferSourceExt, ReadSource, ReadSourceExt, RunLoop,
    WriteSink, WriteSinkExt,
};
use strait_vocab::{buffer_copy, ConstBuffer, MutableBuffer};

use crate::report::{ensure, step, CaseResult, Outcome, Report};
use crate::util::pattern;

/// Makes sources over given bytes. The suite needs both concepts; a source with only
/// one of them can be checked through `AnyBufferSource`, which offers both.
pub trait SourceFactory {
    /// The source under test.
    type Source: ReadSource + BufferSource + Send + Unpin + 'static;
    /// A source that produces exactly `data`, then ends.
    fn source(&self, data: &[u8]) -> Self::Source;
    /// Runs `f` where the source's I/O is driven (default: a strait `RunLoop`).
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        RunLoop::new().block_on(f)
    }
}

/// Makes sinks and inspects what they received.
pub trait SinkFactory {
    /// The sink under test.
    type Sink: WriteSink + BufferSink + Send + Unpin + 'static;
    /// A fresh, open sink.
    fn sink(&self) -> Self::Sink;
    /// Everything `sink` has received.
    fn written(&self, sink: &Self::Sink) -> Vec<u8>;
    /// `true` once `sink` was ended.
    fn ended(&self, sink: &Self::Sink) -> bool;
    /// Runs `f` where the sink's I/O is driven (default: a strait `RunLoop`).
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        RunLoop::new().block_on(f)
    }
}

type SourceCase<F> = fn(&F) -> CaseResult;

/// Every source case, by name.
pub fn cases<F: SourceFactory>() -> Vec<(&'static str, SourceCase<F>)> {
    vec![
        (
            "complete_read_fills_buffers",
            complete_read_fills_buffers::<F>,
        ),
        (
            "complete_read_is_short_only_at_end",
            complete_read_is_short_only_at_end::<F>,
        ),
        (
            "read_after_end_returns_nothing",
            read_after_end_returns_nothing::<F>,
        ),
        (
            "pull_repeats_until_consume",
            pull_repeats_until_consume::<F>,
        ),
        ("consume_advances", consume_advances::<F>),
        ("pull_is_empty_at_end", pull_is_empty_at_end::<F>),
    ]
}

/// Runs one source case by name.
///
/// # Panics
/// If no case has that name.
pub fn run_case<F: SourceFactory>(factory: &F, name: &str) -> Outcome {
    let (name, case) = cases::<F>()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no source case named {name}"));
    crate::outcome_of(name, || case(factory))
}

/// Runs every source case.
pub fn run<F: SourceFactory>(factory: &F) -> Report {
    Report {
        cases: cases::<F>()
            .into_iter()
            .map(|(name, case)| (name, crate::outcome_of(name, || case(factory))))
            .collect(),
    }
}

fn payload(n: u64) -> Vec<u8> {
    (0..n).map(|i| pattern(11, i)).collect()
}

/// Rule: a complete read fills every buffer, across descriptors, in order.
fn complete_read_fills_buffers<F: SourceFactory>(f: &F) -> CaseResult {
    let data = payload(100);
    let mut src = f.source(&data);
    let (mut x, mut y) = ([0u8; 30], [0u8; 40]);
    let n = f.block_on(async {
        let mut bufs = [MutableBuffer::new(&mut x), MutableBuffer::new(&mut y)];
        src.read_exact(&mut bufs).await
    });
    let n = step("read", n)?;
    ensure(n == 70, || {
        format!("complete read of 70 bytes returned {n}")
    })?;
    ensure(x[..] == data[..30] && y[..] == data[30..70], || {
        "complete read filled the buffers with the wrong bytes".into()
    })
}

/// Rule: a complete read is short only at end of source.
fn complete_read_is_short_only_at_end<F: SourceFactory>(f: &F) -> CaseResult {
    let data = payload(100);
    let mut src = f.source(&data);
    f.block_on(async {
        let mut first = [0u8; 70];
        let n = step(
            "read",
            src.read_exact(&mut [MutableBuffer::new(&mut first)]).await,
        )?;
        ensure(n == 70, || format!("first read returned {n} of 70"))?;
        let mut rest = [0u8; 64];
        let n = step(
            "read",
            src.read_exact(&mut [MutableBuffer::new(&mut rest)]).await,
        )?;
        ensure(n == 30 && rest[..30] == data[70..], || {
            format!("the last read returned {n} bytes, expected the 30 left")
        })
    })
}

/// Rule: after the end, reads return 0.
fn read_after_end_returns_nothing<F: SourceFactory>(f: &F) -> CaseResult {
    let mut src = f.source(b"xy");
    f.block_on(async {
        let mut buf = [0u8; 8];
        step(
            "read",
            src.read_exact(&mut [MutableBuffer::new(&mut buf)]).await,
        )?;
        for _ in 0..2 {
            let n = step(
                "read at end",
                src.read_exact(&mut [MutableBuffer::new(&mut buf)]).await,
            )?;
            ensure(n == 0, || format!("read after the end returned {n}"))?;
        }
        Ok(())
    })
}

/// Copies the window a ready `fill` left, without consuming it.
async fn peek<S: BufferSource + Unpin>(src: &mut S, out: &mut [u8]) -> std::io::Result<usize> {
    src.fill().await?;
    std::future::poll_fn(|cx| match Pin::new(&mut *src).poll_pull(cx) {
        Poll::Ready(Ok(w)) => Poll::Ready(Ok(buffer_copy(out, w.as_slice(), usize::MAX))),
        Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
        Poll::Pending => Poll::Ready(Err(std::io::Error::other(
            "pull after a completed fill was not ready (BufferSource contract)",
        ))),
    })
    .await
}

/// Rule: pulling again without `consume` returns the same bytes.
fn pull_repeats_until_consume<F: SourceFactory>(f: &F) -> CaseResult {
    let data = payload(64);
    let mut src = f.source(&data);
    f.block_on(async {
        let (mut a, mut b) = ([0u8; 64], [0u8; 64]);
        let n1 = step("pull", peek(&mut src, &mut a).await)?;
        let n2 = step("pull again", peek(&mut src, &mut b).await)?;
        ensure(
            n1 > 0 && n1 == n2 && a[..n1] == b[..n2] && a[..n1] == data[..n1],
            || format!("two pulls without consume differ ({n1} vs {n2} bytes)"),
        )
    })
}

/// Rule: `consume(k)` advances by exactly `k` bytes.
fn consume_advances<F: SourceFactory>(f: &F) -> CaseResult {
    let data = payload(64);
    let mut src = f.source(&data);
    f.block_on(async {
        let mut out = [0u8; 64];
        let n = step("pull", peek(&mut src, &mut out).await)?;
        let k = n.min(5);
        Pin::new(&mut src).consume(k);
        let m = step("pull after consume", peek(&mut src, &mut out).await)?;
        ensure(m > 0 && out[..m] == data[k..k + m], || {
            format!("after consume({k}) the next pull did not start at byte {k}")
        })
    })
}

/// Rule: once everything is consumed, a pull returns an empty window (end of source).
fn pull_is_empty_at_end<F: SourceFactory>(f: &F) -> CaseResult {
    let data = payload(40);
    let mut src = f.source(&data);
    f.block_on(async {
        let mut out = [0u8; 64];
        let mut total = 0;
        loop {
            let n = step("pull", peek(&mut src, &mut out).await)?;
            if n == 0 {
                break;
            }
            ensure(out[..n] == data[total..total + n], || {
                format!("pulled the wrong bytes at offset {total}")
            })?;
            Pin::new(&mut src).consume(n);
            total += n;
            ensure(total <= data.len(), || {
                "pulled more bytes than the source holds".into()
            })?;
        }
        ensure(total == data.len(), || {
            format!("end of source after {total} of {} bytes", data.len())
        })
    })
}

type SinkCase<F> = fn(&F) -> CaseResult;

/// Every sink case, by name.
pub fn sink_cases<F: SinkFactory>() -> Vec<(&'static str, SinkCase<F>)> {
    vec![
        (
            "complete_write_delivers_everything",
            complete_write_delivers_everything::<F>,
        ),
        (
            "write_eof_delivers_then_ends",
            write_eof_delivers_then_ends::<F>,
        ),
        ("write_after_eof_fails", write_after_eof_fails::<F>),
        ("prepare_commit_delivers", prepare_commit_delivers::<F>),
        ("commit_eof_ends", commit_eof_ends::<F>),
    ]
}

/// Runs one sink case by name.
///
/// # Panics
/// If no case has that name.
pub fn run_sink_case<F: SinkFactory>(factory: &F, name: &str) -> Outcome {
    let (name, case) = sink_cases::<F>()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no sink case named {name}"));
    crate::outcome_of(name, || case(factory))
}

/// Runs every sink case.
pub fn run_sinks<F: SinkFactory>(factory: &F) -> Report {
    Report {
        cases: sink_cases::<F>()
            .into_iter()
            .map(|(name, case)| (name, crate::outcome_of(name, || case(factory))))
            .collect(),
    }
}

/// Rule: a complete write delivers every byte of every buffer, in order.
fn complete_write_delivers_everything<F: SinkFactory>(f: &F) -> CaseResult {
    let data = payload(5000);
    let mut sink = f.sink();
    let parts = [
        ConstBuffer::new(&data[..1]),
        ConstBuffer::EMPTY,
        ConstBuffer::new(&data[1..4000]),
        ConstBuffer::new(&data[4000..]),
    ];
    let n = step("write", f.block_on(sink.write_all(&parts)))?;
    ensure(n == 5000, || format!("write reported {n} of 5000 bytes"))?;
    ensure(f.written(&sink) == data, || {
        "the sink received different bytes".into()
    })?;
    ensure(!f.ended(&sink), || "a plain write ended the sink".into())
}

/// Rule: `write_eof(data)` delivers the data and ends the sink, as one operation.
fn write_eof_delivers_then_ends<F: SinkFactory>(f: &F) -> CaseResult {
    let mut sink = f.sink();
    let n = step(
        "write_eof",
        f.block_on(sink.write_eof(&[ConstBuffer::from("final")])),
    )?;
    ensure(
        n == 5 && f.written(&sink) == b"final" && f.ended(&sink),
        || "write_eof did not deliver its data and end the sink".into(),
    )
}

/// Rule: writing after the end fails with `ErrorKind::BrokenPipe` (as the traits
/// document).
fn write_after_eof_fails<F: SinkFactory>(f: &F) -> CaseResult {
    let mut sink = f.sink();
    step("close", f.block_on(sink.close()))?;
    let r = f.block_on(sink.write_all(&[ConstBuffer::from("late")]));
    ensure(
        matches!(&r, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe),
        || format!("a write after the end must fail with BrokenPipe, got {r:?}"),
    )?;
    ensure(f.written(&sink).is_empty(), || {
        "bytes written after the end arrived".into()
    })
}

/// Rule: bytes written into a prepared window and committed are delivered.
fn prepare_commit_delivers<F: SinkFactory>(f: &F) -> CaseResult {
    let mut sink = f.sink();
    f.block_on(async {
        let room = step("reserve", sink.reserve().await)?;
        ensure(room > 0, || "an open sink prepared an empty window".into())?;
        let n = std::future::poll_fn(|cx| match Pin::new(&mut sink).poll_prepare(cx) {
            Poll::Ready(Ok(mut w)) => Poll::Ready(Ok(buffer_copy(w.as_mut_slice(), "commit", 6))),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        })
        .await;
        let n = step("prepare", n)?;
        step("commit", sink.commit(n).await)?;
        Ok::<_, String>(())
    })?;
    let got = f.written(&sink);
    ensure(
        got == b"commit"[..got.len().min(6)] && !got.is_empty(),
        || format!("committed bytes arrived as {got:?}"),
    )
}

/// Rule: `commit_eof` ends the sink.
fn commit_eof_ends<F: SinkFactory>(f: &F) -> CaseResult {
    let mut sink = f.sink();
    step("commit_eof", f.block_on(sink.commit_eof(0)))?;
    ensure(f.ended(&sink), || {
        "commit_eof(0) did not end the sink".into()
    })
}
