//! The sharing file: which projects each named checkpoint is shared with.
//!
//! ```yaml
//! version: 1
//! checkpoints:
//!   ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:
//!     - proj_abGMw1llN8IrBb6SvvY5A1iH          # a project by id
//!     - name: Research                           # by name
//!     - {id: proj_iqGMw1llN8IrBb6SvvY5A1oF, name: Support}   # both: the id wins
//!   ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa: []      # shared with no project
//! ```
//!
//! YAML, or the same structure as JSON (which is YAML too; a JSON file may carry a
//! `"$schema"` key for editors). A checkpoint listed with `[]` is shared with no
//! project; checkpoints absent from the file are never touched. Names are looked
//! up in the organization when the file is planned ([`crate::resolve`]).
//!
//! Everything else is refused while parsing, with the key path and the line: an
//! unknown `version`, an unknown key, a checkpoint named twice, a project listed
//! twice under one checkpoint, an id that does not have its type's shape
//! ([`permissions_api::permissions_types::ids`]), a checkpoint without a list
//! (`ft:...:` alone), any value of the wrong type, anchors, aliases and tags,
//! and a second YAML document (after `---` or `...`).
//!
//! [`json_schema`] is the format as a JSON Schema, for editors.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::path::Path;

use marked_yaml::types::{MarkedMappingNode, MarkedScalarNode};
use marked_yaml::{LoadError, LoaderOptions, Node};
use permissions_api::permissions_types::{CheckpointId, ProjectId};
use schemars::JsonSchema;
use serde::Serialize;

/// The only version of the format.
pub const VERSION: u64 = 1;
/// The largest sharing file read: 16 MiB.
pub const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The sharing that a file asks for: for each checkpoint it names, the projects it
/// is shared with, by id, by name or both; sorted by id, else by name (each entry
/// keeps its place in the file).
///
/// ```
/// use permissions_sharing::{ProjectRef, SharingFile};
///
/// let file = SharingFile::parse(
///     "version: 1\ncheckpoints:\n  ft:gpt-4o-mini:org:demo:abc:\n    - proj_b\n    - name: Research\n",
/// )?;
/// let (checkpoint, entries) = file.checkpoints().next().unwrap();
/// assert_eq!(checkpoint.as_str(), "ft:gpt-4o-mini:org:demo:abc");
/// assert_eq!(entries[0].project, ProjectRef::Name("Research".into()));
/// assert_eq!(entries[0].place.line, Some(5));
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
    checkpoints: BTreeMap<CheckpointId, Vec<Entry>>,
}

/// How a file names a project.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ProjectRef {
    /// `- proj_...`.
    Id(ProjectId),
    /// `- name: Research`: the one project of the organization with that name.
    Name(String),
    /// `- {id: proj_..., name: Research}`: the id decides; the name is checked
    /// (a warning when it no longer matches) and kept for readers of the file.
    IdAndName {
        /// The project.
        id: ProjectId,
        /// Its name, as the file says.
        name: String,
    },
}

impl ProjectRef {
    /// The id the file gives, if any.
    pub fn id(&self) -> Option<&ProjectId> {
        match self {
            Self::Id(id) | Self::IdAndName { id, .. } => Some(id),
            Self::Name(_) => None,
        }
    }

    /// The name the file gives, if any.
    pub fn name(&self) -> Option<&str> {
        match self {
            Self::Name(name) | Self::IdAndName { name, .. } => Some(name),
            Self::Id(_) => None,
        }
    }

    /// What the entry is sorted by in a written file: its id, else its name.
    fn sort_key(&self) -> &str {
        self.id()
            .map_or_else(|| self.name().unwrap_or_default(), ProjectId::as_str)
    }
}

impl fmt::Display for ProjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Id(id) => write!(f, "{id}"),
            Self::Name(name) => write!(f, "the project named {name:?}"),
            Self::IdAndName { id, name } => write!(f, "{id} ({name:?})"),
        }
    }
}

