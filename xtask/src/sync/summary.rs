//! What changed between two fragments, and what of it breaks users of the client.
//!
//! The judgement depends on the direction data flows. A request schema is written
//! by the client and read by the server: taking away what a client may send (a
//! field, a parameter, an enum value, `null`) or demanding more (a new required
//! field or parameter, an optional one becoming required) breaks callers; giving
//! them more freedom does not. A response schema is written by the server and read
//! by the client: anything the client may now receive that it could not before (a
//! field going optional or nullable, a new enum value) breaks it, as does anything
//! it relied on going away (a field, an enum value, a response); new fields and
//! firmer guarantees do not. A type change breaks both ways. Component schemas are
//! judged in every direction the operations use them in.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt,
};

use permissions_codegen::yaml::{Map, Node};

/// How a change affects users of the generated client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Impact {
    /// Code or data that worked before may not work after.
    Breaking,
    /// An addition or a relaxation: what worked keeps working.
    NonBreaking,
    /// Descriptions and summaries only.
    Docs,
}

/// Which way the data of a changed schema flows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Direction {
    /// Written by the client, read by the server.
    Request,
    /// Written by the server, read by the client.
    Response,
    /// Both (a schema used in requests and responses, or in neither).
    Both,
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Request => "request",
            Self::Response => "response",
            Self::Both => "request and response",
        })
    }
}

/// What kind of change: the element that changed and how.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ChangeKind {
    /// An operation appeared.
    OperationAdded {
        /// Its operationId.
        id: String,
        /// `GET /path`.
        route: String,
    },
    /// An operation went away.
    OperationRemoved {
        /// Its operationId.
        id: String,
        /// `GET /path`.
        route: String,
    },
    /// An operation kept its id but changed method or path.
    OperationMoved {
        /// `GET /old`.
        from: String,
        /// `GET /new`.
        to: String,
    },
    /// The operation became deprecated.
    Deprecated,
    /// The operation's tags changed.
    TagsChanged,
    /// The operation's security requirements changed.
    SecurityChanged,
    /// A description, summary or title changed.
    DocsChanged {
        /// The key that changed (`description`, ...).
        key: String,
    },
    /// A parameter appeared.
    ParameterAdded {
        /// Its name.
        name: String,
        /// Where it goes (`query`, `path`, ...).
        location: String,
        /// Whether callers must send it.
        required: bool,
        /// Its type.
        shape: String,
    },
    /// A parameter went away.
    ParameterRemoved {
        /// Its name.
        name: String,
        /// Where it went (`query`, `path`, ...).
        location: String,
    },
    /// A parameter, body or field became required.
    BecameRequired,
    /// A parameter, body or field became optional.
    BecameOptional,
    /// The operation gained a request body.
    RequestBodyAdded,
    /// The operation lost its request body.
    RequestBodyRemoved,
    /// A media type appeared.
    MediaTypeAdded(String),
    /// A media type went away.
    MediaTypeRemoved(String),
    /// A response status appeared.
    ResponseAdded(String),
    /// A response status went away.
    ResponseRemoved(String),
    /// A response link appeared (ours: the overlay's, for stateful testing).
    LinkAdded(String),
    /// A response link went away.
    LinkRemoved(String),
    /// A response link now names other operations or parameters.
    LinkChanged(String),
    /// A component schema appeared.
    SchemaAdded(String),
    /// A component schema went away.
    SchemaRemoved(String),
    /// A schema's type changed.
    TypeChanged {
        /// The old type.
        from: String,
        /// The new type.
        to: String,
    },
    /// A schema became nullable.
    BecameNullable,
    /// A schema stopped being nullable.
    NoLongerNullable,
    /// An enum gained a value.
    EnumValueAdded(String),
    /// An enum lost a value.
    EnumValueRemoved(String),
    /// A schema became an enum.
    EnumRestricted,
    /// A schema stopped being an enum.
    EnumUnrestricted,
    /// A default value changed.
    DefaultChanged {
        /// The old default (`none` when there was none).
        from: String,
        /// The new default.
        to: String,
    },
    /// An object stopped accepting unknown fields.
    UnknownFieldsRefused,
    /// An object started accepting unknown fields.
    UnknownFieldsAccepted,
    /// An object gained a field.
    FieldAdded {
        /// Its type.
        shape: String,
        /// Whether it is required.
        required: bool,
        /// Whether it may be null.
        nullable: bool,
    },
    /// An object lost a field.
    FieldRemoved,
    /// The fragments differ in a way no other kind describes.
    Unclassified,
}

