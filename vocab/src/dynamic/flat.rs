//! [`FlatBuffer`]: caller storage, one contiguous readable and one writable region.

use super::{DynamicBuffer, LengthError};
use crate::{ConstBuffer, MutableBuffer};

/// A dynamic buffer over caller storage of fixed capacity, with single-region views.
///
/// `consume` only advances an index. `prepare` moves the readable bytes to the front of
/// the storage when the writable region would not fit after them, so `data()` and
/// `prepare()` are always one contiguous slice each.
///
/// ```
/// use strait_vocab::{DynamicBuffer, FlatBuffer};
/// let mut storage = [0u8; 8];
/// let mut buf = FlatBuffer::new(&mut storage);
/// buf.prepare(5)?.as_mut_slice().copy_from_slice(b"hello");
/// buf.commit(5);
/// buf.consume(2);
/// assert_eq!(buf.data().as_slice(), b"llo");
/// assert!(buf.prepare(6).is_err()); // 3 readable + 6 > 8
/// # Ok::<(), strait_vocab::LengthError>(())
/// ```
#[derive(Debug)]
pub struct FlatBuffer<'a> {
    storage: &'a mut [u8],
    start: usize,
    size: usize,
    prepared: usize,
}

impl<'a> FlatBuffer<'a> {
    /// An empty buffer over `storage`; its capacity and max size are `storage.len()`.
    pub fn new(storage: &'a mut [u8]) -> Self {
        Self {
            storage,
            start: 0,
            size: 0,
            prepared: 0,
        }
    }
}

impl DynamicBuffer for FlatBuffer<'_> {
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
        self.storage.len()
    }
    fn max_size(&self) -> usize {
        self.storage.len()
    }
    fn data(&self) -> ConstBuffer<'_> {
        ConstBuffer::new(&self.storage[self.start..self.start + self.size])
    }
    fn prepare(&mut self, n: usize) -> Result<MutableBuffer<'_>, LengthError> {
        LengthError::check(n, self.size, self.storage.len())?;
        if self.start + self.size + n > self.storage.len() {
            self.storage
                .copy_within(self.start..self.start + self.size, 0);
            self.start = 0;
        }
        self.prepared = n;
        let at = self.start + self.size;
        Ok(MutableBuffer::new(&mut self.storage[at..at + n]))
    }
    fn commit(&mut self, n: usize) {
        self.size += n.min(self.prepared);
        self.prepared = 0;
    }
    fn consume(&mut self, n: usize) {
        let n = n.min(self.size);
        self.start += n;
        self.size -= n;
        self.prepared = 0;
        if self.size == 0 {
            self.start = 0;
        }
    }
}
