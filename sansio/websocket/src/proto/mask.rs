//! Payload masking (RFC 6455 §5.3), a machine word at a time.
//!
//! Masking is its own inverse: the same call masks and unmasks.

/// XORs `buf` with `key`, as if `buf` started `offset` bytes into the frame's payload.
///
/// The offset lets a payload be unmasked in pieces as it arrives: pass the number of
/// payload bytes already processed. The bulk of the buffer is processed eight bytes at a
/// time (the compiler turns the loop into vector instructions where it can).
///
/// # Examples
/// ```
/// use strait_websocket::proto::apply_mask;
/// let key = [1, 2, 3, 4];
/// let mut data = *b"hello world";
/// apply_mask(&mut data, key, 0);
/// // Unmask in two pieces: the second starts 5 bytes into the payload.
/// let (a, b) = data.split_at_mut(5);
/// apply_mask(a, key, 0);
/// apply_mask(b, key, 5);
/// assert_eq!(&data, b"hello world");
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4], offset: usize) {
    // The key as a little-endian word, rotated so that its low byte is the one for
    // index 0 of `buf` (key byte `offset % 4`).
    let key = u32::from_le_bytes(key).rotate_right(8 * (offset & 3) as u32);
    let wide = u64::from(key) | (u64::from(key) << 32);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let bytes: [u8; 8] = (*chunk).try_into().expect("chunk of 8");
        chunk.copy_from_slice(&(u64::from_le_bytes(bytes) ^ wide).to_le_bytes());
    }
    // The tail starts at a multiple of 8, hence of 4: the rotated key lines up again.
    let mut tail = chunks.into_remainder();
    if tail.len() >= 4 {
        let (word, rest) = tail.split_at_mut(4);
        let bytes: [u8; 4] = (*word).try_into().expect("4 bytes");
        word.copy_from_slice(&(u32::from_le_bytes(bytes) ^ key).to_le_bytes());
        tail = rest;
    }
    let key = key.to_le_bytes();
    for (b, k) in tail.iter_mut().zip(key) {
        *b ^= k;
    }
}

/// Masks `buf` byte by byte: the reference implementation for tests.
#[cfg(test)]
pub(crate) fn apply_mask_bytewise(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) & 3];
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn matches_bytewise(data in proptest::collection::vec(any::<u8>(), 0..100), key: [u8; 4], offset in 0usize..16) {
            let mut a = data.clone();
            let mut b = data.clone();
            apply_mask(&mut a, key, offset);
            apply_mask_bytewise(&mut b, key, offset);
            prop_assert_eq!(a, b);
        }

        #[test]
        fn round_trips_in_any_split(data in proptest::collection::vec(any::<u8>(), 0..200), key: [u8; 4], cuts in proptest::collection::vec(0usize..200, 0..6)) {
            let mut masked = data.clone();
            apply_mask(&mut masked, key, 0);
            let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c.min(data.len())).collect();
            cuts.push(0);
            cuts.push(data.len());
            cuts.sort_unstable();
            for w in cuts.windows(2) {
                apply_mask(&mut masked[w[0]..w[1]], key, w[0]);
            }
            prop_assert_eq!(masked, data);
        }
    }
}
