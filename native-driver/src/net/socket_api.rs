//! Methods every socket type shares, written once: readiness `wait`, `cancel` and
//! `close` (all sockets; `dual_*` for sockets that run readiness on epoll and the
//! completion layer on io_uring), and the stream traits for both `T` and `&T`
//! (connected stream sockets), so one task can read while another writes or cancels.

/// `wait`, `cancel` and `close` for a type with `reg: Registration` and `sock` fields.
macro_rules! socket_common {
    ($ty:ty) => {
        impl $ty {
            /// Waits until the socket is ready in `interest` (readable: data, a
            /// connection to accept, end of stream or an error; writable: room to
            /// send). Exact, not a hint: the kernel is asked once (`poll(2)` with a
            /// zero timeout) before waiting on the reactor. Consumes nothing.
            /// Honours the environment's stop token.
            ///
            /// # Errors
            /// The canceled error (see [`strait_streams::is_canceled`]) after a stop,
            /// [`cancel`](Self::cancel) or [`close`](Self::close); an error saying the
            /// socket's [`IoContext`](crate::IoContext) was dropped once it is (this,
            /// like every operation of a socket whose context is gone, fails at once
            /// instead of waiting for readiness nothing would report).
            pub async fn wait(&self, interest: $crate::Interest) -> std::io::Result<()> {
                use std::os::fd::AsFd;
                super::stream_io::wait(&self.reg.io, self.sock.as_fd(), interest).await
            }

            /// Completes the operations waiting on this socket right now (in either
            /// direction) as canceled; returns whether any was waiting. A pending
            /// accept, datagram or readiness wait that was woken but has not run again
            /// counts as waiting: it completes if the kernel has something for it, and
            /// as canceled if it would wait again. Later
            /// operations run normally. (A stream read or write whose future was
            /// dropped while waiting leaves its waker behind; a cancel then applies to
            /// the next read or write in that direction only if the kernel has nothing
            /// for it, i.e. it would wait; one that completes clears it.)
            pub fn cancel(&self) -> bool {
                self.reg.io.cancel()
            }

            /// Completes every pending operation as canceled and fails every later one
            /// the same way; a connected stream is also shut down in both directions
            /// (the peer sees end of stream). The descriptor itself is released when
            /// the socket is dropped.
            pub fn close(&self) {
                let _ = socket2::SockRef::from(&self.sock).shutdown(std::net::Shutdown::Both);
                self.reg.io.close();
            }
        }
    };
}

pub(crate) use socket_common;

/// `wait`, `cancel` and `close` for a socket that runs readiness on epoll and the
/// completion layer on io_uring: `$ty { io: $io }` with `$io::Ready { reg, sock }` and
/// `$io::Ring(r)` (`tcp_ring`'s `RingStream` or `RingListener`).
macro_rules! dual_socket_common {
    ($ty:ident, $io:ident) => {
        impl $ty {
            /// Waits until the socket is ready in `interest` (readable: data, a
            /// connection to accept, end of stream or an error; writable: room to
            /// send). Exact, not a hint: nothing is consumed. Honours the
            /// environment's stop token. (On io_uring, readable means a read or
            /// accept would not wait; the socket's first writable `wait` registers it
            /// for readiness, which it then keeps.)
            ///
            /// # Errors
            /// The canceled error (see [`strait_streams::is_canceled`]) after a stop,
            /// [`cancel`](Self::cancel) or [`close`](Self::close); an error saying the
            /// socket's [`IoContext`](crate::IoContext) was dropped once it is.
            pub async fn wait(&self, interest: $crate::Interest) -> std::io::Result<()> {
                use std::os::fd::AsFd;
                match &self.io {
                    $io::Ready { reg, sock } => {
                        super::stream_io::wait(&reg.io, sock.as_fd(), interest).await
                    }
                    $io::Ring(r) => r.wait(interest).await,
                }
            }

            /// Completes the operations waiting on this socket right now (in either
            /// direction) as canceled; returns whether any was waiting. A pending
            /// accept or readiness wait that was woken but has not run again counts
            /// as waiting: it completes if the kernel has something for it, and as
            /// canceled if it would wait again. Later operations run normally. (A
            /// stream read or write whose future was dropped while waiting leaves its
            /// mark behind; a cancel then applies to the next read or write in that
            /// direction only if it would wait; one that completes clears it.)
            pub fn cancel(&self) -> bool {
                match &self.io {
                    $io::Ready { reg, .. } => reg.io.cancel(),
                    $io::Ring(r) => r.cancel(),
                }
            }

            /// Completes every pending operation as canceled and fails every later one
            /// the same way; a connected stream is also shut down in both directions
            /// (the peer sees end of stream). The descriptor itself is released when
            /// the socket is dropped.
            pub fn close(&self) {
                match &self.io {
                    $io::Ready { reg, sock } => {
                        let _ = socket2::SockRef::from(sock).shutdown(std::net::Shutdown::Both);
                        reg.io.close();
                    }
                    $io::Ring(r) => r.close(),
                }
            }
        }
    };
}

