//! Interop with the system's `openssl`: `s_server` as the server for strait's client,
//! `s_client` as the client for strait's server, over loopback TCP on strait's native
//! driver; TLS 1.2 and 1.3, ALPN, client certificates, close_notify both ways.
//!
//! Skips (printing why) when `openssl` is not installed; `sansio/tls/ci.sh` installs it
//! and runs this file.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use strait_native::{IoContext, TcpListener, TcpStream};
use strait_streams::{ReadStreamExt, WriteStreamExt};
use strait_tls::{
    AlertDescription, ClientAuth, ClientContext, ServerContext, ServerVerification, TlsError,
    TlsStream, TlsVersion,
};

fn openssl_missing() -> bool {
    let found = Command::new("openssl")
        .arg("version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("skipping: `openssl` is not installed (sansio/tls/ci.sh installs it)");
    }
    !found
}

/// A scratch directory holding PEM files for openssl.
struct Scratch(PathBuf);

impl Scratch {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("strait-tls-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn write(&self, name: &str, text: &str) -> String {
        let path = self.0.join(name);
        std::fs::write(&path, text).unwrap();
        path.to_str().unwrap().to_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A CA and a leaf it issued, as PEM text for openssl: (ca, leaf cert, leaf key).
fn pem_set(ca: &Ca, name: &str) -> (String, String, String) {
    let key = rcgen::KeyPair::generate().unwrap();
    let params = rcgen::CertificateParams::new(vec![name.to_owned()]).unwrap();
    let cert = params.signed_by(&key, &ca.cert, &ca.key).unwrap();
    (ca.pem(), cert.pem(), key.serialize_pem())
}

fn version_flag(v: TlsVersion) -> &'static str {
    match v {
        TlsVersion::Tls12 => "-tls1_2",
        _ => "-tls1_3",
    }
}

/// Kills the child when the test ends, whatever happens.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// What `openssl s_server` printed after it started accepting.
type Output = std::sync::Arc<std::sync::Mutex<String>>;

/// Waits (5 s at most) for the child to exit, and returns what it printed.
fn finished(child: &mut Reaped, output: &Output) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    while child.0.try_wait().unwrap().is_none() {
        assert!(Instant::now() < deadline, "openssl did not exit");
        std::thread::sleep(Duration::from_millis(10));
    }
    std::thread::sleep(Duration::from_millis(50)); // the drain thread's last lines
    output.lock().unwrap().clone()
}

/// Starts `openssl s_server` on a free loopback port and waits until it accepts.
fn s_server(args: &[&str]) -> (Reaped, u16) {
    let (child, port, _) = s_server_output(args);
    (child, port)
}

