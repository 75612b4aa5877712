//! Datagrams on the ring: one-shot `SENDMSG`/`RECVMSG` whose message header, iovec,
//! address and data all live in one slot-owned heap block ([`MsgBuf`]), so a dropped
//! operation never lets the kernel touch freed memory.

use std::io;
use std::net::SocketAddr;
use std::os::fd::OwnedFd;
use std::sync::Arc;

use io_uring::{opcode, types};

use super::{Completions, Keep, Op, Resource};

/// The largest datagram a receive takes whole (a UDP payload is at most 65 507 bytes
/// over IPv4, 65 527 over IPv6 without jumbograms).
pub(crate) const DATAGRAM_MAX: usize = 64 * 1024;

/// One datagram's message: header, iovec, address and data in one heap block that the
/// operation's slot owns until its final CQE. The header's pointers point into the
/// block itself (set when the operation is built, after the block was boxed).
pub(crate) struct MsgBuf {
    hdr: libc::msghdr,
    iov: libc::iovec,
    addr: libc::sockaddr_storage,
    data: Vec<u8>,
}

// SAFETY: the raw pointers in `hdr` and `iov` only ever point into this block (its own
// fields and `data`'s heap block), which moves between threads as a whole; nothing
// else shares them.
unsafe impl Send for MsgBuf {}

impl std::fmt::Debug for MsgBuf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MsgBuf")
            .field("capacity", &self.data.capacity())
            .finish_non_exhaustive()
    }
}

impl MsgBuf {
    /// An empty message (no data allocated yet).
    pub(crate) fn new() -> Box<MsgBuf> {
        Box::new(MsgBuf {
            // SAFETY: all-zero bytes are a valid `msghdr`, `iovec` and
            // `sockaddr_storage` (null pointers, zero lengths).
            hdr: unsafe { std::mem::zeroed() },
            // SAFETY: as above.
            iov: unsafe { std::mem::zeroed() },
            // SAFETY: as above.
            addr: unsafe { std::mem::zeroed() },
            data: Vec::new(),
        })
    }

    /// Points the header at the block's own iovec, data (`len` bytes) and address
    /// (`name_len` bytes; none when 0).
    fn aim(&mut self, len: usize, name_len: libc::socklen_t) {
        self.iov.iov_base = self.data.as_mut_ptr().cast();
        self.iov.iov_len = len;
        self.hdr.msg_iov = &mut self.iov;
        self.hdr.msg_iovlen = 1;
        self.hdr.msg_name = if name_len == 0 {
            std::ptr::null_mut()
        } else {
            (&mut self.addr as *mut libc::sockaddr_storage).cast()
        };
        self.hdr.msg_namelen = name_len;
        self.hdr.msg_control = std::ptr::null_mut();
        self.hdr.msg_controllen = 0;
        self.hdr.msg_flags = 0;
    }

    /// Copies `data` in, to go to `target` (none: the connected peer).
    pub(crate) fn fill(&mut self, data: &[u8], target: Option<SocketAddr>) {
        self.data.clear();
        self.data.extend_from_slice(data);
        let name_len = match target {
            Some(target) => {
                let addr = socket2::SockAddr::from(target);
                let len = addr.len();
                // SAFETY: `addr` holds `len` initialised bytes of a socket address, and
                // `self.addr` (a `sockaddr_storage`) has room for any address.
                unsafe {
                    std::ptr::copy_nonoverlapping(
                        addr.as_ptr().cast::<u8>(),
                        (&mut self.addr as *mut libc::sockaddr_storage).cast::<u8>(),
                        len as usize,
                    );
                }
                len
            }
            None => 0,
        };
        self.aim(data.len(), name_len);
    }

    /// Makes room for one whole datagram and its sender's address.
    fn prepare_recv(&mut self) {
        self.data.resize(DATAGRAM_MAX, 0);
        let name_len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
        self.aim(DATAGRAM_MAX, name_len);
    }

    /// The first `len` bytes received (what the CQE reported).
    pub(crate) fn data(&self, len: usize) -> &[u8] {
        &self.data[..len.min(self.data.len())]
    }

    /// The sender of a received datagram (`None` if it is not an IP address).
    pub(crate) fn sender(&self) -> Option<SocketAddr> {
        let mut storage = socket2::SockAddrStorage::zeroed();
        // SAFETY: `sockaddr_storage` is one of this platform's socket address types.
        unsafe { *storage.view_as::<libc::sockaddr_storage>() = self.addr };
        let len = self
            .hdr
            .msg_namelen
            .min(std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t);
        // SAFETY: the kernel wrote a socket address of `msg_namelen` bytes (clamped to
        // the storage) into `addr`; the rest of the storage is zeroes or older bytes
        // of a valid address.
        let addr = unsafe { socket2::SockAddr::new(storage, len) };
        addr.as_socket()
    }
}

