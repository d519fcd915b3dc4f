//! `projects`: the organization's projects, page after page.

use std::cell::RefCell;

use futures::StreamExt;
use permissions_api::ProjectListParams;
use permissions_api::permissions_types::{Project, ProjectId};

use crate::cli::ProjectsArgs;
use crate::context::{Context, log_response};
use crate::failure::{Failure, conclude};
use crate::progress::{Tally, drive};

/// Projects per page unless `--limit` is given: the API's maximum, the fewest
/// requests of the throttled endpoint.
const PROJECTS_PAGE: u32 = 100;

/// What `projects` does.
pub(crate) struct ProjectsJob {
    params: ProjectListParams,
}

/// Reads the arguments of `projects`.
pub(crate) fn parse(args: ProjectsArgs) -> Result<ProjectsJob, Failure> {
    let mut params = ProjectListParams::new()
        .limit(args.limit.unwrap_or(PROJECTS_PAGE))
        .include_archived(args.include_archived);
    if let Some(after) = args.after {
        ProjectId::parse(after.as_str()).map_err(|e| Failure::invalid_id("--after", e))?;
        params = params.after(after);
    }
    params.max_items = args.max_items;
    Ok(ProjectsJob { params })
}

/// Prints every project, page by page.
pub(crate) async fn run(ctx: &Context, job: ProjectsJob) -> Result<(), Failure> {
    let ProjectsJob { params } = job;
    let tally = Tally::new("projects listed", params.max_items);
    let progress = ctx.progress();
    // Outside the job, so that what was printed is closed however the job ends.
    let writer = RefCell::new(ctx.item_writer::<Project>());
    let job = async {
        let mut pages = ctx
            .client
            .organization()
            .projects()
            .list_pages(params.clone());
        while let Some(page) = pages.next().await {
            let page = page.map_err(Failure::Request)?;
            log_response(&ctx.client, &*page);
            progress.clear();
            writer.borrow_mut().page(&*page)?;
            tally.add(page.data.len() as u64);
        }
        Ok::<(), Failure>(())
    };
    let outcome = drive(job, &progress, &tally).await;
    writer.into_inner().finish()?;
    conclude(outcome, |what| {
        if tally.done() > 0 {
            eprintln!(
                "{what}: listed {} project(s); the rest were not listed",
                tally.done()
            );
        }
    })
}
