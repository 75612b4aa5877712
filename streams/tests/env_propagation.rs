//! The environment reaches every future in a task without being passed.

use strait_streams::{
    env, driver::env_is_set, system_executor, with_frame_allocator, with_stop_token, FrameAlloc, IoEnv,
    RunLoop, StopSource, Task,
};

async fn leaf() -> IoEnv {
    env()
}
async fn middle() -> IoEnv {
    leaf().await
}
async fn top() -> IoEnv {
    middle().await
}

#[test]
fn env_reaches_a_leaf_three_calls_deep_in_a_spawned_task() {
    let rl = RunLoop::new();
    let handle = rl.spawn(top());
    rl.run();
    let seen = rl.block_on(handle).unwrap();
    assert_eq!(*seen.executor(), rl.executor());
    assert!(!seen.stop_token().stop_possible());
}

#[test]
fn env_reaches_a_future_inside_a_task_object() {
    let rl = RunLoop::new();
    let handle = rl.spawn(async {
        let erased: Task<'static, IoEnv> = Task::new(top());
        erased.await
    });
    rl.run();
    assert_eq!(*rl.block_on(handle).unwrap().executor(), rl.executor());
}

#[test]
fn with_stop_token_overrides_only_its_child() {
    let rl = RunLoop::new();
    let source = StopSource::new();
    let token = source.token();
    let handle = rl.spawn(async move {
        let before = env().stop_token().stop_possible();
        let inner = with_stop_token(token.clone(), top()).await;
        let after = env().stop_token().stop_possible();
        (before, inner.stop_token().same_source(&token), after)
    });
    rl.run();
    assert_eq!(rl.block_on(handle).unwrap(), (false, true, false));
}

#[test]
fn with_frame_allocator_keeps_the_executor() {
    let rl = RunLoop::new();
    let out = rl.block_on(with_frame_allocator(FrameAlloc::system(), top()));
    assert_eq!(*out.executor(), rl.executor());
    assert_eq!(format!("{:?}", out.frame_allocator()), "FrameAlloc::system");
}

#[test]
fn outside_every_task_the_default_environment_applies() {
    assert!(!env_is_set());
    let e = env();
    assert_eq!(*e.executor(), system_executor());
    assert!(!e.stop_token().stop_possible());
    // The slot is restored after a block_on returns.
    let rl = RunLoop::new();
    rl.block_on(async { assert!(env_is_set()) });
    assert!(!env_is_set());
}

#[test]
fn nested_block_on_restores_the_outer_environment() {
    // The outer environment names a loop this thread is not running (nesting inside a
    // loop's own `block_on` panics: it could deadlock).
    let outer = RunLoop::new();
    let inner = RunLoop::new();
    let outer_env = strait_streams::IoEnv::new(outer.executor());
    let (a, b) = strait_streams::block_on_with(
        async {
            let inside = inner.block_on(async { env().executor().clone() });
            (inside, env().executor().clone())
        },
        &outer_env,
    );
    assert_eq!(a, inner.executor());
    assert_eq!(b, outer.executor());
}
