//! The stable key order of the written fragment.
//!
//! The keys of every OpenAPI object are written in one fixed order (the order of
//! the specification, roughly), unknown keys after them alphabetically, extensions
//! (`x-...`) last alphabetically; so a reordering upstream never shows in the diff.
//! Maps of names that mean nothing by their order are sorted (component sections,
//! response codes). Orders that mean something are kept as upstream wrote them:
//! `paths`, schema `properties` (the field order of generated structs), `content`,
//! lists (`parameters`, `required`, `enum`), and every example value.

use std::cmp::Ordering;

use permissions_codegen::yaml::{Map, Node};

use super::walk::Kind;

const DOCUMENT: &[&str] = &[
    "openapi",
    "info",
    "servers",
    "security",
    "tags",
    "paths",
    "components",
    "externalDocs",
];
const INFO: &[&str] = &[
    "title",
    "description",
    "termsOfService",
    "contact",
    "license",
    "version",
];
const TAG: &[&str] = &["name", "description", "externalDocs"];
const PATH_ITEM: &[&str] = &[
    "$ref",
    "summary",
    "description",
    "servers",
    "parameters",
    "get",
    "put",
    "post",
    "delete",
    "options",
    "head",
    "patch",
    "trace",
];
const OPERATION: &[&str] = &[
    "operationId",
    "tags",
    "summary",
    "description",
    "externalDocs",
    "deprecated",
    "security",
    "servers",
    "parameters",
    "requestBody",
    "responses",
    "callbacks",
];
const PARAMETER: &[&str] = &[
    "$ref",
    "name",
    "in",
    "description",
    "required",
    "deprecated",
    "allowEmptyValue",
    "style",
    "explode",
    "allowReserved",
    "schema",
    "example",
    "examples",
    "content",
];
const REQUEST_BODY: &[&str] = &["$ref", "description", "required", "content"];
const MEDIA_TYPE: &[&str] = &["schema", "example", "examples", "encoding"];
const RESPONSE: &[&str] = &["$ref", "description", "headers", "content", "links"];
const COMPONENTS: &[&str] = &[
    "schemas",
    "responses",
    "parameters",
    "examples",
    "requestBodies",
    "headers",
    "securitySchemes",
    "links",
    "callbacks",
];
const SECURITY_SCHEME: &[&str] = &[
    "type",
    "description",
    "name",
    "in",
    "scheme",
    "bearerFormat",
    "flows",
    "openIdConnectUrl",
];
const EXAMPLE: &[&str] = &["$ref", "summary", "description", "value", "externalValue"];
const SCHEMA: &[&str] = &[
    "$ref",
    "title",
    "description",
    "type",
    "format",
    "nullable",
    "enum",
    "default",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "readOnly",
    "writeOnly",
    "deprecated",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "discriminator",
    "items",
    "additionalProperties",
    "properties",
    "required",
    "example",
    "externalDocs",
    "xml",
];

/// The key order of objects of `kind`.
fn known_keys(kind: Kind) -> &'static [&'static str] {
    match kind {
        Kind::Document => DOCUMENT,
        Kind::Info => INFO,
        Kind::Tag => TAG,
        Kind::PathItem => PATH_ITEM,
        Kind::Operation => OPERATION,
        Kind::Parameter | Kind::Header => PARAMETER,
        Kind::RequestBody => REQUEST_BODY,
        Kind::MediaType => MEDIA_TYPE,
        Kind::Response => RESPONSE,
        Kind::Schema => SCHEMA,
        Kind::Components => COMPONENTS,
        Kind::SecurityScheme => SECURITY_SCHEME,
        Kind::Example => EXAMPLE,
    }
}

/// Where `key` goes: known keys by their rank, then unknown keys, then extensions.
fn rank(known: &[&str], key: &str) -> (usize, usize) {
    match known.iter().position(|k| *k == key) {
        Some(index) => (0, index),
        None if key.starts_with("x-") => (2, 0),
        None => (1, 0),
    }
}

fn compare(known: &[&str], a: &str, b: &str) -> Ordering {
    rank(known, a).cmp(&rank(known, b)).then_with(|| {
        if rank(known, a).0 == 0 {
            Ordering::Equal
        } else {
            a.cmp(b)
        }
    })
}

fn sort_names(map: &mut Map, key: &str) {
    if let Some(Node::Map(names)) = map.get_mut(key) {
        names.sort_keys();
    }
}

/// Puts the keys of `node`, an object of kind `kind`, in the fragment's order
/// (not the objects inside it: the walk does those).
pub fn reorder(node: &mut Node, kind: Kind, _at: &str) {
    let Some(map) = node.as_map_mut() else {
        return;
    };
    let known = known_keys(kind);
    map.sort_by(|a, _, b, _| compare(known, a, b));
    match kind {
        Kind::Components => {
            for section in COMPONENTS {
                sort_names(map, section);
            }
        }
        Kind::Operation => sort_names(map, "responses"),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_method_has_a_place_in_a_path_item() {
        for method in crate::sync::walk::METHODS {
            assert!(PATH_ITEM.contains(&method), "{method}");
        }
    }

    #[test]
    fn known_keys_then_unknown_then_extensions() {
        let mut keys = vec!["x-b", "zeta", "type", "x-a", "alpha", "description"];
        keys.sort_by(|a, b| compare(SCHEMA, a, b));
        assert_eq!(keys, ["description", "type", "alpha", "zeta", "x-a", "x-b"]);
    }
}
