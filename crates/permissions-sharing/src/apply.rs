//! Talking to the API: reading the state of the named checkpoints, and applying a
//! plan. Both go through one [`Permissions`] handle, so they share its client's
//! pacing and patient retries ([`permissions_api::Pacing`]): the admin endpoints
//! allow only a few requests a minute.

use std::fmt;

use futures::{Stream, StreamExt, TryStreamExt};
use permissions_api::permissions_types::CheckpointId;
use permissions_api::{Error, ListParams, Permissions, ProjectListParams, Projects, StatusKind};

use crate::organization::{Directory, Organization};
use crate::plan::{GRANT_BATCH, Plan, Revoke};
use crate::state::State;

/// Items per list request when reading the state or the organization: the API's
/// maximum.
pub const READ_PAGE: u32 = 100;

/// Reads the organization's projects, archived ones included, in pages of
/// [`READ_PAGE`]: `ceil(n / 100)` requests for `n` projects.
///
/// A key that may not list them (401, 403) gives [`Organization::Unlisted`] with
/// the API's message: a file of ids can still be planned, unchecked. So does an
/// empty list: every organization has a project (its default one), so a server
/// that lists none does not know the organization (an emulator seeded without
/// projects). Any other failure is an error.
pub async fn read_organization(projects: &Projects<'_>) -> Result<Organization, Error> {
    let params = ProjectListParams::new()
        .limit(READ_PAGE)
        .include_archived(true);
    match projects.list(params).try_collect::<Vec<_>>().await {
        Ok(listed) if listed.is_empty() => Ok(Organization::Unlisted {
            reason: "the server lists no project".into(),
        }),
        Ok(listed) => Ok(Organization::Listed(Directory::new(listed))),
        Err(Error::Status(status))
            if matches!(
                status.kind(),
                StatusKind::Authentication | StatusKind::PermissionDenied
            ) =>
        {
            Ok(Organization::Unlisted {
                reason: format!("{} {}", status.status, status.message),
            })
        }
        Err(error) => Err(error),
    }
}

/// Reads every permission of `checkpoints`, in pages of [`READ_PAGE`].
///
/// Spends `ceil(n / 100)` list requests for a checkpoint of `n` permissions, and
/// one for an empty one.
pub async fn read_state<'c>(
    permissions: &Permissions<'_>,
    checkpoints: impl IntoIterator<Item = &'c CheckpointId>,
) -> Result<State, Error> {
    let mut state = State::new();
    for checkpoint in checkpoints {
        state.add_checkpoint(checkpoint.as_str());
        let mut listed = permissions.list(checkpoint, ListParams::new().limit(READ_PAGE));
        while let Some(permission) = listed.try_next().await? {
            state.add(checkpoint.as_str(), permission.project_id, permission.id);
        }
    }
    Ok(state)
}

/// One request of an apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Grant `checkpoint` to these projects (at most [`GRANT_BATCH`]).
    Grant {
        /// The checkpoint.
        checkpoint: String,
        /// The projects of this request.
        project_ids: Vec<String>,
    },
    /// Revoke one permission of `checkpoint`.
    Revoke {
        /// The checkpoint.
        checkpoint: String,
        /// What to revoke.
        revoke: Revoke,
    },
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Grant {
                checkpoint,
                project_ids,
            } => write!(
                f,
                "grant {checkpoint} to {} project(s) ({}{})",
                project_ids.len(),
                project_ids.first().map_or("", String::as_str),
                if project_ids.len() > 1 { ", ..." } else { "" }
            ),
            Self::Revoke { checkpoint, revoke } => write!(
                f,
                "revoke {} ({}) on {checkpoint}",
                revoke.permission_id, revoke.project_id
            ),
        }
    }
}

impl Plan {
    /// The requests of this plan: for each checkpoint its grants, in batches of
    /// [`GRANT_BATCH`], then its revokes (so that nobody loses access midway to a
    /// checkpoint the file still shares with them).
    pub fn steps(&self) -> Vec<Step> {
        let mut steps = Vec::new();
        for part in &self.checkpoints {
            for batch in part.grant.chunks(GRANT_BATCH) {
                steps.push(Step::Grant {
                    checkpoint: part.checkpoint.clone(),
                    project_ids: batch.iter().map(|g| g.project_id.clone()).collect(),
                });
            }
            for revoke in &part.revoke {
                steps.push(Step::Revoke {
                    checkpoint: part.checkpoint.clone(),
                    revoke: revoke.clone(),
                });
            }
        }
        steps
    }
}

/// What a step did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Done {
    /// The projects now have access.
    Granted {
        /// How many.
        projects: usize,
    },
    /// The permission is gone.
    Revoked {
        /// It was gone already (404): someone else revoked it, or an earlier try
        /// of this request did.
        already: bool,
    },
}

