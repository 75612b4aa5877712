//! Composition: transport → decompression → HTTP parser. The client's whole byte
//! stream is zlib-compressed; a decompressing `ReadStream` layered over the transport
//! feeds `serve_connection`, which neither knows nor cares. (The papers' "socket → TLS
//! → decompression → HTTP parser" pipeline, TLS left out: a `TlsStream` would sit
//! between the transport and `Inflate`.)
//!
//! ```text
//! cargo run -p strait-http1 --example decompression_pipeline
//! ```
//! prints the answers; `cargo test` runs it as a test too.

use std::io::{self, Write};
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use flate2::{Decompress, FlushDecompress, Status};
use http::{HeaderMap, StatusCode};
use strait_http1::io::{serve_connection, Exchange};
use strait_streams::vocab::{ConstBuffer, MutableBuffer};
use strait_streams::{
    block_on, duplex, when_all, write_all, DuplexStream, ReadStream, ReadStreamExt, WriteStream,
    WriteStreamExt,
};

/// Inflates what it reads from `inner`; writes pass through untouched.
struct Inflate<S> {
    inner: S,
    z: Decompress,
    input: Box<[u8; 4096]>,
    start: usize,
    end: usize,
    done: bool,
}

impl<S> Inflate<S> {
    fn new(inner: S) -> Self {
        Self {
            inner,
            z: Decompress::new(true),
            input: Box::new([0; 4096]),
            start: 0,
            end: 0,
            done: false,
        }
    }
}

impl<S: ReadStream + Unpin> ReadStream for Inflate<S> {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let Some(out) = bufs.iter_mut().find(|b| !b.is_empty()) else {
            return Poll::Ready(Ok(0));
        };
        loop {
            if this.done {
                return Poll::Ready(Ok(0));
            }
            if this.start < this.end {
                let (before_in, before_out) = (this.z.total_in(), this.z.total_out());
                let status = this
                    .z
                    .decompress(
                        &this.input[this.start..this.end],
                        &mut out[..],
                        FlushDecompress::None,
                    )
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
                this.start += (this.z.total_in() - before_in) as usize;
                let produced = (this.z.total_out() - before_out) as usize;
                this.done = status == Status::StreamEnd;
                if produced > 0 {
                    return Poll::Ready(Ok(produced));
                }
                if this.start < this.end && !this.done {
                    continue;
                }
            }
            let n = ready!(Pin::new(&mut this.inner)
                .poll_read_some(cx, &mut [MutableBuffer::from(&mut this.input[..])]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::UnexpectedEof.into()));
            }
            this.start = 0;
            this.end = n;
        }
    }
}

impl<S: WriteStream + Unpin> WriteStream for Inflate<S> {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_some(cx, bufs)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

fn main() {
    let answers = http_over_a_decompressed_byte_stream();
    print!("{answers}");
}

/// 20 pipelined POSTs and a GET, zlib-compressed as one byte stream, sent in 7-byte
/// pieces so heads and bodies straddle decompression boundaries; returns the answers.
fn http_over_a_decompressed_byte_stream() -> String {
    let mut plain = Vec::new();
    for i in 0..20 {
        plain.extend_from_slice(
            format!("POST /echo HTTP/1.1\r\nHost: a\r\nContent-Length: 6\r\n\r\nmsg{i:03}")
                .as_bytes(),
        );
    }
    plain.extend_from_slice(b"GET /last HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n");
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&plain).unwrap();
    let compressed = z.finish().unwrap();
    assert!(
        compressed.len() < plain.len() / 3,
        "the stream really is compressed"
    );

    let (server_end, mut client_end) = duplex(1024);
    let server = serve_connection(
        Inflate::new(server_end),
        async |ex: &mut Exchange<'_, Inflate<DuplexStream>>| {
            let mut body = Vec::new();
            ex.read_body_to_end(&mut body, 1024).await?;
            if body.is_empty() {
                body = ex.request().path().as_bytes().to_vec();
            }
            ex.respond(StatusCode::OK, &HeaderMap::new(), &body).await
        },
    );
    let client = async move {
        // Sent in small pieces, so heads and bodies straddle decompression boundaries.
        for piece in compressed.chunks(7) {
            write_all(&mut client_end, piece).await?;
        }
        let mut all = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = client_end.read(&mut buf[..]).await?;
            if n == 0 {
                break;
            }
            all.extend_from_slice(&buf[..n]);
        }
        client_end.shutdown().await?;
        io::Result::Ok(all)
    };
    let (_, answers) = block_on(when_all((server, client))).unwrap();
    String::from_utf8(answers).unwrap()
}

#[test]
fn every_request_of_the_compressed_stream_is_answered() {
    let text = http_over_a_decompressed_byte_stream();
    assert_eq!(text.matches("HTTP/1.1 200 OK").count(), 21);
    for i in 0..20 {
        assert!(text.contains(&format!("\r\n\r\nmsg{i:03}")));
    }
    assert!(text.ends_with("/last"));
}
