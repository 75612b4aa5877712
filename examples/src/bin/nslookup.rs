//! Resolves host names (and, with `-x`, addresses) on strait's resolver threads.
//!
//! ```text
//! cargo run --release -p strait-examples --bin nslookup -- localhost [more hosts...]
//! cargo run --release -p strait-examples --bin nslookup -- -x 127.0.0.1
//! ```

use std::io;
use std::net::{IpAddr, SocketAddr};

use strait_native::{IoContext, Resolver};

fn main() -> io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.is_empty() {
        eprintln!("usage: nslookup HOST... | nslookup -x ADDRESS...");
        std::process::exit(2);
    }
    let ctx = IoContext::new()?;
    let resolver = Resolver::new();
    let mut failed = false;
    if args[0] == "-x" {
        for a in &args[1..] {
            let ip: IpAddr = a
                .parse()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{a}: {e}")))?;
            match ctx.block_on(resolver.reverse(SocketAddr::new(ip, 0))) {
                Ok(name) => println!("{a}\t{name}"),
                Err(e) => {
                    println!("{a}\t{e}");
                    failed = true;
                }
            }
        }
    } else {
        for host in &args {
            match ctx.block_on(resolver.resolve(host, 0)) {
                Ok(addrs) => {
                    for addr in addrs {
                        println!("{host}\t{}", addr.ip());
                    }
                }
                Err(e) => {
                    println!("{host}\t{e}");
                    failed = true;
                }
            }
        }
    }
    if failed {
        std::process::exit(1);
    }
    Ok(())
}
