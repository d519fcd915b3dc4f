//! A walk over the structure of an OpenAPI document that knows what each object is.
//!
//! The same key means different things in different places (`examples` is a list of
//! values in a 3.1 schema and a map of Example Objects in a media type; a property
//! called `type` is not a schema's `type`), so conversion, ordering and `$ref`
//! collection all go through [`walk`], which calls back with the [`Kind`] of every
//! OpenAPI object and never descends into example values or extensions.

use permissions_codegen::yaml::{Map, Node};

/// What an object of an OpenAPI document is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The whole document.
    Document,
    /// `info`.
    Info,
    /// An entry of the top-level `tags`.
    Tag,
    /// An entry of `paths` (or of `webhooks`, a callback, `components/pathItems`).
    PathItem,
    /// An operation of a path item (`get`, `post`, ...).
    Operation,
    /// A parameter.
    Parameter,
    /// A request body.
    RequestBody,
    /// An entry of `content`.
    MediaType,
    /// A response.
    Response,
    /// A header.
    Header,
    /// A schema.
    Schema,
    /// `components`.
    Components,
    /// A security scheme.
    SecurityScheme,
    /// An Example Object (its `value` is not walked).
    Example,
}

/// The HTTP methods a path item can hold, in the order they are written out.
pub const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// The kind of the entries of `components/<section>`, or `None` for sections whose
/// entries are not walked (links).
pub fn component_kind(section: &str) -> Option<Kind> {
    Some(match section {
        "schemas" => Kind::Schema,
        "responses" => Kind::Response,
        "parameters" => Kind::Parameter,
        "requestBodies" => Kind::RequestBody,
        "headers" => Kind::Header,
        "securitySchemes" => Kind::SecurityScheme,
        "examples" => Kind::Example,
        "pathItems" => Kind::PathItem,
        _ => return None,
    })
}

/// Escapes one JSON-pointer token.
pub fn escape(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

/// Unescapes one JSON-pointer token.
pub fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Calls `f` on `node`, an object of kind `kind` at JSON pointer `at` (`#/...`),
/// then walks the OpenAPI objects it holds (as they are after `f` ran). A `$ref`
/// object is passed to `f` but not walked into. Values that are not maps are
/// skipped, so a malformed document is walked as far as it makes sense.
pub fn walk(node: &mut Node, kind: Kind, at: &str, f: &mut dyn FnMut(&mut Node, Kind, &str)) {
    f(node, kind, at);
    let Some(map) = node.as_map_mut() else {
        return;
    };
    if map.contains_key("$ref") {
        return;
    }
    match kind {
        Kind::Document => {
            child(map, "info", Kind::Info, at, f);
            list(map, "tags", Kind::Tag, at, f);
            entries(map, "paths", Kind::PathItem, at, f);
            entries(map, "webhooks", Kind::PathItem, at, f);
            child(map, "components", Kind::Components, at, f);
        }
        Kind::Components => {
            for (section, value) in map.iter_mut() {
                let Some(kind) = component_kind(section) else {
                    continue;
                };
                let here = format!("{at}/{}", escape(section));
                if let Some(items) = value.as_map_mut() {
                    for (name, item) in items.iter_mut() {
                        walk(item, kind, &format!("{here}/{}", escape(name)), f);
                    }
                }
            }
        }
        Kind::PathItem => {
            list(map, "parameters", Kind::Parameter, at, f);
            for method in METHODS {
                child(map, method, Kind::Operation, at, f);
            }
        }
        Kind::Operation => {
            list(map, "parameters", Kind::Parameter, at, f);
            child(map, "requestBody", Kind::RequestBody, at, f);
            entries(map, "responses", Kind::Response, at, f);
            if let Some(callbacks) = map.get_mut("callbacks").and_then(Node::as_map_mut) {
                for (name, callback) in callbacks.iter_mut() {
                    let here = format!("{at}/callbacks/{}", escape(name));
                    if let Some(paths) = callback.as_map_mut() {
                        for (path, item) in paths.iter_mut() {
                            walk(item, Kind::PathItem, &format!("{here}/{}", escape(path)), f);
                        }
                    }
                }
            }
        }
        Kind::Parameter | Kind::Header => {
            child(map, "schema", Kind::Schema, at, f);
            entries(map, "content", Kind::MediaType, at, f);
            entries(map, "examples", Kind::Example, at, f);
        }
        Kind::RequestBody => entries(map, "content", Kind::MediaType, at, f),
        Kind::MediaType => {
            child(map, "schema", Kind::Schema, at, f);
            entries(map, "examples", Kind::Example, at, f);
            if let Some(encodings) = map.get_mut("encoding").and_then(Node::as_map_mut) {
                for (name, encoding) in encodings.iter_mut() {
                    let here = format!("{at}/encoding/{}", escape(name));
                    if let Some(encoding) = encoding.as_map_mut() {
                        entries(encoding, "headers", Kind::Header, &here, f);
                    }
                }
            }
        }
        Kind::Response => {
            entries(map, "headers", Kind::Header, at, f);
            entries(map, "content", Kind::MediaType, at, f);
        }
        Kind::Schema => {
            for key in [
                "items",
                "additionalProperties",
                "not",
                "contains",
                "if",
                "then",
                "else",
                "propertyNames",
                "unevaluatedItems",
                "unevaluatedProperties",
            ] {
                child(map, key, Kind::Schema, at, f);
            }
            for key in ["allOf", "anyOf", "oneOf", "prefixItems"] {
                list(map, key, Kind::Schema, at, f);
            }
            for key in [
                "properties",
                "patternProperties",
                "$defs",
                "dependentSchemas",
            ] {
                entries(map, key, Kind::Schema, at, f);
            }
        }
        Kind::Info | Kind::Tag | Kind::SecurityScheme | Kind::Example => {}
    }
}

/// Walks `map[key]` as one object of `kind`, when it is a map.
fn child(map: &mut Map, key: &str, kind: Kind, at: &str, f: &mut dyn FnMut(&mut Node, Kind, &str)) {
    if let Some(value) = map.get_mut(key).filter(|v| matches!(v, Node::Map(_))) {
        walk(value, kind, &format!("{at}/{}", escape(key)), f);
    }
}

/// Walks every item of the sequence `map[key]` as an object of `kind`.
fn list(map: &mut Map, key: &str, kind: Kind, at: &str, f: &mut dyn FnMut(&mut Node, Kind, &str)) {
    if let Some(Node::Seq(items)) = map.get_mut(key) {
        for (index, item) in items.iter_mut().enumerate() {
            walk(item, kind, &format!("{at}/{}/{index}", escape(key)), f);
        }
    }
}

/// Walks every value of the map `map[key]` as an object of `kind`.
fn entries(
    map: &mut Map,
    key: &str,
    kind: Kind,
    at: &str,
    f: &mut dyn FnMut(&mut Node, Kind, &str),
) {
    if let Some(Node::Map(items)) = map.get_mut(key) {
        let here = format!("{at}/{}", escape(key));
        for (name, item) in items.iter_mut() {
            walk(item, kind, &format!("{here}/{}", escape(name)), f);
        }
    }
}
