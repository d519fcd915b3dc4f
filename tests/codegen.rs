//! Snapshots of the generated client: every change of the spec or of the generator
//! settings shows up as a reviewable diff of `tests/snapshots/`.

use workspace_tests::fragment;

#[test]
fn generated_client_snapshot() {
    let source = permissions_codegen::generate(&fragment()).expect("the fragment generates");
    insta::assert_snapshot!("permissions_api", source);
}

#[test]
fn generation_is_deterministic() {
    let spec = fragment();
    let first = permissions_codegen::generate(&spec).unwrap();
    let second = permissions_codegen::generate(&spec).unwrap();
    assert_eq!(first, second);
}

#[test]
fn generated_code_uses_the_shared_types_and_hooks() {
    let source = permissions_codegen::generate(&fragment()).unwrap();
    assert!(source.starts_with(permissions_codegen::HEADER_FIRST_LINE));
    for (schema, rust_type) in permissions_codegen::REPLACEMENTS {
        assert!(
            !source.contains(&format!("pub struct {schema} ")),
            "{schema} was generated instead of taken from {rust_type}"
        );
    }
    let used = |path: &str| source.contains(&path.replace("::", " :: ")) || source.contains(path);
    assert!(used("permissions_types::PermissionList"));
    assert!(
        used(permissions_codegen::ORDER_TYPE),
        "order is not ListOrder"
    );
    assert!(
        used(permissions_codegen::PRE_REQUEST_HOOK),
        "the pre-request hook is not called"
    );
    assert!(
        used(permissions_codegen::INNER_TYPE),
        "the client does not carry the transport"
    );
}
