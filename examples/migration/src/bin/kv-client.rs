//! A line client for the key-value servers: each line of standard input is a command,
//! each reply is printed. `kv-client ADDR`.

use std::io::BufRead;

use strait_migration_example::client::Client;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:7878".to_owned());
    let addr = addr
        .parse()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
    let mut client = Client::connect(addr)?;
    for line in std::io::stdin().lock().lines() {
        let reply = client.call(&line?)?;
        println!("{reply}");
        if reply == "BYE" {
            break;
        }
    }
    Ok(())
}
