//! BufReader and BufWriter: the same results under every split of the input, leftover
//! bytes kept for a hand-off, coalesced writes, flush and shutdown semantics.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use strait_streams::{
    block_on, duplex, io::MockStream, pull_from, read_exact, read_until, write_all, BufReader,
    BufWriter, BufferSource, BufferSourceExt, ReadSourceExt, ReadStreamExt, WriteSinkExt,
    WriteStream, WriteStreamExt,
};
use strait_vocab::testing::bufgrind;
use strait_vocab::{ConstBuffer, ConstBufferSequence, MutableBuffer, VecBuffer};

const MESSAGE: &[u8] = b"GET / HTTP/1.1\r\nHost: example\r\nX-Long: 0123456789\r\n\r\nbody";

/// Reads `\n`-terminated lines with pull/consume/fill_more, the way a parser does.
async fn lines<S: strait_streams::ReadStream + Unpin>(reader: &mut BufReader<S>) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut searched = 0;
    loop {
        let buffered = reader.buffer();
        if let Some(i) = buffered[searched..].iter().position(|&b| b == b'\n') {
            let end = searched + i + 1;
            out.push(buffered[..end].to_vec());
            Pin::new(&mut *reader).consume(end);
            searched = 0;
            continue;
        }
        searched = buffered.len();
        if reader.fill_more().await.unwrap() == 0 {
            out.push(reader.buffer().to_vec()); // the unterminated tail
            return out;
        }
    }
}

#[test]
fn a_parser_over_buf_reader_sees_the_same_lines_under_every_split() {
    let expected = block_on(lines(&mut BufReader::new(
        MockStream::builder().read(MESSAGE).build(),
    )));
    assert_eq!(expected.len(), 5);
    for (head, tail) in bufgrind(MESSAGE, 1) {
        let stream = two_reads(head.to_vec_flat(), tail.to_vec_flat());
        // A small buffer that grows: parsing must not depend on the chunking.
        let mut reader = BufReader::with_buffer(strait_vocab::OwnedBuffer::new(128), stream);
        assert_eq!(block_on(lines(&mut reader)), expected);
    }
}

/// A stream whose data arrives as two reads (an empty part is no read at all: the mock
/// reads an empty chunk as end of stream).
fn two_reads(head: Vec<u8>, tail: Vec<u8>) -> MockStream {
    let mut builder = MockStream::builder();
    for part in [head, tail] {
        if !part.is_empty() {
            builder = builder.read(part);
        }
    }
    builder.build()
}

/// Flattens a buffer sequence (test helper).
trait Flat {
    fn to_vec_flat(&self) -> Vec<u8>;
}

impl<S: ConstBufferSequence + ?Sized> Flat for S {
    fn to_vec_flat(&self) -> Vec<u8> {
        self.buffers().flat_map(|b| b.iter().copied()).collect()
    }
}

#[test]
fn complete_and_partial_reads_through_buf_reader_under_every_split() {
    for (head, tail) in bufgrind(MESSAGE, 3) {
        let stream = two_reads(head.to_vec_flat(), tail.to_vec_flat());
        let mut reader = BufReader::with_capacity(16, stream);
        let got = block_on(async {
            let mut first = [0u8; 5];
            // ReadSource: complete.
            assert_eq!(
                reader
                    .read_exact(&mut [MutableBuffer::new(&mut first)])
                    .await
                    .unwrap(),
                5
            );
            // ReadStream: partial, then a complete read of the rest via the free fn.
            let mut some = [0u8; 3];
            let n = reader.read(&mut some[..]).await.unwrap();
            let mut rest = vec![0u8; MESSAGE.len()];
            let m = read_exact(&mut reader, &mut rest[..]).await.unwrap();
            let mut all = first.to_vec();
            all.extend_from_slice(&some[..n]);
            all.extend_from_slice(&rest[..m]);
            all
        });
        assert_eq!(got, MESSAGE);
    }
}

