//! `export`, `plan` and `apply` of a sharing file, on `permissions-sharing`.
//!
//! Everything that can be refused (a bad file, a bad checkpoint id, `apply`
//! without a terminal and without `--yes`) is refused before anything is sent.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::io::{self, BufRead, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::pin::pin;

use futures::StreamExt;
use permissions_api::permissions_types::CheckpointId;
use permissions_sharing::{
    Desired, Ledger, Organization, Plan, RefusalReason, SharingFile, State, StepError, apply, plan,
    read_organization, read_state, resolve, resolve_against,
};

use crate::args::checkpoint_id;
use crate::cli::{ApplyArgs, ExportArgs, PlanArgs};
use crate::context::Context;
use crate::failure::{Failure, Outcome, unless_closed};
use crate::output::{Format, write_document};
use crate::progress::{Tally, drive};

/// Not-applied steps listed by name after a failure; the rest are counted.
const SHOWN_STEPS: usize = 10;

/// A checked `export`, `plan` or `apply`.
pub(crate) enum Job {
    Export {
        checkpoints: Vec<CheckpointId>,
        output: Option<PathBuf>,
        names: bool,
    },
    Plan {
        file: SharingFile,
        prune: bool,
        detailed: bool,
    },
    Apply {
        file: SharingFile,
        prune: bool,
        yes: bool,
        concurrency: usize,
    },
}

pub(crate) fn export_job(args: ExportArgs) -> Result<Job, Failure> {
    let mut checkpoints = args
        .checkpoints
        .into_iter()
        .map(checkpoint_id)
        .collect::<Result<Vec<_>, _>>()?;
    checkpoints.sort();
    checkpoints.dedup();
    Ok(Job::Export {
        checkpoints,
        output: args.output,
        names: args.names,
    })
}

fn read_file(path: &Path) -> Result<SharingFile, Failure> {
    SharingFile::read(path).map_err(Failure::File)
}

pub(crate) fn plan_job(args: PlanArgs) -> Result<Job, Failure> {
    Ok(Job::Plan {
        file: read_file(&args.file)?,
        prune: args.prune,
        detailed: args.detailed_exitcode,
    })
}

pub(crate) fn apply_job(args: ApplyArgs) -> Result<Job, Failure> {
    let file = read_file(&args.file)?;
    if !args.yes && !io::stdin().is_terminal() {
        return Err(Failure::Usage(
            "refusing to apply without confirmation: standard input is not a terminal; \
             pass --yes to apply"
                .into(),
        ));
    }
    Ok(Job::Apply {
        file,
        prune: args.prune,
        yes: args.yes,
        concurrency: args.concurrency as usize,
    })
}

pub(crate) async fn run(ctx: &Context, job: Job) -> Result<Outcome, Failure> {
    match job {
        Job::Export {
            checkpoints,
            output,
            names,
        } => export(ctx, &checkpoints, output.as_deref(), names).await,
        Job::Plan {
            file,
            prune,
            detailed,
        } => {
            let (desired, current) = prepare(ctx, &file).await?;
            let changes = plan(&desired, &current, prune);
            // A closed pipe (`| head`) cuts the plan short, not its exit code.
            unless_closed(print_plan(ctx, &changes, &desired))?;
            Ok(if changes.is_empty() {
                Outcome::Done
            } else {
                Outcome::ChangesPending { detailed }
            })
        }
        Job::Apply {
            file,
            prune,
            yes,
            concurrency,
        } => {
            // Planned again from what the API holds now, never from a saved plan.
            let (desired, current) = prepare(ctx, &file).await?;
            let changes = plan(&desired, &current, prune);
            let shown = print_text(&changes);
            if changes.is_empty() {
                // The checkpoints match the file, shown or not.
                return unless_closed(shown).map(|()| Outcome::Done);
            }
            if let Err(failure) = shown {
                eprintln!("the plan could not be shown: nothing was changed");
                return Err(failure);
            }
            if !yes && !confirmed(&changes)? {
                return Err(Failure::Unexpected(
                    "apply cancelled: nothing was changed".into(),
                ));
            }
            apply_plan(ctx, &changes, concurrency).await?;
            Ok(Outcome::Done)
        }
    }
}

/// What `plan` and `apply` compare: the file resolved against the organization's
/// projects (read once) and the state of its checkpoints. A file refused for
/// anything but an archived project is refused before the checkpoints are read;
/// an archived project is judged against the state (it keeps the access it
/// holds). Refusals and warnings are said on standard error; nothing is written.
async fn prepare(ctx: &Context, file: &SharingFile) -> Result<(Desired, State), Failure> {
    let organization = read_projects(ctx).await?;
    let resolved = resolve(file, &organization);
    if let Err(refused) = &resolved
        && !refused
            .0
            .iter()
            .any(|r| matches!(r.reason, RefusalReason::Archived { .. }))
    {
        return Err(Failure::Refused(refused.clone()));
    }
    let checkpoints: Vec<CheckpointId> = file.checkpoints().map(|(c, _)| c.clone()).collect();
    let state = read(ctx, &checkpoints).await?;
    let resolution = match resolved {
        Ok(resolution) => resolution,
        Err(_) => resolve_against(file, &organization, &state).map_err(Failure::Refused)?,
    };
    for warning in &resolution.warnings {
        eprintln!("warning: {warning}");
    }
    if let Organization::Unlisted { reason } = &organization {
        eprintln!(
            "note: the organization's projects could not be listed ({reason}): the project \
             ids were not checked against the organization"
        );
    }
    Ok((resolution.desired, state))
}

