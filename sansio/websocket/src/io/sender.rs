//! [`Sender`]: the sending side of a [`WebSocket`](super::WebSocket), on its own so that it
//! can be borrowed next to a message that borrows the read buffer.

use std::io;

use strait_streams::{ConstBuffer, Stream, WriteStreamExt};

use crate::proto::{apply_mask, Connection, Error, MessageKind, Role, MAX_HEADER_LEN};

/// Messages from this size on are written straight from the caller's bytes (header and
/// payload in one vectored write) by a server; smaller ones are cheaper to copy.
const DIRECT_SEND_MIN: usize = 2048;

/// Sends on a [`WebSocket`](super::WebSocket) while a received message is borrowed,
/// from [`WebSocket::next_message_with_sender`](super::WebSocket::next_message_with_sender).
/// Sends write their frame out and flush before returning, as the WebSocket's own do.
pub struct Sender<'a, S> {
    pub(super) stream: &'a mut S,
    pub(super) conn: &'a mut Connection,
    pub(super) wbuf: &'a mut Vec<u8>,
    pub(super) wpos: &'a mut usize,
}

impl<S> std::fmt::Debug for Sender<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sender").finish_non_exhaustive()
    }
}

impl<S: Stream + Unpin> Sender<'_, S> {
    /// Sends a text message.
    ///
    /// # Errors
    /// [`Error::Closed`] (as `io::Error`) after a close; the stream's errors.
    pub async fn send_text(&mut self, text: &str) -> io::Result<()> {
        if self.send_direct(MessageKind::Text, text.as_bytes()).await? {
            return Ok(());
        }
        self.send_with(|c| c.send_text(text)).await
    }

    /// Sends a binary message.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_binary(&mut self, data: &[u8]) -> io::Result<()> {
        if self.send_direct(MessageKind::Binary, data).await? {
            return Ok(());
        }
        self.send_with(|c| c.send_binary(data)).await
    }

    /// Sends a binary message as [`send_binary`](Self::send_binary) does, except that a
    /// client masks a large `data` in place and writes it from there instead of masking
    /// a copy: afterwards `data` holds the masked bytes (apply
    /// [`apply_mask`](crate::proto::apply_mask) with the same key to undo, or refill it).
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text).
    pub async fn send_binary_mut(&mut self, data: &mut [u8]) -> io::Result<()> {
        if self.conn.role() == Role::Client && data.len() >= DIRECT_SEND_MIN {
            self.flush_tx().await?;
            if let Some(frame) = self
                .conn
                .send_message_header(MessageKind::Binary, data.len())?
            {
                if let Some(key) = frame.mask() {
                    apply_mask(data, key, 0);
                }
                return self.write_direct(frame.header(), data).await;
            }
        }
        self.send_binary(data).await
    }

    /// Sends a ping.
    ///
    /// # Errors
    /// As [`send_text`](Self::send_text); a payload over 125 bytes.
    pub async fn send_ping(&mut self, payload: &[u8]) -> io::Result<()> {
        self.send_with(|c| c.send_ping(payload)).await
    }

    /// A large message from a server: header and payload written together, straight
    /// from `payload`. `Ok(false)`: not sent, take the copying path (small, client role
    /// (masking needs a copy anyway), or compressed).
    async fn send_direct(&mut self, kind: MessageKind, payload: &[u8]) -> io::Result<bool> {
        if payload.len() < DIRECT_SEND_MIN || self.conn.role() == Role::Client {
            return Ok(false);
        }
        // Earlier frames first: the header must follow them directly.
        self.flush_tx().await?;
        let Some(frame) = self.conn.send_message_header(kind, payload.len())? else {
            return Ok(false);
        };
        debug_assert!(frame.mask().is_none(), "a server does not mask");
        self.write_direct(frame.header(), payload).await?;
        Ok(true)
    }

    /// Writes a frame's header and its (masked if need be) payload together, then
    /// flushes.
    async fn write_direct(&mut self, header: &[u8], payload: &[u8]) -> io::Result<()> {
        let mut write = DirectWrite {
            header: [0; MAX_HEADER_LEN],
            header_len: header.len(),
            payload,
            written: 0,
            wbuf: self.wbuf,
            wpos: self.wpos,
        };
        write.header[..write.header_len].copy_from_slice(header);
        let total = write.header_len + payload.len();
        while write.written < total {
            let (h, p) = write.rest();
            let bufs = [ConstBuffer::from(h), ConstBuffer::from(p)];
            let n = self.stream.write(&bufs[..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            write.written += n;
        }
        drop(write);
        self.stream.flush().await
    }

    async fn send_with(
        &mut self,
        mut send: impl FnMut(&mut Connection) -> Result<(), Error>,
    ) -> io::Result<()> {
        match send(self.conn) {
            Err(Error::SendBufferFull) => {
                self.flush_tx().await?;
                send(self.conn)?;
            }
            r => r?,
        }
        self.flush_tx().await
    }

    /// Writes everything the connection queued, then flushes.
    pub(super) async fn flush_tx(&mut self) -> io::Result<()> {
        let mut wrote = false;
        loop {
            if *self.wpos == self.wbuf.len() {
                self.wbuf.clear();
                *self.wpos = 0;
                if self.conn.poll_transmit(self.wbuf) == 0 {
                    break;
                }
            }
            let n = self.stream.write(&self.wbuf[*self.wpos..]).await?;
            if n == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            *self.wpos += n;
            wrote = true;
        }
        if wrote {
            self.stream.flush().await?;
        }
        Ok(())
    }
}

/// A direct write in progress. Dropped before it finished (the send's future canceled),
/// it moves the bytes not yet written into the write buffer, so the frame still goes out
/// whole on the next write and the stream stays in sync.
struct DirectWrite<'a> {
    header: [u8; MAX_HEADER_LEN],
    header_len: usize,
    payload: &'a [u8],
    written: usize,
    wbuf: &'a mut Vec<u8>,
    wpos: &'a mut usize,
}

impl DirectWrite<'_> {
    /// The header and payload bytes not yet written.
    fn rest(&self) -> (&[u8], &[u8]) {
        let h = self.written.min(self.header_len);
        let p = self.written - h;
        (&self.header[h..self.header_len], &self.payload[p..])
    }
}

impl Drop for DirectWrite<'_> {
    fn drop(&mut self) {
        if self.written < self.header_len + self.payload.len() {
            let h = self.written.min(self.header_len);
            let p = self.written - h;
            self.wbuf.clear();
            self.wbuf
                .extend_from_slice(&self.header[h..self.header_len]);
            self.wbuf.extend_from_slice(&self.payload[p..]);
            *self.wpos = 0;
        }
    }
}
