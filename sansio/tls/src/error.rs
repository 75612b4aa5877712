//! Typed errors: what failed in a handshake or a session ([`TlsError`]) and what was
//! wrong with a configuration ([`ConfigError`]).
//!
//! Stream operations return `io::Error`; a TLS failure carries a [`TlsError`] inside,
//! which [`TlsError::from_io`] gets back.

use std::fmt;
use std::io;

pub use rustls::AlertDescription;
use rustls::{CertificateError, Error as RustlsError};

/// Why a TLS handshake or session failed. Each variant says what a user can act on;
/// [`TlsError::Rustls`] keeps the rest of rustls's detail.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum TlsError {
    /// The peer's certificate has expired.
    CertificateExpired,
    /// The peer's certificate is not valid yet (its `notBefore` is in the future).
    CertificateNotYetValid,
    /// The peer's certificate is not valid for the name we connected to.
    WrongHost,
    /// The peer's certificate chain does not lead to a trusted root (a self-signed
    /// certificate that is not itself a trusted root fails this way too).
    UnknownIssuer,
    /// The peer's certificate was revoked.
    CertificateRevoked,
    /// The peer's certificate is otherwise unacceptable (bad signature, encoding,
    /// usage, ...).
    BadCertificate(CertificateError),
    /// The peer sent no certificate where one is required (client authentication).
    NoCertificate,
    /// The peer ended the handshake or session with this fatal alert (it rejected our
    /// certificate, our parameters, ...).
    AlertReceived(AlertDescription),
    /// No application protocol (ALPN) in common with the peer.
    NoApplicationProtocol,
    /// The peer sent bytes that are not TLS (garbage instead of a ClientHello, a
    /// corrupted or oversized record).
    InvalidMessage,
    /// The peer supports no protocol version, cipher suite or key exchange in common
    /// with us.
    Incompatible,
    /// The transport reached end of stream before the handshake completed.
    HandshakeEof,
    /// The transport reached end of stream without the peer's `close_notify`: the data
    /// may have been cut short by an attacker. Allowed with
    /// [`TlsStream::set_allow_truncation`](crate::TlsStream::set_allow_truncation).
    Truncated,
    /// Any other TLS failure, as rustls reports it.
    Rustls(RustlsError),
}

impl TlsError {
    /// The [`TlsError`] inside an `io::Error` returned by a TLS stream, if any.
    pub fn from_io(err: &io::Error) -> Option<&TlsError> {
        err.get_ref()?.downcast_ref::<TlsError>()
    }

    /// The alert we send the peer for this failure, if it is one we detected.
    pub fn alert(&self) -> Option<AlertDescription> {
        Some(match self {
            Self::CertificateExpired => AlertDescription::CertificateExpired,
            Self::CertificateNotYetValid => AlertDescription::CertificateExpired,
            Self::WrongHost => AlertDescription::CertificateUnknown,
            Self::UnknownIssuer => AlertDescription::UnknownCA,
            Self::CertificateRevoked => AlertDescription::CertificateRevoked,
            Self::BadCertificate(_) => AlertDescription::BadCertificate,
            Self::NoCertificate => AlertDescription::CertificateRequired,
            Self::NoApplicationProtocol => AlertDescription::NoApplicationProtocol,
            Self::InvalidMessage => AlertDescription::DecodeError,
            Self::Incompatible => AlertDescription::HandshakeFailure,
            Self::AlertReceived(_) | Self::HandshakeEof | Self::Truncated | Self::Rustls(_) => {
                return None
            }
        })
    }

    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Self::HandshakeEof | Self::Truncated => io::ErrorKind::UnexpectedEof,
            Self::AlertReceived(_) => io::ErrorKind::ConnectionAborted,
            _ => io::ErrorKind::InvalidData,
        }
    }
}