/// Reads the organization's projects, with the progress line.
async fn read_projects(ctx: &Context) -> Result<Organization, Failure> {
    let tally = Tally::new("reading the organization's projects", None);
    let progress = ctx.progress();
    let projects = ctx.client.organization().projects();
    match drive(read_organization(&projects), &progress, &tally).await {
        Ok(organization) => organization.map_err(Failure::Request),
        Err(interrupted) => {
            eprintln!("interrupted while reading the organization's projects: nothing was changed");
            Err(interrupted.into())
        }
    }
}

/// Reads the state of `checkpoints`, with the progress line.
async fn read(ctx: &Context, checkpoints: &[CheckpointId]) -> Result<State, Failure> {
    let tally = Tally::new("checkpoints read", Some(checkpoints.len() as u64));
    let progress = ctx.progress();
    let permissions = ctx.permissions();
    let job = async {
        let mut state = State::new();
        for checkpoint in checkpoints {
            let one = read_state(&permissions, [checkpoint])
                .await
                .map_err(Failure::Request)?;
            state.merge(one);
            tally.add(1);
        }
        Ok::<State, Failure>(state)
    };
    match drive(job, &progress, &tally).await {
        Ok(state) => state,
        Err(interrupted) => {
            eprintln!("interrupted while reading the checkpoints: nothing was changed");
            Err(interrupted.into())
        }
    }
}

async fn export(
    ctx: &Context,
    checkpoints: &[CheckpointId],
    output: Option<&Path>,
    names: bool,
) -> Result<Outcome, Failure> {
    let organization = if names {
        match read_projects(ctx).await? {
            Organization::Listed(directory) => Some(directory),
            Organization::Unlisted { reason } => {
                return Err(Failure::Unexpected(format!(
                    "--names: the organization's projects could not be listed ({reason})"
                )));
            }
        }
    } else {
        None
    };
    let state = read(ctx, checkpoints).await?;
    let file = state
        .to_file(organization.as_ref())
        .map_err(|e| Failure::Unexpected(format!("the API holds an id a file cannot: {e}")))?;
    let text = file.to_yaml();
    let projects: usize = file.checkpoints().map(|(_, p)| p.len()).sum();
    match output {
        None => {
            let mut out = io::stdout().lock();
            out.write_all(text.as_bytes())?;
            out.flush()?;
        }
        Some(path) => {
            write_whole(path, &text).map_err(|e| {
                Failure::Unexpected(format!("cannot write {}: {e}", path.display()))
            })?;
            eprintln!(
                "exported {} checkpoint(s), {projects} project(s) to {}",
                checkpoints.len(),
                path.display()
            );
        }
    }
    Ok(Outcome::Done)
}

/// Writes `text` to a file beside `path`, then renames it over `path`: a reader
/// never sees half a file, and a failure leaves the old one.
fn write_whole(path: &Path, text: &str) -> io::Result<()> {
    let mut partial = path.as_os_str().to_owned();
    partial.push(format!(".partial-{}", std::process::id()));
    let partial = PathBuf::from(partial);
    let written = std::fs::write(&partial, text).and_then(|()| std::fs::rename(&partial, path));
    if written.is_err() {
        let _ = std::fs::remove_file(&partial);
    }
    written
}

/// The plan as text (the default) or as one document (`--format json`, `pretty`,
/// `yaml`).
fn print_plan(ctx: &Context, changes: &Plan, desired: &Desired) -> Result<(), Failure> {
    match ctx.format {
        Format::Json | Format::Pretty | Format::Yaml if ctx.format_given => {
            let document = serde_json::json!({
                "prune": changes.prune,
                "ids_checked": desired.is_checked(),
                "checkpoints": changes.checkpoints,
                "totals": changes.totals(),
            });
            write_document(
                BufWriter::new(io::stdout()),
                ctx.format,
                ctx.transform.as_ref(),
                &document,
            )?;
            Ok(())
        }
        _ => print_text(changes),
    }
}

fn print_text(changes: &Plan) -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    out.write_all(render(changes).as_bytes())?;
    out.flush()?;
    Ok(())
}

/// ` (Name)` after a project id, when the project has a name.
fn named(name: Option<&str>) -> String {
    name.map(|name| format!(" ({name})")).unwrap_or_default()
}

