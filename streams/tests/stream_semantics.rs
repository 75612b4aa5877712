//! One test per stream rule, on the duplex pair and the mocks.

use std::future::Future;
use std::io;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use strait_streams::{
    block_on, duplex, io::duplex_with_chunk, is_canceled, with_stop_token, io::MockSink, io::MockSource,
    io::MockStream, ReadSourceExt, ReadStreamExt, RunLoop, StopSource, WriteSinkExt, WriteStreamExt,
};
use strait_vocab::{ConstBuffer, MutableBuffer};

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[test]
fn empty_buffers_complete_at_once_with_zero() {
    let (mut a, mut b) = duplex(16);
    // Nothing was written: a non-empty read would wait, an empty one does not.
    assert_eq!(block_on(b.read(&mut [0u8; 0][..])).unwrap(), 0);
    assert_eq!(block_on(a.write(&[0u8; 0][..])).unwrap(), 0);
    let mut nothing: [MutableBuffer<'_>; 0] = [];
    assert_eq!(block_on(b.read(&mut nothing[..])).unwrap(), 0);
}

#[test]
fn a_read_on_an_empty_end_waits_until_the_peer_writes() {
    let (mut a, mut b) = duplex(16);
    let mut buf = [0u8; 4];
    {
        let mut read = pin!(b.read(&mut buf[..]));
        assert!(poll_once(read.as_mut()).is_pending());
    }
    block_on(a.write("hi")).unwrap();
    assert_eq!(block_on(b.read(&mut buf[..])).unwrap(), 2);
    assert_eq!(&buf[..2], b"hi");
}

#[test]
fn shutdown_delivers_end_of_stream_after_buffered_data_and_allows_the_reverse_direction() {
    let (mut a, mut b) = duplex(16);
    block_on(async {
        a.write("data").await.unwrap();
        a.shutdown().await.unwrap();
        let mut buf = [0u8; 8];
        assert_eq!(b.read(&mut buf[..]).await.unwrap(), 4);
        assert_eq!(b.read(&mut buf[..]).await.unwrap(), 0, "end of stream");
        assert_eq!(b.read(&mut buf[..]).await.unwrap(), 0, "stays at end");
        // Half-close: b can still write to a.
        b.write("back").await.unwrap();
        assert_eq!(a.read(&mut buf[..]).await.unwrap(), 4);
        let err = a.write("more").await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
}

#[test]
fn a_dropped_peer_means_end_of_stream_for_reads_and_broken_pipe_for_writes() {
    let (mut a, b) = duplex(16);
    drop(b);
    block_on(async {
        assert_eq!(a.read(&mut [0u8; 4][..]).await.unwrap(), 0);
        assert_eq!(
            a.write("x").await.unwrap_err().kind(),
            io::ErrorKind::BrokenPipe
        );
    });
}

#[test]
fn chunk_limits_make_transfers_partial_and_vectored_buffers_fill_in_order() {
    let (mut a, mut b) = duplex_with_chunk(64, 3);
    block_on(async {
        assert_eq!(a.write("abcdefgh").await.unwrap(), 3);
        assert_eq!(a.write("defgh").await.unwrap(), 3);
        let (mut x, mut y) = ([0u8; 1], [0u8; 4]);
        let mut bufs = [MutableBuffer::new(&mut x), MutableBuffer::new(&mut y)];
        assert_eq!(b.read(&mut bufs[..]).await.unwrap(), 3);
        assert_eq!((x, &y[..2]), (*b"a", &b"bc"[..]));
        let parts = [
            ConstBuffer::from("12"),
            ConstBuffer::EMPTY,
            ConstBuffer::from("3"),
        ];
        let (mut c, mut d) = duplex(64);
        assert_eq!(c.write(&parts[..]).await.unwrap(), 3);
        let mut out = [0u8; 3];
        d.read(&mut out[..]).await.unwrap();
        assert_eq!(&out, b"123");
    });
}

#[test]
fn a_full_pipe_makes_the_writer_wait_until_the_reader_drains_it() {
    let (mut a, mut b) = duplex(4);
    block_on(async {
        assert_eq!(a.write("abcdef").await.unwrap(), 4);
    });
    {
        let mut w = pin!(a.write("g"));
        assert!(poll_once(w.as_mut()).is_pending());
    }
    let mut buf = [0u8; 2];
    block_on(b.read(&mut buf[..])).unwrap();
    assert_eq!(block_on(a.write("g")).unwrap(), 1);
}

#[test]
fn a_pending_read_completes_promptly_as_canceled_when_stop_is_requested() {
    let rl = RunLoop::new();
    let (_a, mut b) = duplex(16);
    let source = StopSource::new();
    let reader = rl.spawn(with_stop_token(source.token(), async move {
        let mut buf = [0u8; 4];
        b.read(&mut buf[..]).await
    }));
    rl.poll();
    assert!(!reader.is_finished());
    source.request_stop();
    rl.run();
    assert!(is_canceled(&rl.block_on(reader).unwrap().unwrap_err()));
}

#[test]
fn an_already_stopped_token_does_no_io() {
    let (mut a, mut b) = duplex(16);
    block_on(a.write("keep")).unwrap();
    let source = StopSource::new();
    source.request_stop();
    let err = block_on(with_stop_token(source.token(), async {
        b.read(&mut [0u8; 8][..]).await
    }))
    .unwrap_err();
    assert!(is_canceled(&err));
    assert_eq!(b.available(), 4, "the canceled read consumed nothing");
    let werr = block_on(with_stop_token(source.token(), a.write("lost"))).unwrap_err();
    assert!(is_canceled(&werr));
    assert_eq!(b.available(), 4, "the canceled write wrote nothing");
}

#[test]
fn dropping_a_pending_read_loses_no_byte() {
    let (mut a, mut b) = duplex(16);
    let mut buf = [0u8; 4];
    {
        let mut read = pin!(b.read(&mut buf[..]));
        assert!(poll_once(read.as_mut()).is_pending());
    } // dropped while pending
    block_on(a.write("abcd")).unwrap();
    assert_eq!(block_on(b.read(&mut buf[..])).unwrap(), 4);
    assert_eq!(&buf, b"abcd");
}

#[test]
fn a_stop_while_a_task_waits_on_a_read_does_not_disturb_later_reads() {
    let rl = RunLoop::new();
    let (mut a, mut b) = duplex(16);
    let source = StopSource::new();
    let canceled = rl.block_on(with_stop_token(source.token(), async {
        let stopper = async {
            strait_streams::delay(Duration::from_millis(5)).await.ok();
            source.request_stop();
            Ok::<_, io::Error>(0)
        };
        strait_streams::when_all((b.read(&mut [0u8; 4][..]), stopper)).await
    }));
    assert!(is_canceled(&canceled.unwrap_err()));
    block_on(a.write("ok")).unwrap();
    assert_eq!(block_on(b.read(&mut [0u8; 4][..])).unwrap(), 2);
}

#[test]
fn the_scripted_mock_plays_reads_writes_and_errors_in_order() {
    let mut mock = MockStream::builder()
        .read("hello")
        .pending()
        .write("ok")
        .read_error(io::ErrorKind::ConnectionReset)
        .max_chunk(2)
        .build();
    block_on(async {
        let mut buf = [0u8; 8];
        assert_eq!(mock.read(&mut buf[..]).await.unwrap(), 2);
        assert_eq!(mock.read(&mut buf[..]).await.unwrap(), 2);
        assert_eq!(mock.read(&mut buf[..]).await.unwrap(), 1);
        assert_eq!(mock.write("ok").await.unwrap(), 2);
        assert_eq!(
            mock.read(&mut buf[..]).await.unwrap_err().kind(),
            io::ErrorKind::ConnectionReset
        );
        assert_eq!(
            mock.read(&mut buf[..]).await.unwrap(),
            0,
            "script done: end of stream"
        );
    });
    assert!(mock.is_done());
}

#[test]
fn the_scripted_mock_rejects_an_unexpected_write() {
    let mut mock = MockStream::builder().write("expected").build();
    let err = block_on(mock.write("wrong")).unwrap_err();
    assert_eq!(err.kind(), io::ErrorKind::InvalidData);
    assert!(err.to_string().contains("expected"));
}

#[test]
fn a_complete_read_fills_everything_or_stops_at_end_of_source() {
    let mut source = MockSource::new("abcdefghij", 3);
    block_on(async {
        let mut a = [0u8; 4];
        let mut bufs = [MutableBuffer::new(&mut a)];
        assert_eq!(
            source.read_exact(&mut bufs).await.unwrap(),
            4,
            "ignores the chunk limit"
        );
        let mut rest = [0u8; 10];
        let mut bufs = [MutableBuffer::new(&mut rest)];
        assert_eq!(
            source.read_exact(&mut bufs).await.unwrap(),
            6,
            "short only at end"
        );
    });
}

#[test]
fn write_eof_writes_then_ends_and_later_writes_fail() {
    let mut sink = MockSink::new(4);
    block_on(async {
        let parts = [ConstBuffer::from("last "), ConstBuffer::from("words")];
        assert_eq!(sink.write_eof(&parts).await.unwrap(), 10);
        assert!(sink.eof_called());
        let err = sink.write_all(&[ConstBuffer::from("x")]).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    });
    assert_eq!(sink.data(), b"last words");
}

#[test]
fn a_task_launched_with_a_stop_token_is_woken_when_it_stops() {
    let rl = RunLoop::new();
    let (_a, mut b) = duplex(16);
    let source = StopSource::new();
    let reader = strait_streams::run_async(rl.executor())
        .stop_token(source.token())
        .spawn(async move { b.read(&mut [0u8; 4][..]).await });
    rl.poll();
    assert!(!reader.is_finished());
    source.request_stop(); // nothing else would ever wake the reader
    rl.run();
    assert!(is_canceled(&rl.block_on(reader).unwrap().unwrap_err()));
}

#[test]
fn block_on_with_a_stoppable_environment_is_woken_when_it_stops() {
    let (_a, mut b) = duplex(16);
    let source = StopSource::new();
    let env = strait_streams::IoEnv::default_env()
        .clone()
        .with_stop_token(source.token());
    let stopper = {
        let source = source.clone();
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(20));
            source.request_stop();
        })
    };
    let err = strait_streams::block_on_with(b.read(&mut [0u8; 4][..]), &env).unwrap_err();
    assert!(is_canceled(&err));
    stopper.join().unwrap();
}