/// One change of the fragment.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Change {
    /// How it affects users.
    pub impact: Impact,
    /// What changed.
    pub kind: ChangeKind,
    /// Where: `` `listGrants` parameter `limit` (query) ``, `Grant.created_at`, ...;
    /// `None` for whole operations and schemas (the kind names them).
    pub location: Option<String>,
    /// Which way the changed data flows, for changes to schemas.
    pub direction: Option<Direction>,
}

impl fmt::Display for ChangeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::OperationAdded { id, route } => write!(f, "operation added: `{id}` ({route})"),
            Self::OperationRemoved { id, route } => {
                write!(f, "operation removed: `{id}` ({route})")
            }
            Self::OperationMoved { from, to } => write!(f, "moved from {from} to {to}"),
            Self::Deprecated => f.write_str("deprecated"),
            Self::TagsChanged => f.write_str("tags changed"),
            Self::SecurityChanged => f.write_str("security requirements changed"),
            Self::DocsChanged { key } => write!(f, "{key} changed"),
            Self::ParameterAdded {
                name,
                location,
                required,
                shape,
            } => {
                let kind = if *required { "required" } else { "optional" };
                write!(f, "{kind} parameter added: `{name}` ({location}, {shape})")
            }
            Self::ParameterRemoved { name, location } => {
                write!(f, "parameter removed: `{name}` ({location})")
            }
            Self::BecameRequired => f.write_str("became required"),
            Self::BecameOptional => f.write_str("became optional"),
            Self::RequestBodyAdded => f.write_str("added"),
            Self::RequestBodyRemoved => f.write_str("removed"),
            Self::MediaTypeAdded(media) => write!(f, "media type `{media}` added"),
            Self::MediaTypeRemoved(media) => write!(f, "media type `{media}` removed"),
            Self::ResponseAdded(code) => write!(f, "response `{code}` added"),
            Self::ResponseRemoved(code) => write!(f, "response `{code}` removed"),
            Self::LinkAdded(name) => write!(f, "link `{name}` added"),
            Self::LinkRemoved(name) => write!(f, "link `{name}` removed"),
            Self::LinkChanged(name) => write!(f, "link `{name}` changed"),
            Self::SchemaAdded(name) => write!(f, "schema added: `{name}`"),
            Self::SchemaRemoved(name) => write!(f, "schema removed: `{name}`"),
            Self::TypeChanged { from, to } => write!(f, "type changed from {from} to {to}"),
            Self::BecameNullable => f.write_str("became nullable"),
            Self::NoLongerNullable => f.write_str("no longer nullable"),
            Self::EnumValueAdded(value) => write!(f, "enum value `{value}` added"),
            Self::EnumValueRemoved(value) => write!(f, "enum value `{value}` removed"),
            Self::EnumRestricted => f.write_str("now restricted to an enum"),
            Self::EnumUnrestricted => f.write_str("no longer restricted to an enum"),
            Self::DefaultChanged { from, to } => write!(f, "default changed from {from} to {to}"),
            Self::UnknownFieldsRefused => f.write_str("no longer accepts unknown fields"),
            Self::UnknownFieldsAccepted => f.write_str("now accepts unknown fields"),
            Self::FieldAdded {
                shape,
                required,
                nullable,
            } => write!(
                f,
                "field added ({shape}, {}{}",
                if *required { "required" } else { "optional" },
                if *nullable { ", nullable" } else { "" }
            ),
            Self::FieldRemoved => f.write_str("field removed"),
            Self::Unclassified => {
                f.write_str("other changes that this summary does not classify: review `git diff`")
            }
        }
    }
}

/// The one place a change becomes text: `LOCATION: KIND (DIRECTION)`.
impl fmt::Display for Change {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(location) = &self.location {
            write!(f, "{location}: ")?;
        }
        write!(f, "{}", self.kind)?;
        match (&self.kind, self.direction) {
            // Its parenthesis is open: the direction goes inside.
            (ChangeKind::FieldAdded { .. }, Some(direction)) => write!(f, "; {direction})"),
            (ChangeKind::FieldAdded { .. }, None) => f.write_str(")"),
            (_, Some(direction)) => write!(f, " ({direction})"),
            (_, None) => Ok(()),
        }
    }
}

