//! The sharing file: which projects each named checkpoint is shared with.
//!
//! ```yaml
//! version: 1
//! checkpoints:
//!   ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:
//!     - proj_abGMw1llN8IrBb6SvvY5A1iH
//!     - proj_iqGMw1llN8IrBb6SvvY5A1oF
//!   ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa: []
//! ```
//!
//! YAML, or the same structure as JSON (a YAML parser reads both). A checkpoint
//! listed with `[]` is shared with no project; checkpoints absent from the file are
//! never touched. Everything else is refused, with the key path and the line: an
//! unknown `version`, an unknown key, a checkpoint named twice, a project listed
//! twice under one checkpoint, an id that is empty or not of the API's shape, a
//! checkpoint without a list (`ft:...:` alone), any value of the wrong type.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};

/// The only version of the format.
pub const VERSION: u64 = 1;
/// The longest id accepted (the API's own limit is not documented; the emulator's).
pub const MAX_ID_LEN: usize = 256;
/// The largest sharing file read: 16 MiB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The sharing that a file asks for: for each checkpoint it names, the projects it
/// is shared with.
///
/// ```
/// use permissions_sharing::SharingFile;
///
/// let file = SharingFile::parse(
///     "version: 1\ncheckpoints:\n  ft:gpt-4o-mini:org:demo:abc:\n    - proj_b\n    - proj_a\n",
/// )?;
/// let (checkpoint, projects) = file.checkpoints().next().unwrap();
/// assert_eq!(checkpoint, "ft:gpt-4o-mini:org:demo:abc");
/// assert_eq!(projects.iter().collect::<Vec<_>>(), ["proj_a", "proj_b"]);
/// // Rendered sorted, so that export is stable and diffs are small.
/// assert_eq!(SharingFile::parse(&file.to_yaml())?, file);
///
/// let err = SharingFile::parse("version: 2\ncheckpoints: {}\n").unwrap_err();
/// assert!(err.to_string().contains("version 2 is not supported"), "{err}");
/// assert_eq!(err.line(), Some(1));
/// # Ok::<(), permissions_sharing::FileError>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SharingFile {
    checkpoints: BTreeMap<String, BTreeSet<String>>,
}

/// Why a sharing file was refused: what is wrong, where (key path), and on which
/// line when the parser knows it.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FileError {
    message: String,
    line: Option<usize>,
}

impl FileError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            line: None,
        }
    }

    /// The line (1-based) the error is on, when the parser knows it.
    pub fn line(&self) -> Option<usize> {
        self.line
    }

    /// The message with `place` (a file name) in front.
    #[must_use]
    pub fn in_file(mut self, place: &str) -> Self {
        self.message = format!("{place}: {}", self.message);
        self
    }
}

