//! Property tests: every slicing view, copy, cursor and dynamic buffer against a plain
//! `Vec<u8>` model.

use std::collections::VecDeque;

use proptest::prelude::*;
use strait_vocab::testing::{bufgrind, bufgrind_mut};
use strait_vocab::*;

fn flat<S: ConstBufferSequence + ?Sized>(seq: &S) -> Vec<u8> {
    seq.buffers().flatten().copied().collect()
}

/// Regions of 0..12 bytes (empty ones included), 0..24 of them.
fn regions() -> impl Strategy<Value = Vec<Vec<u8>>> {
    prop::collection::vec(prop::collection::vec(any::<u8>(), 0..12), 0..24)
}

fn as_buffers(parts: &[Vec<u8>]) -> Vec<ConstBuffer<'_>> {
    parts.iter().map(|p| ConstBuffer::new(p)).collect()
}

proptest! {
    #[test]
    fn views_match_the_model(parts in regions(), a in 0usize..300, b in 0usize..300) {
        let seq = as_buffers(&parts);
        let model: Vec<u8> = parts.concat();
        let len = model.len();
        prop_assert_eq!(buffer_size(&seq), len);
        prop_assert_eq!(buffer_empty(&seq), len == 0);
        prop_assert_eq!(flat(&prefix(&seq, a)), &model[..a.min(len)]);
        prop_assert_eq!(flat(&suffix(&seq, a)), &model[len - a.min(len)..]);
        prop_assert_eq!(flat(&sans_prefix(&seq, a)), &model[a.min(len)..]);
        prop_assert_eq!(flat(&sans_suffix(&seq, a)), &model[..len - a.min(len)]);
        let start = a.min(len);
        let end = start + b.min(len - start);
        let view = buffer_slice(&seq, a, b);
        prop_assert_eq!(flat(&view), &model[start..end]);
        prop_assert_eq!(view.buffer_size(), end - start);
        // Views of views compose like slices of slices.
        prop_assert_eq!(flat(&prefix(&view, b / 2)), &model[start..(start + b / 2).min(end)]);
    }

    #[test]
    fn in_place_slicing_matches_the_model(parts in regions(), cuts in prop::collection::vec((0u8..4, 0usize..40), 0..6)) {
        let mut seq = as_buffers(&parts);
        let mut model: Vec<u8> = parts.concat();
        for (how, n) in cuts {
            let len = model.len();
            let k = n.min(len);
            match how {
                0 => { seq.remove_prefix(n); model.drain(..k); }
                1 => { seq.remove_suffix(n); model.truncate(len - k); }
                2 => { seq.keep_prefix(n); model.truncate(k); }
                _ => { seq.keep_suffix(n); model.drain(..len - k); }
            }
            prop_assert_eq!(&flat(&seq), &model);
            prop_assert_eq!(seq.len(), parts.len(), "in-place slicing keeps descriptors");
        }
    }

    #[test]
    fn copy_matches_the_model(src in regions(), dst_sizes in prop::collection::vec(0usize..12, 0..24), at_most in 0usize..400) {
        let seq = as_buffers(&src);
        let model: Vec<u8> = src.concat();
        let mut storage: Vec<Vec<u8>> = dst_sizes.iter().map(|&n| vec![0xAA; n]).collect();
        let capacity: usize = dst_sizes.iter().sum();
        let mut dst: Vec<MutableBuffer<'_>> = storage.iter_mut().map(|v| MutableBuffer::new(v)).collect();
        let n = buffer_copy(&mut dst, &seq, at_most);
        prop_assert_eq!(n, model.len().min(capacity).min(at_most));
        let written = storage.concat();
        prop_assert_eq!(&written[..n], &model[..n]);
        prop_assert!(written[n..].iter().all(|&b| b == 0xAA), "bytes past n untouched");
    }

    #[test]
    fn cursor_matches_the_model(parts in regions(), steps in prop::collection::vec(0usize..20, 0..30)) {
        let seq = as_buffers(&parts);
        let model: Vec<u8> = parts.concat();
        let mut cursor = Consuming::new(&seq[..]);
        let mut at = 0;
        for step in steps {
            let window = cursor.window();
            let first_regions: usize = parts.iter().filter(|p| !p.is_empty()).count();
            prop_assert!(window.as_slice().len() <= first_regions);
            prop_assert_eq!(flat(window.as_slice()), &model[at..at + window.size()]);
            prop_assert!(window.as_slice().len() <= MAX_WINDOW);
            cursor.consume(step);
            at = (at + step).min(model.len());
            prop_assert_eq!(cursor.consumed(), at);
            prop_assert_eq!(cursor.remaining(), model.len() - at);
            prop_assert_eq!(flat(&cursor), &model[at..]);
        }
    }

    #[test]
    fn every_split_reassembles(parts in regions(), step in 0usize..4) {
        let seq = as_buffers(&parts);
        let model: Vec<u8> = parts.concat();
        let mut expected_at = 0;
        for (head, tail) in bufgrind(&seq, step) {
            prop_assert_eq!(head.buffer_size(), expected_at);
            let mut joined = flat(&head);
            joined.extend(flat(&tail));
            prop_assert_eq!(&joined, &model);
            expected_at = (expected_at + step.max(1)).min(model.len());
        }
        let mut storage = parts.clone();
        let mut calls = 0;
        bufgrind_mut(&mut storage, step, |head, tail| {
            calls += 1;
            let mut joined = flat(&*head);
            joined.extend(flat(&*tail));
            assert_eq!(joined, model);
        });
        prop_assert_eq!(calls, bufgrind(&seq, step).count());
    }
}

