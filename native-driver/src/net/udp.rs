//! [`UdpSocket`]: readiness on epoll, completion I/O on io_uring (`udp_ring`).

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::AsRawFd;

use socket2::{Domain, SockRef, Socket, Type};

use super::socket_api::dual_socket_common;
use super::stream_io;
use super::udp_ring::RingUdp;
use super::ToSocketAddr;
use crate::context::Handle;
use crate::reactor::{Interest, Registration};

/// A UDP socket. Datagrams of any size up to the OS limit, zero-length included.
///
/// Any number of tasks may send and receive at once (a datagram goes to one
/// receiver). Operations honour the environment's stop token and are cancel-safe: a
/// dropped `recv` loses no datagram.
///
/// On epoll an operation tries the syscall first and waits for readiness when it would
/// block (each waiting operation has its own wake-up registration). On io_uring it is
/// completion I/O: the socket keeps one `RECVMSG` in the kernel, which a dropped
/// `recv` leaves running (the datagram it brings goes to the next `recv`), and each
/// send is a `SENDMSG` (a dropped send is canceled; its datagram may have gone out).
#[derive(Debug)]
pub struct UdpSocket {
    io: SocketIo,
}

#[derive(Debug)]
enum SocketIo {
    Ready {
        // Deregister before the socket closes: fields drop in order.
        reg: Registration,
        sock: std::net::UdpSocket,
    },
    Ring(RingUdp),
}

/// A socket address of the IP family.
fn ip_addr(addr: io::Result<socket2::SockAddr>) -> io::Result<SocketAddr> {
    addr?
        .as_socket()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "not an IP socket"))
}

/// The sender a ring receive reported.
fn sender(addr: Option<SocketAddr>) -> io::Result<SocketAddr> {
    addr.ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            "a datagram from a non-IP sender",
        )
    })
}

impl UdpSocket {
    /// Binds to `addr` (port 0: the OS picks) on the context `ctx` (`&IoContext` or a
    /// [`Handle`]).
    ///
    /// # Errors
    /// As `socket`/`bind`, or the reactor registration; `InvalidInput` for an address
    /// that is not numeric; the context-gone error.
    pub fn bind(ctx: impl AsRef<Handle>, addr: impl ToSocketAddr) -> io::Result<UdpSocket> {
        let addr = addr.to_socket_addr()?;
        let socket = Socket::new(Domain::for_address(addr), Type::DGRAM.cloexec(), None)?;
        if addr.is_ipv6() {
            socket.set_only_v6(false)?;
        }
        socket.set_nonblocking(true)?;
        socket.bind(&addr.into())?;
        let handle = ctx.as_ref();
        let reactor = handle.reactor();
        let io = match reactor.selector.socket_completions() {
            Some(completions) => {
                if handle.is_closed() {
                    return Err(crate::reactor::context_gone());
                }
                SocketIo::Ring(RingUdp::new(reactor, completions, socket.into()))
            }
            None => {
                let sock: std::net::UdpSocket = socket.into();
                let reg = reactor.register(sock.as_raw_fd())?;
                SocketIo::Ready { reg, sock }
            }
        };
        Ok(UdpSocket { io })
    }

