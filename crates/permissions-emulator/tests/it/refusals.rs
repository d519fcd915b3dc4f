//! The real API's refusals, modelled: the owning project, key scopes, the
//! answers to oversized heads; and the scripted page anomalies.

use crate::common::{ADMIN_KEY, Api, CHECKPOINT, json_file};
use permissions_emulator::{
    ApiKey, Emulator, Fault, Scope, SeedCheckpoint, SeedPermission, read_keys_file,
};
use reqwest::StatusCode;
use serde_json::json;

const OWNER: &str = "proj_owner0123456789";
const READER: &str = "sk-admin-reader-0123456789";
const WRITER: &str = "sk-admin-writer-0123456789";

#[tokio::test]
async fn granting_the_owning_project_is_400_and_grants_nothing() {
    let emulator = Emulator::builder()
        .checkpoints([SeedCheckpoint::new(CHECKPOINT, OWNER)])
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    let reply = api.create(CHECKPOINT, &["proj_other", OWNER]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let error = reply.error();
    assert_eq!(
        error["message"],
        format!("Cannot modify checkpoint permissions for the owning project: {OWNER}")
    );
    assert_eq!(error["type"], "invalid_request_error");
    assert_eq!(error["param"], "project_ids");
    // Nothing of the refused request was granted, and other checkpoints are free.
    assert!(api.list(CHECKPOINT, &[]).await.page_ids().is_empty());
    assert_eq!(
        api.create(CHECKPOINT, &["proj_other"])
            .await
            .page_ids()
            .len(),
        1
    );
    assert_eq!(api.create("ft:another", &[OWNER]).await.page_ids().len(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_seed_file_with_owners_is_read_and_an_owner_grant_in_it_is_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = json_file(
        dir.path(),
        "seed.json",
        &json!({
            "checkpoints": [{"id": CHECKPOINT, "owner_project_id": OWNER}],
            "permissions": [{"checkpoint": CHECKPOINT, "project_id": "proj_x"}]
        }),
    );
    let emulator = Emulator::builder()
        .seed_file(&good)
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    assert_eq!(api.list(CHECKPOINT, &[]).await.page_ids().len(), 1);
    assert_eq!(
        api.create(CHECKPOINT, &[OWNER]).await.status,
        StatusCode::BAD_REQUEST
    );
    emulator.shutdown().await;

    // A seed may not grant a checkpoint to its owner, wherever the owner is named.
    let error = Emulator::builder()
        .checkpoints([SeedCheckpoint::new(CHECKPOINT, OWNER)])
        .seed([SeedPermission::new(CHECKPOINT, OWNER)])
        .start()
        .await
        .expect_err("refused");
    assert!(
        matches!(error, permissions_emulator::Error::Seed(_)),
        "{error}"
    );
}

#[tokio::test]
async fn key_scopes_decide_who_reads_and_who_writes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = json_file(
        dir.path(),
        "keys.json",
        &json!({"keys": [
            {"key": READER, "scopes": ["api.fine_tuning.checkpoints.read"]},
            {"key": WRITER, "scopes": ["api.fine_tuning.checkpoints.read",
                                       "api.fine_tuning.checkpoints.write"]}
        ]}),
    );
    assert_eq!(
        read_keys_file(&file).expect("reads"),
        vec![
            ApiKey::new(READER, [Scope::Read]),
            ApiKey::new(WRITER, [Scope::Read, Scope::Write])
        ]
    );
    let emulator = Emulator::builder()
        .keys_file(&file)
        .start()
        .await
        .expect("starts");
    let writer = Api::new(emulator.base_url()).with_key(Some(WRITER));
    let reader = writer.with_key(Some(READER));

    let id = writer.create(CHECKPOINT, &["proj_a"]).await.page_ids()[0].clone();
    assert_eq!(
        reader.list(CHECKPOINT, &[]).await.page_ids(),
        std::slice::from_ref(&id)
    );
    for refused in [
        reader.create(CHECKPOINT, &["proj_b"]).await,
        reader.delete(CHECKPOINT, &id).await,
    ] {
        assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
        let message = refused.error()["message"]
            .as_str()
            .expect("message")
            .to_owned();
        assert!(
            message.contains("Missing scopes: api.fine_tuning.checkpoints.write"),
            "{message}"
        );
        assert!(!message.contains("reader-0123456789"), "{message}");
    }
    // Nothing was changed by the refused calls.
    assert_eq!(
        writer.list(CHECKPOINT, &[]).await.page_ids(),
        std::slice::from_ref(&id)
    );

    // An admin key the file does not list is unknown; a non-admin key is still 403.
    let unknown = writer.with_key(Some(ADMIN_KEY)).list(CHECKPOINT, &[]).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.error()["code"], "invalid_api_key");
    let project_key = writer.with_key(Some("sk-proj-0123456789"));
    assert_eq!(
        project_key.list(CHECKPOINT, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(writer.delete(CHECKPOINT, &id).await.status, StatusCode::OK);
    emulator.shutdown().await;

    // Without a key list any admin key has both scopes, as before.
    let open = Emulator::builder().start().await.expect("starts");
    let api = Api::new(open.base_url());
    assert_eq!(
        api.create(CHECKPOINT, &["proj_a"]).await.status,
        StatusCode::OK
    );
    open.shutdown().await;
}

#[tokio::test]
async fn bad_key_files_stop_startup_without_showing_a_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, text) in [
        (
            "scope.json",
            json!({"keys": [{"key": READER, "scopes": ["api.everything"]}]}).to_string(),
        ),
        (
            "twice.json",
            json!({"keys": [{"key": READER, "scopes": []}, {"key": READER, "scopes": []}]})
                .to_string(),
        ),
        ("shape.json", json!({"keys": [READER]}).to_string()),
        ("syntax.json", format!("{{\"keys\": [{{\"key\": \"{READER}")),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let error = Emulator::builder()
            .keys_file(&path)
            .start()
            .await
            .expect_err("refused");
        assert!(
            matches!(error, permissions_emulator::Error::Keys(_)),
            "{name}: {error}"
        );
        let shown = format!("{error} {error:?}");
        assert!(!shown.contains("reader-0123456789"), "{name}: {shown}");
    }
    let missing = Emulator::builder()
        .keys_file(dir.path().join("none.json"))
        .start()
        .await;
    assert!(matches!(missing, Err(permissions_emulator::Error::Keys(_))));

    // A refused start leaves no database behind: it is opened after every check.
    let db = dir.path().join("permissions.db");
    let refused = Emulator::builder()
        .database(&db)
        .keys_file(dir.path().join("shape.json"))
        .seed([SeedPermission::new(CHECKPOINT, "proj_x")])
        .start()
        .await;
    assert!(matches!(refused, Err(permissions_emulator::Error::Keys(_))));
    assert!(!db.exists(), "the refused start created {}", db.display());
}

#[tokio::test]
async fn every_key_file_given_counts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let file = |name: &str, key: &str| {
        json_file(
            dir.path(),
            name,
            &json!({"keys": [{"key": key, "scopes": ["api.fine_tuning.checkpoints.read"]}]}),
        )
    };
    let emulator = Emulator::builder()
        .keys_file(file("readers.json", READER))
        .keys_file(file("writers.json", WRITER))
        .start()
        .await
        .expect("starts");
    for key in [READER, WRITER] {
        let api = Api::new(emulator.base_url()).with_key(Some(key));
        let reply = api.list(CHECKPOINT, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{key}");
    }
    emulator.shutdown().await;
}

/// Sends `head` as it is over a fresh connection and returns the status, the head
/// and the body of the answer (the emulator closes the connection after it).
async fn raw_exchange(emulator: &Emulator, head: &[u8]) -> (u16, String, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(emulator.addr())
        .await
        .expect("connects");
    stream.write_all(head).await.expect("writes");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("reads");
    let answer = String::from_utf8(answer).expect("utf-8");
    let (head, body) = answer.split_once("\r\n\r\n").expect("a head");
    let status = head
        .get(9..12)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status in {head:?}"));
    (status, head.to_owned(), body.to_owned())
}

#[tokio::test]
async fn oversized_heads_get_414_and_431_with_the_envelope() {
    use permissions_emulator::{MAX_HEADER_BYTES, MAX_HEADER_COUNT, MAX_URI_BYTES};
    let emulator = Emulator::builder().start().await.expect("starts");
    let path = format!("/v1/fine_tuning/checkpoints/{CHECKPOINT}/permissions");
    let get = |target: &str, headers: &str| {
        format!(
            "GET {target} HTTP/1.1\r\nhost: 127.0.0.1\r\n\
             authorization: Bearer {ADMIN_KEY}\r\nconnection: close\r\n{headers}\r\n"
        )
    };
    let long_uri = get(&format!("{path}?pad={}", "a".repeat(MAX_URI_BYTES)), "");
    let fillers: String = (0..MAX_HEADER_COUNT)
        .map(|i| format!("x-filler-{i}: x\r\n"))
        .collect();
    let many_headers = get(&path, &fillers);
    let large_header = get(
        &path,
        &format!("x-filler: {}\r\n", "x".repeat(MAX_HEADER_BYTES)),
    );
    for (request, expected) in [(long_uri, 414), (many_headers, 431), (large_header, 431)] {
        let (status, head, body) = raw_exchange(&emulator, request.as_bytes()).await;
        assert_eq!(status, expected, "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("content-type: application/json"), "{head}");
        assert!(lower.contains("x-request-id: req_"), "{head}");
        assert!(
            lower.contains(&format!("content-length: {}", body.len())),
            "{head}"
        );
        let envelope: serde_json::Value = serde_json::from_str(&body).expect("JSON");
        assert_eq!(envelope["error"]["type"], "invalid_request_error", "{body}");
        assert!(envelope["error"]["message"].is_string(), "{body}");
        assert!(!body.contains(ADMIN_KEY), "{body}");
    }
    // Beyond hyper's own bound (a 64 KiB URI), hyper answers bare; the emulator
    // lets it, and still serves.
    let beyond = get(&format!("{path}?pad={}", "a".repeat(70_000)), "");
    let (status, head, body) = raw_exchange(&emulator, beyond.as_bytes()).await;
    assert_eq!(status, 414, "{head}");
    assert!(body.is_empty(), "{body}");
    let api = Api::new(emulator.base_url());
    assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    emulator.shutdown().await;
}

#[tokio::test]
async fn scripted_page_anomalies() {
    let emulator = Emulator::builder()
        .seed((0..5).map(|i| SeedPermission::new(CHECKPOINT, format!("proj_{i}"))))
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    let first = api.list(CHECKPOINT, &[("limit", "2")]).await;
    let cursor = first.page_ids()[1].clone();

    emulator.inject(Fault::EmptyPage, 1);
    let empty = api
        .list(CHECKPOINT, &[("limit", "2"), ("after", &cursor)])
        .await;
    assert_eq!(
        empty.body,
        json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": true})
    );

    emulator.inject(Fault::RepeatLastId, 1);
    let repeated = api
        .list(CHECKPOINT, &[("limit", "2"), ("after", &cursor)])
        .await;
    assert_eq!(repeated.body["data"].as_array().map(Vec::len), Some(2));
    assert_eq!(repeated.body["last_id"], cursor.as_str());
    assert_eq!(repeated.body["has_more"], true);

    // A page fault spent on another request changes nothing there.
    emulator.inject(Fault::EmptyPage, 1);
    assert_eq!(
        api.create(CHECKPOINT, &["proj_x"]).await.page_ids().len(),
        1
    );
    let normal = api
        .list(CHECKPOINT, &[("limit", "2"), ("after", &cursor)])
        .await;
    assert_eq!(normal.page_ids().len(), 2);
    emulator.shutdown().await;
}
