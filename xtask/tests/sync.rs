//! `cargo xtask sync-spec`: fixtures written for this project (an upstream-like 3.1
//! document, a later version of it, an overlay) synced and compared with the expected
//! fragment and summary; the rules one by one; bad input; and the real official
//! document, when `../shared/reference` is beside the checkout.
//!
//! The expected files are committed: after an intended change, rewrite them with
//! `XTASK_BLESS=1 cargo test -p xtask --test sync` and review their diff.

use std::path::{Path, PathBuf};
use xtask::workspace_root;

use permissions_codegen::yaml::{self, Node};
use xtask::sync::{self, Change, ChangeKind, Direction, Impact, SyncError, summary};

fn fixture_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn fixture(name: &str) -> String {
    let path = fixture_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()))
}

/// Asserts that `actual` is the content of the fixture `name` (or, with
/// `XTASK_BLESS=1`, rewrites the fixture).
fn assert_expected(name: &str, actual: &str) {
    let path = fixture_path(name);
    if std::env::var_os("XTASK_BLESS").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = fixture(name);
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or_else(|| expected.lines().count().min(actual.lines().count()));
        panic!(
            "{} differs from the output, first at line {}:\n  expected: {:?}\n  actual:   {:?}\n\
             full output:\n{actual}",
            path.display(),
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first),
        );
    }
}

fn sync_fixture(upstream: &str) -> sync::Synced {
    sync::sync(&fixture(upstream), upstream, &fixture("overlay.yaml"))
        .unwrap_or_else(|e| panic!("sync {upstream}: {e}"))
}

/// The node at a JSON pointer (`/a/b~1c/0`).
fn at<'a>(doc: &'a Node, pointer: &str) -> Option<&'a Node> {
    pointer
        .strip_prefix('/')?
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .try_fold(doc, |node, token| match node {
            Node::Seq(items) => items.get(token.parse::<usize>().ok()?),
            _ => node.get(&token),
        })
}

fn yaml(text: &str) -> Node {
    yaml::parse(text).unwrap()
}

const GRANT: &str = "/components/schemas/Grant/properties";
const LIST: &str = "/paths/~1widgets~1{widget_id}~1grants/get";

#[test]
fn fixture_syncs_to_the_expected_fragment() {
    let synced = sync_fixture("upstream-v1.yaml");
    assert_expected("expected-v1.yaml", &synced.text);
    assert_eq!(synced.operations, 3, "list, create, delete");
}

