//! Arguments shared by the verbs: path parameters given as flags or positionals,
//! the list parameters, and errors reported the way clap reports its own.

use clap::CommandFactory;
use permissions_api::ListParams;
use permissions_api::permissions_types::{CheckpointId, PermissionId, ProjectId};

use crate::cli::{CheckpointArgs, Cli, PageArgs};
use crate::failure::Failure;

/// The clap command of `verb`, for errors whose usage line names the verb.
pub(crate) fn verb_command(verb: &str) -> clap::Command {
    let mut command = Cli::command();
    command.build();
    command.find_subcommand(verb).cloned().unwrap_or(command)
}

/// Fills the path parameters: each flag that is not given takes the next
/// positional argument, in order, as the official CLI does.
pub(crate) fn path_args(
    verb: &str,
    positional: Vec<String>,
    flags: Vec<(&'static str, Option<String>)>,
) -> Result<Vec<String>, Failure> {
    let mut positional = positional.into_iter();
    let mut values = Vec::with_capacity(flags.len());
    let mut missing = Vec::new();
    for (flag, value) in flags {
        match value.or_else(|| positional.next()) {
            Some(value) => values.push(value),
            None => missing.push(flag),
        }
    }
    let mut command = verb_command(verb);
    if let Some(extra) = positional.next() {
        return Err(Failure::Clap(command.error(
            clap::error::ErrorKind::UnknownArgument,
            format!("unexpected argument '{extra}': every path parameter is already given"),
        )));
    }
    if !missing.is_empty() {
        return Err(Failure::Clap(command.error(
            clap::error::ErrorKind::MissingRequiredArgument,
            format!(
                "missing {} (or give it as a positional argument)",
                missing.join(" and ")
            ),
        )));
    }
    Ok(values)
}

/// The flag that names the checkpoint (or the first positional argument).
pub(crate) const CHECKPOINT_FLAG: &str = "--fine-tuned-model-checkpoint <CHECKPOINT>";

pub(crate) fn checkpoint(
    verb: &str,
    positional: Vec<String>,
    args: CheckpointArgs,
) -> Result<CheckpointId, Failure> {
    let mut values = path_args(
        verb,
        positional,
        vec![(CHECKPOINT_FLAG, args.fine_tuned_model_checkpoint)],
    )?;
    checkpoint_id(values.remove(0))
}

/// `text` as the checkpoint of a verb, or the failure that names its flag.
pub(crate) fn checkpoint_id(text: String) -> Result<CheckpointId, Failure> {
    CheckpointId::parse(text).map_err(|e| Failure::invalid_id("checkpoint", e))
}

/// A missing argument, reported the way clap reports its own.
pub(crate) fn missing(verb: &str, what: &str) -> Failure {
    Failure::Clap(verb_command(verb).error(
        clap::error::ErrorKind::MissingRequiredArgument,
        format!("missing {what}"),
    ))
}

/// The list parameters of `list` and `retrieve`, their ids checked.
pub(crate) fn list_params(page: PageArgs) -> Result<ListParams, Failure> {
    if let Some(after) = &page.after {
        PermissionId::parse(after.as_str()).map_err(|e| Failure::invalid_id("--after", e))?;
    }
    if let Some(project_id) = &page.project_id {
        ProjectId::parse(project_id.as_str())
            .map_err(|e| Failure::invalid_id("--project-id", e))?;
    }
    let mut params = ListParams::new();
    params.after = page.after;
    params.limit = page.limit;
    params.order = page.order;
    params.project_id = page.project_id;
    Ok(params)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positionals_fill_the_missing_flags_in_order() {
        let flags = |a: Option<&str>, b: Option<&str>| {
            vec![("--a", a.map(String::from)), ("--b", b.map(String::from))]
        };
        let pos = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let ok = |p, f| path_args("delete", p, f).ok();
        assert_eq!(
            ok(pos(&["x", "y"]), flags(None, None)),
            Some(pos(&["x", "y"]))
        );
        assert_eq!(
            ok(pos(&["y"]), flags(Some("x"), None)),
            Some(pos(&["x", "y"]))
        );
        assert_eq!(
            ok(pos(&["x"]), flags(None, Some("y"))),
            Some(pos(&["x", "y"]))
        );
        assert!(path_args("delete", pos(&["x"]), flags(None, None)).is_err());
        assert!(path_args("delete", pos(&["x", "y", "z"]), flags(None, None)).is_err());
        assert!(path_args("delete", pos(&["z"]), flags(Some("x"), Some("y"))).is_err());
    }
}
