//! Session state shared between contexts: one bounded client session cache used by
//! several client contexts on several threads, ticket keys and a session-id cache
//! shared by several server contexts.

mod common;

use common::*;
use strait_streams::{read_exact, when_all, write_all};
use strait_tls::{
    ClientContext, ClientSessionCache, Identity, ServerContext, ServerSessionCache,
    ServerVerification, TicketKeys, TlsVersion,
};

/// Connects, and reads one byte from the server so the TLS 1.3 tickets that precede
/// it are stored. Returns whether client and server saw a resumed session.
fn session(client: &ClientContext, name: &str, server: &ServerContext) -> (bool, bool) {
    run_bounded(async {
        let (mut c, mut s) = connected(client, name, server).await;
        let mut byte = [0u8; 1];
        let (_, n) = when_all((
            write_all(&mut s, &b"x"[..]),
            read_exact(&mut c, &mut byte[..]),
        ))
        .await
        .unwrap();
        assert_eq!(n, 1);
        (c.is_resumed(), s.is_resumed())
    })
}

fn client_with(
    verification: &ServerVerification,
    version: TlsVersion,
    alpn: &[&str],
    cache: Option<&ClientSessionCache>,
) -> ClientContext {
    let mut b = ClientContext::builder(verification.clone())
        .versions(&[version])
        .alpn_protocols(alpn);
    if let Some(cache) = cache {
        b = b.session_cache(cache.clone());
    }
    b.build().unwrap()
}

fn client(
    ca: &Ca,
    version: TlsVersion,
    alpn: &[&str],
    cache: Option<&ClientSessionCache>,
) -> ClientContext {
    client_with(&ServerVerification::Full(ca.roots()), version, alpn, cache)
}

#[test]
fn a_session_made_by_one_client_context_resumes_from_another_on_another_thread() {
    let ca = Ca::new("test CA");
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .alpn_protocols(&["http/1.1", "echo"])
        .build()
        .unwrap();
    let verification = ServerVerification::Full(ca.roots()).shared().unwrap();
    for version in [TlsVersion::Tls13, TlsVersion::Tls12] {
        let cache = ClientSessionCache::new(16);
        let a = client_with(&verification, version, &["echo"], Some(&cache));
        let b = client_with(&verification, version, &["http/1.1"], Some(&cache));
        assert_eq!(session(&a, "localhost", &server), (false, false));
        let (server2, b2) = (server.clone(), b.clone());
        let resumed = std::thread::spawn(move || session(&b2, "localhost", &server2))
            .join()
            .unwrap();
        assert_eq!(resumed, (true, true), "{version:?}");
        // And back: b's session (a ticket b received) resumes from a.
        assert_eq!(
            session(&a, "localhost", &server),
            (true, true),
            "{version:?}"
        );
    }
}

#[test]
fn contexts_with_separate_verifiers_or_caches_do_not_resume_each_others_sessions() {
    let ca = Ca::new("test CA");
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .build()
        .unwrap();
    for version in [TlsVersion::Tls13, TlsVersion::Tls12] {
        // One cache, two verifiers: rustls refuses to resume across trust policies
        // (a full handshake, not an error).
        let cache = ClientSessionCache::new(16);
        let a = client(&ca, version, &[], Some(&cache));
        let b = client(&ca, version, &[], Some(&cache));
        assert_eq!(session(&a, "localhost", &server), (false, false));
        assert_eq!(
            session(&b, "localhost", &server),
            (false, false),
            "{version:?}"
        );
        // Caches of their own: each resumes only its own sessions.
        let c = client(&ca, version, &[], None);
        let d = client(&ca, version, &[], None);
        assert_eq!(session(&c, "localhost", &server), (false, false));
        assert_eq!(
            session(&d, "localhost", &server),
            (false, false),
            "{version:?}"
        );
        assert_eq!(
            session(&c, "localhost", &server),
            (true, true),
            "{version:?}"
        );
    }
}