/// Every change between two fragments, breaking ones first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// The changes, sorted by impact, then by their text.
    pub changes: Vec<Change>,
}

impl Summary {
    /// The changes of the given impact.
    pub fn of(&self, impact: Impact) -> impl Iterator<Item = &Change> {
        self.changes.iter().filter(move |c| c.impact == impact)
    }

    /// Whether any change breaks users.
    pub fn is_breaking(&self) -> bool {
        self.of(Impact::Breaking).next().is_some()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.changes.is_empty() {
            return writeln!(f, "no change to the API");
        }
        let count = |impact| self.of(impact).count();
        writeln!(
            f,
            "{} breaking, {} non-breaking, {} documentation change(s)",
            count(Impact::Breaking),
            count(Impact::NonBreaking),
            count(Impact::Docs)
        )?;
        for (impact, title) in [
            (
                Impact::Breaking,
                "BREAKING (users of the client must change):",
            ),
            (Impact::NonBreaking, "non-breaking:"),
            (Impact::Docs, "documentation:"),
        ] {
            if count(impact) > 0 {
                writeln!(f, "{title}")?;
                for change in self.of(impact) {
                    writeln!(f, "  - {change}")?;
                }
            }
        }
        Ok(())
    }
}

/// Which ways a schema's data flows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Dirs {
    request: bool,
    response: bool,
}

impl Dirs {
    const REQUEST: Dirs = Dirs {
        request: true,
        response: false,
    };
    const RESPONSE: Dirs = Dirs {
        request: false,
        response: true,
    };
    const BOTH: Dirs = Dirs {
        request: true,
        response: true,
    };

    fn union(self, other: Dirs) -> Dirs {
        Dirs {
            request: self.request || other.request,
            response: self.response || other.response,
        }
    }

    fn direction(self) -> Direction {
        match (self.request, self.response) {
            (true, false) => Direction::Request,
            (false, true) => Direction::Response,
            _ => Direction::Both,
        }
    }

    /// Breaking when the change breaks in a direction the data flows.
    fn impact(self, breaks_request: bool, breaks_response: bool) -> Impact {
        if (self.request && breaks_request) || (self.response && breaks_response) {
            Impact::Breaking
        } else {
            Impact::NonBreaking
        }
    }
}

/// Compares two fragments (OpenAPI 3.0 documents).
pub fn compare(old: &Node, new: &Node) -> Summary {
    let mut diff = Diff {
        old,
        new,
        out: BTreeSet::new(),
    };
    diff.operations();
    diff.components();
    if diff.out.is_empty() && old != new {
        diff.push(Impact::NonBreaking, None, ChangeKind::Unclassified, None);
    }
    let mut changes: Vec<Change> = diff.out.into_iter().collect();
    changes.sort_by_cached_key(|c| (c.impact, c.to_string()));
    Summary { changes }
}

struct Diff<'a> {
    old: &'a Node,
    new: &'a Node,
    out: BTreeSet<Change>,
}

/// An operation: where it is, the operation object, and its path item's parameters.
struct Op<'a> {
    method: &'a str,
    path: &'a str,
    node: &'a Node,
    path_parameters: &'a [Node],
}

impl Op<'_> {
    /// `GET /path`.
    fn route(&self) -> String {
        format!("{} {}", self.method.to_uppercase(), self.path)
    }
}

fn operations(doc: &Node) -> BTreeMap<String, Op<'_>> {
    let mut out = BTreeMap::new();
    for (path, item) in doc
        .get("paths")
        .and_then(Node::as_map)
        .into_iter()
        .flat_map(|m| m.iter())
    {
        let path_parameters = item
            .get("parameters")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        for method in super::walk::METHODS {
            if let Some(node) = item.get(method) {
                let key = node.get_str("operationId").map_or_else(
                    || format!("{} {path}", method.to_uppercase()),
                    str::to_owned,
                );
                out.insert(
                    key,
                    Op {
                        method,
                        path,
                        node,
                        path_parameters,
                    },
                );
            }
        }
    }
    out
}

