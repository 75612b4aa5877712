//! Thread placement: the load generator on the last CPU, server threads on the CPUs
//! before it, then on every CPU in turn (the generator's included) when there are more
//! server threads than CPUs before it; the same for every server. Placement is best effort: a failed `sched_setaffinity` (a
//! container's CPU set, say) leaves the thread where the kernel puts it. On a busy
//! machine pinned threads cannot move away from a loaded CPU: set
//! `STRAIT_BENCH_NO_PIN=1` to leave placement to the kernel.

use std::sync::atomic::{AtomicUsize, Ordering};

/// CPUs this process may run on, in order (none when pinning is turned off).
fn cpus() -> Vec<usize> {
    if std::env::var_os("STRAIT_BENCH_NO_PIN").is_some() {
        return Vec::new();
    }
    // SAFETY: `cpu_set_t` is plain data; `sched_getaffinity` writes at most its size.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: pid 0 is the calling thread; `set` is valid for its size.
    let ok = unsafe { libc::sched_getaffinity(0, std::mem::size_of_val(&set), &mut set) } == 0;
    if !ok {
        return Vec::new();
    }
    (0..libc::CPU_SETSIZE as usize)
        // SAFETY: `cpu` is below CPU_SETSIZE, the set's capacity.
        .filter(|&cpu| unsafe { libc::CPU_ISSET(cpu, &set) })
        .collect()
}

/// Pins the calling thread to `cpu`.
fn pin_to(cpu: usize) {
    // SAFETY: as in `cpus`.
    let mut set: libc::cpu_set_t = unsafe { std::mem::zeroed() };
    // SAFETY: `cpu` came from `cpus`, below CPU_SETSIZE.
    unsafe { libc::CPU_SET(cpu, &mut set) };
    // SAFETY: pid 0 is the calling thread; `set` is valid for its size.
    let _ = unsafe { libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) };
}

/// Pins the calling thread (the load generator) to the last CPU, when there are two
/// or more.
pub fn generator() {
    let cpus = cpus();
    if cpus.len() >= 2 {
        pin_to(cpus[cpus.len() - 1]);
    }
}

/// Places server threads: each call pins its thread to the next CPU (see the module).
pub struct Placement {
    next: AtomicUsize,
    cpus: Vec<usize>,
}

impl Placement {
    pub fn new() -> Self {
        let cpus = cpus();
        Placement {
            next: AtomicUsize::new(0),
            cpus,
        }
    }

    /// Pins the calling server thread.
    pub fn pin(&self) {
        if self.cpus.is_empty() {
            return;
        }
        // The generator's CPU (the last) comes last.
        let i = self.next.fetch_add(1, Ordering::Relaxed) % self.cpus.len();
        pin_to(self.cpus[i]);
    }
}