/// Where something stands in a file: its key path and, when known, its line.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Place {
    /// The key path, such as `checkpoints.ft:...:B7R9VjQd[2]`.
    pub path: String,
    /// The line (1-based), for what was read from a file.
    pub line: Option<usize>,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        if let Some(line) = self.line {
            write!(f, " (line {line})")?;
        }
        Ok(())
    }
}

/// One project entry of a checkpoint.
///
/// Two entries are equal when they name the same project the same way; where they
/// stand is not compared, so that a file equals the file its text parses to.
#[derive(Clone, Debug)]
pub struct Entry {
    /// The project.
    pub project: ProjectRef,
    /// Where the entry stands.
    pub place: Place,
}

impl PartialEq for Entry {
    fn eq(&self, other: &Self) -> bool {
        self.project == other.project
    }
}

impl Eq for Entry {}

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

    /// A refusal of what stands at `path`, on `line`.
    pub(crate) fn at(path: &str, line: Option<usize>, why: impl fmt::Display) -> Self {
        let place = Place {
            path: path.to_owned(),
            line,
        };
        Self {
            message: format!("{place}: {why}"),
            line,
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
    ///
    /// ```
    /// use permissions_sharing::{ProjectRef, SharingFile};
    ///
    /// let file = SharingFile::new([(
    ///     "ft:gpt-4o-mini:org:demo:abc",
    ///     vec![ProjectRef::Id("proj_a".parse()?), ProjectRef::Name("Research".into())],
    /// )])?;
    /// assert_eq!(file.checkpoints().count(), 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn new<C, K, P>(checkpoints: C) -> Result<Self, FileError>
    where
        C: IntoIterator<Item = (K, P)>,
        K: AsRef<str>,
        P: IntoIterator<Item = ProjectRef>,
    {
        let mut file = Self::default();
        for (checkpoint, projects) in checkpoints {
            let checkpoint = checkpoint.as_ref();
            let id = CheckpointId::parse(checkpoint)
                .map_err(|why| FileError::at("checkpoints", None, why))?;
            if file.checkpoints.contains_key(&id) {
                return Err(FileError::at(
                    "checkpoints",
                    None,
                    format_args!("checkpoint {checkpoint:?} is named twice"),
                ));
            }
            let path = format!("checkpoints.{checkpoint}");
            let mut listed = Listed::default();
            for (index, project) in projects.into_iter().enumerate() {
                let place = Place {
                    path: format!("{path}[{index}]"),
                    line: None,
                };
                listed.push(Entry { project, place })?;
            }
            let mut entries = listed.entries;
            sort(&mut entries);
            file.checkpoints.insert(id, entries);
        }
        Ok(file)
    }

    /// Parses and checks a sharing file (YAML or JSON).
    pub fn parse(text: &str) -> Result<Self, FileError> {
        // A byte order mark, which some editors write, is no part of the YAML.
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        if text.trim().is_empty() {
            return Err(FileError::new(
                "the file is empty (expected `version: 1` and `checkpoints:`)",
            ));
        }
        // Without it every scalar counts as plain: a quoted `'~'` would read as null.
        let options = LoaderOptions::default()
            .error_on_duplicate_keys(true)
            .prevent_coercion(true);
        let root = marked_yaml::parse_yaml_with_options(0, text, options).map_err(load_error)?;
        check_one_document(text)?;
        let root = root.as_mapping().ok_or_else(|| {
            FileError::at(
                "the file",
                line(&root),
                "expected a mapping with `version` and `checkpoints`",
            )
        })?;
        let (mut version, mut checkpoints) = (None, None);
        for (key, value) in root.iter() {
            match key.as_str() {
                "version" => version = Some(value),
                "checkpoints" => checkpoints = Some(value),
                // Where JSON editors look for the schema of a file; not ours to check.
                "$schema" => {}
                other => {
                    return Err(FileError::at(
                        other,
                        scalar_line(key),
                        "unknown key (expected `version` and `checkpoints`)",
                    ));
                }
            }
        }
        let version =
            version.ok_or_else(|| FileError::new("missing `version` (expected `version: 1`)"))?;
        check_version(version)?;
        let checkpoints = checkpoints.ok_or_else(|| {
            FileError::new(
                "missing `checkpoints` (a mapping of checkpoint ids to lists of projects)",
            )
        })?;
        let checkpoints = checkpoints.as_mapping().ok_or_else(|| {
            FileError::at(
                "checkpoints",
                line(checkpoints),
                "expected a mapping of checkpoint ids to lists of projects",
            )
        })?;
        let mut file = Self::default();
        for (key, projects) in checkpoints.iter() {
            let checkpoint = CheckpointId::parse(key.as_str())
                .map_err(|why| FileError::at("checkpoints", scalar_line(key), why))?;
            let path = format!("checkpoints.{checkpoint}");
            let mut entries = read_entries(&path, projects)?;
            sort(&mut entries);
            file.checkpoints.insert(checkpoint, entries);
        }
        Ok(file)
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

    /// The checkpoints, sorted, each with its entries (sorted by id, else name).
    pub fn checkpoints(&self) -> impl Iterator<Item = (&CheckpointId, &[Entry])> {
        self.checkpoints.iter().map(|(c, p)| (c, p.as_slice()))
    }

    /// The entries of `checkpoint`, if the file names it.
    pub fn entries(&self, checkpoint: &str) -> Option<&[Entry]> {
        self.checkpoints.get(checkpoint).map(Vec::as_slice)
    }

    /// Whether some entry names a project by name only (and so needs the
    /// organization's projects to be resolved).
    pub fn has_names(&self) -> bool {
        self.checkpoints
            .values()
            .flatten()
            .any(|entry| entry.project.id().is_none())
    }

    /// The file as YAML, checkpoints sorted and each checkpoint's projects sorted
    /// by id (else by name): the same sharing always gives the same text.
    ///
    /// A name with a character that YAML 1.1 takes for a line break (U+0085,
    /// U+2028, U+2029) cannot be written faithfully by the YAML emitter (it
    /// breaks the line there, which a YAML 1.2 reader keeps as spaces): such a
    /// file is written as JSON, which YAML reads too.
    pub fn to_yaml(&self) -> String {
        #[derive(Serialize)]
        #[serde(untagged)]
        enum Out<'a> {
            Id(&'a str),
            Name { name: &'a str },
            IdAndName { id: &'a str, name: &'a str },
        }
        #[derive(Serialize)]
        struct File<'a> {
            version: u64,
            checkpoints: BTreeMap<&'a str, Vec<Out<'a>>>,
        }
        let checkpoints = self
            .checkpoints
            .iter()
            .map(|(checkpoint, entries)| {
                let out = entries
                    .iter()
                    .map(|entry| match &entry.project {
                        ProjectRef::Id(id) => Out::Id(id.as_str()),
                        ProjectRef::Name(name) => Out::Name { name },
                        ProjectRef::IdAndName { id, name } => Out::IdAndName {
                            id: id.as_str(),
                            name,
                        },
                    })
                    .collect();
                (checkpoint.as_str(), out)
            })
            .collect();
        let file = File {
            version: VERSION,
            checkpoints,
        };
        let breaks = self.checkpoints.values().flatten().any(|entry| {
            entry
                .project
                .name()
                .is_some_and(|name| name.contains(['\u{85}', '\u{2028}', '\u{2029}']))
        });
        // Strings, numbers and lists of them always serialize.
        if breaks {
            serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
        } else {
            serde_norway::to_string(&file).unwrap_or_default()
        }
    }
}

/// Sorts entries by id, else by name: the order they are planned and written in.
fn sort(entries: &mut [Entry]) {
    entries.sort_by(|a, b| {
        (a.project.sort_key(), &a.project).cmp(&(b.project.sort_key(), &b.project))
    });
}

/// The line of a node, as the loader marked it.
fn line(node: &Node) -> Option<usize> {
    node.span().start().map(|m| m.line())
}

fn scalar_line(node: &MarkedScalarNode) -> Option<usize> {
    node.span().start().map(|m| m.line())
}

/// A refusal of what the YAML parser found on `line`.
fn on_line(line: usize, why: impl fmt::Display) -> FileError {
    FileError {
        message: format!("line {line}: {why}"),
        line: Some(line),
    }
}

fn load_error(error: LoadError) -> FileError {
    let at = |marker: &marked_yaml::Marker, why: &str| on_line(marker.line(), why);
    match &error {
        LoadError::TopLevelMustBeMapping(m) | LoadError::TopLevelMustBeSequence(m) => {
            at(m, "expected a mapping with `version` and `checkpoints`")
        }
        LoadError::UnexpectedAnchor(m) => at(m, "anchors and aliases are not allowed"),
        LoadError::MappingKeyMustBeScalar(m) => at(m, "a key must be a plain value"),
        LoadError::UnexpectedTag(m) => at(m, "YAML tags are not allowed"),
        LoadError::ScanError(m, e) => at(m, &format!("not valid YAML: {}", e.info())),
        LoadError::DuplicateKey(keys) => {
            let first = scalar_line(&keys.prev_key);
            let again = scalar_line(&keys.key);
            FileError::at(
                keys.key.as_str(),
                again,
                format_args!(
                    "named twice{}",
                    first
                        .map(|l| format!(" (first on line {l})"))
                        .unwrap_or_default()
                ),
            )
        }
    }
}

/// Refuses a file of more than one YAML document. The tree above is the first
/// document's only: a `---` or `...` left in a file would hide what follows it,
/// and `--prune` would revoke the projects listed there.
fn check_one_document(text: &str) -> Result<(), FileError> {
    use yaml_rust2::parser::{Event, Parser};
    let mut parser = Parser::new_from_str(text);
    let mut documents = 0;
    loop {
        match parser.next_token() {
            Ok((Event::StreamEnd, _)) => return Ok(()),
            Ok((Event::DocumentStart, marker)) => {
                documents += 1;
                if documents > 1 {
                    return Err(on_line(
                        marker.line(),
                        "a second YAML document (after `---` or `...`); a sharing file is \
                         one document",
                    ));
                }
            }
            Ok(_) => {}
            Err(error) => {
                let why = format!("not valid YAML: {}", error.info());
                return Err(on_line(error.marker().line(), why));
            }
        }
    }
}

fn check_version(node: &Node) -> Result<(), FileError> {
    let scalar = node
        .as_scalar()
        .ok_or_else(|| FileError::at("version", line(node), "expected the format version, 1"))?;
    match scalar.as_str().parse::<u64>() {
        Ok(VERSION) => Ok(()),
        Ok(other) => Err(FileError::at(
            "version",
            scalar_line(scalar),
            format_args!("version {other} is not supported (this program reads version {VERSION})"),
        )),
        Err(_) => Err(FileError::at(
            "version",
            scalar_line(scalar),
            format_args!(
                "{:?} is not a version (expected {VERSION})",
                scalar.as_str()
            ),
        )),
    }
}

/// The entries of the checkpoint at `path`: a list of ids, `{name}` and `{id, name}`.
fn read_entries(path: &str, projects: &Node) -> Result<Vec<Entry>, FileError> {
    let list = projects.as_sequence().ok_or_else(|| {
        FileError::at(
            path,
            line(projects),
            "expected a list of projects (`[]` for none)",
        )
    })?;
    let mut listed = Listed::default();
    for (index, item) in list.iter().enumerate() {
        let place = Place {
            path: format!("{path}[{index}]"),
            line: line(item),
        };
        let refuse = |why: &dyn fmt::Display| FileError::at(&place.path, place.line, why);
        let project = match item {
            Node::Scalar(id) => {
                ProjectRef::Id(ProjectId::parse(id.as_str()).map_err(|e| refuse(&e))?)
            }
            Node::Mapping(fields) => read_named(fields).map_err(|why| refuse(&why))?,
            Node::Sequence(_) => {
                return Err(refuse(
                    &"expected a project id, `name: ...` or `{id: ..., name: ...}`",
                ));
            }
        };
        listed.push(Entry { project, place })?;
    }
    Ok(listed.entries)
}

/// `{id, name}`, `{name}` or `{id}`.
fn read_named(fields: &MarkedMappingNode) -> Result<ProjectRef, String> {
    let (mut id, mut name) = (None, None);
    for (key, value) in fields.iter() {
        let scalar = value
            .as_scalar()
            .ok_or_else(|| format!("`{}` must be a plain value", key.as_str()))?;
        let text = scalar.as_str();
        // A plain `null` or `~` is YAML's null, not a name.
        let null = scalar.may_coerce() && matches!(text, "~" | "null" | "Null" | "NULL");
        match key.as_str() {
            "id" => id = Some(ProjectId::parse(text).map_err(|e| e.to_string())?),
            "name" if null || text.trim().is_empty() => return Err("`name` is empty".into()),
            "name" => name = Some(text.to_owned()),
            other => {
                return Err(format!(
                    "unknown key `{other}` (a project is `id`, `name` or both)"
                ));
            }
        }
    }
    match (id, name) {
        (Some(id), Some(name)) => Ok(ProjectRef::IdAndName { id, name }),
        (Some(id), None) => Ok(ProjectRef::Id(id)),
        (None, Some(name)) => Ok(ProjectRef::Name(name)),
        (None, None) => Err("expected `id`, `name` or both".into()),
    }
}

/// The entries of one checkpoint so far, with where each id and each name
/// without an id is listed: a project listed twice is refused at once, however
/// long the list.
#[derive(Default)]
struct Listed {
    entries: Vec<Entry>,
    ids: HashMap<ProjectId, usize>,
    names: HashMap<String, usize>,
}

impl Listed {
    /// Adds `entry`, unless the list has its id already (or, without an id, its
    /// name).
    fn push(&mut self, entry: Entry) -> Result<(), FileError> {
        let index = self.entries.len();
        let first = match (entry.project.id(), entry.project.name()) {
            (Some(id), _) => self.ids.insert(id.clone(), index),
            (None, Some(name)) => self.names.insert(name.to_owned(), index),
            (None, None) => None,
        };
        if let Some(first) = first {
            let place = &entry.place;
            return Err(FileError::at(
                &place.path,
                place.line,
                format_args!(
                    "{} is listed twice under this checkpoint{}",
                    entry.project,
                    self.entries[first]
                        .place
                        .line
                        .map(|l| format!(" (first on line {l})"))
                        .unwrap_or_default()
                ),
            ));
        }
        self.entries.push(entry);
        Ok(())
    }
}

/// The sharing file's format as a JSON Schema (draft 2020-12), for editors that
/// check a file as it is typed. Ids carry their patterns; names, whether a project
/// exists or is archived, are checked by `plan`, not by the schema.
///
/// ```
/// let schema = permissions_sharing::file::json_schema();
/// assert_eq!(schema["properties"]["version"]["const"], 1);
/// ```
pub fn json_schema() -> serde_json::Value {
    schemars::schema_for!(FileSchema).to_value()
}

/// The file, as its schema describes it (never parsed through serde: [`SharingFile::parse`]
/// reads the YAML tree itself, to say the line of every refusal).
#[derive(JsonSchema)]
#[schemars(
    title = "ckpt-perms sharing file",
    description = "Which projects each named fine-tuned checkpoint is shared with (ckpt-perms plan|apply).",
    deny_unknown_fields
)]
#[allow(dead_code)] // Read by schemars only.
struct FileSchema {
    /// Where JSON editors find this schema.
    #[serde(rename = "$schema")]
    schema: Option<String>,
    /// The format version: 1.
    #[schemars(schema_with = "version_schema")]
    version: u64,
    /// For each checkpoint (a fine-tuned model id), the projects it is shared with;
    /// `[]` for none. Checkpoints absent from the file are never touched.
    #[schemars(schema_with = "checkpoints_schema")]
    checkpoints: BTreeMap<String, Vec<EntrySchema>>,
}

