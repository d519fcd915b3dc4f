//! Runs a parsed command line: reads every argument into a job first, then builds
//! the client and runs the job.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{
    Cli, Command, CompletionShell, EXIT_API, EXIT_CHANGES, EXIT_OK, EXIT_USAGE, OfficialVerb,
};
use crate::config::{build_client, init_logging};
use crate::context::Context;
use crate::failure::{Failure, Outcome, report};
use crate::output::{Format, Transform};
use crate::sharing;
use crate::verbs::{create, delete, list, projects, retrieve};

/// Runs `cli` and returns the exit code; see [`crate::cli::EXIT_API`] and
/// [`crate::cli::EXIT_USAGE`].
pub fn run(cli: Cli) -> ExitCode {
    let usage = usage_exit_code(&cli.command);
    let changes = changes_something(&cli.command);
    let code = match execute(cli) {
        Ok(Outcome::Done | Outcome::ChangesPending { detailed: false }) => EXIT_OK,
        Ok(Outcome::ChangesPending { detailed: true }) => EXIT_CHANGES,
        Err(failure) => report(failure, usage, changes),
    };
    ExitCode::from(code)
}

/// The exit code of a usage error (nothing sent): 1 for `plan` and `apply`, which
/// exit 1 on any error as terraform does (so that 2 means only "changes pending"),
/// 2 for the other verbs.
pub(crate) fn usage_exit_code(command: &Command) -> u8 {
    if matches!(command, Command::Plan(_) | Command::Apply(_)) {
        EXIT_API
    } else {
        EXIT_USAGE
    }
}

/// Whether `command` grants or revokes: its output (what it did) must not be
/// lost silently.
fn changes_something(command: &Command) -> bool {
    matches!(
        command,
        Command::Create(_)
            | Command::Delete(_)
            | Command::Apply(_)
            | Command::Official {
                verb: OfficialVerb::Create(_) | OfficialVerb::Delete(_)
            }
    )
}

enum Job {
    List(list::ListJob),
    Retrieve(retrieve::RetrieveJob),
    Create(create::CreateJob),
    Delete(delete::DeleteJob),
    Projects(projects::ProjectsJob),
    Sharing(sharing::Job),
}

fn execute(cli: Cli) -> Result<Outcome, Failure> {
    let Cli { global, command } = cli;
    match command {
        Command::Completions { shell } => return completions(shell).map(|()| Outcome::Done),
        Command::Schema => return schema().map(|()| Outcome::Done),
        _ => {}
    }
    init_logging(global.debug, io::stderr().is_terminal());
    let format = global.format.format;
    let transform = global.transform.clone().map(Transform::new);
    if transform.is_some() && format == Format::Table {
        return Err(Failure::Usage(
            "--transform selects from JSON output: pick --format json, jsonl, pretty, raw or yaml"
                .into(),
        ));
    }
    // Everything that can be refused is refused before anything is sent.
    let command = match command {
        Command::Official { verb } => match verb {
            OfficialVerb::List(args) => Command::List(args),
            OfficialVerb::Retrieve(args) => Command::Retrieve(args),
            OfficialVerb::Create(args) => Command::Create(args),
            OfficialVerb::Delete(args) => Command::Delete(args),
        },
        other => other,
    };
    let job = match command {
        Command::List(args) => Job::List(list::parse(args)?),
        Command::Retrieve(args) => Job::Retrieve(retrieve::parse(args)?),
        Command::Create(args) => Job::Create(create::parse(args)?),
        Command::Delete(args) => Job::Delete(delete::parse(args)?),
        Command::Export(args) => Job::Sharing(sharing::export_job(args)?),
        Command::Plan(args) => Job::Sharing(sharing::plan_job(args)?),
        Command::Apply(args) => Job::Sharing(sharing::apply_job(args)?),
        Command::Projects(args) => Job::Projects(projects::parse(args)?),
        Command::Official { .. } | Command::Completions { .. } | Command::Schema => {
            return Ok(Outcome::Done);
        }
    };
    let client = build_client(&global)?;
    let ctx = Context {
        client,
        format,
        transform,
        format_given: global.format.explicit,
        stderr_is_terminal: io::stderr().is_terminal(),
        debug: global.debug,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::Usage(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async {
        let done = match job {
            Job::List(job) => list::run(&ctx, job).await,
            Job::Retrieve(job) => retrieve::run(&ctx, job).await,
            Job::Create(job) => create::run(&ctx, job).await,
            Job::Delete(job) => delete::run(&ctx, job).await,
            Job::Projects(job) => projects::run(&ctx, job).await,
            Job::Sharing(job) => return sharing::run(&ctx, job).await,
        };
        done.map(|()| Outcome::Done)
    })
}

/// Prints the sharing file's JSON Schema.
fn schema() -> Result<(), Failure> {
    let mut out = io::stdout().lock();
    writeln!(out, "{:#}", permissions_sharing::file::json_schema())?;
    out.flush()?;
    Ok(())
}

fn completions(shell: CompletionShell) -> Result<(), Failure> {
    let shell = match shell {
        CompletionShell::Bash => clap_complete::Shell::Bash,
        CompletionShell::Zsh => clap_complete::Shell::Zsh,
        CompletionShell::Fish => clap_complete::Shell::Fish,
    };
    let mut out = BufWriter::new(io::stdout().lock());
    clap_complete::generate(shell, &mut Cli::command(), "ckpt-perms", &mut out);
    out.flush()?;
    Ok(())
}