/// Follows `$ref`s to local components (not of schemas: those are compared by name).
fn resolve<'a>(doc: &'a Node, mut node: &'a Node) -> &'a Node {
    for _ in 0..16 {
        let Some(target) = node.get_str("$ref") else {
            break;
        };
        let Some(found) = pointer(doc, target) else {
            break;
        };
        node = found;
    }
    node
}

fn pointer<'a>(doc: &'a Node, reference: &str) -> Option<&'a Node> {
    let path = reference.strip_prefix("#/")?;
    path.split('/')
        .try_fold(doc, |node, token| node.get(&super::walk::unescape(token)))
}

/// The last segment of a `$ref`, the component's name.
fn ref_name(reference: &str) -> String {
    super::walk::unescape(reference.rsplit('/').next().unwrap_or(reference))
}

/// The schema's type, without what is compared separately (nullability, enum values,
/// the properties of objects): `string(date-time)`, `array<Name>`, `Name` for a
/// reference (alone or in a one-item `allOf`, the 3.0 spelling of a nullable one).
fn shape(schema: &Node) -> String {
    if let Some(reference) = schema.get_str("$ref") {
        return ref_name(reference);
    }
    if let Some([only]) = schema.get("allOf").and_then(Node::as_seq)
        && let Some(reference) = only.get_str("$ref")
    {
        return ref_name(reference);
    }
    for key in ["anyOf", "oneOf", "allOf"] {
        if let Some(branches) = schema.get(key).and_then(Node::as_seq) {
            let inner: Vec<String> = branches.iter().map(shape).collect();
            return format!("{key}<{}>", inner.join(", "));
        }
    }
    let ty = match schema.get_str("type") {
        Some(ty) => ty,
        None if schema.get("properties").is_some() => "object",
        None => "any",
    };
    let mut out = ty.to_owned();
    if let Some(format) = schema.get_str("format") {
        out = format!("{out}({format})");
    }
    if ty == "array" {
        out = format!(
            "array<{}>",
            shape(schema.get("items").unwrap_or(&Node::Null))
        );
    }
    out
}

fn is_nullable(schema: &Node) -> bool {
    schema.is_true("nullable")
}

/// One key of two keyed collections, compared: the one walk every section of the
/// summary takes.
enum Pair<'a, K, V> {
    /// Only in the old collection.
    Removed(&'a K, &'a V),
    /// Only in the new one.
    Added(&'a K, &'a V),
    /// In both: the old value, then the new.
    Kept(&'a K, &'a V, &'a V),
}

/// The keys of `old` and `new`, paired (the summary sorts what it finds, so the
/// order here does not matter).
fn pairs<'a, K: Ord, V>(
    old: impl IntoIterator<Item = (&'a K, &'a V)>,
    new: impl IntoIterator<Item = (&'a K, &'a V)>,
) -> Vec<Pair<'a, K, V>> {
    let mut old: BTreeMap<&K, &V> = old.into_iter().collect();
    let mut out: Vec<Pair<'a, K, V>> = new
        .into_iter()
        .map(|(key, new)| match old.remove(key) {
            Some(old) => Pair::Kept(key, old, new),
            None => Pair::Added(key, new),
        })
        .collect();
    out.extend(old.into_iter().map(|(key, old)| Pair::Removed(key, old)));
    out
}

/// The map under `key` of `node`, or an empty one.
fn map_at<'a>(node: &'a Node, key: &str) -> impl Iterator<Item = (&'a String, &'a Node)> {
    node.get(key).and_then(Node::as_map).into_iter().flatten()
}

/// The document's component schemas.
fn component_schemas(doc: &Node) -> impl Iterator<Item = (&String, &Node)> {
    doc.get("components")
        .into_iter()
        .flat_map(|c| map_at(c, "schemas"))
}

fn string_set(node: Option<&Node>) -> BTreeSet<String> {
    node.and_then(Node::as_seq)
        .unwrap_or_default()
        .iter()
        .map(|v| v.as_str().map_or_else(|| v.brief(), str::to_owned))
        .collect()
}

fn enum_values(schema: &Node) -> Option<BTreeSet<String>> {
    schema.get("enum").map(|e| string_set(Some(e)))
}