/// A project: its id, its name, or both.
#[derive(JsonSchema)]
#[schemars(rename = "ProjectEntry")]
#[serde(untagged)]
#[allow(dead_code)] // Read by schemars only.
enum EntrySchema {
    /// A project id.
    Id(ProjectId),
    /// The one project of the organization with this name.
    Name(NameSchema),
    /// A project id, with its name for the readers of the file (checked).
    IdAndName(IdAndNameSchema),
}

/// `{name: ...}`.
#[derive(JsonSchema)]
#[schemars(rename = "ProjectByName", deny_unknown_fields)]
#[allow(dead_code)] // Read by schemars only.
struct NameSchema {
    /// The project's name, exactly (names are not unique: a name that more than one
    /// project has is refused).
    #[schemars(length(min = 1))]
    name: String,
}

/// `{id: ..., name: ...}`.
#[derive(JsonSchema)]
#[schemars(rename = "ProjectById", deny_unknown_fields)]
#[allow(dead_code)] // Read by schemars only.
struct IdAndNameSchema {
    /// The project id; it decides.
    id: ProjectId,
    /// The project's name (a warning when it is not the project's name any more).
    #[serde(default)]
    #[schemars(length(min = 1))]
    name: String,
}

fn version_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({ "const": VERSION })
}

