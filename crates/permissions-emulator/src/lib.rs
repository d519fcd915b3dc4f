//! A faithful local emulator of the OpenAI fine-tuned checkpoint permissions API.
//!
//! It serves the four operations of `openapi/permissions.yaml` under `/v1` (list,
//! create and delete a checkpoint's permissions; list the organization's projects),
//! with the real API's rules: admin-key bearer authentication, cursor pagination,
//! the error envelope, `x-request-id` headers. State is kept in memory, or in a
//! SQLite file (WAL mode) that survives restarts and `kill -9`. Faults (429 with
//! `retry-after`, 500, 503, delays) can be injected at random or scripted, to test
//! retry logic.
//!
//! Start one in-process from any test:
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), permissions_emulator::Error> {
//! use permissions_emulator::{Emulator, Fault, SeedCheckpoint, SeedPermission, SeedProject};
//!
//! const CHECKPOINT: &str = "ft:gpt-4o-mini:org:demo:abc";
//! let emulator = Emulator::builder()
//!     // The organization: two projects, one checkpoint (owned by the first).
//!     .projects([SeedProject::new("proj_owner", Some("Demo")),
//!                SeedProject::new("proj_demo", Some("Research"))])
//!     .checkpoints([SeedCheckpoint::new(CHECKPOINT, "proj_owner")])
//!     .seed([SeedPermission::new(CHECKPOINT, "proj_demo")])
//!     .start()
//!     .await?;
//! assert!(emulator.base_url().starts_with("http://127.0.0.1:"));
//! assert!(emulator.base_url().ends_with("/v1"));
//! // The next request is answered 429 with `retry-after-ms: 20`.
//! emulator.inject(Fault::Status { status: 429, retry_after_ms: Some(20), retry_after: None }, 1);
//! emulator.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # Behaviour where the official API documents nothing
//!
//! The crate's README has the whole table, with the wording of each refusal that
//! no public source shows (ours). In short:
//!
//! - Ids are checked by their types in `permissions-types`
//!   ([`CheckpointId`](permissions_types::CheckpointId),
//!   [`ProjectId`](permissions_types::ProjectId),
//!   [`PermissionId`](permissions_types::PermissionId)): a malformed one in the path,
//!   the query or the body is a 400 (`code: "invalid_value"`) naming its `param`
//!   (`fine_tuned_model_checkpoint`, `permission_id`, `after`, `project_id`,
//!   `project_ids[i]`), and the message is the type's (an `ftckpt_...` object id is
//!   told to pass the `ft:...` model id). The body is read before the path is
//!   judged, and an unknown body field before any project id.
//! - Without projects in the seeds, every well-formed checkpoint and project exists
//!   (an unknown checkpoint lists as empty). With projects ([`SeedProject`],
//!   [`EmulatorBuilder::projects`]) the seeds describe the whole organization: a
//!   checkpoint they do not list ([`SeedCheckpoint`]) is 404 `model_not_found` on
//!   every route, and a grant naming a project the organization does not have, or an
//!   archived one, is 400 (`param: "project_ids"`) and grants nothing.
//! - `GET /v1/organization/projects` lists the seeds' projects by `created_at`, ties
//!   in seed order; `limit` 1 to [`MAX_LIMIT`] (default [`DEFAULT_PROJECTS_LIMIT`]),
//!   `after` a project id (exclusive; unknown: 400 `invalid_cursor`),
//!   `include_archived` `true` or `false` (default). Without projects it is empty.
//! - Permissions are ordered by `created_at`, ties broken by creation order;
//!   descending is the exact reverse of ascending.
//! - `after` is exclusive. An `after` id that was deleted still works: the page
//!   continues from where that permission was. An `after` id never created on the
//!   checkpoint is a 400 (`param: "after"`, `code: "invalid_cursor"`).
//! - Granting a project that already holds a permission on the checkpoint creates no
//!   duplicate and is no error: the existing permission is returned (the request is
//!   idempotent). Repeated project ids in one request are granted once. A project
//!   whose permission was deleted gets a new permission, with a new id.
//! - `project_ids` holds 1 to [`MAX_PROJECT_IDS`] project ids; a body is at most
//!   [`MAX_BODY_BYTES`] bytes (413 beyond).
//! - Unknown query parameters are ignored; a known one given twice is a 400.
//! - A key is an admin key when it starts with the configured prefix (`sk-admin-` by
//!   default); any other well-formed key gets 403. With a key list
//!   ([`EmulatorBuilder::keys`], `--keys FILE`), only listed keys are known, and each
//!   needs the [`Scope`] of the operation (401 "Missing scopes: ..." otherwise).
//! - A checkpoint with a known owner ([`SeedCheckpoint`]) cannot be granted to that
//!   project: 400 "Cannot modify checkpoint permissions for the owning project".
//! - A request target over [`MAX_URI_BYTES`] is 414, more than [`MAX_HEADER_COUNT`]
//!   header fields or over [`MAX_HEADER_BYTES`] of them 431, with the envelope.
//!   Beyond hyper's own bounds, hyper's bare answer (no body) stands.
//! - With a [`RateLimit`] (`--rate-limit 8/60s`), each key's requests to each
//!   endpoint (or, with [`RateLimitScope::Key`], all of a key's requests) are
//!   counted in fixed windows, as the real admin API does: a 429 with
//!   the rate-limit envelope (`type: "requests"`, `code: "rate_limit_exceeded"`) and
//!   no headers, unless [`RateLimit::headers`] is set.

mod error;
mod faults;
mod http;
mod keys;
mod org;
mod rules;
mod seed;
mod state;
mod store;
mod throttle;

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use error::Error;
pub use faults::{Fault, FaultConfig};
pub use http::router;
pub use keys::{ApiKey, Scope, read_keys_file};
pub use rules::{
    DEFAULT_LIMIT, DEFAULT_PROJECTS_LIMIT, MAX_BODY_BYTES, MAX_HEADER_BYTES, MAX_HEADER_COUNT,
    MAX_LIMIT, MAX_PROJECT_IDS, MAX_URI_BYTES,
};
pub use seed::{Seed, SeedCheckpoint, SeedPermission, SeedProject, read_seed_file};
pub use state::EmulatorState;
pub use throttle::{EndpointCounters, RateLimit, RateLimitScope};

/// The admin key prefix used when none is configured.
pub const DEFAULT_ADMIN_KEY_PREFIX: &str = "sk-admin-";

/// Settings of an emulator, from [`Emulator::builder`].
#[derive(Clone, Debug)]
#[must_use]
pub struct EmulatorBuilder {
    admin_key_prefix: String,
    seed: Seed,
    seed_files: Vec<PathBuf>,
    keys: Option<Vec<ApiKey>>,
    keys_files: Vec<PathBuf>,
    database: Option<PathBuf>,
    faults: FaultConfig,
    rate_limit: Option<RateLimit>,
    listen: SocketAddr,
}

impl Default for EmulatorBuilder {
    fn default() -> Self {
        Self {
            admin_key_prefix: DEFAULT_ADMIN_KEY_PREFIX.to_owned(),
            seed: Seed::default(),
            seed_files: Vec::new(),
            keys: None,
            keys_files: Vec::new(),
            database: None,
            faults: FaultConfig::default(),
            rate_limit: None,
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
        }
    }
}

impl EmulatorBuilder {
    /// Keys starting with `prefix` are admin keys; other keys get 403.
    pub fn admin_key_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.admin_key_prefix = prefix.into();
        self
    }

    /// Adds the projects, checkpoints and permissions of a seed file (see [`Seed`]
    /// for the format), read when the emulator starts, after those given to
    /// [`Self::projects`], [`Self::checkpoints`] and [`Self::seed`].
    pub fn seed_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.seed_files.push(path.into());
        self
    }

    /// Adds permissions to start from.
    pub fn seed(mut self, seeds: impl IntoIterator<Item = SeedPermission>) -> Self {
        self.seed.permissions.extend(seeds);
        self
    }

    /// Gives checkpoints their owning projects, which can then be granted nothing
    /// on them (400, as the real API). With [`Self::projects`], these are the only
    /// checkpoints that exist.
    pub fn checkpoints(mut self, checkpoints: impl IntoIterator<Item = SeedCheckpoint>) -> Self {
        self.seed.checkpoints.extend(checkpoints);
        self
    }

    /// Adds projects of the organization, which `GET /v1/organization/projects`
    /// lists. Given any, they describe the whole organization: a grant naming
    /// another project or an archived one is refused (400, `param: project_ids`),
    /// and only the checkpoints given to [`Self::checkpoints`] (or a seed file)
    /// exist; any other is 404 on every route.
    pub fn projects(mut self, projects: impl IntoIterator<Item = SeedProject>) -> Self {
        self.seed.projects.extend(projects);
        self
    }

    /// Accepts only these keys, each with its [`Scope`]s: [`Scope::Read`] lists
    /// permissions, [`Scope::Write`] creates and deletes them,
    /// [`Scope::ProjectsRead`] lists projects; a known key without the scope gets
    /// 401 "Missing scopes: ...", an unknown one 401 `invalid_api_key`. Without it
    /// (the default), any admin key has every scope. Keys must still start with the
    /// admin prefix.
    pub fn keys(mut self, keys: impl IntoIterator<Item = ApiKey>) -> Self {
        self.keys.get_or_insert_with(Vec::new).extend(keys);
        self
    }

    /// Adds the keys of a key file (see [`read_keys_file`]), read when the emulator
    /// starts; as [`Self::keys`].
    pub fn keys_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.keys_files.push(path.into());
        self
    }

    /// Keeps the permissions in the SQLite file at `path` (created when missing)
    /// instead of in memory.
    pub fn database(mut self, path: impl Into<PathBuf>) -> Self {
        self.database = Some(path.into());
        self
    }

    /// Switches on random faults.
    pub fn faults(mut self, faults: FaultConfig) -> Self {
        self.faults = faults;
        self
    }

    /// Throttles every key's requests to each endpoint as the real admin API does
    /// (see [`RateLimit`]); off by default.
    pub fn rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// The address to listen on; `127.0.0.1:0` (a free port) by default.
    pub fn listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Opens the store, applies the seeds and returns the state, without listening:
    /// for serving [`router`] yourself. Blocks while the database and seed files are
    /// read.
    pub fn build_state(self) -> Result<EmulatorState, Error> {
        // Everything that can refuse the start is checked before the store is
        // opened, so that a refused start leaves a database as it was.
        let mut seed = self.seed;
        for path in &self.seed_files {
            let file = read_seed_file(path)?;
            seed.projects.extend(file.projects);
            seed.checkpoints.extend(file.checkpoints);
            seed.permissions.extend(file.permissions);
        }
        let seed::Checked {
            organization,
            imports,
        } = seed.check().map_err(Error::Seed)?;
        let mut keys = self.keys;
        for path in &self.keys_files {
            keys.get_or_insert_with(Vec::new)
                .extend(read_keys_file(path)?);
        }
        let keys = match keys {
            Some(keys) => keys::Keys::only(keys)?,
            None => keys::Keys::default(),
        };
        let faults = faults::Faults::new(self.faults)?;
        let store = match &self.database {
            Some(path) => store::Store::open(path)?,
            None => store::Store::memory(),
        };
        if !imports.is_empty() {
            let added = store.import(&imports)?;
            tracing::info!(added, given = imports.len(), "seeded permissions");
        }
        Ok(EmulatorState(Arc::new(state::Shared {
            store,
            faults,
            admin_key_prefix: self.admin_key_prefix,
            keys,
            org: organization,
            requests: AtomicU64::new(0),
            throttle: throttle::Throttle::new(self.rate_limit),
        })))
    }

    /// Builds the state, binds the listening address and serves in a background task
    /// of the current Tokio runtime.
    pub async fn start(self) -> Result<Emulator, Error> {
        let listen = self.listen;
        let state = tokio::task::spawn_blocking(move || self.build_state())
            .await
            .map_err(|e| Error::Config(format!("startup task failed: {e}")))??;
        let listener = tokio::net::TcpListener::bind(listen).await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = oneshot::channel::<()>();
        let app = router(state.clone());
        let task = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async move {
                    // A dropped sender is a request to stop, too.
                    let _ = stopped.await;
                })
                .await
        });
        tracing::info!(%addr, persistent = state.is_persistent(), "emulator listening");
        Ok(Emulator {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        })
    }
}

