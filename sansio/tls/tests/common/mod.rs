//! Certificates made with rcgen and a client↔server pair over an in-memory duplex.
#![allow(dead_code)]

use std::io;

use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use strait_streams::{duplex, when_all, DuplexStream};
use strait_tls::{
    ClientContext, Identity, ServerContext, ServerVerification, TlsStream, TrustRoots,
};
use time::{Duration, OffsetDateTime};

/// A certificate authority.
pub struct Ca {
    pub cert: rcgen::Certificate,
    pub key: KeyPair,
}

impl Ca {
    pub fn new(name: &str) -> Self {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let key = KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        Self { cert, key }
    }

    pub fn pem(&self) -> String {
        self.cert.pem()
    }

    pub fn roots(&self) -> TrustRoots {
        let mut roots = TrustRoots::empty();
        roots.add_pem(self.pem().as_bytes()).unwrap();
        roots
    }

    /// A leaf for `names`, valid over `[now + from, now + to]`.
    pub fn issue_valid(&self, names: &[&str], from: Duration, to: Duration) -> Identity {
        let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
        let mut params = CertificateParams::new(names).unwrap();
        let now = OffsetDateTime::now_utc();
        params.not_before = now + from;
        params.not_after = now + to;
        let key = KeyPair::generate().unwrap();
        let cert = params.signed_by(&key, &self.cert, &self.key).unwrap();
        Identity::from_pem(cert.pem().as_bytes(), key.serialize_pem().as_bytes()).unwrap()
    }

    /// A leaf for `names`, valid from a day ago for a year.
    pub fn issue(&self, names: &[&str]) -> Identity {
        self.issue_valid(names, -Duration::days(1), Duration::days(365))
    }
}

/// A self-signed leaf for `names`: (identity, its PEM certificate).
pub fn self_signed(names: &[&str]) -> (Identity, String) {
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let certified = rcgen::generate_simple_self_signed(names).unwrap();
    let pem = certified.cert.pem();
    let id = Identity::from_pem(
        pem.as_bytes(),
        certified.key_pair.serialize_pem().as_bytes(),
    )
    .unwrap();
    (id, pem)
}

pub fn client_ctx(ca: &Ca) -> ClientContext {
    ClientContext::builder(ServerVerification::Full(ca.roots()))
        .build()
        .unwrap()
}

pub fn server_ctx(id: Identity) -> ServerContext {
    ServerContext::builder(id).build().unwrap()
}

pub type Tls = TlsStream<DuplexStream>;

/// A client and a server over a fresh duplex pair, not handshaken yet.
pub fn pair(client: &ClientContext, name: &str, server: &ServerContext) -> (Tls, Tls) {
    let (a, b) = duplex(64 * 1024);
    (
        TlsStream::connect(client, name, a).unwrap(),
        TlsStream::accept(server, b).unwrap(),
    )
}

/// Runs both handshakes to their ends and returns both results.
pub async fn handshake_both(c: &mut Tls, s: &mut Tls) -> (io::Result<()>, io::Result<()>) {
    let both = when_all((async { Ok::<_, ()>(c.handshake().await) }, async {
        Ok::<_, ()>(s.handshake().await)
    }))
    .await;
    both.unwrap()
}

/// A handshaken pair.
pub async fn connected(client: &ClientContext, name: &str, server: &ServerContext) -> (Tls, Tls) {
    let (mut c, mut s) = pair(client, name, server);
    let (rc, rs) = handshake_both(&mut c, &mut s).await;
    rc.unwrap();
    rs.unwrap();
    (c, s)
}

/// The typed error in an I/O result, or a panic saying what came instead.
pub fn tls_error(result: &io::Result<()>) -> &strait_tls::TlsError {
    let err = result.as_ref().expect_err("expected a TLS error");
    strait_tls::TlsError::from_io(err).unwrap_or_else(|| panic!("not a TLS error: {err:?}"))
}

/// Runs `f` to its end, failing (instead of hanging) if it takes more than 10 s.
pub fn run_bounded<T>(f: impl std::future::Future<Output = T>) -> T {
    let bounded =
        strait_streams::timeout(std::time::Duration::from_secs(10), async { Ok(f.await) });
    strait_streams::block_on(bounded).expect("hung: still running after 10 s")
}
