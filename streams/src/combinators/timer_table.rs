//! [`TimerTable`]: the deadline bookkeeping a timer service can share — a slab of
//! entries and an indexed 4-ary min-heap of the live ones. Each slab entry knows its
//! heap position, so cancel and reschedule remove or move the entry at once: the table
//! holds live timers only (a canceled one leaves nothing behind), and its storage grows
//! to the most timers alive at once and is reused from then on (no allocation in steady
//! state). Callers add their own lock and their own way to wait.
//!
//! The heap orders signed nanosecond ticks from the table's epoch (its first deadline),
//! not `Instant`s: one integer comparison per child instead of two, and 16-byte entries
//! (24 with an `Instant`), so a node's four children take 64 bytes.

use std::task::Waker;
use std::time::{Duration, Instant};

use super::timer::TimerKey;

/// Children per heap node: a shallower heap than a binary one, so fewer cache misses
/// per sift (the d-ary heap trade-off; 4 is the usual choice).
const ARITY: usize = 4;

/// Marks a slab entry that is not in the heap (free).
const FREE: u32 = u32::MAX;

/// Deadlines and wakers. Not synchronized: wrap it in the service's lock.
///
/// Keys pack a slot index and that slot's 32-bit generation, bumped each time the slot
/// is freed, so a key that fired or was canceled does not reach the slot's next timer
/// (it would have to be kept through 2^32 reuses of its slot). Storage is bounded by
/// the most timers alive at once; slots are reused, never released.
#[derive(Debug, Default)]
pub struct TimerTable {
    slots: Vec<Slot>,
    free: Vec<u32>,
    heap: Vec<HeapEntry>,
    /// The instant tick 0 stands for: the first deadline ever scheduled.
    epoch: Option<Instant>,
    /// The last `now` given to `pop_due` and its tick: a firing loop passes the same
    /// `now` for every entry it pops, so it converts it once.
    last_now: Option<(Instant, i64)>,
}

#[derive(Debug)]
struct Slot {
    waker: Option<Waker>,
    generation: u32,
    /// Index in `heap`, or `FREE`.
    pos: u32,
}

#[derive(Debug, Clone, Copy)]
struct HeapEntry {
    /// The deadline in nanoseconds from `epoch` (see [`TimerTable::tick`]).
    tick: i64,
    slot: u32,
}

impl TimerTable {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many timers are scheduled (neither fired nor canceled).
    pub fn len(&self) -> usize {
        self.heap.len()
    }

