//! The portable TLS context: identities (certificate chain and key), trust roots,
//! verification, client authentication, ALPN, SNI, versions, resumption and key logging,
//! built once and shared by every connection (an `Arc` inside, cheap to clone).

use std::path::Path;
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, ServerConfig, SignatureScheme};

use crate::error::ConfigError;
use crate::session::{ClientSessionCache, ServerSessionCache, TicketKeys};

/// The crypto provider every context uses: rustls's `ring` provider.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

pub use rustls::CipherSuite;

/// The ring provider restricted to `suites` (in the provider's order of preference),
/// or all of its suites when `suites` is empty.
fn provider_with(suites: &[CipherSuite]) -> Result<Arc<CryptoProvider>, ConfigError> {
    let mut provider = rustls::crypto::ring::default_provider();
    if !suites.is_empty() {
        provider
            .cipher_suites
            .retain(|s| suites.contains(&s.suite()));
        if provider.cipher_suites.is_empty() {
            return Err(ConfigError::NoCipherSuites);
        }
    }
    Ok(Arc::new(provider))
}

fn read_file(path: &Path) -> Result<Vec<u8>, ConfigError> {
    std::fs::read(path).map_err(|source| ConfigError::Io {
        path: path.to_owned(),
        source,
    })
}

fn pem_certs(pem: &[u8]) -> Result<Vec<CertificateDer<'static>>, ConfigError> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::Pem(e.to_string()))?;
    if certs.is_empty() {
        return Err(ConfigError::NoCertificates);
    }
    Ok(certs)
}

/// A TLS protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TlsVersion {
    /// TLS 1.2.
    Tls12,
    /// TLS 1.3.
    Tls13,
}

fn versions(list: &[TlsVersion]) -> Vec<&'static rustls::SupportedProtocolVersion> {
    list.iter()
        .map(|v| match v {
            TlsVersion::Tls12 => &rustls::version::TLS12,
            TlsVersion::Tls13 => &rustls::version::TLS13,
        })
        .collect()
}

/// A certificate chain (end entity first) and its private key: who we are.
#[derive(Debug)]
pub struct Identity {
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl Clone for Identity {
    fn clone(&self) -> Self {
        Self {
            chain: self.chain.clone(),
            key: self.key.clone_key(),
        }
    }
}

impl Identity {
    /// From PEM text: `chain_pem` holds the certificates (end entity first), `key_pem`
    /// a PKCS#8, PKCS#1 or SEC1 private key (the two may be the same text).
    pub fn from_pem(chain_pem: &[u8], key_pem: &[u8]) -> Result<Self, ConfigError> {
        let chain = pem_certs(chain_pem)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| match e {
            rustls::pki_types::pem::Error::NoItemsFound => ConfigError::NoPrivateKey,
            e => ConfigError::Pem(e.to_string()),
        })?;
        Ok(Self { chain, key })
    }

    /// From PEM files.
    pub fn from_pem_files(
        chain: impl AsRef<Path>,
        key: impl AsRef<Path>,
    ) -> Result<Self, ConfigError> {
        Self::from_pem(&read_file(chain.as_ref())?, &read_file(key.as_ref())?)
    }

    /// From DER: the certificates (end entity first) and a PKCS#8 private key.
    pub fn from_der(chain: Vec<Vec<u8>>, pkcs8_key: Vec<u8>) -> Result<Self, ConfigError> {
        if chain.is_empty() {
            return Err(ConfigError::NoCertificates);
        }
        Ok(Self {
            chain: chain.into_iter().map(CertificateDer::from).collect(),
            key: PrivateKeyDer::Pkcs8(pkcs8_key.into()),
        })
    }
}

/// A set of trusted root certificates.
#[derive(Debug, Clone)]
pub struct TrustRoots {
    store: RootCertStore,
}

impl Default for TrustRoots {
    fn default() -> Self {
        Self {
            store: RootCertStore::empty(),
        }
    }
}

