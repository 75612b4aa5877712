//! [`Consuming`]: a cursor that tracks progress through a buffer sequence.

use crate::slice::{SliceIter, SliceIterMut};
use crate::{ConstBufferSequence, ConstWindow, MutableBufferSequence, MutableWindow};

/// A cursor over a buffer sequence that remembers how many bytes were consumed: the
/// papers' `consuming_buffers`, and the state of every `write_all` / `read_exact` loop.
///
/// The cursor owns `S`, which may be a reference (`&[ConstBuffer]`, `&mut [u8]`, ...).
/// As a sequence it yields only the bytes not yet consumed; [`window`](Self::window) and
/// [`window_mut`](Self::window_mut) take a bounded [descriptor window](crate::window) of
/// them for a `dyn` call, and [`consume`](Self::consume) records what that call moved.
///
/// ```
/// use strait_vocab::{Consuming, ConstBuffer};
/// let parts = [ConstBuffer::from("hello "), ConstBuffer::from("world")];
/// let mut cursor = Consuming::new(&parts[..]);
/// let mut out: Vec<u8> = Vec::new();
/// while !cursor.is_empty() {
///     // A writer that accepts at most 4 bytes per call.
///     let window = cursor.window();
///     let n = window.size().min(4);
///     out.extend(window.as_slice().iter().flat_map(|b| b.iter()).take(n));
///     cursor.consume(n);
/// }
/// assert_eq!(out, b"hello world");
/// assert_eq!(cursor.consumed(), 11);
/// ```
#[derive(Clone, Debug)]
pub struct Consuming<S> {
    seq: S,
    consumed: usize,
    total: usize,
}

impl<S: ConstBufferSequence> Consuming<S> {
    /// A cursor at the start of `seq`.
    pub fn new(seq: S) -> Self {
        let total = seq.buffer_size();
        Self {
            seq,
            consumed: 0,
            total,
        }
    }

    /// Marks `n` more bytes as consumed (clamped to what remains).
    pub fn consume(&mut self, n: usize) {
        self.consumed += n.min(self.total - self.consumed);
    }

    /// Bytes consumed so far: what composed operations report on a partial transfer.
    pub fn consumed(&self) -> usize {
        self.consumed
    }

    /// Bytes not yet consumed.
    pub fn remaining(&self) -> usize {
        self.total - self.consumed
    }

    /// `true` when every byte was consumed.
    pub fn is_empty(&self) -> bool {
        self.consumed == self.total
    }

    /// Up to [`MAX_WINDOW`](crate::MAX_WINDOW) descriptors of the unconsumed bytes.
    pub fn window(&self) -> ConstWindow<'_> {
        ConstWindow::from_regions(self.buffers())
    }

    /// The underlying sequence.
    pub fn get_ref(&self) -> &S {
        &self.seq
    }

    /// Returns the underlying sequence.
    pub fn into_inner(self) -> S {
        self.seq
    }
}

impl<S: MutableBufferSequence> Consuming<S> {
    /// Up to [`MAX_WINDOW`](crate::MAX_WINDOW) writable descriptors of the unconsumed bytes.
    pub fn window_mut(&mut self) -> MutableWindow<'_> {
        MutableWindow::from_regions(self.buffers_mut())
    }
}

impl<S: ConstBufferSequence> ConstBufferSequence for Consuming<S> {
    type Iter<'a>
        = SliceIter<S::Iter<'a>>
    where
        Self: 'a;
    fn buffers(&self) -> Self::Iter<'_> {
        SliceIter::new(self.seq.buffers(), self.consumed, self.total)
    }
    fn buffer_size(&self) -> usize {
        self.remaining()
    }
}

impl<S: MutableBufferSequence> MutableBufferSequence for Consuming<S> {
    type IterMut<'a>
        = SliceIterMut<S::IterMut<'a>>
    where
        Self: 'a;
    fn buffers_mut(&mut self) -> Self::IterMut<'_> {
        SliceIterMut::new(self.seq.buffers_mut(), self.consumed, self.total)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{buffer_copy, ConstBuffer, MutableBuffer};

    #[test]
    fn read_exact_style_loop_fills_scattered_buffers() {
        let (mut a, mut b) = ([0u8; 3], [0u8; 4]);
        let mut dst = [MutableBuffer::new(&mut a), MutableBuffer::new(&mut b)];
        let mut cursor = Consuming::new(&mut dst[..]);
        let source = b"abcdefg";
        let mut at = 0;
        while !cursor.is_empty() {
            let mut window = cursor.window_mut();
            // A reader that produces two bytes per call.
            let n = buffer_copy(window.as_mut_slice(), &source[at..], 2);
            at += n;
            cursor.consume(n);
        }
        assert_eq!(cursor.consume_all_is_idempotent(), 7);
        assert_eq!((&a, &b), (b"abc", b"defg"));
    }

    impl<S: ConstBufferSequence> Consuming<S> {
        fn consume_all_is_idempotent(&mut self) -> usize {
            self.consume(usize::MAX);
            self.consume(5);
            self.consumed()
        }
    }

    #[test]
    fn long_sequences_are_served_window_by_window() {
        let parts = [ConstBuffer::from("ab"); 40];
        let mut cursor = Consuming::new(&parts);
        let mut windows = 0;
        while !cursor.is_empty() {
            let n = cursor.window().size();
            cursor.consume(n);
            windows += 1;
        }
        assert_eq!(windows, 3);
        assert_eq!(cursor.consumed(), 80);
    }
}
