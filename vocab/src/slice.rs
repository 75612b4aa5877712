//! Byte-granular slicing across descriptor boundaries.
//!
//! Two families, as in the papers:
//! - **Views** ([`prefix`], [`suffix`], [`sans_prefix`], [`sans_suffix`], [`buffer_slice`]
//!   and their `_mut` twins) borrow a sequence and leave it untouched. A view is itself a
//!   sequence whose first and last descriptors are trimmed; descriptors outside the range
//!   and empty ones are not yielded. A [`Slice`] borrows its sequence shared, a
//!   [`SliceMut`] exclusively; both live no longer than that borrow.
//! - **In place** ([`SliceInPlace`]: `remove_prefix`, `remove_suffix`, `keep_prefix`,
//!   `keep_suffix`) edits a value that owns its descriptors: a buffer, an array, slice or
//!   `Vec` of buffers, or a view. Trimmed descriptors become empty; none are removed.
//!
//! All counts clamp: asking for more bytes than the sequence holds takes all of them.

use crate::{ConstBuffer, ConstBufferSequence, MutableBuffer, MutableBufferSequence};

/// A read-only view of the bytes `[start, end)` of a sequence.
#[derive(Debug)]
pub struct Slice<'s, S: ?Sized> {
    seq: &'s S,
    start: usize,
    end: usize,
}

impl<S: ?Sized> Clone for Slice<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S: ?Sized> Copy for Slice<'_, S> {}

/// A writable view of the bytes `[start, end)` of a sequence.
#[derive(Debug)]
pub struct SliceMut<'s, S: ?Sized> {
    seq: &'s mut S,
    start: usize,
    end: usize,
}

/// The view of `seq` from byte `offset`, at most `len` bytes long (both clamped).
pub fn buffer_slice<S: ConstBufferSequence + ?Sized>(
    seq: &S,
    offset: usize,
    len: usize,
) -> Slice<'_, S> {
    let size = seq.buffer_size();
    let start = offset.min(size);
    let end = start + len.min(size - start);
    Slice { seq, start, end }
}

/// The first `n` bytes of `seq`.
pub fn prefix<S: ConstBufferSequence + ?Sized>(seq: &S, n: usize) -> Slice<'_, S> {
    buffer_slice(seq, 0, n)
}

/// The last `n` bytes of `seq`.
pub fn suffix<S: ConstBufferSequence + ?Sized>(seq: &S, n: usize) -> Slice<'_, S> {
    let size = seq.buffer_size();
    buffer_slice(seq, size - n.min(size), n)
}

/// All of `seq` but its first `n` bytes.
pub fn sans_prefix<S: ConstBufferSequence + ?Sized>(seq: &S, n: usize) -> Slice<'_, S> {
    buffer_slice(seq, n, usize::MAX)
}

/// All of `seq` but its last `n` bytes.
pub fn sans_suffix<S: ConstBufferSequence + ?Sized>(seq: &S, n: usize) -> Slice<'_, S> {
    let size = seq.buffer_size();
    buffer_slice(seq, 0, size - n.min(size))
}

/// The writable view of `seq` from byte `offset`, at most `len` bytes long.
pub fn buffer_slice_mut<S: MutableBufferSequence + ?Sized>(
    seq: &mut S,
    offset: usize,
    len: usize,
) -> SliceMut<'_, S> {
    let size = seq.buffer_size();
    let start = offset.min(size);
    let end = start + len.min(size - start);
    SliceMut { seq, start, end }
}

/// The first `n` bytes of `seq`, writable.
pub fn prefix_mut<S: MutableBufferSequence + ?Sized>(seq: &mut S, n: usize) -> SliceMut<'_, S> {
    buffer_slice_mut(seq, 0, n)
}

/// The last `n` bytes of `seq`, writable.
pub fn suffix_mut<S: MutableBufferSequence + ?Sized>(seq: &mut S, n: usize) -> SliceMut<'_, S> {
    let size = seq.buffer_size();
    buffer_slice_mut(seq, size - n.min(size), n)
}

/// All of `seq` but its first `n` bytes, writable.
pub fn sans_prefix_mut<S: MutableBufferSequence + ?Sized>(
    seq: &mut S,
    n: usize,
) -> SliceMut<'_, S> {
    buffer_slice_mut(seq, n, usize::MAX)
}

/// All of `seq` but its last `n` bytes, writable.
pub fn sans_suffix_mut<S: MutableBufferSequence + ?Sized>(
    seq: &mut S,
    n: usize,
) -> SliceMut<'_, S> {
    let size = seq.buffer_size();
    buffer_slice_mut(seq, 0, size - n.min(size))
}

impl<'s, S: ?Sized> Slice<'s, S> {
    /// The sequence this view borrows.
    pub fn get_ref(&self) -> &'s S {
        self.seq
    }

    /// Offset of the view's first byte in the underlying sequence.
    pub fn offset(&self) -> usize {
        self.start
    }
}