impl SharingFile {
    /// A sharing of `checkpoints` (checkpoint → projects), checked like a file.
    pub fn new<C, K, P, S>(checkpoints: C) -> Result<Self, FileError>
    where
        C: IntoIterator<Item = (K, P)>,
        K: Into<String>,
        P: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut map = BTreeMap::new();
        for (checkpoint, projects) in checkpoints {
            let checkpoint = checkpoint.into();
            check_checkpoint(&checkpoint).map_err(FileError::new)?;
            let mut set = BTreeSet::new();
            for project in projects {
                let project = project.into();
                check_project(&project)
                    .map_err(|why| FileError::new(format!("checkpoints.{checkpoint}: {why}")))?;
                set.insert(project);
            }
            if map.insert(checkpoint.clone(), set).is_some() {
                return Err(FileError::new(format!(
                    "checkpoint {checkpoint:?} is named twice"
                )));
            }
        }
        Ok(Self { checkpoints: map })
    }

    /// Parses and checks a sharing file (YAML or JSON).
    pub fn parse(text: &str) -> Result<Self, FileError> {
        if text.trim().is_empty() {
            return Err(FileError::new(
                "the file is empty (expected `version: 1` and `checkpoints:`)",
            ));
        }
        let raw: RawFile = serde_norway::from_str(text).map_err(|error| FileError {
            line: error.location().map(|l| l.line()),
            message: error.to_string(),
        })?;
        // Checked here rather than while parsing: the parser only knows where a
        // mapping or list starts, and the line of the offending id is wanted.
        let mut checkpoints = BTreeMap::new();
        for (checkpoint, projects) in raw.checkpoints.0 {
            let key_line = line_of(text, &checkpoint, 0, 0);
            let refuse = |path: &str, why: String, line: Option<usize>| FileError {
                message: match line {
                    Some(line) => format!("{path}: {why} (line {line})"),
                    None => format!("{path}: {why}"),
                },
                line,
            };
            check_checkpoint(&checkpoint).map_err(|why| refuse("checkpoints", why, key_line))?;
            if checkpoints.contains_key(&checkpoint) {
                let line = line_of(text, &checkpoint, 0, 1);
                return Err(refuse(
                    "checkpoints",
                    format!("checkpoint {checkpoint:?} is named twice"),
                    line,
                ));
            }
            let path = format!("checkpoints.{checkpoint}");
            let after = key_line.unwrap_or(0);
            let mut set = BTreeSet::new();
            for (index, project) in projects.into_iter().enumerate() {
                let place = format!("{path}[{index}]");
                check_project(&project)
                    .map_err(|why| refuse(&place, why, line_of(text, &project, after, 0)))?;
                if set.contains(&project) {
                    let line = line_of(text, &project, after, 1);
                    return Err(refuse(
                        &place,
                        format!("project {project:?} is listed twice under this checkpoint"),
                        line,
                    ));
                }
                set.insert(project);
            }
            checkpoints.insert(checkpoint, set);
        }
        Ok(Self { checkpoints })
    }

    /// Reads and parses the file at `path`; errors start with the path.
    pub fn read(path: &Path) -> Result<Self, FileError> {
        use std::io::Read as _;
        let shown = path.display().to_string();
        let file = std::fs::File::open(path)
            .map_err(|e| FileError::new(format!("cannot read it: {e}")).in_file(&shown))?;
        let mut bytes = Vec::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| FileError::new(format!("cannot read it: {e}")).in_file(&shown))?;
        if bytes.len() as u64 > MAX_FILE_BYTES {
            return Err(
                FileError::new(format!("larger than {} MiB", MAX_FILE_BYTES >> 20)).in_file(&shown),
            );
        }
        let text = String::from_utf8(bytes).map_err(|e| {
            FileError::new(format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.utf8_error().valid_up_to()
            ))
            .in_file(&shown)
        })?;
        Self::parse(&text).map_err(|e| e.in_file(&shown))
    }

    /// The checkpoints and their projects, sorted.
    pub fn checkpoints(&self) -> impl Iterator<Item = (&str, &BTreeSet<String>)> {
        self.checkpoints.iter().map(|(c, p)| (c.as_str(), p))
    }

    /// The projects of `checkpoint`, if the file names it.
    pub fn projects(&self, checkpoint: &str) -> Option<&BTreeSet<String>> {
        self.checkpoints.get(checkpoint)
    }

    /// The file as YAML, checkpoints and projects sorted: the same sharing always
    /// gives the same text.
    pub fn to_yaml(&self) -> String {
        #[derive(Serialize)]
        struct Out<'a> {
            version: u64,
            checkpoints: &'a BTreeMap<String, BTreeSet<String>>,
        }
        serde_norway::to_string(&Out {
            version: VERSION,
            checkpoints: &self.checkpoints,
        })
        // Strings, numbers and lists of strings always serialize.
        .unwrap_or_default()
    }
}

/// Checks a checkpoint id: `ft:` then printable ASCII without whitespace, `/`,
/// `\`, `?`, `#` or `%`, at most [`MAX_ID_LEN`] bytes.
pub fn check_checkpoint(id: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid checkpoint id {id:?}: {why}"));
    if id.is_empty() {
        return bad("it is empty");
    }
    if !id.starts_with("ft:") {
        return bad("a fine-tuned model checkpoint id starts with `ft:`");
    }
    if id.len() > MAX_ID_LEN {
        return bad(&format!("longer than {MAX_ID_LEN} bytes"));
    }
    if let Some(c) = id
        .chars()
        .find(|c| !c.is_ascii_graphic() || matches!(c, '/' | '\\' | '?' | '#' | '%'))
    {
        return bad(&format!("it contains {c:?}"));
    }
    Ok(())
}

