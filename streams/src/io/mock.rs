//! Scripted mock transports for tests in any crate: [`MockStream`] plays a script of
//! reads and expected writes; [`MockSource`] and [`MockSink`] are in-memory sources
//! and sinks implementing every read or write concept, with a chunk limit.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use strait_vocab::{buffer_copy, ConstBuffer, ConstWindow, MutableBuffer, MutableWindow};

use super::traits::{
    BufferSink, BufferSource, ReadBufs, ReadSource, ReadStream, WriteBufs, WriteSink, WriteStream,
};

#[derive(Debug)]
enum Action {
    Read(Vec<u8>),
    Write(Vec<u8>),
    ReadError(io::ErrorKind),
    WriteError(io::ErrorKind),
    /// The next operation returns `Pending` once (and wakes itself).
    Pending,
}

/// Builds a [`MockStream`] script, in order.
#[derive(Debug, Default)]
pub struct MockBuilder {
    actions: VecDeque<Action>,
    max_chunk: Option<usize>,
}

impl MockBuilder {
    /// The next read returns these bytes (over several reads if the caller's buffers
    /// or the chunk limit are smaller).
    pub fn read(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.actions
            .push_back(Action::Read(bytes.as_ref().to_vec()));
        self
    }

    /// The next writes must be exactly these bytes.
    pub fn write(mut self, bytes: impl AsRef<[u8]>) -> Self {
        self.actions
            .push_back(Action::Write(bytes.as_ref().to_vec()));
        self
    }

    /// The next read fails with `kind`.
    pub fn read_error(mut self, kind: io::ErrorKind) -> Self {
        self.actions.push_back(Action::ReadError(kind));
        self
    }

    /// The next write fails with `kind`.
    pub fn write_error(mut self, kind: io::ErrorKind) -> Self {
        self.actions.push_back(Action::WriteError(kind));
        self
    }

    /// The next operation returns `Pending` once before going on.
    pub fn pending(mut self) -> Self {
        self.actions.push_back(Action::Pending);
        self
    }

    /// Limits every read and write to `max_chunk` bytes.
    pub fn max_chunk(mut self, max_chunk: usize) -> Self {
        assert!(max_chunk > 0, "max_chunk must be positive");
        self.max_chunk = Some(max_chunk);
        self
    }

    /// The mock.
    pub fn build(self) -> MockStream {
        MockStream {
            actions: self.actions,
            max_chunk: self.max_chunk.unwrap_or(usize::MAX),
            waiting_reader: None,
            shut_down: false,
        }
    }
}

/// A stream that plays a script: reads return scripted bytes, writes must match the
/// expected bytes (a mismatch fails the write with an `InvalidData` error naming both),
/// scripted errors and `Pending`s occur in order. A read while a write is expected waits
/// until the writes are done; when the script is exhausted, reads return end of stream
/// and writes fail.
///
/// ```
/// use strait_streams::io::MockStream;
/// use strait_streams::{block_on, write_all, ReadStreamExt};
/// let mut mock = MockStream::builder().write("ping").read("pong").build();
/// block_on(async {
///     write_all(&mut mock, "ping").await.unwrap();
///     let mut buf = [0u8; 4];
///     assert_eq!(mock.read(&mut buf[..]).await.unwrap(), 4);
///     assert_eq!(&buf, b"pong");
/// });
/// assert!(mock.is_done());
/// ```
pub struct MockStream {
    actions: VecDeque<Action>,
    max_chunk: usize,
    waiting_reader: Option<Waker>,
    shut_down: bool,
}

impl MockStream {
    /// Starts a script.
    pub fn builder() -> MockBuilder {
        MockBuilder::default()
    }

    /// `true` when the whole script was played.
    pub fn is_done(&self) -> bool {
        self.actions.is_empty()
    }

    /// `true` after `shutdown`.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down
    }

    fn take_pending(&mut self, cx: &mut Context<'_>) -> bool {
        if matches!(self.actions.front(), Some(Action::Pending)) {
            self.actions.pop_front();
            cx.waker().wake_by_ref();
            return true;
        }
        false
    }
}

