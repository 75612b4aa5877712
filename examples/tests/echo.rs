//! The README's main example works: echo-server answers echo-client.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

#[test]
fn echo_client_gets_its_message_back_from_echo_server() {
    let mut server = Command::new(env!("CARGO_BIN_EXE_echo-server"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .spawn()
        .expect("start echo-server");
    let mut lines = BufReader::new(server.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("utf-8");
    let addr = first
        .strip_prefix("echo-server listening on ")
        .unwrap_or_else(|| panic!("unexpected first line: {first}"))
        .to_owned();
    let out = Command::new(env!("CARGO_BIN_EXE_echo-client"))
        .args([addr.as_str(), "ping", "over", "tcp"])
        .output()
        .expect("run echo-client");
    let _ = server.kill();
    let _ = server.wait();
    assert!(out.status.success(), "echo-client failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ping over tcp");
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
