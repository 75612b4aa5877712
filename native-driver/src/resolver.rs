//! [`Resolver`]: DNS lookups on a small thread pool, so `getaddrinfo` never blocks a
//! reactor thread.

use std::ffi::CStr;
use std::io;
use std::net::{SocketAddr, ToSocketAddrs};

use strait_streams::ThreadPool;

/// Forward and reverse name resolution. Lookups run on the resolver's own threads;
/// awaiting one honours the environment's stop token (the lookup is abandoned: its
/// result is dropped when it finishes).
#[derive(Debug)]
pub struct Resolver {
    pool: ThreadPool,
}

impl Resolver {
    /// A resolver with two lookup threads.
    pub fn new() -> Resolver {
        Resolver {
            pool: ThreadPool::with_name(2, "strait-dns-"),
        }
    }

    async fn offload<T: Send + 'static>(
        &self,
        job: impl FnOnce() -> io::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        crate::blocking::offload(&self.pool, job).await?
    }

    /// Resolves `host` and `port` to socket addresses (`getaddrinfo`).
    ///
    /// # Errors
    /// The resolver's error for an unknown name (kind `Other`/`NotFound` with the
    /// resolver's message), or the canceled error.
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let host = host.to_owned();
        self.offload(move || Ok((host.as_str(), port).to_socket_addrs()?.collect()))
            .await
    }

    /// Reverse lookup of `addr` to a host name (`getnameinfo` with `NI_NAMEREQD`).
    ///
    /// # Errors
    /// `NotFound` when the address has no name, or the canceled error.
    pub async fn reverse(&self, addr: SocketAddr) -> io::Result<String> {
        self.offload(move || {
            let sa: socket2::SockAddr = addr.into();
            let mut host = [0 as libc::c_char; 1025];
            // SAFETY: `sa` is a valid sockaddr of `sa.len()` bytes; `host` is a writable
            // buffer of the length passed; the service buffer is null with length 0.
            let rc = unsafe {
                libc::getnameinfo(
                    sa.as_ptr().cast(),
                    sa.len(),
                    host.as_mut_ptr(),
                    host.len() as libc::socklen_t,
                    std::ptr::null_mut(),
                    0,
                    libc::NI_NAMEREQD,
                )
            };
            if rc != 0 {
                // SAFETY: gai_strerror returns a static C string for any code.
                let msg = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
                return Err(io::Error::new(
                    io::ErrorKind::NotFound,
                    format!("reverse lookup of {addr}: {}", msg.to_string_lossy()),
                ));
            }
            // SAFETY: getnameinfo wrote a NUL-terminated string into `host`.
            let name = unsafe { CStr::from_ptr(host.as_ptr()) };
            Ok(name.to_string_lossy().into_owned())
        })
        .await
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new()
    }
}
