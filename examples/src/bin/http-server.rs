//! An HTTP/1.1 server on strait's native reactor, with `strait-http1`.
//!
//! ```text
//! cargo run --release -p strait-examples --bin http-server -- [ADDR] [--threads N] [--reuseport] [--max-connections N] [--tls [--cert CHAIN.pem --key KEY.pem]] [--runtime native|tokio|smol]
//! ```
//! `--threads N` runs one context on N threads; with `--reuseport` each of the N
//! threads runs its own single-threaded context with its own `SO_REUSEPORT` listener
//! (thread per core).
//! ADDR defaults to 127.0.0.1:8080. `GET /plaintext` answers `Hello, World!`,
//! `POST /echo` echoes the request body (sent with Content-Length or chunked), any
//! other path is 404. Keep-alive, pipelining and `Expect: 100-continue` work; try
//! `curl -v http://127.0.0.1:8080/plaintext` or
//! `curl -T file -H 'Transfer-Encoding: chunked' http://127.0.0.1:8080/echo`.
//!
//! `--tls` serves HTTPS with the same service code (strait-tls over each accepted
//! socket, ALPN `http/1.1`): with `--cert`/`--key` it presents that chain, otherwise a
//! self-signed certificate for `localhost` and `127.0.0.1` made at start (rcgen; try
//! `curl -k https://127.0.0.1:8080/plaintext`).
//!
//! `--runtime tokio` or `--runtime smol` runs the very same service code (`route`, the
//! TLS wrapping, the accept loop and its connection limit) on that runtime through
//! `strait-tokio` or `strait-smol`, with `--threads` worker threads; only
//! `run_on_tokio`/`run_on_smol` below name a runtime.

use std::io;
use std::num::NonZeroUsize;
use std::sync::{Arc, LazyLock};

use std::path::PathBuf;

use http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use std::net::SocketAddr;

use strait_http1::io::{
    accept_loop, accept_loop_with, serve_connection, ConnectionLimit, Exchange,
};
use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::Stream;
use strait_tls::{Identity, ServerContext, TlsStream};

/// Largest echoed body.
const MAX_ECHO: usize = 16 * 1024 * 1024;

/// Headers of every answer, built once.
pub static TEXT: LazyLock<HeaderMap> = LazyLock::new(|| {
    let mut text = HeaderMap::new();
    text.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
    text.insert(header::SERVER, HeaderValue::from_static("strait"));
    text
});

/// One request: the whole application, over TCP or TLS alike.
pub async fn route<S: Stream + Unpin>(ex: &mut Exchange<'_, S>) -> io::Result<()> {
    let text: &HeaderMap = &TEXT;
    let is = |m: &Method, p: &str| ex.request().method() == m && ex.request().path() == p;
    if is(&Method::GET, "/plaintext") {
        ex.respond(StatusCode::OK, text, b"Hello, World!").await
    } else if is(&Method::POST, "/echo") {
        let mut body = Vec::new();
        match ex.read_body_to_end(&mut body, MAX_ECHO).await {
            Ok(_) => ex.respond(StatusCode::OK, text, &body).await,
            Err(e) if e.kind() == io::ErrorKind::InvalidData && body.len() <= MAX_ECHO => {
                ex.respond(StatusCode::PAYLOAD_TOO_LARGE, text, b"too large")
                    .await
            }
            Err(e) => Err(e),
        }
    } else {
        ex.respond(StatusCode::NOT_FOUND, text, b"Not Found").await
    }
}

/// Serves one connection (after the TLS handshake, with `tls`), on any transport.
async fn serve_one<S: Stream + Unpin>(conn: S, tls: Option<ServerContext>) -> io::Result<()> {
    match tls {
        None => serve_connection(conn, async |ex: &mut Exchange<'_, S>| route(ex).await)
            .await
            .map(drop),
        // Boxed: inline, the TLS session and its connection state would make every
        // plain connection's task that much bigger too (a future is as big as its
        // largest branch), and a task's future is copied into its block at spawn.
        Some(ctx) => Box::pin(serve_tls(conn, ctx)).await,
    }
}

/// [`serve_one`] over TLS: the handshake, then the same service.
async fn serve_tls<S: Stream + Unpin>(conn: S, ctx: ServerContext) -> io::Result<()> {
    let mut tls = TlsStream::accept(&ctx, conn).map_err(io::Error::other)?;
    tls.handshake().await?;
    serve_connection(tls, async |ex: &mut Exchange<'_, TlsStream<S>>| {
        route(ex).await
    })
    .await
    .map(drop)
}

