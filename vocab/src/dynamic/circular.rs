//! [`CircularBuffer`]: caller storage used as a ring; no data moves on wrap.

use super::{DynamicBuffer, LengthError};
use crate::{ConstBuffer, MutableBuffer};

/// A dynamic buffer over caller storage used as a ring. Views are two-part
/// (`[first, second]`, the second empty unless the region wraps), so neither `prepare`
/// nor `consume` ever moves data.
///
/// ```
/// use strait_vocab::{buffer_copy, ConstBufferSequence, CircularBuffer, DynamicBuffer};
/// let mut storage = [0u8; 4];
/// let mut ring = CircularBuffer::new(&mut storage);
/// buffer_copy(&mut ring.prepare(3)?, "abc", usize::MAX);
/// ring.commit(3);
/// ring.consume(2);
/// buffer_copy(&mut ring.prepare(3)?, "def", usize::MAX); // wraps around
/// ring.commit(3);
/// let bytes: Vec<u8> = ring.data().buffers().flatten().copied().collect();
/// assert_eq!(bytes, b"cdef");
/// # Ok::<(), strait_vocab::LengthError>(())
/// ```
#[derive(Debug)]
pub struct CircularBuffer<'a> {
    storage: &'a mut [u8],
    start: usize,
    size: usize,
    prepared: usize,
}

impl<'a> CircularBuffer<'a> {
    /// An empty ring over `storage`; its capacity and max size are `storage.len()`.
    pub fn new(storage: &'a mut [u8]) -> Self {
        Self {
            storage,
            start: 0,
            size: 0,
            prepared: 0,
        }
    }

    fn wrap(&self, at: usize) -> usize {
        if at >= self.storage.len() {
            at - self.storage.len()
        } else {
            at
        }
    }
}

impl DynamicBuffer for CircularBuffer<'_> {
    type Data<'b>
        = [ConstBuffer<'b>; 2]
    where
        Self: 'b;
    type Prepared<'b>
        = [MutableBuffer<'b>; 2]
    where
        Self: 'b;

    fn size(&self) -> usize {
        self.size
    }
    fn capacity(&self) -> usize {
        self.storage.len()
    }
    fn max_size(&self) -> usize {
        self.storage.len()
    }
    fn data(&self) -> [ConstBuffer<'_>; 2] {
        let cap = self.storage.len();
        if self.start + self.size <= cap {
            let first = &self.storage[self.start..self.start + self.size];
            [ConstBuffer::new(first), ConstBuffer::EMPTY]
        } else {
            let tail = self.start + self.size - cap;
            [
                ConstBuffer::new(&self.storage[self.start..]),
                ConstBuffer::new(&self.storage[..tail]),
            ]
        }
    }
    fn prepare(&mut self, n: usize) -> Result<[MutableBuffer<'_>; 2], LengthError> {
        let cap = self.storage.len();
        LengthError::check(n, self.size, cap)?;
        self.prepared = n;
        let at = self.wrap(self.start + self.size);
        if at + n <= cap {
            Ok([
                MutableBuffer::new(&mut self.storage[at..at + n]),
                MutableBuffer::default(),
            ])
        } else {
            let (front, back) = self.storage.split_at_mut(at);
            let wrapped = n - back.len();
            Ok([
                MutableBuffer::new(back),
                MutableBuffer::new(&mut front[..wrapped]),
            ])
        }
    }
    fn commit(&mut self, n: usize) {
        self.size += n.min(self.prepared);
        self.prepared = 0;
    }
    fn consume(&mut self, n: usize) {
        let n = n.min(self.size);
        self.start = self.wrap(self.start + n);
        self.size -= n;
        self.prepared = 0;
        if self.size == 0 {
            self.start = 0;
        }
    }
}
