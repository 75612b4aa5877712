//! The load generator: the same one for every server. It runs on the calling thread
//! (one tokio current_thread runtime, nothing shared with the servers' threads) and
//! keeps `connections` keep-alive connections busy, each with `depth` requests in
//! flight (written in one write, answers read back in order), optionally closing a
//! connection (linger 0, so no TIME_WAIT piles up) after every `per_connection`
//! requests and opening a new one.

use std::cell::{Cell, RefCell};
use std::io;
use std::net::SocketAddr;
use std::rc::Rc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The fixed small request every connection sends.
pub const REQUEST: &[u8] = b"GET /plaintext HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
/// The body every answer must carry.
const BODY: &[u8] = b"Hello, World!";

/// Answers received by every run so far, warm-up included (for a probe).
static ANSWERED: AtomicU64 = AtomicU64::new(0);

/// Answers every run so far received, warm-ups included.
pub fn answered() -> u64 {
    ANSWERED.load(Ordering::Relaxed)
}

/// The shape of the load.
#[derive(Clone, Copy)]
pub struct Load {
    pub connections: usize,
    /// Requests written back to back before reading their answers.
    pub depth: usize,
    /// Close the connection after this many requests (churn), or keep it.
    pub per_connection: Option<usize>,
}

/// What one measured window saw.
pub struct Outcome {
    /// Answers received per second.
    pub rate: f64,
    /// Time from writing a request (its batch, when pipelined) to reading its answer.
    pub latencies: Vec<Duration>,
}

impl Outcome {
    /// The `p` quantile of the latencies, in microseconds.
    pub fn quantile_us(&mut self, p: f64) -> f64 {
        if self.latencies.is_empty() {
            return f64::NAN;
        }
        self.latencies.sort_unstable();
        let i = ((self.latencies.len() as f64 - 1.0) * p).round() as usize;
        self.latencies[i].as_nanos() as f64 / 1e3
    }
}

#[derive(Default)]
struct Shared {
    measuring: Cell<bool>,
    stop: Cell<bool>,
    answers: Cell<u64>,
    latencies: RefCell<Vec<Duration>>,
}

/// Drives `load` against `addr`: `warmup`, then a window of `budget` that is measured,
/// then every connection finishes its batch and closes.
pub fn run(
    addr: SocketAddr,
    load: Load,
    warmup: Duration,
    budget: Duration,
) -> io::Result<Outcome> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    local.block_on(&rt, async move {
        let shared = Rc::new(Shared::default());
        let clients: Vec<_> = (0..load.connections)
            .map(|_| tokio::task::spawn_local(client(addr, load, shared.clone())))
            .collect();
        tokio::time::sleep(warmup).await;
        shared.measuring.set(true);
        let start = Instant::now();
        tokio::time::sleep(budget).await;
        shared.measuring.set(false);
        let elapsed = start.elapsed();
        shared.stop.set(true);
        for c in clients {
            c.await.map_err(io::Error::other)??;
        }
        Ok(Outcome {
            rate: shared.answers.get() as f64 / elapsed.as_secs_f64(),
            latencies: shared.latencies.take(),
        })
    })
}

async fn connect(addr: SocketAddr, churn: bool) -> io::Result<TcpStream> {
    let s = TcpStream::connect(addr).await?;
    s.set_nodelay(true)?;
    if churn {
        socket2::SockRef::from(&s).set_linger(Some(Duration::ZERO))?;
    }
    Ok(s)
}

/// One connection slot: connects, sends batches of `depth` requests and reads their
/// answers until told to stop, reconnecting after `per_connection` requests.
async fn client(addr: SocketAddr, load: Load, shared: Rc<Shared>) -> io::Result<()> {
    let batch = REQUEST.repeat(load.depth);
    let mut buf = vec![0u8; 64 * 1024];
    while !shared.stop.get() {
        let mut s = connect(addr, load.per_connection.is_some()).await?;
        let (mut start, mut end) = (0, 0);
        let mut sent = 0;
        while !shared.stop.get() {
            let k = load
                .per_connection
                .map_or(load.depth, |n| load.depth.min(n - sent));
            let t = Instant::now();
            s.write_all(&batch[..k * REQUEST.len()]).await?;
            let mut got = 0;
            while got < k {
                if let Some(len) = parse_answer(&buf[start..end])? {
                    start += len;
                    got += 1;
                    ANSWERED.fetch_add(1, Ordering::Relaxed);
                    if shared.measuring.get() {
                        shared.answers.set(shared.answers.get() + 1);
                        shared.latencies.borrow_mut().push(t.elapsed());
                    }
                    continue;
                }
                if start > 0 {
                    buf.copy_within(start..end, 0);
                    end -= start;
                    start = 0;
                }
                let n = s.read(&mut buf[end..]).await?;
                if n == 0 {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "the server closed a keep-alive connection",
                    ));
                }
                end += n;
            }
            sent += k;
            if load.per_connection.is_some_and(|n| sent >= n) {
                break;
            }
        }
    }
    Ok(())
}

/// The length of the complete answer at the start of `buf`, if it is all there; a
/// status other than 200 or a body other than the expected one is an error.
fn parse_answer(buf: &[u8]) -> io::Result<Option<usize>> {
    let bad = |msg: String| io::Error::new(io::ErrorKind::InvalidData, msg);
    let mut headers = [httparse::EMPTY_HEADER; 16];
    let mut res = httparse::Response::new(&mut headers);
    let head = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(bad(format!("bad answer: {e}"))),
    };
    if res.code != Some(200) {
        return Err(bad(format!("answer status {:?}", res.code)));
    }
    let length = res
        .headers
        .iter()
        .find(|h| h.name.eq_ignore_ascii_case("content-length"))
        .and_then(|h| std::str::from_utf8(h.value).ok()?.parse::<usize>().ok())
        .ok_or_else(|| bad("answer without a Content-Length".into()))?;
    if buf.len() < head + length {
        return Ok(None);
    }
    if &buf[head..head + length] != BODY {
        return Err(bad("unexpected answer body".into()));
    }
    Ok(Some(head + length))
}
