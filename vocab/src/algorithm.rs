//! Algorithms over buffer sequences: measuring, `front`, and the scatter/gather copy.

use crate::{ConstBufferSequence, MutableBufferSequence};

/// Total number of bytes in `seq`.
pub fn buffer_size<S: ConstBufferSequence + ?Sized>(seq: &S) -> usize {
    seq.buffer_size()
}

/// `true` when `seq` holds no bytes (no descriptors, or only empty ones). Stops at the
/// first non-empty descriptor.
pub fn buffer_empty<S: ConstBufferSequence + ?Sized>(seq: &S) -> bool {
    seq.buffers().all(<[u8]>::is_empty)
}

/// Number of descriptors in `seq`, empty ones included.
pub fn buffer_length<S: ConstBufferSequence + ?Sized>(seq: &S) -> usize {
    seq.buffer_length()
}

/// The first descriptor of `seq`, or an empty slice when there is none.
pub fn front<S: ConstBufferSequence + ?Sized>(seq: &S) -> &[u8] {
    seq.buffers().next().unwrap_or(&[])
}

/// The first descriptor of `seq`, writable, or an empty slice when there is none.
pub fn front_mut<S: MutableBufferSequence + ?Sized>(seq: &mut S) -> &mut [u8] {
    seq.buffers_mut().next().unwrap_or(&mut [])
}

/// Copies `min(buffer_size(dst), buffer_size(src), at_most)` bytes from `src` into `dst`,
/// walking both sequences across descriptor boundaries with one `copy_from_slice` per
/// contiguous run. Returns the number of bytes copied. Pass `usize::MAX` as `at_most` for
/// "as much as fits".
///
/// ```
/// use strait_vocab::{buffer_copy, ConstBuffer, MutableBuffer};
/// let src = [ConstBuffer::from("hel"), ConstBuffer::from("lo world")];
/// let (mut a, mut b) = ([0u8; 2], [0u8; 4]);
/// let mut dst = [MutableBuffer::new(&mut a), MutableBuffer::new(&mut b)];
/// assert_eq!(buffer_copy(&mut dst, &src, usize::MAX), 6);
/// assert_eq!((&a, &b), (b"he", b"llo "));
/// ```
pub fn buffer_copy<D, S>(dst: &mut D, src: &S, at_most: usize) -> usize
where
    D: MutableBufferSequence + ?Sized,
    S: ConstBufferSequence + ?Sized,
{
    let mut remaining = at_most;
    let mut copied = 0;
    let mut sources = src.buffers();
    let mut current: &[u8] = &[];
    'dst: for region in dst.buffers_mut() {
        let mut region: &mut [u8] = region;
        while !region.is_empty() {
            if remaining == 0 {
                break 'dst;
            }
            while current.is_empty() {
                match sources.next() {
                    Some(next) => current = next,
                    None => break 'dst,
                }
            }
            let n = region.len().min(current.len()).min(remaining);
            let (head, tail) = core::mem::take(&mut region).split_at_mut(n);
            head.copy_from_slice(&current[..n]);
            region = tail;
            current = &current[n..];
            remaining -= n;
            copied += n;
        }
    }
    copied
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ConstBuffer, MutableBuffer};

    #[test]
    fn measuring() {
        let seq = [
            ConstBuffer::EMPTY,
            ConstBuffer::from("ab"),
            ConstBuffer::EMPTY,
        ];
        assert_eq!(buffer_size(&seq), 2);
        assert_eq!(buffer_length(&seq), 3);
        assert!(!buffer_empty(&seq));
        assert!(buffer_empty(&[ConstBuffer::EMPTY; 4]));
        assert!(buffer_empty::<[ConstBuffer<'_>]>(&[]));
        assert_eq!(front(&seq), b"");
        assert_eq!(front::<[ConstBuffer<'_>]>(&[]), b"");
    }

    #[test]
    fn copy_respects_at_most_and_both_sizes() {
        let src = [
            ConstBuffer::from("abc"),
            ConstBuffer::EMPTY,
            ConstBuffer::from("defg"),
        ];
        let mut storage = [0u8; 10];
        assert_eq!(buffer_copy(&mut storage[..], &src, 5), 5);
        assert_eq!(&storage[..5], b"abcde");
        let mut small = [0u8; 2];
        let mut dst = [MutableBuffer::new(&mut small)];
        assert_eq!(buffer_copy(&mut dst, &src, usize::MAX), 2);
        assert_eq!(buffer_copy(&mut [0u8; 4][..], &src, 0), 0);
        assert_eq!(buffer_copy(&mut [0u8; 4][..], "", usize::MAX), 0);
    }
}
