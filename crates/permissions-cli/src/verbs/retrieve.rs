//! `retrieve` (deprecated, as in the official SDKs): one page. `json`, `pretty`,
//! `yaml` and `raw` print the page object, `table` and `jsonl` its permissions;
//! standard error gets the official SDKs' deprecation warning
//! ([`RETRIEVE_DEPRECATION`]).

use std::io::{self, BufWriter};

use permissions_api::permissions_types::CheckpointId;
use permissions_api::{ListParams, RETRIEVE_DEPRECATION};

use crate::args::{checkpoint, list_params};
use crate::cli::RetrieveArgs;
use crate::context::{Context, log_response};
use crate::failure::Failure;
use crate::output::{Format, write_page};

/// What `retrieve` does.
pub(crate) struct RetrieveJob {
    checkpoint: CheckpointId,
    params: ListParams,
}

/// Reads the arguments of `retrieve`.
pub(crate) fn parse(args: RetrieveArgs) -> Result<RetrieveJob, Failure> {
    Ok(RetrieveJob {
        checkpoint: checkpoint("retrieve", args.positional, args.checkpoint)?,
        params: list_params(args.page)?,
    })
}

/// Prints one page, and where the next one starts.
pub(crate) async fn run(ctx: &Context, job: RetrieveJob) -> Result<(), Failure> {
    let RetrieveJob { checkpoint, params } = job;
    eprintln!("warning: `retrieve` is deprecated: {RETRIEVE_DEPRECATION}");
    #[allow(deprecated)] // The official CLI keeps the verb; so do we.
    let page = ctx
        .permissions()
        .retrieve(&checkpoint, params)
        .await
        .map_err(Failure::Request)?;
    log_response(&ctx.client, &*page);
    write_page(
        BufWriter::new(io::stdout()),
        ctx.format,
        ctx.transform.as_ref(),
        &*page,
    )?;
    if page.has_more
        && ctx.stderr_is_terminal
        && matches!(ctx.format, Format::Table | Format::Jsonl)
        && let Some(last) = &page.last_id
    {
        eprintln!("note: more permissions follow: --after {last}");
    }
    Ok(())
}
