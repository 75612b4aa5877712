//! read, read_at_least, read_to_end, read_until, write_all, push_to, pull_from and the
//! copy paths of AnyBufferSource/AnyBufferSink — including every two-way split of the
//! input.

use std::io;

use strait_streams::{
    block_on, bytes_transferred, duplex, io::duplex_with_chunk, is_canceled, pull_from, push_to,
    push_to_sink, read_at_least, read_exact, read_to_end, read_until, with_stop_token, write_all,
    AnyBufferSink, AnyBufferSource, io::MockSink, io::MockSource, io::MockStream, ReadSourceExt, StopSource,
    WriteSinkExt, WriteStreamExt,
};
use strait_vocab::testing::bufgrind;
use strait_vocab::{
    ConstBuffer, ConstBufferSequence, DynamicBuffer, FlatBuffer, MutableBuffer, VecBuffer,
};

#[test]
fn read_fills_scattered_buffers_across_partial_reads() {
    let (mut a, mut b) = duplex_with_chunk(64, 3);
    block_on(async {
        write_all(&mut a, "0123456789").await.unwrap();
        let (mut x, mut y) = ([0u8; 4], [0u8; 5]);
        let n = read_exact(
            &mut b,
            [MutableBuffer::new(&mut x), MutableBuffer::new(&mut y)],
        )
        .await
        .unwrap();
        assert_eq!(n, 9);
        assert_eq!((&x, &y), (b"0123", b"45678"));
        a.shutdown().await.unwrap();
        let mut rest = [0u8; 8];
        assert_eq!(
            read_exact(&mut b, &mut rest[..]).await.unwrap(),
            1,
            "short at end of stream"
        );
    });
}

#[test]
fn read_at_least_stops_once_enough_arrived() {
    let mut mock = MockStream::builder()
        .read("ab")
        .read("cd")
        .read("ef")
        .build();
    let mut buf = [0u8; 6];
    let n = block_on(read_at_least(&mut mock, &mut buf[..], 3)).unwrap();
    assert_eq!(n, 4);
    assert!(!mock.is_done());
}

#[test]
fn an_error_after_some_bytes_reports_the_count_and_keeps_its_kind() {
    let mut mock = MockStream::builder()
        .read("abc")
        .read_error(io::ErrorKind::ConnectionReset)
        .build();
    let mut buf = [0u8; 8];
    let err = block_on(read_exact(&mut mock, &mut buf[..])).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(bytes_transferred(&err), 3);
    assert_eq!(&buf[..3], b"abc");

    let mut mock = MockStream::builder()
        .write("12")
        .write_error(io::ErrorKind::BrokenPipe)
        .build();
    let err = block_on(write_all(&mut mock, "1234")).unwrap_err();
    assert_eq!(
        (err.kind(), bytes_transferred(&err)),
        (io::ErrorKind::BrokenPipe, 2)
    );
}

#[test]
fn a_canceled_composed_read_is_still_recognized_as_canceled() {
    let (mut a, mut b) = duplex(64);
    block_on(write_all(&mut a, "ab")).unwrap();
    let source = StopSource::new();
    let err = block_on(with_stop_token(source.token(), async {
        // Take what is there, then stop before the rest arrives.
        let mut buf = [0u8; 4];
        let mut cursor = &mut buf[..];
        let first = strait_streams::ReadStreamExt::read(&mut b, &mut cursor).await?;
        source.request_stop();
        read_exact(&mut b, &mut buf[first..]).await
    }))
    .unwrap_err();
    assert!(is_canceled(&err));
}

