//! `create`: grants a checkpoint to projects, in batches.
//!
//! The projects are the `--project-id` flags, and standard input (see
//! [`input`](crate::input)) when no flag is given and standard input is not a
//! terminal, or when a flag is `-`; repeats are granted once. Ids are sent in
//! batches of `--batch-size` (default 100, the API's maximum per request) with
//! `--concurrency` requests in flight (default 4, at most 16), answers kept in
//! input order. `jsonl`, `table` and `raw` print each batch when it is answered;
//! `json`, `pretty` and `yaml` print one list object with every grant. Standard
//! error gets `granted N project(s) ...`; after a failed batch, how many were
//! granted before it, and the error (exit 1).

use std::cell::{Cell, RefCell};
use std::io::{self, BufWriter, IsTerminal};

use futures::{StreamExt, TryStreamExt};
use permissions_api::permissions_types::{CheckpointId, PermissionList, ProjectId};
use tracing::debug;

use crate::args::{checkpoint, missing};
use crate::cli::CreateArgs;
use crate::context::{Context, log_response};
use crate::failure::{Failure, conclude};
use crate::input;
use crate::output::{Format, write_page};
use crate::progress::{Tally, drive};

/// What `create` does.
pub(crate) struct CreateJob {
    checkpoint: CheckpointId,
    project_ids: Vec<ProjectId>,
    batch_size: usize,
    concurrency: usize,
}

/// The project ids of `create`: the `--project-id` flags, and standard input when
/// a flag is `-` or when there is no flag and standard input is not a terminal.
pub(crate) fn parse(args: CreateArgs) -> Result<CreateJob, Failure> {
    let checkpoint = checkpoint("create", args.positional, args.checkpoint)?;
    let stdin = io::stdin();
    let read_stdin = args.project_ids.iter().any(|id| id == "-")
        || (args.project_ids.is_empty() && !stdin.is_terminal());
    let mut ids: Vec<ProjectId> = args
        .project_ids
        .into_iter()
        .filter(|id| id != "-")
        .map(|id| ProjectId::parse(id).map_err(|e| Failure::invalid_id("--project-id", e)))
        .collect::<Result<_, _>>()?;
    if ids.is_empty() && !read_stdin {
        return Err(missing(
            "create",
            "--project-id <PROJECT_ID> (repeatable), or project ids on standard input",
        ));
    }
    if read_stdin {
        let from_stdin = input::read_project_ids(stdin.lock())
            .map_err(|e| Failure::Usage(format!("standard input: {e}")))?;
        if from_stdin.is_empty() && ids.is_empty() {
            return Err(Failure::Usage(
                "standard input holds no project ids (one per line, or a JSON array of strings)"
                    .into(),
            ));
        }
        ids.extend(from_stdin);
    }
    Ok(CreateJob {
        checkpoint,
        project_ids: input::dedup(ids),
        batch_size: args.batch_size as usize,
        concurrency: args.concurrency as usize,
    })
}

/// Grants in batches, a bounded number in flight, and says what was done.
pub(crate) async fn run(ctx: &Context, job: CreateJob) -> Result<(), Failure> {
    let CreateJob {
        checkpoint,
        project_ids,
        batch_size,
        concurrency,
    } = job;
    let total = project_ids.len();
    let batches: Vec<Vec<ProjectId>> = project_ids
        .chunks(batch_size.max(1))
        .map(<[ProjectId]>::to_vec)
        .collect();
    let requests = batches.len();
    let tally = Tally::new("projects granted", Some(total as u64));
    let progress = ctx.progress();
    // Streamed formats print each batch as it is answered; documents gather
    // the batches into one page, printed however the job ends.
    let streamed = matches!(ctx.format, Format::Table | Format::Jsonl | Format::Raw);
    let writer = RefCell::new(ctx.item_writer());
    let gathered = RefCell::new(Vec::new());
    let confirmed = Cell::new(0usize);
    let permissions = ctx.permissions();
    let checkpoint_ref = &checkpoint;
    let job = async {
        let mut results = futures::stream::iter(batches)
            .map(|batch| async move {
                debug!(body = %serde_json::json!({ "project_ids": &batch }), "request body");
                let count = batch.len();
                permissions
                    .create(checkpoint_ref, batch)
                    .await
                    .map(|page| (count, page))
            })
            .buffered(concurrency.max(1));
        while let Some((count, page)) = results.try_next().await.map_err(Failure::Request)? {
            log_response(&ctx.client, &*page);
            confirmed.set(confirmed.get() + count);
            tally.add(page.data.len() as u64);
            if streamed {
                progress.clear();
                writer.borrow_mut().page(&*page)?;
            } else {
                gathered.borrow_mut().extend(page.into_inner().data);
            }
        }
        Ok::<(), Failure>(())
    };
    let mut outcome = drive(job, &progress, &tally).await;
    let gathered = gathered.into_inner();
    let finished = matches!(outcome, Ok(Ok(())));
    let written = if streamed {
        writer.into_inner().finish().map(drop)
    } else if finished || !gathered.is_empty() {
        write_page(
            BufWriter::new(io::stdout()),
            ctx.format,
            ctx.transform.as_ref(),
            &PermissionList::new(gathered, false),
        )
        .map(drop)
    } else {
        Ok(())
    };
    // Output that could not be written is a failure too, said with the rest.
    if let (Ok(Ok(())), Err(error)) = (&outcome, written) {
        outcome = Ok(Err(error.into()));
    }
    let granted = tally.done();
    if matches!(outcome, Ok(Ok(()))) {
        eprintln!("granted {granted} project(s) access to {checkpoint} ({requests} request(s))");
    }
    conclude(outcome, |what| {
        eprintln!(
            "{what}: granted {granted} of {total} project(s); {} project id(s) were not \
             confirmed",
            total - confirmed.get()
        );
    })
}