#[test]
fn each_31_construct_becomes_its_30_form() {
    let doc = sync_fixture("upstream-v1.yaml").document;
    let get = |p: &str| at(&doc, p).cloned();
    assert_eq!(get("/openapi"), Some("3.0.3".into()));
    // anyOf [string, null] and oneOf [null, string]: nullable, the inner keys kept.
    let first_id = "/components/schemas/GrantList/properties/first_id";
    assert_eq!(get(&format!("{first_id}/type")), Some("string".into()));
    assert_eq!(get(&format!("{first_id}/nullable")), Some(Node::Bool(true)));
    assert_eq!(get(&format!("{first_id}/anyOf")), None);
    let last_id = "/components/schemas/GrantList/properties/last_id";
    assert_eq!(get(&format!("{last_id}/nullable")), Some(Node::Bool(true)));
    assert_eq!(
        get(&format!("{last_id}/description")),
        Some("The last grant of the page.".into())
    );
    // anyOf [$ref, null]: allOf [$ref] + nullable (3.0 ignores siblings of $ref).
    assert_eq!(
        get(&format!("{GRANT}/owner/allOf/0/$ref")),
        Some("#/components/schemas/Owner".into())
    );
    assert_eq!(
        get(&format!("{GRANT}/owner/nullable")),
        Some(Node::Bool(true))
    );
    // type [string, null]: type + nullable.
    let note = "/components/schemas/CreateGrantRequest/properties/note";
    assert_eq!(get(&format!("{note}/type")), Some("string".into()));
    assert_eq!(get(&format!("{note}/nullable")), Some(Node::Bool(true)));
    // const: a one-value enum, with the implied type when none is given.
    let object = "/components/schemas/DeletedGrant/properties/object";
    assert_eq!(get(&format!("{object}/type")), Some("string".into()));
    assert_eq!(
        get(&format!("{object}/enum")),
        Some(Node::Seq(vec!["grant.deleted".into()]))
    );
    assert_eq!(get(&format!("{object}/const")), None);
    // anyOf of consts (with a null): one enum.
    let kind = "/components/schemas/Owner/properties/kind";
    assert_eq!(
        get(&format!("{kind}/enum")),
        Some(Node::Seq(vec!["user".into(), "service".into()]))
    );
    assert_eq!(get(&format!("{kind}/type")), Some("string".into()));
    assert_eq!(get(&format!("{kind}/nullable")), Some(Node::Bool(true)));
    assert_eq!(get(&format!("{kind}/anyOf")), None);
    // format unixtime dropped; format int64 would have been kept.
    assert_eq!(get(&format!("{GRANT}/created_at/format")), None);
    assert_eq!(
        get(&format!("{GRANT}/created_at/type")),
        Some("integer".into())
    );
    // examples: the first becomes the example, in schemas of components and of
    // path-level parameters alike.
    assert_eq!(get(&format!("{GRANT}/id/example")), Some("gr_abc".into()));
    assert_eq!(get(&format!("{GRANT}/id/examples")), None);
    let widget = "/paths/~1widgets~1{widget_id}~1grants/parameters/0/schema";
    assert_eq!(get(&format!("{widget}/example")), Some("wd_123".into()));
    // Invalid example JSON left out; valid example JSON kept.
    assert_eq!(get("/components/schemas/Grant/example"), None);
    let list_json = format!("{LIST}/responses/200/content/application~1json");
    assert!(get(&list_json).is_some());
    assert_eq!(get(&format!("{list_json}/example")), None);
    let create_json =
        "/paths/~1widgets~1{widget_id}~1grants/post/requestBody/content/application~1json";
    assert!(get(&format!("{create_json}/examples/good/value")).is_some());
    assert_eq!(get(&format!("{create_json}/examples/broken")), None);
    // Numeric exclusiveMinimum: minimum + boolean exclusiveMinimum.
    let limit = format!("{LIST}/parameters/0/schema");
    assert_eq!(get(&format!("{limit}/minimum")), Some(Node::Int(0)));
    assert_eq!(
        get(&format!("{limit}/exclusiveMinimum")),
        Some(Node::Bool(true))
    );
    // 3.1-only info fields do not come along.
    assert_eq!(get("/info/summary"), None);
    assert_eq!(get("/info/license/identifier"), None);
    // Dropped extensions are gone everywhere, with what only they referenced.
    let text = sync_fixture("upstream-v1.yaml").text;
    let body: Vec<&str> = text.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!body.join("\n").contains("x-oaiMeta"));
    assert_eq!(get("/components/schemas/NotTaken"), None);
}

#[test]
fn only_the_selected_operations_and_what_they_reference_are_taken() {
    let doc = sync_fixture("upstream-v1.yaml").document;
    let paths: Vec<&String> = doc.get("paths").unwrap().as_map().unwrap().keys().collect();
    assert_eq!(
        paths,
        [
            "/widgets/{widget_id}/grants",
            "/widgets/{widget_id}/grants/{grant_id}"
        ],
        "not /gadgets, not /widgets/{{widget_id}}/grantsets"
    );
    let schemas: Vec<&String> = doc
        .get("components")
        .and_then(|c| c.get("schemas"))
        .unwrap()
        .as_map()
        .unwrap()
        .keys()
        .collect();
    // Sorted; Owner through Grant; Error through the overlay's BadRequest response.
    assert_eq!(
        schemas,
        [
            "CreateGrantRequest",
            "DeletedGrant",
            "Error",
            "ErrorResponse",
            "Grant",
            "GrantList",
            "Owner"
        ]
    );
    assert_eq!(at(&doc, "/webhooks"), None);
    assert_eq!(at(&doc, "/components/securitySchemes/ApiKeyAuth"), None);
    let tags = at(&doc, "/tags").unwrap().as_seq().unwrap();
    assert_eq!(tags.len(), 1, "only the tag the operations use");
    assert_eq!(tags[0].get_str("name"), Some("Grants"));
}