/// The task of one accepted connection: serve it, log failures when asked.
pub async fn connection<S: Stream + Unpin>(conn: S, peer: SocketAddr, tls: Option<ServerContext>) {
    if let Err(e) = serve_one(conn, tls).await {
        if std::env::var_os("HTTP_SERVER_LOG").is_some() {
            eprintln!("{peer}: {e}");
        }
    }
}

/// Accepts connections (at most `limit` open at once across every context sharing
/// it: at the limit, new clients wait in the backlog) and serves each on its own task,
/// over TLS with `tls`.
pub async fn serve(
    listener: TcpListener,
    limit: Arc<ConnectionLimit>,
    tls: Option<ServerContext>,
) -> io::Result<()> {
    accept_loop(&listener, &limit, |conn: TcpStream, peer| {
        let _ = conn.set_nodelay(true);
        connection(conn, peer, tls.clone())
    })
    .await
}

/// The same server on tokio: `--threads` workers, each connection a tokio task running
/// the strait service through `strait-tokio`.
fn run_on_tokio(args: &Args, tls: Option<ServerContext>) -> io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.get())
        .enable_all()
        .build()?;
    let executor = strait_tokio::TokioExecutor::new(runtime.handle());
    let limit = ConnectionLimit::new(args.max_connections);
    executor.block_on(&runtime, async {
        let listener = strait_tokio::TcpListener::bind(args.addr.as_str()).await?;
        announce(listener.local_addr()?, "tokio", args, &tls);
        accept_loop_with(
            || listener.accept(),
            &limit,
            |conn, peer| {
                let _ = conn.set_nodelay(true);
                connection(conn, peer, tls.clone())
            },
        )
        .await
    })
}

/// The same server on smol: `--threads` threads running one smol executor, each
/// connection a smol task running the strait service through `strait-smol`.
fn run_on_smol(args: &Args, tls: Option<ServerContext>) -> io::Result<()> {
    let smol = Arc::new(smol::Executor::new());
    let executor = strait_smol::SmolExecutor::new(&smol);
    let limit = ConnectionLimit::new(args.max_connections);
    let (done, finished) = smol::channel::bounded::<()>(1);
    std::thread::scope(|s| {
        for i in 1..args.threads.get() {
            let (smol, finished) = (smol.clone(), finished.clone());
            std::thread::Builder::new()
                .name(format!("smol-{i}"))
                .spawn_scoped(s, move || {
                    smol::block_on(smol.run(async { finished.recv().await.ok() }))
                })?;
        }
        let served = executor.block_on(async {
            let listener = strait_smol::TcpListener::bind(args.addr.as_str()).await?;
            announce(listener.local_addr()?, "smol", args, &tls);
            accept_loop_with(
                || listener.accept(),
                &limit,
                |conn, peer| {
                    let _ = conn.set_nodelay(true);
                    connection(conn, peer, tls.clone())
                },
            )
            .await
        });
        drop(done); // the other threads return
        served
    })
}

/// Prints where the server listens and how.
fn announce(addr: SocketAddr, runtime: &str, args: &Args, tls: &Option<ServerContext>) {
    println!(
        "http-server listening on {addr} ({runtime}, {} threads{})",
        args.threads,
        if tls.is_some() { ", TLS" } else { "" }
    );
}

/// Which runtime runs the server.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Runtime {
    Native,
    Tokio,
    Smol,
}

