//! Incremental UTF-8 validation across fragment and read boundaries.

/// Validates UTF-8 arriving in pieces; fails on the first piece holding an invalid byte,
/// even when that piece ends in the middle of a frame or a code point.
///
/// A code point split across pieces is carried (at most 3 bytes) and completed by the
/// next piece; whole runs are checked with `std::str::from_utf8`.
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    partial: [u8; 4],
    partial_len: u8,
}

/// The input is not valid UTF-8.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidUtf8;

impl Utf8Validator {
    /// A validator at the start of a text.
    pub const fn new() -> Self {
        Self {
            partial: [0; 4],
            partial_len: 0,
        }
    }

    /// Forgets any carried partial code point.
    pub fn reset(&mut self) {
        self.partial_len = 0;
    }

    /// Whether the text so far ends on a code point boundary.
    pub fn is_complete(&self) -> bool {
        self.partial_len == 0
    }

    /// Checks the next piece of the text.
    ///
    /// # Errors
    /// [`InvalidUtf8`] when the bytes so far cannot be the start of valid UTF-8. An
    /// incomplete code point at the end of `input` is not an error: call
    /// [`finish`](Self::finish) at the end of the text.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), InvalidUtf8> {
        // Complete a carried code point one byte at a time.
        while self.partial_len > 0 {
            let Some((&b, rest)) = input.split_first() else {
                return Ok(());
            };
            input = rest;
            let len = usize::from(self.partial_len);
            self.partial[len] = b;
            match std::str::from_utf8(&self.partial[..=len]) {
                Ok(_) => self.partial_len = 0,
                Err(e) if e.error_len().is_none() => self.partial_len += 1,
                Err(_) => return Err(InvalidUtf8),
            }
        }
        match std::str::from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) => match e.error_len() {
                Some(_) => Err(InvalidUtf8),
                None => {
                    let tail = &input[e.valid_up_to()..];
                    self.partial[..tail.len()].copy_from_slice(tail);
                    self.partial_len = tail.len() as u8;
                    Ok(())
                }
            },
        }
    }

    /// Ends the text: fails when it stops inside a code point. Resets the validator.
    ///
    /// # Errors
    /// [`InvalidUtf8`] when a code point is left incomplete.
    pub fn finish(&mut self) -> Result<(), InvalidUtf8> {
        let complete = self.is_complete();
        self.reset();
        if complete {
            Ok(())
        } else {
            Err(InvalidUtf8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn check_split(data: &[u8], cuts: &[usize]) -> Result<(), InvalidUtf8> {
        let mut v = Utf8Validator::new();
        let mut cuts: Vec<usize> = cuts.iter().map(|&c| c.min(data.len())).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        for w in cuts.windows(2) {
            v.feed(&data[w[0]..w[1]])?;
        }
        v.finish()
    }

    /// Random bytes biased toward UTF-8 lead and continuation bytes, and valid text.
    fn texty() -> impl Strategy<Value = Vec<u8>> {
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..40),
            proptest::collection::vec(
                prop_oneof![Just(0x41u8), 0x80u8..=0xBF, 0xC0u8..=0xF7, 0xF8u8..=0xFF],
                0..40
            ),
            any::<String>().prop_map(String::into_bytes),
            (any::<String>(), any::<u8>(), any::<prop::sample::Index>()).prop_map(|(s, b, i)| {
                let mut v = s.into_bytes();
                let at = i.index(v.len() + 1);
                v.insert(at, b);
                v
            }),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        #[test]
        fn agrees_with_std(data in texty(), cuts in proptest::collection::vec(0usize..40, 0..8)) {
            prop_assert_eq!(check_split(&data, &cuts).is_ok(), std::str::from_utf8(&data).is_ok());
        }

        #[test]
        fn fails_on_the_piece_with_the_first_invalid_byte(data in texty()) {
            // The first invalid byte: the shortest prefix std rejects outright.
            let first_bad = (0..data.len()).find(|&i| {
                matches!(std::str::from_utf8(&data[..=i]), Err(e) if e.error_len().is_some())
            });
            let mut v = Utf8Validator::new();
            let failed_at = data
                .iter()
                .position(|b| v.feed(std::slice::from_ref(b)).is_err());
            prop_assert_eq!(failed_at, first_bad);
        }
    }

    #[test]
    fn rejects_surrogates_and_overlongs_split() {
        for bad in [
            &b"\xed\xa0\x80"[..],
            b"\xc0\xaf",
            b"\xf4\x90\x80\x80",
            b"\xe0\x80\xaf",
        ] {
            assert!(check_split(bad, &[1]).is_err(), "{bad:?}");
            assert!(check_split(bad, &[2]).is_err(), "{bad:?}");
        }
        assert!(check_split("κόσμε".as_bytes(), &[1, 3, 5]).is_ok());
        assert!(check_split(b"\xce", &[]).is_err(), "truncated at the end");
    }
}
