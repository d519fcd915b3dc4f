//! The emulator's HTTP behaviour, against an in-process emulator on 127.0.0.1:0.

use crate::common;

use std::collections::HashSet;
use std::time::Duration;

use crate::common::{ADMIN_KEY, Api, CHECKPOINT, json_file};
use permissions_emulator::{Emulator, Fault, FaultConfig, SeedPermission};
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn start() -> (Emulator, Api) {
    let emulator = Emulator::builder().start().await.expect("emulator starts");
    let api = Api::new(emulator.base_url());
    (emulator, api)
}

fn is_real_looking_id(id: &str) -> bool {
    id.len() == 27 && id.starts_with("cp_") && id[3..].bytes().all(|b| b.is_ascii_alphanumeric())
}

#[tokio::test]
async fn base_url_and_address() {
    let (emulator, _) = start().await;
    let addr = emulator.addr();
    assert!(addr.ip().is_loopback());
    assert_ne!(addr.port(), 0);
    assert_eq!(
        emulator.base_url(),
        format!("http://127.0.0.1:{}/v1", addr.port())
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn create_returns_one_permission_per_project_as_a_single_page() {
    let (emulator, api) = start().await;
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    let reply = api
        .create(CHECKPOINT, &["proj_a", "proj_b", "proj_c"])
        .await;
    let ids = reply.page_ids();
    assert_eq!(ids.len(), 3);
    assert!(!reply.has_more());
    let data = reply.body["data"].as_array().expect("array");
    let projects: Vec<&str> = data
        .iter()
        .map(|p| p["project_id"].as_str().expect("str"))
        .collect();
    assert_eq!(projects, ["proj_a", "proj_b", "proj_c"]);
    for permission in data {
        assert_eq!(permission["object"], "checkpoint.permission");
        assert!(
            is_real_looking_id(permission["id"].as_str().expect("str")),
            "{permission}"
        );
        let created_at = permission["created_at"].as_i64().expect("integer seconds");
        assert!(
            (before - 1..=before + 60).contains(&created_at),
            "{created_at} vs {before}"
        );
    }
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_is_ordered_by_creation_and_paginates_consistently() {
    let (emulator, api) = start().await;
    // 25 permissions created in one request share their created_at: the tie-break
    // (creation order) must still give one stable order.
    let projects: Vec<String> = (0..25).map(|i| format!("proj_{i:02}")).collect();
    let refs: Vec<&str> = projects.iter().map(String::as_str).collect();
    let created = api.create(CHECKPOINT, &refs).await.page_ids();

    let (ascending, pages) = api.list_all(CHECKPOINT, "ascending", 10).await;
    assert_eq!(pages, 3);
    assert_eq!(ascending, created);
    let (descending, _) = api.list_all(CHECKPOINT, "descending", 7).await;
    let mut reversed = created.clone();
    reversed.reverse();
    assert_eq!(descending, reversed);

    // Defaults: limit 10, descending.
    let page = api.list(CHECKPOINT, &[]).await;
    assert_eq!(page.page_ids(), reversed[..10].to_vec());
    assert!(page.has_more());
    // A page that ends exactly at the end says there is no more.
    let page = api
        .list(CHECKPOINT, &[("limit", "25"), ("order", "ascending")])
        .await;
    assert_eq!(page.page_ids().len(), 25);
    assert!(!page.has_more());
    let page = api
        .list(CHECKPOINT, &[("limit", "24"), ("order", "ascending")])
        .await;
    assert!(page.has_more());
    // `after` is exclusive.
    let page = api
        .list(
            CHECKPOINT,
            &[
                ("order", "ascending"),
                ("after", &created[4]),
                ("limit", "2"),
            ],
        )
        .await;
    assert_eq!(page.page_ids(), created[5..7].to_vec());
    // After the last one: an empty page with null ids.
    let page = api
        .list(
            CHECKPOINT,
            &[("order", "ascending"), ("after", &created[24])],
        )
        .await;
    assert!(page.page_ids().is_empty());
    assert!(page.body["first_id"].is_null() && page.body["last_id"].is_null());
    assert!(!page.has_more());
    // Another checkpoint is separate.
    assert!(api.list("ft:other", &[]).await.page_ids().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn seeded_created_at_orders_before_creation_order() {
    let seeds = vec![
        SeedPermission {
            created_at: Some(300),
            id: Some("cp_aaaaaaaaaaaaaaaaaaaaaaa3".into()),
            ..SeedPermission::new(CHECKPOINT, "proj_3")
        },
        SeedPermission {
            created_at: Some(100),
            id: Some("cp_aaaaaaaaaaaaaaaaaaaaaaa1".into()),
            ..SeedPermission::new(CHECKPOINT, "proj_1")
        },
        SeedPermission {
            created_at: Some(300),
            id: Some("cp_aaaaaaaaaaaaaaaaaaaaaaa4".into()),
            ..SeedPermission::new(CHECKPOINT, "proj_4")
        },
    ];
    let emulator = Emulator::builder()
        .seed(seeds)
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    let page = api.list(CHECKPOINT, &[("order", "ascending")]).await;
    assert_eq!(
        page.page_ids(),
        [
            "cp_aaaaaaaaaaaaaaaaaaaaaaa1",
            "cp_aaaaaaaaaaaaaaaaaaaaaaa3",
            "cp_aaaaaaaaaaaaaaaaaaaaaaa4"
        ]
    );
    assert_eq!(page.body["data"][0]["created_at"], 100);
    let page = api.list(CHECKPOINT, &[]).await;
    assert_eq!(
        page.page_ids(),
        [
            "cp_aaaaaaaaaaaaaaaaaaaaaaa4",
            "cp_aaaaaaaaaaaaaaaaaaaaaaa3",
            "cp_aaaaaaaaaaaaaaaaaaaaaaa1"
        ]
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn seed_file_is_read_and_bad_seed_files_stop_startup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let good = json_file(
        dir.path(),
        "seed.json",
        &json!({"permissions": [
            {"checkpoint": CHECKPOINT, "project_id": "proj_x", "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "created_at": 1712211699},
            {"checkpoint": CHECKPOINT, "project_id": "proj_y"}
        ]}),
    );
    let emulator = Emulator::builder()
        .seed_file(&good)
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    let page = api.list(CHECKPOINT, &[("order", "ascending")]).await;
    let ids = page.page_ids();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], "cp_zc4Q7MP6XxulcVzj4MZdwsAB");
    assert_eq!(page.body["data"][0]["created_at"], 1712211699);
    assert!(is_real_looking_id(&ids[1]));
    emulator.shutdown().await;

    let bad = dir.path().join("bad.json");
    std::fs::write(&bad, r#"[{"checkpoint": "a/b", "project_id": "p"}]"#).expect("write");
    let error = Emulator::builder()
        .seed_file(&bad)
        .start()
        .await
        .expect_err("refused");
    assert!(
        matches!(error, permissions_emulator::Error::Seed(_)),
        "{error}"
    );
    let missing = Emulator::builder()
        .seed_file(dir.path().join("none.json"))
        .start()
        .await;
    assert!(matches!(missing, Err(permissions_emulator::Error::Seed(_))));
}

#[tokio::test]
async fn project_id_filter() {
    let (emulator, api) = start().await;
    let ids = api
        .create(CHECKPOINT, &["proj_a", "proj_b", "proj_c"])
        .await
        .page_ids();
    let page = api.list(CHECKPOINT, &[("project_id", "proj_b")]).await;
    assert_eq!(page.page_ids(), [ids[1].clone()]);
    assert_eq!(page.body["data"][0]["project_id"], "proj_b");
    assert!(!page.has_more());
    assert!(
        api.list(CHECKPOINT, &[("project_id", "proj_zzz")])
            .await
            .page_ids()
            .is_empty()
    );
    // The filter combines with the cursor and the order.
    let page = api
        .list(
            CHECKPOINT,
            &[
                ("project_id", "proj_b"),
                ("after", &ids[0]),
                ("order", "ascending"),
            ],
        )
        .await;
    assert_eq!(page.page_ids(), [ids[1].clone()]);
    let page = api
        .list(
            CHECKPOINT,
            &[
                ("project_id", "proj_b"),
                ("after", &ids[2]),
                ("order", "ascending"),
            ],
        )
        .await;
    assert!(page.page_ids().is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn granting_twice_returns_the_existing_permission() {
    let (emulator, api) = start().await;
    let first = api.create(CHECKPOINT, &["proj_a"]).await;
    let first_id = first.page_ids()[0].clone();
    let first_created = first.body["data"][0]["created_at"].clone();
    let again = api
        .create(CHECKPOINT, &["proj_b", "proj_a", "proj_b"])
        .await;
    assert_eq!(again.status, StatusCode::OK);
    let data = again.body["data"].as_array().expect("array");
    assert_eq!(
        data.len(),
        2,
        "repeated ids in one request are granted once"
    );
    assert_eq!(data[0]["project_id"], "proj_b");
    assert_eq!(data[1]["id"], first_id.as_str());
    assert_eq!(data[1]["created_at"], first_created);
    let (all, _) = api.list_all(CHECKPOINT, "ascending", 100).await;
    assert_eq!(all.len(), 2);
    // The same project on another checkpoint is another permission.
    let other = api.create("ft:other", &["proj_a"]).await.page_ids();
    assert_ne!(other[0], first_id);
    emulator.shutdown().await;
}

#[tokio::test]
async fn delete_and_its_404s() {
    let (emulator, api) = start().await;
    let ids = api
        .create(CHECKPOINT, &["proj_a", "proj_b"])
        .await
        .page_ids();
    let reply = api.delete(CHECKPOINT, &ids[0]).await;
    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(
        reply.body,
        json!({"id": ids[0], "object": "checkpoint.permission", "deleted": true})
    );
    assert_eq!(api.list(CHECKPOINT, &[]).await.page_ids(), [ids[1].clone()]);

    for (checkpoint, id) in [
        (CHECKPOINT, ids[0].as_str()),               // already deleted
        ("ft:other", ids[1].as_str()),               // another checkpoint's
        (CHECKPOINT, "cp_000000000000000000000000"), // never existed
        (CHECKPOINT, "cp_short"),                    // never existed, another length
    ] {
        let reply = api.delete(checkpoint, id).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{checkpoint} {id}");
        assert_eq!(reply.error()["type"], "invalid_request_error");
    }
    assert_eq!(api.list(CHECKPOINT, &[]).await.page_ids(), [ids[1].clone()]);
    // Granting the project again gives a new permission.
    let regranted = api.create(CHECKPOINT, &["proj_a"]).await.page_ids();
    assert_ne!(regranted[0], ids[0]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn deleted_after_cursor_continues_and_unknown_after_is_400() {
    let (emulator, api) = start().await;
    let ids = api
        .create(
            CHECKPOINT,
            &["proj_0", "proj_1", "proj_2", "proj_3", "proj_4"],
        )
        .await
        .page_ids();
    assert_eq!(api.delete(CHECKPOINT, &ids[2]).await.status, StatusCode::OK);
    let page = api
        .list(CHECKPOINT, &[("order", "ascending"), ("after", &ids[2])])
        .await;
    assert_eq!(page.page_ids(), ids[3..].to_vec());
    let page = api
        .list(CHECKPOINT, &[("order", "descending"), ("after", &ids[2])])
        .await;
    assert_eq!(page.page_ids(), [ids[1].clone(), ids[0].clone()]);

    let other = api.create("ft:other", &["proj_0"]).await.page_ids();
    for after in ["cp_000000000000000000000000", other[0].as_str(), "cp_junk"] {
        let reply = api.list(CHECKPOINT, &[("after", after)]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{after}");
        assert_eq!(reply.error()["param"], "after");
        assert_eq!(reply.error()["code"], "invalid_cursor");
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn invalid_query_values_are_400() {
    let (emulator, api) = start().await;
    api.create(CHECKPOINT, &["proj_a"]).await.page_ids();
    for (name, value) in [
        ("limit", "0"),
        ("limit", "101"),
        ("limit", "-1"),
        ("limit", "abc"),
        ("limit", "1.5"),
        ("limit", ""),
        ("limit", "99999999999999999999999"),
        ("order", "sideways"),
        ("order", "ASCENDING"),
        ("order", ""),
        ("after", ""),
        ("project_id", ""),
    ] {
        let reply = api.list(CHECKPOINT, &[(name, value)]).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{name}={value}");
        assert_eq!(reply.error()["param"], name, "{name}={value}");
        assert_eq!(reply.error()["type"], "invalid_request_error");
    }
    let long = "x".repeat(300);
    let reply = api.list(CHECKPOINT, &[("after", long.as_str())]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    let reply = api
        .list(CHECKPOINT, &[("limit", "5"), ("limit", "6")])
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    // The edges are accepted; unknown parameters are ignored.
    assert_eq!(
        api.list(CHECKPOINT, &[("limit", "1")])
            .await
            .page_ids()
            .len(),
        1
    );
    assert_eq!(
        api.list(CHECKPOINT, &[("limit", "100")]).await.status,
        StatusCode::OK
    );
    assert_eq!(
        api.list(CHECKPOINT, &[("unknown", "1")]).await.status,
        StatusCode::OK
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn malformed_ids_are_400_naming_their_param() {
    let (emulator, api) = start().await;
    for (what, reply, param) in common::malformed_id_replies(&api).await {
        common::assert_malformed(what, &reply, param);
    }
    assert_eq!(emulator.state().permission_count(), 0);
    // An unknown field is still reported before a malformed project id.
    let reply = api
        .create_body(CHECKPOINT, json!({"project_ids": ["p"], "bogus": 1}))
        .await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error()["param"], "bogus");
    emulator.shutdown().await;
}

#[tokio::test]
async fn authentication_and_admin_keys() {
    let (emulator, api) = start().await;
    let url = api.permissions_url(CHECKPOINT);
    let reply = api.with_key(None).list(CHECKPOINT, &[]).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert_eq!(reply.error()["type"], "invalid_request_error");
    for header in [
        "Basic c2stYWRtaW4tYTpi",
        "Bearer",
        "Bearer ",
        "sk-admin-abc",
        "Bearer sk-admin-a b",
        "Bearer\tsk-admin-a",
    ] {
        let reply = api
            .with_key(None)
            .send(api.http.get(&url).header("authorization", header))
            .await;
        assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{header:?}");
        assert_eq!(reply.error()["code"], "invalid_api_key");
        assert!(
            !reply.error()["message"]
                .as_str()
                .unwrap_or_default()
                .contains("sk-admin-a")
        );
    }
    let project_key = "sk-proj-abcdef0123456789";
    for reply in [
        api.with_key(Some(project_key)).list(CHECKPOINT, &[]).await,
        api.with_key(Some(project_key))
            .create(CHECKPOINT, &["proj_a"])
            .await,
        api.with_key(Some(project_key))
            .delete(CHECKPOINT, "cp_000000000000000000000000")
            .await,
    ] {
        assert_eq!(reply.status, StatusCode::FORBIDDEN);
        assert!(
            !reply.error()["message"]
                .as_str()
                .unwrap_or_default()
                .contains(project_key)
        );
    }
    // Nothing was created by the refused requests.
    assert!(api.list(CHECKPOINT, &[]).await.page_ids().is_empty());
    // The scheme is case-insensitive, as in HTTP.
    let reply = api
        .with_key(None)
        .send(
            api.http
                .get(&url)
                .header("authorization", format!("bearer {ADMIN_KEY}")),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    emulator.shutdown().await;

    let custom = Emulator::builder()
        .admin_key_prefix("sk-test-admin-")
        .start()
        .await
        .expect("starts");
    let api = Api::new(custom.base_url());
    assert_eq!(
        api.list(CHECKPOINT, &[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.with_key(Some("sk-test-admin-1"))
            .list(CHECKPOINT, &[])
            .await
            .status,
        StatusCode::OK
    );
    custom.shutdown().await;
}

#[tokio::test]
async fn bad_create_bodies_are_4xx_and_write_nothing() {
    let (emulator, api) = start().await;
    let url = api.permissions_url(CHECKPOINT);
    let too_many: Vec<String> = (0..101).map(|i| format!("proj_{i}")).collect();
    let cases: Vec<(serde_json::Value, Option<&str>)> = vec![
        (json!({}), Some("project_ids")),
        (json!({"project_ids": []}), Some("project_ids")),
        (json!({"project_ids": too_many}), Some("project_ids")),
        (json!({"project_ids": "proj_a"}), Some("project_ids")),
        (json!({"project_ids": null}), Some("project_ids")),
        (
            json!({"project_ids": ["proj_a", ""]}),
            Some("project_ids[1]"),
        ),
        (
            json!({"project_ids": ["proj_a", 7]}),
            Some("project_ids[1]"),
        ),
        (
            json!({"project_ids": ["proj_a", null]}),
            Some("project_ids[1]"),
        ),
        (
            json!({"project_ids": ["proj_a", "bad\u{0}id"]}),
            Some("project_ids[1]"),
        ),
        (
            json!({"project_ids": ["proj_a", "x".repeat(300)]}),
            Some("project_ids[1]"),
        ),
        (
            json!({"project_ids": ["proj_a"], "extra": true}),
            Some("extra"),
        ),
        (json!(["proj_a"]), None),
        (json!("proj_a"), None),
    ];
    for (body, param) in cases {
        let reply = api.create_body(CHECKPOINT, body.clone()).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(reply.error()["param"].as_str(), param, "{body}");
    }
    let raw_cases: Vec<(Option<&str>, Vec<u8>)> = vec![
        (
            Some("application/json"),
            b"{\"project_ids\": [\"proj_a\"".to_vec(),
        ),
        (Some("application/json"), b"".to_vec()),
        (Some("application/json"), b"\xff\xfe".to_vec()),
        (
            Some("application/json"),
            format!("{}1{}", "[".repeat(10_000), "]".repeat(10_000)).into_bytes(),
        ),
        (
            Some("text/plain"),
            br#"{"project_ids": ["proj_a"]}"#.to_vec(),
        ),
        (
            Some("application/x-www-form-urlencoded"),
            b"project_ids=proj_a".to_vec(),
        ),
        (None, br#"{"project_ids": ["proj_a"]}"#.to_vec()),
    ];
    for (content_type, body) in raw_cases {
        let mut request = api.http.post(&url).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let reply = api.send(request).await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{content_type:?} {}",
            String::from_utf8_lossy(&body[..body.len().min(40)])
        );
        reply.error();
    }
    // A huge body is 413, with the envelope.
    let huge: Vec<String> = (0..20_000).map(|i| format!("proj_{i:08}")).collect();
    let reply = api
        .create_body(CHECKPOINT, json!({ "project_ids": huge }))
        .await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.error()["type"], "invalid_request_error");
    // A charset parameter is fine.
    let reply = api
        .send(
            api.http
                .post(&url)
                .header("content-type", "application/json; charset=utf-8")
                .body(r#"{"project_ids": ["proj_ok"]}"#),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    // Only that last one was written.
    let (all, _) = api.list_all(CHECKPOINT, "ascending", 100).await;
    assert_eq!(all.len(), 1);
    assert_eq!(emulator.state().permission_count(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn path_tricks_are_4xx_with_the_envelope() {
    let (emulator, api) = start().await;
    let base = &api.base;
    // Well-formed but for what each case bends.
    let long = format!("ft:{}", "a".repeat(300));
    let very_long = format!("ft:{}", "a".repeat(20_000));
    let long_permission = format!("cp_{}", "a".repeat(300));
    let cases = [
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/ft:a%2Fb/permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::POST,
            format!("{base}/fine_tuning/checkpoints/ft:a%2fb/permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/ft:%FF%FE/permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/ft:a%00b/permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/ft:a%252Fb/permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/{long}/permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/{very_long}/permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::DELETE,
            format!("{base}/fine_tuning/checkpoints/{long}/permissions/cp_x"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::DELETE,
            format!("{base}/fine_tuning/checkpoints/ft:a/permissions/{long_permission}"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::DELETE,
            format!("{base}/fine_tuning/checkpoints/ft:a/permissions/cp%2Fx"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints//permissions"),
            StatusCode::BAD_REQUEST,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/ft:a/b/permissions"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("{base}/fine_tuning/checkpoints/ft:a/permissions/extra/segments"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!("{base}/unknown"),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::GET,
            format!(
                "{}/fine_tuning/checkpoints/ft:a/permissions",
                base.trim_end_matches("/v1")
            ),
            StatusCode::NOT_FOUND,
        ),
        (
            Method::PUT,
            api.permissions_url("ft:a"),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
        (
            Method::PATCH,
            format!("{}/cp_x", api.permissions_url("ft:a")),
            StatusCode::METHOD_NOT_ALLOWED,
        ),
    ];
    for (method, url, status) in cases {
        let reply = api.raw(method.clone(), &url).await;
        assert_eq!(
            reply.status,
            status,
            "{method} {}",
            &url[..url.len().min(120)]
        );
        reply.error();
        if status == StatusCode::METHOD_NOT_ALLOWED {
            assert!(
                reply.headers.get("allow").is_some(),
                "405 keeps its Allow header"
            );
        }
    }
    // Ids with the real checkpoint characters work.
    assert_eq!(
        api.list(
            "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:ckpt-step-88",
            &[]
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(emulator.state().permission_count(), 0);
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_creates_in_memory() {
    let (emulator, api) = start().await;
    concurrent_creates(&api, 1000).await;
    emulator.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_creates_with_sqlite() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("perms.db");
    let emulator = Emulator::builder()
        .database(&db)
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    concurrent_creates(&api, 1000).await;
    emulator.shutdown().await;
    // And they are all in the database.
    let emulator = Emulator::builder()
        .database(&db)
        .start()
        .await
        .expect("restarts");
    assert_eq!(emulator.state().permission_count(), 1000);
    emulator.shutdown().await;
}

async fn concurrent_creates(api: &Api, n: usize) {
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            let api = api.clone();
            // Every tenth request repeats a project of another request, racing it.
            let project = if i % 10 == 9 {
                format!("proj_{}", i - 1)
            } else {
                format!("proj_{i}")
            };
            let extra = format!("proj_{i}");
            tokio::spawn(async move { api.create(CHECKPOINT, &[&project, &extra]).await })
        })
        .collect();
    for task in tasks {
        let reply = task.await.expect("task");
        assert_eq!(reply.status, StatusCode::OK, "{:?}", reply.body);
    }
    let (ids, _) = api.list_all(CHECKPOINT, "ascending", 100).await;
    assert_eq!(ids.len(), n);
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), n);
    let (descending, _) = api.list_all(CHECKPOINT, "descending", 100).await;
    assert_eq!(descending.into_iter().rev().collect::<Vec<_>>(), ids);
}

#[tokio::test]
async fn scripted_faults_and_request_count() {
    let (emulator, api) = start().await;
    assert_eq!(emulator.request_count(), 0);
    emulator.inject(
        Fault::Status {
            status: 429,
            retry_after_ms: Some(20),
            retry_after: Some(1),
        },
        2,
    );
    emulator.inject(Fault::status(503), 1);
    emulator.inject(Fault::status(500), 1);
    for _ in 0..2 {
        let reply = api.create(CHECKPOINT, &["proj_a"]).await;
        assert_eq!(reply.status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            reply
                .headers
                .get("retry-after-ms")
                .and_then(|v| v.to_str().ok()),
            Some("20")
        );
        assert_eq!(
            reply
                .headers
                .get("retry-after")
                .and_then(|v| v.to_str().ok()),
            Some("1")
        );
        assert_eq!(reply.error()["code"], "rate_limit_exceeded");
    }
    let reply = api.list(CHECKPOINT, &[]).await;
    assert_eq!(reply.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(reply.headers.get("retry-after").is_none());
    assert_eq!(reply.error()["type"], "server_error");
    assert_eq!(
        api.list(CHECKPOINT, &[]).await.status,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    // Faulted requests were not served: nothing was created.
    assert!(api.list(CHECKPOINT, &[]).await.page_ids().is_empty());
    // A delay, then the request is served.
    emulator.inject(Fault::Delay(Duration::from_millis(30)), 1);
    assert_eq!(
        api.create(CHECKPOINT, &["proj_a"]).await.status,
        StatusCode::OK
    );
    // 2 x 429, 503, 500, the empty list, the delayed create.
    assert_eq!(emulator.request_count(), 6);
    emulator.shutdown().await;
}

#[tokio::test]
async fn random_faults_follow_their_seed() {
    let run = || async {
        let faults = FaultConfig {
            rate_limited: 0.3,
            server_error: 0.1,
            unavailable: 0.1,
            rng_seed: Some(99),
            ..FaultConfig::default()
        };
        let emulator = Emulator::builder()
            .faults(faults)
            .start()
            .await
            .expect("starts");
        let api = Api::new(emulator.base_url());
        let mut statuses = Vec::new();
        for _ in 0..60 {
            let reply = api.list(CHECKPOINT, &[]).await;
            if reply.status == StatusCode::TOO_MANY_REQUESTS {
                assert_eq!(
                    reply
                        .headers
                        .get("retry-after-ms")
                        .and_then(|v| v.to_str().ok()),
                    Some("100")
                );
            }
            if reply.status != StatusCode::OK {
                reply.error();
            }
            statuses.push(reply.status.as_u16());
        }
        emulator.shutdown().await;
        statuses
    };
    let first = run().await;
    assert_eq!(first, run().await, "the same seed gives the same faults");
    for status in [200, 429, 500, 503] {
        assert!(first.contains(&status), "{status} never seen in {first:?}");
    }
    let bad = Emulator::builder()
        .faults(FaultConfig {
            unavailable: 2.0,
            ..FaultConfig::default()
        })
        .start()
        .await;
    assert!(matches!(bad, Err(permissions_emulator::Error::Config(_))));
}

#[tokio::test]
async fn restart_with_a_database_keeps_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("perms.db");
    let emulator = Emulator::builder()
        .database(&db)
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    let ids = api
        .create(CHECKPOINT, &["proj_0", "proj_1", "proj_2", "proj_3"])
        .await
        .page_ids();
    assert_eq!(api.delete(CHECKPOINT, &ids[1]).await.status, StatusCode::OK);
    let before = api.list(CHECKPOINT, &[("order", "ascending")]).await.body;
    emulator.shutdown().await;

    let emulator = Emulator::builder()
        .database(&db)
        .start()
        .await
        .expect("restarts");
    let api = Api::new(emulator.base_url());
    assert_eq!(
        api.list(CHECKPOINT, &[("order", "ascending")]).await.body,
        before
    );
    // The deleted id is still a usable cursor, and still gone.
    let page = api
        .list(CHECKPOINT, &[("order", "ascending"), ("after", &ids[1])])
        .await;
    assert_eq!(page.page_ids(), ids[2..].to_vec());
    assert_eq!(
        api.delete(CHECKPOINT, &ids[1]).await.status,
        StatusCode::NOT_FOUND
    );
    // Granting again is still idempotent across the restart; new ones sort last.
    assert_eq!(
        api.create(CHECKPOINT, &["proj_0"]).await.page_ids(),
        [ids[0].clone()]
    );
    let new = api.create(CHECKPOINT, &["proj_9"]).await.page_ids();
    assert_eq!(
        api.list(CHECKPOINT, &[("limit", "1")]).await.page_ids(),
        new
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_database_serves_one_emulator_at_a_time() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("perms.db");
    let first = Emulator::builder()
        .database(&db)
        .start()
        .await
        .expect("starts");
    let second = Emulator::builder().database(&db).start().await;
    assert!(
        matches!(second, Err(permissions_emulator::Error::Config(_))),
        "{second:?}"
    );
    first.shutdown().await;
    let third = Emulator::builder()
        .database(&db)
        .start()
        .await
        .expect("starts once free");
    third.shutdown().await;
}

#[tokio::test]
async fn seeding_a_database_twice_adds_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = dir.path().join("perms.db");
    let seeds = || {
        vec![
            SeedPermission::new(CHECKPOINT, "proj_a"),
            SeedPermission::new(CHECKPOINT, "proj_b"),
        ]
    };
    let emulator = Emulator::builder()
        .database(&db)
        .seed(seeds())
        .start()
        .await
        .expect("starts");
    assert_eq!(emulator.state().permission_count(), 2);
    emulator.shutdown().await;
    let emulator = Emulator::builder()
        .database(&db)
        .seed(seeds())
        .start()
        .await
        .expect("restarts");
    assert_eq!(emulator.state().permission_count(), 2);
    emulator.shutdown().await;
}

#[tokio::test]
async fn dropping_the_emulator_stops_it() {
    let (emulator, api) = start().await;
    let url = api.permissions_url(CHECKPOINT);
    assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    drop(emulator);
    // A fresh client (no pooled connection) can no longer connect.
    let mut refused = false;
    for _ in 0..50 {
        let client = reqwest::Client::new();
        if client
            .get(&url)
            .bearer_auth(ADMIN_KEY)
            .send()
            .await
            .is_err()
        {
            refused = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(refused, "the emulator still answers after being dropped");
}
