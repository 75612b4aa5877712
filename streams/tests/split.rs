//! A stream split into halves owned by two tasks: a pending read never blocks a write,
//! and the halves join back.

use strait_streams::{
    io::duplex_with_chunk, read_exact, split, write_all, AnyReadStream, AnyStream, AnyWriteStream,
    ThreadPool, WriteStreamExt,
};

#[test]
fn halves_of_an_any_stream_pump_in_both_directions_from_two_tasks() {
    const LEN: usize = 1 << 20;
    let pool = ThreadPool::new(2);
    let ex = pool.executor();
    let (a, b) = duplex_with_chunk(4096, 1000);
    let (a_read, a_write) = AnyStream::new(a).split();
    let (b_read, b_write) = split(b);
    // Re-erased halves: what protocol code that takes `AnyReadStream` receives.
    let (mut a_read, mut a_write) = (AnyReadStream::new(a_read), AnyWriteStream::new(a_write));
    let payload: Vec<u8> = (0..LEN).map(|i| (i % 251) as u8).collect();
    let expected = payload.clone();

    // b echoes everything back; a writes and reads at the same time. The reader waits
    // while the writer runs: a lock held across a wait would deadlock here.
    let echo = ex.spawn(async move {
        let (mut r, mut w) = (b_read, b_write);
        let mut buf = vec![0u8; 8192];
        loop {
            let n = strait_streams::ReadStreamExt::read(&mut r, &mut buf[..])
                .await
                .unwrap();
            if n == 0 {
                w.shutdown().await.unwrap();
                return r.unsplit(w);
            }
            write_all(&mut w, &buf[..n]).await.unwrap();
        }
    });
    let writer = ex.spawn(async move {
        write_all(&mut a_write, &payload[..]).await.unwrap();
        a_write.shutdown().await.unwrap();
    });
    let reader = ex.spawn(async move {
        let mut back = vec![0u8; LEN + 1];
        let n = read_exact(&mut a_read, &mut back[..]).await.unwrap();
        back.truncate(n);
        back
    });
    let back = strait_streams::block_on(reader).unwrap();
    strait_streams::block_on(writer).unwrap();
    let _rejoined = strait_streams::block_on(echo).unwrap();
    assert_eq!(back.len(), LEN);
    assert!(back == expected);
}

#[test]
#[should_panic(expected = "different streams")]
fn unsplit_refuses_halves_of_different_streams() {
    let (a, b) = strait_streams::duplex(8);
    let (ra, _wa) = split(a);
    let (_rb, wb) = split(b);
    ra.unsplit(wb);
}