#[test]
fn read_to_end_grows_a_dynamic_buffer_and_honours_its_max_size() {
    let (mut a, mut b) = duplex_with_chunk(1 << 16, 1000);
    let payload: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let mut out = Vec::new();
    block_on(async {
        write_all(&mut a, &payload[..]).await.unwrap();
        a.shutdown().await.unwrap();
        let n = read_to_end(&mut b, VecBuffer::unbounded(&mut out))
            .await
            .unwrap();
        assert_eq!(n, 10_000);
    });
    assert_eq!(out, payload);

    let (mut a, mut b) = duplex(1 << 16);
    let mut out = Vec::new();
    let err = block_on(async {
        write_all(&mut a, &payload[..]).await.unwrap();
        a.shutdown().await.unwrap();
        read_to_end(&mut b, VecBuffer::new(&mut out, 4096)).await
    })
    .unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
    assert_eq!(bytes_transferred(&err), 4096);
    assert_eq!(out, payload[..4096], "what was read stays in the buffer");
}

/// Feeds `input` to a `read_until` as two writes split at every offset and checks the
/// line and what stays buffered.
fn check_every_split(input: &str, delim: &str, line_len: usize) {
    for (head, tail) in bufgrind(input, 1) {
        let (mut a, mut b) = duplex(1024);
        let mut storage = Vec::new();
        let head: Vec<u8> = head.buffers().flatten().copied().collect();
        let tail: Vec<u8> = tail.buffers().flatten().copied().collect();
        block_on(async {
            let reader = async {
                let mut buf = VecBuffer::new(&mut storage, 4096);
                let n = read_until(&mut b, &mut buf, delim).await?;
                Ok::<_, io::Error>((n, buf.size()))
            };
            let writer = async {
                write_all(&mut a, &head[..]).await?;
                strait_streams::yield_now().await;
                write_all(&mut a, &tail[..]).await?;
                a.shutdown().await?;
                Ok::<_, io::Error>(0usize)
            };
            let ((n, _), _) = strait_streams::when_all((reader, writer)).await.unwrap();
            assert_eq!(n, line_len, "split at {}", head.len());
        });
        assert_eq!(&storage[..line_len], &input.as_bytes()[..line_len]);
    }
}

#[test]
fn read_until_finds_a_delimiter_split_at_every_offset() {
    check_every_split("GET / HTTP/1.1\r\nHost: x\r\n", "\r\n", 16);
    check_every_split("aaab|rest", "aab", 4);
}

#[test]
fn read_until_uses_buffered_data_first_and_keeps_the_rest() {
    let mut mock = MockStream::builder().read("one\ntwo\nthr").build();
    let mut storage = Vec::new();
    block_on(async {
        let mut buf = VecBuffer::new(&mut storage, 64);
        assert_eq!(read_until(&mut mock, &mut buf, b'\n').await.unwrap(), 4);
        buf.consume(4);
        // "two\n" is already buffered: no I/O needed.
        assert_eq!(read_until(&mut mock, &mut buf, b'\n').await.unwrap(), 4);
        buf.consume(4);
        let err = read_until(&mut mock, &mut buf, b'\n').await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert_eq!(buf.size(), 3, "the partial line stays");
    });
}

#[test]
fn read_until_reports_a_full_buffer_without_a_match() {
    let mut mock = MockStream::builder().read("no newline here").build();
    let mut storage = [0u8; 8];
    let err = block_on(read_until(&mut mock, FlatBuffer::new(&mut storage), b'\n')).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::OutOfMemory);
}

#[test]
fn write_all_survives_one_byte_writes() {
    let (mut a, mut b) = duplex_with_chunk(64, 1);
    let parts = [ConstBuffer::from("split "), ConstBuffer::from("writes")];
    block_on(async {
        assert_eq!(write_all(&mut a, &parts[..]).await.unwrap(), 12);
        let mut out = [0u8; 12];
        assert_eq!(read_exact(&mut b, &mut out[..]).await.unwrap(), 12);
        assert_eq!(&out, b"split writes");
    });
}

