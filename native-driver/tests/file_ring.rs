//! Files as a user sees them on every backend (`STRAIT_NATIVE_BACKEND`): on io_uring,
//! and under `Auto` (a ring for files beside epoll), reads, writes and fsync are ring
//! operations; on epoll they run on the blocking pool.

use std::fs::OpenOptions;
use std::path::PathBuf;

use strait_native::{Backend, IoContext, RandomAccessFile};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

fn temp(name: &str) -> PathBuf {
    let p = std::env::temp_dir().join(format!("strait-file-ring-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn a_read_loop_runs_on_the_ring_of_an_io_uring_context() {
    let ctx = IoContext::new().unwrap();
    let path = temp("loop");
    let data: Vec<u8> = (0..256 * 1024u32)
        .map(|i| (i * 13 + i / 251) as u8)
        .collect();
    std::fs::write(&path, &data).unwrap();
    let f = ctx
        .block_on(RandomAccessFile::open(
            &path,
            OpenOptions::new().read(true).clone(),
        ))
        .unwrap();
    let before = ctx.stats();
    let mut got = Vec::new();
    ctx.block_on(async {
        let mut buf = vec![0; 4096];
        loop {
            let (n, b) = f.read_at(buf, got.len() as u64).await;
            let n = n.unwrap();
            if n == 0 {
                break;
            }
            got.extend_from_slice(&b[..n]);
            buf = b;
        }
    });
    assert!(got == data);
    let after = ctx.stats();
    let reads = (data.len() / 4096 + 1) as u64;
    if ctx.completion_files() {
        assert!(
            after.completion_operations - before.completion_operations >= reads,
            "each read is a ring operation: {before:?} -> {after:?}"
        );
    }
    if ctx.backend() == Backend::IoUring {
        assert!(
            after.submitted - before.submitted >= reads,
            "each read is a ring operation: {before:?} -> {after:?}"
        );
    } else if ctx.completion_files() {
        // Auto: the file ring's own enters, one per read; epoll's are not spent on it.
        assert!(
            after.file_ring_enters - before.file_ring_enters >= reads,
            "{before:?} -> {after:?}"
        );
        assert!(
            after.file_ring_completions - before.file_ring_completions >= reads,
            "{before:?} -> {after:?}"
        );
    } else {
        assert_eq!(after.completion_operations, 0, "epoll: the blocking pool");
    }
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn errors_and_the_end_of_the_file_are_reported_as_pread_and_pwrite_would() {
    let ctx = IoContext::new().unwrap();
    let path = temp("errors");
    std::fs::write(&path, b"0123456789").unwrap();
    ctx.block_on(async {
        let f = RandomAccessFile::open(&path, OpenOptions::new().read(true).clone())
            .await
            .unwrap();
        let (r, buf) = f.write_all_at(b"nope".to_vec(), 0).await;
        assert_eq!(r.unwrap_err().raw_os_error(), Some(libc::EBADF));
        assert_eq!(buf, b"nope", "the buffer comes back with the error");
        let (n, _) = f.read_at(vec![0; 8], 10).await;
        assert_eq!(n.unwrap(), 0, "at the end");
        let (n, b) = f.read_at(vec![0; 8], 6).await;
        assert_eq!(&b[..n.unwrap()], b"6789", "a short read up to the end");
        let (n, b) = f.read_at(Vec::new(), 0).await;
        assert_eq!(
            (n.unwrap(), b.len()),
            (0, 0),
            "an empty buffer reads nothing"
        );
    });
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn write_all_at_writes_large_buffers_whole_and_sync_all_succeeds() {
    let ctx = IoContext::new().unwrap();
    let path = temp("large");
    let data: Vec<u8> = (0..3 * 1024 * 1024u32)
        .map(|i| (i ^ (i >> 9)) as u8)
        .collect();
    ctx.block_on(async {
        let mut o = OpenOptions::new();
        o.read(true).write(true).create(true).truncate(true);
        let f = RandomAccessFile::open(&path, o).await.unwrap();
        let (r, back) = f.write_all_at(data.clone(), 4096).await;
        r.unwrap();
        assert_eq!(back.len(), data.len());
        f.sync_all().await.unwrap();
        assert_eq!(f.size().await.unwrap(), 4096 + data.len() as u64);
    });
    let on_disk = std::fs::read(&path).unwrap();
    assert!(on_disk[..4096].iter().all(|&b| b == 0));
    assert!(on_disk[4096..] == data[..]);
    std::fs::remove_file(&path).unwrap();
}

/// How many of this process's descriptors name `path`.
fn open_descriptors_of(path: &std::path::Path) -> usize {
    std::fs::read_dir("/proc/self/fd")
        .unwrap()
        .filter_map(|e| std::fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target == path)
        .count()
}

fn fifo(name: &str) -> PathBuf {
    let path = temp(name);
    let c = std::ffi::CString::new(path.as_os_str().as_encoded_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path for the call.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    path
}

/// A read that waits (a FIFO with no data) dropped mid-flight: on io_uring it is
/// canceled and its descriptor closes once the kernel gave the buffer back; on epoll
/// the pool's read ends when data comes. Nothing is leaked either way.
#[test]
fn a_stream_file_dropped_while_its_read_waits_releases_its_descriptor() {
    use strait_native::StreamFile;
    use strait_streams::ReadStreamExt;
    let ctx = IoContext::new().unwrap();
    let path = fifo("fifo");
    // Read-write: opening a FIFO for reading alone blocks until a writer comes.
    let mut rw = OpenOptions::new();
    rw.read(true).write(true);
    let mut f = ctx.block_on(StreamFile::open(&path, rw)).unwrap();
    assert_eq!(open_descriptors_of(&path), 1);
    ctx.block_on(async {
        let mut buf = [0u8; 16];
        let read = f.read(&mut buf[..]);
        let timed = strait_streams::timeout(std::time::Duration::from_millis(50), read).await;
        assert!(timed.is_err(), "nothing to read yet");
    });
    drop(f);
    // Unblocks the pool's read on epoll (on io_uring the read is gone already).
    let mut writer = OpenOptions::new().write(true).open(&path).unwrap();
    std::io::Write::write_all(&mut writer, &[7; 64]).unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while open_descriptors_of(&path) > 1 {
        assert!(
            std::time::Instant::now() < deadline,
            "the descriptor leaked"
        );
        ctx.block_on(strait_streams::delay(std::time::Duration::from_millis(5)))
            .unwrap();
    }
    drop(writer);
    std::fs::remove_file(&path).unwrap();
}

/// Write-behind: a file dropped before its write finished still writes it.
#[test]
fn a_stream_file_dropped_with_a_write_in_flight_still_writes_it() {
    use strait_native::StreamFile;
    use strait_streams::WriteStreamExt;
    let ctx = IoContext::new().unwrap();
    let path = temp("dropped-write");
    let data: Vec<u8> = (0..60_000u32).map(|i| (i % 253) as u8).collect();
    ctx.block_on(async {
        let mut o = OpenOptions::new();
        o.write(true).create(true).truncate(true);
        let mut f = StreamFile::open(&path, o).await.unwrap();
        let n = f.write(&data[..]).await.unwrap();
        assert_eq!(n, data.len(), "one chunk, accepted whole");
        drop(f);
    });
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::fs::metadata(&path).unwrap().len() < data.len() as u64 {
        assert!(std::time::Instant::now() < deadline, "the write was lost");
        ctx.block_on(strait_streams::delay(std::time::Duration::from_millis(5)))
            .unwrap();
    }
    assert!(std::fs::read(&path).unwrap() == data);
    std::fs::remove_file(&path).unwrap();
}

/// On io_uring a read is a ring operation in a recycled slot that lends the kernel the
/// caller's own buffer: no allocation per read (the blocking pool allocates a job each).
#[test]
fn ring_reads_allocate_nothing_in_steady_state() {
    let ctx = IoContext::new().unwrap();
    if !ctx.completion_files() {
        return;
    }
    let path = temp("alloc");
    std::fs::write(&path, vec![3u8; 64 * 1024]).unwrap();
    let f = ctx
        .block_on(RandomAccessFile::open(
            &path,
            OpenOptions::new().read(true).clone(),
        ))
        .unwrap();
    let allocated = ctx.block_on(async {
        let mut buf = vec![0; 4096];
        for _ in 0..5 {
            buf = f.read_at(buf, 0).await.1; // warm-up: the slot
        }
        let before = strait_conformance::allocations();
        for i in 0..1000u64 {
            let (n, b) = f.read_at(buf, (i % 16) * 4096).await;
            assert_eq!(n.unwrap(), 4096);
            buf = b;
        }
        strait_conformance::allocations() - before
    });
    assert_eq!(allocated, 0, "allocations in 1000 ring reads");
    std::fs::remove_file(&path).unwrap();
}

/// Not a check: the read loop to profile (`strace -c -f`, callgrind) on each backend.
/// `cargo test --test file_ring -- --ignored profile_a_read_loop`
#[test]
#[ignore = "a profiling workload, run by hand"]
fn profile_a_read_loop() {
    let ctx = IoContext::new_single_threaded().unwrap();
    let path = temp("profile");
    // `STRAIT_PROFILE_MIB`: two runs of different lengths cancel out the start-up.
    let mib: usize = std::env::var("STRAIT_PROFILE_MIB")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(8);
    std::fs::write(&path, vec![5u8; mib << 20]).unwrap();
    let f = ctx
        .block_on(RandomAccessFile::open(
            &path,
            OpenOptions::new().read(true).clone(),
        ))
        .unwrap();
    let reads = ctx.block_on(async {
        let mut buf = vec![0; 4096];
        let (mut at, mut reads) = (0u64, 0u32);
        loop {
            let (n, b) = f.read_at(buf, at).await;
            reads += 1;
            match n.unwrap() {
                0 => break reads,
                n => at += n as u64,
            }
            buf = b;
        }
    });
    eprintln!("{reads} reads on {:?}: {:?}", ctx.backend(), ctx.stats());
    std::fs::remove_file(&path).unwrap();
}
