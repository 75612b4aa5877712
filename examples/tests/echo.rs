//! echo-server answers echo-client, on one thread and on several.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

/// Starts echo-server with `args`; returns it, its address and the rest of its output.
fn start_echo_server(
    args: &[&str],
) -> (
    std::process::Child,
    String,
    std::io::Lines<BufReader<std::process::ChildStdout>>,
) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .args(args)
        .stdout(Stdio::piped())
        .spawn()
        .expect("start echo-server");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .strip_prefix("echo-server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    (server, addr, lines)
}

fn echo_client(addr: &str, words: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_echo-client"))
        .arg(addr)
        .args(words)
        .output()
        .expect("run echo-client")
}

#[test]
fn echo_client_gets_its_message_back_from_echo_server() {
    let (mut server, addr, _output) = start_echo_server(&["127.0.0.1:0"]);
    let out = echo_client(&addr, &["ping", "over", "tcp"]);
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "echo-client failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ping over tcp");
}

/// The README's multi-threaded form: one context run by three threads serves clients
/// connecting at once.
#[test]
fn echo_server_on_three_runner_threads_serves_concurrent_clients() {
    let (mut server, addr, mut lines) = start_echo_server(&["127.0.0.1:0", "--threads", "3"]);
    let second = lines.next().expect("a line").expect("utf-8");
    assert_eq!(second, "3 runner thread(s)");
    let outputs: Vec<_> = std::thread::scope(|s| {
        let clients: Vec<_> = (0..6)
            .map(|i| {
                let addr = &addr;
                s.spawn(move || (i, echo_client(addr, &["client", &i.to_string()])))
            })
            .collect();
        clients.into_iter().map(|c| c.join().unwrap()).collect()
    });
    let _ = server.kill();
    let _ = server.wait();
    for (i, out) in outputs {
        assert!(out.status.success(), "echo-client {i} failed: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("client {i}")
        );
    }
}

#[test]
fn nslookup_resolves_localhost() {
    let out = Command::new(env!("CARGO_BIN_EXE_nslookup"))
        .arg("localhost")
        .output()
        .expect("run nslookup");
    assert!(out.status.success(), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stdout).contains("localhost\t"));
}

#[test]
fn udp_echo_returns_the_datagram() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_udp-echo"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start udp-echo");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .strip_prefix("udp-echo listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_udp-echo"))
        .args(["--send", addr.as_str(), "datagram"])
        .output()
        .expect("run udp-echo --send");
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "datagram");
}