/// A running emulator; stops when [`Emulator::shutdown`] is awaited or when dropped.
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    state: EmulatorState,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
}

impl Emulator {
    /// Settings for a new emulator: in memory, no seeds, no faults, on `127.0.0.1:0`.
    pub fn builder() -> EmulatorBuilder {
        EmulatorBuilder::default()
    }

    /// The address the emulator listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The API base URL, such as `http://127.0.0.1:41234/v1` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}/v1", self.addr)
    }

    /// Scripts `fault` for the next `times` requests, in order, after faults already
    /// scripted; scripted faults come before random ones.
    pub fn inject(&self, fault: Fault, times: usize) {
        self.state.inject(fault, times);
    }

    /// How many HTTP requests reached the emulator, faulted ones included.
    pub fn request_count(&self) -> u64 {
        self.state.request_count()
    }

    /// Requests and 429 answers per endpoint; see [`EmulatorState::endpoint_counters`].
    pub fn endpoint_counters(&self) -> Vec<EndpointCounters> {
        self.state.endpoint_counters()
    }

    /// The emulator's state (also what [`router`] serves).
    pub fn state(&self) -> &EmulatorState {
        &self.state
    }

    /// Stops accepting connections, lets requests in flight finish, and waits until
    /// the server has stopped (and a database is closed).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            match task.await {
                Ok(Ok(())) => tracing::info!(addr = %self.addr, "emulator stopped"),
                Ok(Err(error)) => tracing::error!(%error, "emulator stopped with an error"),
                Err(error) => tracing::error!(%error, "emulator task failed"),
            }
        }
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
