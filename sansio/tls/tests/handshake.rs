//! Handshakes over an in-memory pair: round trips, ALPN, SNI, client certificates,
//! resumption, and every bad certificate failing with its typed error.

mod common;

use common::*;
use strait_streams::{ReadStreamExt, WriteStreamExt};
use strait_tls::{
    AlertDescription, ClientAuth, ClientContext, ServerContext, ServerVerification, TlsError,
    TlsVersion,
};
use time::Duration;

async fn round_trip(c: &mut Tls, s: &mut Tls, msg: &[u8]) {
    let mut buf = vec![0u8; msg.len()];
    let write = async {
        strait_streams::write_all(c, msg).await?; // flushes at its end
        Ok(())
    };
    let read = async {
        let mut got = 0;
        while got < msg.len() {
            got += s.read(&mut buf[got..]).await?;
        }
        Ok::<_, std::io::Error>(())
    };
    strait_streams::when_all((write, read)).await.unwrap();
    assert_eq!(buf, msg);
}

/// The client's result: a TLS 1.3 client finishes its handshake before the server
/// checks its certificate, so the server's refusal may arrive on the first read.
async fn client_result(c: &mut Tls, rc: std::io::Result<()>) -> std::io::Result<()> {
    rc?;
    let mut buf = [0u8; 1];
    c.read(&mut buf[..]).await.map(drop)
}

#[test]
fn round_trip_both_ways_on_tls13_and_tls12() {
    let ca = Ca::new("test CA");
    for version in [TlsVersion::Tls13, TlsVersion::Tls12] {
        let client = ClientContext::builder(ServerVerification::Full(ca.roots()))
            .versions(&[version])
            .build()
            .unwrap();
        let server = server_ctx(ca.issue(&["localhost"]));
        run_bounded(async {
            let (mut c, mut s) = connected(&client, "localhost", &server).await;
            assert_eq!(c.protocol_version(), Some(version));
            assert_eq!(s.protocol_version(), Some(version));
            assert!(c.cipher_suite().is_some());
            round_trip(&mut c, &mut s, b"ping").await;
            round_trip(&mut s, &mut c, b"pong").await;
            round_trip(&mut c, &mut s, &vec![7u8; 100_000]).await;
        });
    }
}

#[test]
fn lazy_handshake_on_first_io() {
    let ca = Ca::new("test CA");
    let (client, server) = (client_ctx(&ca), server_ctx(ca.issue(&["localhost"])));
    let (mut c, mut s) = pair(&client, "localhost", &server);
    run_bounded(async {
        let task = strait_streams::spawn(async move {
            let mut buf = [0u8; 3];
            let n = s.read(&mut buf[..]).await.unwrap();
            assert_eq!(&buf[..n], b"abc");
        });
        assert!(c.is_handshaking());
        c.write(&b"abc"[..]).await.unwrap();
        c.flush().await.unwrap();
        assert!(!c.is_handshaking());
        task.await.unwrap();
    });
}

#[test]
fn alpn_agrees_on_the_servers_choice() {
    let ca = Ca::new("test CA");
    let client = ClientContext::builder(ServerVerification::Full(ca.roots()))
        .alpn_protocols(&["h2", "http/1.1"])
        .build()
        .unwrap();
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .alpn_protocols(&["http/1.1"])
        .build()
        .unwrap();
    run_bounded(async {
        let (c, s) = connected(&client, "localhost", &server).await;
        assert_eq!(c.alpn_protocol(), Some(&b"http/1.1"[..]));
        assert_eq!(s.alpn_protocol(), Some(&b"http/1.1"[..]));
    });
}

#[test]
fn alpn_without_a_common_protocol_fails_typed() {
    let ca = Ca::new("test CA");
    let client = ClientContext::builder(ServerVerification::Full(ca.roots()))
        .alpn_protocols(&["h2"])
        .build()
        .unwrap();
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .alpn_protocols(&["http/1.1"])
        .build()
        .unwrap();
    run_bounded(async {
        let (mut c, mut s) = pair(&client, "localhost", &server);
        let (rc, rs) = handshake_both(&mut c, &mut s).await;
        assert!(matches!(tls_error(&rs), TlsError::NoApplicationProtocol));
        assert!(matches!(
            tls_error(&rc),
            TlsError::AlertReceived(AlertDescription::NoApplicationProtocol)
        ));
    });
}

#[test]
fn sni_reaches_the_server_and_can_be_turned_off() {
    let ca = Ca::new("test CA");
    let server = server_ctx(ca.issue(&["example.test"]));
    run_bounded(async {
        let (_c, s) = connected(&client_ctx(&ca), "example.test", &server).await;
        assert_eq!(s.sni_hostname(), Some("example.test"));
        let no_sni = ClientContext::builder(ServerVerification::Full(ca.roots()))
            .sni(false)
            .build()
            .unwrap();
        let (_c, s) = connected(&no_sni, "example.test", &server).await;
        assert_eq!(s.sni_hostname(), None);
    });
}

