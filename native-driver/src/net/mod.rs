//! Sockets: TCP, UDP and Unix-domain, all on the context's reactor.

mod addr;
mod socket_api;
mod stream_io;
mod tcp;
mod tcp_ring;
mod udp;
mod udp_ring;
mod unix;

pub use addr::ToSocketAddr;
pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