impl Resource for Box<MsgBuf> {
    fn into_keep(self) -> Keep {
        Keep::Boxed(self)
    }
    fn from_keep(keep: Keep) -> Self {
        match keep {
            Keep::Boxed(any) => any.downcast().expect("slot kept a MsgBuf"),
            other => unreachable!("slot kept {other:?}, not a message"),
        }
    }
}

/// Receives one datagram into `msg` (its data and sender; see [`MsgBuf::data`] and
/// [`MsgBuf::sender`]).
///
/// # Errors
/// Submission errors (the context is gone, the ring refused the entry); `msg` is
/// lost with them.
pub(crate) fn recv_msg(
    completions: &Arc<Completions>,
    fd: &Arc<OwnedFd>,
    msg: Box<MsgBuf>,
) -> io::Result<Op<Box<MsgBuf>>> {
    // SAFETY: the entry points at `msg`'s header, which points only into `msg` (a
    // heap block that does not move when the `Box` moves into the slot, which keeps it
    // until the final CQE), and names `fd`, which the slot keeps open.
    unsafe {
        Op::submit(completions, Some(fd.clone()), msg, |msg, raw| {
            msg.prepare_recv();
            opcode::RecvMsg::new(types::Fd(raw), &mut msg.hdr).build()
        })
    }
}

/// Sends the datagram `msg` was [`fill`](MsgBuf::fill)ed with.
///
/// # Errors
/// As [`recv_msg`].
pub(crate) fn send_msg(
    completions: &Arc<Completions>,
    fd: &Arc<OwnedFd>,
    msg: Box<MsgBuf>,
) -> io::Result<Op<Box<MsgBuf>>> {
    // SAFETY: as in `recv_msg`: everything the entry points to is inside `msg`, owned
    // by the slot until the final CQE.
    unsafe {
        Op::submit(completions, Some(fd.clone()), msg, |msg, raw| {
            opcode::SendMsg::new(types::Fd(raw), &msg.hdr).build()
        })
    }
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::net::UdpSocket;
    use std::os::fd::OwnedFd;
    use std::pin::Pin;
    use std::sync::Arc;
    use std::task::{Context, Poll, Waker};

    use super::super::testing::TestRing;
    use super::super::{Completions, Config, Op, Outcome};
    use super::{recv_msg, send_msg, MsgBuf};

    fn wait(ring: &TestRing, c: &Completions, mut op: Op<Box<MsgBuf>>) -> Outcome<Box<MsgBuf>> {
        let mut cx = Context::from_waker(Waker::noop());
        let mut out = None;
        ring.run_until(c, || {
            if let Poll::Ready(o) = Pin::new(&mut op).poll(&mut cx) {
                out = Some(o);
            }
            out.is_some()
        });
        out.expect("completed")
    }

    fn udp() -> (UdpSocket, Arc<OwnedFd>) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = Arc::new(OwnedFd::from(s.try_clone().unwrap()));
        (s, fd)
    }

    #[test]
    fn datagrams_go_out_to_their_target_and_come_in_with_their_sender() {
        let Some(ring) = TestRing::new(16) else {
            return;
        };
        let c = ring.completions(Config::default());
        let (a, a_fd) = udp();
        let (b, b_fd) = udp();
        let mut msg = MsgBuf::new();
        msg.fill(b"to b", Some(b.local_addr().unwrap()));
        let out = wait(&ring, &c, send_msg(&c, &a_fd, msg).unwrap());
        assert_eq!(out.result.unwrap(), 4);
        let out = wait(&ring, &c, recv_msg(&c, &b_fd, out.resource).unwrap());
        let n = out.result.unwrap() as usize;
        assert_eq!(out.resource.data(n), b"to b");
        assert_eq!(out.resource.sender(), Some(a.local_addr().unwrap()));
        // Zero-length datagrams, over a connected socket (no address).
        a.connect(b.local_addr().unwrap()).unwrap();
        let mut msg = out.resource;
        msg.fill(b"", None);
        let out = wait(&ring, &c, send_msg(&c, &a_fd, msg).unwrap());
        assert_eq!(out.result.unwrap(), 0);
        let out = wait(&ring, &c, recv_msg(&c, &b_fd, out.resource).unwrap());
        assert_eq!(out.result.unwrap(), 0);
        ring.run_until(&c, || c.slots_in_use() == 0);
    }

    #[test]
    fn a_dropped_receive_keeps_its_block_until_its_cqe_then_frees_it() {
        let Some(ring) = TestRing::new(16) else {
            return;
        };
        let c = ring.completions(Config::default());
        let (_b, b_fd) = udp();
        let mut op = recv_msg(&c, &b_fd, MsgBuf::new()).unwrap();
        ring.turn(&c, false);
        let mut cx = Context::from_waker(Waker::noop());
        assert!(Pin::new(&mut op).poll(&mut cx).is_pending());
        drop(op);
        assert_eq!(c.slots_in_use(), 1, "the slot keeps the block");
        ring.run_until(&c, || c.slots_in_use() == 0);
        assert_eq!(c.in_kernel(), 0);
        assert!(c.counters().canceled >= 1);
        assert_eq!(c.counters().anomalies, 0);
    }
}
