//! A small curl on strait: fetches an `http://` or `https://` URL and prints the status,
//! the headers and the body.
//!
//! ```text
//! cargo run -p strait-examples --bin http-get -- URL [-X METHOD] [-d BODY] [-n COUNT] [-k | --cacert FILE]
//! ```
//! With `-n COUNT` the request is sent COUNT times on one keep-alive connection
//! (reconnecting if the server closes it) and only the last answer is printed.
//! `https://` goes through strait-tls (ALPN `http/1.1`), trusting the Mozilla roots, or
//! only the certificates in `--cacert FILE`, or (`-k`) any certificate.

use std::io::{self, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

use http::{HeaderMap, Method, Uri};
use strait_http1::io::Client;
use strait_native::{IoContext, Resolver, TcpStream};
use strait_streams::AnyStream;
use strait_tls::{ClientContext, ServerVerification, TlsStream, TrustRoots};

struct Args {
    uri: Uri,
    method: Method,
    body: Vec<u8>,
    count: usize,
    insecure: bool,
    cacert: Option<PathBuf>,
}

fn parse_args() -> io::Result<Args> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let mut uri = None;
    let mut method = None;
    let mut body = Vec::new();
    let mut count = 1;
    let mut insecure = false;
    let mut cacert = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| invalid(format!("{arg} needs a value")))
        };
        match arg.as_str() {
            "-X" => {
                let m = value()?;
                method = Some(
                    Method::from_bytes(m.as_bytes()).map_err(|e| invalid(format!("{m}: {e}")))?,
                );
            }
            "-d" => body = value()?.into_bytes(),
            "-k" | "--insecure" => insecure = true,
            "--cacert" => cacert = Some(PathBuf::from(value()?)),
            "-n" => {
                let n = value()?;
                count = n.parse().map_err(|e| invalid(format!("-n {n}: {e}")))?;
            }
            _ if uri.is_none() => {
                uri = Some(
                    arg.parse::<Uri>()
                        .map_err(|e| invalid(format!("{arg}: {e}")))?,
                )
            }
            _ => return Err(invalid(format!("unexpected argument {arg:?}"))),
        }
    }
    let uri = uri.ok_or_else(|| {
        invalid("usage: http-get URL [-X METHOD] [-d BODY] [-n COUNT] [-k | --cacert FILE]".into())
    })?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(invalid("only http:// and https:// URLs".into()));
    }
    let method = method.unwrap_or(if body.is_empty() {
        Method::GET
    } else {
        Method::POST
    });
    Ok(Args {
        uri,
        method,
        body,
        count: count.max(1),
        insecure,
        cacert,
    })
}

/// The TLS configuration of an `https://` fetch.
fn tls_context(args: &Args) -> io::Result<ClientContext> {
    let verification = if args.insecure {
        ServerVerification::DangerAcceptAnyCertificate
    } else if let Some(file) = &args.cacert {
        let mut roots = TrustRoots::empty();
        roots.add_pem_file(file).map_err(io::Error::other)?;
        ServerVerification::Full(roots)
    } else {
        ServerVerification::Full(TrustRoots::mozilla())
    };
    ClientContext::builder(verification)
        .alpn_protocols(&["http/1.1"])
        .build()
        .map_err(io::Error::other)
}

/// A connection to the first address that answers, through TLS for `https`.
async fn connect(
    ctx: &IoContext,
    addrs: &[SocketAddr],
    tls: Option<(&ClientContext, &str)>,
) -> io::Result<AnyStream<'static>> {
    let tcp = TcpStream::connect_any(ctx, addrs).await?;
    tcp.set_nodelay(true)?;
    Ok(match tls {
        None => AnyStream::new(tcp),
        Some((tls, host)) => {
            let mut stream = TlsStream::connect(tls, host, tcp).map_err(io::Error::other)?;
            stream.handshake().await?;
            AnyStream::new(stream)
        }
    })
}

fn main() -> io::Result<()> {
    let args = parse_args()?;
    let authority = args
        .uri
        .authority()
        .expect("http URLs have an authority")
        .clone();
    let host = authority
        .host()
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let https = args.uri.scheme_str() == Some("https");
    let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
    let tls = if https {
        Some(tls_context(&args)?)
    } else {
        None
    };
    let target = args
        .uri
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let ctx = IoContext::new()?;
    let response = ctx.block_on(async {
        let addrs = Resolver::new().resolve(&host, port).await?;
        let mut client: Option<Client<AnyStream<'static>>> = None;
        let mut last = None;
        for _ in 0..args.count {
            let mut c = match client.take() {
                Some(c) if c.is_reusable() => c,
                _ => Client::new(
                    connect(&ctx, &addrs, tls.as_ref().map(|t| (t, host.as_str()))).await?,
                ),
            };
            let res = c
                .send(
                    args.method.clone(),
                    &target,
                    authority.as_str(),
                    &HeaderMap::new(),
                    &args.body,
                )
                .await?;
            last = Some(res);
            client = Some(c);
        }
        io::Result::Ok(last.expect("at least one request"))
    })?;
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
