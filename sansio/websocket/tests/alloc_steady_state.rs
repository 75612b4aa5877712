//! No allocation per message in steady state: once the buffers have grown to the largest
//! message, echo round trips (text, binary, fragmented, pings) allocate nothing.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Instant;

use strait_websocket::proto::{Config, Connection, Event, Message, MessageKind, Role};

struct Counting;

thread_local! {
    static ALLOCS: Cell<u64> = const { Cell::new(0) };
    /// Bytes currently allocated by this thread (allocations less frees made here).
    static LIVE: Cell<i64> = const { Cell::new(0) };
    /// The most `LIVE` has been since it was last reset.
    static PEAK: Cell<i64> = const { Cell::new(0) };
}

fn live_add(n: i64) {
    let _ = LIVE.try_with(|c| {
        c.set(c.get() + n);
        let _ = PEAK.try_with(|p| p.set(p.get().max(c.get())));
    });
}

// SAFETY: forwards to the system allocator; only counts calls made on this thread.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        live_add(layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        live_add(-(layout.size() as i64));
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCS.try_with(|c| c.set(c.get() + 1));
        live_add(new_size as i64 - layout.size() as i64);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

fn allocs() -> u64 {
    ALLOCS.with(Cell::get)
}

/// Pumps `wire` into `conn`; echoes each message back through `conn` (as a server
/// would) and returns the number of events.
fn pump(
    conn: &mut Connection,
    now: Instant,
    mut wire: &[u8],
    echo: bool,
    scratch: &mut [u8],
) -> usize {
    let mut events = 0;
    while !wire.is_empty() {
        let n = conn.handle_input(now, wire).unwrap();
        wire = &wire[n..];
        // Copy the message out before replying: the event borrows the connection.
        let mut reply: Option<(bool, usize)> = None;
        if let Some(e) = conn.poll_event() {
            events += 1;
            if let Event::Message(m) = e {
                let b = m.as_bytes();
                scratch[..b.len()].copy_from_slice(b);
                reply = Some((matches!(m, Message::Text(_)), b.len()));
            }
        }
        if let (true, Some((text, len))) = (echo, reply) {
            if text {
                conn.send_text(std::str::from_utf8(&scratch[..len]).unwrap())
                    .unwrap();
            } else {
                conn.send_binary(&scratch[..len]).unwrap();
            }
        }
    }
    events
}

#[test]
fn echo_round_trips_do_not_allocate() {
    // The counter sees this thread's allocations (else the test could not fail).
    let probe = allocs();
    drop(std::hint::black_box(vec![0u8; 16]));
    assert_eq!(allocs(), probe + 1);

    let now = Instant::now();
    let mut client = Connection::new(Role::Client, Config::default());
    let mut server = Connection::new(Role::Server, Config::default());
    let text = "ωebsocket ".repeat(100);
    let binary = vec![0xA5u8; 64 * 1024];
    let mut scratch = vec![0u8; 64 * 1024];
    let mut wire = Vec::with_capacity(128 * 1024);
    let mut round = |client: &mut Connection, server: &mut Connection, wire: &mut Vec<u8>| {
        client.send_text(&text).unwrap();
        client.send_binary(&binary).unwrap();
        client
            .send_fragment(MessageKind::Binary, &binary[..1000], false)
            .unwrap();
        client.send_ping(b"heartbeat").unwrap();
        client
            .send_fragment(MessageKind::Binary, &binary[1000..3000], true)
            .unwrap();
        wire.clear();
        client.poll_transmit(wire);
        let n = pump(server, now, wire, true, &mut scratch);
        assert_eq!(n, 4);
        wire.clear();
        server.poll_transmit(wire);
        let n = pump(client, now, wire, false, &mut scratch);
        assert_eq!(n, 4, "three echoes and the pong");
    };
    for _ in 0..20 {
        round(&mut client, &mut server, &mut wire);
    }
    let before = allocs();
    for _ in 0..1000 {
        round(&mut client, &mut server, &mut wire);
    }
    assert_eq!(
        allocs() - before,
        0,
        "allocations in 1000 steady-state round trips"
    );
}