/// [`s_server`], keeping its output.
fn s_server_output(args: &[&str]) -> (Reaped, u16, Output) {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new("openssl")
        .arg("s_server")
        .args(["-accept", &format!("127.0.0.1:{port}"), "-naccept", "1"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn openssl s_server");
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    loop {
        line.clear();
        assert!(
            out.read_line(&mut line).unwrap() > 0,
            "openssl s_server exited before accepting"
        );
        if line.starts_with("ACCEPT") {
            break;
        }
    }
    // Keep draining its output so it never blocks on a full pipe.
    let output = Output::default();
    let keep = output.clone();
    std::thread::spawn(move || {
        let mut line = String::new();
        while out.read_line(&mut line).is_ok_and(|n| n > 0) {
            keep.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    (Reaped(child), port, output)
}

/// strait's client against `openssl s_server -rev` (it answers each line reversed).
fn client_against_s_server(version: TlsVersion) {
    if openssl_missing() {
        return;
    }
    let scratch = Scratch::new(&format!("client-{version:?}"));
    let ca = Ca::new("interop CA");
    let (ca_pem, cert, key) = pem_set(&ca, "localhost");
    let _ca_path = scratch.write("ca.pem", &ca_pem);
    let (cert_path, key_path) = (
        scratch.write("cert.pem", &cert),
        scratch.write("key.pem", &key),
    );
    let (mut server, port, output) = s_server_output(&[
        "-cert",
        &cert_path,
        "-key",
        &key_path,
        "-msg", // logs each message, close_notify alerts included
        "-rev",
        "-alpn",
        "http/1.1",
        version_flag(version),
    ]);
    let client = ClientContext::builder(ServerVerification::Full(ca.roots()))
        .alpn_protocols(&["h2", "http/1.1"])
        .build()
        .unwrap();
    let ctx = IoContext::new().unwrap();
    ctx.block_on(async {
        let tcp = TcpStream::connect(&ctx, ("127.0.0.1", port)).await.unwrap();
        let mut tls = TlsStream::connect(&client, "localhost", tcp).unwrap();
        tls.handshake().await.unwrap();
        assert_eq!(tls.protocol_version(), Some(version));
        assert_eq!(tls.alpn_protocol(), Some(&b"http/1.1"[..]));
        strait_streams::write_all(&mut tls, &b"hello strait\n"[..])
            .await
            .unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 256];
        while !got.ends_with(b"\n") {
            let n = tls.read(&mut buf[..]).await.unwrap();
            assert!(n > 0, "s_server ended early: {got:?}");
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got, b"tiarts olleh\n");
        // Send our close_notify and wait for s_server's answer to it.
        tls.set_wait_for_close_notify(true);
        tls.shutdown().await.unwrap();
        let mut buf = [0u8; 16];
        assert_eq!(tls.read(&mut buf[..]).await.unwrap(), 0, "a clean end");
    });
    let log = finished(&mut server, &output);
    let alerts: Vec<&str> = log.lines().filter(|l| l.contains("Alert")).collect();
    assert!(
        alerts
            .iter()
            .any(|l| l.starts_with("<<<") && l.contains("close_notify")),
        "s_server received no close_notify: {alerts:?}"
    );
    assert!(
        alerts
            .iter()
            .any(|l| l.starts_with(">>>") && l.contains("close_notify")),
        "s_server sent no close_notify: {alerts:?}"
    );
}

#[test]
fn strait_client_openssl_server_tls13() {
    client_against_s_server(TlsVersion::Tls13);
}

#[test]
fn strait_client_openssl_server_tls12() {
    client_against_s_server(TlsVersion::Tls12);
}

#[test]
fn strait_client_certificate_to_openssl_server() {
    if openssl_missing() {
        return;
    }
    let scratch = Scratch::new("client-cert");
    let ca = Ca::new("interop CA");
    let client_ca = Ca::new("client CA");
    let (_, cert, key) = pem_set(&ca, "localhost");
    let args = [
        "-cert".to_owned(),
        scratch.write("cert.pem", &cert),
        "-key".to_owned(),
        scratch.write("key.pem", &key),
        "-Verify".to_owned(),
        "1".to_owned(),
        "-verify_return_error".to_owned(),
        "-CAfile".to_owned(),
        scratch.write("client-ca.pem", &client_ca.pem()),
        "-rev".to_owned(),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let ctx = IoContext::new().unwrap();
    for with_cert in [true, false] {
        let (_server, port) = s_server(&args);
        let mut builder = ClientContext::builder(ServerVerification::Full(ca.roots()));
        if with_cert {
            builder = builder.identity(client_ca.issue(&["client"]));
        }
        let client = builder.build().unwrap();
        let result: std::io::Result<Vec<u8>> = ctx.block_on(async {
            let tcp = TcpStream::connect(&ctx, ("127.0.0.1", port)).await?;
            let mut tls = TlsStream::connect(&client, "localhost", tcp).unwrap();
            strait_streams::write_all(&mut tls, &b"abc\n"[..]).await?;
            let mut buf = [0u8; 16];
            let n = tls.read(&mut buf[..]).await?;
            Ok(buf[..n].to_vec())
        });
        if with_cert {
            assert_eq!(result.unwrap(), b"cba\n");
        } else {
            let err = result.unwrap_err();
            assert!(
                matches!(
                    TlsError::from_io(&err),
                    Some(TlsError::AlertReceived(
                        AlertDescription::CertificateRequired | AlertDescription::HandshakeFailure
                    ))
                ),
                "{err:?}"
            );
        }
    }
}

/// What strait's echo server saw.
#[derive(Debug)]
struct Served {
    version: Option<TlsVersion>,
    alpn: Option<Vec<u8>>,
    client_cert: bool,
    echoed: Vec<u8>,
}

/// strait's echo server for one connection: echoes until the client's close_notify
/// (an error if it never comes), then sends its own.
async fn echo_one(listener: TcpListener, server: ServerContext) -> std::io::Result<Served> {
    let (tcp, _) = listener.accept().await?;
    let mut tls = TlsStream::accept(&server, tcp).unwrap();
    tls.handshake().await?;
    let mut echoed = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        let n = tls.read(&mut buf[..]).await?;
        if n == 0 {
            break; // close_notify: a truncated end would be an error here
        }
        echoed.extend_from_slice(&buf[..n]);
        strait_streams::write_all(&mut tls, &buf[..n]).await?;
    }
    let served = Served {
        version: tls.protocol_version(),
        alpn: tls.alpn_protocol().map(<[u8]>::to_vec),
        client_cert: tls.peer_certificates().is_some(),
        echoed,
    };
    // s_client may be gone already; our close_notify is best-effort here.
    let _ = tls.shutdown().await;
    Ok(served)
}

/// Runs `openssl s_client` against strait's echo server: sends a line, waits for its
/// echo, then closes stdin (s_client then sends close_notify and exits).
fn s_client_against_strait(
    version: TlsVersion,
    server: ServerContext,
    extra: &[&str],
) -> (Served, String) {
    let ctx = IoContext::new().unwrap();
    let listener = TcpListener::bind(&ctx, "127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let served = std::thread::spawn(move || ctx.block_on(echo_one(listener, server)));
    let mut child = Reaped(
        Command::new("openssl")
            .arg("s_client")
            .args(["-connect", &format!("127.0.0.1:{port}")])
            .args(["-servername", "localhost", "-verify_return_error", "-brief"])
            .args(["-no_ign_eof", "-alpn", "http/1.1", version_flag(version)])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn openssl s_client"),
    );
    let mut stdin = child.0.stdin.take().unwrap();
    stdin.write_all(b"ping from openssl\n").unwrap();
    let mut out = BufReader::new(child.0.stdout.take().unwrap());
    let mut line = String::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !line.contains("ping from openssl") {
        assert!(Instant::now() < deadline, "no echo");
        if out.read_line(&mut line).unwrap() == 0 {
            break;
        }
    }
    drop(stdin);
    let mut stderr = String::new();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(
        line.contains("ping from openssl"),
        "stdout {line:?}, stderr {stderr}"
    );
    let served = served.join().unwrap().unwrap_or_else(|e| {
        panic!("strait server: {e:?}; s_client said: {stderr}");
    });
    (served, stderr)
}

fn strait_server_openssl_client(version: TlsVersion) {
    if openssl_missing() {
        return;
    }
    let scratch = Scratch::new(&format!("server-{version:?}"));
    let ca = Ca::new("interop CA");
    let ca_path = scratch.write("ca.pem", &ca.pem());
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .alpn_protocols(&["http/1.1"])
        .build()
        .unwrap();
    let (served, stderr) = s_client_against_strait(version, server, &["-CAfile", &ca_path]);
    assert_eq!(served.version, Some(version), "{stderr}");
    assert_eq!(served.alpn.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(served.echoed, b"ping from openssl\n");
    assert!(stderr.contains("Verification: OK"), "{stderr}");
}

#[test]
fn openssl_client_strait_server_tls13() {
    strait_server_openssl_client(TlsVersion::Tls13);
}

#[test]
fn openssl_client_strait_server_tls12() {
    strait_server_openssl_client(TlsVersion::Tls12);
}

#[test]
fn openssl_client_certificate_to_strait_server() {
    if openssl_missing() {
        return;
    }
    let scratch = Scratch::new("server-client-cert");
    let ca = Ca::new("interop CA");
    let client_ca = Ca::new("client CA");
    let (_, cert, key) = pem_set(&client_ca, "client");
    let args = [
        "-CAfile".to_owned(),
        scratch.write("ca.pem", &ca.pem()),
        "-cert".to_owned(),
        scratch.write("client.pem", &cert),
        "-key".to_owned(),
        scratch.write("client-key.pem", &key),
    ];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = ServerContext::builder(ca.issue(&["localhost"]))
        .client_auth(ClientAuth::Required(client_ca.roots()))
        .alpn_protocols(&["http/1.1"])
        .build()
        .unwrap();
    let (served, _) = s_client_against_strait(TlsVersion::Tls13, server, &args);
    assert!(served.client_cert);
}
