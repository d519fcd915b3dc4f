//! The workspace's one YAML reader and writer: an ordered YAML/JSON tree, read
//! by [`Spec::parse`](crate::Spec::parse) and by `cargo xtask sync-spec`, which
//! rewrites and writes it.
//!
//! `serde_json::Value` sorts object keys in this workspace (no `preserve_order`), and
//! key order matters here: it is the order of struct fields in the generated code and
//! of everything a reviewer reads. Maps are [`IndexMap`]s with string keys; equality
//! of two maps ignores their order.

use std::fmt;

use indexmap::IndexMap;
use serde::{
    Serialize, Serializer,
    de::{self, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor},
    ser::{SerializeMap, SerializeSeq},
};

/// An ordered map of a YAML document.
pub type Map = IndexMap<String, Node>;

/// One value of a YAML (or JSON) document.
#[derive(Debug, Clone, PartialEq)]
pub enum Node {
    /// `null` or `~`.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// An integer that fits in 64 bits, signed.
    Int(i64),
    /// An integer above `i64::MAX` that fits in 64 bits, unsigned.
    UInt(u64),
    /// A floating-point number, or an integer too large for 64 bits.
    Float(f64),
    /// A string.
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, in document order.
    Map(Map),
}

impl Node {
    /// The string, if this is one.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Node::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The map, if this is one.
    pub fn as_map(&self) -> Option<&Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The map, mutably, if this is one.
    pub fn as_map_mut(&mut self) -> Option<&mut Map> {
        match self {
            Node::Map(m) => Some(m),
            _ => None,
        }
    }

    /// The sequence, if this is one.
    pub fn as_seq(&self) -> Option<&[Node]> {
        match self {
            Node::Seq(s) => Some(s),
            _ => None,
        }
    }

    /// The value under `key`, if this is a map that has it.
    pub fn get(&self, key: &str) -> Option<&Node> {
        self.as_map()?.get(key)
    }

    /// The string under `key`, if this is a map whose `key` holds a string.
    pub fn get_str(&self, key: &str) -> Option<&str> {
        self.get(key)?.as_str()
    }

    /// Whether `key` holds `true`.
    pub fn is_true(&self, key: &str) -> bool {
        matches!(self.get(key), Some(Node::Bool(true)))
    }

    /// A short name of the kind of value, for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Node::Null => "null",
            Node::Bool(_) => "a boolean",
            Node::Int(_) | Node::UInt(_) | Node::Float(_) => "a number",
            Node::Str(_) => "a string",
            Node::Seq(_) => "a sequence",
            Node::Map(_) => "a mapping",
        }
    }

    /// The value as compact JSON-like text, for messages (`"a"`, `1`, `[..]`).
    pub fn brief(&self) -> String {
        match self {
            Node::Null => "null".into(),
            Node::Bool(b) => b.to_string(),
            Node::Int(i) => i.to_string(),
            Node::UInt(u) => u.to_string(),
            Node::Float(f) => f.to_string(),
            Node::Str(s) => format!("{s:?}"),
            Node::Seq(_) => "[...]".into(),
            Node::Map(_) => "{...}".into(),
        }
    }
}

impl From<&str> for Node {
    fn from(value: &str) -> Self {
        Node::Str(value.to_owned())
    }
}

/// Parses YAML (or JSON) text into a [`Node`] tree, keeping key order.
///
/// Integers too large for 64 bits (the official document has
/// `minimum: -9223372036854776000`) become floats instead of failing the document;
/// non-string keys (`200:`) become strings; YAML tags are refused.
pub fn parse(text: &str) -> Result<Node, serde_norway::Error> {
    NodeSeed.deserialize(serde_norway::Deserializer::from_str(text))
}

/// Parses YAML (or JSON) text as [`parse`] does, into a JSON value (whose object
/// keys are sorted: the order of the text is not kept).
pub fn parse_json(text: &str) -> Result<serde_json::Value, serde_norway::Error> {
    // The tree's keys are strings, so it always converts.
    serde_json::to_value(parse(text)?).map_err(<serde_norway::Error as de::Error>::custom)
}

/// Writes `node` as block-style YAML in the layout of a hand-written OpenAPI file:
/// two-space indentation, sequences indented under their key, no line wrapping,
/// multi-line strings as literal blocks, strings double-quoted (JSON escapes) only
/// where a plain scalar would read as something else.
///
/// Which scalars need quotes is decided by serde_norway itself (libyaml's rules).
pub fn to_yaml(node: &Node) -> Result<String, serde_norway::Error> {
    let mut out = String::new();
    match node {
        Node::Map(map) if !map.is_empty() => emit_map(&mut out, map, 0, false)?,
        Node::Seq(items) if !items.is_empty() => emit_seq(&mut out, items, 0, false)?,
        other => {
            out.push_str(&inline_scalar(other)?);
            out.push('\n');
        }
    }
    Ok(out)
}

