//! The connection's input buffer: grows to `Limits::max_buffered` once, then is reused.

/// Unconsumed input is `buf[start..end]`. `buf` stays fully initialized (its length is
/// its allocated size), so callers can read straight into [`Input::spare`].
#[derive(Debug, Default)]
pub(crate) struct Input {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// The peer ended its direction: no byte follows those buffered.
    pub(crate) eof: bool,
}

impl Input {
    #[inline]
    pub(crate) fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.end - self.start
    }

    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    #[inline]
    pub(crate) fn consume(&mut self, n: usize) {
        debug_assert!(n <= self.len());
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Room to read into, with unconsumed bytes moved to the front; empty when `max`
    /// bytes are already buffered.
    pub(crate) fn spare(&mut self, max: usize) -> &mut [u8] {
        let used = self.len();
        if used >= max {
            return &mut [];
        }
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.start = 0;
            self.end = used;
        }
        if self.end == self.buf.len() {
            let grown = (self.buf.len() * 2).max(4096).min(max);
            if grown > self.buf.len() {
                self.buf.resize(grown, 0);
            }
        }
        let stop = self.buf.len().min(max);
        &mut self.buf[self.end..stop]
    }

    /// Marks `n` bytes of the last [`spare`](Self::spare) as filled.
    pub(crate) fn commit(&mut self, n: usize) {
        self.end += n;
        debug_assert!(self.end <= self.buf.len());
    }

    /// Copies as much of `data` as fits under `max` buffered bytes; returns how much.
    #[inline]
    pub(crate) fn push(&mut self, data: &[u8], max: usize) -> usize {
        // The common case: it fits after the buffered bytes as they lie.
        let end = self.end + data.len();
        if end <= self.buf.len() && end - self.start <= max {
            if let [b] = *data {
                // A byte at a time: cheaper than a call to memcpy.
                self.buf[self.end] = b;
            } else {
                self.buf[self.end..end].copy_from_slice(data);
            }
            self.end = end;
            return data.len();
        }
        self.push_slow(data, max)
    }

    #[cold]
    fn push_slow(&mut self, data: &[u8], max: usize) -> usize {
        let mut done = 0;
        while done < data.len() {
            let room = self.spare(max);
            if room.is_empty() {
                break;
            }
            let n = room.len().min(data.len() - done);
            room[..n].copy_from_slice(&data[done..done + n]);
            self.commit(n);
            done += n;
        }
        done
    }

    /// Moves every unconsumed byte into `dst` (the hand-off after an upgrade).
    pub(crate) fn take_into(&mut self, dst: &mut Vec<u8>) {
        dst.extend_from_slice(self.data());
        self.consume(self.len());
    }
}
