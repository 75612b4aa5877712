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
