//! What an emulator's requests share: its permissions, organization, faults, keys
//! and counters, behind one reference count.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::faults::{Fault, Faults};
use crate::keys::Keys;
use crate::org::Organization;
use crate::store::Store;
use crate::throttle::{EndpointCounters, Throttle};

/// Everything the request handlers share.
pub(crate) struct Shared {
    pub(crate) store: Store,
    pub(crate) faults: Faults,
    pub(crate) admin_key_prefix: String,
    pub(crate) keys: Keys,
    /// The projects and checkpoints the seeds describe.
    pub(crate) org: Organization,
    pub(crate) requests: AtomicU64,
    pub(crate) throttle: Throttle,
}

/// The state behind an emulator's router: its permissions, faults and settings.
///
/// Cheap to clone (one reference count). Built by
/// [`EmulatorBuilder::build_state`](crate::EmulatorBuilder::build_state) and served
/// by [`router`](crate::router).
#[derive(Clone)]
pub struct EmulatorState(pub(crate) Arc<Shared>);

impl std::fmt::Debug for EmulatorState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmulatorState")
            .field("store", &self.0.store)
            .field("keys", &self.0.keys)
            .field("requests", &self.request_count())
            .finish_non_exhaustive()
    }
}

impl EmulatorState {
    /// How many HTTP requests reached the emulator, faulted ones included.
    pub fn request_count(&self) -> u64 {
        self.0.requests.load(Ordering::Relaxed)
    }

    /// Scripts `fault` for the next `times` requests (after faults already scripted).
    pub fn inject(&self, fault: Fault, times: usize) {
        self.0.faults.inject(fault, times);
    }

    /// Number of live permissions over all checkpoints.
    pub fn permission_count(&self) -> usize {
        self.0.store.len()
    }

    /// Requests and 429 answers per endpoint (method and path template), sorted by
    /// method and path; see [`EndpointCounters`].
    pub fn endpoint_counters(&self) -> Vec<EndpointCounters> {
        self.0.throttle.counters()
    }

    /// Whether the permissions are kept in a SQLite database file.
    pub fn is_persistent(&self) -> bool {
        self.0.store.is_persistent()
    }

    /// The projects and checkpoints the seeds describe.
    pub(crate) fn org(&self) -> &Organization {
        &self.0.org
    }
}
