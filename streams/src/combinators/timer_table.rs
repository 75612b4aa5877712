//! [`TimerTable`]: the deadline bookkeeping every timer service shares — a slab of
//! entries reused after they fire (no allocation in steady state) and a min-heap of
//! deadlines with lazy deletion. Callers add their own lock and their own way to wait.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::task::Waker;
use std::time::Instant;

use super::timer::TimerKey;

/// Deadlines and wakers. Not synchronized: wrap it in the service's lock.
#[derive(Debug, Default)]
pub struct TimerTable {
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

impl TimerTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds (or, with a live `key`, updates) an entry waking `waker` at `deadline`.
    /// Returns its key and whether it became the earliest deadline (the waiting thread
    /// must then be woken to shorten its wait).
    pub fn schedule(
        &mut self,
        deadline: Instant,
        waker: &Waker,
        key: Option<TimerKey>,
    ) -> (TimerKey, bool) {
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
        (TimerKey { slot, generation }, earliest)
    }

    /// Removes a live entry; stale keys are ignored.
    pub fn cancel(&mut self, key: TimerKey) {
        if self.is_live(key) {
            self.retire(key.slot);
        }
    }

    fn is_live(&self, key: TimerKey) -> bool {
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
    pub fn next_deadline(&mut self) -> Option<Instant> {
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
    pub fn pop_due(&mut self, now: Instant) -> Option<Option<Waker>> {
        let deadline = self.next_deadline()?;
        if deadline > now {
            return None;
        }
        let Reverse((_, slot, _)) = self.heap.pop().expect("a live head");
        Some(self.retire(slot))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn entries_fire_in_deadline_order_and_canceled_or_stale_keys_never_fire() {
        let mut t = TimerTable::new();
        let now = Instant::now();
        let w = Waker::noop();
        let (late, first) = t.schedule(now + Duration::from_millis(30), w, None);
        assert!(first, "the only deadline is the earliest");
        let (early, earlier) = t.schedule(now + Duration::from_millis(10), w, None);
        assert!(earlier);
        let (mid, not_earliest) = t.schedule(now + Duration::from_millis(20), w, None);
        assert!(!not_earliest);
        t.cancel(mid);
        t.cancel(mid); // twice: ignored
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(10)));
        assert!(t.pop_due(now).is_none(), "nothing due yet");
        let later = now + Duration::from_millis(40);
        assert!(t.pop_due(later).is_some()); // early
        assert!(t.pop_due(later).is_some()); // late
        assert!(t.pop_due(later).is_none(), "the canceled entry never fires");
        // Slots are reused; old keys stay dead.
        let (reused, _) = t.schedule(now, w, Some(early));
        assert_ne!(reused, early, "a fired key is not revived");
        t.cancel(late);
        assert!(t.pop_due(later).is_some());
        assert_eq!(t.next_deadline(), None);
    }

    #[test]
    fn rescheduling_a_live_key_moves_its_deadline() {
        let mut t = TimerTable::new();
        let now = Instant::now();
        let (k, _) = t.schedule(now + Duration::from_secs(10), Waker::noop(), None);
        let (k2, earliest) = t.schedule(now + Duration::from_millis(1), Waker::noop(), Some(k));
        assert_eq!(k, k2);
        assert!(earliest);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(1)));
        assert!(t.pop_due(now + Duration::from_millis(2)).is_some());
        assert!(
            t.pop_due(now + Duration::from_secs(11)).is_none(),
            "the old deadline is stale"
        );
    }
}