#[test]
fn push_to_moves_a_buffer_source_into_a_stream_and_a_sink() {
    let payload: Vec<u8> = (0..5000u32).map(|i| (i * 7) as u8).collect();
    let mut source = MockSource::new(payload.clone(), 333);
    let mut sink = MockSink::new(100);
    assert_eq!(block_on(push_to(&mut source, &mut sink)).unwrap(), 5000);
    assert_eq!(sink.data(), &payload[..]);
    assert!(!sink.eof_called(), "push_to leaves the stream open");

    source.rewind();
    let mut sink = MockSink::new(100);
    assert_eq!(
        block_on(push_to_sink(&mut source, &mut sink)).unwrap(),
        5000
    );
    assert!(sink.eof_called());
}

#[test]
fn pull_from_reads_a_stream_into_a_buffer_sink_and_ends_it() {
    let payload: Vec<u8> = (0..3000u32).map(|i| (i * 3) as u8).collect();
    let mut source = MockSource::new(payload.clone(), 256);
    let mut sink = MockSink::new(700);
    assert_eq!(block_on(pull_from(&mut source, &mut sink)).unwrap(), 3000);
    assert_eq!(sink.data(), &payload[..]);
    assert!(sink.eof_called());
}

#[test]
fn any_buffer_source_reads_with_one_copy_or_directly() {
    let payload = b"erased source bytes".to_vec();
    for mut erased in [
        AnyBufferSource::new(MockSource::new(payload.clone(), 4)),
        AnyBufferSource::with_read_source(MockSource::new(payload.clone(), 4)),
    ] {
        let mut out = [0u8; 32];
        let mut bufs = [MutableBuffer::new(&mut out)];
        let n = block_on(erased.read_exact(&mut bufs)).unwrap();
        assert_eq!(&out[..n], &payload[..]);
    }
}

#[test]
fn any_buffer_sink_writes_with_one_copy_or_directly() {
    for direct in [false, true] {
        let mut erased = if direct {
            AnyBufferSink::with_write_sink(MockSink::new(3))
        } else {
            AnyBufferSink::new(MockSink::new(3))
        };
        let parts = [ConstBuffer::from("into "), ConstBuffer::from("the sink")];
        assert_eq!(block_on(erased.write_eof(&parts)).unwrap(), 13);
        let err = block_on(erased.write_all(&[ConstBuffer::from("x")])).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe, "direct = {direct}");
    }
}

#[test]
fn read_to_end_is_the_same_for_every_split_of_the_input() {
    let input = "a body that arrives in two pieces";
    for (head, tail) in bufgrind(input, 1) {
        let (mut a, mut b) = duplex(1024);
        let head: Vec<u8> = head.buffers().flatten().copied().collect();
        let tail: Vec<u8> = tail.buffers().flatten().copied().collect();
        let mut out = Vec::new();
        block_on(async {
            let reader = read_to_end(&mut b, VecBuffer::new(&mut out, 64));
            let writer = async {
                write_all(&mut a, &head[..]).await?;
                strait_streams::yield_now().await;
                write_all(&mut a, &tail[..]).await?;
                a.shutdown().await?;
                Ok::<_, io::Error>(0usize)
            };
            let (n, _) = strait_streams::when_all((reader, writer)).await.unwrap();
            assert_eq!(n, input.len());
        });
        assert_eq!(out, input.as_bytes());
    }
}

#[test]
fn a_mock_sink_matches_output_piece_by_piece() {
    let mut sink = MockSink::new(8);
    block_on(write_all(&mut sink, "HTTP/1.1 200 OK\r\n\r\n")).unwrap();
    sink.expect("HTTP/1.1 200").unwrap();
    assert!(sink
        .expect("404")
        .unwrap_err()
        .contains("expected it to start with"));
    sink.expect(" OK\r\n\r\n").unwrap();
    assert!(sink.data().is_empty());
}

