//! What idle connections cost on the ring: no receive buffer of their own (the ring
//! is shared), two slots, and one small allocation each.

use super::*;

/// Heap bytes in use (glibc's count over every arena, mmapped blocks included).
#[cfg(target_env = "gnu")]
fn heap_bytes() -> usize {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    info.uordblks + info.hblkhd
}

#[cfg(not(target_env = "gnu"))]
fn heap_bytes() -> usize {
    0
}

#[test]
fn idle_connections_hold_no_buffers_and_little_memory() {
    if !in_child("uring::tests::footprint::idle_connections_hold_no_buffers_and_little_memory") {
        return;
    }
    let Some(ring) = TestRing::new(4096) else {
        return;
    };
    let c = ring.completions(Config::default());
    const PAIRS: usize = 5_000;
    let ends: Vec<Arc<OwnedFd>> = (0..PAIRS)
        .flat_map(|_| {
            let (a, b) = socketpair();
            [a, b]
        })
        .collect();
    let mut conns = Vec::with_capacity(ends.len());
    let (allocations, bytes) = (strait_conformance::allocations(), heap_bytes());
    for fd in &ends {
        let rx = RecvQueue::new(&c, fd.clone()).unwrap();
        let tx = SendBehind::new(&c, fd.clone()).unwrap();
        conns.push((rx, tx));
    }
    ring.turn(&c, false);
    let allocations = strait_conformance::allocations() - allocations;
    let bytes = heap_bytes().saturating_sub(bytes);
    let n = ends.len();
    assert_eq!(c.slots_in_use(), 2 * n);
    assert_eq!(
        c.buffers_available(),
        c.buffer_entries(),
        "idle connections hold no buffer"
    );
    // One receive queue each, plus the slab's doublings.
    assert!(
        allocations as usize <= n + 64,
        "{allocations} allocations for {n} connections"
    );
    eprintln!(
        "{n} idle connections: {allocations} allocations, {bytes} heap bytes ({} per connection, \
         slots of {} bytes), plus the shared buffer ring of {} KiB",
        bytes / n,
        std::mem::size_of::<ops::Slot>(),
        c.buffer_entries() * Config::default().buf_size as usize / 1024,
    );
    drop(conns);
    settle(&ring, &c);
}
