//! Fetches an `https://` URL with strait-http1's client over a [`TlsStream`]: verifies
//! the server against the platform's trust store (or `--cafile`), offers ALPN
//! `http/1.1`, and prints what was negotiated, the status, the headers and the body.
//!
//! ```text
//! cargo run -p strait-examples --bin https-get -- https://example.com/ [--cafile CA.pem] [--resolve ADDR]
//! ```
//! `--cafile` trusts exactly the certificates in that PEM file instead of the platform's
//! store (a local server with a self-signed certificate). `--resolve ADDR` connects to
//! `ADDR` (`IP:PORT`) instead of resolving the URL's host, which is still what the
//! certificate is checked against and what SNI names. The TLS summary goes to stderr;
//! the response to stdout.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use http::{HeaderMap, Method, Uri};
use strait_http1::io::Client;
use strait_native::{IoContext, Resolver, TcpStream};
use strait_tls::{ClientContext, ServerVerification, TlsError, TlsStream, TrustRoots};

struct Args {
    uri: Uri,
    cafile: Option<PathBuf>,
    resolve: Option<SocketAddr>,
}

const USAGE: &str =
    "usage: https-get https://HOST[:PORT]/PATH [--cafile CA.pem] [--resolve IP:PORT]";

fn parse_args() -> io::Result<Args> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let (mut uri, mut cafile, mut resolve) = (None, None, None);
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--cafile" | "--resolve" => {
                let value = it
                    .next()
                    .ok_or_else(|| invalid(format!("{arg} needs a value")))?;
                if arg == "--cafile" {
                    cafile = Some(PathBuf::from(value));
                } else {
                    resolve = Some(
                        value
                            .parse()
                            .map_err(|e| invalid(format!("--resolve {value}: {e}")))?,
                    );
                }
            }
            "-h" | "--help" => return Err(invalid(USAGE.into())),
            _ if uri.is_none() => {
                uri = Some(
                    arg.parse::<Uri>()
                        .map_err(|e| invalid(format!("{arg}: {e}")))?,
                )
            }
            _ => return Err(invalid(format!("unexpected argument {arg:?}\n{USAGE}"))),
        }
    }
    let uri = uri.ok_or_else(|| invalid(USAGE.into()))?;
    if uri.scheme_str() != Some("https") {
        return Err(invalid(format!("{uri}: only https:// URLs\n{USAGE}")));
    }
    Ok(Args {
        uri,
        cafile,
        resolve,
    })
}

/// The client context: the platform's roots or the `--cafile` ones, ALPN `http/1.1`.
fn client_context(cafile: Option<&PathBuf>) -> io::Result<ClientContext> {
    let roots = match cafile {
        Some(path) => {
            let mut roots = TrustRoots::empty();
            roots.add_pem_file(path).map_err(io::Error::other)?;
            roots
        }
        None => TrustRoots::platform().map_err(io::Error::other)?,
    };
    ClientContext::builder(ServerVerification::Full(roots))
        .alpn_protocols(&["http/1.1"])
        .build()
        .map_err(io::Error::other)
}

/// Adds a hint to an unknown-issuer failure (the usual one against a local server).
fn explain(err: io::Error) -> io::Error {
    match TlsError::from_io(&err) {
        Some(TlsError::UnknownIssuer) => io::Error::new(
            err.kind(),
            format!("{err} (a local or self-signed certificate? pass its CA with --cafile)"),
        ),
        _ => err,
    }
}

fn main() {
    if let Err(e) = run() {
        eprintln!("https-get: {e}");
        std::process::exit(1);
    }
}

fn run() -> io::Result<()> {
    let args = parse_args()?;
    let authority = args.uri.authority().expect("https URLs have an authority");
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = authority.port_u16().unwrap_or(443);
    let target = args
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let tls_ctx = client_context(args.cafile.as_ref())?;
    let ctx = IoContext::new()?;
    let (summary, response) = ctx
        .block_on(async {
            let addrs = match args.resolve {
                Some(addr) => vec![addr],
                None => Resolver::new().resolve(&host, port).await?,
            };
            let tcp = TcpStream::connect_any(&ctx, &addrs).await?;
            tcp.set_nodelay(true)?;
            let mut tls = TlsStream::connect(&tls_ctx, &host, tcp)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
            tls.handshake().await?;
            let summary = format!(
                "TLS: {:?}, {}, ALPN {}",
                tls.protocol_version().expect("negotiated"),
                tls.cipher_suite().unwrap_or("?"),
                tls.alpn_protocol()
                    .map_or("none".into(), |p| String::from_utf8_lossy(p).into_owned()),
            );
            let mut client = Client::new(tls);
            let response = client
                .send(
                    Method::GET,
                    &target,
                    authority.as_str(),
                    &HeaderMap::new(),
                    b"",
                )
                .await?;
            // Say goodbye properly when the server keeps the connection open.
            if client.is_reusable() {
                let mut tls = client.into_inner();
                let _ = strait_streams::WriteStreamExt::shutdown(&mut tls).await;
            }
            io::Result::Ok((summary, response))
        })
        .map_err(explain)?;
    eprintln!("{summary}");
    let mut stdout = io::stdout().lock();
    writeln!(stdout, "{:?} {}", response.version(), response.status())?;
    for (name, value) in response.headers() {
        writeln!(
            stdout,
            "{name}: {}",
            String::from_utf8_lossy(value.as_bytes())
        )?;
    }
    writeln!(stdout)?;
    stdout.write_all(response.body())?;
    stdout.flush()
}
