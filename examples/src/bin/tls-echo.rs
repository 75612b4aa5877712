//! A TLS echo server on strait's native reactor: every byte a client sends comes back,
//! encrypted.
//!
//! ```text
//! cargo run -p strait-examples --bin tls-echo -- [ADDR] [--cert CHAIN.pem --key KEY.pem]
//! ```
//! ADDR defaults to 127.0.0.1:8443. Without `--cert`/`--key` it makes a self-signed
//! certificate for `localhost` at start (rcgen), writes it to a temporary file and
//! prints the `openssl s_client` command that trusts it. A client's `close_notify` ends
//! its session cleanly; a connection cut without one is reported as truncated.

use std::io;
use std::path::PathBuf;

use strait_native::{Handle, IoContext, TcpListener, TcpStream};
use strait_streams::{write_all, ReadStreamExt, WriteStreamExt};
use strait_tls::{Identity, ServerContext, TlsStream};

/// Handshakes, then echoes until the client's close_notify, then sends ours.
async fn echo(ctx: ServerContext, conn: TcpStream) -> io::Result<(u64, String)> {
    let mut tls = TlsStream::accept(&ctx, conn).map_err(io::Error::other)?;
    tls.handshake().await?;
    let info = format!(
        "{:?}, {}, ALPN {:?}, SNI {:?}",
        tls.protocol_version().unwrap(),
        tls.cipher_suite().unwrap_or("?"),
        tls.alpn_protocol().map(String::from_utf8_lossy),
        tls.sni_hostname(),
    );
    let mut buf = vec![0u8; 16 * 1024];
    let mut total = 0;
    loop {
        let n = tls.read(&mut buf[..]).await?;
        if n == 0 {
            tls.shutdown().await?;
            return Ok((total, info));
        }
        write_all(&mut tls, &buf[..n]).await?;
        total += n as u64;
    }
}

async fn serve(listener: TcpListener, ctx: ServerContext) -> io::Result<()> {
    let handle = Handle::current();
    loop {
        let (conn, peer) = listener.accept().await?;
        conn.set_nodelay(true)?;
        let ctx = ctx.clone();
        handle
            .spawn(async move {
                match echo(ctx, conn).await {
                    Ok((n, info)) => println!("{peer}: {info}: echoed {n} bytes"),
                    Err(e) => println!("{peer}: {e}"),
                }
            })
            .detach();
    }
}

struct Args {
    addr: String,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// `[ADDR] [--cert FILE --key FILE]`.
fn parse_args() -> io::Result<Args> {
    let invalid = |msg: String| io::Error::new(io::ErrorKind::InvalidInput, msg);
    let mut parsed = Args {
        addr: "127.0.0.1:8443".into(),
        cert: None,
        key: None,
    };
    let mut addr_seen = false;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--cert" | "--key" => {
                let value = args
                    .next()
                    .ok_or_else(|| invalid(format!("{arg} needs a file")))?;
                if arg == "--cert" {
                    parsed.cert = Some(value.into());
                } else {
                    parsed.key = Some(value.into());
                }
            }
            _ if !addr_seen => {
                parsed.addr = arg;
                addr_seen = true;
            }
            _ => return Err(invalid(format!("unexpected argument {arg:?}"))),
        }
    }
    if parsed.cert.is_some() != parsed.key.is_some() {
        return Err(invalid("--cert and --key go together".into()));
    }
    Ok(parsed)
}

/// The identity to present, and the file a client should trust (for the hint).
fn identity(args: &Args) -> io::Result<(Identity, PathBuf)> {
    if let (Some(cert), Some(key)) = (&args.cert, &args.key) {
        let id = Identity::from_pem_files(cert, key).map_err(io::Error::other)?;
        return Ok((id, cert.clone()));
    }
    let made =
        rcgen::generate_simple_self_signed(vec!["localhost".into()]).map_err(io::Error::other)?;
    let cert_pem = made.cert.pem();
    let path = std::env::temp_dir().join(format!("tls-echo-{}.pem", std::process::id()));
    std::fs::write(&path, &cert_pem)?;
    let id = Identity::from_pem(
        cert_pem.as_bytes(),
        made.key_pair.serialize_pem().as_bytes(),
    )
    .map_err(io::Error::other)?;
    Ok((id, path))
}

fn main() -> io::Result<()> {
    let args = parse_args()?;
    let (identity, trust) = identity(&args)?;
    let tls = ServerContext::builder(identity)
        .alpn_protocols(&["echo", "http/1.1"])
        .build()
        .map_err(io::Error::other)?;
    let ctx = IoContext::new()?;
    let listener = TcpListener::bind(&ctx, args.addr.as_str())?;
    let addr = listener.local_addr()?;
    println!("tls-echo listening on {addr}");
    println!(
        "try: openssl s_client -connect {addr} -servername localhost -CAfile {} -alpn echo",
        trust.display()
    );
    ctx.block_on(serve(listener, tls))
}
