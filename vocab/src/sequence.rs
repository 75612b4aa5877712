//! Buffer sequences: ranges of buffers that an I/O operation reads from or writes into.
//!
//! # Implementer notes
//!
//! A [`ConstBufferSequence`] is an ordered list of byte regions ("descriptors"). Its
//! bytes are the concatenation of the regions, in order; descriptors may be empty and
//! algorithms must skip them. [`buffers`](ConstBufferSequence::buffers) must yield the
//! same regions, with the same contents, every time it is called while the sequence is
//! not mutated; [`buffer_size`](ConstBufferSequence::buffer_size) and
//! [`buffer_length`](ConstBufferSequence::buffer_length) must agree with it. Override
//! them when the answer is cheaper than a walk (the papers' `tag_invoke(size_tag)`).
//!
//! A [`MutableBufferSequence`] additionally yields the same regions writable, in the same
//! order and with the same lengths, from [`buffers_mut`](MutableBufferSequence::buffers_mut).
//! Writing through them never changes the number or the lengths of the descriptors.
//!
//! A single buffer is a sequence of one descriptor (`ConstBuffer`, `&[u8]`, `str`,
//! `[u8; N]`, `Vec<u8>`, `IoSlice`, `Bytes`); a slice, array, `Vec` or `VecDeque` of
//! buffers is a sequence of many; a pair `(A, B)` is `A`'s descriptors followed by `B`'s.
//! References forward to the referent, so `&S` and `&mut S` are sequences too.

use crate::{ConstBuffer, MutableBuffer};

/// A range of read-only byte regions. See the [module docs](self) for the contract.
pub trait ConstBufferSequence {
    /// Iterator over the descriptors, in order.
    type Iter<'s>: Iterator<Item = &'s [u8]>
    where
        Self: 's;

    /// The descriptors, in order. Empty descriptors may appear.
    fn buffers(&self) -> Self::Iter<'_>;

    /// Total number of bytes over all descriptors.
    fn buffer_size(&self) -> usize {
        self.buffers().map(<[u8]>::len).sum()
    }

    /// Number of descriptors, empty ones included.
    fn buffer_length(&self) -> usize {
        self.buffers().count()
    }
}

/// A range of writable byte regions. See the [module docs](self) for the contract.
pub trait MutableBufferSequence: ConstBufferSequence {
    /// Iterator over the writable descriptors, in order.
    type IterMut<'s>: Iterator<Item = &'s mut [u8]>
    where
        Self: 's;

    /// The descriptors, writable, in the same order and lengths as [`buffers`](ConstBufferSequence::buffers).
    fn buffers_mut(&mut self) -> Self::IterMut<'_>;
}

/// One descriptor of a multi-buffer sequence: something that views contiguous bytes.
///
/// Implemented for the crate's buffers, byte slices and vectors, `IoSlice` (with `std`)
/// and `Bytes`/`BytesMut` (with `bytes`). A slice, array, `Vec` or `VecDeque` of elements
/// is a [`ConstBufferSequence`].
pub trait BufferElement {
    /// The viewed bytes.
    fn bytes(&self) -> &[u8];
}

/// A writable [`BufferElement`]; collections of them are [`MutableBufferSequence`]s.
pub trait BufferElementMut: BufferElement {
    /// The viewed bytes, writable.
    fn bytes_mut(&mut self) -> &mut [u8];
}

impl BufferElement for ConstBuffer<'_> {
    fn bytes(&self) -> &[u8] {
        self.as_slice()
    }
}

impl BufferElement for MutableBuffer<'_> {
    fn bytes(&self) -> &[u8] {
        self.as_slice()
    }
}

impl BufferElementMut for MutableBuffer<'_> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self.as_mut_slice()
    }
}

