//! Rust client for the OpenAI fine-tuned checkpoint permissions API.
//!
//! Organization owners share a fine-tuned model checkpoint with other projects by
//! creating permissions on it.
//!
//! ```no_run
//! use futures::TryStreamExt;
//! use permissions_api::{Client, ListParams};
//!
//! # async fn example() -> permissions_api::Result<()> {
//! // OPENAI_ADMIN_KEY (or OPENAI_API_KEY), OPENAI_BASE_URL, OPENAI_ORG_ID, OPENAI_PROJECT_ID.
//! let client = Client::from_env()?;
//! let permissions = client.fine_tuning().checkpoints().permissions();
//! let checkpoint = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";
//!
//! let granted = permissions.create(checkpoint, ["proj_abGMw1llN8IrBb6SvvY5A1iH"]).await?;
//! let mut all = permissions.list(checkpoint, ListParams::new().limit(100));
//! while let Some(permission) = all.try_next().await? {
//!     println!("{} -> {}", permission.id, permission.project_id);
//! }
//! permissions.delete(checkpoint, &granted.data[0].id).await?;
//! # Ok(())
//! # }
//! ```
//!
//! This crate offers the official SDKs' four methods, with their semantics, on the
//! same path as in the SDKs (`client.fine_tuning.checkpoints.permissions`):
//!
//! | method | HTTP | returns |
//! | --- | --- | --- |
//! | [`list`](Permissions::list) | `GET .../permissions` (every page) | a [`Stream`](futures::Stream) of permissions |
//! | [`retrieve`](Permissions::retrieve) (deprecated) | `GET .../permissions` | one page |
//! | [`create`](Permissions::create) | `POST .../permissions` | the new permissions |
//! | [`delete`](Permissions::delete) | `DELETE .../permissions/{id}` | the deletion status |
//!
//! and, to check and name the projects a checkpoint is shared with,
//! [`client.organization().projects().list(params)`](Projects::list)
//! (`GET /organization/projects`, every page), paced and retried the same way.
//!
//! Ids are given as text or as the checked id types of [`permissions_types::ids`]
//! ([`CheckpointId`](permissions_types::CheckpointId),
//! [`ProjectId`](permissions_types::ProjectId),
//! [`PermissionId`](permissions_types::PermissionId)); a malformed one is refused
//! before anything is sent ([`Error::InvalidId`], naming the argument).
//!
//! `list` yields the permissions themselves; every other call (and each page of
//! `list_pages`) returns an [`ApiResponse`]: the decoded value (it dereferences to
//! it) with the status, the headers and the `x-request-id`.
//!
//! # Behaviour
//!
//! - **Configuration**: [`Client::builder`] or [`Client::from_env`]; defaults as in
//!   the SDKs: base URL `https://api.openai.com/v1`, 600 s per request, 5 s to
//!   connect, 2 retries. A missing key or a bad base URL fails at `build()`.
//! - **Pagination**: the next request repeats the parameters with
//!   `after = last_id`, and stops when `has_more` is false, `data` is empty or
//!   `last_id` is missing. A server whose cursors come back (the one it was given, or
//!   any cycle of them) yields [`Error::RepeatedCursor`] instead of looping; [`ListParams::max_items`] caps the
//!   total. One page at a time is held in memory.
//! - **Rate limits** ([`Pacing`]): the admin endpoints allow only a few requests a
//!   minute (what is known of their throttle: the `pacing` module's docs,
//!   `src/pacing/mod.rs`). One pacer, shared by every clone of a client, paces
//!   each budget (per endpoint, or for the whole key once the answers show that
//!   the endpoints share one: [`BudgetScope`]) at a limit that is
//!   configured (`OPENAI_ADMIN_MAX_RPM`, `OPENAI_ADMIN_BURST`,
//!   [`ClientBuilder::max_rpm`]) or learned from the 429s it meets, so that others
//!   spending part of the budget, or random 429s that say when to retry, do not
//!   fool it. After a 429 the budget's requests wait together and one goes first;
//!   a 429 is retried for [`RetryPolicy::rate_limit_budget`] (5 minutes by
//!   default), not a number of times. [`ClientBuilder::pacing_state_dir`] shares
//!   the pacer's state with other processes using the same key.
//!   [`Client::pacing_status`] says what it is doing, for progress displays.
//! - **Retries** ([`RetryPolicy`]) of everything else follow the official SDKs:
//!   connection errors, timeouts, 408, 409 and 5xx, overridden by
//!   `x-should-retry`; waits `retry-after-ms` or `retry-after` (up to 60 s), else
//!   `min(0.5 * 2^n, 8)` s with jitter. Every retry and every wait is logged with
//!   `tracing`; a request whose future is dropped stops waiting at once.
//! - **Errors**: one [`Error`]; server errors carry a [`StatusKind`], the envelope's
//!   fields and the `x-request-id`. Bodies that are not the API's envelope (a plain
//!   string, HTML) still give a message and keep their status.
//! - **Security**: the key is sent only to the base URL, is never in `Debug` output,
//!   logs or errors, and a redirect out of the base URL (to another path of
//!   the same host too) is not followed: its 3xx is the answer. A server
//!   that echoes it back (in any field of an error body, in a body that is not
//!   JSON, in a header) does not change that: every text kept from a response for
//!   an error or a log goes through a redactor that masks any run of 8 or more of
//!   the key's characters, and any other `sk-...` token. The `Debug` output of an
//!   [`ApiResponse`] names its headers without their values.
//!
//! # Stability
//!
//! Semver covers the hand-written layer: [`Client`], [`ClientBuilder`], the four
//! methods of [`Permissions`], [`ListParams`], [`ApiResponse`], the streams, the
//! errors, [`RetryPolicy`] and [`Pacing`]. Its structs and enums are
//! `#[non_exhaustive]` (build them with their constructors and builders, match
//! them with a wildcard arm), and so are the wire types of [`permissions_types`],
//! so that a field or a value the API adds arrives in a minor release.
//! [`generated`] and [`Transport`] follow the OpenAPI fragment and progenitor: a
//! spec change can change them, and each release's `cargo xtask semver` verdict
//! says whether it did so compatibly.
//!
//! # Layers
//!
//! The wire layer, [`generated`], is generated at build time by progenitor from
//! the workspace's OpenAPI fragment (`openapi.yaml` in this package); it is never
//! edited by hand. Retries, credentials and error bodies are added to it through
//! progenitor's hooks ([`Transport`]). This module's [`Client`] is the layer on top.

