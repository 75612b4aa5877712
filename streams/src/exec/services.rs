//! [`Services`]: the typed service registry every execution context owns, and the
//! [`ExecutionContext`] trait.

use std::any::{Any, TypeId};
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::AnyExecutor;
use crate::alloc::FrameAlloc;
use crate::sync::lock;

/// Something an execution context provides to the code running on it: a timer queue, a
/// resolver pool, a signal set. A driver installs its services in the context; portable
/// code finds them through the environment's executor
/// ([`Executor::services`](crate::Executor::services)).
pub trait Service: Any + Send + Sync {
    /// Called once when the context shuts down, in reverse order of creation. Must not
    /// block; should cancel outstanding work so its tasks can finish.
    fn shutdown(&self) {}
}

/// A typed registry: at most one service of each type, created lazily or installed
/// explicitly, shut down in reverse order of creation.
#[derive(Default)]
pub struct Services {
    entries: Mutex<Vec<Entry>>,
    shut_down: AtomicBool,
}

struct Entry {
    type_id: TypeId,
    any: Arc<dyn Any + Send + Sync>,
    service: Arc<dyn Service>,
}

/// [`Services::make_service`] found a service of that type already registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServiceExists {
    /// Name of the service type.
    pub type_name: &'static str,
}

impl fmt::Display for ServiceExists {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "a service of type {} is already registered",
            self.type_name
        )
    }
}

impl std::error::Error for ServiceExists {}

impl Services {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// The service of type `S`, created with `make` if there is none yet.
    pub fn use_service<S: Service>(&self, make: impl FnOnce() -> S) -> Arc<S> {
        let mut entries = lock(&self.entries);
        if let Some(found) = Self::find_in(&entries) {
            return found;
        }
        let service = Arc::new(make());
        entries.push(Entry {
            type_id: TypeId::of::<S>(),
            any: service.clone(),
            service: service.clone(),
        });
        service
    }

    /// Installs `service`.
    ///
    /// # Errors
    /// [`ServiceExists`] when a service of type `S` is already registered.
    pub fn make_service<S: Service>(&self, service: S) -> Result<Arc<S>, ServiceExists> {
        let mut entries = lock(&self.entries);
        if Self::find_in::<S>(&entries).is_some() {
            return Err(ServiceExists {
                type_name: std::any::type_name::<S>(),
            });
        }
        let service = Arc::new(service);
        entries.push(Entry {
            type_id: TypeId::of::<S>(),
            any: service.clone(),
            service: service.clone(),
        });
        Ok(service)
    }

    /// The service of type `S`, if registered.
    pub fn find_service<S: Service>(&self) -> Option<Arc<S>> {
        Self::find_in(&lock(&self.entries))
    }

    fn find_in<S: Service>(entries: &[Entry]) -> Option<Arc<S>> {
        entries
            .iter()
            .find(|e| e.type_id == TypeId::of::<S>())
            .and_then(|e| e.any.clone().downcast::<S>().ok())
    }

    /// Shuts every service down, newest first. Idempotent.
    pub fn shutdown(&self) {
        if self.shut_down.swap(true, Ordering::AcqRel) {
            return;
        }
        let services: Vec<Arc<dyn Service>> = lock(&self.entries)
            .iter()
            .rev()
            .map(|e| e.service.clone())
            .collect();
        for s in services {
            s.shutdown();
        }
    }

    /// `true` once `shutdown` ran.
    pub fn is_shut_down(&self) -> bool {
        self.shut_down.load(Ordering::Acquire)
    }
}

impl fmt::Debug for Services {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Services")
            .field("count", &lock(&self.entries).len())
            .field("shut_down", &self.is_shut_down())
            .finish()
    }
}

/// An execution context: owns an executor, a service registry and a default frame
/// allocator for the tasks launched on it.
pub trait ExecutionContext {
    /// The context's executor.
    fn executor(&self) -> AnyExecutor;
    /// The context's services.
    fn services(&self) -> &Services;
    /// Where tasks spawned on this context allocate by default.
    fn frame_allocator(&self) -> FrameAlloc;
}
