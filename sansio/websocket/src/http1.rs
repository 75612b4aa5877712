//! WebSocket endpoints inside a `strait-http1` server (feature `http1`): the service
//! answers the upgrade request through its [`Exchange`] with [`respond`], and once
//! [`serve_connection`](strait_http1::io::serve_connection) hands the stream back
//! ([`Served::Upgraded`], with the bytes it read past the request) [`upgraded`] makes
//! the [`WebSocket`]. Plain HTTP requests on the same server are served as usual.
//!
//! ```no_run
//! use std::io;
//! use strait_http1::io::{serve_connection, Exchange};
//! use strait_websocket::http1::{is_websocket_request, respond, upgraded};
//! use strait_websocket::io::Accepted;
//! use strait_websocket::proto::Config;
//!
//! async fn serve<S: strait_streams::Stream + Unpin>(stream: S) -> io::Result<()> {
//!     let mut accepted: Option<Accepted> = None;
//!     let served = serve_connection(stream, async |ex: &mut Exchange<'_, S>| {
//!         if is_websocket_request(ex.request()) {
//!             accepted = respond(ex, Config::default(), &[]).await?.ok();
//!             return Ok(());
//!         }
//!         ex.respond(http::StatusCode::OK, &http::HeaderMap::new(), b"hello").await
//!     })
//!     .await?;
//!     if let Some(mut ws) = upgraded(served, accepted) {
//!         while let Some(m) = ws.next_message().await? {
//!             let _ = m;
//!         }
//!     }
//!     Ok(())
//! }
//! ```

use std::io;

use http::header;
use strait_http1::io::{Exchange, Served};
use strait_http1::proto::RequestHead;
use strait_streams::Stream;

use crate::handshake::HandshakeError;
use crate::io::{server_handshake, Accepted, WebSocket};
use crate::proto::Config;

/// Whether the request asks to upgrade to WebSocket (`Upgrade: websocket`): route it to
/// [`respond`], which checks the rest. Reads the borrowed head (no allocation).
pub fn is_websocket_request(head: RequestHead<'_>) -> bool {
    head.headers()
        .get_all(header::UPGRADE.as_str())
        .filter_map(|v| std::str::from_utf8(v).ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("websocket"))
}

/// Answers the exchange's request: a valid WebSocket handshake gets its 101 (the
/// subprotocol and permessage-deflate chosen as by
/// [`server_handshake`]) and `Ok(Ok(accepted))`; an
/// invalid one is refused with 400 (426 for another version) and `Ok(Err(reason))`,
/// the connection staying HTTP.
///
/// # Errors
/// The connection's errors.
pub async fn respond<S: Stream + Unpin>(
    ex: &mut Exchange<'_, S>,
    config: Config,
    protocols: &[&str],
) -> io::Result<Result<Accepted, HandshakeError>> {
    // An upgrade is rare enough to pay for `http` types (one allocation per handshake).
    let parts = ex.to_parts()?;
    match server_handshake(&parts, config, protocols) {
        Ok((response, accepted)) => {
            ex.respond(response.status(), response.headers(), b"")
                .await?;
            Ok(Ok(accepted))
        }
        Err((response, e)) => {
            ex.respond(response.status(), response.headers(), b"")
                .await?;
            Ok(Err(e))
        }
    }
}

/// The WebSocket, when the served connection ended in an upgrade that [`respond`]
/// accepted; the bytes read past the request are its first input. `None` otherwise
/// (the connection closed, or the upgrade was not ours).
pub fn upgraded<S: Stream + Unpin>(
    served: Served<S>,
    accepted: Option<Accepted>,
) -> Option<WebSocket<S>> {
    match (served, accepted) {
        (Served::Upgraded { stream, leftover }, Some(accepted)) => {
            Some(accepted.into_websocket(stream, &leftover))
        }
        _ => None,
    }
}