    /// `true` when no timer is scheduled.
    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }

    /// Adds (or, with a live `key`, updates) an entry waking `waker` at `deadline`.
    /// Returns its key and whether it became the earliest deadline (the waiting thread
    /// must then be woken to shorten its wait).
    ///
    /// # Panics
    /// With more than `u32::MAX - 1` timers alive at once.
    pub fn schedule(
        &mut self,
        deadline: Instant,
        waker: &Waker,
        key: Option<TimerKey>,
    ) -> (TimerKey, bool) {
        let before = self.heap.first().map(|e| e.tick);
        let tick = self.tick(deadline);
        let (slot, moved) = match key.and_then(|k| self.live_slot(k)) {
            Some(slot) => {
                let pos = self.slots[slot as usize].pos as usize;
                let old = self.heap[pos].tick;
                if old != tick {
                    self.heap[pos].tick = tick;
                    if tick < old {
                        self.sift_up(pos);
                    } else {
                        self.sift_down(pos);
                    }
                }
                (slot, old != tick)
            }
            None => {
                let slot = self.allocate_slot();
                let pos = self.heap.len();
                self.heap.push(HeapEntry { tick, slot });
                self.slots[slot as usize].pos = pos as u32;
                self.sift_up(pos);
                (slot, true)
            }
        };
        let entry = &mut self.slots[slot as usize];
        match &mut entry.waker {
            Some(w) if w.will_wake(waker) => {}
            w => *w = Some(waker.clone()),
        }
        let key = pack(slot, entry.generation);
        let earliest = moved && before.is_none_or(|b| tick < b);
        (key, earliest)
    }

    /// Removes a live entry; stale keys are ignored.
    pub fn cancel(&mut self, key: TimerKey) {
        if let Some(slot) = self.live_slot(key) {
            let pos = self.slots[slot as usize].pos as usize;
            drop(self.remove_at(pos));
        }
    }

    /// The earliest live deadline.
    pub fn next_deadline(&self) -> Option<Instant> {
        let tick = self.heap.first()?.tick;
        let epoch = self.epoch.expect("a scheduled entry set the epoch");
        let offset = Duration::from_nanos(tick.unsigned_abs());
        // A clamped tick (below) may not map back: the epoch's far end is as good.
        Some(if tick >= 0 {
            epoch.checked_add(offset).unwrap_or(epoch)
        } else {
            epoch.checked_sub(offset).unwrap_or(epoch)
        })
    }

    /// `at` in nanoseconds from the epoch (set to `at` when there is none yet), clamped
    /// to ±292 years: exact, and so ordered exactly, for every deadline a program can
    /// wait for; one 292 years past the first deadline fires at that point.
    fn tick(&mut self, at: Instant) -> i64 {
        let epoch = *self.epoch.get_or_insert(at);
        tick_from(epoch, at)
    }

    /// Removes the next entry due at `now` and returns its waker (`Some(None)` when it
    /// had none); `None` when nothing is due.
    pub fn pop_due(&mut self, now: Instant) -> Option<Option<Waker>> {
        let first = self.heap.first()?.tick;
        let now_tick = match self.last_now {
            Some((at, tick)) if at == now => tick,
            _ => {
                let epoch = self.epoch.expect("a scheduled entry set the epoch");
                let tick = tick_from(epoch, now);
                self.last_now = Some((now, tick));
                tick
            }
        };
        if first > now_tick {
            return None;
        }
        Some(self.remove_at(0))
    }

    /// The slot `key` names, if it is still scheduled under that key.
    fn live_slot(&self, key: TimerKey) -> Option<u32> {
        let (slot, generation) = unpack(key);
        self.slots
            .get(slot as usize)
            .filter(|s| s.pos != FREE && s.generation == generation)
            .map(|_| slot)
    }

    fn allocate_slot(&mut self) -> u32 {
        if let Some(slot) = self.free.pop() {
            return slot;
        }
        let slot = u32::try_from(self.slots.len())
            .ok()
            .filter(|&s| s != FREE)
            .expect("more than u32::MAX - 1 timers alive at once");
        self.slots.push(Slot {
            waker: None,
            generation: 0,
            pos: FREE,
        });
        slot
    }

    /// Takes the heap entry at `pos` out, frees its slot and returns its waker.
    fn remove_at(&mut self, pos: usize) -> Option<Waker> {
        let removed = self.heap.swap_remove(pos);
        if pos < self.heap.len() {
            // The former last entry now sits at `pos`: restore the order around it.
            let moved = self.heap[pos].slot;
            self.slots[moved as usize].pos = pos as u32;
            if pos > 0 && self.heap[pos].tick < self.heap[(pos - 1) / ARITY].tick {
                self.sift_up(pos);
            } else {
                self.sift_down(pos);
            }
        }
        let entry = &mut self.slots[removed.slot as usize];
        entry.pos = FREE;
        entry.generation = entry.generation.wrapping_add(1);
        self.free.push(removed.slot);
        entry.waker.take()
    }

    fn sift_up(&mut self, mut pos: usize) {
        let item = self.heap[pos];
        while pos > 0 {
            let parent = (pos - 1) / ARITY;
            if self.heap[parent].tick <= item.tick {
                break;
            }
            self.place(pos, self.heap[parent]);
            pos = parent;
        }
        self.place(pos, item);
    }

    fn sift_down(&mut self, mut pos: usize) {
        let item = self.heap[pos];
        let len = self.heap.len();
        loop {
            let first = pos * ARITY + 1;
            if first >= len {
                break;
            }
            let last = (first + ARITY).min(len);
            // One slice for the children: no bounds check per comparison.
            let children = &self.heap[first..last];
            let mut min = 0;
            for (i, c) in children.iter().enumerate().skip(1) {
                if c.tick < children[min].tick {
                    min = i;
                }
            }
            let child = children[min];
            if item.tick <= child.tick {
                break;
            }
            self.place(pos, child);
            pos = first + min;
        }
        self.place(pos, item);
    }

    /// Puts `entry` at `pos` and records the position in its slot.
    fn place(&mut self, pos: usize, entry: HeapEntry) {
        self.heap[pos] = entry;
        self.slots[entry.slot as usize].pos = pos as u32;
    }
}

