//! Ids read from standard input: project ids for bulk grants, permission ids for
//! bulk revokes.
//!
//! Three shapes are accepted, told apart by how the text starts:
//!
//! - a JSON array of strings, `["proj_a", "proj_b"]` (the output of `jq -c`);
//! - for project ids, the request body, as JSON (`{"project_ids": [...]}`) or YAML
//!   (`project_ids:` then `- proj_a` lines), as the official CLI takes it;
//! - otherwise one id per line; surrounding blanks, blank lines and lines starting
//!   with `#` are skipped, and Windows line ends are fine.
//!
//! Every id must have its type's shape ([`permissions_api::permissions_types::ids`]):
//! a malformed one is refused with its place (`line 3: invalid project id ...`)
//! before anything is sent, and so are two ids on one line (a mistake, not
//! something to guess about). Repeated ids are kept once, in first-seen order, so
//! counts match what the API grants.
//!
//! ```
//! use permissions_cli::input::parse_project_ids;
//!
//! let ids = parse_project_ids("# team A\nproj_a\r\n\nproj_b\nproj_a\n")?;
//! assert_eq!(ids, ["proj_a", "proj_b"]);
//! assert_eq!(parse_project_ids(r#" ["proj_a", "proj_b"] "#)?, ["proj_a", "proj_b"]);
//! assert_eq!(parse_project_ids(r#"{"project_ids": ["proj_a"]}"#)?, ["proj_a"]);
//! assert_eq!(parse_project_ids("project_ids:\n  - proj_a\n  - proj_b\n")?, ["proj_a", "proj_b"]);
//! assert!(parse_project_ids("proj_a proj_b").is_err());
//! assert!(parse_project_ids("not-a-project").unwrap_err().to_string().starts_with("line 1: invalid project id"));
//! # Ok::<(), permissions_cli::input::InputError>(())
//! ```

use std::collections::HashSet;
use std::fmt;
use std::hash::Hash;
use std::io::Read;
use std::str::FromStr;

use permissions_api::permissions_types::{IdError, ProjectId};

/// The most standard input read for project ids: 16 MiB.
pub const MAX_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Why standard input could not be read as project ids.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InputError(String);

impl fmt::Display for InputError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for InputError {}

/// An id type read from standard input: any of the checked ids.
pub trait Id: FromStr<Err = IdError> + Clone + Eq + Hash {}

impl<T: FromStr<Err = IdError> + Clone + Eq + Hash> Id for T {}

/// Reads all of `reader` (at most [`MAX_INPUT_BYTES`]) and parses it with
/// [`parse_project_ids`].
pub fn read_project_ids(reader: impl Read) -> Result<Vec<ProjectId>, InputError> {
    parse_project_ids(&read_text(reader)?)
}

/// Reads all of `reader` (at most [`MAX_INPUT_BYTES`]) and parses it with
/// [`parse_ids`].
pub fn read_ids<T: Id>(reader: impl Read) -> Result<Vec<T>, InputError> {
    parse_ids(&read_text(reader)?)
}

