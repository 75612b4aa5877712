//! Test helpers that later crates reuse: every two-way split of a sequence ("bufgrind").
//!
//! Protocol code must behave the same whether its input arrives in one piece or split
//! at any byte. [`bufgrind`] yields every split `(prefix, rest)` of a sequence, so a test
//! can feed the two halves as two reads.

use alloc::vec::Vec;

use crate::slice::{prefix, sans_prefix, Slice};
use crate::{ConstBufferSequence, MutableBufferSequence};

/// Every two-way split of `seq` at offsets `0, step, 2*step, ...` and always at its end.
///
/// Yields `size / step + 1` splits (plus one when `step` does not divide `size`); an
/// empty sequence yields one `(empty, empty)` split; a `step` of 0 counts as 1.
///
/// ```
/// use strait_vocab::testing::bufgrind;
/// use strait_vocab::ConstBufferSequence;
/// let splits: Vec<(usize, usize)> = bufgrind("abc", 1)
///     .map(|(a, b)| (a.buffer_size(), b.buffer_size()))
///     .collect();
/// assert_eq!(splits, [(0, 3), (1, 2), (2, 1), (3, 0)]);
/// ```
pub fn bufgrind<S: ConstBufferSequence + ?Sized>(seq: &S, step: usize) -> Bufgrind<'_, S> {
    Bufgrind {
        seq,
        next: Some(0),
        step: step.max(1),
        size: seq.buffer_size(),
    }
}

/// Iterator returned by [`bufgrind`].
#[derive(Debug)]
pub struct Bufgrind<'s, S: ?Sized> {
    seq: &'s S,
    next: Option<usize>,
    step: usize,
    size: usize,
}

impl<'s, S: ConstBufferSequence + ?Sized> Iterator for Bufgrind<'s, S> {
    type Item = (Slice<'s, S>, Slice<'s, S>);
    fn next(&mut self) -> Option<Self::Item> {
        let at = self.next?;
        self.next = if at == self.size {
            None
        } else {
            Some((at + self.step).min(self.size))
        };
        Some((prefix(self.seq, at), sans_prefix(self.seq, at)))
    }
}

/// The writable form of [`bufgrind`]: calls `f(prefix, rest)` for every split, with the
/// two halves as disjoint lists of writable regions.
pub fn bufgrind_mut<S, F>(seq: &mut S, step: usize, mut f: F)
where
    S: MutableBufferSequence + ?Sized,
    F: FnMut(&mut [&mut [u8]], &mut [&mut [u8]]),
{
    let size = seq.buffer_size();
    let step = step.max(1);
    let mut at = 0;
    loop {
        let (mut head, mut tail) = split_regions(seq, at);
        f(&mut head, &mut tail);
        if at == size {
            break;
        }
        at = (at + step).min(size);
    }
}

fn split_regions<S: MutableBufferSequence + ?Sized>(
    seq: &mut S,
    at: usize,
) -> (Vec<&mut [u8]>, Vec<&mut [u8]>) {
    let (mut head, mut tail) = (Vec::new(), Vec::new());
    let mut pos = 0;
    for region in seq.buffers_mut() {
        let len = region.len();
        if pos + len <= at {
            head.push(region);
        } else if pos >= at {
            tail.push(region);
        } else {
            let (a, b) = region.split_at_mut(at - pos);
            head.push(a);
            tail.push(b);
        }
        pos += len;
    }
    (head, tail)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConstBuffer;

    #[test]
    fn grind_visits_every_split_once_and_the_end() {
        let seq = [ConstBuffer::from("ab"), ConstBuffer::from("cde")];
        assert_eq!(bufgrind(&seq, 1).count(), 6);
        let ends: Vec<usize> = bufgrind(&seq, 2).map(|(a, _)| a.buffer_size()).collect();
        assert_eq!(ends, [0, 2, 4, 5]);
        assert_eq!(bufgrind(&seq, 0).count(), 6);
        assert_eq!(bufgrind("", 3).count(), 1);
    }

    #[test]
    fn grind_mut_halves_are_disjoint_and_cover_everything() {
        let mut storage = [[0u8; 3]; 2];
        let mut calls = 0;
        bufgrind_mut(&mut storage, 1, |head, tail| {
            calls += 1;
            let h: usize = head.iter().map(|r| r.len()).sum();
            let t: usize = tail.iter().map(|r| r.len()).sum();
            assert_eq!(h + t, 6);
            for r in head.iter_mut() {
                r.fill(1);
            }
        });
        assert_eq!(calls, 7);
        assert_eq!(storage, [[1; 3]; 2]);
    }
}