struct Args {
    addr: String,
    runtime: Runtime,
    threads: NonZeroUsize,
    max_connections: usize,
    reuseport: bool,
    tls: bool,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

fn parse_args() -> io::Result<Args> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let mut args = Args {
        addr: "127.0.0.1:8080".into(),
        runtime: Runtime::Native,
        threads: NonZeroUsize::MIN,
        max_connections: 10_000,
        reuseport: false,
        tls: false,
        cert: None,
        key: None,
    };
    let mut addr_seen = false;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| invalid(format!("{name} needs N")));
        match arg.as_str() {
            "--reuseport" => args.reuseport = true,
            "--runtime" => {
                args.runtime = match value("--runtime")?.as_str() {
                    "native" => Runtime::Native,
                    "tokio" => Runtime::Tokio,
                    "smol" => Runtime::Smol,
                    other => return Err(invalid(format!("unknown --runtime {other:?}"))),
                }
            }
            "--tls" => args.tls = true,
            "--cert" => args.cert = Some(value("--cert")?.into()),
            "--key" => args.key = Some(value("--key")?.into()),
            "--threads" => {
                let v = value("--threads")?;
                args.threads = v
                    .parse()
                    .map_err(|e| invalid(format!("bad --threads {v:?}: {e}")))?;
            }
            "--max-connections" => {
                let v = value("--max-connections")?;
                args.max_connections = v
                    .parse()
                    .map_err(|e| invalid(format!("bad --max-connections {v:?}: {e}")))?;
            }
            _ if !addr_seen => {
                args.addr = arg;
                addr_seen = true;
            }
            _ => return Err(invalid(format!("unexpected argument {arg:?}"))),
        }
    }
    if args.cert.is_some() != args.key.is_some() {
        return Err(invalid("--cert and --key go together".into()));
    }
    if args.reuseport && args.runtime != Runtime::Native {
        return Err(invalid("--reuseport is for the native runtime".into()));
    }
    if args.cert.is_some() && !args.tls {
        return Err(invalid("--cert and --key need --tls".into()));
    }
    Ok(args)
}

/// The TLS context of `--tls`: the given chain and key, or a self-signed certificate
/// for `localhost` and `127.0.0.1` made now.
fn tls_context(args: &Args) -> io::Result<Option<ServerContext>> {
    if !args.tls {
        return Ok(None);
    }
    let identity = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => Identity::from_pem_files(cert, key).map_err(io::Error::other)?,
        _ => {
            let made =
                rcgen::generate_simple_self_signed(vec!["localhost".into(), "127.0.0.1".into()])
                    .map_err(io::Error::other)?;
            Identity::from_pem(
                made.cert.pem().as_bytes(),
                made.key_pair.serialize_pem().as_bytes(),
            )
            .map_err(io::Error::other)?
        }
    };
    let ctx = ServerContext::builder(identity)
        .alpn_protocols(&["http/1.1"])
        .build()
        .map_err(io::Error::other)?;
    Ok(Some(ctx))
}

/// One single-threaded context per thread, each with its own `SO_REUSEPORT` listener
/// on the same address: the kernel spreads connections, nothing is shared but the
/// connection limit.
fn run_per_core(args: &Args, tls: Option<ServerContext>) -> io::Result<()> {
    let limit = ConnectionLimit::new(args.max_connections);
    let first = IoContext::new_single_threaded()?;
    let listener = TcpListener::bind_with(&first, args.addr.as_str(), 1024, true)?;
    let addr = listener.local_addr()?;
    println!(
        "http-server listening on {addr} ({} contexts, SO_REUSEPORT{})",
        args.threads,
        if tls.is_some() { ", TLS" } else { "" }
    );
    std::thread::scope(|s| {
        for i in 1..args.threads.get() {
            let limit = limit.clone();
            let tls = tls.clone();
            std::thread::Builder::new()
                .name(format!("context-{i}"))
                .spawn_scoped(s, move || -> io::Result<()> {
                    let ctx = IoContext::new_single_threaded()?;
                    let listener = TcpListener::bind_with(&ctx, addr, 1024, true)?;
                    ctx.block_on(serve(listener, limit, tls))
                })?;
        }
        first.block_on(serve(listener, limit, tls))
    })
}

fn main() -> io::Result<()> {
    let args = parse_args()?;
    let tls = tls_context(&args)?;
    match args.runtime {
        Runtime::Tokio => return run_on_tokio(&args, tls),
        Runtime::Smol => return run_on_smol(&args, tls),
        Runtime::Native if args.reuseport => return run_per_core(&args, tls),
        Runtime::Native => {}
    }
    let ctx = IoContext::new()?;
    let listener = TcpListener::bind(&ctx, args.addr.as_str())?;
    println!(
        "http-server listening on {}{}",
        listener.local_addr()?,
        if tls.is_some() { " (TLS)" } else { "" }
    );
    let limit = ConnectionLimit::new(args.max_connections);
    let server = ctx.spawn(serve(listener, limit, tls));
    std::thread::scope(|s| {
        for i in 1..args.threads.get() {
            let runner = std::thread::Builder::new()
                .name(format!("runner-{i}"))
                .spawn_scoped(s, || ctx.run());
            if let Err(e) = runner {
                ctx.stop();
                return Err(e);
            }
        }
        ctx.run();
        io::Result::Ok(())
    })?;
    ctx.block_on(server)
        .map_err(|e| io::Error::other(format!("the accept loop failed: {e:?}")))?
}