fn pad(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

/// A scalar (or empty collection) on one line.
fn inline_scalar(node: &Node) -> Result<String, serde_norway::Error> {
    Ok(match node {
        Node::Str(s) => quote_if_needed(s)?,
        Node::Seq(_) => "[]".to_owned(),
        Node::Map(_) => "{}".to_owned(),
        other => serde_norway::to_string(other)?.trim_end().to_owned(),
    })
}

/// `s` as a plain scalar when libyaml would write it plain, else double-quoted.
fn quote_if_needed(s: &str) -> Result<String, serde_norway::Error> {
    let plain = !s.contains(['\n', '\r'])
        && !serde_norway::to_string(s)?.starts_with(['\'', '"', '|', '>']);
    Ok(if plain {
        s.to_owned()
    } else {
        serde_json::to_string(s).map_err(<serde_norway::Error as serde::ser::Error>::custom)?
    })
}

/// Whether `s` is written as a literal block (`|`): several lines of printable text
/// whose first line does not start with a space.
fn is_block(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with([' ', '\n'])
        && !s
            .chars()
            .any(|c| c != '\n' && c != '\t' && (c.is_control() || c == '\u{feff}'))
}

/// Writes `s` as a literal block after a key or dash, its lines at `indent`.
fn emit_block(out: &mut String, s: &str, indent: usize) {
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "-",
        1 => "",
        _ => "+",
    };
    out.push_str(" |");
    out.push_str(chomp);
    out.push('\n');
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
}

/// Writes a value after `key:` or `-` (the cursor is right after it); nested
/// collections go on the next lines at `indent`.
fn emit_value(out: &mut String, value: &Node, indent: usize) -> Result<(), serde_norway::Error> {
    match value {
        Node::Str(s) if is_block(s) => emit_block(out, s, indent),
        Node::Map(map) if !map.is_empty() => {
            out.push('\n');
            emit_map(out, map, indent, false)?;
        }
        Node::Seq(items) if !items.is_empty() => {
            out.push('\n');
            emit_seq(out, items, indent, false)?;
        }
        scalar => {
            out.push(' ');
            out.push_str(&inline_scalar(scalar)?);
            out.push('\n');
        }
    }
    Ok(())
}

/// Writes a non-empty map at `indent`; with `inline`, its first key goes where the
/// cursor is (after a dash).
fn emit_map(
    out: &mut String,
    map: &Map,
    indent: usize,
    inline: bool,
) -> Result<(), serde_norway::Error> {
    for (index, (key, value)) in map.iter().enumerate() {
        if index > 0 || !inline {
            pad(out, indent);
        }
        out.push_str(&quote_if_needed(key)?);
        out.push(':');
        emit_value(out, value, indent + 2)?;
    }
    Ok(())
}

/// Writes a non-empty sequence at `indent`; with `inline`, its first dash goes where
/// the cursor is.
fn emit_seq(
    out: &mut String,
    items: &[Node],
    indent: usize,
    inline: bool,
) -> Result<(), serde_norway::Error> {
    for (index, item) in items.iter().enumerate() {
        if index > 0 || !inline {
            pad(out, indent);
        }
        out.push('-');
        match item {
            Node::Map(map) if !map.is_empty() => {
                out.push(' ');
                emit_map(out, map, indent + 2, true)?;
            }
            Node::Seq(inner) if !inner.is_empty() => {
                out.push(' ');
                emit_seq(out, inner, indent + 2, true)?;
            }
            other => emit_value(out, other, indent + 2)?,
        }
    }
    Ok(())
}

impl Serialize for Node {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Node::Null => serializer.serialize_unit(),
            Node::Bool(b) => serializer.serialize_bool(*b),
            Node::Int(i) => serializer.serialize_i64(*i),
            Node::UInt(u) => serializer.serialize_u64(*u),
            Node::Float(f) => serializer.serialize_f64(*f),
            Node::Str(s) => serializer.serialize_str(s),
            Node::Seq(items) => {
                let mut seq = serializer.serialize_seq(Some(items.len()))?;
                for item in items {
                    seq.serialize_element(item)?;
                }
                seq.end()
            }
            Node::Map(map) => {
                let mut out = serializer.serialize_map(Some(map.len()))?;
                for (key, value) in map {
                    out.serialize_entry(key, value)?;
                }
                out.end()
            }
        }
    }
}

