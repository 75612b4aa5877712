//! The dynamic-buffer suite: a third-party [`DynamicBuffer`] against the contract
//! (`strait_vocab::dynamic`) and a plain model.

use std::collections::VecDeque;

use strait_vocab::{buffer_copy, ConstBufferSequence, DynamicBuffer};

use crate::report::{ensure, CaseResult, Outcome, Report};

/// A check that runs on a fresh buffer of any type.
pub trait BufferTest {
    /// Runs the check on `buf`.
    fn run<D: DynamicBuffer>(self, buf: D) -> CaseResult;
}

/// Makes buffers for the suite.
pub trait DynamicBufferFactory {
    /// Calls `test.run` with a fresh, empty buffer whose `max_size()` is `max_size`
    /// (buffers over caller storage: storage of that length).
    fn with_buffer<T: BufferTest>(&self, max_size: usize, test: T) -> CaseResult;
}

type Case<F> = fn(&F) -> CaseResult;

/// Every case, by name.
pub fn cases<F: DynamicBufferFactory>() -> Vec<(&'static str, Case<F>)> {
    vec![
        ("prepare_past_max_size_fails_cleanly", |f| {
            f.with_buffer(64, PastMax)
        }),
        ("commit_moves_at_most_prepared", |f| {
            f.with_buffer(64, CommitClamps)
        }),
        ("consume_clamps_and_drops_front", |f| {
            f.with_buffer(64, ConsumeClamps)
        }),
        ("matches_a_model_under_random_operations", |f| {
            f.with_buffer(
                97,
                Model {
                    invariants_only: false,
                },
            )
        }),
        ("invariants_hold", |f| {
            f.with_buffer(
                33,
                Model {
                    invariants_only: true,
                },
            )
        }),
    ]
}

/// Runs one case by name.
///
/// # Panics
/// If no case has that name.
pub fn run_case<F: DynamicBufferFactory>(factory: &F, name: &str) -> Outcome {
    let (name, case) = cases::<F>()
        .into_iter()
        .find(|(n, _)| *n == name)
        .unwrap_or_else(|| panic!("no dynamic-buffer case named {name}"));
    crate::outcome_of(name, || case(factory))
}

/// Runs every case.
pub fn run<F: DynamicBufferFactory>(factory: &F) -> Report {
    Report {
        cases: cases::<F>()
            .into_iter()
            .map(|(name, case)| (name, crate::outcome_of(name, || case(factory))))
            .collect(),
    }
}

fn data_of<D: DynamicBuffer>(buf: &D) -> Vec<u8> {
    buf.data().buffers().flatten().copied().collect()
}

/// Writes `bytes` through prepare/commit.
fn append<D: DynamicBuffer>(buf: &mut D, bytes: &[u8]) -> Result<(), String> {
    let n = {
        let mut region = buf
            .prepare(bytes.len())
            .map_err(|e| format!("prepare({}) failed: {e}", bytes.len()))?;
        buffer_copy(&mut region, bytes, usize::MAX)
    };
    if n != bytes.len() {
        return Err(format!(
            "prepare({}) returned {n} writable bytes",
            bytes.len()
        ));
    }
    buf.commit(bytes.len());
    Ok(())
}

struct PastMax;
impl BufferTest for PastMax {
    /// Rule: `prepare(n)` past `max_size - size` fails and changes nothing.
    fn run<D: DynamicBuffer>(self, mut buf: D) -> CaseResult {
        append(&mut buf, b"0123456789")?;
        let before = data_of(&buf);
        let over = buf.max_size() - buf.size() + 1;
        ensure(buf.prepare(over).is_err(), || {
            format!("prepare({over}) past max_size succeeded")
        })?;
        ensure(data_of(&buf) == before, || {
            "a failed prepare changed the data".into()
        })?;
        let exact = buf.max_size() - buf.size();
        ensure(buf.prepare(exact).is_ok(), || {
            format!("prepare({exact}) up to max_size failed")
        })
    }
}

struct CommitClamps;
impl BufferTest for CommitClamps {
    /// Rule: `commit(n)` moves at most the prepared bytes; without a prepare it moves none.
    fn run<D: DynamicBuffer>(self, mut buf: D) -> CaseResult {
        {
            let mut region = buf.prepare(10).map_err(|e| e.to_string())?;
            buffer_copy(&mut region, b"abcdefghij", usize::MAX);
        }
        buf.commit(100);
        ensure(buf.size() == 10, || {
            format!("commit(100) after prepare(10) gave size {}", buf.size())
        })?;
        buf.commit(5);
        ensure(buf.size() == 10, || {
            "a commit without a prepare changed the size".into()
        })?;
        ensure(data_of(&buf) == b"abcdefghij", || {
            "committed bytes differ".into()
        })
    }
}

struct ConsumeClamps;
impl BufferTest for ConsumeClamps {
    /// Rule: `consume(n)` drops `min(n, size)` bytes from the front.
    fn run<D: DynamicBuffer>(self, mut buf: D) -> CaseResult {
        append(&mut buf, b"0123456789")?;
        buf.consume(3);
        ensure(data_of(&buf) == b"3456789", || {
            format!("after consume(3): {:?}", data_of(&buf))
        })?;
        buf.consume(100);
        ensure(buf.size() == 0 && data_of(&buf).is_empty(), || {
            "consume(100) left bytes".into()
        })
    }
}

struct Model {
    invariants_only: bool,
}
impl BufferTest for Model {
    /// Rule: under random prepare/commit/consume, the buffer matches a `VecDeque` model
    /// and keeps `size <= capacity <= max_size`.
    fn run<D: DynamicBuffer>(self, mut buf: D) -> CaseResult {
        let mut model: VecDeque<u8> = VecDeque::new();
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let mut byte = 0u8;
        for step in 0..2000 {
            match next() % 3 {
                0 => {
                    let n = (next() % 40) as usize;
                    let k = (next() % 48) as usize;
                    let room = buf.max_size() - buf.size();
                    let bytes: Vec<u8> = (0..n)
                        .map(|_| {
                            byte = byte.wrapping_add(1);
                            byte
                        })
                        .collect();
                    let prepared = match buf.prepare(n) {
                        Err(_) => false,
                        Ok(mut region) => {
                            buffer_copy(&mut region, &bytes[..], usize::MAX);
                            true
                        }
                    };
                    ensure(prepared == (n <= room), || {
                        format!(
                            "step {step}: prepare({n}) with {room} free: succeeded = {prepared}"
                        )
                    })?;
                    if prepared {
                        buf.commit(k);
                        model.extend(&bytes[..k.min(n)]);
                    }
                }
                1 => {
                    let n = (next() % 50) as usize;
                    buf.consume(n);
                    let k = n.min(model.len());
                    model.drain(..k);
                }
                _ => buf.commit((next() % 8) as usize), // stray commit: no effect
            }
            ensure(
                buf.size() <= buf.capacity() && buf.capacity() <= buf.max_size(),
                || {
                    format!(
                        "step {step}: size {} <= capacity {} <= max_size {} broken",
                        buf.size(),
                        buf.capacity(),
                        buf.max_size()
                    )
                },
            )?;
            if !self.invariants_only {
                let expected: Vec<u8> = model.iter().copied().collect();
                ensure(data_of(&buf) == expected, || {
                    format!("step {step}: data differs from the model")
                })?;
            }
        }
        Ok(())
    }
}
