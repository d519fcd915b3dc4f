//! `cargo xtask sync-spec`: the OpenAPI fragment, regenerated from the official
//! document.
//!
//! [`sync`] reads a full upstream document (OpenAPI 3.0 or 3.1) and the overlay, and
//! returns the fragment that `openapi/permissions.yaml` must hold:
//!
//! 1. take the operations the overlay's `x-sync` selects, without the dropped
//!    extensions, converted to OpenAPI 3.0 ([`convert`]);
//! 2. merge `x-sync.everyOperation` into each of them, then the rest of the overlay
//!    over the whole fragment ([`overlay`]);
//! 3. copy every component that the fragment references, transitively (overlay
//!    components of the same name are merged over them), and the security schemes
//!    it names; keep the upstream tags the operations use;
//! 4. put every key in a stable order ([`order`]), write YAML under a generated
//!    header, and check that the result is a fragment the generator accepts.
//!
//! [`summary::compare`] then tells what changed between two fragments, and which
//! changes break users of the generated client.

pub mod convert;
pub mod order;
pub mod overlay;
pub mod summary;
pub mod walk;

use std::collections::BTreeSet;

pub use convert::Note;
pub use overlay::Overlay;
use permissions_codegen::yaml::{self, Map, Node};
pub use summary::{Change, ChangeKind, Direction, Impact, Summary};
use walk::{Kind, METHODS, escape, unescape, walk};

/// The OpenAPI version of every written fragment.
pub const OPENAPI_VERSION: &str = "3.0.3";