#[test]
fn the_client_cache_is_bounded_by_servers() {
    let ca = Ca::new("test CA");
    let server = ServerContext::builder(ca.issue(&["a.test", "b.test"]))
        .build()
        .unwrap();
    let cache = ClientSessionCache::new(1);
    assert_eq!(cache.max_servers(), 1);
    let ctx = client(&ca, TlsVersion::Tls13, &[], Some(&cache));
    assert!(!session(&ctx, "a.test", &server).0);
    assert!(session(&ctx, "a.test", &server).0);
    // b.test takes the only place: a.test is forgotten.
    assert!(!session(&ctx, "b.test", &server).0);
    assert!(!session(&ctx, "a.test", &server).0);
    // A cache of no server remembers nothing.
    let none = client(
        &ca,
        TlsVersion::Tls13,
        &[],
        Some(&ClientSessionCache::new(0)),
    );
    assert!(!session(&none, "a.test", &server).0);
    assert!(!session(&none, "a.test", &server).0);
}

fn server_with(
    id: Identity,
    version: TlsVersion,
    keys: Option<&TicketKeys>,
    cache: Option<&ServerSessionCache>,
) -> ServerContext {
    let mut b = ServerContext::builder(id).versions(&[version]);
    if let Some(keys) = keys {
        b = b.ticket_keys(keys.clone());
    } else {
        b = b.session_tickets(false);
    }
    if let Some(cache) = cache {
        b = b.session_cache(cache.clone());
    }
    b.build().unwrap()
}

#[test]
fn a_ticket_from_one_server_context_resumes_at_another_with_the_same_keys() {
    let ca = Ca::new("test CA");
    let keys = TicketKeys::new().unwrap();
    // Two contexts, each with its own certificate (a renewal, say).
    let s1 = server_with(
        ca.issue(&["localhost"]),
        TlsVersion::Tls13,
        Some(&keys),
        None,
    );
    let s2 = server_with(
        ca.issue(&["localhost"]),
        TlsVersion::Tls13,
        Some(&keys),
        None,
    );
    let other = server_with(
        ca.issue(&["localhost"]),
        TlsVersion::Tls13,
        Some(&TicketKeys::new().unwrap()),
        None,
    );
    let c = client(&ca, TlsVersion::Tls13, &[], None);
    assert_eq!(session(&c, "localhost", &s1), (false, false));
    assert_eq!(session(&c, "localhost", &s2), (true, true));
    // Other keys cannot open the ticket: a full handshake.
    assert_eq!(session(&c, "localhost", &other), (false, false));
}

#[test]
fn a_tls12_session_id_from_one_server_context_resumes_at_another_sharing_the_cache() {
    let ca = Ca::new("test CA");
    let cache = ServerSessionCache::new(64);
    assert_eq!(cache.max_sessions(), 64);
    let s1 = server_with(
        ca.issue(&["localhost"]),
        TlsVersion::Tls12,
        None,
        Some(&cache),
    );
    let s2 = server_with(
        ca.issue(&["localhost"]),
        TlsVersion::Tls12,
        None,
        Some(&cache),
    );
    let alone = server_with(ca.issue(&["localhost"]), TlsVersion::Tls12, None, None);
    let c = client(&ca, TlsVersion::Tls12, &[], None);
    assert_eq!(session(&c, "localhost", &s1), (false, false));
    assert_eq!(session(&c, "localhost", &s2), (true, true));
    assert_eq!(session(&c, "localhost", &alone), (false, false));
}

#[test]
fn a_shared_verifier_still_fails_typed() {
    let ca = Ca::new("test CA");
    let verification = ServerVerification::Full(ca.roots()).shared().unwrap();
    let ctx = client_with(&verification, TlsVersion::Tls13, &[], None);
    let wrong_host = ServerContext::builder(ca.issue(&["elsewhere.test"]))
        .build()
        .unwrap();
    let (self_signed_id, _) = self_signed(&["localhost"]);
    let unknown = ServerContext::builder(self_signed_id).build().unwrap();
    for (server, want) in [(wrong_host, "WrongHost"), (unknown, "UnknownIssuer")] {
        let (mut c, mut s) = pair(&ctx, "localhost", &server);
        let (rc, _) = run_bounded(handshake_both(&mut c, &mut s));
        assert_eq!(format!("{:?}", tls_error(&rc)), want);
    }
    // No roots: a typed configuration error, at once.
    let empty = ServerVerification::Full(strait_tls::TrustRoots::empty()).shared();
    assert!(matches!(empty, Err(strait_tls::ConfigError::BadRoot(_))));
}
