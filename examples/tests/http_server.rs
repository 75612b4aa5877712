//! The README's main example works: http-server answers on strait-native, and the same
//! service answers on tokio and on smol (`--runtime`), keep-alive included.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Kills the server when the test ends, passing or not.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts http-server on a free port with `args`; returns it and its address.
fn start(args: &[&str]) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_http-server"))
        .arg("127.0.0.1:0")
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start http-server");
    let stdout = child.stdout.take().expect("stdout");
    let server = Server(child);
    let first = BufReader::new(stdout)
        .lines()
        .next()
        .expect("a line")
        .expect("utf-8");
    let addr = first
        .strip_prefix("http-server listening on ")
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    (server, addr)
}

/// Sends `request` and reads until `answers` complete responses (`Content-Length`
/// bodies) arrived on one connection.
fn exchange(addr: &str, request: &str, answers: usize) -> String {
    let mut conn = TcpStream::connect(addr).expect("connect");
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    conn.write_all(request.as_bytes()).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while String::from_utf8_lossy(&got).matches("HTTP/1.1 ").count() < answers
        || !String::from_utf8_lossy(&got).ends_with("Hello, World!")
            && !String::from_utf8_lossy(&got).ends_with("Not Found")
    {
        let n = conn.read(&mut buf).expect("read an answer");
        assert!(
            n > 0,
            "the server closed early: {}",
            String::from_utf8_lossy(&got)
        );
        got.extend_from_slice(&buf[..n]);
    }
    String::from_utf8(got).unwrap()
}

fn check(args: &[&str]) {
    let (_server, addr) = start(args);
    let two = "GET /plaintext HTTP/1.1\r\nHost: x\r\n\r\nGET /nope HTTP/1.1\r\nHost: x\r\n\r\n";
    let out = exchange(&addr, two, 2);
    let (first, second) = out.split_at(out.find("HTTP/1.1 404").expect("the 404 answer"));
    assert!(first.starts_with("HTTP/1.1 200 OK\r\n"), "{args:?}: {out}");
    assert!(first.ends_with("Hello, World!"), "{args:?}: {out}");
    assert!(second.ends_with("Not Found"), "{args:?}: {out}");
}

#[test]
fn http_server_answers_on_the_native_driver() {
    check(&[]);
    check(&["--threads", "2"]);
}

#[test]
fn the_same_service_answers_on_tokio_and_smol() {
    check(&["--runtime", "tokio", "--threads", "2"]);
    check(&["--runtime", "smol", "--threads", "2"]);
}