    fn sock(&self) -> SockRef<'_> {
        match &self.io {
            SocketIo::Ready { sock, .. } => SockRef::from(sock),
            SocketIo::Ring(r) => SockRef::from(r.fd()),
        }
    }

    /// Sets the default peer for `send`/`recv` and filters datagrams from others.
    ///
    /// # Errors
    /// As `connect(2)`.
    pub fn connect(&self, addr: impl ToSocketAddr) -> io::Result<()> {
        self.sock().connect(&addr.to_socket_addr()?.into())
    }

    /// The bound address.
    ///
    /// # Errors
    /// As `getsockname`.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(self.sock().local_addr())
    }

    /// The connected peer.
    ///
    /// # Errors
    /// `NotConnected` before `connect`.
    pub fn peer_addr(&self) -> io::Result<SocketAddr> {
        ip_addr(self.sock().peer_addr())
    }

    /// Sends one datagram to the connected peer.
    ///
    /// # Errors
    /// As `send`, e.g. `ConnectionRefused` after an ICMP port unreachable.
    pub async fn send(&self, buf: &[u8]) -> io::Result<usize> {
        match &self.io {
            SocketIo::Ready { reg, sock } => {
                stream_io::one_shot(&reg.io, Interest::Write, || sock.send(buf)).await
            }
            SocketIo::Ring(r) => r.send_to(buf, None).await,
        }
    }

    /// Receives one datagram from the connected peer (truncated to `buf`).
    ///
    /// # Errors
    /// As `recv`.
    pub async fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        match &self.io {
            SocketIo::Ready { reg, sock } => {
                stream_io::one_shot(&reg.io, Interest::Read, || sock.recv(buf)).await
            }
            SocketIo::Ring(r) => r.recv_from(buf).await.map(|(n, _)| n),
        }
    }

    /// Sends one datagram to `target`.
    ///
    /// # Errors
    /// As `sendto`.
    pub async fn send_to(&self, buf: &[u8], target: impl ToSocketAddr) -> io::Result<usize> {
        let target = target.to_socket_addr()?;
        match &self.io {
            SocketIo::Ready { reg, sock } => {
                stream_io::one_shot(&reg.io, Interest::Write, || sock.send_to(buf, target)).await
            }
            SocketIo::Ring(r) => r.send_to(buf, Some(target)).await,
        }
    }

    /// Receives one datagram and its sender.
    ///
    /// # Errors
    /// As `recvfrom`.
    pub async fn recv_from(&self, buf: &mut [u8]) -> io::Result<(usize, SocketAddr)> {
        match &self.io {
            SocketIo::Ready { reg, sock } => {
                stream_io::one_shot(&reg.io, Interest::Read, || sock.recv_from(buf)).await
            }
            SocketIo::Ring(r) => {
                let (n, from) = r.recv_from(buf).await?;
                Ok((n, sender(from)?))
            }
        }
    }

    /// `SO_BROADCAST`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_broadcast(&self, on: bool) -> io::Result<()> {
        self.sock().set_broadcast(on)
    }

    /// Joins an IPv4 multicast group on `interface` (unspecified: the default).
    ///
    /// # Errors
    /// As `setsockopt(IP_ADD_MEMBERSHIP)`.
    pub fn join_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.sock().join_multicast_v4(&group, &interface)
    }

    /// Leaves an IPv4 multicast group.
    ///
    /// # Errors
    /// As `setsockopt(IP_DROP_MEMBERSHIP)`.
    pub fn leave_multicast_v4(&self, group: Ipv4Addr, interface: Ipv4Addr) -> io::Result<()> {
        self.sock().leave_multicast_v4(&group, &interface)
    }

    /// Joins an IPv6 multicast group on interface index `interface` (0: default).
    ///
    /// # Errors
    /// As `setsockopt(IPV6_ADD_MEMBERSHIP)`.
    pub fn join_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.sock().join_multicast_v6(&group, interface)
    }

    /// Leaves an IPv6 multicast group.
    ///
    /// # Errors
    /// As `setsockopt(IPV6_DROP_MEMBERSHIP)`.
    pub fn leave_multicast_v6(&self, group: Ipv6Addr, interface: u32) -> io::Result<()> {
        self.sock().leave_multicast_v6(&group, interface)
    }

    /// `IP_MULTICAST_LOOP`.
    ///
    /// # Errors
    /// As `setsockopt`.
    pub fn set_multicast_loop_v4(&self, on: bool) -> io::Result<()> {
        self.sock().set_multicast_loop_v4(on)
    }
}

dual_socket_common!(UdpSocket, SocketIo);