impl<S: ?Sized> SliceMut<'_, S> {
    /// Offset of the view's first byte in the underlying sequence.
    pub fn offset(&self) -> usize {
        self.start
    }

    /// A read-only view of the same bytes.
    pub fn as_const(&self) -> Slice<'_, S> {
        Slice {
            seq: self.seq,
            start: self.start,
            end: self.end,
        }
    }
}

/// Trims each descriptor of an inner iterator to the byte range `[start, end)`.
#[derive(Debug)]
pub struct SliceIter<I> {
    inner: I,
    pos: usize,
    start: usize,
    end: usize,
}

impl<I> SliceIter<I> {
    pub(crate) fn new(inner: I, start: usize, end: usize) -> Self {
        Self {
            inner,
            pos: 0,
            start,
            end,
        }
    }
}

/// Cuts `region`, which begins at byte `pos` of its sequence, to `[start, end)`.
fn trim_range(pos: usize, len: usize, start: usize, end: usize) -> core::ops::Range<usize> {
    let lo = start.saturating_sub(pos).min(len);
    let hi = end.saturating_sub(pos).min(len);
    lo..hi.max(lo)
}

impl<'s, I: Iterator<Item = &'s [u8]>> Iterator for SliceIter<I> {
    type Item = &'s [u8];
    fn next(&mut self) -> Option<&'s [u8]> {
        while self.pos < self.end {
            let region = self.inner.next()?;
            let range = trim_range(self.pos, region.len(), self.start, self.end);
            self.pos += region.len();
            if !range.is_empty() {
                return Some(&region[range]);
            }
        }
        None
    }
}

/// Writable twin of [`SliceIter`].
#[derive(Debug)]
pub struct SliceIterMut<I> {
    inner: I,
    pos: usize,
    start: usize,
    end: usize,
}

impl<I> SliceIterMut<I> {
    pub(crate) fn new(inner: I, start: usize, end: usize) -> Self {
        Self {
            inner,
            pos: 0,
            start,
            end,
        }
    }
}

impl<'s, I: Iterator<Item = &'s mut [u8]>> Iterator for SliceIterMut<I> {
    type Item = &'s mut [u8];
    fn next(&mut self) -> Option<&'s mut [u8]> {
        while self.pos < self.end {
            let region = self.inner.next()?;
            let range = trim_range(self.pos, region.len(), self.start, self.end);
            self.pos += region.len();
            if !range.is_empty() {
                return Some(&mut region[range]);
            }
        }
        None
    }
}

impl<S: ConstBufferSequence + ?Sized> ConstBufferSequence for Slice<'_, S> {
    type Iter<'a>
        = SliceIter<S::Iter<'a>>
    where
        Self: 'a;
    fn buffers(&self) -> Self::Iter<'_> {
        SliceIter {
            inner: self.seq.buffers(),
            pos: 0,
            start: self.start,
            end: self.end,
        }
    }
    fn buffer_size(&self) -> usize {
        self.end - self.start
    }
}

impl<S: ConstBufferSequence + ?Sized> ConstBufferSequence for SliceMut<'_, S> {
    type Iter<'a>
        = SliceIter<S::Iter<'a>>
    where
        Self: 'a;
    fn buffers(&self) -> Self::Iter<'_> {
        self.as_const_iter()
    }
    fn buffer_size(&self) -> usize {
        self.end - self.start
    }
}

impl<S: ConstBufferSequence + ?Sized> SliceMut<'_, S> {
    fn as_const_iter(&self) -> SliceIter<S::Iter<'_>> {
        SliceIter {
            inner: self.seq.buffers(),
            pos: 0,
            start: self.start,
            end: self.end,
        }
    }
}

impl<S: MutableBufferSequence + ?Sized> MutableBufferSequence for SliceMut<'_, S> {
    type IterMut<'a>
        = SliceIterMut<S::IterMut<'a>>
    where
        Self: 'a;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        SliceIterMut {
            inner: self.seq.buffers_mut(),
            pos: 0,
            start: self.start,
            end: self.end,
        }
    }
}

/// In-place slicing of a value that owns its descriptors. Counts clamp.
pub trait SliceInPlace: ConstBufferSequence {
    /// Drops the first `n` bytes.
    fn remove_prefix(&mut self, n: usize);

    /// Drops the last `n` bytes.
    fn remove_suffix(&mut self, n: usize);

    /// Keeps only the first `n` bytes.
    fn keep_prefix(&mut self, n: usize) {
        let size = self.buffer_size();
        self.remove_suffix(size - n.min(size));
    }

    /// Keeps only the last `n` bytes.
    fn keep_suffix(&mut self, n: usize) {
        let size = self.buffer_size();
        self.remove_prefix(size - n.min(size));
    }
}

impl<S: ConstBufferSequence + ?Sized> SliceInPlace for Slice<'_, S> {
    fn remove_prefix(&mut self, n: usize) {
        self.start += n.min(self.end - self.start);
    }
    fn remove_suffix(&mut self, n: usize) {
        self.end -= n.min(self.end - self.start);
    }
}