/// The `$ref`s to component schemas inside `node`, at any depth.
fn schema_refs(node: &Node, out: &mut Vec<String>) {
    match node {
        Node::Map(map) => {
            if let Some(target) = map.get("$ref").and_then(Node::as_str)
                && target.starts_with("#/components/schemas/")
            {
                out.push(ref_name(target));
            }
            for value in map.values() {
                schema_refs(value, out);
            }
        }
        Node::Seq(items) => items.iter().for_each(|i| schema_refs(i, out)),
        _ => {}
    }
}

/// The directions each component schema of `doc` is used in.
fn directions(doc: &Node) -> BTreeMap<String, Dirs> {
    let mut roots: Vec<(Dirs, Vec<String>)> = Vec::new();
    for op in operations(doc).values() {
        let mut request = Vec::new();
        let parameters = op.path_parameters.iter().chain(
            op.node
                .get("parameters")
                .and_then(Node::as_seq)
                .unwrap_or_default(),
        );
        for parameter in parameters {
            schema_refs(resolve(doc, parameter), &mut request);
        }
        if let Some(body) = op.node.get("requestBody") {
            schema_refs(resolve(doc, body), &mut request);
        }
        let mut response = Vec::new();
        for reply in op
            .node
            .get("responses")
            .and_then(Node::as_map)
            .into_iter()
            .flat_map(Map::values)
        {
            schema_refs(resolve(doc, reply), &mut response);
        }
        roots.push((Dirs::REQUEST, request));
        roots.push((Dirs::RESPONSE, response));
    }
    let schemas = doc.get("components").and_then(|c| c.get("schemas"));
    let mut out: BTreeMap<String, Dirs> = BTreeMap::new();
    for (dirs, mut pending) in roots {
        let mut seen = BTreeSet::new();
        while let Some(name) = pending.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let entry = out.entry(name.clone()).or_default();
            *entry = entry.union(dirs);
            if let Some(schema) = schemas.and_then(|s| s.get(&name)) {
                schema_refs(schema, &mut pending);
            }
        }
    }
    out
}

