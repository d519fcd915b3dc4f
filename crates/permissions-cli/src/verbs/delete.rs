//! `delete`: revokes permissions, one request each, a bounded number in flight.

use std::cell::RefCell;
use std::collections::HashSet;
use std::io::{self, BufWriter};

use futures::{StreamExt, TryStreamExt};
use permissions_api::permissions_types::{CheckpointId, PermissionId};

use crate::args::{CHECKPOINT_FLAG, checkpoint_id, missing};
use crate::cli::DeleteArgs;
use crate::context::{Context, log_response};
use crate::failure::{Failure, conclude};
use crate::input;
use crate::output::write_deleted;
use crate::progress::{Tally, drive};

/// What `delete` does.
pub(crate) struct DeleteJob {
    checkpoint: CheckpointId,
    permission_ids: Vec<PermissionId>,
    concurrency: usize,
}

/// The permission ids of `delete`: after the checkpoint (flag or first
/// positional), the `--permission-id` flags and the other positionals; `-` reads
/// standard input too.
pub(crate) fn parse(args: DeleteArgs) -> Result<DeleteJob, Failure> {
    let mut positional = args.positional.into_iter();
    let checkpoint = match args.checkpoint.fine_tuned_model_checkpoint {
        Some(checkpoint) => checkpoint,
        None => positional
            .next()
            .ok_or_else(|| missing("delete", CHECKPOINT_FLAG))?,
    };
    let checkpoint = checkpoint_id(checkpoint)?;
    let given: Vec<String> = args.permission_id.into_iter().chain(positional).collect();
    let read_stdin = given.iter().any(|id| id == "-");
    let mut ids: Vec<PermissionId> = given
        .into_iter()
        .filter(|id| id != "-")
        .map(|id| PermissionId::parse(id).map_err(|e| Failure::invalid_id("permission id", e)))
        .collect::<Result<_, _>>()?;
    if read_stdin {
        let from_stdin = input::read_ids(io::stdin().lock())
            .map_err(|e| Failure::Usage(format!("standard input: {e}")))?;
        ids.extend(from_stdin);
    }
    if ids.is_empty() {
        return Err(missing(
            "delete",
            "--permission-id <PERMISSION_ID> (or give it as a positional argument, or - to read ids from standard input)",
        ));
    }
    Ok(DeleteJob {
        checkpoint,
        permission_ids: input::dedup(ids),
        concurrency: args.concurrency as usize,
    })
}

/// Revokes each permission and says which were not.
pub(crate) async fn run(ctx: &Context, job: DeleteJob) -> Result<(), Failure> {
    let DeleteJob {
        checkpoint,
        permission_ids,
        concurrency,
    } = job;
    let total = permission_ids.len();
    let tally = Tally::new("permissions revoked", Some(total as u64));
    let progress = ctx.progress();
    let revoked = RefCell::new(HashSet::new());
    let permissions = ctx.permissions();
    let checkpoint_ref = &checkpoint;
    let job = async {
        let mut results = futures::stream::iter(permission_ids.iter())
            .map(|id| async move {
                permissions
                    .delete(checkpoint_ref, id)
                    .await
                    .map(|response| (id, response))
            })
            .buffered(concurrency.max(1));
        while let Some((id, response)) = results.try_next().await.map_err(Failure::Request)? {
            log_response(&ctx.client, &*response);
            // Revoked, whether or not it can be said on standard output.
            revoked.borrow_mut().insert(id);
            tally.add(1);
            progress.clear();
            write_deleted(
                BufWriter::new(io::stdout()),
                ctx.format,
                ctx.transform.as_ref(),
                &response,
            )?;
        }
        Ok::<(), Failure>(())
    };
    let outcome = drive(job, &progress, &tally).await;
    let revoked = revoked.into_inner();
    let unfinished = |what: &str| {
        let left: Vec<&str> = permission_ids
            .iter()
            .filter(|id| !revoked.contains(id))
            .map(PermissionId::as_str)
            .collect();
        eprintln!(
            "{what}: revoked {} of {total} permission(s); not revoked: {}",
            revoked.len(),
            left.join(" ")
        );
    };
    // The error of a single delete says it all (a closed output does not).
    if total == 1 && matches!(outcome, Ok(Err(Failure::Request(_)))) {
        return outcome.unwrap_or(Ok(()));
    }
    conclude(outcome, unfinished)
}