/// `at` in nanoseconds from `epoch`, clamped to the range of an `i64` (±292 years).
fn tick_from(epoch: Instant, at: Instant) -> i64 {
    match at.checked_duration_since(epoch) {
        Some(after) => nanos(after).unwrap_or(i64::MAX),
        None => nanos(epoch.duration_since(at)).map_or(i64::MIN, |n| -n),
    }
}

/// `d` in nanoseconds, if that fits an `i64` (64-bit arithmetic: `as_nanos` is 128-bit).
fn nanos(d: Duration) -> Option<i64> {
    i64::try_from(d.as_secs())
        .ok()?
        .checked_mul(1_000_000_000)?
        .checked_add(i64::from(d.subsec_nanos()))
}

fn pack(slot: u32, generation: u32) -> TimerKey {
    TimerKey::from_raw(u64::from(generation) << 32 | u64::from(slot))
}

fn unpack(key: TimerKey) -> (u32, u32) {
    let raw = key.into_raw();
    (raw as u32, (raw >> 32) as u32)
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
        assert_eq!(t.len(), 1);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(1)));
        assert!(t.pop_due(now + Duration::from_millis(2)).is_some());
        assert!(
            t.pop_due(now + Duration::from_secs(11)).is_none(),
            "the old deadline is gone"
        );
    }

    #[test]
    fn deadlines_before_the_epoch_and_far_ahead_keep_their_order_and_never_fire_early() {
        let mut t = TimerTable::new();
        let now = Instant::now();
        let w = Waker::noop();
        // The first deadline sets the epoch; the next ones lie before it.
        t.schedule(now + Duration::from_secs(10), w, None);
        let (_, earliest) = t.schedule(now + Duration::from_millis(5), w, None);
        assert!(earliest);
        let (_, earliest) = t.schedule(now + Duration::from_millis(1), w, None);
        assert!(earliest);
        assert_eq!(t.next_deadline(), Some(now + Duration::from_millis(1)));
        assert!(
            t.pop_due(now).is_none(),
            "nothing is due before its deadline"
        );
        assert!(t.pop_due(now + Duration::from_millis(1)).is_some());
        assert!(t.pop_due(now + Duration::from_millis(4)).is_none());
        assert!(t.pop_due(now + Duration::from_millis(5)).is_some());
        // Far ahead (past the ±292-year tick range when it is representable at all).
        if let Some(far) = now.checked_add(Duration::from_secs(400 * 365 * 24 * 3600)) {
            t.schedule(far, w, None);
            assert_eq!(t.len(), 2);
            assert!(t.pop_due(now + Duration::from_secs(11)).is_some());
            assert!(t.pop_due(now + Duration::from_secs(3600)).is_none());
            assert!(t
                .next_deadline()
                .is_some_and(|d| d > now + Duration::from_secs(3600)));
        }
    }

    #[test]
    fn heap_entries_are_16_bytes() {
        // A node's four children take 64 bytes (a cache line's worth).
        assert_eq!(std::mem::size_of::<HeapEntry>(), 16);
    }

    /// Random schedule, reschedule, cancel and fire against a sorted reference model.
    #[test]
    fn the_heap_agrees_with_a_reference_model() {
        let mut t = TimerTable::new();
        let base = Instant::now();
        // (deadline in µs, key) of every live timer.
        let mut model: Vec<(u64, TimerKey)> = Vec::new();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut clock = 0u64;
        for _ in 0..20_000 {
            let r = next();
            match r % 8 {
                0..=3 => {
                    let at = clock + r % 1000;
                    let (k, _) = t.schedule(base + Duration::from_micros(at), Waker::noop(), None);
                    model.push((at, k));
                }
                4 if !model.is_empty() => {
                    let i = (r >> 8) as usize % model.len();
                    let at = clock + (r >> 20) % 1000;
                    let k = model[i].1;
                    let (k2, _) =
                        t.schedule(base + Duration::from_micros(at), Waker::noop(), Some(k));
                    assert_eq!(k, k2);
                    model[i].0 = at;
                }
                5 if !model.is_empty() => {
                    let i = (r >> 8) as usize % model.len();
                    t.cancel(model.swap_remove(i).1);
                }
                _ => {
                    clock += r % 300;
                    let now = base + Duration::from_micros(clock);
                    while t.pop_due(now).is_some() {}
                    model.retain(|&(at, _)| at > clock);
                }
            }
            assert_eq!(t.len(), model.len());
            let earliest = model.iter().map(|&(at, _)| at).min();
            assert_eq!(
                t.next_deadline(),
                earliest.map(|at| base + Duration::from_micros(at))
            );
        }
    }
}
