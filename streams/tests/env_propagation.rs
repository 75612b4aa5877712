//! The environment reaches every future in a task without being passed.

use strait_streams::{
    driver::env_is_set, env, system_executor, with_frame_allocator, with_stop_token, FrameAlloc,
    IoEnv, RunLoop, StopSource, Task,
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

/// `stop_requested()` follows the published environment as it nests and unwinds: the
/// per-operation check reads a slot the environment guard keeps in step.
#[test]
fn stop_requested_follows_nested_environments_and_their_restoration() {
    use strait_streams::{block_on, driver::enter_env, stop_requested, StopToken};
    let stopped = StopSource::new();
    stopped.request_stop();
    let running = StopSource::new();
    assert!(!stop_requested(), "outside every environment");
    block_on(with_stop_token(stopped.token(), async {
        assert!(stop_requested());
        with_stop_token(StopToken::never(), async {
            assert!(!stop_requested(), "a token that cannot stop");
        })
        .await;
        assert!(stop_requested(), "restored after the child");
        with_stop_token(running.token(), async {
            assert!(!stop_requested());
            running.request_stop();
            assert!(stop_requested(), "seen as soon as it is requested");
        })
        .await;
        let plain = IoEnv::new(system_executor());
        enter_env(&plain, || assert!(!stop_requested()));
        assert!(stop_requested(), "restored after enter_env");
    }));
    assert!(!stop_requested(), "restored after block_on");
}
