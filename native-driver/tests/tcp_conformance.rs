//! The conformance stream suite over loopback TCP on strait's own reactor.

use strait_conformance::StreamPairFactory;
use strait_native::{IoContext, TcpListener, TcpStream};

#[global_allocator]
static ALLOC: strait_conformance::CountingAllocator = strait_conformance::CountingAllocator;

struct Tcp {
    ctx: IoContext,
}

impl Tcp {
    fn new() -> Tcp {
        Tcp {
            ctx: IoContext::new().expect("io context"),
        }
    }
}

impl StreamPairFactory for Tcp {
    type Stream = TcpStream;

    fn pair(&self) -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind(&self.ctx, "127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().unwrap();
        let (client, accepted) = self
            .ctx
            .block_on(async {
                strait_streams::when_all((TcpStream::connect(&self.ctx, addr), listener.accept()))
                    .await
            })
            .expect("connect");
        client.set_nodelay(true).unwrap();
        (client, accepted.0)
    }

    fn block_on<F: std::future::Future>(&self, f: F) -> F::Output {
        self.ctx.block_on(f)
    }
}

strait_conformance::stream_pair_suite!(tcp, super::Tcp::new());

/// A TCP round trip whose read waits (write, then a read that finds nothing yet and
/// is completed by the echo) allocates nothing in steady state, on either backend (on
/// io_uring: the multishot receive, the provided buffers and the write-behind block
/// are recycled).
#[test]
fn a_round_trip_with_a_waiting_read_allocates_nothing_in_steady_state() {
    use strait_streams::{read_exact, write_all};
    let tcp = Tcp::new();
    let (mut a, mut b) = tcp.pair();
    let allocated = tcp.block_on(async {
        let mut buf = [0u8; 64];
        let msg = [7u8; 64];
        let round = async |a: &mut TcpStream, b: &mut TcpStream, buf: &mut [u8]| {
            strait_streams::when_all((
                async {
                    write_all(&mut *a, &msg[..]).await?;
                    read_exact(&mut *a, &mut *buf).await
                },
                async {
                    let mut echo = [0u8; 64];
                    read_exact(&mut *b, &mut echo[..]).await?;
                    write_all(&mut *b, &echo[..]).await
                },
            ))
            .await
            .unwrap();
        };
        for _ in 0..5 {
            round(&mut a, &mut b, &mut buf[..]).await; // warm-up: slots, queues, blocks
        }
        let before = strait_conformance::allocations();
        for _ in 0..1000 {
            round(&mut a, &mut b, &mut buf[..]).await;
        }
        strait_conformance::allocations() - before
    });
    assert_eq!(allocated, 0, "allocations in 1000 round trips");
}