/// All of `reader` as UTF-8 text, at most [`MAX_INPUT_BYTES`].
fn read_text(reader: impl Read) -> Result<String, InputError> {
    let mut bytes = Vec::new();
    reader
        .take(MAX_INPUT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| InputError(format!("cannot read standard input: {e}")))?;
    if bytes.len() as u64 > MAX_INPUT_BYTES {
        return Err(InputError(format!(
            "standard input is larger than {} MiB",
            MAX_INPUT_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        InputError(format!(
            "standard input is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// Parses project ids: a JSON array of strings, the request body (JSON or YAML),
/// or one id per line.
pub fn parse_project_ids(text: &str) -> Result<Vec<ProjectId>, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let first_line = text
        .lines()
        .map(str::trim)
        .find(|line| !line.is_empty() && !line.starts_with('#'))
        .unwrap_or_default();
    if first_line.starts_with('{') || first_line.starts_with("project_ids:") {
        return parse_body(text);
    }
    parse_ids(text)
}

/// The body of a create request, `project_ids: [...]`, as JSON or YAML.
fn parse_body(text: &str) -> Result<Vec<ProjectId>, InputError> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Body {
        project_ids: Vec<String>,
    }
    let body: Body = serde_norway::from_str(text).map_err(|e| {
        InputError(format!(
            "standard input is not a request body of the form `project_ids: [...]`: {e}"
        ))
    })?;
    let ids = body
        .project_ids
        .iter()
        .enumerate()
        .map(|(i, id)| check(id.trim(), || format!("project_ids[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(dedup(ids))
}

/// Parses ids of any type: a JSON array of strings, or one id per line.
pub fn parse_ids<T: Id>(text: &str) -> Result<Vec<T>, InputError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim_start().starts_with('{') {
        return Err(InputError(
            "standard input is a JSON object; give a JSON array of strings or one id per line"
                .into(),
        ));
    }
    let ids = if text.trim_start().starts_with('[') {
        let values: Vec<String> = serde_json::from_str(text).map_err(|e| {
            InputError(format!(
                "standard input starts with '[' but is not a JSON array of strings: {e}"
            ))
        })?;
        values
            .iter()
            .enumerate()
            .map(|(i, id)| check(id.trim(), || format!("element {i} of the JSON array")))
            .collect::<Result<Vec<_>, _>>()?
    } else {
        text.lines()
            .enumerate()
            .map(|(n, line)| (n + 1, line.trim()))
            .filter(|(_, line)| !line.is_empty() && !line.starts_with('#'))
            .map(|(n, line)| check(line, || format!("line {n}")))
            .collect::<Result<Vec<_>, _>>()?
    };
    Ok(dedup(ids))
}

/// Checks one id; `place` says where it was, for the message.
fn check<T: Id>(id: &str, place: impl Fn() -> String) -> Result<T, InputError> {
    id.parse()
        .map_err(|error: IdError| InputError(format!("{}: {error}", place())))
}

/// `ids` without repeats, in first-seen order.
pub fn dedup<T: Clone + Eq + Hash>(ids: impl IntoIterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    ids.into_iter()
        .filter(|id| seen.insert(id.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use permissions_api::permissions_types::PermissionId;

    #[test]
    fn lines_and_arrays() {
        assert_eq!(
            parse_project_ids("\u{feff}proj_a\n  proj_b  \n").unwrap(),
            ["proj_a", "proj_b"]
        );
        assert_eq!(
            parse_project_ids("[\n \"proj_a\",\n \"proj_b\", \"proj_a\"\n]\n").unwrap(),
            ["proj_a", "proj_b"]
        );
        assert!(parse_project_ids("").unwrap().is_empty());
        assert!(parse_project_ids("\n# nothing\n").unwrap().is_empty());
        assert!(parse_project_ids("[]").unwrap().is_empty());
    }

    #[test]
    fn bad_input_says_where() {
        let err = |text: &str| parse_project_ids(text).unwrap_err().to_string();
        assert!(err("proj_a\nproj_b proj_c\n").starts_with("line 2:"));
        assert!(err("[\"proj_a\", 3]").contains("not a JSON array of strings"));
        assert!(err("[\"proj_a\", \"\"]").starts_with("element 1"));
        assert!(err("{\"project_ids\": [\"proj_a\"], \"extra\": 1}").contains("unknown field"));
        assert!(err("{\"project_ids\": \"proj_a\"}").contains("request body"));
        assert!(
            err("project_ids:\n  - ''\n")
                .starts_with("project_ids[0]: invalid project id \"\": it is empty")
        );
        assert!(
            parse_ids::<PermissionId>(" {\"a\": 1}")
                .unwrap_err()
                .to_string()
                .contains("JSON object")
        );
        assert!(err("[\"proj_a\\u0000b\"]").contains("holds '\\0'"));
        assert!(
            err("proj_a\ncp_zc4Q7MP6XxulcVzj4MZdwsAB\n").starts_with("line 2: invalid project id")
        );
        let permission = parse_ids::<PermissionId>("cp_a\nproj_b\n")
            .unwrap_err()
            .to_string();
        assert!(
            permission.starts_with("line 2: invalid permission id"),
            "{permission}"
        );
        assert!(err("[\"proj_a\"").contains("JSON"));
    }

    #[test]
    fn invalid_utf8_and_huge_input_are_refused() {
        let err = read_project_ids(&b"proj_a\n\xff\n"[..]).unwrap_err();
        assert!(err.to_string().contains("offset 7"), "{err}");
        let huge = std::io::repeat(b'a').take(MAX_INPUT_BYTES + 10);
        assert!(
            read_project_ids(huge)
                .unwrap_err()
                .to_string()
                .contains("larger")
        );
    }
}
