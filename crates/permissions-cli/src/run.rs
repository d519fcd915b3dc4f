//! Runs a parsed command line: reads every argument into a job first, then builds
//! the client and runs the job.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::process::ExitCode;

use clap::CommandFactory;

use crate::cli::{Cli, Command, CompletionShell, EXIT_OK, OfficialVerb};
use crate::config::{build_client, init_logging};
use crate::context::Context;
use crate::failure::{Failure, report};
use crate::output::{Format, Transform};
use crate::sharing;
use crate::verbs::{create, delete, list, retrieve};

/// Runs `cli` and returns the exit code; see [`crate::cli::EXIT_API`] and
/// [`crate::cli::EXIT_USAGE`].
pub fn run(cli: Cli) -> ExitCode {
    let code = match execute(cli) {
        Ok(()) => EXIT_OK,
        Err(failure) => report(failure),
    };
    ExitCode::from(code)
}

enum Job {
    List(list::ListJob),
    Retrieve(retrieve::RetrieveJob),
    Create(create::CreateJob),
    Delete(delete::DeleteJob),
    Sharing(sharing::Job),
}

fn execute(cli: Cli) -> Result<(), Failure> {
    let Cli { global, command } = cli;
    if let Command::Completions { shell } = command {
        return completions(shell);
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
        Command::Official { .. } | Command::Completions { .. } => return Ok(()),
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
        match job {
            Job::List(job) => list::run(&ctx, job).await,
            Job::Retrieve(job) => retrieve::run(&ctx, job).await,
            Job::Create(job) => create::run(&ctx, job).await,
            Job::Delete(job) => delete::run(&ctx, job).await,
            Job::Sharing(job) => sharing::run(&ctx, job).await,
        }
    })
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
