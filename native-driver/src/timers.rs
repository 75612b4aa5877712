//! The context's timer queue: serves `delay`/`timeout` (through
//! `Executor::timer_service`) and bounds the reactor's wait.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::{Arc, Mutex, Weak};
use std::task::Waker;
use std::time::Instant;

use strait_streams::{TimerKey, TimerService};

use crate::context::Shared;

#[derive(Debug, Default)]
struct State {
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

/// Deadlines and wakers in a slab plus a min-heap; entries are reused, so steady-state
/// scheduling does not allocate. Many thousands of timers alive at once cost one slab
/// entry each.
#[derive(Debug)]
pub(crate) struct TimerQueue {
    state: Mutex<State>,
    /// The context to wake when an earlier deadline arrives from another thread.
    context: Weak<Shared>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TimerQueue {
    pub(crate) fn new(context: Weak<Shared>) -> Self {
        TimerQueue {
            state: Mutex::new(State::default()),
            context,
        }
    }

    /// The earliest live deadline.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        let mut state = lock(&self.state);
        while let Some(Reverse((deadline, slot, generation))) = state.heap.peek().copied() {
            let s = &state.slots[slot];
            if s.live && s.generation == generation && s.deadline == deadline {
                return Some(deadline);
            }
            state.heap.pop(); // stale entry
        }
        None
    }

    /// Wakes every timer due at `now`; returns how many fired.
    pub(crate) fn fire_expired(&self, now: Instant) -> usize {
        let mut fired = 0;
        loop {
            let waker = {
                let mut state = lock(&self.state);
                let Some(Reverse((deadline, slot, generation))) = state.heap.peek().copied() else {
                    return fired;
                };
                if deadline > now {
                    return fired;
                }
                state.heap.pop();
                let entry = &mut state.slots[slot];
                if !(entry.live && entry.generation == generation && entry.deadline == deadline) {
                    continue;
                }
                entry.live = false;
                entry.generation += 1;
                let w = entry.waker.take();
                state.free.push(slot);
                w
            };
            fired += 1;
            if let Some(w) = waker {
                w.wake();
            }
        }
    }
}

impl TimerService for TimerQueue {
    fn schedule(&self, deadline: Instant, waker: &Waker, key: Option<TimerKey>) -> TimerKey {
        let (key, earliest) = {
            let mut state = lock(&self.state);
            let existing = key.filter(|k| {
                state
                    .slots
                    .get(k.slot)
                    .is_some_and(|s| s.live && s.generation == k.generation)
            });
            let slot = match existing {
                Some(k) => k.slot,
                None => match state.free.pop() {
                    Some(i) => i,
                    None => {
                        state.slots.push(Slot {
                            deadline,
                            waker: None,
                            generation: 0,
                            live: false,
                        });
                        state.slots.len() - 1
                    }
                },
            };
            let before = state.heap.peek().map(|Reverse((d, ..))| *d);
            let entry = &mut state.slots[slot];
            let moved = !entry.live || entry.deadline != deadline;
            entry.live = true;
            entry.deadline = deadline;
            match &mut entry.waker {
                Some(w) if w.will_wake(waker) => {}
                w => *w = Some(waker.clone()),
            }
            let generation = entry.generation;
            if moved {
                state.heap.push(Reverse((deadline, slot, generation)));
            }
            (
                TimerKey { slot, generation },
                moved && before.is_none_or(|b| deadline < b),
            )
        };
        if earliest {
            if let Some(ctx) = self.context.upgrade() {
                ctx.wake_reactor();
            }
        }
        key
    }

    fn cancel(&self, key: TimerKey) {
        let mut state = lock(&self.state);
        if let Some(entry) = state.slots.get_mut(key.slot) {
            if entry.live && entry.generation == key.generation {
                entry.live = false;
                entry.generation += 1;
                entry.waker = None;
                state.free.push(key.slot);
            }
        }
    }
}

/// Shares the queue as the executor's timer service.
pub(crate) fn service(queue: &Arc<TimerQueue>) -> Arc<dyn TimerService> {
    queue.clone()
}
