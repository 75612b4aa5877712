//! Session state shared between contexts: a client session cache that many client
//! contexts (and the threads using them) fill and resume from, and on the server the
//! session-id cache and the ticket keys, so that a session made through one server
//! context resumes through another (a context rebuilt with a renewed certificate, or
//! one per listener).
//!
//! Each is bounded and thread-safe (rustls's caches behind a mutex); cloning one
//! shares it. A context without one of these gets its own, as rustls does by default.

use std::fmt;
use std::sync::Arc;

use rustls::client::{ClientSessionMemoryCache, ClientSessionStore, ResolvesClientCert};
use rustls::server::{ProducesTickets, ServerSessionMemoryCache, StoresServerSessions};
use rustls::sign::CertifiedKey;
use rustls::SignatureScheme;

use crate::error::ConfigError;

/// How many TLS 1.3 tickets rustls keeps per server.
const TICKETS_PER_SERVER: usize = 8;

/// A bounded client session cache (TLS 1.3 tickets, TLS 1.2 session ids and tickets,
/// and the key exchange that worked), keyed by server name and shared by every
/// [`ClientContext`](crate::ClientContext) built with it.
///
/// rustls resumes a session only under the verifier that checked the server's
/// certificate: give the contexts one [shared](crate::ServerVerification::shared)
/// verification.
///
/// ```
/// use strait_tls::{ClientContext, ClientSessionCache, ServerVerification};
/// let cache = ClientSessionCache::new(64);
/// let verification = ServerVerification::Full(strait_tls::TrustRoots::mozilla()).shared()?;
/// let api = ClientContext::builder(verification.clone())
///     .alpn_protocols(&["http/1.1"])
///     .session_cache(cache.clone())
///     .build()?;
/// let sockets = ClientContext::builder(verification)
///     .session_cache(cache)
///     .build()?;
/// // A session `api` makes with a server, `sockets` resumes (and the other way round).
/// # Ok::<(), strait_tls::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct ClientSessionCache {
    pub(crate) store: Arc<dyn ClientSessionStore>,
    /// The one "no client certificate" resolver of the contexts sharing this cache.
    pub(crate) no_client_cert: Arc<dyn ResolvesClientCert>,
    max_servers: usize,
}

/// Presents no client certificate.
#[derive(Debug)]
struct NoClientCert;

impl ResolvesClientCert for NoClientCert {
    fn resolve(&self, _: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        None
    }

    fn has_certs(&self) -> bool {
        false
    }
}

impl ClientSessionCache {
    /// A cache remembering sessions with up to `max_servers` servers (up to 8 TLS 1.3
    /// tickets each); when full, the server added first is forgotten. `0` remembers
    /// nothing.
    pub fn new(max_servers: usize) -> Self {
        Self {
            store: Arc::new(ClientSessionMemoryCache::new(
                max_servers.saturating_mul(TICKETS_PER_SERVER),
            )),
            no_client_cert: Arc::new(NoClientCert),
            max_servers,
        }
    }

    /// A cache of your own (persistent, say), shared like this one.
    pub fn from_store(store: Arc<dyn ClientSessionStore>) -> Self {
        Self {
            store,
            no_client_cert: Arc::new(NoClientCert),
            max_servers: usize::MAX,
        }
    }

    /// The most servers remembered (`usize::MAX` for a store of your own).
    pub fn max_servers(&self) -> usize {
        self.max_servers
    }
}

impl fmt::Debug for ClientSessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSessionCache")
            .field("max_servers", &self.max_servers)
            .finish_non_exhaustive()
    }
}

/// A bounded server cache of TLS 1.2 sessions by session id (and of TLS 1.3 sessions
/// when tickets are off), shared by every [`ServerContext`](crate::ServerContext)
/// built with it.
#[derive(Clone)]
pub struct ServerSessionCache {
    pub(crate) store: Arc<dyn StoresServerSessions>,
    max_sessions: usize,
}

impl ServerSessionCache {
    /// A cache of up to about `max_sessions` sessions (rustls may round it up); when
    /// full, an arbitrary session is dropped for each new one.
    pub fn new(max_sessions: usize) -> Self {
        Self {
            store: ServerSessionMemoryCache::new(max_sessions),
            max_sessions,
        }
    }

    /// The bound given at creation.
    pub fn max_sessions(&self) -> usize {
        self.max_sessions
    }
}

impl fmt::Debug for ServerSessionCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSessionCache")
            .field("max_sessions", &self.max_sessions)
            .finish_non_exhaustive()
    }
}

/// Session-ticket keys: tickets sealed by one [`ServerContext`](crate::ServerContext)
/// open in every context built with the same keys. Random keys, rotated by rustls
/// (ChaCha20-Poly1305; a ticket lives at most 12 hours); nothing is stored per
/// session.
#[derive(Clone)]
pub struct TicketKeys {
    pub(crate) ticketer: Arc<dyn ProducesTickets>,
}

impl TicketKeys {
    /// Fresh random keys.
    pub fn new() -> Result<Self, ConfigError> {
        Ok(Self {
            ticketer: rustls::crypto::ring::Ticketer::new()?,
        })
    }
}

impl fmt::Debug for TicketKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TicketKeys")
            .field("lifetime_secs", &self.ticketer.lifetime())
            .finish_non_exhaustive()
    }
}