fn checkpoints_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
    let checkpoint = generator.subschema_for::<CheckpointId>();
    let entry = generator.subschema_for::<EntrySchema>();
    schemars::json_schema!({
        "type": "object",
        "propertyNames": checkpoint,
        "additionalProperties": { "type": "array", "items": entry },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const CKPT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

    fn refused(text: &str) -> FileError {
        SharingFile::parse(text).expect_err(text)
    }

    fn id(text: &str) -> ProjectRef {
        ProjectRef::Id(text.parse().unwrap())
    }

    #[test]
    fn the_example_parses_in_yaml_and_in_json() {
        let yaml = format!(
            "version: 1\ncheckpoints:\n  {CKPT}:\n    - proj_abGMw1llN8IrBb6SvvY5A1iH\n    \
             - name: Research\n    - {{id: proj_iqGMw1llN8IrBb6SvvY5A1oF, name: Support}}\n  \
             ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa: []\n"
        );
        let file = SharingFile::parse(&yaml).unwrap();
        let entries = file.entries(CKPT).unwrap();
        // Sorted by id, else by name (`R` before `p`); each keeps its place.
        assert_eq!(
            entries
                .iter()
                .map(|e| e.project.clone())
                .collect::<Vec<_>>(),
            [
                ProjectRef::Name("Research".into()),
                id("proj_abGMw1llN8IrBb6SvvY5A1iH"),
                ProjectRef::IdAndName {
                    id: "proj_iqGMw1llN8IrBb6SvvY5A1oF".parse().unwrap(),
                    name: "Support".into()
                },
            ]
        );
        let lines: Vec<_> = entries.iter().map(|e| e.place.line).collect();
        assert_eq!(lines, [Some(5), Some(4), Some(6)]);
        assert_eq!(entries[2].place.path, format!("checkpoints.{CKPT}[2]"));
        assert!(file.has_names());
        assert!(
            file.entries("ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa")
                .unwrap()
                .is_empty()
        );
        let json = format!(
            r#"{{"$schema": "./sharing-file.schema.json", "version": 1, "checkpoints": {{"{CKPT}": ["proj_abGMw1llN8IrBb6SvvY5A1iH", {{"name": "Research"}}, {{"id": "proj_iqGMw1llN8IrBb6SvvY5A1oF", "name": "Support"}}], "ft:gpt-4o-mini-2024-07-18:org:support:Q2x8LmPa": []}}}}"#
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
            (
                "version: one\ncheckpoints: {}\n",
                &["\"one\" is not a version"],
                Some(1),
            ),
            ("checkpoints: {}\n", &["missing `version`"], None),
            ("version: 1\n", &["missing `checkpoints`"], None),
            (
                "version: 1\ncheckpoints: {}\nextra: 1\n",
                &["extra (line 3): unknown key"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: []\n  ft:a:b: [proj_x]\n",
                &["named twice", "ft:a:b", "first on line 3"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - proj_x\n    - proj_x\n",
                &[
                    "listed twice",
                    "checkpoints.ft:a:b[1] (line 5)",
                    "first on line 4",
                ],
                Some(5),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - name: Research\n    - {name: Research}\n",
                &["\"Research\" is listed twice", "[1] (line 5)"],
                Some(5),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - proj_x\n    - {id: proj_x, name: X}\n",
                &["listed twice"],
                Some(5),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - ''\n",
                &["invalid project id \"\"", "checkpoints.ft:a:b[0]"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - proj x\n",
                &["invalid project id \"proj x\"", "(line 4)"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  gpt-4o: []\n",
                &["invalid checkpoint id \"gpt-4o\""],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB: []\n",
                &["checkpoint object's id", "ft:"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a/b: []\n",
                &["invalid checkpoint id"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n",
                &["checkpoints.ft:a:b", "list of projects"],
                None,
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: proj_x\n",
                &["list of projects"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: [3]\n",
                &["checkpoints.ft:a:b[0]", "invalid project id \"3\""],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - {id: proj_x, team: a}\n",
                &["unknown key `team`"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - {}\n",
                &["expected `id`, `name` or both"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - name: null\n",
                &["`name` is empty"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - [proj_x]\n",
                &["expected a project id"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - name: [Research]\n",
                &["`name` must be a plain value"],
                Some(4),
            ),
            ("version: 1\ncheckpoints: [ft:a:b]\n", &["mapping"], Some(2)),
            ("version: [\n", &["not valid YAML"], Some(2)),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - proj_x\n...\n    - proj_y\n",
                &["line 6: a second YAML document"],
                Some(6),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: [proj_x]\n---\nversion: 1\n",
                &["a second YAML document"],
                Some(4),
            ),
            (
                "version: 1\ncheckpoints: {}\n...\ngarbage: [\n",
                &["line 4: a second YAML document"],
                Some(4),
            ),
            ("- 1\n- 2\n", &["expected a mapping"], Some(1)),
            (
                "version: 1\ncheckpoints:\n  ft:a:b: &a [proj_x]\n  ft:a:c: *a\n",
                &["anchors and aliases"],
                Some(3),
            ),
            (
                "version: 1\ncheckpoints:\n  ft:a:b:\n    - sk-admin-0123456789abcdefghij\n",
                &["looks like an API key"],
                Some(4),
            ),
        ];
        for (text, needles, line) in cases {
            let err = refused(text);
            let message = err.to_string();
            for needle in *needles {
                assert!(message.contains(needle), "{text:?}: {message}");
            }
            assert!(!message.contains("0123456789abcdefghij"), "{message}");
            if line.is_some() {
                assert_eq!(err.line(), *line, "{text:?}: {message}");
            }
        }
    }

    /// A byte order mark is skipped; one document alone, ended by `...` or
    /// begun by `---`, is read.
    #[test]
    fn a_byte_order_mark_and_document_markers_are_read() {
        let text = format!("version: 1\ncheckpoints:\n  {CKPT}: [proj_x]\n");
        let file = SharingFile::parse(&text).unwrap();
        for marked in [
            format!("\u{feff}{text}"),
            format!("---\n{text}..."),
            format!("{text}...\n# the end\n"),
        ] {
            assert_eq!(SharingFile::parse(&marked).unwrap(), file, "{marked:?}");
        }
    }

    #[test]
    fn a_file_of_entries_is_built_and_written_sorted() {
        let file = SharingFile::new([(
            CKPT,
            vec![
                ProjectRef::Name("Zeta".into()),
                id("proj_b"),
                ProjectRef::IdAndName {
                    id: "proj_a".parse().unwrap(),
                    name: "Alpha: the first".into(),
                },
            ],
        )])
        .unwrap();
        let text = file.to_yaml();
        assert_eq!(
            text,
            format!(
                "version: 1\ncheckpoints:\n  {CKPT}:\n  - name: Zeta\n  - id: proj_a\n    \
                 name: 'Alpha: the first'\n  - proj_b\n"
            ),
        );
        assert_eq!(SharingFile::parse(&text).unwrap(), file);
        assert!(SharingFile::new([(CKPT, vec![id("proj_a"), id("proj_a")])]).is_err());
        assert!(SharingFile::new([("nope", vec![])]).is_err());
        assert!(SharingFile::new([(CKPT, vec![]), (CKPT, vec![])]).is_err());
    }

    #[test]
    fn a_quoted_null_is_a_name_and_a_plain_one_is_not() {
        // Found by `written_files_read_back_the_same`: a project named `~`.
        for name in ["~", "null", "NULL"] {
            let text = format!("version: 1\ncheckpoints:\n  {CKPT}:\n    - name: '{name}'\n");
            let file = SharingFile::parse(&text).unwrap();
            let entries = &file.checkpoints.values().next().unwrap();
            assert_eq!(entries[0].project, ProjectRef::Name(name.into()), "{text}");
            let plain = format!("version: 1\ncheckpoints:\n  {CKPT}:\n    - name: {name}\n");
            let err = SharingFile::parse(&plain).unwrap_err();
            assert!(err.to_string().contains("`name` is empty"), "{err}");
        }
        // A quoted version is still read (the loader no longer coerces it).
        let text = format!("version: '1'\ncheckpoints:\n  {CKPT}: []\n");
        assert!(SharingFile::parse(&text).is_ok(), "{text}");
    }

    #[test]
    fn the_schema_describes_the_format() {
        let schema = json_schema();
        assert_eq!(schema["properties"]["version"]["const"], VERSION);
        assert_eq!(
            schema["required"],
            serde_json::json!(["version", "checkpoints"])
        );
        assert_eq!(schema["additionalProperties"], false);
    }

    #[test]
    fn names_with_unicode_line_separators_read_back_the_same() {
        for name in ["\u{2028}a", "a\u{2029}b", "x\u{85}y"] {
            let projects = vec![ProjectRef::Name(name.to_owned())];
            let file = SharingFile::new([(CKPT, projects)]).unwrap();
            let text = file.to_yaml();
            assert_eq!(SharingFile::parse(&text).unwrap(), file, "{text}");
        }
    }

    proptest::proptest! {
        /// Whatever the names and ids, a file written is the file read back.
        #[test]
        fn written_files_read_back_the_same(
            entries in proptest::collection::vec(
                (proptest::option::of("proj_[A-Za-z0-9_-]{1,12}"), proptest::option::of("\\PC{1,16}")),
                0..8,
            ),
        ) {
            let mut projects = Vec::new();
            for (id, name) in entries {
                let project = match (id, name) {
                    (Some(id), Some(name)) if !name.trim().is_empty() => ProjectRef::IdAndName { id: id.parse().unwrap(), name },
                    (Some(id), _) => ProjectRef::Id(id.parse().unwrap()),
                    (None, Some(name)) if !name.trim().is_empty() => ProjectRef::Name(name),
                    _ => continue,
                };
                if !projects.iter().any(|p: &ProjectRef| (p.id().is_some() && p.id() == project.id()) || (p.id().is_none() && project.id().is_none() && p.name() == project.name())) {
                    projects.push(project);
                }
            }
            let file = SharingFile::new([(CKPT, projects)]).unwrap();
            let text = file.to_yaml();
            proptest::prop_assert_eq!(SharingFile::parse(&text).map_err(|e| e.to_string()), Ok(file), "{}", text);
        }
    }
}