/// Why a sync failed. Nothing is written when it does.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SyncError {
    /// The upstream text is not YAML (or JSON).
    #[error("the upstream document is not valid YAML: {0}")]
    UpstreamYaml(#[source] serde_norway::Error),
    /// The upstream document is YAML but not an OpenAPI 3.0/3.1 document we can use.
    #[error("the upstream document {0}")]
    Upstream(String),
    /// The overlay is malformed.
    #[error("overlay: {0}")]
    Overlay(String),
    /// A `$ref` of the fragment points nowhere, or somewhere the sync cannot follow.
    #[error("{at}: `$ref: {reference}` {problem}")]
    Reference {
        /// Where the reference is, as a JSON pointer.
        at: String,
        /// The reference.
        reference: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The fragment could not be written as YAML.
    #[error("cannot write the fragment as YAML: {0}")]
    Emit(#[source] serde_norway::Error),
    /// The written fragment is not one the generator accepts (a sync bug, or an
    /// overlay that breaks the document).
    #[error("the synced fragment is not usable: {0}")]
    Invalid(#[source] permissions_codegen::SpecError),
}

/// The result of a sync.
#[derive(Debug, Clone)]
pub struct Synced {
    /// The fragment's text, header included: what `openapi/permissions.yaml` holds.
    pub text: String,
    /// The fragment, as a tree.
    pub document: Node,
    /// What the sync converted or overrode, for the reviewer.
    pub notes: Vec<Note>,
    /// How many operations were taken.
    pub operations: usize,
    /// How many components were taken from upstream.
    pub components: usize,
}

/// Syncs the fragment: `upstream` is the full official document's text (its file
/// name, `upstream_name`, goes in the header), `overlay` the text of
/// `openapi/overlay.yaml`.
pub fn sync(upstream: &str, upstream_name: &str, overlay: &str) -> Result<Synced, SyncError> {
    let overlay = Overlay::parse(overlay)?;
    let root = yaml::parse(upstream).map_err(SyncError::UpstreamYaml)?;
    let Node::Map(root) = root else {
        return Err(SyncError::Upstream(format!(
            "is {}, not an OpenAPI document",
            root.kind()
        )));
    };
    let version = root
        .get("openapi")
        .map(|v| match v {
            Node::Str(s) => s.clone(),
            other => other.brief(),
        })
        .unwrap_or_else(|| "(missing)".into());
    if !(version.starts_with("3.0.") || version.starts_with("3.1.")) {
        return Err(SyncError::Upstream(format!(
            "has `openapi: {version}`; sync-spec reads OpenAPI 3.0.x and 3.1.x"
        )));
    }
    let info = root.get("info").and_then(Node::as_map);
    let info_field = |key: &str| -> Result<Node, SyncError> {
        info.and_then(|i| i.get(key))
            .filter(|v| v.as_str().is_some())
            .cloned()
            .ok_or_else(|| SyncError::Upstream(format!("has no `info.{key}` string")))
    };
    let title = info_field("title")?;
    let info_version = info_field("version")?;
    let Some(Node::Map(upstream_paths)) = root.get("paths") else {
        return Err(SyncError::Upstream("has no `paths` mapping".into()));
    };
    let empty = Map::new();
    let upstream_components = match root.get("components") {
        None => &empty,
        Some(Node::Map(components)) => components,
        Some(other) => {
            return Err(SyncError::Upstream(format!(
                "has `components` that is {}, not a mapping",
                other.kind()
            )));
        }
    };

    let mut notes = Vec::new();
    let drop = overlay.drop_extensions.as_slice();

    // 1. The selected operations, each with the path item it sits in.
    let mut paths = Map::new();
    let mut operations = 0;
    let mut found_ids = BTreeSet::new();
    for (path, item) in upstream_paths {
        let Node::Map(item) = item else { continue };
        let mut taken = Map::new();
        let mut any = false;
        for (key, value) in item {
            if METHODS.contains(&key.as_str()) {
                let id = value.get_str("operationId");
                if !overlay.selects(path, id) {
                    continue;
                }
                found_ids.extend(id.map(str::to_owned));
                any = true;
                operations += 1;
            }
            taken.insert(key.clone(), value.clone());
        }
        if any {
            let mut taken = Node::Map(taken);
            let at = format!("#/paths/{}", escape(path));
            prepare(&mut taken, Kind::PathItem, &at, drop, &mut notes);
            if let Some(every) = &overlay.every_operation {
                for method in METHODS {
                    if let Some(op) = taken.as_map_mut().and_then(|m| m.get_mut(method)) {
                        let at = format!("{at}/{method}");
                        overlay::merge_patch(op, every, &at, &mut notes);
                    }
                }
            }
            paths.insert(path.clone(), taken);
        }
    }
    if operations == 0 {
        return Err(SyncError::Upstream(format!(
            "has no operation that `x-sync` selects (paths {:?}, operationIds {:?})",
            overlay.paths, overlay.operation_ids
        )));
    }
    for id in &overlay.operation_ids {
        if !found_ids.contains(id) {
            notes.push(Note {
                at: "overlay x-sync.operationIds".into(),
                what: format!("`{id}` is not in the upstream document"),
            });
        }
    }
    check_overlay_paths(&overlay.document, &paths)?;

    // 2. The skeleton, then the overlay over it.
    let mut document = Map::new();
    document.insert("openapi".into(), OPENAPI_VERSION.into());
    document.insert(
        "info".into(),
        Node::Map(Map::from_iter([
            ("title".to_owned(), title.clone()),
            ("version".to_owned(), info_version.clone()),
        ])),
    );
    for key in ["servers", "security"] {
        if let Some(value) = root.get(key) {
            document.insert(key.into(), value.clone());
        }
    }
    document.insert("paths".into(), Node::Map(paths));
    let mut document = Node::Map(document);
    overlay::merge_patch(&mut document, &overlay.document, "#", &mut notes);
    let Node::Map(mut document) = document else {
        return Err(SyncError::Overlay("replaces the whole document".into()));
    };

    // 3. Every component referenced, transitively, and every security scheme named.
    let components = pull_components(
        &mut document,
        upstream_components,
        &overlay.document,
        drop,
        &mut notes,
    )?;
    if overlay.document.get("tags").is_none() {
        let used = used_tags(&document);
        let tags: Vec<Node> = root
            .get("tags")
            .and_then(Node::as_seq)
            .unwrap_or_default()
            .iter()
            .filter(|tag| tag.get_str("name").is_some_and(|n| used.contains(n)))
            .cloned()
            .collect();
        if !tags.is_empty() {
            document.insert("tags".into(), Node::Seq(tags));
        }
    }

    // 4. Stable order, header, YAML, and a last check.
    let mut document = Node::Map(document);
    walk(&mut document, Kind::Document, "#", &mut order::reorder);
    let header = header(
        &overlay,
        upstream,
        upstream_name,
        &version,
        title.as_str().unwrap_or_default(),
        info_version.as_str().unwrap_or_default(),
    );
    let body = yaml::to_yaml(&document).map_err(SyncError::Emit)?;
    let text = format!("{header}{body}");
    permissions_codegen::Spec::parse(&text).map_err(SyncError::Invalid)?;
    Ok(Synced {
        text,
        document,
        notes,
        operations,
        components,
    })
}

/// Readies `item`, an object of kind `kind` taken from upstream at `at`, for the
/// fragment: the `drop` extensions removed and everything converted to 3.0, at every
/// depth.
fn prepare(item: &mut Node, kind: Kind, at: &str, drop: &[String], notes: &mut Vec<Note>) {
    walk(item, kind, at, &mut |node, kind, at| {
        if let Some(map) = node.as_map_mut() {
            map.retain(|key, _| !drop.contains(key));
        }
        convert::convert(node, kind, at, notes);
    });
}

/// Refuses overlay `paths` entries that patch an operation the sync did not take:
/// merged in, they would make a half operation.
fn check_overlay_paths(overlay: &Node, taken: &Map) -> Result<(), SyncError> {
    let Some(patches) = overlay.get("paths") else {
        return Ok(());
    };
    let Node::Map(patches) = patches else {
        return Err(SyncError::Overlay("`paths` must be a mapping".into()));
    };
    for (path, patch) in patches {
        let Some(item) = taken.get(path) else {
            return Err(SyncError::Overlay(format!(
                "`paths` patches `{path}`, which the sync does not take from upstream \
                 (see x-sync.paths)"
            )));
        };
        for method in METHODS {
            if patch.get(method).is_some() && item.get(method).is_none() {
                return Err(SyncError::Overlay(format!(
                    "`paths` patches `{method} {path}`, which the sync does not take from \
                     upstream (see x-sync)"
                )));
            }
        }
    }
    Ok(())
}

/// The tag names the operations of `document` use.
fn used_tags(document: &Map) -> BTreeSet<String> {
    let mut used = BTreeSet::new();
    for item in document
        .get("paths")
        .and_then(Node::as_map)
        .into_iter()
        .flat_map(Map::values)
    {
        for method in METHODS {
            let tags = item.get(method).and_then(|op| op.get("tags"));
            for tag in tags.and_then(Node::as_seq).unwrap_or_default() {
                used.extend(tag.as_str().map(str::to_owned));
            }
        }
    }
    used
}

/// Copies into `document` every upstream component it references (`$ref`) or names
/// (security requirements), transitively, each passed through [`prepare`]; a component
/// the overlay defines too has the overlay's definition (from `overlay`, the overlay
/// document) merged over it. Returns how many were copied from upstream.
fn pull_components(
    document: &mut Map,
    upstream: &Map,
    overlay: &Node,
    drop: &[String],
    notes: &mut Vec<Note>,
) -> Result<usize, SyncError> {
    let mut done: BTreeSet<(String, String)> = BTreeSet::new();
    let mut copied = 0;
    loop {
        let wanted = wanted_components(document)?;
        let fresh: Vec<_> = wanted
            .into_iter()
            .filter(|(section, name, _, _)| !done.contains(&(section.clone(), name.clone())))
            .collect();
        if fresh.is_empty() {
            return Ok(copied);
        }
        for (section, name, reference, at) in fresh {
            if !done.insert((section.clone(), name.clone())) {
                continue;
            }
            let in_document = |document: &Map| {
                document
                    .get("components")
                    .and_then(|c| c.get(&section))
                    .and_then(|s| s.get(&name))
                    .cloned()
            };
            let theirs = upstream.get(&section).and_then(|s| s.get(&name));
            let component = match (theirs, in_document(document)) {
                (Some(theirs), _) => {
                    let mut component = theirs.clone();
                    let here = format!("#/components/{}/{}", escape(&section), escape(&name));
                    if let Some(kind) = walk::component_kind(&section) {
                        prepare(&mut component, kind, &here, drop, notes);
                    }
                    // The overlay's own text, whose nulls remove upstream keys.
                    let patch = overlay
                        .get("components")
                        .and_then(|c| c.get(&section))
                        .and_then(|s| s.get(&name));
                    if let Some(patch) = patch {
                        overlay::merge_patch(&mut component, patch, &here, notes);
                    }
                    copied += 1;
                    component
                }
                (None, Some(ours)) => ours,
                (None, None) => {
                    return Err(SyncError::Reference {
                        at,
                        reference,
                        problem: "is neither in the upstream document nor in the overlay".into(),
                    });
                }
            };
            let components = document
                .entry("components".to_owned())
                .or_insert_with(|| Node::Map(Map::new()));
            let Some(components) = components.as_map_mut() else {
                return Err(SyncError::Overlay("`components` must be a mapping".into()));
            };
            let entry = components
                .entry(section.clone())
                .or_insert_with(|| Node::Map(Map::new()));
            let Some(entry) = entry.as_map_mut() else {
                return Err(SyncError::Overlay(format!(
                    "`components.{section}` must be a mapping"
                )));
            };
            entry.insert(name, component);
        }
    }
}

/// Every component `document` needs, as `(section, name, reference, where)`: the
/// targets of its `$ref`s and the security schemes its requirements name.
fn wanted_components(
    document: &mut Map,
) -> Result<Vec<(String, String, String, String)>, SyncError> {
    let mut refs: Vec<(String, String)> = Vec::new();
    let mut schemes: Vec<(String, String)> = Vec::new();
    let collect_security = |node: &Node, at: &str, schemes: &mut Vec<(String, String)>| {
        for requirement in node
            .get("security")
            .and_then(Node::as_seq)
            .unwrap_or_default()
        {
            for name in requirement.as_map().into_iter().flat_map(Map::keys) {
                schemes.push((name.clone(), format!("{at}/security")));
            }
        }
    };
    let mut whole = Node::Map(std::mem::take(document));
    collect_security(&whole, "#", &mut schemes);
    walk(&mut whole, Kind::Document, "#", &mut |node, kind, at| {
        if let Some(reference) = node.get("$ref") {
            refs.push((
                reference
                    .as_str()
                    .map_or_else(|| reference.brief(), str::to_owned),
                at.to_owned(),
            ));
        }
        if kind == Kind::Operation {
            collect_security(node, at, &mut schemes);
        }
    });
    if let Node::Map(map) = whole {
        *document = map;
    }

    let mut wanted = Vec::new();
    for (reference, at) in refs {
        let target = reference
            .strip_prefix("#/components/")
            .map(|rest| rest.split('/').map(unescape).collect::<Vec<_>>());
        match target.as_deref() {
            Some([section, name, ..]) if !section.is_empty() && !name.is_empty() => {
                wanted.push((section.clone(), name.clone(), reference, at));
            }
            _ => {
                return Err(SyncError::Reference {
                    at,
                    reference,
                    problem: "is not a reference to `#/components/...`, which is all the sync \
                              follows"
                        .into(),
                });
            }
        }
    }
    for (name, at) in schemes {
        let reference = format!("#/components/securitySchemes/{}", escape(&name));
        wanted.push(("securitySchemes".into(), name, reference, at));
    }
    Ok(wanted)
}

/// FNV-1a, 64 bits, of `text` with CRLF line ends read as LF: names the exact upstream
/// text in the header without a hashing dependency (not for security).
pub fn fingerprint(text: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let bytes = text.as_bytes();
    for (index, &byte) in bytes.iter().enumerate() {
        if byte == b'\r' && bytes.get(index + 1) == Some(&b'\n') {
            continue;
        }
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

/// The width the header comment is wrapped at (a word longer than that is kept whole).
const HEADER_WIDTH: usize = 86;

/// `line` broken at spaces into lines of at most `width` characters.
fn wrap(line: &str, width: usize) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for word in line.split(' ') {
        if !current.is_empty() && current.len() + 1 + word.len() > width {
            out.push(std::mem::take(&mut current));
        }
        if !current.is_empty() {
            current.push(' ');
        }
        current.push_str(word);
    }
    out.push(current);
    out
}

/// The header comment of the written fragment: provenance and how to change it.
fn header(
    overlay: &Overlay,
    upstream: &str,
    upstream_name: &str,
    version: &str,
    title: &str,
    info_version: &str,
) -> String {
    let mut lines = vec![
        "@generated by `cargo xtask sync-spec`. Do not edit by hand: edit".to_owned(),
        "openapi/overlay.yaml and run `cargo xtask sync-spec <official document>`,".to_owned(),
        "then `cargo xtask codegen`.".to_owned(),
        String::new(),
        format!("Source: `{upstream_name}` (OpenAPI {version}, `{title}` version {info_version},"),
        format!("fingerprint {}).", fingerprint(upstream)),
    ];
    let mut selection: Vec<String> = overlay
        .paths
        .iter()
        .map(|p| format!("the operations under `{p}`"))
        .collect();
    selection.extend(
        overlay
            .operation_ids
            .iter()
            .map(|id| format!("operation `{id}`")),
    );
    let dropped = if overlay.drop_extensions.is_empty() {
        String::new()
    } else {
        format!(
            ", without {}",
            overlay
                .drop_extensions
                .iter()
                .map(|e| format!("`{e}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )
    };
    lines.push(format!(
        "Taken: {}, and every component they reference; converted to OpenAPI \
         {OPENAPI_VERSION}{dropped}; then openapi/overlay.yaml merged over it (our additions).",
        selection.join(", ")
    ));
    if let Some(prose) = &overlay.header {
        lines.push(String::new());
        lines.extend(prose.trim_end().lines().map(str::to_owned));
    }
    let mut out = String::new();
    for line in lines.iter().flat_map(|line| wrap(line, HEADER_WIDTH)) {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            out.push_str("# ");
            out.push_str(&line);
            out.push('\n');
        }
    }
    out
}
