//! The one-slice operations (`poll_read_slice`/`poll_write_slice`) of the async-std
//! streams: one-region `read`/`write`, as protocol code issues them through an
//! `AnyStream` or directly, give byte for byte what the sequence path gives (data,
//! empty buffers, end of stream, a stopped environment, writes after shutdown).

use std::future::Future;
use std::io;
use std::sync::OnceLock;

use strait_async_std::{AsyncStdExecutor, TcpListener, TcpStream, UnixStream};
use strait_conformance::{assert_outcome, slice_parity, TransportFactory};

fn executor() -> &'static AsyncStdExecutor {
    static EXECUTOR: OnceLock<AsyncStdExecutor> = OnceLock::new();
    EXECUTOR.get_or_init(AsyncStdExecutor::new)
}

struct Tcp;

impl TransportFactory for Tcp {
    type Client = TcpStream;
    type Server = TcpStream;
    async fn pair(&self) -> io::Result<(TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let (client, (server, _)) = strait_streams::when_all((
            TcpStream::connect(listener.local_addr()?),
            listener.accept(),
        ))
        .await?;
        client.set_nodelay(true)?;
        server.set_nodelay(true)?;
        Ok((client, server))
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        executor().block_on(f)
    }
}

struct Unix;

impl TransportFactory for Unix {
    type Client = UnixStream;
    type Server = UnixStream;
    async fn pair(&self) -> io::Result<(UnixStream, UnixStream)> {
        UnixStream::pair()
    }
    fn block_on<F: Future>(&self, f: F) -> F::Output {
        executor().block_on(f)
    }
}

#[test]
fn tcp_slice_parity() {
    assert_outcome("slice_parity", slice_parity::run(&Tcp));
}

#[test]
fn unix_slice_parity() {
    assert_outcome("slice_parity", slice_parity::run(&Unix));
}
