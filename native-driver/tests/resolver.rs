//! DNS on the resolver's threads.

use strait_native::{IoContext, Resolver};
use strait_streams::{is_canceled, with_stop_token, StopSource};

#[test]
fn localhost_resolves_to_a_loopback_address() {
    let ctx = IoContext::new().unwrap();
    let resolver = Resolver::new();
    let addrs = ctx.block_on(resolver.resolve("localhost", 80)).unwrap();
    assert!(!addrs.is_empty());
    assert!(
        addrs.iter().all(|a| a.ip().is_loopback() && a.port() == 80),
        "{addrs:?}"
    );
}

#[test]
fn an_unknown_name_is_a_clear_error() {
    let ctx = IoContext::new().unwrap();
    let resolver = Resolver::new();
    let err = ctx
        .block_on(resolver.resolve("no-such-host.invalid", 80))
        .unwrap_err();
    assert!(!is_canceled(&err));
    // NotFound; TimedOut where the machine has no reachable name server at all.
    assert!(
        matches!(
            err.kind(),
            std::io::ErrorKind::NotFound | std::io::ErrorKind::TimedOut
        ),
        "{err}"
    );
    assert!(err.to_string().contains("no-such-host.invalid"), "{err}");
}

#[test]
fn numeric_hosts_resolve_without_a_lookup_and_reverse_lookup_answers() {
    let ctx = IoContext::new().unwrap();
    let resolver = Resolver::new();
    let addrs = ctx.block_on(resolver.resolve("127.0.0.1", 8080)).unwrap();
    assert_eq!(addrs, ["127.0.0.1:8080".parse().unwrap()]);
    // Reverse lookup of loopback: a name (usually "localhost") or a clear NotFound.
    match ctx.block_on(resolver.reverse(addrs[0])) {
        Ok(name) => assert!(!name.is_empty()),
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::NotFound),
    }
}

#[test]
fn a_lookup_is_canceled_by_a_stopped_token() {
    let ctx = IoContext::new().unwrap();
    let resolver = Resolver::new();
    let source = StopSource::new();
    source.request_stop();
    let err = ctx
        .block_on(with_stop_token(
            source.token(),
            resolver.resolve("localhost", 1),
        ))
        .unwrap_err();
    assert!(is_canceled(&err));
}

#[test]
fn lookups_take_service_names_and_flags() {
    use strait_native::ResolveFlags;
    let ctx = IoContext::new().unwrap();
    let resolver = Resolver::new();
    // No host, passive: the wildcard addresses a server binds.
    let passive = ctx
        .block_on(resolver.resolve_service(None, Some("8080"), ResolveFlags::PASSIVE))
        .unwrap();
    assert!(!passive.addrs.is_empty());
    assert!(
        passive
            .addrs
            .iter()
            .all(|a| a.ip().is_unspecified() && a.port() == 8080),
        "{passive:?}"
    );
    // A canonical name when asked for.
    let named = ctx
        .block_on(resolver.resolve_service(
            Some("localhost"),
            Some("7"),
            ResolveFlags::CANONICAL_NAME | ResolveFlags::NUMERIC_SERVICE,
        ))
        .unwrap();
    assert!(named.canonical_name.is_some_and(|n| !n.is_empty()));
    // A name where a numeric host is required, and an unknown service, are errors.
    let err = ctx
        .block_on(resolver.resolve_service(
            Some("localhost"),
            Some("80"),
            ResolveFlags::NUMERIC_HOST,
        ))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound, "{err}");
    let err = ctx
        .block_on(resolver.resolve_service(
            Some("127.0.0.1"),
            Some("no-such-service"),
            ResolveFlags::NONE,
        ))
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput, "{err}");
    // Service names come from the services database, when the machine has one.
    if std::path::Path::new("/etc/services").exists() {
        let http = ctx
            .block_on(resolver.resolve_service(Some("127.0.0.1"), Some("http"), ResolveFlags::NONE))
            .unwrap();
        assert_eq!(http.addrs, ["127.0.0.1:80".parse().unwrap()]);
    }
}
