//! [`OwnedBuffer`]: an owned, growable dynamic buffer with a read offset.

use alloc::vec::Vec;

use super::{DynamicBuffer, LengthError};
use crate::{ConstBuffer, MutableBuffer};

/// A dynamic buffer that owns its storage and grows it up to a max size: the buffer a
/// long-lived reader or writer keeps (strait's `BufReader`/`BufWriter`, a protocol's
/// input queue).
///
/// `consume` only advances an offset (O(1)); `prepare` moves the readable bytes to the
/// front when that makes room, and otherwise grows the storage (at least doubling, never
/// past `max_size`), so views are always one contiguous slice each. Storage, once grown,
/// is kept and reused: in steady state no call allocates.
///
/// ```
/// use strait_vocab::{DynamicBuffer, OwnedBuffer};
/// let mut buf = OwnedBuffer::new(16);
/// buf.prepare(5)?.as_mut_slice().copy_from_slice(b"hello");
/// buf.commit(5);
/// buf.consume(2);
/// assert_eq!(buf.data().as_slice(), b"llo");
/// assert!(buf.prepare(14).is_err()); // 3 readable + 14 > 16
/// # Ok::<(), strait_vocab::LengthError>(())
/// ```
#[derive(Debug, Default, Clone)]
pub struct OwnedBuffer {
    /// Initialized storage; its length is the capacity.
    storage: Vec<u8>,
    start: usize,
    end: usize,
    prepared: usize,
    max_size: usize,
}

impl OwnedBuffer {
    /// An empty buffer that allocates on its first `prepare` and grows up to `max_size`.
    pub fn new(max_size: usize) -> Self {
        Self::with_capacity(0, max_size)
    }

    /// An empty buffer with `capacity` bytes allocated now (at most `max_size`).
    pub fn with_capacity(capacity: usize, max_size: usize) -> Self {
        OwnedBuffer {
            storage: alloc::vec![0; capacity.min(max_size)],
            start: 0,
            end: 0,
            prepared: 0,
            max_size,
        }
    }

    /// The readable bytes as a slice.
    pub fn as_slice(&self) -> &[u8] {
        &self.storage[self.start..self.end]
    }

    /// The readable bytes, mutably (e.g. to unmask or decrypt in place).
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        &mut self.storage[self.start..self.end]
    }

    /// Drops every readable byte and the writable region; keeps the storage.
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
        self.prepared = 0;
    }

    /// Changes the max size. Readable bytes beyond it stay (`prepare` fails until
    /// they are consumed); storage beyond it is released.
    pub fn set_max_size(&mut self, max_size: usize) {
        self.max_size = max_size;
        // Like `commit` and `consume`, ends the writable region (it may move or shrink).
        self.prepared = 0;
        if self.storage.len() > max_size.max(self.end - self.start) {
            self.compact();
            self.storage.truncate(max_size.max(self.end));
            self.storage.shrink_to_fit();
        }
    }

    fn compact(&mut self) {
        self.storage.copy_within(self.start..self.end, 0);
        self.end -= self.start;
        self.start = 0;
    }
}

impl DynamicBuffer for OwnedBuffer {
    type Data<'b>
        = ConstBuffer<'b>
    where
        Self: 'b;
    type Prepared<'b>
        = MutableBuffer<'b>
    where
        Self: 'b;

    fn size(&self) -> usize {
        self.end - self.start
    }
    fn capacity(&self) -> usize {
        self.storage.len()
    }
    fn max_size(&self) -> usize {
        self.max_size
    }
    fn data(&self) -> ConstBuffer<'_> {
        ConstBuffer::new(self.as_slice())
    }
    fn prepare(&mut self, n: usize) -> Result<MutableBuffer<'_>, LengthError> {
        let size = self.size();
        LengthError::check(n, size, self.max_size)?;
        if self.end + n > self.storage.len() {
            if size + n <= self.storage.len() {
                self.compact();
            } else {
                self.compact();
                let grown = (self.storage.len() * 2).clamp(size + n, self.max_size);
                self.storage.resize(grown, 0);
            }
        }
        self.prepared = n;
        Ok(MutableBuffer::new(
            &mut self.storage[self.end..self.end + n],
        ))
    }
    fn commit(&mut self, n: usize) {
        self.end += n.min(self.prepared);
        self.prepared = 0;
    }
    fn consume(&mut self, n: usize) {
        self.start += n.min(self.size());
        self.prepared = 0;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }
}