impl TrustRoots {
    /// No roots (add some).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The Mozilla roots bundled in `webpki-roots`.
    #[cfg(feature = "webpki-roots")]
    pub fn mozilla() -> Self {
        Self {
            store: RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            },
        }
    }

    /// The platform's trust store (`rustls-native-certs`: the system bundle, or
    /// `SSL_CERT_FILE`/`SSL_CERT_DIR`). Fails if it yields no usable root.
    #[cfg(feature = "native-roots")]
    pub fn platform() -> Result<Self, ConfigError> {
        let found = rustls_native_certs::load_native_certs();
        let mut store = RootCertStore::empty();
        let (added, _) = store.add_parsable_certificates(found.certs);
        if added == 0 {
            let why = found
                .errors
                .first()
                .map(|e| e.to_string())
                .unwrap_or_else(|| "no certificate found".into());
            return Err(ConfigError::PlatformRoots(why));
        }
        Ok(Self { store })
    }

    /// Adds every certificate in PEM text.
    pub fn add_pem(&mut self, pem: &[u8]) -> Result<&mut Self, ConfigError> {
        for cert in pem_certs(pem)? {
            self.store
                .add(cert)
                .map_err(|e| ConfigError::BadRoot(e.to_string()))?;
        }
        Ok(self)
    }

    /// Adds every certificate in a PEM file.
    pub fn add_pem_file(&mut self, path: impl AsRef<Path>) -> Result<&mut Self, ConfigError> {
        self.add_pem(&read_file(path.as_ref())?)
    }

    /// Adds one DER certificate.
    pub fn add_der(&mut self, der: &[u8]) -> Result<&mut Self, ConfigError> {
        self.store
            .add(CertificateDer::from(der.to_vec()))
            .map_err(|e| ConfigError::BadRoot(e.to_string()))?;
        Ok(self)
    }

    /// How many roots.
    pub fn len(&self) -> usize {
        self.store.len()
    }

    /// Whether there are no roots.
    pub fn is_empty(&self) -> bool {
        self.store.is_empty()
    }
}

/// How a client checks the server's certificate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ServerVerification {
    /// Full verification (chain to a trusted root, validity period, server name).
    Full(TrustRoots),
    /// A verifier of your own.
    Custom(Arc<dyn ServerCertVerifier>),
    /// **Danger**: accept any certificate for any name (handshake signatures are still
    /// checked). For tests against self-signed peers only: it offers no protection
    /// against an active attacker.
    DangerAcceptAnyCertificate,
}

impl ServerVerification {
    /// Builds the verifier now, once: contexts built from clones of the result share
    /// it. Needed for a [`ClientSessionCache`] shared by several contexts, because
    /// rustls resumes a session only under the very verifier that checked it (a
    /// session vouched for by one trust policy is never resumed under another).
    /// [`Custom`](Self::Custom) is returned as it is.
    pub fn shared(self) -> Result<Self, ConfigError> {
        Ok(match self {
            Self::Full(roots) => Self::Custom(
                rustls::client::WebPkiServerVerifier::builder_with_provider(
                    Arc::new(roots.store),
                    provider(),
                )
                .build()
                .map_err(|e| ConfigError::BadRoot(e.to_string()))?,
            ),
            Self::DangerAcceptAnyCertificate => Self::Custom(Arc::new(AcceptAnyCertificate {
                algorithms: provider().signature_verification_algorithms,
            })),
            custom @ Self::Custom(_) => custom,
        })
    }
}

/// Whether and how a server asks clients for certificates.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub enum ClientAuth {
    /// Do not ask (the default).
    #[default]
    None,
    /// Ask; accept clients without a certificate, verify those that send one.
    Optional(TrustRoots),
    /// Require a certificate chaining to these roots.
    Required(TrustRoots),
}

/// A client or server context. Connections take the role's context
/// ([`ClientContext`] or [`ServerContext`]); this enum holds either where one place
/// stores both.
#[derive(Debug, Clone)]
pub enum TlsContext {
    /// A client context.
    Client(ClientContext),
    /// A server context.
    Server(ServerContext),
}

impl TlsContext {
    /// Starts a client context (see [`ClientContextBuilder`]).
    pub fn client(verification: ServerVerification) -> ClientContextBuilder {
        ClientContext::builder(verification)
    }

    /// Starts a server context presenting `identity`.
    pub fn server(identity: Identity) -> ServerContextBuilder {
        ServerContext::builder(identity)
    }
}

impl From<ClientContext> for TlsContext {
    fn from(ctx: ClientContext) -> Self {
        Self::Client(ctx)
    }
}

impl From<ServerContext> for TlsContext {
    fn from(ctx: ServerContext) -> Self {
        Self::Server(ctx)
    }
}

/// A client configuration: made once, shared by every connection.
#[derive(Debug, Clone)]
pub struct ClientContext {
    pub(crate) config: Arc<ClientConfig>,
}

impl ClientContext {
    /// Starts a builder with the given server verification.
    pub fn builder(verification: ServerVerification) -> ClientContextBuilder {
        ClientContextBuilder {
            verification,
            identity: None,
            alpn: Vec::new(),
            versions: vec![TlsVersion::Tls13, TlsVersion::Tls12],
            sni: true,
            resumption: true,
            session_cache: None,
            key_log: false,
            suites: Vec::new(),
        }
    }

    /// A client verifying servers against the bundled Mozilla roots.
    #[cfg(feature = "webpki-roots")]
    pub fn with_mozilla_roots() -> Self {
        Self::builder(ServerVerification::Full(TrustRoots::mozilla()))
            .build()
            .expect("the default client configuration is valid")
    }