/// Checks a project id: `proj_` then ASCII letters, digits, `_` or `-`, at most
/// [`MAX_ID_LEN`] bytes.
pub fn check_project(id: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("invalid project id {id:?}: {why}"));
    if id.is_empty() {
        return bad("it is empty");
    }
    let Some(rest) = id.strip_prefix("proj_").filter(|rest| !rest.is_empty()) else {
        return bad("a project id is `proj_` followed by letters and digits");
    };
    if id.len() > MAX_ID_LEN {
        return bad(&format!("longer than {MAX_ID_LEN} bytes"));
    }
    if let Some(c) = rest
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-')))
    {
        return bad(&format!("it contains {c:?}"));
    }
    Ok(())
}

/// The file as parsed, before it becomes a [`SharingFile`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    #[allow(dead_code)] // Checked while parsing; there is one version.
    version: Version,
    checkpoints: Checkpoints,
}

struct Version;

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Version;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "the format version, {VERSION}")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Version, E> {
                if v == VERSION {
                    Ok(Version)
                } else {
                    Err(E::custom(format!(
                        "version {v} is not supported (this program reads version {VERSION})"
                    )))
                }
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Version, E> {
                match u64::try_from(v) {
                    Ok(v) => self.visit_u64(v),
                    Err(_) => Err(E::custom(format!("version {v} is not supported"))),
                }
            }
        }
        deserializer.deserialize_u64(V)
    }
}

/// The checkpoints in file order, repeats included: checked after parsing.
struct Checkpoints(Vec<(String, Vec<String>)>);

impl<'de> Deserialize<'de> for Checkpoints {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Checkpoints;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a mapping of checkpoint ids to lists of project ids")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checkpoints, A::Error> {
                let mut checkpoints = Vec::new();
                while let Some(checkpoint) = map.next_key::<String>()? {
                    let Projects(projects) = map.next_value()?;
                    checkpoints.push((checkpoint, projects));
                }
                Ok(Checkpoints(checkpoints))
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A checkpoint's list of projects (`[]` for none, never null).
struct Projects(Vec<String>);

impl<'de> Deserialize<'de> for Projects {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Projects;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of project ids (`[]` for none)")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Projects, A::Error> {
                let mut projects = Vec::new();
                while let Some(project) = seq.next_element::<String>()? {
                    projects.push(project);
                }
                Ok(Projects(projects))
            }
        }
        // `deserialize_any`: a YAML parser reads a missing value as an empty list
        // when asked for a list, and `ft:...:` alone must not mean "no project".
        deserializer.deserialize_any(V)
    }
}