impl Diff<'_> {
    fn push(
        &mut self,
        impact: Impact,
        location: Option<&str>,
        kind: ChangeKind,
        direction: Option<Direction>,
    ) {
        self.out.insert(Change {
            impact,
            kind,
            location: location.map(str::to_owned),
            direction,
        });
    }

    /// A change at `label` without a direction.
    fn at(&mut self, impact: Impact, label: &str, kind: ChangeKind) {
        self.push(impact, Some(label), kind, None);
    }

    /// A change of a schema at `label`, whose data flows `dirs`.
    fn flowing(&mut self, impact: Impact, label: &str, kind: ChangeKind, dirs: Dirs) {
        self.push(impact, Some(label), kind, Some(dirs.direction()));
    }

    fn docs(&mut self, old: &Node, new: &Node, keys: &[&str], label: &str) {
        for key in keys {
            if old.get(key) != new.get(key) {
                let key = (*key).to_owned();
                self.at(Impact::Docs, label, ChangeKind::DocsChanged { key });
            }
        }
    }

    fn operations(&mut self) {
        let (old_ops, new_ops) = (operations(self.old), operations(self.new));
        for pair in pairs(&old_ops, &new_ops) {
            match pair {
                Pair::Removed(id, op) => {
                    let (id, route) = (id.clone(), op.route());
                    let kind = ChangeKind::OperationRemoved { id, route };
                    self.push(Impact::Breaking, None, kind, None);
                }
                Pair::Added(id, op) => {
                    let (id, route) = (id.clone(), op.route());
                    let kind = ChangeKind::OperationAdded { id, route };
                    self.push(Impact::NonBreaking, None, kind, None);
                }
                Pair::Kept(id, old, new) => self.operation(id, old, new),
            }
        }
    }

    fn operation(&mut self, id: &str, old: &Op<'_>, new: &Op<'_>) {
        let label = format!("`{id}`");
        if (old.method, old.path) != (new.method, new.path) {
            let (from, to) = (old.route(), new.route());
            self.at(
                Impact::Breaking,
                &label,
                ChangeKind::OperationMoved { from, to },
            );
        }
        self.docs(old.node, new.node, &["summary", "description"], &label);
        if old.node.get("tags") != new.node.get("tags") {
            self.at(Impact::NonBreaking, &label, ChangeKind::TagsChanged);
        }
        if !old.node.is_true("deprecated") && new.node.is_true("deprecated") {
            self.at(Impact::NonBreaking, &label, ChangeKind::Deprecated);
        }
        if old.node.get("security") != new.node.get("security") {
            self.at(Impact::Breaking, &label, ChangeKind::SecurityChanged);
        }
        self.parameters(&label, old, new);
        self.request_body(
            &label,
            old.node.get("requestBody"),
            new.node.get("requestBody"),
        );
        self.responses(&label, old.node, new.node);
    }

    /// The parameters of an operation (its path item's too), by `(in, name)`.
    fn parameter_map<'d>(doc: &'d Node, op: &Op<'d>) -> BTreeMap<(String, String), &'d Node> {
        let own = op
            .node
            .get("parameters")
            .and_then(Node::as_seq)
            .unwrap_or_default();
        let mut out = BTreeMap::new();
        for parameter in op.path_parameters.iter().chain(own) {
            let parameter = resolve(doc, parameter);
            let key = (
                parameter.get_str("in").unwrap_or_default().to_owned(),
                parameter.get_str("name").unwrap_or_default().to_owned(),
            );
            out.insert(key, parameter);
        }
        out
    }

    fn parameters(&mut self, label: &str, old: &Op<'_>, new: &Op<'_>) {
        let old_params = Self::parameter_map(self.old, old);
        let new_params = Self::parameter_map(self.new, new);
        for pair in pairs(&old_params, &new_params) {
            match pair {
                Pair::Removed((location, name), _) => {
                    let (name, location) = (name.clone(), location.clone());
                    let kind = ChangeKind::ParameterRemoved { name, location };
                    self.at(Impact::Breaking, label, kind);
                }
                Pair::Added((location, name), new_param) => {
                    let required = new_param.is_true("required");
                    let impact = if required {
                        Impact::Breaking
                    } else {
                        Impact::NonBreaking
                    };
                    let kind = ChangeKind::ParameterAdded {
                        name: name.clone(),
                        location: location.clone(),
                        required,
                        shape: shape(new_param.get("schema").unwrap_or(&Node::Null)),
                    };
                    self.at(impact, label, kind);
                }
                Pair::Kept((location, name), old_param, new_param) => {
                    let here = format!("{label} parameter `{name}` ({location})");
                    let required = new_param.is_true("required");
                    self.required_changed(old_param.is_true("required"), required, &here);
                    self.docs(old_param, new_param, &["description"], &here);
                    self.schema(
                        old_param.get("schema").unwrap_or(&Node::Null),
                        new_param.get("schema").unwrap_or(&Node::Null),
                        &here,
                        Dirs::REQUEST,
                    );
                }
            }
        }
    }

    fn content(&mut self, label: &str, old: &Node, new: &Node, dirs: Dirs) {
        for pair in pairs(map_at(old, "content"), map_at(new, "content")) {
            match pair {
                Pair::Removed(media, _) => {
                    let kind = ChangeKind::MediaTypeRemoved(media.clone());
                    self.at(Impact::Breaking, label, kind);
                }
                Pair::Added(media, _) => {
                    let kind = ChangeKind::MediaTypeAdded(media.clone());
                    self.at(Impact::NonBreaking, label, kind);
                }
                Pair::Kept(_, old_media, new_media) => self.schema(
                    old_media.get("schema").unwrap_or(&Node::Null),
                    new_media.get("schema").unwrap_or(&Node::Null),
                    label,
                    dirs,
                ),
            }
        }
    }

    fn request_body(&mut self, label: &str, old: Option<&Node>, new: Option<&Node>) {
        let here = format!("{label} request body");
        match (
            old.map(|b| resolve(self.old, b)),
            new.map(|b| resolve(self.new, b)),
        ) {
            (None, None) => {}
            (Some(_), None) => self.at(Impact::Breaking, &here, ChangeKind::RequestBodyRemoved),
            (None, Some(new)) => {
                let impact = if new.is_true("required") {
                    Impact::Breaking
                } else {
                    Impact::NonBreaking
                };
                self.at(impact, &here, ChangeKind::RequestBodyAdded);
            }
            (Some(old), Some(new)) => {
                self.required_changed(old.is_true("required"), new.is_true("required"), &here);
                self.docs(old, new, &["description"], &here);
                self.content(&here, old, new, Dirs::REQUEST);
            }
        }
    }

    fn responses(&mut self, label: &str, old: &Node, new: &Node) {
        for pair in pairs(map_at(old, "responses"), map_at(new, "responses")) {
            match pair {
                Pair::Removed(code, _) => {
                    let kind = ChangeKind::ResponseRemoved(code.clone());
                    self.at(Impact::Breaking, label, kind);
                }
                Pair::Added(code, _) => {
                    let kind = ChangeKind::ResponseAdded(code.clone());
                    self.at(Impact::NonBreaking, label, kind);
                }
                Pair::Kept(code, old_response, new_response) => {
                    let here = format!("{label} response {code}");
                    let old_response = resolve(self.old, old_response);
                    let new_response = resolve(self.new, new_response);
                    self.docs(old_response, new_response, &["description"], &here);
                    self.links(old_response, new_response, &here);
                    self.content(&here, old_response, new_response, Dirs::RESPONSE);
                }
            }
        }
    }

    /// Links only guide tools (schemathesis' stateful phase): no client code
    /// depends on them, so no link change breaks.
    fn links(&mut self, old: &Node, new: &Node, label: &str) {
        for pair in pairs(map_at(old, "links"), map_at(new, "links")) {
            let kind = match pair {
                Pair::Removed(name, _) => ChangeKind::LinkRemoved(name.clone()),
                Pair::Added(name, _) => ChangeKind::LinkAdded(name.clone()),
                Pair::Kept(name, old, new) if old != new => ChangeKind::LinkChanged(name.clone()),
                Pair::Kept(..) => continue,
            };
            self.at(Impact::NonBreaking, label, kind);
        }
    }

    /// A parameter or a body whose `required` changed from `old` to `new`.
    fn required_changed(&mut self, old: bool, new: bool, label: &str) {
        match (old, new) {
            (false, true) => self.at(Impact::Breaking, label, ChangeKind::BecameRequired),
            (true, false) => self.at(Impact::NonBreaking, label, ChangeKind::BecameOptional),
            _ => {}
        }
    }

    fn components(&mut self) {
        let mut dirs = directions(self.old);
        for (name, d) in directions(self.new) {
            let entry = dirs.entry(name).or_default();
            *entry = entry.union(d);
        }
        for pair in pairs(component_schemas(self.old), component_schemas(self.new)) {
            match pair {
                Pair::Removed(name, _) => {
                    let kind = ChangeKind::SchemaRemoved(name.clone());
                    self.push(Impact::Breaking, None, kind, None);
                }
                Pair::Added(name, _) => {
                    let kind = ChangeKind::SchemaAdded(name.clone());
                    self.push(Impact::NonBreaking, None, kind, None);
                }
                Pair::Kept(name, old_schema, new_schema) => {
                    let used = dirs.get(name).copied().unwrap_or_default();
                    // An unused schema is judged as if it flowed both ways.
                    let used = if used == Dirs::default() {
                        Dirs::BOTH
                    } else {
                        used
                    };
                    self.schema(old_schema, new_schema, name, used);
                }
            }
        }
    }

    /// Compares two schemas found at `label`, whose data flows `dirs`.
    fn schema(&mut self, old: &Node, new: &Node, label: &str, dirs: Dirs) {
        let (old_shape, new_shape) = (shape(old), shape(new));
        if old_shape != new_shape {
            let kind = ChangeKind::TypeChanged {
                from: old_shape,
                to: new_shape,
            };
            self.flowing(Impact::Breaking, label, kind, dirs);
            return;
        }
        self.docs(old, new, &["title", "description"], label);
        match (is_nullable(old), is_nullable(new)) {
            (false, true) => {
                let impact = dirs.impact(false, true);
                self.flowing(impact, label, ChangeKind::BecameNullable, dirs);
            }
            (true, false) => {
                let impact = dirs.impact(true, false);
                self.flowing(impact, label, ChangeKind::NoLongerNullable, dirs);
            }
            _ => {}
        }
        if old.get("$ref").is_some() || new.get("$ref").is_some() {
            // Same component on both sides: compared once, under its own name.
            return;
        }
        match (enum_values(old), enum_values(new)) {
            (Some(old_values), Some(new_values)) => {
                let (old_keyed, new_keyed) = (
                    old_values.iter().map(|v| (v, &())),
                    new_values.iter().map(|v| (v, &())),
                );
                for pair in pairs(old_keyed, new_keyed) {
                    match pair {
                        Pair::Removed(value, ()) => {
                            let kind = ChangeKind::EnumValueRemoved(value.clone());
                            self.flowing(Impact::Breaking, label, kind, dirs);
                        }
                        Pair::Added(value, ()) => {
                            let kind = ChangeKind::EnumValueAdded(value.clone());
                            self.flowing(dirs.impact(false, true), label, kind, dirs);
                        }
                        Pair::Kept(..) => {}
                    }
                }
            }
            (None, Some(_)) => {
                let impact = dirs.impact(true, false);
                self.flowing(impact, label, ChangeKind::EnumRestricted, dirs);
            }
            (Some(_), None) => {
                let impact = dirs.impact(false, true);
                self.flowing(impact, label, ChangeKind::EnumUnrestricted, dirs);
            }
            (None, None) => {}
        }
        if old.get("default") != new.get("default") {
            let show = |n: &Node| n.get("default").map_or_else(|| "none".into(), Node::brief);
            let kind = ChangeKind::DefaultChanged {
                from: show(old),
                to: show(new),
            };
            self.at(Impact::NonBreaking, label, kind);
        }
        let closed = |n: &Node| matches!(n.get("additionalProperties"), Some(Node::Bool(false)));
        match (closed(old), closed(new)) {
            (false, true) => {
                let impact = dirs.impact(true, false);
                self.flowing(impact, label, ChangeKind::UnknownFieldsRefused, dirs);
            }
            (true, false) => {
                let impact = dirs.impact(false, false);
                self.flowing(impact, label, ChangeKind::UnknownFieldsAccepted, dirs);
            }
            _ => {}
        }
        self.properties(old, new, label, dirs);
        if let (Some(old_items), Some(new_items)) = (old.get("items"), new.get("items")) {
            self.schema(old_items, new_items, &format!("{label}[]"), dirs);
        }
        for key in ["allOf", "anyOf", "oneOf"] {
            if let (Some(a), Some(b)) = (
                old.get(key).and_then(Node::as_seq),
                new.get(key).and_then(Node::as_seq),
            ) {
                for (index, (a, b)) in a.iter().zip(b).enumerate() {
                    self.schema(a, b, &format!("{label}/{key}[{index}]"), dirs);
                }
            }
        }
    }

    fn properties(&mut self, old: &Node, new: &Node, label: &str, dirs: Dirs) {
        let old_required = string_set(old.get("required"));
        let new_required = string_set(new.get("required"));
        for pair in pairs(map_at(old, "properties"), map_at(new, "properties")) {
            match pair {
                Pair::Removed(name, _) => {
                    let here = format!("{label}.{name}");
                    self.flowing(Impact::Breaking, &here, ChangeKind::FieldRemoved, dirs);
                }
                Pair::Added(name, new_prop) => {
                    let here = format!("{label}.{name}");
                    let required = new_required.contains(name);
                    // A new required field must be sent by every caller.
                    let impact = dirs.impact(required, false);
                    let kind = ChangeKind::FieldAdded {
                        shape: shape(new_prop),
                        required,
                        nullable: is_nullable(new_prop),
                    };
                    self.flowing(impact, &here, kind, dirs);
                }
                Pair::Kept(name, old_prop, new_prop) => {
                    let here = format!("{label}.{name}");
                    match (old_required.contains(name), new_required.contains(name)) {
                        (false, true) => {
                            let impact = dirs.impact(true, false);
                            self.flowing(impact, &here, ChangeKind::BecameRequired, dirs);
                        }
                        (true, false) => {
                            let impact = dirs.impact(false, true);
                            self.flowing(impact, &here, ChangeKind::BecameOptional, dirs);
                        }
                        _ => {}
                    }
                    self.schema(old_prop, new_prop, &here, dirs);
                }
            }
        }
    }
}
