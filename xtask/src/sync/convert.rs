//! OpenAPI 3.1 to 3.0, one object at a time, as progenitor can read it.
//!
//! Every rewrite leaves a [`Note`]: the sync prints them, so that what the fragment
//! says differently from the official document is never silent. Each rewrite is
//! idempotent, and a 3.0 document goes through unchanged (but for unknown formats and
//! broken example JSON, which are dropped from 3.0 input too).

use std::collections::BTreeSet;

use permissions_codegen::yaml::{Map, Node};

use super::walk::{Kind, unescape};

/// A rewrite made while converting, or a fact the reviewer should see.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    /// Where, as a JSON pointer into the fragment (`#/components/schemas/...`).
    pub at: String,
    /// What was done, in a few words.
    pub what: String,
}

/// Formats that progenitor (typify) turns into a specific Rust type or that OpenAPI
/// 3.0 defines, per JSON type; any other format is dropped (typify would ignore it or,
/// for integers, refuse it), with a note.
const KNOWN_FORMATS: &[(&str, &[&str])] = &[
    (
        "integer",
        &[
            "int8", "uint8", "int16", "uint16", "int", "int32", "uint", "uint32", "int64", "uint64",
        ],
    ),
    ("number", &["float", "double"]),
    (
        "string",
        &[
            "uuid",
            "date",
            "date-time",
            "ip",
            "ipv4",
            "ipv6",
            "byte",
            "binary",
            "password",
            "email",
            "uri",
        ],
    ),
];

/// Keywords of JSON Schema 2020-12 that have no meaning in an OpenAPI 3.0 document.
const DROPPED_KEYWORDS: &[&str] = &["$schema", "$id", "$comment", "$anchor", "$dynamicAnchor"];

/// Converts the object `node`, of kind `kind` at `at`, from OpenAPI 3.1 to 3.0 in
/// place, without looking at the objects inside it (the walk does those).
pub fn convert(node: &mut Node, kind: Kind, at: &str, notes: &mut Vec<Note>) {
    let Some(map) = node.as_map_mut() else {
        return;
    };
    if map.contains_key("$ref") {
        return;
    }
    let mut note = |what: String| {
        notes.push(Note {
            at: at.to_owned(),
            what,
        })
    };
    match kind {
        Kind::Schema => convert_schema(map, &mut note),
        Kind::Info => {
            for key in ["summary", "license/identifier"] {
                let removed = match key.split_once('/') {
                    Some((outer, inner)) => map
                        .get_mut(outer)
                        .and_then(Node::as_map_mut)
                        .and_then(|m| m.shift_remove(inner)),
                    None => map.shift_remove(key),
                };
                if removed.is_some() {
                    note(format!("dropped 3.1-only `{key}`"));
                }
            }
        }
        Kind::Response => {
            if !map.contains_key("description") {
                map.insert("description".into(), "".into());
                note("added the empty `description` that 3.0 requires".into());
            }
        }
        Kind::MediaType => {
            let json = at
                .rsplit('/')
                .next()
                .is_some_and(|media| unescape(media).contains("json"));
            if json {
                if map.get("example").is_some_and(is_broken_json_text) {
                    map.shift_remove("example");
                    note("dropped an `example` that is not valid JSON".into());
                }
                if let Some(Node::Map(examples)) = map.get_mut("examples") {
                    examples.retain(|name, example| {
                        let broken = example.get("value").is_some_and(is_broken_json_text);
                        if broken {
                            note(format!(
                                "dropped example `{name}`: its value is not valid JSON"
                            ));
                        }
                        !broken
                    });
                }
            }
        }
        Kind::Parameter | Kind::Header => {
            let structured = map
                .get("schema")
                .and_then(|s| s.get_str("type"))
                .is_some_and(|t| t == "object" || t == "array");
            if structured && map.get("example").is_some_and(is_broken_json_text) {
                map.shift_remove("example");
                note("dropped an `example` that is not valid JSON".into());
            }
        }
        Kind::Document
        | Kind::Components
        | Kind::PathItem
        | Kind::Operation
        | Kind::RequestBody
        | Kind::Tag
        | Kind::SecurityScheme
        | Kind::Example => {}
    }
}

/// Whether `value` is a string that was meant as JSON text (it starts with `{` or
/// `[`) but does not parse as JSON.
fn is_broken_json_text(value: &Node) -> bool {
    let Some(text) = value.as_str() else {
        return false;
    };
    let trimmed = text.trim_start();
    (trimmed.starts_with('{') || trimmed.starts_with('['))
        && serde_json::from_str::<serde::de::IgnoredAny>(text).is_err()
}

