//! Reads and writes reach the socket vectored: one `readv` fills several buffers, one
//! `writev` sends several. (smol's own `TcpStream` reads one buffer per call, which is
//! why the driver's sockets talk to async-io directly.)

use std::io;

use strait_smol::{FromFuturesIo, TcpListener, TcpStream, UnixStream};
use strait_streams::{MutableBuffer, ReadStreamExt, WriteStreamExt};

async fn written_then_read<A, B>(a: &mut A, b: &mut B) -> io::Result<(usize, usize)>
where
    A: strait_streams::WriteStream + Unpin,
    B: strait_streams::ReadStream + Unpin,
{
    let parts = [
        strait_streams::ConstBuffer::new(b"abc"),
        strait_streams::ConstBuffer::new(b"defg"),
        strait_streams::ConstBuffer::new(b"hij"),
    ];
    let written = a.write(&parts[..]).await?;
    // Let the bytes arrive, so one read can take them all.
    async_io::Timer::after(std::time::Duration::from_millis(20)).await;
    let (mut x, mut y) = ([0u8; 5], [0u8; 16]);
    let read = b
        .read(
            &mut [
                MutableBuffer::new(&mut x[..]),
                MutableBuffer::new(&mut y[..]),
            ][..],
        )
        .await?;
    assert_eq!(&x, b"abcde");
    assert_eq!(&y[..read - 5], b"fghij");
    Ok((written, read))
}

#[test]
fn tcp_reads_and_writes_are_vectored() {
    async_io::block_on(async {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let mut a = TcpStream::connect(listener.local_addr()?).await?;
        let (mut b, _) = listener.accept().await?;
        assert_eq!(written_then_read(&mut a, &mut b).await?, (10, 10));
        io::Result::Ok(())
    })
    .unwrap();
}

#[test]
fn unix_reads_and_writes_are_vectored() {
    async_io::block_on(async {
        let (mut a, mut b) = UnixStream::pair()?;
        assert_eq!(written_then_read(&mut a, &mut b).await?, (10, 10));
        io::Result::Ok(())
    })
    .unwrap();
}

/// Through smol's own socket and the generic adapter, a read fills one buffer.
#[test]
fn smols_own_socket_reads_one_buffer_per_call() {
    async_io::block_on(async {
        let listener = smol::net::TcpListener::bind("127.0.0.1:0").await?;
        let a = smol::net::TcpStream::connect(listener.local_addr()?).await?;
        let (b, _) = listener.accept().await?;
        let (mut a, mut b) = (FromFuturesIo::new(a), FromFuturesIo::new(b));
        let written = a
            .write(&[strait_streams::ConstBuffer::new(b"abcdefghij")][..])
            .await?;
        assert_eq!(written, 10);
        async_io::Timer::after(std::time::Duration::from_millis(20)).await;
        let (mut x, mut y) = ([0u8; 5], [0u8; 16]);
        let read = b
            .read(
                &mut [
                    MutableBuffer::new(&mut x[..]),
                    MutableBuffer::new(&mut y[..]),
                ][..],
            )
            .await?;
        assert_eq!(read, 5);
        io::Result::Ok(())
    })
    .unwrap();
}