#[test]
fn the_overlay_additions_are_merged_in() {
    let doc = sync_fixture("upstream-v1.yaml").document;
    for op in [
        LIST,
        "/paths/~1widgets~1{widget_id}~1grants/post",
        "/paths/~1widgets~1{widget_id}~1grants~1{grant_id}/delete",
    ] {
        assert_eq!(
            at(&doc, &format!("{op}/security/0/AdminKey")),
            Some(&Node::Seq(vec![])),
            "{op}"
        );
        assert_eq!(
            at(&doc, &format!("{op}/responses/400/$ref")),
            Some(&"#/components/responses/BadRequest".into()),
            "{op}"
        );
        assert!(at(&doc, &format!("{op}/responses/200")).is_some(), "{op}");
    }
    assert_eq!(
        at(&doc, "/security/0/AdminKey"),
        Some(&Node::Seq(vec![])),
        "the overlay's security replaces upstream's ApiKeyAuth"
    );
    // The upstream scheme, with the overlay's description merged over it.
    let scheme = at(&doc, "/components/securitySchemes/AdminKey").unwrap();
    assert_eq!(scheme.get_str("scheme"), Some("bearer"));
    assert_eq!(
        scheme.get_str("description"),
        Some("An admin key, as a bearer token.")
    );
    // An upstream schema patched: description replaced, a property removed by null.
    let grant = at(&doc, "/components/schemas/Grant").unwrap();
    assert!(grant.get_str("description").unwrap().contains("patched"));
    assert!(grant.get("properties").unwrap().get("size").is_none());
    assert_eq!(at(&doc, "/info/title"), Some(&"Widget grants".into()));
    assert_eq!(
        at(&doc, "/info/version"),
        Some(&"4.2.0".into()),
        "upstream's version"
    );
}

#[test]
fn the_header_says_where_the_fragment_comes_from_and_how_to_change_it() {
    let text = sync_fixture("upstream-v1.yaml").text;
    let header: Vec<&str> = text.lines().take_while(|l| l.starts_with('#')).collect();
    let header = header.join("\n");
    for needle in [
        "Do not edit by hand",
        "openapi/overlay.yaml",
        "cargo xtask sync-spec",
        "`upstream-v1.yaml` (OpenAPI 3.1.0, `Widget API` version 4.2.0",
        &sync::fingerprint(&fixture("upstream-v1.yaml")),
        "Test fixture: the expected output",
    ] {
        assert!(header.contains(needle), "{needle:?} not in:\n{header}");
    }
    assert!(header.lines().all(|l| l.len() <= 90), "{header}");
}

