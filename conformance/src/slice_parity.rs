//! The one-slice operations ([`ReadStream::poll_read_slice`],
//! [`WriteStream::poll_write_slice`])
//! against the sequence operations, for a transport that overrides them: one script
//! runs twice on fresh pairs, once with one-region `read`/`write` (the one-slice path)
//! and once with the same bytes as two regions, one of them empty (the sequence path),
//! and the two transcripts must match byte for byte.
//!
//! The script covers empty buffers (complete at once with `Ok(0)`, before and after a
//! shutdown), data both ways (the client through a
//! [`LocalAnyStream`], as protocol code holds it; the
//! server directly), a stopped environment (fails the operation as canceled and loses
//! nothing), end of stream after the peer's shutdown (twice), and writes after a
//! shutdown (`BrokenPipe`).
//!
//! ```
//! struct Pipes;
//! impl strait_conformance::StreamPairFactory for Pipes {
//!     type Stream = strait_streams::io::DuplexStream;
//!     fn pair(&self) -> (Self::Stream, Self::Stream) {
//!         strait_streams::duplex(64)
//!     }
//! }
//! let outcome = strait_conformance::slice_parity::run(&Pipes);
//! strait_conformance::assert_outcome("slice_parity", outcome);
//! ```

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::Poll;

use strait_streams::{
    is_canceled, with_stop_token, LocalAnyStream, MutableBuffer, ReadStream, ReadStreamExt,
    StopSource, WriteStream, WriteStreamExt,
};
use strait_vocab::ConstBuffer;

use crate::report::CaseResult;
use crate::watch::{run_watched, Gate, Steps};
use crate::{Outcome, TransportFactory};

/// How the script passes its buffers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Form {
    /// One region: `poll_read_slice` / `poll_write_slice`.
    Slice,
    /// The region and an empty one: `poll_read_some` / `poll_write_some`.
    Sequence,
}

async fn read_in<S: ReadStream + Unpin + ?Sized>(
    form: Form,
    stream: &mut S,
    buf: &mut [u8],
) -> io::Result<usize> {
    match form {
        Form::Slice => stream.read(buf).await,
        Form::Sequence => {
            let mut none = [0u8; 0];
            let mut two = [MutableBuffer::new(buf), MutableBuffer::new(&mut none[..])];
            stream.read(&mut two[..]).await
        }
    }
}

async fn write_in<S: WriteStream + Unpin + ?Sized>(
    form: Form,
    stream: &mut S,
    buf: &[u8],
) -> io::Result<usize> {
    match form {
        Form::Slice => stream.write(buf).await,
        Form::Sequence => {
            let two = [ConstBuffer::new(buf), ConstBuffer::new(&[])];
            stream.write(&two[..]).await
        }
    }
}

/// The result of the first poll of `f` (empty operations must not wait).
async fn first_poll<T: std::fmt::Debug>(f: impl Future<Output = io::Result<T>>) -> String {
    let mut f = pin!(f);
    let first = std::future::poll_fn(|cx| Poll::Ready(f.as_mut().poll(cx))).await;
    match first {
        Poll::Ready(r) => format!("{:?}", r.map_err(|e| e.kind())),
        Poll::Pending => "pending".to_owned(),
    }
}

/// `n` bytes read in `chunk`-sized reads; each read must return 1..=chunk.
async fn read_n<S: ReadStream + Unpin + ?Sized>(
    form: Form,
    stream: &mut S,
    n: usize,
    chunk: usize,
) -> Result<Vec<u8>, String> {
    let mut got = Vec::new();
    let mut buf = vec![0u8; chunk];
    while got.len() < n {
        let want = chunk.min(n - got.len());
        match read_in(form, stream, &mut buf[..want]).await {
            Ok(0) => return Err(format!("end of stream after {} of {n} bytes", got.len())),
            Ok(k) if k > want => return Err(format!("read reported {k} of a {want}-byte buffer")),
            Ok(k) => got.extend_from_slice(&buf[..k]),
            Err(e) => return Err(format!("read failed after {} bytes: {e}", got.len())),
        }
    }
    Ok(got)
}

async fn write_whole<S: WriteStream + Unpin + ?Sized>(
    form: Form,
    stream: &mut S,
    mut bytes: &[u8],
) -> Result<(), String> {
    while !bytes.is_empty() {
        match write_in(form, stream, bytes).await {
            Ok(0) => return Err("write returned 0 for a non-empty buffer".into()),
            Ok(n) if n > bytes.len() => {
                return Err(format!("write reported {n} of {}", bytes.len()))
            }
            Ok(n) => bytes = &bytes[n..],
            Err(e) => return Err(format!("write failed: {e}")),
        }
    }
    stream
        .flush()
        .await
        .map_err(|e| format!("flush failed: {e}"))
}