    /// The rustls configuration, for settings this crate does not wrap.
    pub fn rustls_config(&self) -> &Arc<ClientConfig> {
        &self.config
    }

    /// From a rustls configuration made elsewhere.
    pub fn from_rustls(config: Arc<ClientConfig>) -> Self {
        Self { config }
    }
}

/// Builds a [`ClientContext`].
#[derive(Debug)]
pub struct ClientContextBuilder {
    verification: ServerVerification,
    identity: Option<Identity>,
    alpn: Vec<Vec<u8>>,
    versions: Vec<TlsVersion>,
    sni: bool,
    resumption: bool,
    session_cache: Option<ClientSessionCache>,
    key_log: bool,
    suites: Vec<CipherSuite>,
}

impl ClientContextBuilder {
    /// Presents `identity` when the server asks for a client certificate.
    pub fn identity(mut self, identity: Identity) -> Self {
        self.identity = Some(identity);
        self
    }

    /// The application protocols to offer (ALPN), most preferred first.
    pub fn alpn_protocols<P: AsRef<[u8]>>(mut self, protocols: &[P]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// The protocol versions to offer (default: TLS 1.3 and 1.2).
    pub fn versions(mut self, versions: &[TlsVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Restricts the cipher suites to `suites` (default: all of the ring provider's,
    /// in its order). Versions without a suite left are not offered.
    pub fn cipher_suites(mut self, suites: &[CipherSuite]) -> Self {
        self.suites = suites.to_vec();
        self
    }

    /// Whether to send the server name (SNI) in the ClientHello (default: yes).
    pub fn sni(mut self, enabled: bool) -> Self {
        self.sni = enabled;
        self
    }

    /// Whether to cache sessions and resume them (tickets, default: yes). Each context
    /// has its own cache (256 sessions) unless [`session_cache`](Self::session_cache)
    /// gives a shared one.
    pub fn resumption(mut self, enabled: bool) -> Self {
        self.resumption = enabled;
        self
    }

    /// Caches sessions in `cache`, shared with the other contexts built with it: a
    /// session one of them made resumes from any of them, on any thread, when they
    /// verify servers with one [shared](ServerVerification::shared) verifier and
    /// present no client certificate (rustls resumes a session only under the
    /// verifier and the client identity it was made with; a context presenting a
    /// certificate resumes its own sessions). Ignored when
    /// [`resumption`](Self::resumption) is off.
    pub fn session_cache(mut self, cache: ClientSessionCache) -> Self {
        self.session_cache = Some(cache);
        self
    }

    /// Whether to log session secrets to the file named by `SSLKEYLOGFILE` (for
    /// Wireshark; default: no).
    pub fn key_log(mut self, enabled: bool) -> Self {
        self.key_log = enabled;
        self
    }

    /// Builds the context.
    pub fn build(self) -> Result<ClientContext, ConfigError> {
        let builder = ClientConfig::builder_with_provider(provider_with(&self.suites)?)
            .with_protocol_versions(&versions(&self.versions))?;
        let builder = match self.verification {
            ServerVerification::Full(roots) => builder.with_root_certificates(roots.store),
            ServerVerification::Custom(verifier) => builder
                .dangerous()
                .with_custom_certificate_verifier(verifier),
            ServerVerification::DangerAcceptAnyCertificate => builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCertificate {
                    algorithms: provider().signature_verification_algorithms,
                })),
        };
        let mut config = match (self.identity, &self.session_cache) {
            (Some(id), _) => builder.with_client_auth_cert(id.chain, id.key)?,
            // Contexts sharing a cache share the "no certificate" answer too: rustls
            // resumes only under the same one.
            (None, Some(cache)) => builder.with_client_cert_resolver(cache.no_client_cert.clone()),
            (None, None) => builder.with_no_client_auth(),
        };
        config.alpn_protocols = self.alpn;
        config.enable_sni = self.sni;
        if !self.resumption {
            config.resumption = rustls::client::Resumption::disabled();
        } else if let Some(cache) = self.session_cache {
            config.resumption = rustls::client::Resumption::store(cache.store);
        }
        if self.key_log {
            config.key_log = Arc::new(rustls::KeyLogFile::new());
        }
        Ok(ClientContext {
            config: Arc::new(config),
        })
    }
}

/// A server configuration: made once, shared by every connection.
#[derive(Debug, Clone)]
pub struct ServerContext {
    pub(crate) config: Arc<ServerConfig>,
}

impl ServerContext {
    /// Starts a builder presenting `identity`.
    pub fn builder(identity: Identity) -> ServerContextBuilder {
        ServerContextBuilder {
            identity,
            client_auth: ClientAuth::None,
            alpn: Vec::new(),
            versions: vec![TlsVersion::Tls13, TlsVersion::Tls12],
            tickets: true,
            ticket_keys: None,
            session_cache: None,
            key_log: false,
            suites: Vec::new(),
        }
    }

    /// The rustls configuration, for settings this crate does not wrap.
    pub fn rustls_config(&self) -> &Arc<ServerConfig> {
        &self.config
    }

    /// From a rustls configuration made elsewhere.
    pub fn from_rustls(config: Arc<ServerConfig>) -> Self {
        Self { config }
    }
}

/// Builds a [`ServerContext`].
#[derive(Debug)]
pub struct ServerContextBuilder {
    identity: Identity,
    client_auth: ClientAuth,
    alpn: Vec<Vec<u8>>,
    versions: Vec<TlsVersion>,
    tickets: bool,
    ticket_keys: Option<TicketKeys>,
    session_cache: Option<ServerSessionCache>,
    key_log: bool,
    suites: Vec<CipherSuite>,
}

impl ServerContextBuilder {
    /// Whether to ask clients for certificates (default: no).
    pub fn client_auth(mut self, auth: ClientAuth) -> Self {
        self.client_auth = auth;
        self
    }

    /// The application protocols to accept (ALPN), most preferred first. A client
    /// offering protocols but none of these fails with `no_application_protocol`.
    pub fn alpn_protocols<P: AsRef<[u8]>>(mut self, protocols: &[P]) -> Self {
        self.alpn = protocols.iter().map(|p| p.as_ref().to_vec()).collect();
        self
    }

    /// The protocol versions to accept (default: TLS 1.3 and 1.2).
    pub fn versions(mut self, versions: &[TlsVersion]) -> Self {
        self.versions = versions.to_vec();
        self
    }

    /// Restricts the cipher suites to `suites` (default: all of the ring provider's,
    /// in its order). Versions without a suite left are not offered.
    pub fn cipher_suites(mut self, suites: &[CipherSuite]) -> Self {
        self.suites = suites.to_vec();
        self
    }

    /// Whether to issue session tickets for resumption (default: yes; without them
    /// the server still resumes from its in-memory session cache).
    pub fn session_tickets(mut self, enabled: bool) -> Self {
        self.tickets = enabled;
        self
    }

    /// Seals tickets with `keys`, shared with the other contexts built with them: a
    /// ticket one of them issued resumes through any of them. Implies
    /// [`session_tickets`](Self::session_tickets)`(true)`; without it each context
    /// has keys of its own.
    pub fn ticket_keys(mut self, keys: TicketKeys) -> Self {
        self.tickets = true;
        self.ticket_keys = Some(keys);
        self
    }

    /// Keeps sessions resumable by id (TLS 1.2 without tickets, TLS 1.3 with tickets
    /// off) in `cache`, shared with the other contexts built with it. Without it each
    /// context has its own cache of 256 sessions.
    pub fn session_cache(mut self, cache: ServerSessionCache) -> Self {
        self.session_cache = Some(cache);
        self
    }

    /// Whether to log session secrets to the file named by `SSLKEYLOGFILE`.
    pub fn key_log(mut self, enabled: bool) -> Self {
        self.key_log = enabled;
        self
    }

    /// Builds the context.
    pub fn build(self) -> Result<ServerContext, ConfigError> {
        let provider = provider_with(&self.suites)?;
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&versions(&self.versions))?;
        let client_verifier = |roots: TrustRoots, optional: bool| {
            let b = WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots.store),
                provider.clone(),
            );
            let b = if optional {
                b.allow_unauthenticated()
            } else {
                b
            };
            b.build()
                .map_err(|e| ConfigError::BadRoot(format!("client roots: {e}")))
        };
        let builder = match self.client_auth {
            ClientAuth::None => builder.with_no_client_auth(),
            ClientAuth::Optional(roots) => {
                builder.with_client_cert_verifier(client_verifier(roots, true)?)
            }
            ClientAuth::Required(roots) => {
                builder.with_client_cert_verifier(client_verifier(roots, false)?)
            }
        };
        let mut config = builder.with_single_cert(self.identity.chain, self.identity.key)?;
        config.alpn_protocols = self.alpn;
        if let Some(keys) = self.ticket_keys {
            config.ticketer = keys.ticketer;
        } else if self.tickets {
            config.ticketer = rustls::crypto::ring::Ticketer::new()?;
        }
        if let Some(cache) = self.session_cache {
            config.session_storage = cache.store;
        }
        if self.key_log {
            config.key_log = Arc::new(rustls::KeyLogFile::new());
        }
        Ok(ServerContext {
            config: Arc::new(config),
        })
    }
}

/// [`ServerVerification::DangerAcceptAnyCertificate`]: checks handshake signatures
/// only.
#[derive(Debug)]
struct AcceptAnyCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}
