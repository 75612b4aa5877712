//! The same client and the same transcript against the original tokio program and the
//! migrated one on tokio, smol and the native driver: the migration changed nothing a
//! client can see.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use strait_migration_example::client::Client;

/// A server binary, started on a free port with a short idle timeout and line limit.
struct Server {
    child: Child,
    addr: SocketAddr,
}

impl Server {
    fn start(binary: &str) -> Server {
        let mut child = Command::new(binary)
            .args(["127.0.0.1:0", "--idle-ms", "1000", "--max-line", "64"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("start the server");
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let addr = first
            .trim()
            .strip_prefix("listening on ")
            .unwrap_or_else(|| panic!("{binary} printed {first:?}"))
            .parse()
            .unwrap();
        Server { child, addr }
    }

    /// Closes standard input (the shutdown signal) and waits for a clean exit.
    fn stop(mut self) -> std::process::ExitStatus {
        drop(self.child.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not stop within 10 s of its shutdown signal");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

/// Runs the script; every line is what was sent (`>`) or received (`<`).
fn transcript(binary: &str) -> Vec<String> {
    let server = Server::start(binary);
    let mut log = Vec::new();
    fn call(log: &mut Vec<String>, client: &mut Client, who: &str, command: &str) {
        let reply = client.call(command).unwrap();
        log.push(format!("{who}> {command}"));
        log.push(format!("{who}< {reply}"));
    }
    let mut a = Client::connect(server.addr).unwrap();
    let mut b = Client::connect(server.addr).unwrap();
    call(&mut log, &mut a, "a", "SET greeting hello world");
    call(&mut log, &mut a, "a", "GET greeting");
    call(&mut log, &mut b, "b", "GET greeting"); // the store is shared
    call(&mut log, &mut a, "a", "GET missing");
    call(&mut log, &mut a, "a", "FLY away");
    call(&mut log, &mut a, "a", "SET lonely");
    call(&mut log, &mut a, "a", "GET too many words");

    // Pipelined: three commands in one write, three replies in order.
    a.send("SET k 1\nGET k\nDEL k\n").unwrap();
    for _ in 0..3 {
        log.push(format!("a< {}", a.reply().unwrap().unwrap()));
    }
    call(&mut log, &mut a, "a", "DEL k");
    call(&mut log, &mut a, "a", "QUIT");
    log.push(format!("a end: {:?}", a.reply().unwrap()));

    // A line over the limit is refused and the connection closed.
    let mut c = Client::connect(server.addr).unwrap();
    c.send(&format!("SET big {}\n", "x".repeat(100))).unwrap();
    log.push(format!("c< {:?}", c.reply().unwrap()));
    log.push(format!("c end: {:?}", c.reply().unwrap()));

    // A silent client is told so after the idle timeout, then closed.
    let mut d = Client::connect(server.addr).unwrap();
    let started = Instant::now();
    log.push(format!("d< {:?}", d.reply().unwrap()));
    log.push(format!("d end: {:?}", d.reply().unwrap()));
    assert!(
        started.elapsed() >= Duration::from_millis(800),
        "{binary}: idle too soon"
    );

    // A client that leaves mid-line harms nobody.
    let mut e = Client::connect(server.addr).unwrap();
    e.send("GET gree").unwrap();
    drop(e);
    let mut f = Client::connect(server.addr).unwrap(); // `b` has idled out by now
    call(&mut log, &mut f, "f", "GET greeting");

    // Shutdown with a client still connected: the server exits and the client sees
    // the connection end.
    let status = server.stop();
    log.push(format!("exit success: {}", status.success()));
    log.push(format!("f end: {:?}", f.reply().map_err(|e| e.kind())));
    log
}

const EXPECTED: &[&str] = &[
    "a> SET greeting hello world",
    "a< OK",
    "a> GET greeting",
    "a< VALUE hello world",
    "b> GET greeting",
    "b< VALUE hello world",
    "a> GET missing",
    "a< NONE",
    "a> FLY away",
    "a< ERR unknown command",
    "a> SET lonely",
    "a< ERR usage: SET <key> <value>",
    "a> GET too many words",
    "a< ERR usage: GET|DEL <key>",
    "a< OK",
    "a< VALUE 1",
    "a< OK",
    "a> DEL k",
    "a< NONE",
    "a> QUIT",
    "a< BYE",
    "a end: None",
    "c< Some(\"ERR line too long\")",
    "c end: None",
    "d< Some(\"ERR idle timeout\")",
    "d end: None",
    "f> GET greeting",
    "f< VALUE hello world",
    "exit success: true",
    "f end: Ok(None)",
];

#[test]
fn the_original_tokio_program() {
    assert_eq!(transcript(env!("CARGO_BIN_EXE_kv-original")), EXPECTED);
}

#[test]
fn migrated_on_tokio() {
    assert_eq!(transcript(env!("CARGO_BIN_EXE_kv-tokio")), EXPECTED);
}

#[test]
fn migrated_on_smol() {
    assert_eq!(transcript(env!("CARGO_BIN_EXE_kv-smol")), EXPECTED);
}

#[test]
fn migrated_on_the_native_driver() {
    assert_eq!(transcript(env!("CARGO_BIN_EXE_kv-native")), EXPECTED);
}