impl ReadStream for MockStream {
    fn poll_read_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if strait_vocab::buffer_empty(&*bufs) {
            return Poll::Ready(Ok(0));
        }
        if this.take_pending(cx) {
            return Poll::Pending;
        }
        match this.actions.front_mut() {
            None => Poll::Ready(Ok(0)),
            Some(Action::ReadError(kind)) => {
                let kind = *kind;
                this.actions.pop_front();
                Poll::Ready(Err(kind.into()))
            }
            Some(Action::Read(data)) => {
                let limit = data.len().min(this.max_chunk);
                let n = buffer_copy(bufs, &data[..limit], usize::MAX);
                data.drain(..n);
                if data.is_empty() {
                    this.actions.pop_front();
                }
                Poll::Ready(Ok(n))
            }
            Some(_) => {
                this.waiting_reader = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    }
}

impl WriteStream for MockStream {
    fn poll_write_some(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let offered = strait_vocab::buffer_size(bufs);
        if offered == 0 {
            return Poll::Ready(Ok(0));
        }
        if this.shut_down {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::BrokenPipe,
                "write after shutdown",
            )));
        }
        if this.take_pending(cx) {
            return Poll::Pending;
        }
        let result = match this.actions.front_mut() {
            Some(Action::WriteError(kind)) => {
                let kind = *kind;
                this.actions.pop_front();
                Err(kind.into())
            }
            Some(Action::Write(expected)) => {
                let n = offered.min(expected.len()).min(this.max_chunk);
                let got: Vec<u8> = bufs
                    .iter()
                    .flat_map(|b| b.iter().copied())
                    .take(n)
                    .collect();
                if got != expected[..n] {
                    Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "mock: wrote {:?}, expected {:?}",
                            String::from_utf8_lossy(&got),
                            String::from_utf8_lossy(&expected[..n])
                        ),
                    ))
                } else {
                    expected.drain(..n);
                    if expected.is_empty() {
                        this.actions.pop_front();
                    }
                    Ok(n)
                }
            }
            _ => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                "mock: unexpected write",
            )),
        };
        if let Some(w) = this.waiting_reader.take() {
            w.wake();
        }
        Poll::Ready(result)
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().shut_down = true;
        Poll::Ready(Ok(()))
    }
}

impl fmt::Debug for MockStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MockStream")
            .field("remaining", &self.actions)
            .finish()
    }
}

/// An in-memory source: [`ReadStream`], [`ReadSource`] and [`BufferSource`] over bytes
/// given up front or with [`provide`](Self::provide). Reads, pulls and partial reads
/// move at most `max_chunk` bytes each (a complete read ignores the limit, as in the
/// papers). It never waits: when drained it reports end of source. Operations never
/// allocate.
#[derive(Debug, Clone)]
pub struct MockSource {
    data: Vec<u8>,
    pos: usize,
    max_chunk: usize,
}

impl MockSource {
    /// A source of `data`, `max_chunk` bytes per operation.
    pub fn new(data: impl Into<Vec<u8>>, max_chunk: usize) -> Self {
        assert!(max_chunk > 0, "max_chunk must be positive");
        MockSource {
            data: data.into(),
            pos: 0,
            max_chunk,
        }
    }

    /// Appends bytes to read.
    pub fn provide(&mut self, bytes: impl AsRef<[u8]>) {
        if self.pos == self.data.len() {
            self.data.clear();
            self.pos = 0;
        }
        self.data.extend_from_slice(bytes.as_ref());
    }

    /// Bytes not yet read.
    pub fn available(&self) -> usize {
        self.data.len() - self.pos
    }

    /// Starts over from the first byte.
    pub fn rewind(&mut self) {
        self.pos = 0;
    }
}