#[test]
fn syncing_is_deterministic_and_a_30_fragment_syncs_to_itself() {
    let first = sync_fixture("upstream-v1.yaml");
    let second = sync_fixture("upstream-v1.yaml");
    assert_eq!(first.text, second.text);
    // The fragment is 3.0 and has everything the overlay adds: syncing it again
    // changes nothing but the header.
    let again = sync::sync(&first.text, "expected-v1.yaml", &fixture("overlay.yaml")).unwrap();
    assert_eq!(again.document, first.document);
    let body = |t: &str| {
        t.lines()
            .skip_while(|l| l.starts_with('#'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        body(&again.text),
        body(&first.text),
        "same text, key order included"
    );
}

#[test]
fn the_second_version_gives_the_expected_summary() {
    let old = sync_fixture("upstream-v1.yaml");
    let new = sync_fixture("upstream-v2.yaml");
    let summary = summary::compare(&old.document, &new.document);
    assert_expected("expected-summary-v2.txt", &summary.to_string());
    let find = |needle: &str| {
        summary
            .changes
            .iter()
            .find(|c| c.to_string().contains(needle))
            .unwrap_or_else(|| panic!("no change mentions {needle:?}:\n{summary}"))
    };
    assert_eq!(
        find("parameter removed: `limit` (query)").impact,
        Impact::Breaking
    );
    assert_eq!(
        find("Grant.created_at: type changed from integer to string(date-time)").impact,
        Impact::Breaking
    );
    assert_eq!(
        find("GrantList.total: field added").impact,
        Impact::NonBreaking
    );
    assert!(summary.is_breaking());
}

/// The summary's changes are data: each has a kind, a location, a direction where
/// data flows, and an impact; the text is rendered from them.
#[test]
fn the_changes_of_the_second_version_have_their_kinds() {
    let old = sync_fixture("upstream-v1.yaml");
    let new = sync_fixture("upstream-v2.yaml");
    let summary = summary::compare(&old.document, &new.document);
    let has = |impact, location: &str, kind: ChangeKind, direction| {
        let wanted = Change {
            impact,
            kind,
            location: Some(location.to_owned()),
            direction,
        };
        assert!(
            summary.changes.contains(&wanted),
            "no {wanted:?} in {:#?}",
            summary.changes
        );
    };
    has(
        Impact::Breaking,
        "`listGrants`",
        ChangeKind::ParameterRemoved {
            name: "limit".into(),
            location: "query".into(),
        },
        None,
    );
    has(
        Impact::Breaking,
        "Grant.created_at",
        ChangeKind::TypeChanged {
            from: "integer".into(),
            to: "string(date-time)".into(),
        },
        Some(Direction::Response),
    );
    has(
        Impact::NonBreaking,
        "GrantList.total",
        ChangeKind::FieldAdded {
            shape: "integer".into(),
            required: false,
            nullable: false,
        },
        Some(Direction::Response),
    );
    // Every change renders as one line that starts with its location.
    for change in &summary.changes {
        let text = change.to_string();
        assert!(!text.contains('\n'), "{text}");
        if let Some(location) = &change.location {
            assert!(text.starts_with(&format!("{location}: ")), "{text}");
        }
    }
}

#[test]
fn links_are_classified_and_never_break() {
    let with_links = |links: &str| {
        yaml(&format!(
            "openapi: 3.0.3\n\
             paths:\n  /x:\n    get:\n      operationId: one\n\
             \x20     responses:\n        \"200\":\n          description: OK\n{links}"
        ))
    };
    let none = with_links("");
    let one = with_links("          links:\n            Next:\n              operationId: one\n");
    let other = with_links("          links:\n            Next:\n              operationId: two\n");
    let kinds = |a: &Node, b: &Node| -> Vec<(Impact, ChangeKind)> {
        summary::compare(a, b)
            .changes
            .into_iter()
            .map(|c| (c.impact, c.kind))
            .collect()
    };
    assert_eq!(
        kinds(&none, &one),
        [(Impact::NonBreaking, ChangeKind::LinkAdded("Next".into()))]
    );
    assert_eq!(
        kinds(&one, &none),
        [(Impact::NonBreaking, ChangeKind::LinkRemoved("Next".into()))]
    );
    assert_eq!(
        kinds(&one, &other),
        [(Impact::NonBreaking, ChangeKind::LinkChanged("Next".into()))]
    );
}

#[test]
fn an_unchanged_fragment_has_an_empty_summary() {
    let synced = sync_fixture("upstream-v1.yaml");
    let summary = summary::compare(&synced.document, &synced.document);
    assert!(summary.changes.is_empty());
    assert_eq!(summary.to_string(), "no change to the API\n");
}

/// A fragment with one operation whose request body is `Req` and whose response is
/// `Res`; `req` and `res` are the two schemas' YAML bodies, indented by 6.
fn two_way(req: &str, res: &str) -> Node {
    yaml(&format!(
        "openapi: 3.0.3\n\
         paths:\n  /x:\n    post:\n      operationId: op\n\
         \x20     requestBody:\n        content:\n          application/json:\n\
         \x20           schema:\n              $ref: \"#/components/schemas/Req\"\n\
         \x20     responses:\n        \"200\":\n          description: OK\n\
         \x20         content:\n            application/json:\n              schema:\n\
         \x20               $ref: \"#/components/schemas/Res\"\n\
         components:\n  schemas:\n    Req:\n{req}    Res:\n{res}"
    ))
}

/// The impact of the one change between two versions of the fixture of [`two_way`].
fn impact_of(before: (&str, &str), after: (&str, &str)) -> Vec<(Impact, String)> {
    let summary = summary::compare(&two_way(before.0, before.1), &two_way(after.0, after.1));
    summary
        .changes
        .into_iter()
        .map(|c| (c.impact, c.to_string()))
        .collect()
}

const OBJ_A: &str = "      type: object\n      properties:\n        a:\n          type: string\n";
const OBJ_A_REQUIRED: &str = "      type: object\n      properties:\n        a:\n          type: string\n      required: [a]\n";
const OBJ_A_NULLABLE: &str = "      type: object\n      properties:\n        a:\n          type: string\n          nullable: true\n";
const OBJ_ENUM_AB: &str = "      type: object\n      properties:\n        a:\n          type: string\n          enum: [x, y]\n";
const OBJ_ENUM_A: &str = "      type: object\n      properties:\n        a:\n          type: string\n          enum: [x]\n";
const OBJ_EMPTY: &str = "      type: object\n      properties: {}\n";

#[test]
fn required_and_nullable_changes_break_by_direction() {
    let breaking = |changes: Vec<(Impact, String)>, needle: &str| -> bool {
        let found = changes
            .iter()
            .find(|(_, what)| what.contains(needle))
            .unwrap_or_else(|| panic!("no {needle:?} in {changes:?}"));
        found.0 == Impact::Breaking
    };
    // Required in a request: callers must now send it.
    assert!(breaking(
        impact_of((OBJ_A, OBJ_A), (OBJ_A_REQUIRED, OBJ_A)),
        "Req.a: became required (request)"
    ));
    // Required in a response: a firmer guarantee.
    assert!(!breaking(
        impact_of((OBJ_A, OBJ_A), (OBJ_A, OBJ_A_REQUIRED)),
        "Res.a: became required (response)"
    ));
    // Optional in a response: readers can no longer count on it.
    assert!(breaking(
        impact_of((OBJ_A, OBJ_A_REQUIRED), (OBJ_A, OBJ_A)),
        "Res.a: became optional (response)"
    ));
    assert!(!breaking(
        impact_of((OBJ_A_REQUIRED, OBJ_A), (OBJ_A, OBJ_A)),
        "Req.a: became optional (request)"
    ));
    // Nullable: breaks readers (responses), not writers (requests).
    assert!(breaking(
        impact_of((OBJ_A, OBJ_A), (OBJ_A, OBJ_A_NULLABLE)),
        "Res.a: became nullable (response)"
    ));
    assert!(!breaking(
        impact_of((OBJ_A, OBJ_A), (OBJ_A_NULLABLE, OBJ_A)),
        "Req.a: became nullable (request)"
    ));
    assert!(breaking(
        impact_of((OBJ_A_NULLABLE, OBJ_A), (OBJ_A, OBJ_A)),
        "Req.a: no longer nullable (request)"
    ));
}

#[test]
fn fields_and_enum_values_break_by_direction() {
    let only = |changes: Vec<(Impact, String)>| -> (Impact, String) {
        assert_eq!(changes.len(), 1, "{changes:?}");
        changes.into_iter().next().unwrap()
    };
    // A new required request field: every caller must send it.
    let (impact, what) = only(impact_of((OBJ_EMPTY, OBJ_A), (OBJ_A_REQUIRED, OBJ_A)));
    assert_eq!(
        (impact, what.as_str()),
        (
            Impact::Breaking,
            "Req.a: field added (string, required; request)"
        )
    );
    // A new optional request field, a new response field: additions.
    let (impact, _) = only(impact_of((OBJ_EMPTY, OBJ_A), (OBJ_A, OBJ_A)));
    assert_eq!(impact, Impact::NonBreaking);
    let (impact, _) = only(impact_of((OBJ_A, OBJ_EMPTY), (OBJ_A, OBJ_A_REQUIRED)));
    assert_eq!(impact, Impact::NonBreaking);
    // A removed field, either way.
    let (impact, what) = only(impact_of((OBJ_A, OBJ_A), (OBJ_A, OBJ_EMPTY)));
    assert_eq!(
        (impact, what.as_str()),
        (Impact::Breaking, "Res.a: field removed (response)")
    );
    // An enum value removed breaks both ways; one added breaks only readers.
    let (impact, _) = only(impact_of((OBJ_ENUM_AB, OBJ_A), (OBJ_ENUM_A, OBJ_A)));
    assert_eq!(impact, Impact::Breaking);
    let (impact, what) = only(impact_of((OBJ_ENUM_A, OBJ_A), (OBJ_ENUM_AB, OBJ_A)));
    assert_eq!(
        (impact, what.as_str()),
        (Impact::NonBreaking, "Req.a: enum value `y` added (request)")
    );
    let (impact, _) = only(impact_of((OBJ_A, OBJ_ENUM_A), (OBJ_A, OBJ_ENUM_AB)));
    assert_eq!(impact, Impact::Breaking);
    // A type change breaks both ways.
    let (impact, what) = only(impact_of(
        (OBJ_A, OBJ_A),
        (OBJ_A.replace("string", "integer").as_str(), OBJ_A),
    ));
    assert_eq!(
        (impact, what.as_str()),
        (
            Impact::Breaking,
            "Req.a: type changed from string to integer (request)"
        )
    );
}

#[test]
fn operations_and_parameters_added_and_removed() {
    let op = |extra: &str| {
        yaml(&format!(
            "openapi: 3.0.3\npaths:\n  /x:\n    get:\n      operationId: one\n\
             \x20     parameters:\n        - {{name: a, in: query, schema: {{type: string}}}}\n\
             {extra}\
             \x20     responses:\n        \"200\": {{description: OK}}\n"
        ))
    };
    let base = op("");
    let with_optional = op("        - {name: b, in: query, schema: {type: integer}}\n");
    let with_required =
        op("        - {name: b, in: query, required: true, schema: {type: integer}}\n");
    let changes = |a: &Node, b: &Node| summary::compare(a, b).changes;
    assert_eq!(
        changes(&base, &with_optional)[0].impact,
        Impact::NonBreaking
    );
    assert_eq!(changes(&base, &with_required)[0].impact, Impact::Breaking);
    let removed = changes(&with_optional, &base);
    assert_eq!(removed[0].impact, Impact::Breaking);
    assert_eq!(
        removed[0].kind,
        ChangeKind::ParameterRemoved {
            name: "b".into(),
            location: "query".into()
        }
    );
    assert_eq!(removed[0].location.as_deref(), Some("`one`"));
    let none = yaml("openapi: 3.0.3\npaths: {}\n");
    let gone = changes(&base, &none);
    assert_eq!(gone[0].impact, Impact::Breaking);
    assert_eq!(
        gone[0].kind,
        ChangeKind::OperationRemoved {
            id: "one".into(),
            route: "GET /x".into()
        }
    );
    assert_eq!(gone[0].to_string(), "operation removed: `one` (GET /x)");
    assert_eq!(changes(&none, &base)[0].impact, Impact::NonBreaking);
}

fn sync_err(upstream: &str, overlay: &str) -> String {
    match sync::sync(upstream, "bad.yaml", overlay) {
        Ok(_) => panic!("the sync should fail"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn bad_input_gives_a_clear_error() {
    let overlay = fixture("overlay.yaml");
    let upstream = fixture("upstream-v1.yaml");
    let cases: Vec<(String, String, &str)> = vec![
        (
            "openapi: [unclosed".into(),
            overlay.clone(),
            "not valid YAML",
        ),
        (
            "- a list".into(),
            overlay.clone(),
            "not an OpenAPI document",
        ),
        (
            "swagger: '2.0'\npaths: {}\n".into(),
            overlay.clone(),
            "sync-spec reads OpenAPI 3.0.x and 3.1.x",
        ),
        (
            "openapi: 3.1.0\ninfo: {title: t, version: '1'}\n".into(),
            overlay.clone(),
            "has no `paths` mapping",
        ),
        (
            "openapi: 3.1.0\npaths: {}\n".into(),
            overlay.clone(),
            "has no `info.title` string",
        ),
        (
            upstream.replace("/widgets/{widget_id}/grants", "/renamed"),
            overlay.clone(),
            "has no operation that `x-sync` selects",
        ),
        (
            upstream.replace(
                "#/components/schemas/Owner\"",
                "#/components/schemas/Nobody\"",
            ),
            overlay.clone(),
            "`$ref: #/components/schemas/Nobody` is neither in the upstream document nor in the overlay",
        ),
        (
            upstream.replace("#/components/schemas/Owner\"", "other.yaml#/Owner\""),
            overlay.clone(),
            "is not a reference to `#/components/...`",
        ),
        (upstream.clone(), "info: {}\n".into(), "no `x-sync` section"),
        (
            upstream.clone(),
            overlay.replace("  dropExtensions:", "  dropExtension:"),
            "unknown key `x-sync.dropExtension`",
        ),
        (upstream.clone(), "x-sync: {}\n".into(), "selects nothing"),
        (
            upstream.clone(),
            format!("{overlay}paths:\n  /gadgets:\n    get:\n      summary: no\n"),
            "`paths` patches `/gadgets`, which the sync does not take",
        ),
        (
            upstream.clone(),
            overlay.replace(
                "#/components/responses/BadRequest",
                "#/components/responses/Nope",
            ),
            "#/components/responses/Nope` is neither in the upstream document nor in the overlay",
        ),
    ];
    for (upstream, overlay, expected) in cases {
        let message = sync_err(&upstream, &overlay);
        assert!(
            message.contains(expected),
            "expected {expected:?} in the error, got: {message}"
        );
    }
}

#[test]
fn a_fragment_the_generator_refuses_is_an_error() {
    // An overlay that gives two operations the same operationId.
    let overlay = format!(
        "{}paths:\n  /widgets/{{widget_id}}/grants:\n    post:\n      operationId: listGrants\n",
        fixture("overlay.yaml")
    );
    let error = sync::sync(&fixture("upstream-v1.yaml"), "u.yaml", &overlay).unwrap_err();
    assert!(matches!(error, SyncError::Invalid(_)), "{error}");
    assert!(error.to_string().contains("listGrants"), "{error}");
}

#[test]
fn the_fixture_fragment_generates_a_client() {
    let synced = sync_fixture("upstream-v1.yaml");
    let source = permissions_codegen::generate_from_str(&synced.text)
        .unwrap_or_else(|e| panic!("progenitor refuses the synced fixture: {e}"));
    assert!(source.contains("fn list_grants"), "no list_grants method");
}

#[test]
fn the_real_document_syncs_to_the_committed_fragment() {
    let path = workspace_root().join("../shared/reference/openai-openapi-3.1.0.yaml");
    if !path.is_file() {
        eprintln!(
            "SKIPPED: {} is absent (it comes with ../shared beside the checkout); the \
             committed fragment was not compared with a fresh sync",
            path.display()
        );
        return;
    }
    let upstream = std::fs::read_to_string(&path).unwrap();
    let overlay = std::fs::read_to_string(workspace_root().join("openapi/overlay.yaml")).unwrap();
    let started = std::time::Instant::now();
    let synced = sync::sync(&upstream, "openai-openapi-3.1.0.yaml", &overlay)
        .unwrap_or_else(|e| panic!("sync of the official document: {e}"));
    eprintln!(
        "synced the official document in {:.0} ms (debug build)",
        started.elapsed().as_secs_f64() * 1e3
    );
    let committed =
        std::fs::read_to_string(workspace_root().join("openapi/permissions.yaml")).unwrap();
    assert!(
        committed == synced.text,
        "openapi/permissions.yaml is not what the sync produces: run \
         `cargo xtask sync-spec ../shared/reference/openai-openapi-3.1.0.yaml`, review, commit"
    );
    // The three permission operations and list-projects.
    assert_eq!(synced.operations, 4);
}