#[test]
fn client_certificates_required_and_checked() {
    let ca = Ca::new("test CA");
    let client_ca = Ca::new("client CA");
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .client_auth(ClientAuth::Required(client_ca.roots()))
        .build()
        .unwrap();
    let with_cert = ClientContext::builder(ServerVerification::Full(ca.roots()))
        .identity(client_ca.issue(&["client"]))
        .build()
        .unwrap();
    run_bounded(async {
        let (c, s) = connected(&with_cert, "localhost", &server).await;
        assert!(s.peer_certificates().is_some_and(|chain| !chain.is_empty()));
        drop(c);

        // No certificate: the server refuses.
        let (mut c, mut s) = pair(&client_ctx(&ca), "localhost", &server);
        let (rc, rs) = handshake_both(&mut c, &mut s).await;
        assert!(matches!(tls_error(&rs), TlsError::NoCertificate), "{rs:?}");
        let rc = client_result(&mut c, rc).await;
        assert!(
            matches!(
                tls_error(&rc),
                TlsError::AlertReceived(AlertDescription::CertificateRequired)
            ),
            "{rc:?}"
        );

        // A certificate from a CA the server does not trust.
        let stranger = ClientContext::builder(ServerVerification::Full(ca.roots()))
            .identity(Ca::new("other").issue(&["client"]))
            .build()
            .unwrap();
        let (mut c, mut s) = pair(&stranger, "localhost", &server);
        let (rc, rs) = handshake_both(&mut c, &mut s).await;
        assert!(matches!(tls_error(&rs), TlsError::UnknownIssuer), "{rs:?}");
        let rc = client_result(&mut c, rc).await;
        assert!(
            matches!(
                tls_error(&rc),
                TlsError::AlertReceived(AlertDescription::UnknownCA)
            ),
            "{rc:?}"
        );
    });
}

#[test]
fn sessions_resume_on_tls13_and_tls12() {
    let ca = Ca::new("test CA");
    let server = server_ctx(ca.issue(&["localhost"]));
    for version in [TlsVersion::Tls13, TlsVersion::Tls12] {
        let client = ClientContext::builder(ServerVerification::Full(ca.roots()))
            .versions(&[version])
            .build()
            .unwrap();
        run_bounded(async {
            let (mut c, mut s) = connected(&client, "localhost", &server).await;
            // TLS 1.3 tickets arrive after the handshake: read them in.
            round_trip(&mut s, &mut c, b"x").await;
            assert!(!c.is_resumed());
            let (c2, s2) = connected(&client, "localhost", &server).await;
            assert!(c2.is_resumed(), "{version:?}");
            assert!(s2.is_resumed(), "{version:?}");
        });
        // Without resumption every handshake is full.
        let fresh = ClientContext::builder(ServerVerification::Full(ca.roots()))
            .versions(&[version])
            .resumption(false)
            .build()
            .unwrap();
        run_bounded(async {
            let (mut c, mut s) = connected(&fresh, "localhost", &server).await;
            round_trip(&mut s, &mut c, b"x").await;
            let (c2, _) = connected(&fresh, "localhost", &server).await;
            assert!(!c2.is_resumed(), "{version:?}");
        });
    }
}

/// Handshakes `client` against `server` and returns the client's error.
fn client_fails(client: &ClientContext, name: &str, server: &ServerContext) -> TlsError {
    run_bounded(async {
        let (mut c, mut s) = pair(client, name, server);
        let (rc, rs) = handshake_both(&mut c, &mut s).await;
        // The server hears why from the client's alert.
        assert!(
            matches!(tls_error(&rs), TlsError::AlertReceived(_)),
            "server: {rs:?}"
        );
        tls_error(&rc).clone()
    })
}

#[test]
fn expired_certificate_fails_typed() {
    let ca = Ca::new("test CA");
    let id = ca.issue_valid(&["localhost"], -Duration::days(30), -Duration::days(1));
    let err = client_fails(&client_ctx(&ca), "localhost", &server_ctx(id));
    assert!(matches!(err, TlsError::CertificateExpired), "{err:?}");
}

#[test]
fn not_yet_valid_certificate_fails_typed() {
    let ca = Ca::new("test CA");
    let id = ca.issue_valid(&["localhost"], Duration::days(1), Duration::days(30));
    let err = client_fails(&client_ctx(&ca), "localhost", &server_ctx(id));
    assert!(matches!(err, TlsError::CertificateNotYetValid), "{err:?}");
}