impl BufferElement for &[u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl BufferElement for &mut [u8] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl BufferElementMut for &mut [u8] {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl BufferElement for &str {
    fn bytes(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl BufferElement for alloc::vec::Vec<u8> {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl BufferElementMut for alloc::vec::Vec<u8> {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

impl<const N: usize> BufferElement for [u8; N] {
    fn bytes(&self) -> &[u8] {
        self
    }
}

impl<const N: usize> BufferElementMut for [u8; N] {
    fn bytes_mut(&mut self) -> &mut [u8] {
        self
    }
}

/// Implements both sequence traits for a type that is one buffer, through
/// `BufferElement`/`BufferElementMut`.
macro_rules! single_buffer_sequence {
    (const: $($ty:ty),* $(,)?) => {$(
        impl ConstBufferSequence for $ty {
            type Iter<'s> = core::iter::Once<&'s [u8]> where Self: 's;
            fn buffers(&self) -> Self::Iter<'_> {
                core::iter::once(BufferElement::bytes(self))
            }
            fn buffer_size(&self) -> usize {
                BufferElement::bytes(self).len()
            }
            fn buffer_length(&self) -> usize {
                1
            }
        }
    )*};
    (mut: $($ty:ty),* $(,)?) => {$(
        single_buffer_sequence!(const: $ty);
        impl MutableBufferSequence for $ty {
            type IterMut<'s> = core::iter::Once<&'s mut [u8]> where Self: 's;
            fn buffers_mut(&mut self) -> Self::IterMut<'_> {
                core::iter::once(BufferElementMut::bytes_mut(self))
            }
        }
    )*};
}
#[cfg(any(feature = "std", feature = "bytes"))]
pub(crate) use single_buffer_sequence;

single_buffer_sequence!(const: ConstBuffer<'_>);
single_buffer_sequence!(mut: MutableBuffer<'_>, alloc::vec::Vec<u8>);

impl<const N: usize> ConstBufferSequence for [u8; N] {
    type Iter<'s> = core::iter::Once<&'s [u8]>;
    fn buffers(&self) -> Self::Iter<'_> {
        core::iter::once(self)
    }
    fn buffer_size(&self) -> usize {
        N
    }
    fn buffer_length(&self) -> usize {
        1
    }
}

impl<const N: usize> MutableBufferSequence for [u8; N] {
    type IterMut<'s> = core::iter::Once<&'s mut [u8]>;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        core::iter::once(self)
    }
}

impl ConstBufferSequence for [u8] {
    type Iter<'s> = core::iter::Once<&'s [u8]>;
    fn buffers(&self) -> Self::Iter<'_> {
        core::iter::once(self)
    }
    fn buffer_size(&self) -> usize {
        self.len()
    }
    fn buffer_length(&self) -> usize {
        1
    }
}

impl MutableBufferSequence for [u8] {
    type IterMut<'s> = core::iter::Once<&'s mut [u8]>;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        core::iter::once(self)
    }
}

impl ConstBufferSequence for str {
    type Iter<'s> = core::iter::Once<&'s [u8]>;
    fn buffers(&self) -> Self::Iter<'_> {
        core::iter::once(self.as_bytes())
    }
    fn buffer_size(&self) -> usize {
        self.len()
    }
    fn buffer_length(&self) -> usize {
        1
    }
}

/// Descriptor iterator of collections of [`BufferElement`]s.
pub type ElementIter<'s, E> = core::iter::Map<core::slice::Iter<'s, E>, fn(&'s E) -> &'s [u8]>;
/// Writable descriptor iterator of collections of [`BufferElementMut`]s.
pub type ElementIterMut<'s, E> =
    core::iter::Map<core::slice::IterMut<'s, E>, fn(&'s mut E) -> &'s mut [u8]>;

fn element_bytes<E: BufferElement>(e: &E) -> &[u8] {
    e.bytes()
}

fn element_bytes_mut<E: BufferElementMut>(e: &mut E) -> &mut [u8] {
    e.bytes_mut()
}

impl<E: BufferElement> ConstBufferSequence for [E] {
    type Iter<'s>
        = ElementIter<'s, E>
    where
        E: 's;
    fn buffers(&self) -> Self::Iter<'_> {
        self.iter().map(element_bytes::<E> as fn(&E) -> &[u8])
    }
    fn buffer_length(&self) -> usize {
        self.len()
    }
}

impl<E: BufferElementMut> MutableBufferSequence for [E] {
    type IterMut<'s>
        = ElementIterMut<'s, E>
    where
        E: 's;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        self.iter_mut()
            .map(element_bytes_mut::<E> as fn(&mut E) -> &mut [u8])
    }
}

impl<E: BufferElement, const N: usize> ConstBufferSequence for [E; N] {
    type Iter<'s>
        = ElementIter<'s, E>
    where
        E: 's;
    fn buffers(&self) -> Self::Iter<'_> {
        self.as_slice().buffers()
    }
    fn buffer_length(&self) -> usize {
        N
    }
}

impl<E: BufferElementMut, const N: usize> MutableBufferSequence for [E; N] {
    type IterMut<'s>
        = ElementIterMut<'s, E>
    where
        E: 's;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        self.as_mut_slice().buffers_mut()
    }
}

impl<E: BufferElement> ConstBufferSequence for alloc::vec::Vec<E> {
    type Iter<'s>
        = ElementIter<'s, E>
    where
        E: 's;
    fn buffers(&self) -> Self::Iter<'_> {
        self.as_slice().buffers()
    }
    fn buffer_length(&self) -> usize {
        self.len()
    }
}

impl<E: BufferElementMut> MutableBufferSequence for alloc::vec::Vec<E> {
    type IterMut<'s>
        = ElementIterMut<'s, E>
    where
        E: 's;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        self.as_mut_slice().buffers_mut()
    }
}

