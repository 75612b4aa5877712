//! Connection settings: roles, limits, timers.

use std::time::Duration;

/// Which end of the connection this is; it decides masking (§5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Accepts connections: reads masked frames, writes unmasked ones.
    Server,
    /// Opens connections: reads unmasked frames, writes masked ones.
    Client,
}

/// Settings of a [`Connection`](super::Connection). Every limit has a default and a
/// setter of the same name.
///
/// # Examples
/// ```
/// use std::time::Duration;
/// use strait_websocket::proto::Config;
/// let config = Config::default()
///     .max_message_size(1 << 20)
///     .fragments(true)
///     .ping_interval(Some(Duration::from_secs(30)));
/// assert_eq!(config.max_message_size, 1 << 20);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Config {
    /// The largest payload of one received frame; larger fails with close code 1009.
    /// Default 16 MiB.
    pub max_frame_size: usize,
    /// The largest received message (all its frames); larger fails with close code 1009.
    /// In whole-message mode this bounds the receive buffer. Default 64 MiB.
    pub max_message_size: usize,
    /// The most bytes queued for transmission before sends are refused with
    /// [`Error::SendBufferFull`](super::Error::SendBufferFull). A frame is always accepted
    /// into an empty buffer, so one message may exceed it. Automatic replies (pong, close)
    /// are never refused. Default 1 MiB.
    pub max_send_buffer: usize,
    /// Answer pings with pongs automatically (default `true`). Pings are reported as
    /// events either way.
    pub auto_pong: bool,
    /// Deliver data as [`Event::Fragment`](super::Event::Fragment)s as it arrives instead
    /// of whole [`Event::Message`](super::Event::Message)s (default `false`). Fragments
    /// need no receive buffer beyond the bytes of one input.
    pub fragments: bool,
    /// How long to wait for the peer's close frame after sending ours before giving up.
    /// Default 5 s; `None` waits forever.
    pub close_timeout: Option<Duration>,
    /// Send a ping after this long without input; fail with
    /// [`Error::TimedOut`](super::Error::TimedOut) when another interval passes without
    /// any input. Default `None` (off).
    pub ping_interval: Option<Duration>,
    /// permessage-deflate: what to offer (client) or accept (server) in the handshake
    /// helpers of the async layer, and the compression settings once negotiated.
    /// Default `None` (no compression).
    #[cfg(feature = "deflate")]
    pub compression: Option<super::deflate::DeflateConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 64 << 20,
            max_send_buffer: 1 << 20,
            auto_pong: true,
            fragments: false,
            close_timeout: Some(Duration::from_secs(5)),
            ping_interval: None,
            #[cfg(feature = "deflate")]
            compression: None,
        }
    }
}

macro_rules! setter {
    ($(#[$doc:meta] $name:ident: $ty:ty),* $(,)?) => {
        impl Config {
            $(
                #[$doc]
                #[must_use]
                pub fn $name(mut self, value: $ty) -> Self {
                    self.$name = value;
                    self
                }
            )*
        }
    };
}

setter! {
    /// Sets [`max_frame_size`](Self::max_frame_size).
    max_frame_size: usize,
    /// Sets [`max_message_size`](Self::max_message_size).
    max_message_size: usize,
    /// Sets [`max_send_buffer`](Self::max_send_buffer).
    max_send_buffer: usize,
    /// Sets [`auto_pong`](Self::auto_pong).
    auto_pong: bool,
    /// Sets [`fragments`](Self::fragments).
    fragments: bool,
    /// Sets [`close_timeout`](Self::close_timeout).
    close_timeout: Option<Duration>,
    /// Sets [`ping_interval`](Self::ping_interval).
    ping_interval: Option<Duration>,
}

#[cfg(feature = "deflate")]
setter! {
    /// Sets [`compression`](Self::compression).
    compression: Option<super::deflate::DeflateConfig>,
}
