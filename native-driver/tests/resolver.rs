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
    assert!(!err.to_string().is_empty());
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
