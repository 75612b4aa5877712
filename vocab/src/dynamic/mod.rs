//! Dynamic buffers: a readable region followed by a writable one, that protocol code
//! grows with `prepare`/`commit` and drains with `consume`.
//!
//! # Contract (the papers' `DynamicBuffer`)
//!
//! A dynamic buffer holds `size()` readable bytes, viewed by [`data`](DynamicBuffer::data).
//! [`prepare(n)`](DynamicBuffer::prepare) returns exactly `n` writable bytes placed after
//! them; [`commit(k)`](DynamicBuffer::commit) moves `min(k, n)` of those bytes, in order,
//! to the end of the readable region and discards the rest of the writable region;
//! [`consume(k)`](DynamicBuffer::consume) drops `min(k, size())` bytes from the front.
//!
//! - `prepare(n)` fails with [`LengthError`] when `n > max_size() - size()`, and then
//!   changes nothing. The bytes it returns have unspecified contents.
//! - A second `prepare` replaces the first: only the latest writable region can be committed.
//! - `consume` and `commit` end the writable region (as if `commit(0)` had been called
//!   after `consume`), and they invalidate every view returned earlier by `data` or
//!   `prepare`. In Rust the borrow checker enforces this: a view borrows the buffer, so no
//!   view outlives the next mutating call.
//! - Invariant: `size() <= capacity() <= max_size()`, where `capacity()` is how many
//!   readable plus writable bytes fit without reallocating (for fixed storage, its length).
//!
//! Implementations: [`FlatBuffer`] (caller storage, one contiguous region),
//! [`CircularBuffer`] (caller storage, two-part views, no data moves on wrap),
//! [`VecBuffer`] (a caller's growable `Vec<u8>` with a max size), [`OwnedBuffer`] (owned
//! storage with an O(1) `consume`) and, with the `bytes` feature,
//! `BytesMutBuffer`.

mod circular;
mod flat;
mod owned;
mod vec;

#[cfg(feature = "bytes")]
mod bytes_mut;

#[cfg(feature = "bytes")]
pub use bytes_mut::BytesMutBuffer;
pub use circular::CircularBuffer;
pub use flat::FlatBuffer;
pub use owned::OwnedBuffer;
pub use vec::VecBuffer;

use core::fmt;

use crate::{ConstBufferSequence, MutableBufferSequence};

/// A growable byte queue with separate readable and writable regions. See the
/// [module docs](self) for the contract every implementation keeps.
pub trait DynamicBuffer {
    /// View of the readable bytes.
    type Data<'a>: ConstBufferSequence
    where
        Self: 'a;
    /// View of the writable bytes returned by `prepare`.
    type Prepared<'a>: MutableBufferSequence
    where
        Self: 'a;

    /// Readable bytes.
    fn size(&self) -> usize;
    /// Readable plus writable bytes that fit without reallocating.
    fn capacity(&self) -> usize;
    /// Most readable bytes the buffer may ever hold.
    fn max_size(&self) -> usize;
    /// The readable bytes.
    fn data(&self) -> Self::Data<'_>;
    /// Exactly `n` writable bytes after the readable ones.
    ///
    /// # Errors
    /// [`LengthError`] when `n > max_size() - size()`; the buffer is unchanged.
    fn prepare(&mut self, n: usize) -> Result<Self::Prepared<'_>, LengthError>;
    /// Moves `min(n, prepared)` written bytes to the readable region.
    fn commit(&mut self, n: usize);
    /// Drops `min(n, size())` bytes from the front of the readable region.
    fn consume(&mut self, n: usize);
}

impl<D: DynamicBuffer + ?Sized> DynamicBuffer for &mut D {
    type Data<'a>
        = D::Data<'a>
    where
        Self: 'a;
    type Prepared<'a>
        = D::Prepared<'a>
    where
        Self: 'a;
    fn size(&self) -> usize {
        (**self).size()
    }
    fn capacity(&self) -> usize {
        (**self).capacity()
    }
    fn max_size(&self) -> usize {
        (**self).max_size()
    }
    fn data(&self) -> Self::Data<'_> {
        (**self).data()
    }
    fn prepare(&mut self, n: usize) -> Result<Self::Prepared<'_>, LengthError> {
        (**self).prepare(n)
    }
    fn commit(&mut self, n: usize) {
        (**self).commit(n)
    }
    fn consume(&mut self, n: usize) {
        (**self).consume(n)
    }
}

/// `prepare(n)` asked for more than `max_size() - size()` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LengthError {
    /// The `n` passed to `prepare`.
    pub requested: usize,
    /// `max_size() - size()` at the time of the call.
    pub available: usize,
}

impl LengthError {
    /// Checks a `prepare(requested)` against `max_size - size`.
    pub(crate) fn check(requested: usize, size: usize, max_size: usize) -> Result<(), Self> {
        let available = max_size.saturating_sub(size);
        if requested > available {
            Err(LengthError {
                requested,
                available,
            })
        } else {
            Ok(())
        }
    }
}

impl fmt::Display for LengthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "dynamic buffer: prepare({}) exceeds max_size - size ({} bytes available)",
            self.requested, self.available
        )
    }
}

impl core::error::Error for LengthError {}

#[cfg(feature = "std")]
impl From<LengthError> for std::io::Error {
    fn from(err: LengthError) -> Self {
        std::io::Error::new(std::io::ErrorKind::OutOfMemory, err)
    }
}
