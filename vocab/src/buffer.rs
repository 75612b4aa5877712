//! The two buffer handles: [`ConstBuffer`] and [`MutableBuffer`].

use core::fmt;

/// A non-owning, read-only view of contiguous bytes: the `const_buffer` of the papers.
///
/// A `ConstBuffer<'a>` is a `&'a [u8]` with buffer semantics: it is `Copy`, it can be
/// advanced in place (the C++ `+=`, clamped to its size) and it is one element of a
/// [`ConstBufferSequence`](crate::ConstBufferSequence). The borrow checker enforces the
/// papers' "handles, not owners" rule: the bytes outlive every use of the handle.
#[derive(Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ConstBuffer<'a> {
    bytes: &'a [u8],
}

impl<'a> ConstBuffer<'a> {
    /// An empty buffer.
    pub const EMPTY: ConstBuffer<'static> = ConstBuffer { bytes: &[] };

    /// Wraps a byte slice.
    pub const fn new(bytes: &'a [u8]) -> Self {
        Self { bytes }
    }

    /// The viewed bytes, for the full lifetime `'a`.
    pub const fn as_slice(&self) -> &'a [u8] {
        self.bytes
    }

    /// Number of bytes in the view.
    pub const fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `true` when the view holds no bytes.
    pub const fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Removes up to `n` bytes from the front (the papers' `+=`); clamps at the end.
    pub fn advance(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes = &self.bytes[n..];
    }

    /// Keeps at most the first `n` bytes.
    pub fn truncate(&mut self, n: usize) {
        let n = n.min(self.bytes.len());
        self.bytes = &self.bytes[..n];
    }
}

impl fmt::Debug for ConstBuffer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ConstBuffer({} bytes)", self.bytes.len())
    }
}

impl<'a> From<&'a [u8]> for ConstBuffer<'a> {
    fn from(bytes: &'a [u8]) -> Self {
        Self::new(bytes)
    }
}

impl<'a, const N: usize> From<&'a [u8; N]> for ConstBuffer<'a> {
    fn from(bytes: &'a [u8; N]) -> Self {
        Self::new(bytes)
    }
}

impl<'a> From<&'a str> for ConstBuffer<'a> {
    fn from(s: &'a str) -> Self {
        Self::new(s.as_bytes())
    }
}

impl<'a> From<MutableBuffer<'a>> for ConstBuffer<'a> {
    /// Mutable converts to const; the reverse conversion does not exist.
    fn from(buf: MutableBuffer<'a>) -> Self {
        Self::new(buf.into_slice())
    }
}

impl core::ops::Deref for ConstBuffer<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

/// A non-owning, writable view of contiguous bytes: the `mutable_buffer` of the papers.
///
/// A `MutableBuffer<'a>` is a `&'a mut [u8]`; unlike the C++ type it is not `Copy`,
/// because two live writable handles to the same bytes would be a data race. Use
/// [`reborrow`](Self::reborrow) for a shorter-lived handle and
/// [`as_const`](Self::as_const) or `ConstBuffer::from` for a read-only one.
#[derive(Default, PartialEq, Eq, Hash)]
pub struct MutableBuffer<'a> {
    bytes: &'a mut [u8],
}

impl<'a> MutableBuffer<'a> {
    /// Wraps a mutable byte slice.
    pub fn new(bytes: &'a mut [u8]) -> Self {
        Self { bytes }
    }

    /// The viewed bytes.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes
    }

    /// The viewed bytes, writable.
    pub fn as_mut_slice(&mut self) -> &mut [u8] {
        self.bytes
    }

    /// Consumes the handle, returning the slice for the full lifetime `'a`.
    pub fn into_slice(self) -> &'a mut [u8] {
        self.bytes
    }

    /// A shorter-lived handle to the same bytes.
    pub fn reborrow(&mut self) -> MutableBuffer<'_> {
        MutableBuffer { bytes: self.bytes }
    }

    /// A read-only handle to the same bytes.
    pub fn as_const(&self) -> ConstBuffer<'_> {
        ConstBuffer::new(self.bytes)
    }

    /// Number of bytes in the view.
    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    /// `true` when the view holds no bytes.
    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Removes up to `n` bytes from the front (the papers' `+=`); clamps at the end.
    pub fn advance(&mut self, n: usize) {
        let bytes = core::mem::take(&mut self.bytes);
        let n = n.min(bytes.len());
        self.bytes = &mut bytes[n..];
    }

    /// Keeps at most the first `n` bytes.
    pub fn truncate(&mut self, n: usize) {
        let bytes = core::mem::take(&mut self.bytes);
        let n = n.min(bytes.len());
        self.bytes = &mut bytes[..n];
    }
}

impl fmt::Debug for MutableBuffer<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MutableBuffer({} bytes)", self.bytes.len())
    }
}

impl<'a> From<&'a mut [u8]> for MutableBuffer<'a> {
    fn from(bytes: &'a mut [u8]) -> Self {
        Self::new(bytes)
    }
}

impl<'a, const N: usize> From<&'a mut [u8; N]> for MutableBuffer<'a> {
    fn from(bytes: &'a mut [u8; N]) -> Self {
        Self::new(bytes)
    }
}

impl core::ops::Deref for MutableBuffer<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl core::ops::DerefMut for MutableBuffer<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.bytes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advance_clamps() {
        let data = [1u8, 2, 3];
        let mut b = ConstBuffer::new(&data);
        b.advance(2);
        assert_eq!(b.as_slice(), &[3]);
        b.advance(10);
        assert!(b.is_empty());

        let mut storage = [1u8, 2, 3];
        let mut m = MutableBuffer::new(&mut storage);
        m.advance(1);
        m.as_mut_slice()[0] = 9;
        m.advance(99);
        assert!(m.is_empty());
        assert_eq!(storage, [1, 9, 3]);
    }

    #[test]
    fn truncate_clamps_and_mutable_converts_to_const() {
        let mut storage = *b"hello";
        let mut m = MutableBuffer::new(&mut storage);
        m.truncate(3);
        m.truncate(10);
        let c: ConstBuffer<'_> = m.into();
        assert_eq!(c.as_slice(), b"hel");
    }
}