struct NodeSeed;

impl<'de> DeserializeSeed<'de> for NodeSeed {
    type Value = Node;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for NodeSeed {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any YAML value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or(Node::UInt(v), Node::Int))
    }

    fn visit_i128<E>(self, v: i128) -> Result<Node, E> {
        Ok(i64::try_from(v).map_or_else(|_| Node::Float(v as f64), Node::Int))
    }

    fn visit_u128<E>(self, v: u128) -> Result<Node, E> {
        Ok(u64::try_from(v).map_or_else(
            |_| Node::Float(v as f64),
            |v| i64::try_from(v).map_or(Node::UInt(v), Node::Int),
        ))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }

    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }

    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }

    fn visit_some<D: Deserializer<'de>>(self, deserializer: D) -> Result<Node, D::Error> {
        deserializer.deserialize_any(self)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element_seed(NodeSeed)? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Node, A::Error> {
        let mut map = Map::with_capacity(access.size_hint().unwrap_or(0));
        while let Some(key) = access.next_key_seed(NodeSeed)? {
            let key = match key {
                Node::Str(key) => key,
                Node::Null => "null".to_owned(),
                Node::Bool(b) => b.to_string(),
                Node::Int(i) => i.to_string(),
                Node::UInt(u) => u.to_string(),
                Node::Float(f) => f.to_string(),
                Node::Seq(_) | Node::Map(_) => {
                    return Err(de::Error::custom(
                        "a mapping key is a sequence or a mapping",
                    ));
                }
            };
            let value = access.next_value_seed(NodeSeed)?;
            map.insert(key, value);
        }
        Ok(Node::Map(map))
    }

    fn visit_enum<A: de::EnumAccess<'de>>(self, _: A) -> Result<Node, A::Error> {
        Err(de::Error::custom("tagged YAML values are not supported"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> String {
        let node = parse(text).unwrap();
        let written = to_yaml(&node).unwrap();
        assert_eq!(parse(&written).unwrap(), node, "{written}");
        written
    }

    #[test]
    fn keeps_key_order_and_indents_sequences() {
        let written = round_trip("b: 1\na:\n  - x\n  - y: 2\n    z: [3]\n  - [4, 5]\n");
        assert_eq!(
            written,
            "b: 1\na:\n  - x\n  - y: 2\n    z:\n      - 3\n  - - 4\n    - 5\n"
        );
    }

    #[test]
    fn quotes_only_what_would_read_as_something_else() {
        let written = round_trip(
            "a: \"200\"\nb: \"#/components/schemas/X\"\nc: plain text\nd: \"true\"\n\
             e: \"x: y\"\nf: \"\"\ng: \"- item\"\nh: 3.0.3\ni: \"tab\\there\"\n",
        );
        assert!(written.contains("a: \"200\"\n"), "{written}");
        assert!(
            written.contains("b: \"#/components/schemas/X\"\n"),
            "{written}"
        );
        assert!(written.contains("c: plain text\n"), "{written}");
        assert!(written.contains("d: \"true\"\n"), "{written}");
        assert!(written.contains("h: 3.0.3\n"), "{written}");
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_with_the_right_chomping() {
        let written = round_trip(
            "a: \"one\\ntwo\"\nb: \"one\\n\\ntwo\\n\"\nc: \"x\\n\\n\"\nd: \" lead\\nx\"\n\
             e: \"bell\\u0007\\nx\"\nf:\n  - \"p\\nq\"\n",
        );
        assert!(written.contains("a: |-\n  one\n  two\n"), "{written}");
        assert!(written.contains("b: |\n  one\n\n  two\n"), "{written}");
        assert!(written.contains("c: |+\n  x\n\n"), "{written}");
        assert!(written.contains("d: \" lead\\nx\"\n"), "{written}");
        assert!(written.contains("f:\n  - |-\n    p\n    q\n"), "{written}");
    }

    #[test]
    fn numbers_and_empty_collections() {
        let written = round_trip(
            "a: -9223372036854776000\nb: 1.5\nc: {}\nd: []\ne: null\nf: 18446744073709551615\n",
        );
        assert!(written.contains("c: {}\nd: []\ne: null\n"), "{written}");
        assert_eq!(
            parse("a: -9223372036854776000").unwrap().get("a"),
            Some(&Node::Float(-9223372036854776000.0))
        );
    }

    #[test]
    fn tags_and_non_yaml_are_errors_not_panics() {
        assert!(parse("a: !custom 1\n").is_err());
        assert!(parse("a: [unclosed\n").is_err());
        assert!(parse("? [a, b]\n: c\n").is_err());
    }
}