/// `ReadStream`/`WriteStream` for `&$ty` and `$ty`, for a stream socket laid out as
/// for [`dual_socket_common`]: `stream_io` on epoll, the ring stream on io_uring.
macro_rules! dual_stream_traits {
    ($ty:ident, $io:ident) => {
        /// Shared access: one task may read while another writes (one reader and one
        /// writer at a time: a second concurrent reader replaces the first one's
        /// wake-up).
        impl strait_streams::ReadStream for &$ty {
            fn poll_read_some(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [strait_vocab::MutableBuffer<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                match &self.io {
                    $io::Ready { reg, sock } => {
                        super::stream_io::poll_read(&reg.io, sock, cx, bufs)
                    }
                    $io::Ring(r) => r.poll_read(cx, bufs),
                }
            }

            fn poll_read_slice(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                match &self.io {
                    $io::Ready { reg, sock } => {
                        super::stream_io::poll_read_slice(&reg.io, sock, cx, buf)
                    }
                    $io::Ring(r) => r.poll_read(cx, &mut [strait_vocab::MutableBuffer::new(buf)]),
                }
            }
        }

        /// Shared access, as for reads.
        impl strait_streams::WriteStream for &$ty {
            fn poll_write_some(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[strait_vocab::ConstBuffer<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                match &self.io {
                    $io::Ready { reg, sock } => {
                        super::stream_io::poll_write(&reg.io, sock, cx, bufs)
                    }
                    $io::Ring(r) => r.poll_write(cx, bufs),
                }
            }

            fn poll_write_slice(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                match &self.io {
                    $io::Ready { reg, sock } => {
                        super::stream_io::poll_write_slice(&reg.io, sock, cx, buf)
                    }
                    $io::Ring(r) => r.poll_write(cx, &[strait_vocab::ConstBuffer::new(buf)]),
                }
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                match &self.io {
                    $io::Ready { .. } => std::task::Poll::Ready(Ok(())),
                    $io::Ring(r) => r.poll_flush(cx),
                }
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                match &self.io {
                    $io::Ready { sock, .. } => {
                        std::task::Poll::Ready(sock.shutdown(std::net::Shutdown::Write))
                    }
                    $io::Ring(r) => r.poll_shutdown(cx),
                }
            }
        }

        impl strait_streams::ReadStream for $ty {
            fn poll_read_some(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [strait_vocab::MutableBuffer<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read_some(cx, bufs)
            }

            fn poll_read_slice(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read_slice(cx, buf)
            }
        }

        impl strait_streams::WriteStream for $ty {
            fn poll_write_some(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[strait_vocab::ConstBuffer<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write_some(cx, bufs)
            }

            fn poll_write_slice(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write_slice(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_flush(cx)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_shutdown(cx)
            }
        }
    };
}

pub(crate) use {dual_socket_common, dual_stream_traits};
