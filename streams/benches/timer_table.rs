//! `TimerTable` (indexed 4-ary heap, live timers only) against the lazy-deletion heap
//! it replaced, in the same run: `cargo bench -p strait-streams --bench timer_table`.
//! Every case keeps 10,000 timers alive, the load of a busy server's timeouts.

use std::hint::black_box;
use std::task::Waker;
use std::time::{Duration, Instant};

use criterion::Criterion;
use strait_streams::driver::TimerTable;

/// The previous implementation, verbatim but for its names, kept here only to compare.
mod old {
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;
    use std::task::Waker;
    use std::time::Instant;

    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub(crate) struct OldKey {
        slot: usize,
        generation: u64,
    }

    /// Deadlines and wakers. Not synchronized: wrap it in the service's lock.
    #[derive(Debug, Default)]
    pub(crate) struct OldTimerTable {
        slots: Vec<Slot>,
        free: Vec<usize>,
        heap: BinaryHeap<Reverse<(Instant, usize, u64)>>,
    }

    #[derive(Debug)]
    struct Slot {
        deadline: Instant,
        waker: Option<Waker>,
        generation: u64,
        live: bool,
    }

    impl OldTimerTable {
        /// Adds (or, with a live `key`, updates) an entry waking `waker` at `deadline`.
        /// Returns its key and whether it became the earliest deadline (the waiting thread
        /// must then be woken to shorten its wait).
        pub(crate) fn schedule(
            &mut self,
            deadline: Instant,
            waker: &Waker,
            key: Option<OldKey>,
        ) -> (OldKey, bool) {
            let existing = key.filter(|k| self.is_live(*k));
            let slot = match existing {
                Some(k) => k.slot,
                None => match self.free.pop() {
                    Some(i) => i,
                    None => {
                        self.slots.push(Slot {
                            deadline,
                            waker: None,
                            generation: 0,
                            live: false,
                        });
                        self.slots.len() - 1
                    }
                },
            };
            let before = self.next_deadline();
            let entry = &mut self.slots[slot];
            let moved = !entry.live || entry.deadline != deadline;
            entry.live = true;
            entry.deadline = deadline;
            match &mut entry.waker {
                Some(w) if w.will_wake(waker) => {}
                w => *w = Some(waker.clone()),
            }
            let generation = entry.generation;
            if moved {
                self.heap.push(Reverse((deadline, slot, generation)));
            }
            let earliest = moved && before.is_none_or(|b| deadline < b);
            (OldKey { slot, generation }, earliest)
        }

        /// Removes a live entry; stale keys are ignored.
        pub(crate) fn cancel(&mut self, key: OldKey) {
            if self.is_live(key) {
                self.retire(key.slot);
            }
        }

        fn is_live(&self, key: OldKey) -> bool {
            self.slots
                .get(key.slot)
                .is_some_and(|s| s.live && s.generation == key.generation)
        }

        /// Ends an entry's life and frees its slot; returns its waker.
        fn retire(&mut self, slot: usize) -> Option<Waker> {
            let entry = &mut self.slots[slot];
            entry.live = false;
            entry.generation += 1;
            self.free.push(slot);
            entry.waker.take()
        }

        /// The earliest live deadline (drops stale heap entries on the way).
        pub(crate) fn next_deadline(&mut self) -> Option<Instant> {
            while let Some(Reverse((deadline, slot, generation))) = self.heap.peek().copied() {
                let s = &self.slots[slot];
                if s.live && s.generation == generation && s.deadline == deadline {
                    return Some(deadline);
                }
                self.heap.pop();
            }
            None
        }

        /// Removes the next entry due at `now` and returns its waker (`Some(None)` when it
        /// had none); `None` when nothing is due.
        pub(crate) fn pop_due(&mut self, now: Instant) -> Option<Option<Waker>> {
            let deadline = self.next_deadline()?;
            if deadline > now {
                return None;
            }
            let Reverse((_, slot, _)) = self.heap.pop().expect("a live head");
            Some(self.retire(slot))
        }
    }
}