#[test]
fn read_until_runs_over_a_buf_reader_and_into_parts_keeps_the_rest() {
    let (mut a, b) = duplex(1024);
    let mut reader = BufReader::new(b);
    block_on(async {
        write_all(&mut a, &b"101 Switching\r\n\r\n\x81\x05hello"[..])
            .await
            .unwrap();
        let n = reader.fill().await.unwrap();
        assert!(n > 0);
        let mut head = Vec::new();
        let end = read_until(&mut reader, VecBuffer::new(&mut head, 64), "\r\n\r\n")
            .await
            .unwrap();
        assert_eq!(&head[..end], b"101 Switching\r\n\r\n");
    });
    // A parser that consumes the head from `buffer()` hands the rest on intact.
    let mut reader = BufReader::new(MockStream::builder().read("HEAD\r\n\r\nframe").build());
    block_on(reader.fill()).unwrap();
    let at = reader
        .buffer()
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap()
        + 4;
    Pin::new(&mut reader).consume(at);
    let (_stream, leftover) = reader.into_parts();
    assert_eq!(leftover.as_slice(), b"frame");
}

#[test]
fn fill_more_reports_a_full_buffer_and_end_of_stream() {
    let mut reader = BufReader::with_buffer(
        strait_vocab::OwnedBuffer::new(4),
        MockStream::builder().read("abcdef").build(),
    );
    block_on(async {
        assert_eq!(reader.fill_more().await.unwrap(), 4);
        let err = reader.fill_more().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
        Pin::new(&mut reader).consume(4);
        assert_eq!(reader.fill_more().await.unwrap(), 2);
        Pin::new(&mut reader).consume(2);
        assert_eq!(reader.fill_more().await.unwrap(), 0, "end of stream");
    });
}

/// Counts the writes that reach it.
#[derive(Default)]
struct CountingWriter {
    bytes: Vec<u8>,
    writes: usize,
    flushes: usize,
    shut: bool,
}

impl WriteStream for CountingWriter {
    fn poll_write_some(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.shut {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        self.writes += 1;
        let before = self.bytes.len();
        for b in bufs {
            self.bytes.extend_from_slice(b.as_slice());
        }
        Poll::Ready(Ok(self.bytes.len() - before))
    }
    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.flushes += 1;
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.shut = true;
        Poll::Ready(Ok(()))
    }
}

#[test]
fn buf_writer_coalesces_small_writes_until_flush() {
    let mut writer = BufWriter::with_capacity(64, CountingWriter::default());
    block_on(async {
        for _ in 0..10 {
            writer.write("12345").await.unwrap();
        }
        assert_eq!(writer.get_ref().writes, 0, "all 50 bytes held");
        WriteStreamExt::flush(&mut writer).await.unwrap();
        assert_eq!(writer.get_ref().writes, 1);
        assert_eq!(
            writer.get_ref().flushes,
            1,
            "the stream below is flushed too"
        );
        // Filling past the capacity hands the buffer over first.
        for _ in 0..13 {
            writer.write("12345").await.unwrap();
        }
        assert_eq!(writer.get_ref().writes, 2);
        // As large as the buffer, with the buffer emptied: written through.
        WriteStreamExt::flush(&mut writer).await.unwrap();
        let big = [b'x'; 64];
        writer.write(&big[..]).await.unwrap();
        assert_eq!(writer.get_ref().writes, 4);
        assert!(writer.buffer().is_empty());
    });
    assert_eq!(writer.get_ref().bytes.len(), 50 + 65 + 64);
}

#[test]
fn buf_writer_shutdown_flushes_then_refuses_writes() {
    let (a, mut b) = duplex(1024);
    let mut writer = BufWriter::new(a);
    block_on(async {
        writer.write("last words").await.unwrap();
        writer.shutdown().await.unwrap();
        let err = writer.write("more").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        let mut got = Vec::new();
        let n = strait_streams::read_to_end(&mut b, VecBuffer::new(&mut got, 64))
            .await
            .unwrap();
        assert_eq!(&got[..n], b"last words");
    });
}