#[derive(Clone, Debug)]
enum Op {
    /// prepare(n), write a pattern, commit(k)
    PrepareCommit {
        n: usize,
        k: usize,
    },
    Consume(usize),
    /// commit with no prepared region: must change nothing
    StrayCommit(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    let op = prop_oneof![
        (0usize..48, 0usize..64).prop_map(|(n, k)| Op::PrepareCommit { n, k }),
        (0usize..48).prop_map(Op::Consume),
        (0usize..8).prop_map(Op::StrayCommit),
    ];
    prop::collection::vec(op, 0..60)
}

/// Runs `ops` against `buf` and a `VecDeque` model, checking every contract rule.
fn check_dynamic<D: DynamicBuffer>(mut buf: D, ops: &[Op]) -> Result<(), TestCaseError> {
    let mut model: VecDeque<u8> = VecDeque::new();
    let mut counter = 0u8;
    for op in ops {
        match *op {
            Op::PrepareCommit { n, k } => {
                let before = buf.size();
                let max = buf.max_size();
                let pattern: Vec<u8> = (0..n)
                    .map(|_| {
                        counter = counter.wrapping_add(1);
                        counter
                    })
                    .collect();
                let written = match buf.prepare(n) {
                    Err(err) => Err(err),
                    Ok(mut region) => {
                        prop_assert_eq!(region.buffer_size(), n);
                        Ok(buffer_copy(&mut region, &pattern[..], usize::MAX))
                    }
                };
                match written {
                    Err(err) => {
                        prop_assert!(n > max - before, "spurious {}", err);
                        prop_assert_eq!(err.requested, n);
                        prop_assert_eq!(buf.size(), before, "failed prepare changed size");
                    }
                    Ok(copied) => {
                        prop_assert_eq!(copied, n);
                        buf.commit(k);
                        model.extend(&pattern[..k.min(n)]);
                    }
                }
            }
            Op::Consume(n) => {
                buf.consume(n);
                let k = n.min(model.len());
                model.drain(..k);
            }
            Op::StrayCommit(k) => buf.commit(k),
        }
        prop_assert_eq!(buf.size(), model.len());
        prop_assert!(buf.size() <= buf.capacity() && buf.capacity() <= buf.max_size());
        let expected: Vec<u8> = model.iter().copied().collect();
        prop_assert_eq!(flat(&buf.data()), expected);
    }
    Ok(())
}

proptest! {
    #[test]
    fn flat_buffer_matches_the_model(cap in 0usize..80, ops in ops()) {
        let mut storage = vec![0u8; cap];
        check_dynamic(FlatBuffer::new(&mut storage), &ops)?;
    }

    #[test]
    fn circular_buffer_matches_the_model(cap in 0usize..80, ops in ops()) {
        let mut storage = vec![0u8; cap];
        check_dynamic(CircularBuffer::new(&mut storage), &ops)?;
    }

    #[test]
    fn vec_buffer_matches_the_model(max in 0usize..120, ops in ops()) {
        let mut vec = Vec::new();
        check_dynamic(VecBuffer::new(&mut vec, max), &ops)?;
    }

    #[test]
    fn owned_buffer_matches_the_model(cap in 0usize..40, max in 0usize..120, ops in ops()) {
        check_dynamic(OwnedBuffer::with_capacity(cap, max), &ops)?;
    }

    #[test]
    fn vec_buffer_leaves_exactly_the_readable_bytes(ops in ops()) {
        let mut vec = b"seed".to_vec();
        let expected = {
            let mut buf = VecBuffer::unbounded(&mut vec);
            check_dynamic(&mut buf, &[])?;
            for op in &ops {
                if let Op::PrepareCommit { n, k } = *op {
                    let _ = buf.prepare(n).expect("unbounded");
                    buf.commit(k);
                } else if let Op::Consume(n) = *op {
                    buf.consume(n);
                }
            }
            flat(&buf.data())
        };
        prop_assert_eq!(vec, expected);
    }

    #[cfg(feature = "bytes")]
    #[test]
    fn bytes_mut_buffer_matches_the_model(max in 0usize..120, ops in ops()) {
        let mut bytes = bytes::BytesMut::new();
        check_dynamic(BytesMutBuffer::new(&mut bytes, max), &ops)?;
    }
}

#[test]
fn prepare_past_max_size_is_a_clear_error() {
    let mut storage = [0u8; 4];
    let mut buf = FlatBuffer::new(&mut storage);
    let err = buf.prepare(5).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dynamic buffer: prepare(5) exceeds max_size - size (4 bytes available)"
    );
    let io: std::io::Error = err.into();
    assert_eq!(io.kind(), std::io::ErrorKind::OutOfMemory);
}