/// Whether `branch` of an `anyOf`/`oneOf` is the `null` type and nothing else that
/// matters (a title or description may come with it).
fn is_null_branch(branch: &Node) -> bool {
    branch.as_map().is_some_and(|m| {
        m.get("type").and_then(Node::as_str) == Some("null")
            && m.keys()
                .all(|k| matches!(k.as_str(), "type" | "title" | "description"))
    })
}

/// Whether `branch` of an `anyOf`/`oneOf` is one constant (with its type, title or
/// description at most).
fn is_const_branch(branch: &Node) -> bool {
    branch.as_map().is_some_and(|m| {
        m.contains_key("const")
            && m.keys()
                .all(|k| matches!(k.as_str(), "const" | "type" | "title" | "description"))
    })
}

fn set_nullable(map: &mut Map) {
    map.insert("nullable".into(), Node::Bool(true));
}

/// A schema that allows only `null`: 3.0 has no `null` type.
fn make_null_only(map: &mut Map) {
    set_nullable(map);
    if !map.contains_key("enum") {
        map.insert("enum".into(), Node::Seq(vec![Node::Null]));
    }
}

fn convert_schema(map: &mut Map, note: &mut dyn FnMut(String)) {
    // `anyOf: [X, {type: "null"}]` (and oneOf): X, nullable.
    for key in ["anyOf", "oneOf"] {
        let Some(Node::Seq(branches)) = map.get(key) else {
            continue;
        };
        let has_null = branches.iter().any(is_null_branch);
        let rest: Vec<Node> = branches
            .iter()
            .filter(|b| !is_null_branch(b))
            .cloned()
            .collect();
        if rest.len() >= 2 && rest.iter().all(is_const_branch) {
            // An enum spelled as one `const` per value.
            let values: Vec<Node> = rest
                .iter()
                .filter_map(|b| b.get("const"))
                .cloned()
                .collect();
            let types: BTreeSet<&str> = rest.iter().filter_map(|b| b.get_str("type")).collect();
            map.shift_remove(key);
            if !map.contains_key("enum") {
                map.insert("enum".into(), Node::Seq(values));
            }
            if let (false, Some(only), 1) = (map.contains_key("type"), types.first(), types.len()) {
                map.insert("type".into(), (*only).into());
            }
            if has_null {
                set_nullable(map);
            }
            note(format!("`{key}` of consts -> enum"));
            continue;
        }
        if !has_null {
            continue;
        }
        set_nullable(map);
        match <[Node; 1]>::try_from(rest) {
            Ok([only]) => {
                map.shift_remove(key);
                if only.get("$ref").is_some() {
                    // 3.0 ignores the siblings of a `$ref`: wrap it so `nullable` counts.
                    match map.get_mut("allOf") {
                        Some(Node::Seq(all)) => all.push(only),
                        _ => {
                            map.insert("allOf".into(), Node::Seq(vec![only]));
                        }
                    }
                    note(format!("`{key}` of a $ref and null -> allOf + nullable"));
                } else if let Node::Map(inner) = only {
                    for (k, v) in inner {
                        // The outer schema's own keys (a description) win.
                        map.entry(k).or_insert(v);
                    }
                    note(format!("`{key}` of a schema and null -> nullable"));
                }
            }
            Err(rest) if rest.is_empty() => {
                map.shift_remove(key);
                make_null_only(map);
                note(format!("`{key}` of null only -> enum [null]"));
            }
            Err(rest) => {
                map.insert(key.into(), Node::Seq(rest));
                note(format!("null branch of `{key}` -> nullable"));
            }
        }
    }

    // `type: [X, "null"]`: X, nullable. `type: "null"`: enum [null].
    match map.get("type") {
        Some(Node::Seq(types)) => {
            let has_null = types.iter().any(|t| t.as_str() == Some("null"));
            let rest: Vec<Node> = types
                .iter()
                .filter(|t| t.as_str() != Some("null"))
                .cloned()
                .collect();
            map.shift_remove("type");
            if has_null {
                set_nullable(map);
            }
            match <[Node; 1]>::try_from(rest) {
                Ok([only]) => {
                    map.insert("type".into(), only);
                    note("type list -> type + nullable".into());
                }
                Err(rest) if rest.is_empty() => {
                    make_null_only(map);
                    note("type [null] -> enum [null]".into());
                }
                Err(rest) => {
                    let alternatives: Vec<Node> = rest
                        .into_iter()
                        .map(|t| Node::Map(Map::from_iter([("type".to_owned(), t)])))
                        .collect();
                    match map.get_mut("anyOf") {
                        Some(Node::Seq(existing)) => {
                            let existing = std::mem::take(existing);
                            map.shift_remove("anyOf");
                            let both = vec![
                                Node::Map(Map::from_iter([("anyOf".into(), Node::Seq(existing))])),
                                Node::Map(Map::from_iter([(
                                    "anyOf".into(),
                                    Node::Seq(alternatives),
                                )])),
                            ];
                            map.insert("allOf".into(), Node::Seq(both));
                        }
                        _ => {
                            map.insert("anyOf".into(), Node::Seq(alternatives));
                        }
                    }
                    note("type list of several types -> anyOf".into());
                }
            }
        }
        Some(Node::Str(t)) if t == "null" => {
            map.shift_remove("type");
            make_null_only(map);
            note("type null -> enum [null]".into());
        }
        _ => {}
    }

    // `const: v`: `enum: [v]`, with the type it implies when none is given.
    if let Some(value) = map.shift_remove("const") {
        if !map.contains_key("type") {
            let implied = match value {
                Node::Str(_) => Some("string"),
                Node::Int(_) | Node::UInt(_) => Some("integer"),
                Node::Float(_) => Some("number"),
                Node::Bool(_) => Some("boolean"),
                _ => None,
            };
            if let Some(implied) = implied {
                map.insert("type".into(), implied.into());
            }
        }
        match map.get("enum") {
            Some(Node::Seq(values)) if values.contains(&value) => {}
            _ => {
                map.insert("enum".into(), Node::Seq(vec![value.clone()]));
            }
        }
        note(format!("const {} -> enum", value.brief()));
    }

    // `examples: [a, ...]`: `example: a`.
    if let Some(examples) = map.shift_remove("examples") {
        match examples {
            Node::Seq(values) if !values.is_empty() => {
                if !map.contains_key("example") {
                    map.insert("example".into(), values[0].clone());
                }
                note("examples -> example (the first)".into());
            }
            _ => note("dropped `examples` that is not a non-empty list".into()),
        }
    }

    // Numeric `exclusiveMinimum: n` (3.1): `minimum: n, exclusiveMinimum: true`.
    for (exclusive, bound) in [
        ("exclusiveMinimum", "minimum"),
        ("exclusiveMaximum", "maximum"),
    ] {
        if let Some(value @ (Node::Int(_) | Node::UInt(_) | Node::Float(_))) = map.get(exclusive) {
            let value = value.clone();
            map.insert(bound.into(), value);
            map.insert(exclusive.into(), Node::Bool(true));
            note(format!(
                "numeric `{exclusive}` -> `{bound}` + `{exclusive}: true`"
            ));
        }
    }

    // contentEncoding/contentMediaType (3.1): the 3.0 string formats.
    let encoding = map.shift_remove("contentEncoding");
    let media = map.shift_remove("contentMediaType");
    if encoding.is_some() || media.is_some() {
        if !map.contains_key("format") {
            let format = if encoding.as_ref().and_then(Node::as_str) == Some("base64") {
                "byte"
            } else {
                "binary"
            };
            map.insert("format".into(), format.into());
        }
        note("contentEncoding/contentMediaType -> format".into());
    }

    // Formats progenitor does not know.
    if let Some(format) = map.get("format").and_then(Node::as_str) {
        let ty = map.get("type").and_then(Node::as_str);
        let known = KNOWN_FORMATS
            .iter()
            .filter(|(t, _)| ty.is_none_or(|ty| ty == *t))
            .any(|(_, formats)| formats.contains(&format));
        if !known {
            note(format!(
                "dropped `format: {format}` ({} has no such format)",
                ty.unwrap_or("a schema without type")
            ));
            map.shift_remove("format");
        }
    }

    // An example of an object or array written as JSON text that does not parse.
    let structured = matches!(
        map.get("type").and_then(Node::as_str),
        Some("object" | "array") | None
    );
    if structured && map.get("example").is_some_and(is_broken_json_text) {
        map.shift_remove("example");
        note("dropped an `example` that is not valid JSON".into());
    }

    for keyword in DROPPED_KEYWORDS {
        map.shift_remove(*keyword);
    }
}