/// The line (1-based) of the `nth` occurrence (0-based) of `id` as a whole
/// token, on or after line `after`; `None` when it is not found (an id written
/// with escapes, say).
fn line_of(text: &str, id: &str, after: usize, nth: usize) -> Option<usize> {
    if id.is_empty() {
        return None;
    }
    let is_id_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
    let mut seen = 0;
    for (index, line) in text.lines().enumerate().skip(after.saturating_sub(1)) {
        let mut rest = line;
        while let Some(at) = rest.find(id) {
            let before = rest[..at].chars().next_back();
            let next = rest[at + id.len()..].chars().next();
            let whole = before.is_none_or(|c| !is_id_char(c) && c != ':')
                && next.is_none_or(|c| !is_id_char(c));
            if whole {
                if seen == nth {
                    return Some(index + 1);
                }
                seen += 1;
            }
            rest = &rest[at + id.len()..];
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const CKPT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

    fn refused(text: &str) -> FileError {
        SharingFile::parse(text).expect_err(text)
    }

    #[test]
    fn the_example_parses_in_yaml_and_in_json() {
        let yaml = format!(
            "version: 1\ncheckpoints:\n  {CKPT}:\n    - proj_abGMw1llN8IrBb6SvvY5A1iH\n    \
             - proj_iqGMw1llN8IrBb6SvvY5A1oF\n  ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa: []\n"
        );
        let file = SharingFile::parse(&yaml).unwrap();
        assert_eq!(file.projects(CKPT).unwrap().len(), 2);
        assert!(
            file.projects("ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa")
                .unwrap()
                .is_empty()
        );
        let json = format!(
            r#"{{"version": 1, "checkpoints": {{"{CKPT}": ["proj_iqGMw1llN8IrBb6SvvY5A1oF", "proj_abGMw1llN8IrBb6SvvY5A1iH"], "ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa": []}}}}"#
        );
        assert_eq!(SharingFile::parse(&json).unwrap(), file);
        assert_eq!(SharingFile::parse(&file.to_yaml()).unwrap(), file);
    }

    #[test]
    fn every_mistake_is_refused_with_its_place() {
        let cases: &[(&str, &[&str], Option<usize>)] = &[
            ("", &["empty"], None),
            (
                "version: 2\ncheckpoints: {}\n",
                &["version 2 is not supported"],
                Some(1),
            ),
            ("checkpoints: {}\n", &["missing field `version`"], None),
            ("version: 1\n", &["missing field `checkpoints`"], None),
            (
                "version: 1\ncheckpoints: {}\nextra: 1\n",
                &["unknown field `extra`"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: []\n  ft:a:b: [proj_x]\n",
                &["named twice", "ft:a:b", "(line 4)"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - proj_x\n    - proj_x\n",
                &["listed twice", "checkpoints.ft:a:b[1]", "(line 5)"],
                Some(5),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - ''\n",
                &["invalid project id \"\"", "checkpoints.ft:a:b[0]"],
                None,
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - proj x\n",
                &["invalid project id"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  gpt-4o: []\n",
                &["invalid checkpoint id \"gpt-4o\""],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a/b: []\n",
                &["invalid checkpoint id"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n",
                &["checkpoints.ft:a:b", "list of project ids"],
                None,
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: proj_x\n",
                &["list of project ids"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: [3]\n",
                &["checkpoints.ft:a:b"],
                Some(3),
            ),
            ("version: 1\ncheckpoints: [ft:a:b]\n", &["mapping"], Some(2)),
            ("version: [\n", &["line 1"], Some(1)),
            ("- 1\n- 2\n", &["invalid type"], None),
        ];
        for (text, needles, line) in cases {
            let err = refused(text);
            let message = err.to_string();
            for needle in *needles {
                assert!(message.contains(needle), "{text:?}: {message}");
            }
            if line.is_some() {
                assert_eq!(err.line(), *line, "{text:?}: {message}");
            }
        }
    }

    #[test]
    fn ids_have_the_api_shapes() {
        assert!(check_checkpoint(CKPT).is_ok());
        assert!(check_project("proj_abGMw1llN8IrBb6SvvY5A1iH").is_ok());
        for bad in ["", "proj_", "proj", "project_x", "proj_a b", "proj_ü"] {
            assert!(check_project(bad).is_err(), "{bad:?}");
        }
        let long = format!("ft:{}", "a".repeat(MAX_ID_LEN));
        for bad in [
            "",
            "ft",
            "gpt:x",
            "ft:a b",
            "ft:a?b",
            "ft:a%2F",
            long.as_str(),
        ] {
            assert!(check_checkpoint(bad).is_err(), "{bad:?}");
        }
        assert!(SharingFile::new([(CKPT, vec!["proj_a"])]).is_ok());
        assert!(SharingFile::new([(CKPT, vec!["nope"])]).is_err());
        // Lines are found for ids written as whole tokens only.
        let text = "a:\n  proj_ab: x\n  - proj_a\n  - \"proj_a\"\n";
        assert_eq!(line_of(text, "proj_a", 0, 0), Some(3));
        assert_eq!(line_of(text, "proj_a", 0, 1), Some(4));
        assert_eq!(line_of(text, "proj_a", 4, 0), Some(4));
        assert_eq!(line_of(text, "proj_z", 0, 0), None);
        assert_eq!(line_of(text, "", 0, 0), None);
        assert!(SharingFile::new([(CKPT, Vec::<String>::new()), (CKPT, vec![])]).is_err());
    }
}
