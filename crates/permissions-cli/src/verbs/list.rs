//! `list`: every permission of a checkpoint, page after page.

use std::cell::RefCell;

use futures::StreamExt;
use permissions_api::ListParams;
use permissions_api::permissions_types::CheckpointId;

use crate::args::{checkpoint, list_params};
use crate::cli::ListArgs;
use crate::context::{Context, log_response};
use crate::failure::{Failure, conclude};
use crate::progress::{Tally, drive};

/// What `list` does: the checkpoint and the parameters, `max_items` included.
pub(crate) struct ListJob {
    checkpoint: CheckpointId,
    params: ListParams,
}

/// Pages `list` asks for unless `--limit` is given: the API's maximum, so that a
/// listing spends the fewest requests of the throttled endpoint.
const LIST_PAGE: u32 = 100;

/// Reads the arguments of `list`.
pub(crate) fn parse(args: ListArgs) -> Result<ListJob, Failure> {
    let checkpoint = checkpoint("list", args.positional, args.checkpoint)?;
    let mut params = list_params(args.page)?;
    params.limit = params.limit.or(Some(LIST_PAGE));
    params.max_items = args.max_items;
    Ok(ListJob { checkpoint, params })
}

/// Prints every permission, page by page; `list_pages` applies the stop rules and
/// `max_items`.
pub(crate) async fn run(ctx: &Context, job: ListJob) -> Result<(), Failure> {
    let ListJob { checkpoint, params } = job;
    let checkpoint = &checkpoint;
    let tally = Tally::new("permissions listed", params.max_items);
    let progress = ctx.progress();
    // Outside the job, so that what was printed is closed (a JSON array stays
    // valid) however the job ends.
    let writer = RefCell::new(ctx.item_writer());
    let cursor = RefCell::new(params.after.clone());
    let job = async {
        // `list_pages` applies the stop rules and `max_items`.
        let mut pages = ctx.permissions().list_pages(checkpoint, params.clone());
        while let Some(page) = pages.next().await {
            let page = page.map_err(Failure::Request)?;
            log_response(&ctx.client, &*page);
            progress.clear();
            writer.borrow_mut().page(&*page)?;
            tally.add(page.data.len() as u64);
            cursor.borrow_mut().clone_from(&page.last_id);
        }
        Ok::<(), Failure>(())
    };
    let outcome = drive(job, &progress, &tally).await;
    writer.into_inner().finish()?;
    let unfinished = |what: &str| {
        // Nothing listed: the error alone says it.
        if tally.done() == 0 {
            return;
        }
        let resume = cursor
            .borrow()
            .as_ref()
            .map(|last| format!(" (continue with --after {last})"))
            .unwrap_or_default();
        eprintln!(
            "{what}: listed {} permission(s); the rest were not listed{resume}",
            tally.done()
        );
    };
    conclude(outcome, unfinished)
}
