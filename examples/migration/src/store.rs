//! The business logic: commands against a shared map. It never touched I/O, so the
//! migration leaves it exactly as it was.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

/// The shared key-value map.
#[derive(Debug, Default)]
pub struct Store {
    map: Mutex<HashMap<String, String>>,
}

/// What a command asks of the connection after its reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Then {
    /// Read the next command.
    Continue,
    /// Close the connection (the client said `QUIT`).
    Close,
}

impl Store {
    /// An empty store.
    pub fn new() -> Store {
        Store::default()
    }

    /// Runs one command line (without its line ending) and gives the reply line (with
    /// its `\n`).
    ///
    /// | command | reply |
    /// |---|---|
    /// | `SET key value` | `OK` |
    /// | `GET key` | `VALUE value`, or `NONE` |
    /// | `DEL key` | `OK`, or `NONE` |
    /// | `QUIT` | `BYE`, then the server closes |
    /// | anything else | `ERR ...` |
    pub fn execute(&self, line: &str) -> (String, Then) {
        let mut words = line.trim_end_matches('\r').splitn(3, ' ');
        let map = || self.map.lock().unwrap_or_else(PoisonError::into_inner);
        let reply = match (words.next(), words.next(), words.next()) {
            (Some("SET"), Some(key), Some(value)) if !key.is_empty() => {
                map().insert(key.to_owned(), value.to_owned());
                "OK\n".to_owned()
            }
            (Some("SET"), ..) => "ERR usage: SET <key> <value>\n".to_owned(),
            (Some("GET"), Some(key), None) => match map().get(key) {
                Some(value) => format!("VALUE {value}\n"),
                None => "NONE\n".to_owned(),
            },
            (Some("DEL"), Some(key), None) => match map().remove(key) {
                Some(_) => "OK\n".to_owned(),
                None => "NONE\n".to_owned(),
            },
            (Some("GET" | "DEL"), ..) => "ERR usage: GET|DEL <key>\n".to_owned(),
            (Some("QUIT"), None, None) => return ("BYE\n".to_owned(), Then::Close),
            _ => "ERR unknown command\n".to_owned(),
        };
        (reply, Then::Continue)
    }
}
