//! futures-io both ways, and bytes.

use futures_lite::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use strait_streams::{
    block_on, duplex, push_to, read_to_end, write_all, FromFuturesIo, FuturesIo, io::MockSink,
    io::MockSource, WriteStreamExt,
};
use strait_vocab::VecBuffer;

#[test]
fn a_strait_stream_serves_futures_io_code() {
    let (a, b) = duplex(1024);
    let (mut a, mut b) = (FuturesIo::new(a), FuturesIo::new(b));
    block_on(async {
        a.write_all(b"through futures-io").await.unwrap();
        a.close().await.unwrap();
        let mut out = Vec::new();
        b.read_to_end(&mut out).await.unwrap();
        assert_eq!(out, b"through futures-io");
    });
}

#[test]
fn a_buffer_source_serves_async_buf_read() {
    let mut lines = FuturesIo::new(MockSource::new("first\nsecond\n", 4));
    block_on(async {
        let mut line = String::new();
        lines.read_line(&mut line).await.unwrap();
        assert_eq!(line, "first\n");
        line.clear();
        lines.read_line(&mut line).await.unwrap();
        assert_eq!(line, "second\n");
    });
}

#[test]
fn futures_io_objects_serve_strait_protocol_code() {
    let mut reader = FromFuturesIo::new(futures_lite::io::Cursor::new(b"from a cursor".to_vec()));
    let mut out = Vec::new();
    let n = block_on(read_to_end(&mut reader, VecBuffer::unbounded(&mut out))).unwrap();
    assert_eq!((n, &out[..]), (13, &b"from a cursor"[..]));

    let mut writer = FromFuturesIo::new(futures_lite::io::Cursor::new(Vec::new()));
    block_on(async {
        write_all(&mut writer, ["vectored ", "write"])
            .await
            .unwrap();
        writer.shutdown().await.unwrap();
    });
    assert_eq!(writer.into_inner().into_inner(), b"vectored write");
}

#[test]
fn an_async_buf_read_is_a_buffer_source() {
    let inner = futures_lite::io::BufReader::with_capacity(
        5,
        futures_lite::io::Cursor::new(b"pulled through a BufReader".to_vec()),
    );
    let mut source = FromFuturesIo::new(inner);
    let mut sink = MockSink::new(64);
    assert_eq!(block_on(push_to(&mut source, &mut sink)).unwrap(), 26);
    assert_eq!(sink.data(), b"pulled through a BufReader");
}

#[cfg(feature = "bytes")]
#[test]
fn bytes_mut_is_a_dynamic_buffer_for_composed_reads() {
    let (mut a, mut b) = duplex(1024);
    let mut bytes = bytes::BytesMut::new();
    block_on(async {
        write_all(&mut a, bytes::Bytes::from_static(b"into BytesMut"))
            .await
            .unwrap();
        a.shutdown().await.unwrap();
        read_to_end(&mut b, strait_vocab::BytesMutBuffer::new(&mut bytes, 1024))
            .await
            .unwrap();
    });
    assert_eq!(&bytes[..], b"into BytesMut");
}
