//! The published JSON Schema of the sharing file: the committed file is what the
//! code generates, and the schema accepts what the parser accepts and refuses
//! what it refuses for its shape.

use permissions_sharing::file::json_schema;
use permissions_sharing::{ProjectRef, SharingFile};
use proptest::prelude::*;
use serde_json::Value;

const PUBLISHED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/sharing-file.schema.json");
const CKPT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

fn validator() -> jsonschema::Validator {
    jsonschema::validator_for(&json_schema()).expect("the schema is a valid JSON Schema")
}

/// A YAML text as the JSON value an editor's YAML plugin checks.
fn as_json(yaml: &str) -> Value {
    serde_norway::from_str(yaml).expect("valid YAML")
}

#[test]
fn the_published_schema_is_the_generated_one() {
    let generated = format!("{:#}\n", json_schema());
    let published = std::fs::read_to_string(PUBLISHED).unwrap_or_default();
    assert!(
        published == generated,
        "{PUBLISHED} is stale; regenerate it with \
         `cargo run -p permissions-cli -- schema > crates/permissions-sharing/sharing-file.schema.json`"
    );
}

#[test]
fn the_schema_accepts_every_file_the_parser_accepts() {
    let validator = validator();
    for body in [
        "{}",
        "\n  ft:a:b: []",
        "\n  ft-AF1WoRqd3aJAHsqc9NY7iL8F:\n    - proj_a\n    - name: Research\n    - {id: proj_b, name: Support}\n    - {id: proj_c}",
    ] {
        let text = format!("version: 1\ncheckpoints: {body}\n");
        SharingFile::parse(&text).unwrap_or_else(|e| panic!("{text}: {e}"));
        let errors: Vec<String> = validator
            .iter_errors(&as_json(&text))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "{text}: {errors:?}");
    }
    let json = r#"{"$schema": "./sharing-file.schema.json", "version": 1, "checkpoints": {}}"#;
    SharingFile::parse(json).unwrap();
    assert!(validator.is_valid(&as_json(json)));
}

#[test]
fn the_schema_refuses_every_shape_the_parser_refuses() {
    let validator = validator();
    for text in [
        "version: 2\ncheckpoints: {}\n",
        "checkpoints: {}\n",
        "version: 1\n",
        "version: 1\ncheckpoints: {}\nextra: 1\n",
        "version: 1\ncheckpoints:\n  gpt-4o: []\n",
        "version: 1\ncheckpoints:\n  ftckpt_abc: []\n",
        "version: 1\ncheckpoints:\n  ft:a:b:\n",
        "version: 1\ncheckpoints:\n  ft:a:b: proj_x\n",
        "version: 1\ncheckpoints:\n  ft:a:b: [3]\n",
        "version: 1\ncheckpoints:\n  ft:a:b: [proj x]\n",
        "version: 1\ncheckpoints:\n  ft:a:b: [{id: proj_x, team: a}]\n",
        "version: 1\ncheckpoints:\n  ft:a:b: [{}]\n",
        "version: 1\ncheckpoints:\n  ft:a:b: [{name: ''}]\n",
        "version: 1\ncheckpoints:\n  ft:a:b: [[proj_x]]\n",
        "version: 1\ncheckpoints: [ft:a:b]\n",
    ] {
        assert!(
            SharingFile::parse(text).is_err(),
            "the parser accepts {text:?}"
        );
        assert!(
            !validator.is_valid(&as_json(text)),
            "the schema accepts {text:?}"
        );
    }
}

proptest! {
    /// Every file written (by `export`, say) is valid for editors too.
    #[test]
    fn written_files_are_valid(
        entries in prop::collection::btree_map("proj_[A-Za-z0-9]{1,8}", prop::option::of("[A-Za-z][A-Za-z0-9 ]{0,12}"), 0..6),
    ) {
        let projects = entries.into_iter().map(|(id, name)| match name {
            Some(name) => ProjectRef::IdAndName { id: id.parse().unwrap(), name },
            None => ProjectRef::Id(id.parse().unwrap()),
        });
        let text = SharingFile::new([(CKPT, projects)]).unwrap().to_yaml();
        prop_assert!(validator().is_valid(&as_json(&text)), "{}", text);
    }
}
