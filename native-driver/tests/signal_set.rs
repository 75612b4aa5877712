//! SignalSet: a signal raised in this thread reaches a waiting set; cancel.

use strait_native::{IoContext, SignalSet};
use strait_streams::is_canceled;

#[test]
fn a_raised_signal_reaches_the_waiting_set() {
    let ctx = IoContext::new().unwrap();
    let set = SignalSet::new(&ctx).unwrap();
    set.add(libc::SIGUSR1).unwrap();
    // SAFETY: SIGUSR1 is blocked for this thread (by `add`), so raise queues it.
    assert_eq!(unsafe { libc::raise(libc::SIGUSR1) }, 0);
    assert_eq!(ctx.block_on(set.wait()).unwrap(), libc::SIGUSR1);
}

#[test]
fn sigkill_cannot_be_added_and_cancel_completes_waits() {
    let ctx = IoContext::new().unwrap();
    let set = SignalSet::new(&ctx).unwrap();
    assert_eq!(
        set.add(libc::SIGKILL).unwrap_err().kind(),
        std::io::ErrorKind::InvalidInput
    );
    set.add(libc::SIGUSR2).unwrap();
    set.cancel();
    assert!(is_canceled(&ctx.block_on(set.wait()).unwrap_err()));
    set.remove(libc::SIGUSR2).unwrap();
}

#[test]
fn sets_on_two_contexts_each_receive_their_own_signal() {
    let (a, b) = (IoContext::new().unwrap(), IoContext::new().unwrap());
    let (on_a, on_b) = (SignalSet::new(&a).unwrap(), SignalSet::new(&b).unwrap());
    on_a.add(libc::SIGUSR1).unwrap();
    on_b.add(libc::SIGUSR2).unwrap();
    // SAFETY: both signals are blocked for this thread (by `add`), so raise queues them.
    unsafe {
        assert_eq!(libc::raise(libc::SIGUSR2), 0);
        assert_eq!(libc::raise(libc::SIGUSR1), 0);
    }
    assert_eq!(a.block_on(on_a.wait()).unwrap(), libc::SIGUSR1);
    assert_eq!(b.block_on(on_b.wait()).unwrap(), libc::SIGUSR2);
}