impl From<RustlsError> for TlsError {
    fn from(err: RustlsError) -> Self {
        match err {
            RustlsError::InvalidCertificate(cert) => match cert {
                CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                    Self::CertificateExpired
                }
                CertificateError::NotValidYet | CertificateError::NotValidYetContext { .. } => {
                    Self::CertificateNotYetValid
                }
                CertificateError::NotValidForName
                | CertificateError::NotValidForNameContext { .. } => Self::WrongHost,
                CertificateError::UnknownIssuer => Self::UnknownIssuer,
                CertificateError::Revoked => Self::CertificateRevoked,
                other => Self::BadCertificate(other),
            },
            RustlsError::NoCertificatesPresented => Self::NoCertificate,
            RustlsError::AlertReceived(alert) => Self::AlertReceived(alert),
            RustlsError::NoApplicationProtocol => Self::NoApplicationProtocol,
            RustlsError::InvalidMessage(_) => Self::InvalidMessage,
            RustlsError::PeerIncompatible(_) => Self::Incompatible,
            other => Self::Rustls(other),
        }
    }
}

impl From<TlsError> for io::Error {
    fn from(err: TlsError) -> Self {
        io::Error::new(err.io_kind(), err)
    }
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::CertificateExpired => f.write_str("TLS: the peer's certificate has expired"),
            Self::CertificateNotYetValid => {
                f.write_str("TLS: the peer's certificate is not valid yet")
            }
            Self::WrongHost => {
                f.write_str("TLS: the peer's certificate is not valid for the server name")
            }
            Self::UnknownIssuer => f.write_str(
                "TLS: the peer's certificate is not issued by a trusted root (unknown issuer or self-signed)",
            ),
            Self::CertificateRevoked => f.write_str("TLS: the peer's certificate was revoked"),
            Self::BadCertificate(e) => write!(f, "TLS: bad peer certificate: {e:?}"),
            Self::NoCertificate => f.write_str("TLS: the peer presented no certificate"),
            Self::AlertReceived(a) => write!(f, "TLS: the peer sent a fatal alert: {a:?}"),
            Self::NoApplicationProtocol => {
                f.write_str("TLS: no application protocol (ALPN) in common with the peer")
            }
            Self::InvalidMessage => f.write_str("TLS: the peer sent data that is not valid TLS"),
            Self::Incompatible => {
                f.write_str("TLS: no protocol version or cipher suite in common with the peer")
            }
            Self::HandshakeEof => {
                f.write_str("TLS: the connection closed before the handshake completed")
            }
            Self::Truncated => f.write_str(
                "TLS: the connection closed without close_notify (the data may be truncated)",
            ),
            Self::Rustls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for TlsError {}

/// What was wrong with a TLS configuration (certificates, keys, roots, options).
#[derive(Debug)]
#[non_exhaustive]
pub enum ConfigError {
    /// A file could not be read.
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// Why.
        source: io::Error,
    },
    /// PEM text could not be parsed.
    Pem(String),
    /// No certificate was found where a certificate chain was expected.
    NoCertificates,
    /// No private key was found where one was expected.
    NoPrivateKey,
    /// A trust root was rejected.
    BadRoot(String),
    /// The platform trust store could not be loaded (or held no usable root).
    PlatformRoots(String),
    /// None of the chosen cipher suites is supported.
    NoCipherSuites,
    /// The server name to connect to is neither a DNS name nor an IP address.
    InvalidServerName(String),
    /// rustls rejected the configuration (a key that does not match its certificate,
    /// no protocol version in common with the cipher suites, ...).
    Rustls(RustlsError),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Self::Pem(e) => write!(f, "invalid PEM: {e}"),
            Self::NoCertificates => f.write_str("no certificate found"),
            Self::NoPrivateKey => f.write_str("no private key found"),
            Self::BadRoot(e) => write!(f, "trust root rejected: {e}"),
            Self::PlatformRoots(e) => write!(f, "cannot load the platform's trust roots: {e}"),
            Self::NoCipherSuites => f.write_str("none of the chosen cipher suites is supported"),
            Self::InvalidServerName(n) => write!(f, "invalid server name {n:?}"),
            Self::Rustls(e) => write!(f, "TLS configuration rejected: {e}"),
        }
    }
}

impl std::error::Error for ConfigError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { source, .. } => Some(source),
            Self::Rustls(e) => Some(e),
            _ => None,
        }
    }
}

impl From<RustlsError> for ConfigError {
    fn from(err: RustlsError) -> Self {
        Self::Rustls(err)
    }
}