/// Why a step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StepError {
    /// The API refused or could not be reached (after the client's retries).
    #[error("{step}: {source}")]
    Api {
        /// The step.
        step: Step,
        /// The client's error.
        #[source]
        source: Error,
    },
    /// The API answered a grant without some of its projects.
    #[error("{step}: the answer does not list {missing:?}")]
    NotGranted {
        /// The step.
        step: Step,
        /// The projects missing from the answer.
        missing: Vec<String>,
    },
}

/// Applies `steps`, `concurrency` requests at a time (all through the client's
/// pacing); yields each step's index in `steps` with its outcome, as they finish.
/// Stop reading (drop the stream) to stop: requests in flight are cancelled.
pub fn apply<'a>(
    permissions: Permissions<'a>,
    steps: &'a [Step],
    concurrency: usize,
) -> impl Stream<Item = (usize, Result<Done, StepError>)> + 'a {
    futures::stream::iter(steps.iter().enumerate())
        .map(move |(index, step)| async move { (index, run(&permissions, step).await) })
        .buffer_unordered(concurrency.max(1))
}

async fn run(permissions: &Permissions<'_>, step: &Step) -> Result<Done, StepError> {
    let api = |source| StepError::Api {
        step: step.clone(),
        source,
    };
    match step {
        Step::Grant {
            checkpoint,
            project_ids,
        } => {
            let granted = permissions
                .create(checkpoint, project_ids.iter().map(String::as_str))
                .await
                .map_err(api)?;
            let missing: Vec<String> = project_ids
                .iter()
                .filter(|p| !granted.data.iter().any(|g| &g.project_id == *p))
                .cloned()
                .collect();
            if missing.is_empty() {
                Ok(Done::Granted {
                    projects: project_ids.len(),
                })
            } else {
                Err(StepError::NotGranted {
                    step: step.clone(),
                    missing,
                })
            }
        }
        Step::Revoke { checkpoint, revoke } => {
            match permissions.delete(checkpoint, &revoke.permission_id).await {
                Ok(_) => Ok(Done::Revoked { already: false }),
                Err(error) if error.kind() == Some(StatusKind::NotFound) => {
                    Ok(Done::Revoked { already: true })
                }
                Err(error) => Err(api(error)),
            }
        }
    }
}

/// What [`apply_all`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct Report {
    /// Projects granted.
    pub granted: usize,
    /// Permissions revoked, those already gone included.
    pub revoked: usize,
    /// Of which already gone (404).
    pub already_revoked: usize,
    /// Steps that were not confirmed: not sent, cancelled, or failed.
    pub not_done: Vec<Step>,
    /// The first failure, if any; the apply stopped there.
    pub error: Option<StepError>,
}

impl Report {
    /// Whether every step was confirmed: the checkpoints now match the file.
    pub fn is_complete(&self) -> bool {
        self.error.is_none() && self.not_done.is_empty()
    }
}

/// The account of an apply while its steps finish, for callers that read the
/// stream of [`apply`] themselves (to show progress, or to stop on Ctrl-C) and
/// still want the [`Report`] that [`apply_all`] gives.
#[derive(Debug)]
pub struct Ledger {
    confirmed: Vec<bool>,
    report: Report,
}

impl Ledger {
    /// An account of `steps`, none of them done.
    pub fn new(steps: &[Step]) -> Self {
        Self {
            confirmed: vec![false; steps.len()],
            report: Report::default(),
        }
    }

    /// Records the outcome of step `index`; returns `false` when it failed, and
    /// the apply should stop there.
    pub fn record(&mut self, index: usize, outcome: Result<Done, StepError>) -> bool {
        match outcome {
            Ok(done) => {
                if let Some(confirmed) = self.confirmed.get_mut(index) {
                    *confirmed = true;
                }
                match done {
                    Done::Granted { projects } => self.report.granted += projects,
                    Done::Revoked { already } => {
                        self.report.revoked += 1;
                        self.report.already_revoked += usize::from(already);
                    }
                }
                true
            }
            Err(error) => {
                self.report.error = Some(error);
                false
            }
        }
    }

    /// The report, with every step of `steps` that was not confirmed (not sent,
    /// cancelled, or failed) in `not_done`.
    pub fn finish(self, steps: &[Step]) -> Report {
        let mut report = self.report;
        report.not_done = steps
            .iter()
            .zip(self.confirmed)
            .filter(|(_, confirmed)| !confirmed)
            .map(|(step, _)| step.clone())
            .collect();
        report
    }
}

/// Applies `plan` and stops at the first failure; the report says what was done
/// and what was not. Running it again with a fresh plan finishes the rest.
pub async fn apply_all(permissions: Permissions<'_>, plan: &Plan, concurrency: usize) -> Report {
    let steps = plan.steps();
    let mut ledger = Ledger::new(&steps);
    {
        let mut outcomes = std::pin::pin!(apply(permissions, &steps, concurrency));
        while let Some((index, outcome)) = outcomes.next().await {
            if !ledger.record(index, outcome) {
                break;
            }
        }
    }
    ledger.finish(&steps)
}
