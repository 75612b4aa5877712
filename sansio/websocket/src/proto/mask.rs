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
    // Rotate the key so that index 0 of `buf` lines up with key byte `offset % 4`.
    let key = rotate(key, offset);
    let word = u64::from_ne_bytes([
        key[0], key[1], key[2], key[3], key[0], key[1], key[2], key[3],
    ]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let bytes: [u8; 8] = (*chunk).try_into().expect("chunk of 8");
        chunk.copy_from_slice(&(u64::from_ne_bytes(bytes) ^ word).to_ne_bytes());
    }
    // The tail starts at a multiple of 8, hence of 4: the rotated key lines up again.
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= key[i & 3];
    }
}

#[inline]
fn rotate(key: [u8; 4], offset: usize) -> [u8; 4] {
    let s = offset & 3;
    [key[s], key[(s + 1) & 3], key[(s + 2) & 3], key[(s + 3) & 3]]
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
