//! Masking keys for client frames, drawn from the OS's random source in batches.

/// Keys per refill: one `getrandom` call serves this many frames.
const KEYS_PER_BATCH: usize = 64;

/// A pool of unpredictable masking keys (RFC 6455 §5.3 asks for strong entropy).
///
/// Refilling calls the operating system's random source once per 64 keys, without
/// allocating; this is the only system call a client connection makes.
#[derive(Debug, Clone)]
pub(crate) struct MaskKeys {
    pool: [u8; KEYS_PER_BATCH * 4],
    next: usize,
}

impl MaskKeys {
    pub(crate) const fn new() -> Self {
        Self {
            pool: [0; KEYS_PER_BATCH * 4],
            next: KEYS_PER_BATCH,
        }
    }

    pub(crate) fn next(&mut self) -> [u8; 4] {
        if self.next == KEYS_PER_BATCH {
            getrandom::fill(&mut self.pool).expect("the OS random source failed");
            self.next = 0;
        }
        let at = self.next * 4;
        self.next += 1;
        [
            self.pool[at],
            self.pool[at + 1],
            self.pool[at + 2],
            self.pool[at + 3],
        ]
    }
}
