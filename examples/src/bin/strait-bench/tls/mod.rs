//! Suite `tls`: strait-tls on strait-native (one thread) against tokio-rustls on tokio
//! current_thread, over loopback TCP (nodelay, linger 0), in the same run.
//!
//! Like for like: both stacks run the very same rustls `ClientConfig`/`ServerConfig`
//! (built once per measurement by strait-tls's contexts and handed to tokio-rustls as
//! they are: same rustls version, ring provider, ECDSA P-256 certificate, suites,
//! caches), client and server in one runtime, and the same completion detection:
//!
//! - handshakes: connect, both handshakes, then one byte from the server (it carries
//!   the TLS 1.3 tickets to the client), for TLS 1.3 and 1.2, full (client resumption
//!   off) and resumed (TLS 1.3 tickets; TLS 1.2 session ids, tickets off); a resumed row
//!   fails unless nearly every connection resumed;
//! - throughput: one connection, the client writes N-byte buffers without flushing
//!   (both stacks push what the socket takes at once) then shuts down (close_notify);
//!   the server reads 64 KiB at a time until close_notify;
//! - request/response: 1 KiB each way, written and flushed, read exactly;
//! - idle memory: N handshaken connections (one 4-byte exchange each way) held open;
//!   live heap bytes (glibc `mallinfo2`: in-use arena and mmap bytes, every thread) per
//!   client+server pair, sockets and runtime registrations included; the bare TCP
//!   pairs of each runtime are listed beside them, and a second row pairs the TLS
//!   share (TLS pair less the same runtime's bare TCP pair).

mod peer_tokio;
mod strait;

use std::io;
use std::sync::{Arc, OnceLock};

use strait_tls::rustls::{ClientConfig, ServerConfig};
use strait_tls::{
    ClientContext, Identity, ServerContext, ServerVerification, TlsVersion, TrustRoots,
};

use crate::harness::{Better, Report};

const SUITE: &str = "tls";
const LOOPBACK: &str = "127.0.0.1:0";
const SERVER_NAME: &str = "localhost";
const STRAIT: &str = "strait-tls (strait-native)";
const TOKIO: &str = "tokio-rustls (current_thread)";

/// The self-signed certificate (PEM chain, PEM key), made once.
fn certificate() -> &'static (String, String) {
    static CERT: OnceLock<(String, String)> = OnceLock::new();
    CERT.get_or_init(|| {
        let made = rcgen::generate_simple_self_signed(vec![SERVER_NAME.into()])
            .expect("rcgen makes a certificate");
        (made.cert.pem(), made.key_pair.serialize_pem())
    })
}

/// One measurement's rustls configurations, shared by both stacks.
#[derive(Clone)]
pub struct Configs {
    pub client: Arc<ClientConfig>,
    pub server: Arc<ServerConfig>,
}

/// What a handshake row measures.
#[derive(Clone, Copy)]
struct Handshakes {
    label: &'static str,
    version: TlsVersion,
    resumed: bool,
}

const HANDSHAKES: [Handshakes; 4] = [
    Handshakes {
        label: "full handshake TLS 1.3",
        version: TlsVersion::Tls13,
        resumed: false,
    },
    Handshakes {
        label: "resumed handshake TLS 1.3 (tickets)",
        version: TlsVersion::Tls13,
        resumed: true,
    },
    Handshakes {
        label: "full handshake TLS 1.2",
        version: TlsVersion::Tls12,
        resumed: false,
    },
    Handshakes {
        label: "resumed handshake TLS 1.2 (session ids)",
        version: TlsVersion::Tls12,
        resumed: true,
    },
];

/// Fresh configurations (fresh session caches and ticket keys): TLS 1.3 with
/// resumption, or as `h` asks.
fn configs(version: TlsVersion, resumption: bool) -> io::Result<Configs> {
    let (cert, key) = certificate();
    let identity = Identity::from_pem(cert.as_bytes(), key.as_bytes()).map_err(io::Error::other)?;
    let mut roots = TrustRoots::empty();
    roots.add_pem(cert.as_bytes()).map_err(io::Error::other)?;
    let client = ClientContext::builder(ServerVerification::Full(roots))
        .versions(&[version])
        .resumption(resumption)
        .build()
        .map_err(io::Error::other)?;
    // TLS 1.2 resumes by session id (the server's cache) with tickets off.
    let server = ServerContext::builder(identity)
        .versions(&[version])
        .session_tickets(version == TlsVersion::Tls13)
        .build()
        .map_err(io::Error::other)?;
    Ok(Configs {
        client: client.rustls_config().clone(),
        server: server.rustls_config().clone(),
    })
}

/// Fails unless (nearly) every connection resumed, or none did, as `want` says.
fn check_resumption(connections: u64, resumed: u64, want: bool) -> io::Result<()> {
    let ok = if want {
        resumed * 100 >= connections * 95
    } else {
        resumed == 0
    };
    if ok {
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{resumed} of {connections} connections resumed (wanted {})",
            if want { "all" } else { "none" }
        )))
    }
}