impl<S: ConstBufferSequence + ?Sized> SliceInPlace for SliceMut<'_, S> {
    fn remove_prefix(&mut self, n: usize) {
        self.start += n.min(self.end - self.start);
    }
    fn remove_suffix(&mut self, n: usize) {
        self.end -= n.min(self.end - self.start);
    }
}

/// A single buffer that can be trimmed at either end; its collections slice in place.
pub trait TrimBuffer: crate::BufferElement {
    /// Removes up to `n` bytes from the front.
    fn trim_front(&mut self, n: usize);
    /// Keeps at most the first `n` bytes.
    fn trim_to(&mut self, n: usize);
}

impl TrimBuffer for ConstBuffer<'_> {
    fn trim_front(&mut self, n: usize) {
        self.advance(n);
    }
    fn trim_to(&mut self, n: usize) {
        self.truncate(n);
    }
}

impl TrimBuffer for MutableBuffer<'_> {
    fn trim_front(&mut self, n: usize) {
        self.advance(n);
    }
    fn trim_to(&mut self, n: usize) {
        self.truncate(n);
    }
}

impl SliceInPlace for ConstBuffer<'_> {
    fn remove_prefix(&mut self, n: usize) {
        self.advance(n);
    }
    fn remove_suffix(&mut self, n: usize) {
        self.truncate(self.len() - n.min(self.len()));
    }
}

impl SliceInPlace for MutableBuffer<'_> {
    fn remove_prefix(&mut self, n: usize) {
        self.advance(n);
    }
    fn remove_suffix(&mut self, n: usize) {
        self.truncate(self.len() - n.min(self.len()));
    }
}

fn remove_prefix_of<B: TrimBuffer>(bufs: &mut [B], mut n: usize) {
    for b in bufs.iter_mut() {
        if n == 0 {
            break;
        }
        let len = b.bytes().len();
        b.trim_front(n);
        n -= len.min(n);
    }
}

fn remove_suffix_of<B: TrimBuffer>(bufs: &mut [B], mut n: usize) {
    for b in bufs.iter_mut().rev() {
        if n == 0 {
            break;
        }
        let len = b.bytes().len();
        let cut = len.min(n);
        b.trim_to(len - cut);
        n -= cut;
    }
}

impl<B: TrimBuffer> SliceInPlace for [B] {
    fn remove_prefix(&mut self, n: usize) {
        remove_prefix_of(self, n);
    }
    fn remove_suffix(&mut self, n: usize) {
        remove_suffix_of(self, n);
    }
}

impl<B: TrimBuffer, const N: usize> SliceInPlace for [B; N] {
    fn remove_prefix(&mut self, n: usize) {
        remove_prefix_of(self, n);
    }
    fn remove_suffix(&mut self, n: usize) {
        remove_suffix_of(self, n);
    }
}

impl<B: TrimBuffer> SliceInPlace for alloc::vec::Vec<B> {
    fn remove_prefix(&mut self, n: usize) {
        remove_prefix_of(self, n);
    }
    fn remove_suffix(&mut self, n: usize) {
        remove_suffix_of(self, n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn flat<S: ConstBufferSequence + ?Sized>(s: &S) -> Vec<u8> {
        s.buffers().flatten().copied().collect()
    }

    #[test]
    fn views_cross_descriptor_boundaries() {
        let seq = [
            ConstBuffer::from("ab"),
            ConstBuffer::EMPTY,
            ConstBuffer::from("cde"),
        ];
        assert_eq!(flat(&prefix(&seq, 3)), b"abc");
        assert_eq!(flat(&suffix(&seq, 4)), b"bcde");
        assert_eq!(flat(&sans_prefix(&seq, 1)), b"bcde");
        assert_eq!(flat(&sans_suffix(&seq, 4)), b"a");
        assert_eq!(flat(&buffer_slice(&seq, 1, 3)), b"bcd");
        assert_eq!(flat(&prefix(&seq, 99)), b"abcde");
        assert_eq!(flat(&sans_prefix(&seq, 99)), b"");
        assert_eq!(prefix(&seq, 3).buffer_length(), 2);
    }

    #[test]
    fn in_place_trims_but_keeps_descriptors() {
        let mut seq = [ConstBuffer::from("ab"), ConstBuffer::from("cde")];
        seq.remove_prefix(3);
        assert_eq!(flat(&seq), b"de");
        assert_eq!(seq.len(), 2);
        seq.keep_suffix(1);
        assert_eq!(flat(&seq), b"e");
        let mut v = alloc::vec![ConstBuffer::from("xy"), ConstBuffer::from("z")];
        v.keep_prefix(1);
        assert_eq!(flat(&v), b"x");
    }

    #[test]
    fn mutable_views_write_through() {
        let (mut a, mut b) = (*b"ab", *b"cd");
        let mut seq = [MutableBuffer::new(&mut a), MutableBuffer::new(&mut b)];
        let mut mid = buffer_slice_mut(&mut seq, 1, 2);
        for region in mid.buffers_mut() {
            region.fill(b'-');
        }
        assert_eq!(flat(&seq), b"a--d");
    }
}
