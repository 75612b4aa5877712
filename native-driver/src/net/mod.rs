//! TCP sockets.

mod tcp;

pub use tcp::{TcpListener, TcpStream};
