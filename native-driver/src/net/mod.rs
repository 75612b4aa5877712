//! Sockets: TCP, UDP and Unix-domain, all on the context's reactor.

mod socket_api;
mod stream_io;
mod tcp;
mod udp;
mod unix;

pub use tcp::{TcpListener, TcpStream};
pub use udp::UdpSocket;
pub use unix::{UnixDatagram, UnixListener, UnixStream};
