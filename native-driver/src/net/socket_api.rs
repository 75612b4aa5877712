//! Methods every socket type shares, written once: readiness `wait`, `cancel` and
//! `close` (all sockets), and the stream traits for both `T` and `&T` (connected stream
//! sockets), so one task can read while another writes or cancels.

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

/// `ReadStream`/`WriteStream` for `&$ty` over `stream_io`, and for `$ty` through it.
macro_rules! stream_traits {
    ($ty:ty) => {
        /// Shared access: one task may read while another writes (one reader and one
        /// writer at a time: a second concurrent reader replaces the first one's
        /// wake-up registration).
        impl strait_streams::ReadStream for &$ty {
            fn poll_read_some(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &mut [strait_vocab::MutableBuffer<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                super::stream_io::poll_read(&self.reg.io, &self.sock, cx, bufs)
            }
        }

        /// Shared access, as for reads.
        impl strait_streams::WriteStream for &$ty {
            fn poll_write_some(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[strait_vocab::ConstBuffer<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                super::stream_io::poll_write(&self.reg.io, &self.sock, cx, bufs)
            }

            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.sock.shutdown(std::net::Shutdown::Write))
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
        }

        impl strait_streams::WriteStream for $ty {
            fn poll_write_some(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                bufs: &[strait_vocab::ConstBuffer<'_>],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write_some(cx, bufs)
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

pub(crate) use {socket_common, stream_traits};