impl ReadStream for MockSource {
    fn poll_read_some(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &mut [MutableBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let end = this.data.len().min(this.pos + this.max_chunk);
        let n = buffer_copy(bufs, &this.data[this.pos..end], usize::MAX);
        this.pos += n;
        Poll::Ready(Ok(n))
    }
}

impl ReadSource for MockSource {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &mut ReadBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A window holds at most 16 descriptors: go on until full or drained.
        while !bufs.is_empty() && this.pos < this.data.len() {
            let src = &this.data[this.pos..];
            let n = buffer_copy(bufs.window_mut().as_mut_slice(), src, usize::MAX);
            bufs.consume(n);
            this.pos += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl BufferSource for MockSource {
    fn poll_pull<'s>(
        self: Pin<&'s mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<io::Result<ConstWindow<'s>>> {
        let this = self.get_mut();
        let end = this.data.len().min(this.pos + this.max_chunk);
        Poll::Ready(Ok(ConstWindow::new(&this.data[this.pos..end])))
    }

    fn consume(self: Pin<&mut Self>, n: usize) {
        let this = self.get_mut();
        this.pos = this.data.len().min(this.pos + n);
    }
}

/// An in-memory sink: [`WriteStream`], [`WriteSink`] and [`BufferSink`] that records
/// what it receives. Partial writes and prepared windows hold at most `max_chunk`
/// bytes (a complete write ignores the limit). Writing after the end fails with
/// `BrokenPipe`. With capacity reserved up front, operations never allocate.
#[derive(Debug, Clone)]
pub struct MockSink {
    data: Vec<u8>,
    prepared: Vec<u8>,
    max_chunk: usize,
    eof: bool,
}

impl MockSink {
    /// An empty sink, `max_chunk` bytes per partial operation.
    pub fn new(max_chunk: usize) -> Self {
        Self::with_capacity(max_chunk, 0)
    }

    /// An empty sink with room for `capacity` bytes before it reallocates.
    pub fn with_capacity(max_chunk: usize, capacity: usize) -> Self {
        assert!(max_chunk > 0, "max_chunk must be positive");
        MockSink {
            data: Vec::with_capacity(capacity),
            prepared: vec![0; max_chunk.min(64 * 1024)],
            max_chunk,
            eof: false,
        }
    }

    /// Everything received.
    pub fn data(&self) -> &[u8] {
        &self.data
    }

    /// Checks that what was received starts with `expected` and removes it, so a test
    /// can match output piece by piece.
    ///
    /// # Errors
    /// A message naming what was received and what was expected.
    pub fn expect(&mut self, expected: impl AsRef<[u8]>) -> Result<(), String> {
        let expected = expected.as_ref();
        if self.data.starts_with(expected) {
            self.data.drain(..expected.len());
            Ok(())
        } else {
            Err(format!(
                "mock sink received {:?}, expected it to start with {:?}",
                String::from_utf8_lossy(&self.data),
                String::from_utf8_lossy(expected)
            ))
        }
    }

    /// Forgets what was received (keeps the capacity) and reopens the sink.
    pub fn clear(&mut self) {
        self.data.clear();
        self.eof = false;
    }

    /// `true` once the sink was ended (`write_eof`, `commit_eof`, `shutdown`).
    pub fn eof_called(&self) -> bool {
        self.eof
    }

    fn closed() -> io::Error {
        io::Error::new(io::ErrorKind::BrokenPipe, "write after end of sink")
    }
}

impl WriteStream for MockSink {
    fn poll_write_some(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &[ConstBuffer<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if strait_vocab::buffer_empty(bufs) {
            return Poll::Ready(Ok(0));
        }
        if this.eof {
            return Poll::Ready(Err(Self::closed()));
        }
        let mut left = this.max_chunk;
        for b in bufs {
            let take = b.len().min(left);
            this.data.extend_from_slice(&b[..take]);
            left -= take;
            if left == 0 {
                break;
            }
        }
        Poll::Ready(Ok(this.max_chunk - left))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.get_mut().eof = true;
        Poll::Ready(Ok(()))
    }
}

impl WriteSink for MockSink {
    fn poll_write(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.eof && !bufs.is_empty() {
            return Poll::Ready(Err(Self::closed()));
        }
        while !bufs.is_empty() {
            let window = bufs.window();
            for b in window.as_slice() {
                this.data.extend_from_slice(b);
            }
            bufs.consume(window.size());
        }
        Poll::Ready(Ok(()))
    }

    fn poll_write_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &mut WriteBufs<'_, '_>,
    ) -> Poll<io::Result<()>> {
        let mut this = self;
        match this.as_mut().poll_write(cx, bufs) {
            Poll::Ready(Ok(())) => {
                this.get_mut().eof = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}

impl BufferSink for MockSink {
    fn poll_prepare<'s>(
        self: Pin<&'s mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<io::Result<MutableWindow<'s>>> {
        let this = self.get_mut();
        if this.eof {
            return Poll::Ready(Ok(MutableWindow::new(&mut [0u8; 0][..])));
        }
        Poll::Ready(Ok(MutableWindow::new(&mut this.prepared[..])))
    }

    fn poll_commit(self: Pin<&mut Self>, _cx: &mut Context<'_>, n: usize) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.eof && n > 0 {
            return Poll::Ready(Err(Self::closed()));
        }
        let n = n.min(this.prepared.len());
        this.data.extend_from_slice(&this.prepared[..n]);
        Poll::Ready(Ok(()))
    }

    fn poll_commit_eof(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        n: usize,
    ) -> Poll<io::Result<()>> {
        let mut this = self;
        match this.as_mut().poll_commit(cx, n) {
            Poll::Ready(Ok(())) => {
                this.get_mut().eof = true;
                Poll::Ready(Ok(()))
            }
            other => other,
        }
    }
}
