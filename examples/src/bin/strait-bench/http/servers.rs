//! The servers under load: the `http-server` example's own code on strait-native, and
//! hyper 1.x on tokio configured like the fastest public hyper entries
//! (`pipeline_flush(true)`, `TCP_NODELAY`, one current-thread runtime per core with
//! `SO_REUSEPORT` in the per-core shape). Each runs on threads of its own until stopped.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;

use bytes::Bytes;
use http::{header, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use strait_http1::io::ConnectionLimit;
use strait_native::{IoContext, TcpListener};

use super::http_server;
use super::pin::Placement;

/// Largest echoed body, as in the example.
const MAX_ECHO: usize = 16 * 1024 * 1024;

/// A server running on its own threads; [`Running::stop`] ends it.
pub struct Running {
    pub addr: SocketAddr,
    stops: Vec<Box<dyn FnOnce() + Send>>,
    threads: Vec<JoinHandle<()>>,
}

impl Running {
    /// Takes `other`'s threads: stopping `self` stops them too.
    fn absorb(&mut self, other: Running) {
        self.stops.extend(other.stops);
        self.threads.extend(other.threads);
    }

    /// Stops every thread and waits for them (open connections are dropped).
    pub fn stop(self) {
        for stop in self.stops {
            stop();
        }
        for t in self.threads {
            let _ = t.join();
        }
    }
}

fn spawn_thread(name: &str, f: impl FnOnce() + Send + 'static) -> io::Result<JoinHandle<()>> {
    std::thread::Builder::new().name(name.to_owned()).spawn(f)
}

// ----- strait-native -----

/// One single-threaded context on one thread serving `http-server`'s service; with
/// `reuse_at`, its listener joins the `SO_REUSEPORT` group on that address.
fn strait_context(reuse_at: Option<SocketAddr>, place: &Arc<Placement>) -> io::Result<Running> {
    let (tx, rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let place = place.clone();
    let thread = spawn_thread("strait-server", move || {
        place.pin();
        let setup = (|| {
            // Made on its runner thread, which a single-threaded context claims.
            let ctx = Arc::new(IoContext::new_single_threaded()?);
            let listener = match reuse_at {
                Some(addr) => TcpListener::bind_with(&ctx, addr, 1024, true)?,
                None => TcpListener::bind_with(&ctx, "127.0.0.1:0", 1024, true)?,
            };
            let addr = listener.local_addr()?;
            ctx.spawn(http_server::serve(
                listener,
                ConnectionLimit::new(usize::MAX),
                None,
            ))
            .detach();
            io::Result::Ok((ctx, addr))
        })();
        match setup {
            Ok((ctx, addr)) => {
                let _ = tx.send(Ok((addr, ctx.clone())));
                ctx.run();
                // The context is dropped here, on its runner thread, once the stopper
                // let go of its reference.
                let _ = release_rx.recv();
            }
            Err(e) => {
                let _ = tx.send(Err(e));
            }
        }
    })?;
    let (addr, ctx) = rx
        .recv()
        .map_err(|_| io::Error::other("the server thread died"))??;
    let stop = Box::new(move || {
        ctx.stop();
        drop(ctx);
        let _ = release_tx.send(());
    });
    Ok(Running {
        addr,
        stops: vec![stop],
        threads: vec![thread],
    })
}

/// `http-server` on one single-threaded context (one thread).
pub fn strait_single() -> io::Result<Running> {
    strait_context(None, &Arc::new(Placement::new()))
}

/// `http-server` on one context run by `runners` threads.
pub fn strait_runners(runners: usize) -> io::Result<Running> {
    let ctx = Arc::new(IoContext::new()?);
    let listener = TcpListener::bind_with(&ctx, "127.0.0.1:0", 1024, true)?;
    let addr = listener.local_addr()?;
    ctx.spawn(http_server::serve(
        listener,
        ConnectionLimit::new(usize::MAX),
        None,
    ))
    .detach();
    let mut threads = Vec::new();
    let place = Arc::new(Placement::new());
    for _ in 0..runners {
        let ctx = ctx.clone();
        let place = place.clone();
        threads.push(spawn_thread("strait-runner", move || {
            place.pin();
            ctx.run();
        })?);
    }
    Ok(Running {
        addr,
        stops: vec![Box::new(move || ctx.stop())],
        threads,
    })
}

/// `http-server --reuseport --threads n`: one single-threaded context per thread, each
/// with its own `SO_REUSEPORT` listener on one address.
pub fn strait_per_core(n: usize) -> io::Result<Running> {
    let place = Arc::new(Placement::new());
    let mut running = strait_context(None, &place)?;
    let addr = running.addr;
    for _ in 1..n {
        match strait_context(Some(addr), &place) {
            Ok(more) => running.absorb(more),
            Err(e) => {
                running.stop();
                return Err(e);
            }
        }
    }
    Ok(running)
}

// ----- the same strait service on tokio, through strait-tokio -----

/// `http-server --runtime tokio`'s service on one tokio current_thread runtime on its
/// own thread: the driver's cost against hyper on the same runtime.
pub fn strait_on_tokio() -> io::Result<Running> {
    let std_listener = reuseport_listener(None)?;
    let addr = std_listener.local_addr()?;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let place = Arc::new(Placement::new());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = spawn_thread("strait-on-tokio", move || {
        place.pin();
        let executor = strait_tokio::TokioExecutor::new(rt.handle());
        executor.block_on(&rt, async move {
            let listener = match tokio::net::TcpListener::from_std(std_listener) {
                Ok(l) => strait_tokio::TcpListener::from_tokio(l),
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    return;
                }
            };
            let _ = ready_tx.send(Ok(()));
            let limit = ConnectionLimit::new(usize::MAX);
            let serve = strait_http1::io::accept_loop_with(
                || listener.accept(),
                &limit,
                |conn, peer| {
                    let _ = conn.set_nodelay(true);
                    http_server::connection(conn, peer, None)
                },
            );
            let stopped = async { stop_rx.await.map_err(io::Error::other) };
            let _ = strait_streams::when_any((serve, stopped)).await;
        });
        // Dropping the runtime drops every connection task.
        drop(rt);
    })?;
    ready_rx
        .recv()
        .map_err(|_| io::Error::other("the server thread died"))??;
    let stop = Box::new(move || {
        let _ = stop_tx.send(());
    });
    Ok(Running {
        addr,
        stops: vec![stop],
        threads: vec![thread],
    })
}

// ----- hyper on tokio -----

/// The same routes as `http-server`, as a hyper service.
async fn hyper_route(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let text = |status: StatusCode, body: Bytes| {
        let mut res = Response::new(Full::new(body));
        *res.status_mut() = status;
        let h = res.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(header::SERVER, HeaderValue::from_static("strait"));
        res
    };
    let path = req.uri().path();
    Ok(if req.method() == Method::GET && path == "/plaintext" {
        text(StatusCode::OK, Bytes::from_static(b"Hello, World!"))
    } else if req.method() == Method::POST && path == "/echo" {
        match Limited::new(req.into_body(), MAX_ECHO).collect().await {
            Ok(body) => text(StatusCode::OK, body.to_bytes()),
            Err(_) => text(
                StatusCode::PAYLOAD_TOO_LARGE,
                Bytes::from_static(b"too large"),
            ),
        }
    } else {
        text(StatusCode::NOT_FOUND, Bytes::from_static(b"Not Found"))
    })
}

async fn hyper_accept(listener: tokio::net::TcpListener) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.pipeline_flush(true).keep_alive(true);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        if stream.set_nodelay(true).is_err() {
            continue;
        }
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper::service::service_fn(hyper_route),
        );
        tokio::spawn(async move {
            let _ = conn.await;
        });
    }
}

