//! Execution contexts: the typed service registry and the default frame allocator.

use std::sync::{Arc, Mutex};

use strait_streams::{env, ExecutionContext, FrameAlloc, RunLoop, Service, Strand, ThreadPool};

struct Named(&'static str, Arc<Mutex<Vec<&'static str>>>);

impl Service for Named {
    fn shutdown(&self) {
        self.1.lock().unwrap().push(self.0);
    }
}

struct Other(&'static str, Arc<Mutex<Vec<&'static str>>>);

impl Service for Other {
    fn shutdown(&self) {
        self.1.lock().unwrap().push(self.0);
    }
}

#[test]
fn use_service_creates_once_and_make_service_refuses_duplicates() {
    let rl = RunLoop::new();
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut made = 0;
    let a = rl.services().use_service(|| {
        made += 1;
        Named("named", log.clone())
    });
    let b = rl.services().use_service(|| {
        made += 1;
        Named("again", log.clone())
    });
    assert!(Arc::ptr_eq(&a, &b));
    assert_eq!(made, 1);
    let err = rl
        .services()
        .make_service(Named("dup", log.clone()))
        .err()
        .unwrap();
    assert!(err.to_string().contains("already registered"));
    assert!(rl.services().find_service::<Other>().is_none());
}

#[test]
fn tasks_find_their_contexts_services_through_the_environment() {
    let pool = ThreadPool::new(1);
    let log = Arc::new(Mutex::new(Vec::new()));
    pool.services().make_service(Named("pool", log)).unwrap();
    let strand = Strand::new(pool.executor());
    let found = strand.spawn(async {
        env()
            .executor()
            .services()
            .and_then(|s| s.find_service::<Named>())
            .map(|s| s.0)
    });
    pool.join();
    assert_eq!(strait_streams::block_on(found).unwrap(), Some("pool"));
}

#[test]
fn services_shut_down_newest_first_once() {
    let log = Arc::new(Mutex::new(Vec::new()));
    {
        let rl = RunLoop::new();
        rl.services()
            .make_service(Named("first", log.clone()))
            .unwrap();
        rl.services()
            .make_service(Other("second", log.clone()))
            .unwrap();
        rl.services().shutdown();
        assert!(rl.services().is_shut_down());
    } // drop shuts down again: must be a no-op
    assert_eq!(*log.lock().unwrap(), ["second", "first"]);
}

#[test]
fn a_context_supplies_the_default_frame_allocator_of_its_tasks() {
    let rl = RunLoop::with_frame_allocator(FrameAlloc::system());
    assert_eq!(format!("{:?}", rl.frame_allocator()), "FrameAlloc::system");
    let h = rl.spawn(async { format!("{:?}", env().frame_allocator()) });
    rl.run();
    assert_eq!(rl.block_on(h).unwrap(), "FrameAlloc::system");
}