/// Descriptor iterator of a `VecDeque` of [`BufferElement`]s.
pub type DequeIter<'s, E> =
    core::iter::Map<alloc::collections::vec_deque::Iter<'s, E>, fn(&'s E) -> &'s [u8]>;
/// Writable descriptor iterator of a `VecDeque` of [`BufferElementMut`]s.
pub type DequeIterMut<'s, E> =
    core::iter::Map<alloc::collections::vec_deque::IterMut<'s, E>, fn(&'s mut E) -> &'s mut [u8]>;

impl<E: BufferElement> ConstBufferSequence for alloc::collections::VecDeque<E> {
    type Iter<'s>
        = DequeIter<'s, E>
    where
        E: 's;
    fn buffers(&self) -> Self::Iter<'_> {
        self.iter().map(element_bytes::<E> as fn(&E) -> &[u8])
    }
    fn buffer_length(&self) -> usize {
        self.len()
    }
}

impl<E: BufferElementMut> MutableBufferSequence for alloc::collections::VecDeque<E> {
    type IterMut<'s>
        = DequeIterMut<'s, E>
    where
        E: 's;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        self.iter_mut()
            .map(element_bytes_mut::<E> as fn(&mut E) -> &mut [u8])
    }
}

impl<A: ConstBufferSequence, B: ConstBufferSequence> ConstBufferSequence for (A, B) {
    type Iter<'s>
        = core::iter::Chain<A::Iter<'s>, B::Iter<'s>>
    where
        Self: 's;
    fn buffers(&self) -> Self::Iter<'_> {
        self.0.buffers().chain(self.1.buffers())
    }
    fn buffer_size(&self) -> usize {
        self.0.buffer_size() + self.1.buffer_size()
    }
    fn buffer_length(&self) -> usize {
        self.0.buffer_length() + self.1.buffer_length()
    }
}

impl<A: MutableBufferSequence, B: MutableBufferSequence> MutableBufferSequence for (A, B) {
    type IterMut<'s>
        = core::iter::Chain<A::IterMut<'s>, B::IterMut<'s>>
    where
        Self: 's;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        self.0.buffers_mut().chain(self.1.buffers_mut())
    }
}

impl<S: ConstBufferSequence + ?Sized> ConstBufferSequence for &S {
    type Iter<'s>
        = S::Iter<'s>
    where
        Self: 's;
    fn buffers(&self) -> Self::Iter<'_> {
        (**self).buffers()
    }
    fn buffer_size(&self) -> usize {
        (**self).buffer_size()
    }
    fn buffer_length(&self) -> usize {
        (**self).buffer_length()
    }
}

impl<S: ConstBufferSequence + ?Sized> ConstBufferSequence for &mut S {
    type Iter<'s>
        = S::Iter<'s>
    where
        Self: 's;
    fn buffers(&self) -> Self::Iter<'_> {
        (**self).buffers()
    }
    fn buffer_size(&self) -> usize {
        (**self).buffer_size()
    }
    fn buffer_length(&self) -> usize {
        (**self).buffer_length()
    }
}

impl<S: MutableBufferSequence + ?Sized> MutableBufferSequence for &mut S {
    type IterMut<'s>
        = S::IterMut<'s>
    where
        Self: 's;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        (**self).buffers_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

    fn flatten<S: ConstBufferSequence + ?Sized>(s: &S) -> Vec<u8> {
        s.buffers().flatten().copied().collect()
    }

    #[test]
    fn every_shape_is_a_sequence() {
        assert_eq!(flatten("ab"), b"ab");
        assert_eq!(flatten(&[1u8, 2]), [1, 2]);
        assert_eq!(flatten(&b"xy"[..]), b"xy");
        assert_eq!(flatten(&vec![1u8]), [1]);
        let parts = [
            ConstBuffer::from("a"),
            ConstBuffer::EMPTY,
            ConstBuffer::from("bc"),
        ];
        assert_eq!(flatten(&parts), b"abc");
        assert_eq!(parts.buffer_length(), 3);
        assert_eq!(parts.buffer_size(), 3);
        assert_eq!(flatten(&(&parts[..1], "zz")), b"azz");
        let deque: alloc::collections::VecDeque<&[u8]> = [&b"q"[..], b"r"].into_iter().collect();
        assert_eq!(flatten(&deque), b"qr");
    }

    #[test]
    fn mutable_sequences_write_in_order() {
        let mut a = [0u8; 2];
        let mut b = [0u8; 3];
        {
            let mut seq = [MutableBuffer::new(&mut a), MutableBuffer::new(&mut b)];
            let mut k = 0;
            for region in seq.buffers_mut() {
                for byte in region {
                    k += 1;
                    *byte = k;
                }
            }
            assert_eq!(flatten(&seq), [1, 2, 3, 4, 5]);
        }
        assert_eq!(a, [1, 2]);
        assert_eq!(b, [3, 4, 5]);
    }
}