/// With permessage-deflate at the defaults (context takeover both ways) the encoder,
/// the decompressor and the buffers live as long as the connection: compressed echo
/// round trips allocate nothing either.
#[cfg(feature = "deflate")]
#[test]
fn compressed_round_trips_do_not_allocate() {
    use strait_websocket::proto::deflate::DeflateConfig;
    let now = Instant::now();
    let deflate = DeflateConfig::default();
    let (params, _) = deflate
        .accept_offer(deflate.offer().split(',').next().unwrap())
        .unwrap();
    let config = Config::default().compression(Some(deflate));
    let mut client = Connection::with_deflate(Role::Client, config.clone(), &params);
    let mut server = Connection::with_deflate(Role::Server, config, &params);
    assert!(client.is_compressed() && server.is_compressed());
    let text = "a fairly ordinary chat message, sent again and again; ".repeat(30);
    let binary: Vec<u8> = (0..5000u32).map(|i| (i % 7 * i % 251) as u8).collect();
    let mut wire = Vec::new();
    let mut scratch = vec![0u8; 1 << 16];
    let mut round = |client: &mut Connection, server: &mut Connection, wire: &mut Vec<u8>| {
        client.send_text(&text).unwrap();
        client.send_binary(&binary).unwrap();
        wire.clear();
        client.poll_transmit(wire);
        assert_eq!(pump(server, now, wire, true, &mut scratch), 2);
        wire.clear();
        server.poll_transmit(wire);
        assert_eq!(pump(client, now, wire, false, &mut scratch), 2);
    };
    for _ in 0..20 {
        round(&mut client, &mut server, &mut wire);
    }
    let before = allocs();
    for _ in 0..500 {
        round(&mut client, &mut server, &mut wire);
    }
    assert_eq!(
        allocs() - before,
        0,
        "allocations in 500 compressed round trips"
    );
}

/// Memory held by one connection for permessage-deflate: live heap bytes of a connected
/// pair after exchanging 50 chat-like messages each way, less the same for a pair
/// without compression (the message buffers both have). Printed for the report and
/// bounded by the crate's documented figures.
#[cfg(feature = "deflate")]
#[test]
fn memory_per_compressed_connection() {
    use strait_websocket::proto::deflate::DeflateConfig;
    let now = Instant::now();
    let measure = |deflate: Option<DeflateConfig>| {
        let config = Config::default().compression(deflate);
        let text = "a fairly ordinary chat message, sent again and again; ".repeat(20);
        let mut wire = Vec::with_capacity(4096);
        let before = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(before));
        let (mut server, mut client) = match deflate {
            Some(deflate) => {
                let (params, _) = deflate
                    .accept_offer(deflate.offer().split(',').next().unwrap())
                    .unwrap();
                (
                    Connection::with_deflate(Role::Server, config.clone(), &params),
                    Connection::with_deflate(Role::Client, config, &params),
                )
            }
            None => (
                Connection::new(Role::Server, config.clone()),
                Connection::new(Role::Client, config),
            ),
        };
        let mut one_way = |from: &mut Connection, to: &mut Connection| {
            from.send_text(&text).unwrap();
            wire.clear();
            from.poll_transmit(&mut wire);
            let mut rest = &wire[..];
            while !rest.is_empty() {
                rest = &rest[to.handle_input(now, rest).unwrap()..];
                while to.poll_event().is_some() {}
            }
        };
        for _ in 0..50 {
            one_way(&mut client, &mut server);
            one_way(&mut server, &mut client);
        }
        let live = LIVE.with(Cell::get) - before;
        let peak = PEAK.with(Cell::get) - before;
        drop((client, server));
        // Two connections were alive: per connection between messages, and the pair's
        // peak (one end compresses while the other inflates).
        (live / 2, peak)
    };
    let (plain, plain_peak) = measure(None);
    let cost = |d: DeflateConfig| {
        let (live, peak) = measure(Some(d));
        (live - plain, peak - plain_peak)
    };
    let (default, default_peak) = cost(DeflateConfig::default());
    let mut small = DeflateConfig::default();
    small.max_window_bits = 9;
    let (small, small_peak) = cost(small);
    let mut no_context = DeflateConfig::default();
    no_context.no_context_takeover = true;
    no_context.peer_no_context_takeover = true;
    let (no_context, no_context_peak) = cost(no_context);
    println!(
        "compression bytes per connection between messages (the pair's peak): \
         default {default} ({default_peak}), window 2^9 {small} ({small_peak}), \
         no context takeover {no_context} ({no_context_peak}); \
         connection without compression: {plain} ({plain_peak})"
    );
    assert!(default <= 70 * 1024, "{default}");
    assert!(small < default, "{small} {default}");
    assert!(no_context <= 20 * 1024, "{no_context}");
    // Without context takeover the state exists only while a message is handled.
    assert!(
        no_context_peak <= default_peak,
        "{no_context_peak} {default_peak}"
    );
}