#[test]
fn wrong_host_fails_typed() {
    let ca = Ca::new("test CA");
    let id = ca.issue(&["other.test"]);
    let err = client_fails(&client_ctx(&ca), "localhost", &server_ctx(id));
    assert!(matches!(err, TlsError::WrongHost), "{err:?}");
}

#[test]
fn self_signed_certificate_fails_as_unknown_issuer() {
    let ca = Ca::new("test CA");
    let (id, _) = self_signed(&["localhost"]);
    let err = client_fails(&client_ctx(&ca), "localhost", &server_ctx(id));
    assert!(matches!(err, TlsError::UnknownIssuer), "{err:?}");
}

#[test]
fn unknown_issuer_fails_typed() {
    let ca = Ca::new("test CA");
    let id = Ca::new("someone else").issue(&["localhost"]);
    let err = client_fails(&client_ctx(&ca), "localhost", &server_ctx(id));
    assert!(matches!(err, TlsError::UnknownIssuer), "{err:?}");
}

#[test]
fn danger_mode_accepts_a_self_signed_certificate() {
    let (id, _) = self_signed(&["localhost"]);
    let client = ClientContext::builder(ServerVerification::DangerAcceptAnyCertificate)
        .build()
        .unwrap();
    run_bounded(async {
        let (mut c, mut s) = connected(&client, "wrong.name", &server_ctx(id)).await;
        round_trip(&mut c, &mut s, b"trusting").await;
    });
}

#[test]
fn a_self_signed_certificate_trusted_explicitly_works() {
    let (id, pem) = self_signed(&["localhost"]);
    let mut roots = strait_tls::TrustRoots::empty();
    roots.add_pem(pem.as_bytes()).unwrap();
    let client = ClientContext::builder(ServerVerification::Full(roots))
        .build()
        .unwrap();
    run_bounded(async {
        connected(&client, "localhost", &server_ctx(id)).await;
    });
}

#[test]
fn bad_configuration_is_typed() {
    use strait_tls::{ConfigError, Identity};
    assert!(matches!(
        Identity::from_pem(b"not pem", b"not pem"),
        Err(ConfigError::NoCertificates)
    ));
    let (_, pem) = self_signed(&["localhost"]);
    assert!(matches!(
        Identity::from_pem(pem.as_bytes(), b""),
        Err(ConfigError::NoPrivateKey)
    ));
    assert!(matches!(
        Identity::from_pem_files("/nonexistent/cert.pem", "/nonexistent/key.pem"),
        Err(ConfigError::Io { .. })
    ));
    let ca = Ca::new("test CA");
    let (a, _b) = strait_streams::duplex(1024);
    assert!(matches!(
        strait_tls::TlsStream::connect(&client_ctx(&ca), "not a name!", a),
        Err(ConfigError::InvalidServerName(_))
    ));
    #[cfg(feature = "webpki-roots")]
    assert!(strait_tls::TrustRoots::mozilla().len() > 100);
}

#[test]
fn cipher_suites_can_be_chosen() {
    use strait_tls::CipherSuite;
    let ca = Ca::new("test CA");
    let chacha = CipherSuite::TLS13_CHACHA20_POLY1305_SHA256;
    let client = ClientContext::builder(ServerVerification::Full(ca.roots()))
        .cipher_suites(&[chacha])
        .build()
        .unwrap();
    let server = server_ctx(ca.issue(&["localhost"]));
    run_bounded(async {
        let (c, s) = connected(&client, "localhost", &server).await;
        assert_eq!(c.cipher_suite(), Some("TLS13_CHACHA20_POLY1305_SHA256"));
        assert_eq!(s.cipher_suite(), c.cipher_suite());
    });
    // No suite in common: the server says so, typed.
    let aes_only = ServerContext::builder(ca.issue(&["localhost"]))
        .cipher_suites(&[CipherSuite::TLS13_AES_128_GCM_SHA256])
        .build()
        .unwrap();
    run_bounded(async {
        let (mut c, mut s) = pair(&client, "localhost", &aes_only);
        let (rc, rs) = handshake_both(&mut c, &mut s).await;
        assert!(matches!(tls_error(&rs), TlsError::Incompatible), "{rs:?}");
        assert!(
            matches!(
                tls_error(&rc),
                TlsError::AlertReceived(AlertDescription::HandshakeFailure)
            ),
            "{rc:?}"
        );
    });
    assert!(matches!(
        ClientContext::builder(ServerVerification::Full(ca.roots()))
            .cipher_suites(&[CipherSuite::TLS_RSA_WITH_AES_128_CBC_SHA])
            .build(),
        Err(strait_tls::ConfigError::NoCipherSuites)
    ));
}