/// The operations every case runs, over either table.
trait Table: Default {
    type Key: Copy;
    fn schedule(&mut self, at: Instant, key: Option<Self::Key>) -> Self::Key;
    fn cancel(&mut self, key: Self::Key);
    fn pop_due(&mut self, now: Instant) -> bool;
}

impl Table for TimerTable {
    type Key = strait_streams::driver::TimerKey;
    fn schedule(&mut self, at: Instant, key: Option<Self::Key>) -> Self::Key {
        TimerTable::schedule(self, at, Waker::noop(), key).0
    }
    fn cancel(&mut self, key: Self::Key) {
        TimerTable::cancel(self, key);
    }
    fn pop_due(&mut self, now: Instant) -> bool {
        TimerTable::pop_due(self, now).is_some()
    }
}

impl Table for old::OldTimerTable {
    type Key = old::OldKey;
    fn schedule(&mut self, at: Instant, key: Option<Self::Key>) -> Self::Key {
        old::OldTimerTable::schedule(self, at, Waker::noop(), key).0
    }
    fn cancel(&mut self, key: Self::Key) {
        old::OldTimerTable::cancel(self, key);
    }
    fn pop_due(&mut self, now: Instant) -> bool {
        old::OldTimerTable::pop_due(self, now).is_some()
    }
}

const LIVE: u64 = 10_000;

/// A table holding `LIVE` timers due within the first second after `base`.
fn loaded<T: Table>(base: Instant) -> (T, Vec<T::Key>) {
    let mut t = T::default();
    let keys = (0..LIVE)
        .map(|i| t.schedule(base + Duration::from_micros(i * 97 % 1_000_000), None))
        .collect();
    (t, keys)
}

/// A timeout whose operation wins: schedule ten seconds out, then cancel.
fn schedule_cancel<T: Table>(iters: u64) -> Duration {
    let base = Instant::now();
    let (mut t, _) = loaded::<T>(base);
    let start = Instant::now();
    for i in 0..iters {
        let k = t.schedule(
            base + Duration::from_secs(10) + Duration::from_nanos(i),
            None,
        );
        t.cancel(black_box(k));
    }
    start.elapsed()
}

/// A paced delay: one live timer moved to a new deadline, again and again.
fn reschedule<T: Table>(iters: u64) -> Duration {
    let base = Instant::now();
    let (mut t, keys) = loaded::<T>(base);
    let mut k = keys[keys.len() / 2];
    let start = Instant::now();
    for i in 0..iters {
        k = t.schedule(base + Duration::from_micros(i * 7919 % 2_000_000), Some(k));
    }
    black_box(&t);
    start.elapsed()
}

/// Timers that fire: schedule one among the live ones, fire the earliest.
fn schedule_fire<T: Table>(iters: u64) -> Duration {
    let base = Instant::now();
    let (mut t, _) = loaded::<T>(base);
    let mut now = base;
    let start = Instant::now();
    for i in 0..iters {
        now += Duration::from_nanos(100);
        t.schedule(now + Duration::from_micros(i * 97 % 1_000_000), None);
        // Fires the earliest entry (due by then), keeping `LIVE` alive.
        assert!(t.pop_due(now + Duration::from_secs(2)));
    }
    start.elapsed()
}

/// Runs a case `iters` times on a fresh loaded table; returns the time taken.
type Case = fn(u64) -> Duration;

fn bench(c: &mut Criterion) {
    let cases: [(&str, Case, Case); 3] = [
        (
            "schedule_cancel",
            schedule_cancel::<old::OldTimerTable>,
            schedule_cancel::<TimerTable>,
        ),
        (
            "reschedule",
            reschedule::<old::OldTimerTable>,
            reschedule::<TimerTable>,
        ),
        (
            "schedule_fire",
            schedule_fire::<old::OldTimerTable>,
            schedule_fire::<TimerTable>,
        ),
    ];
    for (name, old, new) in cases {
        let mut group = c.benchmark_group(format!("timer_table/{name}"));
        group.bench_function("old_lazy_heap", |b| b.iter_custom(old));
        group.bench_function("indexed_heap", |b| b.iter_custom(new));
        group.finish();
    }
}

fn main() {
    let mut c = Criterion::default()
        .sample_size(20)
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2))
        .configure_from_args();
    bench(&mut c);
    c.final_summary();
}
