//! `!Send` futures: spawn_local on a run loop, LocalTask, LocalAnyStream.

use std::cell::{Cell, RefCell};
use std::rc::Rc;

use strait_streams::{
    duplex, write_all, LocalAnyStream, LocalTask, ReadStreamExt, RunLoop, WriteStreamExt,
};

#[test]
fn spawn_local_runs_rc_state_and_local_streams_on_the_loops_thread() {
    let rl = RunLoop::new();
    let log = Rc::new(RefCell::new(Vec::new())); // !Send
    let (a, b) = duplex(64);
    // A local erased stream (it could be an `Rc`-based transport).
    let mut a = LocalAnyStream::new(a);
    let mut b = LocalAnyStream::new(b);
    let l = log.clone();
    let writer = rl.spawn_local(async move {
        write_all(&mut a, "local").await.unwrap();
        a.shutdown().await.unwrap();
        l.borrow_mut().push("wrote");
    });
    let l = log.clone();
    let reader = rl.spawn_local(async move {
        let mut buf = [0u8; 16];
        let n = b.read(&mut buf[..]).await.unwrap();
        l.borrow_mut().push("read");
        n
    });
    rl.run();
    assert_eq!(rl.block_on(reader).unwrap(), 5);
    rl.block_on(writer).unwrap();
    assert_eq!(*log.borrow(), ["wrote", "read"]);
}

#[test]
fn a_local_task_object_erases_a_non_send_future() {
    let counter = Rc::new(Cell::new(0));
    let c = counter.clone();
    let task: LocalTask<'_, u32> = LocalTask::new(async move {
        c.set(c.get() + 1);
        7
    });
    assert_eq!(strait_streams::block_on(task), 7);
    assert_eq!(counter.get(), 1);
}

#[test]
fn a_loop_with_local_tasks_refuses_to_run_on_another_thread() {
    let rl = std::sync::Arc::new(RunLoop::new());
    let state = Rc::new(Cell::new(0));
    let s = state.clone();
    let handle = rl.spawn_local(async move { s.set(1) });
    let other = rl.clone();
    let err = std::thread::spawn(move || other.run())
        .join()
        .expect_err("running elsewhere must panic");
    let msg = err.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(msg.contains("local (!Send) tasks bound to thread"), "{msg}");
    rl.run();
    rl.block_on(handle).unwrap();
    assert_eq!(state.get(), 1);
}
