//! The allocation budget: zero allocations per operation in steady state, counted on
//! every thread of the process.

use std::io;
use std::time::Duration;

use strait_streams::{write_all, ReadStreamExt, Stream};

use super::{with_pair, TransportFactory};
use crate::alloc_count::{counting_installed, process_allocations};
use crate::report::CaseResult;
use crate::watch::Steps;

/// Round trips per counted window.
const ROUNDS: u64 = 1000;

/// Windows counted at most: the case keeps the fewest allocations seen, so a stray
/// allocation by unrelated code in the process (a test harness reporting another test,
/// a runtime's idle workers waking under load) does not fail it, while an allocation per
/// operation shows in every window. Five: three once saw one stray allocation in each
/// window on a loaded machine (tokio multi_thread transport).
const WINDOWS: usize = 5;

async fn round<A: Stream + Unpin, B: Stream + Unpin>(
    a: &mut A,
    b: &mut B,
    buf: &mut [u8; 64],
) -> io::Result<()> {
    write_all(&mut *a, &b"0123456789abcdef"[..]).await?;
    let mut got = 0;
    while got < 16 {
        match b.read(&mut buf[got..16]).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            n => got += n,
        }
    }
    Ok(())
}

/// Rule: in steady state, `read_some`/`write_some` allocate nothing, on any thread (a
/// reactor or runtime thread counts too). Runs only with
/// [`CountingAllocator`](crate::CountingAllocator) installed, alone among the kit's
/// cases. A factory's [`allocation_exception`](TransportFactory::allocation_exception)
/// turns a non-zero count into a note.
pub(super) fn no_allocation_per_operation<F: TransportFactory>(f: &F, s: &Steps) -> CaseResult {
    if !counting_installed() {
        return Err(crate::SKIP_NO_COUNTER.into());
    }
    let fewest = &std::cell::Cell::new(u64::MAX);
    with_pair(f, s, Duration::from_secs(30), |mut a, mut b| async move {
        let mut buf = [0u8; 64];
        s.enter("warm-up round trips");
        for _ in 0..100 {
            round(&mut a, &mut b, &mut buf)
                .await
                .map_err(|e| format!("warm-up round trip: {e}"))?;
        }
        // Transports may yield on their own (an inline budget): suspend once here so
        // every timer of the case is set up before counting starts.
        strait_streams::yield_now().await;
        for _ in 0..WINDOWS {
            s.enter("counted round trips");
            let before = process_allocations();
            for _ in 0..ROUNDS {
                round(&mut a, &mut b, &mut buf)
                    .await
                    .map_err(|e| format!("counted round trip: {e}"))?;
            }
            let n = process_allocations() - before;
            fewest.set(fewest.get().min(n));
            if n == 0 {
                break;
            }
        }
        Ok(())
    })?;
    let n = fewest.get();
    if n == 0 {
        return Ok(());
    }
    let measured = format!(
        "{n} allocations in {ROUNDS} write/read round trips ({:.2} per round trip, fewest \
         of {WINDOWS} windows, all threads)",
        n as f64 / ROUNDS as f64
    );
    match f.allocation_exception() {
        Some(reason) => {
            s.note(format!("{measured}; documented exception: {reason}"));
            Ok(())
        }
        None => Err(measured),
    }
}