mod client;
mod config;
mod error;
mod pacing;
mod pagination;
mod permissions;
mod projects;
mod redact;
mod response;
mod retry;
mod signals;
mod transport;

/// The client progenitor generates from the spec: one builder per operation.
///
/// Use it for what the hand-written [`Client`] does not wrap; build it with a
/// [`Transport`]: `generated::Client::new_with_client(url, http, transport)`, with
/// a reqwest client of your own timeouts (`generated::Client::new` gives it
/// progenitor's default of 15 s; [`ClientBuilder`]'s timeouts are the client
/// layer's, and the only ones it uses).
pub mod generated {
    #![allow(
        missing_docs,
        unused_imports,
        unreachable_pub,
        clippy::all,
        clippy::pedantic,
        clippy::nursery,
        rustdoc::all
    )]
    include!(concat!(env!("OUT_DIR"), "/generated.rs"));
}

pub use client::Client;
pub use config::{
    ApiKey, ClientBuilder, DEFAULT_BASE_URL, DEFAULT_CONNECT_TIMEOUT, DEFAULT_TIMEOUT, USER_AGENT,
    env,
};
pub use error::{ConfigError, Error, RequestInfo, Result, StatusError, StatusKind};
pub use pacing::store::default_dir as default_pacing_state_dir;
pub use pacing::{BudgetScope, Pacing, PacingStatus, SAFETY_MARGIN};
pub use pagination::{ItemStream, Page, PageStream, PermissionStream, ProjectStream};
pub use permissions::{Checkpoints, FineTuning, ListParams, Permissions, RETRIEVE_DEPRECATION};
pub use permissions_types;
pub use projects::{Organization, ProjectListParams, Projects};
pub use redact::redact_keys;
pub use response::ApiResponse;
pub use retry::{DEFAULT_RATE_LIMIT_BUDGET, RetryPolicy};
pub use transport::Transport;
