//! Declarative sharing of OpenAI fine-tuned checkpoints: "these checkpoints are
//! shared with exactly these projects", kept in a file under review, planned
//! against the API, applied safely, and checked for drift.
//!
//! ```no_run
//! use permissions_sharing::{
//!     SharingFile, apply_all, plan, read_organization, read_state, resolve_against,
//! };
//!
//! # async fn demo(client: permissions_api::Client) -> Result<(), Box<dyn std::error::Error>> {
//! let file = SharingFile::read("sharing.yaml".as_ref())?;
//! let organization = read_organization(&client.organization().projects()).await?;
//! let permissions = client.fine_tuning().checkpoints().permissions();
//! let current = read_state(&permissions, file.checkpoints().map(|(c, _)| c)).await?;
//! let resolution = resolve_against(&file, &organization, &current)?;
//! for warning in &resolution.warnings {
//!     eprintln!("warning: {warning}");
//! }
//! let changes = plan(&resolution.desired, &current, false);
//! println!("{} requests to apply", changes.totals().requests);
//! let report = apply_all(permissions, &changes, 4).await;
//! assert!(report.is_complete(), "{:?}", report.error);
//! # Ok(())
//! # }
//! ```
//!
//! 1. [`SharingFile`] parses and checks the file ([`file`](mod@file) has the format):
//!    projects by id, by name, or both.
//! 2. [`read_organization`] reads the organization's projects once (pages of
//!    100), and [`read_state`] what the API holds for the checkpoints the file
//!    names, in pages of 100 (checkpoints absent from the file are never read or
//!    touched).
//! 3. [`resolve_against`] turns every name into the one project it names and
//!    checks every id, refusing, with the key path and line of each entry, what
//!    the API would refuse (an unknown project, an archived one that does not
//!    hold access already) and a name that names none or several: before
//!    anything is written. ([`resolve`] judges without the state: every archived
//!    project is refused, and a bad file is refused before any checkpoint is
//!    read.)
//! 4. [`plan`] computes the changes, a pure function of (desired, current): the
//!    projects to grant and, only with `prune`, the permissions to revoke, each
//!    with the project's name.
//! 5. [`apply`] / [`apply_all`] send them: grants in batches of 100, revokes one
//!    request each, a bounded number in flight, all through the client's pacing
//!    and patient retries. A revoke answered 404 counts as done. A failed or
//!    interrupted apply says what was not done; planning again and applying
//!    finishes the rest, and an apply with nothing to do sends nothing.
//!
//! This crate sits on top of `permissions-api` rather than inside it: it needs a
//! YAML parser, which users of the client alone should not have to build, and it
//! uses only the client's public API.

mod apply;
pub mod file;
mod organization;
mod plan;
mod resolve;
mod state;

pub use apply::{
    Done, Ledger, READ_PAGE, Report, Step, StepError, apply, apply_all, read_organization,
    read_state,
};
pub use file::{Entry, FileError, Place, ProjectRef, SharingFile};
pub use organization::{Directory, Organization};
pub use plan::{CheckpointPlan, GRANT_BATCH, Grant, Plan, Revoke, Totals, plan};
pub use resolve::{
    Desired, Refusal, RefusalReason, Refused, Resolution, Warning, resolve, resolve_against,
};
pub use state::State;
