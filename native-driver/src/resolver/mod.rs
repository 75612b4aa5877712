//! [`Resolver`]: DNS lookups on a small thread pool, so `getaddrinfo` never blocks a
//! reactor thread.

use std::io;
use std::net::SocketAddr;

use strait_streams::ThreadPool;

mod gai;
pub use gai::{Resolution, ResolveFlags};

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
    /// `NotFound` for an unknown name (with the resolver's message), other kinds for
    /// resolver failures, or the canceled error.
    pub async fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        let r = self
            .resolve_service(
                Some(host),
                Some(&port.to_string()),
                ResolveFlags::NUMERIC_SERVICE,
            )
            .await?;
        Ok(r.addrs)
    }

    /// Forward lookup with a service name or port and [`ResolveFlags`] (the papers'
    /// `resolve(host, service, flags)`). Either `host` or `service` may be `None` (not
    /// both): no host with [`ResolveFlags::PASSIVE`] gives the wildcard address.
    ///
    /// # Errors
    /// `NotFound` for an unknown name, `InvalidInput` for an unknown service or bad
    /// flags, `TimedOut` for a temporary resolver failure, or the canceled error.
    pub async fn resolve_service(
        &self,
        host: Option<&str>,
        service: Option<&str>,
        flags: ResolveFlags,
    ) -> io::Result<Resolution> {
        let (host, service) = (host.map(str::to_owned), service.map(str::to_owned));
        self.offload(move || gai::lookup(host.as_deref(), service.as_deref(), flags))
            .await
    }

    /// Reverse lookup of `addr` to a host name (`getnameinfo` with `NI_NAMEREQD`).
    ///
    /// # Errors
    /// `NotFound` when the address has no name, or the canceled error.
    pub async fn reverse(&self, addr: SocketAddr) -> io::Result<String> {
        self.offload(move || gai::reverse(addr)).await
    }
}

impl Default for Resolver {
    fn default() -> Self {
        Self::new()
    }
}