#[test]
fn buf_writer_as_a_sink_complete_writes_and_write_eof() {
    let mut writer = BufWriter::with_capacity(8, CountingWriter::default());
    block_on(async {
        // A complete write larger than the buffer.
        let parts = [
            ConstBuffer::from("hello "),
            ConstBuffer::from("buffered world"),
        ];
        assert_eq!(
            WriteSinkExt::write_all(&mut writer, &parts).await.unwrap(),
            20
        );
        WriteSinkExt::write_eof(&mut writer, &[ConstBuffer::from("!")])
            .await
            .unwrap();
        let err = WriteSinkExt::write_all(&mut writer, &[ConstBuffer::from("x")])
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
        // A repeated close is fine.
        WriteSinkExt::close(&mut writer).await.unwrap();
    });
    assert_eq!(writer.get_ref().bytes, b"hello buffered world!");
    assert!(writer.get_ref().shut);
}

#[test]
fn buf_writer_as_a_buffer_sink_receives_a_stream() {
    let source = MockStream::builder()
        .read("zero ")
        .read("copy ")
        .read("path")
        .build();
    let mut source = source;
    let mut writer = BufWriter::with_capacity(4, CountingWriter::default());
    let n = block_on(pull_from(&mut source, &mut writer)).unwrap();
    assert_eq!(n, 14);
    assert_eq!(writer.get_ref().bytes, b"zero copy path");
    assert!(writer.get_ref().shut, "pull_from ends the sink");
}

#[test]
fn a_write_eof_after_an_unfinished_one_refuses_its_bytes() {
    use std::future::Future;
    let (a, mut b) = duplex(4);
    let mut writer = BufWriter::with_capacity(16, a);
    {
        let bufs = [ConstBuffer::new(b"hello")];
        let mut first = std::pin::pin!(writer.write_eof(&bufs));
        // Buffers "hello", starts ending, hands 4 bytes to the pipe, then waits.
        let noop = &mut std::task::Context::from_waker(std::task::Waker::noop());
        assert!(first.as_mut().poll(noop).is_pending());
    } // dropped (canceled) while ending
    let world = [ConstBuffer::new(b"world")];
    // Too late for more bytes: the end already started.
    let second = block_on(writer.write_eof(&world));
    assert_eq!(second.unwrap_err().kind(), io::ErrorKind::BrokenPipe);
    // An empty end finishes the one that was interrupted.
    let ((), got) = block_on(strait_streams::when_all((
        async { writer.close().await.map(drop) },
        async {
            let mut got = Vec::new();
            strait_streams::read_to_end(&mut b, VecBuffer::new(&mut got, 64)).await?;
            io::Result::Ok(got)
        },
    )))
    .unwrap();
    assert_eq!(
        got, b"hello",
        "the end went through; the late bytes did not"
    );
}

#[test]
fn lowering_the_max_size_below_the_buffered_bytes_is_a_full_buffer() {
    let (mut a, b) = duplex(64);
    let mut reader = BufReader::with_capacity(32, b);
    block_on(async {
        write_all(&mut a, "0123456789abcdef").await.unwrap();
        reader.fill_more().await.unwrap();
        reader.buffer_mut().set_max_size(4);
        let err = reader.fill_more().await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
    });
    let mut owned = strait_vocab::OwnedBuffer::new(64);
    strait_vocab::DynamicBuffer::prepare(&mut owned, 64)
        .unwrap()
        .as_mut_slice()
        .fill(b'x');
    owned.set_max_size(16);
    strait_vocab::DynamicBuffer::commit(&mut owned, 64); // the prepared region ended
    assert!(owned.as_slice().is_empty());
}

#[test]
fn a_zero_capacity_reader_still_reads() {
    let (mut a, b) = duplex(64);
    let mut reader = BufReader::with_capacity(0, b);
    let got = block_on(async {
        write_all(&mut a, "hi").await.unwrap();
        let mut buf = [0u8; 8];
        let n = reader.read(&mut buf[..]).await.unwrap();
        reader.read(&mut buf[n..]).await.unwrap() + n
    });
    assert_eq!(got, 2);
}