/// `+ proj_... (Name)` to grant, `- proj_... (Name) (cp_...)` to revoke, counts of
/// the others, per checkpoint; then the totals and the requests `apply` needs.
pub(crate) fn render(changes: &Plan) -> String {
    let mut text = String::new();
    for part in &changes.checkpoints {
        let _ = writeln!(text, "{}", part.checkpoint);
        for grant in &part.grant {
            let _ = writeln!(
                text,
                "  + {}{}",
                grant.project_id,
                named(grant.name.as_deref())
            );
        }
        for revoke in &part.revoke {
            let _ = writeln!(
                text,
                "  - {}{} ({})",
                revoke.project_id,
                named(revoke.name.as_deref()),
                revoke.permission_id
            );
        }
        if part.unchanged > 0 {
            let _ = writeln!(text, "    {} unchanged", part.unchanged);
        }
        if part.kept > 0 {
            let _ = writeln!(
                text,
                "    {} not in the file, kept (--prune revokes them)",
                part.kept
            );
        }
        if part.grant.is_empty() && part.revoke.is_empty() && part.unchanged + part.kept == 0 {
            let _ = writeln!(text, "    shared with no project");
        }
    }
    let totals = changes.totals();
    if changes.is_empty() {
        let _ = writeln!(
            text,
            "No changes: {} checkpoint(s) match the file ({} project(s)).",
            changes.checkpoints.len(),
            totals.unchanged
        );
    } else {
        let _ = writeln!(
            text,
            "Plan: {} to grant, {} to revoke, {} unchanged; apply will send {} request(s).",
            totals.grant, totals.revoke, totals.unchanged, totals.requests
        );
    }
    text
}

/// Asks on the terminal; only `yes` goes on.
fn confirmed(changes: &Plan) -> Result<bool, Failure> {
    let totals = changes.totals();
    eprint!(
        "Apply {} grant(s) and {} revoke(s)? Only 'yes' goes on: ",
        totals.grant, totals.revoke
    );
    let _ = io::stderr().flush();
    let mut answer = String::new();
    io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::Usage(format!("cannot read the answer: {e}")))?;
    Ok(answer.trim() == "yes")
}

async fn apply_plan(ctx: &Context, changes: &Plan, concurrency: usize) -> Result<(), Failure> {
    let steps = changes.steps();
    let tally = Tally::new("requests applied", Some(steps.len() as u64));
    let progress = ctx.progress();
    // Outside the job, so that what was done is known however the job ends.
    let ledger = RefCell::new(Ledger::new(&steps));
    let job = async {
        let mut outcomes = pin!(apply(ctx.permissions(), &steps, concurrency));
        while let Some((index, outcome)) = outcomes.next().await {
            tally.add(1);
            if !ledger.borrow_mut().record(index, outcome) {
                break;
            }
        }
    };
    let interrupted = drive(job, &progress, &tally).await.is_err();
    let report = ledger.into_inner().finish(&steps);
    let applied = steps.len() - report.not_done.len();
    let summary = format!(
        "granted {} project(s), revoked {} permission(s){}",
        report.granted,
        report.revoked,
        if report.already_revoked > 0 {
            format!(" ({} already gone)", report.already_revoked)
        } else {
            String::new()
        }
    );
    if report.is_complete() && !interrupted {
        let done =
            format!("Applied {applied} request(s): {summary}. The checkpoints match the file.");
        // Said on standard error when standard output is closed: it is done.
        if writeln!(io::stdout(), "{done}").is_err() {
            eprintln!("{done}");
        }
        return Ok(());
    }
    let what = if interrupted {
        "interrupted"
    } else {
        "stopped by the error below"
    };
    eprintln!(
        "{what}: applied {applied} of {} request(s): {summary}; not applied:",
        steps.len()
    );
    for step in report.not_done.iter().take(SHOWN_STEPS) {
        eprintln!("  {step}");
    }
    if report.not_done.len() > SHOWN_STEPS {
        eprintln!("  ... and {} more", report.not_done.len() - SHOWN_STEPS);
    }
    eprintln!("Run the same command again to plan and apply the rest.");
    match report.error {
        _ if interrupted => Err(Failure::Interrupted),
        Some(StepError::Api { source, .. }) => Err(Failure::Request(source)),
        Some(other) => Err(Failure::Unexpected(other.to_string())),
        None => Err(Failure::Unexpected("the apply did not finish".into())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_shows_every_change_and_the_totals() {
        let file = Desired::new([
            ("ft:a:b", vec!["proj_keep", "proj_new"]),
            ("ft:a:c", vec![]),
        ])
        .unwrap();
        let mut state = State::new();
        state.add("ft:a:b", "proj_keep", "cp_1");
        state.add("ft:a:b", "proj_old", "cp_2");
        state.add_checkpoint("ft:a:c");
        let text = render(&plan(&file, &state, true));
        assert_eq!(
            text,
            "ft:a:b\n  + proj_new\n  - proj_old (cp_2)\n    1 unchanged\nft:a:c\n    \
             shared with no project\nPlan: 1 to grant, 1 to revoke, 1 unchanged; apply \
             will send 2 request(s).\n"
        );
        let kept = render(&plan(&file, &state, false));
        assert!(
            kept.contains("1 not in the file, kept (--prune revokes them)"),
            "{kept}"
        );
        let after = plan(&file, &state, true).outcome(&state);
        assert!(
            render(&plan(&file, &after, true))
                .ends_with("No changes: 2 checkpoint(s) match the file (2 project(s)).\n")
        );
    }
}
