//! [`VecBuffer`]: a growable dynamic buffer over a caller's `Vec<u8>`.

use alloc::vec::Vec;

use super::{DynamicBuffer, LengthError};
use crate::{ConstBuffer, MutableBuffer};

/// A dynamic buffer over a borrowed `Vec<u8>` that grows up to a max size.
///
/// The vector's existing contents are the initial readable bytes. While the adapter
/// lives, the vector may hold initialized scratch bytes past the readable ones, so
/// repeated `prepare` calls do not re-zero memory; dropping the adapter truncates the
/// vector to exactly the readable bytes. `consume` moves the remaining bytes to the
/// front (O(size)), as the papers' vector adapter does.
///
/// ```
/// use strait_vocab::{DynamicBuffer, VecBuffer};
/// let mut vec = b"GET".to_vec();
/// {
///     let mut buf = VecBuffer::new(&mut vec, 16);
///     buf.prepare(2)?.as_mut_slice().copy_from_slice(b" /");
///     buf.commit(2);
///     assert!(buf.prepare(12).is_err()); // 5 + 12 > 16
/// }
/// assert_eq!(vec, b"GET /");
/// # Ok::<(), strait_vocab::LengthError>(())
/// ```
#[derive(Debug)]
pub struct VecBuffer<'a> {
    vec: &'a mut Vec<u8>,
    size: usize,
    prepared: usize,
    max_size: usize,
}

impl<'a> VecBuffer<'a> {
    /// Adapts `vec`, whose contents become the readable bytes; `max_size` bounds growth.
    pub fn new(vec: &'a mut Vec<u8>, max_size: usize) -> Self {
        let size = vec.len();
        Self {
            vec,
            size,
            prepared: 0,
            max_size,
        }
    }

    /// Adapts `vec` with no bound but `isize::MAX`.
    pub fn unbounded(vec: &'a mut Vec<u8>) -> Self {
        Self::new(vec, isize::MAX as usize)
    }
}

impl Drop for VecBuffer<'_> {
    fn drop(&mut self) {
        self.vec.truncate(self.size);
    }
}

impl DynamicBuffer for VecBuffer<'_> {
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
        self.vec.capacity().min(self.max_size).max(self.size)
    }
    fn max_size(&self) -> usize {
        self.max_size
    }
    fn data(&self) -> ConstBuffer<'_> {
        ConstBuffer::new(&self.vec[..self.size])
    }
    fn prepare(&mut self, n: usize) -> Result<MutableBuffer<'_>, LengthError> {
        LengthError::check(n, self.size, self.max_size)?;
        let end = self.size + n;
        if self.vec.len() < end {
            self.vec.resize(end, 0);
        }
        self.prepared = n;
        Ok(MutableBuffer::new(&mut self.vec[self.size..end]))
    }
    fn commit(&mut self, n: usize) {
        self.size += n.min(self.prepared);
        self.prepared = 0;
    }
    fn consume(&mut self, n: usize) {
        let n = n.min(self.size);
        self.vec.copy_within(n..self.size, 0);
        self.size -= n;
        self.prepared = 0;
    }
}
