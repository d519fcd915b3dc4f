//! Properties of our decoding rules, not of serde_json's parser: the open enums
//! keep any value and write it back; what a response type decodes it encodes to
//! the same value; the id rules agree with their published schema; the list order
//! takes exactly the API's two spellings.

use permissions_types::{
    CheckpointId, CheckpointPermission, DeletedPermission, ErrorResponse, ListObject, ListOrder,
    MAX_ID_LEN, PermissionId, PermissionList, PermissionObject, Project, ProjectId, ProjectList,
    ProjectObject, ProjectStatus,
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

/// Whether `text` matches the `pattern` of `T`'s JSON Schema (what editors check).
fn matches_schema<T: schemars::JsonSchema>(text: &str) -> bool {
    let schema = schemars::schema_for!(T).to_value();
    let pattern = schema["pattern"]
        .as_str()
        .expect("an id schema has a pattern");
    regex::Regex::new(pattern).unwrap().is_match(text) && text.len() <= MAX_ID_LEN
}

/// Whether `value`, decoded as `T`, displays and encodes as it was sent.
fn open_round_trip<T>(value: &str) -> bool
where
    T: serde::de::DeserializeOwned + serde::Serialize + std::fmt::Display,
{
    let decoded: T = serde_json::from_value(Value::from(value)).expect("any string decodes");
    let encoded = serde_json::to_value(&decoded).expect("encodes");
    decoded.to_string() == value && encoded == value
}

/// Whether `value`, if it decodes as `T` at all, encodes to what decodes to the
/// same `T` again.
fn round_trips<T>(value: &Value) -> bool
where
    T: serde::de::DeserializeOwned + serde::Serialize + PartialEq,
{
    let Ok(decoded) = serde_json::from_value::<T>(value.clone()) else {
        return true;
    };
    let encoded = serde_json::to_string(&decoded).expect("a decoded value encodes");
    serde_json::from_str::<T>(&encoded).is_ok_and(|again| again == decoded)
}

proptest! {
    /// The open enums' macro: a value the crate does not know is kept, not refused,
    /// and written back as sent; a known one is a known variant.
    #[test]
    fn open_enums_keep_any_value(
        value in "active|archived|list|checkpoint.permission|organization.project|\\PC{0,16}",
    ) {
        prop_assert!(open_round_trip::<ProjectStatus>(&value));
        prop_assert!(open_round_trip::<PermissionObject>(&value));
        prop_assert!(open_round_trip::<ListObject>(&value));
        prop_assert!(open_round_trip::<ProjectObject>(&value));
        prop_assert_eq!(
            ProjectStatus::from(value.as_str()).is_known(),
            value == "active" || value == "archived"
        );
    }

    /// Whatever a response type accepts (forward-compatibly: unknown fields,
    /// unknown values), it writes back so that it reads the same again.
    #[test]
    fn what_decodes_encodes_to_the_same_value(value in json()) {
        prop_assert!(round_trips::<PermissionList>(&value));
        prop_assert!(round_trips::<ErrorResponse>(&value));
        prop_assert!(round_trips::<ProjectList>(&value));
        prop_assert!(round_trips::<DeletedPermission>(&value));
        prop_assert!(round_trips::<CheckpointPermission>(&value));
        prop_assert!(round_trips::<Project>(&value));
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

    /// The order takes the API's two spellings, as text and as JSON, and nothing
    /// else (the CLI's `asc`/`desc` are its own aliases).
    #[test]
    fn the_order_takes_exactly_the_apis_spellings(text in "ascending|descending|asc|desc|\\PC{0,12}") {
        let known = text == "ascending" || text == "descending";
        let parsed = text.parse::<ListOrder>();
        prop_assert_eq!(parsed.is_ok(), known, "{:?}", text);
        prop_assert_eq!(serde_json::from_value::<ListOrder>(Value::from(text.as_str())).is_ok(), known);
        if let Ok(order) = parsed {
            prop_assert_eq!(order.as_str(), text.as_str());
        }
    }
}