/// A listener bound with `SO_REUSEPORT` (joining `addr`'s group, or on a new port).
fn reuseport_listener(addr: Option<SocketAddr>) -> io::Result<std::net::TcpListener> {
    use socket2::{Domain, Socket, Type};
    let addr = addr.unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let socket = Socket::new(Domain::IPV4, Type::STREAM, None)?;
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&addr.into())?;
    socket.listen(1024)?;
    Ok(socket.into())
}

/// One tokio runtime (`workers == 0`: current_thread) on its own thread serving hyper.
fn hyper_runtime(
    workers: usize,
    reuse_at: Option<SocketAddr>,
    place: &Arc<Placement>,
) -> io::Result<Running> {
    let std_listener = reuseport_listener(reuse_at)?;
    let addr = std_listener.local_addr()?;
    let rt = if workers == 0 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        let place = place.clone();
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(workers)
            .on_thread_start(move || place.pin())
            .enable_all()
            .build()?
    };
    // A current_thread runtime runs on the thread below; the multi_thread one's
    // block_on thread only waits for the stop.
    let place = (workers == 0).then(|| place.clone());
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let (ready_tx, ready_rx) = mpsc::channel();
    let thread = spawn_thread("hyper-server", move || {
        if let Some(place) = place {
            place.pin();
        }
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener);
            let ok = listener.is_ok();
            let _ = ready_tx.send(listener.map(|l| {
                tokio::spawn(hyper_accept(l));
            }));
            if ok {
                let _ = stop_rx.await;
            }
        });
        // Dropping the runtime drops every connection task.
        drop(rt);
    })?;
    ready_rx
        .recv()
        .map_err(|_| io::Error::other("the server thread died"))??;
    let stop = Box::new(move || {
        let _ = stop_tx.send(());
    });
    Ok(Running {
        addr,
        stops: vec![stop],
        threads: vec![thread],
    })
}

/// hyper on one tokio runtime: current_thread (`workers == 0`) or multi_thread.
pub fn hyper(workers: usize) -> io::Result<Running> {
    hyper_runtime(workers, None, &Arc::new(Placement::new()))
}

/// hyper on `n` current_thread runtimes, one per thread, each with its own
/// `SO_REUSEPORT` listener on one address.
pub fn hyper_per_core(n: usize) -> io::Result<Running> {
    let place = Arc::new(Placement::new());
    let mut running = hyper_runtime(0, None, &place)?;
    let addr = running.addr;
    for _ in 1..n {
        match hyper_runtime(0, Some(addr), &place) {
            Ok(more) => running.absorb(more),
            Err(e) => {
                running.stop();
                return Err(e);
            }
        }
    }
    Ok(running)
}
