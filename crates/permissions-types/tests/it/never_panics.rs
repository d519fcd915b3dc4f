//! Decoding never panics: arbitrary bytes and arbitrary JSON values, fed to every
//! response type's decoder, give a value or a typed error.

use permissions_types::{
    CheckpointId, CheckpointPermission, DeletedPermission, ErrorResponse, ListOrder, MAX_ID_LEN,
    PermissionId, PermissionList, Project, ProjectId, ProjectList,
};
use proptest::prelude::*;
use serde_json::Value;

/// Any JSON value, nested a few levels, with the field names the types use so
/// that decoding gets past the first field.
fn json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "[a-z_.]{0,24}|\\PC{0,16}".prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        let key = prop_oneof![
            Just("object".to_owned()),
            Just("data".to_owned()),
            Just("id".to_owned()),
            Just("created_at".to_owned()),
            Just("project_id".to_owned()),
            Just("first_id".to_owned()),
            Just("last_id".to_owned()),
            Just("has_more".to_owned()),
            Just("deleted".to_owned()),
            Just("error".to_owned()),
            Just("message".to_owned()),
            Just("type".to_owned()),
            Just("param".to_owned()),
            Just("code".to_owned()),
            "\\PC{0,8}",
        ];
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec((key, inner), 0..8)
                .prop_map(|fields| Value::Object(fields.into_iter().collect())),
        ]
    })
}

fn decode_all(bytes: &[u8]) {
    let _ = serde_json::from_slice::<CheckpointPermission>(bytes);
    let _ = serde_json::from_slice::<PermissionList>(bytes);
    let _ = serde_json::from_slice::<DeletedPermission>(bytes);
    let _ = serde_json::from_slice::<ErrorResponse>(bytes);
    let _ = serde_json::from_slice::<ListOrder>(bytes);
    let _ = serde_json::from_slice::<Project>(bytes);
    let _ = serde_json::from_slice::<ProjectList>(bytes);
}

/// Whether `text` matches the `pattern` of `T`'s JSON Schema (what editors check).
fn matches_schema<T: schemars::JsonSchema>(text: &str) -> bool {
    let schema = schemars::schema_for!(T).to_value();
    let pattern = schema["pattern"]
        .as_str()
        .expect("an id schema has a pattern");
    regex::Regex::new(pattern).unwrap().is_match(text) && text.len() <= MAX_ID_LEN
}

proptest! {
    #[test]
    fn arbitrary_bytes_decode_or_fail(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        decode_all(&bytes);
    }

    #[test]
    fn arbitrary_json_decodes_or_fails(value in json()) {
        decode_all(value.to_string().as_bytes());
        // What decodes encodes again, and decodes to the same value.
        if let Ok(page) = serde_json::from_value::<PermissionList>(value.clone()) {
            let again: PermissionList = serde_json::from_str(&serde_json::to_string(&page).unwrap()).unwrap();
            prop_assert_eq!(again, page);
        }
        if let Ok(error) = serde_json::from_value::<ErrorResponse>(value) {
            let again: ErrorResponse = serde_json::from_str(&serde_json::to_string(&error).unwrap()).unwrap();
            prop_assert_eq!(again, error);
        }
    }

    /// Every id type: any text is an id or a typed error, and the schema editors
    /// check a sharing file with agrees with the rule.
    #[test]
    fn any_text_is_an_id_or_refused_as_the_schema_says(
        text in "(ft:|ft-|proj_|cp_|ftckpt_|sk-)?[ -~\\t\\n/é]{0,12}",
    ) {
        prop_assert_eq!(text.parse::<CheckpointId>().is_ok(), matches_schema::<CheckpointId>(&text), "{:?}", text);
        prop_assert_eq!(text.parse::<ProjectId>().is_ok(), matches_schema::<ProjectId>(&text), "{:?}", text);
        prop_assert_eq!(text.parse::<PermissionId>().is_ok(), matches_schema::<PermissionId>(&text), "{:?}", text);
    }

    #[test]
    fn any_text_parses_as_an_order_or_fails(text in "\\PC{0,24}") {
        let _ = text.parse::<ListOrder>();
    }
}