async fn script<C, S>(
    form: Form,
    s: &Steps,
    mut client: C,
    mut server: S,
) -> Result<Vec<String>, String>
where
    C: ReadStream + WriteStream + Unpin,
    S: ReadStream + WriteStream + Unpin,
{
    let mut log = Vec::new();
    let mut c = LocalAnyStream::borrowed(&mut client);
    let server = &mut server;

    s.enter("empty buffers");
    log.push(format!(
        "client empty write: {}",
        first_poll(write_in(form, &mut c, &[])).await
    ));
    log.push(format!(
        "client empty read: {}",
        first_poll(read_in(form, &mut c, &mut [])).await
    ));
    log.push(format!(
        "server empty write: {}",
        first_poll(write_in(form, server, &[])).await
    ));
    log.push(format!(
        "server empty read: {}",
        first_poll(read_in(form, server, &mut [])).await
    ));

    s.enter("client to server");
    let hello = b"hello through the one-slice path";
    write_whole(form, &mut c, hello).await?;
    let got = read_n(form, server, hello.len(), 5).await?;
    log.push(format!("server read: {:?}", String::from_utf8_lossy(&got)));

    s.enter("stopped environment");
    write_whole(form, &mut c, b"x").await?;
    let stopped = StopSource::new();
    stopped.request_stop();
    let mut buf = [0u8; 4];
    let r = with_stop_token(stopped.token(), read_in(form, server, &mut buf)).await;
    log.push(format!(
        "stopped read canceled: {}",
        r.as_ref().is_err_and(is_canceled)
    ));
    let r = with_stop_token(stopped.token(), write_in(form, &mut c, b"lost")).await;
    log.push(format!(
        "stopped write canceled: {}",
        r.as_ref().is_err_and(is_canceled)
    ));
    let got = read_n(form, server, 1, 4).await?;
    log.push(format!(
        "after the stop: {:?}",
        String::from_utf8_lossy(&got)
    ));

    s.enter("server to client");
    write_whole(form, server, b"pong").await?;
    let got = read_n(form, &mut c, 4, 64).await?;
    log.push(format!("client read: {:?}", String::from_utf8_lossy(&got)));

    s.enter("end of stream");
    c.shutdown()
        .await
        .map_err(|e| format!("client shutdown: {e}"))?;
    for _ in 0..2 {
        let r = read_in(form, server, &mut buf).await;
        log.push(format!(
            "server read after shutdown: {:?}",
            r.map_err(|e| e.kind())
        ));
    }
    let r = write_in(form, &mut c, b"late").await;
    log.push(format!(
        "client write after shutdown: {:?}",
        r.map_err(|e| e.kind())
    ));
    log.push(format!(
        "client empty write after shutdown: {}",
        first_poll(write_in(form, &mut c, &[])).await
    ));
    server
        .shutdown()
        .await
        .map_err(|e| format!("server shutdown: {e}"))?;
    let r = read_in(form, &mut c, &mut buf).await;
    log.push(format!(
        "client read after shutdown: {:?}",
        r.map_err(|e| e.kind())
    ));
    Ok(log)
}

fn transcript<F: TransportFactory>(f: &F, s: &Steps, form: Form) -> Result<Vec<String>, String> {
    s.enter("pair");
    let pairing = f.pair();
    f.block_on(async {
        let (client, server) = s.io("pair", pairing).await?;
        script(form, s, client, server).await
    })
}

/// Runs the script both ways and compares the transcripts (watched like the
/// stream-pair cases: a hang fails naming its step). Also the stream-pair suite's case
/// `one_slice_matches_sequence`.
pub fn run<F: TransportFactory>(factory: &F) -> Outcome {
    run_watched("slice_parity", Gate::Shared, factory.prompt() * 30, |s| {
        one_slice_matches_sequence(factory, s)
    })
}

/// The stream-pair case: the script both ways, transcripts compared.
pub(crate) fn one_slice_matches_sequence<F: TransportFactory>(
    factory: &F,
    s: &Steps,
) -> CaseResult {
    let slice = transcript(factory, s, Form::Slice)?;
    let sequence = transcript(factory, s, Form::Sequence)?;
    if slice != sequence {
        return Err(format!(
            "the one-slice path differs from the sequence path:\n  slice:    {slice:?}\n  sequence: {sequence:?}"
        ));
    }
    let expected = [
        "client empty write: Ok(0)",
        "client empty read: Ok(0)",
        "server empty write: Ok(0)",
        "server empty read: Ok(0)",
        "server read: \"hello through the one-slice path\"",
        "stopped read canceled: true",
        "stopped write canceled: true",
        "after the stop: \"x\"",
        "client read: \"pong\"",
        "server read after shutdown: Ok(0)",
        "server read after shutdown: Ok(0)",
        "client write after shutdown: Err(BrokenPipe)",
    ];
    for (want, got) in expected.iter().zip(&slice) {
        if want != got {
            return Err(format!(
                "expected `{want}`, got `{got}` (transcript {slice:?})"
            ));
        }
    }
    let last = slice.last().map(String::as_str);
    if last != Some("client read after shutdown: Ok(0)") {
        return Err(format!(
            "expected end of stream at the client, got {last:?}"
        ));
    }
    Ok(())
}
