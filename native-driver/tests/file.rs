//! Files on the blocking pool: random access with owned buffers, and files as streams.

use std::fs::OpenOptions;
use std::path::PathBuf;

use strait_native::{IoContext, RandomAccessFile, StreamFile};
use strait_streams::{read_exact, read_to_end, write_all, WriteStreamExt};
use strait_vocab::VecBuffer;

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("strait-file-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

fn rw_create() -> OpenOptions {
    let mut o = OpenOptions::new();
    o.read(true).write(true).create(true).truncate(true);
    o
}

#[test]
fn random_access_reads_and_writes_at_offsets() {
    let ctx = IoContext::new().unwrap();
    let path = temp("random");
    ctx.block_on(async {
        let f = RandomAccessFile::open(&path, rw_create()).await.unwrap();
        let (r, _) = f.write_all_at(b"hello world".to_vec(), 0).await;
        r.unwrap();
        let (r, _) = f.write_all_at(b"WORLD".to_vec(), 6).await;
        r.unwrap();
        assert_eq!(f.size().await.unwrap(), 11);
        let (n, buf) = f.read_at(vec![0; 32], 0).await;
        assert_eq!(&buf[..n.unwrap()], b"hello WORLD");
        let (n, _) = f.read_at(vec![0; 8], 100).await;
        assert_eq!(n.unwrap(), 0, "end of file");
        f.set_len(5).await.unwrap();
        f.sync_all().await.unwrap();
        assert_eq!(f.size().await.unwrap(), 5);
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn opening_a_missing_file_is_not_found() {
    let ctx = IoContext::new().unwrap();
    let err = ctx
        .block_on(RandomAccessFile::open(
            temp("missing"),
            OpenOptions::new().read(true).clone(),
        ))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
}

#[test]
fn a_file_is_a_stream_for_composed_operations() {
    let ctx = IoContext::new().unwrap();
    let path = temp("stream");
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i * 31) as u8).collect();
    ctx.block_on(async {
        let mut f = StreamFile::open(&path, rw_create()).await.unwrap();
        write_all(&mut f, &payload[..]).await.unwrap();
        f.shutdown().await.unwrap();
        f.sync_all().await.unwrap();
        let mut r = StreamFile::open(&path, OpenOptions::new().read(true).clone())
            .await
            .unwrap();
        let mut out = Vec::new();
        read_to_end(&mut r, VecBuffer::unbounded(&mut out))
            .await
            .unwrap();
        assert_eq!(out, payload);
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_write_after_a_partial_read_lands_at_the_logical_cursor() {
    let ctx = IoContext::new().unwrap();
    let path = temp("cursor");
    std::fs::write(&path, b"0123456789").unwrap();
    ctx.block_on(async {
        let mut f = StreamFile::open(&path, OpenOptions::new().read(true).write(true).clone())
            .await
            .unwrap();
        let mut head = [0u8; 4];
        assert_eq!(read_exact(&mut f, &mut head[..]).await.unwrap(), 4);
        write_all(&mut f, "xy").await.unwrap();
        f.shutdown().await.unwrap();
    });
    assert_eq!(std::fs::read(&path).unwrap(), b"0123xy6789");
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_stopped_token_starts_no_file_operation() {
    use strait_streams::{is_canceled, with_stop_token, StopSource};
    let ctx = IoContext::new().unwrap();
    let path = temp("stopped");
    let f = ctx
        .block_on(RandomAccessFile::open(&path, rw_create()))
        .unwrap();
    let source = StopSource::new();
    source.request_stop();
    let (r, _) = ctx.block_on(with_stop_token(
        source.token(),
        f.write_all_at(b"must not land".to_vec(), 0),
    ));
    assert!(is_canceled(&r.unwrap_err()));
    let (r, _) = ctx.block_on(with_stop_token(source.token(), f.read_at(vec![0; 4], 0)));
    assert!(is_canceled(&r.unwrap_err()));
    // Give a wrongly started write time to land, then check nothing did.
    std::thread::sleep(std::time::Duration::from_millis(50));
    assert_eq!(ctx.block_on(f.size()).unwrap(), 0);
    let mut stream = ctx.block_on(StreamFile::open(&path, rw_create())).unwrap();
    let err = ctx
        .block_on(with_stop_token(
            source.token(),
            write_all(&mut stream, &b"nor this"[..]),
        ))
        .unwrap_err();
    assert!(is_canceled(&err));
    drop(stream);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), 0);
    std::fs::remove_file(&path).unwrap();
}

/// Writes are write-behind: `flush` (and so `write_all`, which flushes at its end) waits
/// for the write in flight and reports its error.
#[test]
fn flush_waits_for_the_write_behind_and_reports_its_error() {
    let ctx = IoContext::new().unwrap();
    let path = temp("flush");
    let payload: Vec<u8> = (0..200_000u32).map(|i| (i * 7) as u8).collect();
    ctx.block_on(async {
        let mut f = StreamFile::open(&path, rw_create()).await.unwrap();
        write_all(&mut f, &payload[..]).await.unwrap();
        // Flushed, not shut down: every byte is in the file.
        let on_disk = std::fs::read(&path).unwrap();
        assert_eq!(on_disk.len(), payload.len());
        assert!(on_disk == payload);

        // A file opened read-only fails its writes: the flush reports it.
        let mut ro = StreamFile::open(&path, OpenOptions::new().read(true).clone())
            .await
            .unwrap();
        assert!(write_all(&mut ro, "x").await.is_err());
        f.shutdown().await.unwrap();
    });
    std::fs::remove_file(&path).unwrap();
}