#[test]
fn borrowed_buffer_wrappers_leave_the_inner_value_with_the_caller() {
    let mut sink = MockSink::new(16);
    {
        let mut erased = AnyBufferSink::borrowed(&mut sink);
        block_on(erased.write_all(&[ConstBuffer::from("borrowed")])).unwrap();
    }
    assert_eq!(sink.data(), b"borrowed");
    let mut source = MockSource::new("pulled", 2);
    {
        let mut erased = AnyBufferSource::borrowed(&mut source);
        let mut out = [0u8; 3];
        let mut bufs = [MutableBuffer::new(&mut out)];
        assert_eq!(block_on(erased.read_exact(&mut bufs)).unwrap(), 3);
    }
    assert_eq!(source.available(), 3);
}

/// A source that delivers `good` bytes, then fails.
struct FailsAfter {
    good: usize,
}

impl strait_streams::ReadSource for FailsAfter {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        bufs: &mut strait_streams::io::ReadBufs<'_, '_>,
    ) -> std::task::Poll<io::Result<()>> {
        let n = self.good.min(bufs.remaining());
        let filled = strait_vocab::buffer_copy(bufs.window_mut().as_mut_slice(), &[5u8; 64][..], n);
        bufs.consume(filled);
        self.good -= filled;
        std::task::Poll::Ready(Err(io::ErrorKind::ConnectionReset.into()))
    }
}

#[test]
fn a_complete_read_that_fails_reports_what_it_delivered() {
    let mut source = FailsAfter { good: 5 };
    let mut buf = [0u8; 16];
    let err = block_on(source.read_exact(&mut [MutableBuffer::new(&mut buf[..])])).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::ConnectionReset);
    assert_eq!(bytes_transferred(&err), 5);
    assert_eq!(&buf[..5], &[5u8; 5]);
}

/// A long line arriving a byte per read: each search must resume where the last one
/// stopped (linear in the line), for a byte and for a multi-byte delimiter. A matcher
/// that walked the searched bytes again on every read would do ~n²/2 = 2·10¹⁰ steps
/// here and miss the deadline by orders of magnitude.
#[test]
fn read_until_resumes_its_search_on_a_long_line_fed_byte_by_byte() {
    const LEN: usize = 200_000;
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = vec![b'a'; LEN];
        line.extend_from_slice(b"\r\n");
        let found = block_on(async {
            let (mut a, mut b) = duplex_with_chunk(LEN * 2 + 8, 1);
            write_all(&mut a, &line[..]).await.unwrap();
            write_all(&mut a, &line[..]).await.unwrap();
            let mut storage = Vec::new();
            let mut buf = VecBuffer::new(&mut storage, LEN * 2 + 8);
            let first = read_until(&mut b, &mut buf, b'\n').await.unwrap();
            buf.consume(first);
            let second = read_until(&mut b, &mut buf, "\r\n").await.unwrap();
            (first, second)
        });
        let _ = tx.send(found);
    });
    let found = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .expect("read_until rescans from the start: quadratic");
    assert_eq!(found, (LEN + 2, LEN + 2));
}

#[test]
fn matchers_find_delimiters_split_across_regions_after_a_resume() {
    use strait_streams::Matcher;
    let regions: [&[u8]; 4] = [b"xx\r", b"", b"\nyy", b"zz\n"];
    // Searched through "xx\r": the CRLF straddles regions 0 and 2.
    assert_eq!((&b"\r\n"[..]).find(&regions[..], 3), Some(4));
    assert_eq!(b'\n'.find(&regions[..], 3), Some(4));
    // Searched past the first newline: the next one.
    assert_eq!(b'\n'.find(&regions[..], 4), Some(9));
    assert_eq!(Matcher::find(&mut "zz\n", &regions[..], 5), Some(9));
    assert_eq!(b'q'.find(&regions[..], 0), None);
    // Overlapping prefix: "aab" in "aaab".
    assert_eq!((&b"aab"[..]).find(&[&b"aa"[..], b"ab"][..], 0), Some(4));
}