pub fn run(report: &mut Report) {
    let budget = report.budget();
    for h in HANDSHAKES {
        measure(
            report,
            h.label,
            "handshakes",
            "1/s",
            Better::Higher,
            |tokio| {
                let cfg = configs(h.version, h.resumed)?;
                if tokio {
                    peer_tokio::handshakes(&cfg, budget, h.resumed)
                } else {
                    strait::handshakes(&cfg, budget, h.resumed)
                }
            },
        );
    }
    for (label, chunk) in [
        ("1 KiB", 1024usize),
        ("16 KiB", 16 * 1024),
        ("64 KiB", 64 * 1024),
    ] {
        let scenario = format!("throughput {label} writes");
        measure(
            report,
            &scenario,
            "throughput",
            "MiB/s",
            Better::Higher,
            |tokio| {
                let cfg = configs(TlsVersion::Tls13, true)?;
                let bytes_per_sec = if tokio {
                    peer_tokio::throughput(&cfg, budget, chunk)
                } else {
                    strait::throughput(&cfg, budget, chunk)
                }?;
                Ok(bytes_per_sec / (1 << 20) as f64)
            },
        );
    }
    measure(
        report,
        "request/response 1 KiB",
        "round trips",
        "1/s",
        Better::Higher,
        |tokio| {
            let cfg = configs(TlsVersion::Tls13, true)?;
            if tokio {
                peer_tokio::request_response(&cfg, budget, 1024)
            } else {
                strait::request_response(&cfg, budget, 1024)
            }
        },
    );
    idle_memory(report, if report.quick { 100 } else { 500 });
}

/// Measures `f(tokio)` for strait (`false`) and tokio-rustls (`true`) in interleaved
/// rounds and pairs them. A failed measurement is reported and recorded as NaN.
fn measure(
    report: &mut Report,
    scenario: &str,
    metric: &'static str,
    unit: &'static str,
    better: Better,
    f: impl Fn(bool) -> io::Result<f64>,
) {
    let f = &f;
    let value = move |tokio: bool| {
        f(tokio).unwrap_or_else(|e| {
            eprintln!("failed: {e}");
            f64::NAN
        })
    };
    report
        .row(SUITE, scenario, metric, unit, better)
        .subject(STRAIT, move |_| value(false))
        .subject(TOKIO, move |_| value(true))
        .pair(STRAIT, TOKIO)
        .run(report);
}

/// Live heap bytes of the process (glibc's count: in-use arena chunks and mmapped
/// blocks, over every arena).
fn live_heap_bytes() -> f64 {
    // SAFETY: `mallinfo2` only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as f64
}

/// Idle memory per client+server pair: TLS over each runtime (paired), and each
/// runtime's bare TCP pairs beside them.
fn idle_memory(report: &mut Report, n: usize) {
    let scenario = format!("idle memory ({n} connections)");
    let per_pair = move |what: Idle| {
        let cfg = configs(TlsVersion::Tls13, true)?;
        match what {
            Idle::StraitTls => strait::idle(&cfg, n, true),
            Idle::StraitTcp => strait::idle(&cfg, n, false),
            Idle::TokioTls => peer_tokio::idle(&cfg, n, true),
            Idle::TokioTcp => peer_tokio::idle(&cfg, n, false),
        }
    };
    let value = move |what: Idle| {
        per_pair(what).unwrap_or_else(|e: io::Error| {
            eprintln!("failed: {e}");
            f64::NAN
        })
    };
    report
        .row(
            SUITE,
            &scenario,
            "live heap per client+server pair",
            "bytes",
            Better::Lower,
        )
        .subject(STRAIT, move |_| value(Idle::StraitTls))
        .subject(TOKIO, move |_| value(Idle::TokioTls))
        .subject("strait-native bare TCP", move |_| value(Idle::StraitTcp))
        .subject("tokio bare TCP", move |_| value(Idle::TokioTcp))
        .pair(STRAIT, TOKIO)
        .run(report);
    // The TLS share: each stack's TLS pairs less its bare TCP pairs, round by round.
    let share = format!("idle memory, TLS share ({n} connections)");
    for (tls, tcp, name) in [
        (STRAIT, "strait-native bare TCP", STRAIT),
        (TOKIO, "tokio bare TCP", TOKIO),
    ] {
        let rounds = |subject: &str| {
            report
                .records
                .iter()
                .find(|r| r.scenario == scenario && r.subject == subject)
                .map(|r| r.rounds.clone())
        };
        if let (Some(with), Some(without)) = (rounds(tls), rounds(tcp)) {
            let diff = with.iter().zip(&without).map(|(a, b)| a - b).collect();
            report.push_rounds(
                SUITE,
                &share,
                name,
                "live heap per client+server pair less bare TCP",
                "bytes",
                Better::Lower,
                diff,
            );
        }
    }
    report.add_pair(SUITE, &share, STRAIT, TOKIO);
}

#[derive(Clone, Copy)]
enum Idle {
    StraitTls,
    StraitTcp,
    TokioTls,
    TokioTcp,
}

/// Bytes per pair from the live heap before and after opening `n` pairs.
fn per_pair(before: f64, after: f64, n: usize) -> f64 {
    (after - before) / n as f64
}
