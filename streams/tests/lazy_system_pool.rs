//! The default environment starts no thread until something is posted to it. (Its own
//! test binary: other tests would start the system pool first.)

/// Threads of this process (a spawned thread is listed as soon as `spawn` returns,
/// before it runs and names itself).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

#[test]
fn block_on_that_never_posts_starts_no_thread_and_a_spawn_does() {
    let before = threads();
    assert_eq!(strait_streams::block_on(async { 1 }), 1);
    assert!(!strait_streams::block_on(async {
        strait_streams::env().stop_token().stop_possible()
    }));
    // A delay already due completes without the fallback timer's thread.
    strait_streams::block_on(strait_streams::delay(std::time::Duration::ZERO)).unwrap();
    strait_streams::block_on(strait_streams::delay_until(std::time::Instant::now())).unwrap();
    assert_eq!(
        threads(),
        before,
        "the default environment started the pool or the timer thread"
    );
    let spawned = strait_streams::system_executor().spawn(async { 2 });
    assert_eq!(strait_streams::block_on(spawned).unwrap(), 2);
    assert!(threads() > before);
}
