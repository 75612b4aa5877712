//! A blocking client for the line protocol.

use std::io::{self, BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

/// A connection to a key-value server.
#[derive(Debug)]
pub struct Client {
    reader: BufReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    /// Connects, with a 5 s read timeout so a silent server fails the caller.
    ///
    /// # Errors
    /// The OS error of `connect`.
    pub fn connect(addr: SocketAddr) -> io::Result<Client> {
        let writer = TcpStream::connect(addr)?;
        writer.set_read_timeout(Some(Duration::from_secs(5)))?;
        Ok(Client {
            reader: BufReader::new(writer.try_clone()?),
            writer,
        })
    }

    /// Sends `bytes` as they are (one or more command lines, or a fragment).
    ///
    /// # Errors
    /// The OS error of the write.
    pub fn send(&mut self, bytes: &str) -> io::Result<()> {
        self.writer.write_all(bytes.as_bytes())
    }

    /// The next reply line, without its `\n`; `None` at end of stream.
    ///
    /// # Errors
    /// A read error or timeout.
    pub fn reply(&mut self) -> io::Result<Option<String>> {
        let mut line = String::new();
        if self.reader.read_line(&mut line)? == 0 {
            return Ok(None);
        }
        Ok(Some(line.trim_end_matches('\n').to_owned()))
    }

    /// Sends one command and returns its reply.
    ///
    /// # Errors
    /// As [`send`](Self::send) and [`reply`](Self::reply); `UnexpectedEof` if the
    /// server closed instead of answering.
    pub fn call(&mut self, command: &str) -> io::Result<String> {
        self.send(&format!("{command}\n"))?;
        self.reply()?
            .ok_or_else(|| io::Error::new(io::ErrorKind::UnexpectedEof, "server closed"))
    }
}
