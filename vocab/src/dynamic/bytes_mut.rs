//! [`BytesMutBuffer`]: a growable dynamic buffer over a caller's `bytes::BytesMut`.

use bytes::{Buf, BytesMut};

use super::{DynamicBuffer, LengthError};
use crate::{ConstBuffer, MutableBuffer};

/// A dynamic buffer over a borrowed `BytesMut` that grows up to a max size.
///
/// Like [`VecBuffer`](crate::VecBuffer), but `consume` is O(1) (`BytesMut::advance`).
/// Dropping the adapter truncates the `BytesMut` to exactly the readable bytes.
#[derive(Debug)]
pub struct BytesMutBuffer<'a> {
    buf: &'a mut BytesMut,
    size: usize,
    prepared: usize,
    max_size: usize,
}

impl<'a> BytesMutBuffer<'a> {
    /// Adapts `buf`, whose contents become the readable bytes; `max_size` bounds growth.
    pub fn new(buf: &'a mut BytesMut, max_size: usize) -> Self {
        let size = buf.len();
        Self {
            buf,
            size,
            prepared: 0,
            max_size,
        }
    }
}

impl Drop for BytesMutBuffer<'_> {
    fn drop(&mut self) {
        self.buf.truncate(self.size);
    }
}

impl DynamicBuffer for BytesMutBuffer<'_> {
    type Data<'b>
        = ConstBuffer<'b>
    where
        Self: 'b;
    type Prepared<'b>
        = MutableBuffer<'b>
    where
        Self: 'b;

    fn size(&self) -> usize {
        self.size
    }
    fn capacity(&self) -> usize {
        self.buf.capacity().min(self.max_size).max(self.size)
    }
    fn max_size(&self) -> usize {
        self.max_size
    }
    fn data(&self) -> ConstBuffer<'_> {
        ConstBuffer::new(&self.buf[..self.size])
    }
    fn prepare(&mut self, n: usize) -> Result<MutableBuffer<'_>, LengthError> {
        LengthError::check(n, self.size, self.max_size)?;
        let end = self.size + n;
        if self.buf.len() < end {
            self.buf.resize(end, 0);
        }
        self.prepared = n;
        Ok(MutableBuffer::new(&mut self.buf[self.size..end]))
    }
    fn commit(&mut self, n: usize) {
        self.size += n.min(self.prepared);
        self.prepared = 0;
    }
    fn consume(&mut self, n: usize) {
        let n = n.min(self.size);
        self.buf.advance(n);
        self.size -= n;
        self.prepared = 0;
    }
}
