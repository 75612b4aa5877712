//! A tokio key-value server, and the same server migrated to strait.
//!
//! - [`original`]: the tokio program as it was (`bin/kv-original.rs` runs it).
//! - [`kv`]: the migrated protocol module, which names no runtime. Three binaries run
//!   it, and differ only in the file that opens sockets: `bin/kv-tokio.rs`,
//!   `bin/kv-smol.rs`, `bin/kv-native.rs`.
//! - [`store`]: the business logic both share, untouched by the migration.
//! - [`client`]: a blocking client for the line protocol (the tests' and `kv-client`'s).
//!
//! `docs/migrating-from-tokio.md` at the repository root walks through the change.
//! Every binary prints `listening on ADDR`, serves until its standard input closes,
//! then stops accepting, stops its connections and exits.

pub mod client;
pub mod kv;
pub mod original;
pub mod store;

use std::time::Duration;

/// Server settings, from the command line.
#[derive(Debug, Clone, Copy)]
pub struct Config {
    /// How long a client may stay silent before the server says `ERR idle timeout`.
    pub idle: Duration,
    /// The longest command line, `\n` included.
    pub max_line: usize,
}

impl Config {
    /// Reads `--idle-ms N` and `--max-line N` from the arguments; the first other
    /// argument is the address to bind (default `127.0.0.1:7878`).
    ///
    /// # Panics
    /// On a malformed number (a usage error).
    pub fn from_args() -> (String, Config) {
        let mut config = Config {
            idle: Duration::from_secs(30),
            max_line: 1024,
        };
        let mut addr = String::from("127.0.0.1:7878");
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            let mut number = || -> u64 {
                let value = args.next().unwrap_or_default();
                value
                    .parse()
                    .unwrap_or_else(|_| panic!("{arg} takes a number, not {value:?}"))
            };
            match arg.as_str() {
                "--idle-ms" => config.idle = Duration::from_millis(number()),
                "--max-line" => config.max_line = number() as usize,
                _ => addr = arg,
            }
        }
        (addr, config)
    }
}

/// Calls `stop` once standard input reaches its end (or fails): how every binary here
/// learns to shut down.
pub fn stop_on_stdin_eof(stop: impl FnOnce() + Send + 'static) {
    std::thread::spawn(move || {
        let _ = std::io::copy(&mut std::io::stdin().lock(), &mut std::io::sink());
        stop();
    });
}
