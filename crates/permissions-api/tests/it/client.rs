//! The client layer against the emulator (a real peer) and, for behaviours the
//! emulator does not have, against a recording server: every method and parameter,
//! pagination and its stop conditions, retries, error classes, security.

use std::time::{Duration, Instant};

use crate::common::{Captured, Recorder, Reply};
use futures::{StreamExt, TryStreamExt};
use permissions_api::{
    Client, Error, ListParams, Permissions, ProjectListParams, RetryPolicy, StatusKind,
    permissions_types::{CheckpointPermission, ListOrder},
};
use permissions_emulator::{Emulator, Fault, SeedPermission};
use permissions_types::{
    CheckpointId, IdErrorKind, PermissionObject, Project, ProjectId, ProjectList,
};

const KEY: &str = "sk-admin-client-test-SECRET-0123456789";
const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

/// A retry policy with short waits, so retry tests take milliseconds.
fn fast_retries(max_retries: u32) -> RetryPolicy {
    RetryPolicy {
        max_retries,
        initial_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        ..RetryPolicy::default()
    }
}

/// `client.fine_tuning().checkpoints().permissions()`.
fn permissions_of(client: &Client) -> Permissions<'_> {
    client.fine_tuning().checkpoints().permissions()
}

/// Every permission `list` yields for [`CHECKPOINT`] with `params`.
async fn list_all(client: &Client, params: ListParams) -> Vec<CheckpointPermission> {
    permissions_of(client)
        .list(CHECKPOINT, params)
        .try_collect()
        .await
        .unwrap()
}

fn client_for(base_url: &str) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(base_url)
        .retry_policy(fast_retries(2))
        .build()
        .unwrap()
}

/// An emulator holding `count` permissions on [`CHECKPOINT`], created one second
/// apart (`proj_0000` oldest).
async fn emulator_with(count: usize) -> Emulator {
    let seeds = (0..count).map(|i| SeedPermission {
        created_at: Some(1_700_000_000 + i as i64),
        ..SeedPermission::new(CHECKPOINT, format!("proj_{i:04}"))
    });
    Emulator::builder().seed(seeds).start().await.unwrap()
}

#[tokio::test]
async fn create_list_delete_round_trip() {
    let emulator = emulator_with(0).await;
    let client = client_for(&emulator.base_url());
    let permissions = client.fine_tuning().checkpoints().permissions();

    let granted = permissions
        .create(CHECKPOINT, ["proj_a", "proj_b"])
        .await
        .unwrap();
    assert!(granted.request_id().is_some_and(|id| !id.is_empty()));
    assert_eq!(granted.data.len(), 2);
    assert!(!granted.has_more);
    assert!(
        granted
            .data
            .iter()
            .all(|p| p.id.starts_with("cp_") && p.id.len() == 27)
    );
    let projects: Vec<_> = granted.data.iter().map(|p| p.project_id.as_str()).collect();
    assert_eq!(projects, ["proj_a", "proj_b"]);

    let listed: Vec<_> = permissions
        .list(CHECKPOINT, ListParams::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(listed.len(), 2);

    let deleted = permissions
        .delete(CHECKPOINT, &granted.data[0].id)
        .await
        .unwrap();
    assert!(deleted.deleted);
    assert_eq!(deleted.id, granted.data[0].id);
    assert_eq!(deleted.object, PermissionObject::CheckpointPermission);

    let left: Vec<_> = permissions
        .list(CHECKPOINT, ListParams::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].project_id, "proj_b");
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_follows_the_cursor_across_many_pages() {
    let emulator = emulator_with(250).await;
    let client = client_for(&emulator.base_url());
    let before = emulator.request_count();
    let all: Vec<_> = list_all(&client, ListParams::new().limit(7)).await;
    assert_eq!(all.len(), 250);
    // Descending by default: newest first, each exactly once.
    let expected: Vec<_> = (0..250).rev().map(|i| format!("proj_{i:04}")).collect();
    let got: Vec<_> = all.iter().map(|p| p.project_id.clone()).collect();
    assert_eq!(got, expected);
    // 250 / 7 = 35.7: 36 pages, the last one says has_more = false.
    assert_eq!(emulator.request_count() - before, 36);
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_parameters_order_filter_and_start_after() {
    let emulator = emulator_with(30).await;
    let client = client_for(&emulator.base_url());
    let permissions = client.fine_tuning().checkpoints().permissions();

    let ascending: Vec<_> = permissions
        .list(
            CHECKPOINT,
            ListParams::new().order(ListOrder::Ascending).limit(4),
        )
        .map_ok(|p| p.project_id)
        .try_collect()
        .await
        .unwrap();
    let expected: Vec<_> = (0..30).map(|i| format!("proj_{i:04}")).collect();
    assert_eq!(ascending, expected);

    let only: Vec<_> = permissions
        .list(CHECKPOINT, ListParams::new().project_id("proj_0007"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(only.len(), 1);
    assert_eq!(only[0].project_id, "proj_0007");

    // `after` given by the caller is where the first page starts.
    let first_five: Vec<_> = permissions
        .list(
            CHECKPOINT,
            ListParams::new()
                .order(ListOrder::Ascending)
                .limit(5)
                .max_items(5),
        )
        .try_collect()
        .await
        .unwrap();
    let rest: Vec<_> = permissions
        .list(
            CHECKPOINT,
            ListParams::new()
                .order(ListOrder::Ascending)
                .after(first_five[4].id.clone()),
        )
        .map_ok(|p| p.project_id)
        .try_collect()
        .await
        .unwrap();
    assert_eq!(rest, expected[5..]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn max_items_caps_the_items_and_the_requests() {
    let emulator = emulator_with(100).await;
    let client = client_for(&emulator.base_url());
    let before = emulator.request_count();
    let items: Vec<_> = list_all(&client, ListParams::new().limit(10).max_items(25)).await;
    assert_eq!(items.len(), 25);
    assert_eq!(
        emulator.request_count() - before,
        3,
        "no page after the cap"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn pages_are_available_one_by_one_with_their_request_ids() {
    let emulator = emulator_with(12).await;
    let client = client_for(&emulator.base_url());
    let pages: Vec<_> = permissions_of(&client)
        .list_pages(CHECKPOINT, ListParams::new().limit(5))
        .try_collect()
        .await
        .unwrap();
    let sizes: Vec<_> = pages.iter().map(|p| p.data.len()).collect();
    assert_eq!(sizes, [5, 5, 2]);
    assert_eq!(pages.iter().filter(|p| p.has_more).count(), 2);
    for pair in pages.windows(2) {
        assert_ne!(pair[0].request_id(), pair[1].request_id());
    }
    emulator.shutdown().await;
}

#[tokio::test]
#[allow(deprecated)]
async fn retrieve_returns_one_raw_page() {
    let emulator = emulator_with(15).await;
    let client = client_for(&emulator.base_url());
    let page = permissions_of(&client)
        .retrieve(CHECKPOINT, ListParams::new().limit(10))
        .await
        .unwrap();
    assert_eq!(page.data.len(), 10);
    assert!(page.has_more);
    assert_eq!(page.last_id.as_deref(), Some(page.data[9].id.as_str()));
    // The same access as every other method: status and request id.
    assert_eq!(page.status(), reqwest::StatusCode::OK);
    assert!(page.request_id().is_some_and(|id| id.starts_with("req_")));
    emulator.shutdown().await;
}

/// All four methods answer with an `ApiResponse`: the value, status, headers and
/// request id, in one shape.
#[tokio::test]
#[allow(deprecated)]
async fn every_method_gives_status_headers_and_request_id() {
    let emulator = emulator_with(0).await;
    let client = client_for(&emulator.base_url());
    let permissions = permissions_of(&client);
    let created = permissions.create(CHECKPOINT, ["proj_a"]).await.unwrap();
    let retrieved = permissions
        .retrieve(CHECKPOINT, ListParams::new())
        .await
        .unwrap();
    let page = permissions
        .list_pages(CHECKPOINT, ListParams::new())
        .try_next()
        .await
        .unwrap()
        .expect("a page");
    let deleted = permissions
        .delete(CHECKPOINT, &created.data[0].id)
        .await
        .unwrap();
    let ids = [
        created.request_id(),
        retrieved.request_id(),
        page.request_id(),
        deleted.request_id(),
    ];
    for (id, headers) in ids.iter().zip([
        created.headers(),
        retrieved.headers(),
        page.headers(),
        deleted.headers(),
    ]) {
        assert!(id.is_some_and(|id| id.starts_with("req_")), "{ids:?}");
        assert_eq!(
            headers.get("x-request-id").and_then(|v| v.to_str().ok()),
            *id
        );
    }
    assert_eq!(deleted.into_inner().id, created.into_inner().data[0].id);
    emulator.shutdown().await;
}

#[tokio::test]
async fn clones_share_one_client() {
    let client = client_for("http://127.0.0.1:9/v1");
    let clone = client.clone();
    // A clone is a reference count, not a copy of the settings.
    assert!(std::ptr::eq(client.raw(), clone.raw()));
}

#[tokio::test]
async fn a_server_error_keeps_its_response_headers() {
    let server = Recorder::start(|_, _| {
        Reply::json(
            404,
            r#"{"error": {"message": "gone", "type": "invalid_request_error"}}"#,
        )
        .header("x-request-id", "req_404")
        .header("x-custom", "kept")
    })
    .await;
    let client = client_for(&server.url);
    let error = permissions_of(&client)
        .delete(CHECKPOINT, "cp_1")
        .await
        .unwrap_err();
    let headers = error.headers().expect("a server error has headers");
    assert_eq!(
        headers.get("x-custom").and_then(|v| v.to_str().ok()),
        Some("kept")
    );
    assert_eq!(error.request_id(), Some("req_404"));
    server.stop().await;
}

const LOOPING_PAGE: &str = r#"{"object": "list", "data": [
    {"object": "checkpoint.permission", "id": "cp_same", "created_at": 1, "project_id": "proj_1"}],
  "first_id": "cp_same", "last_id": "cp_same", "has_more": true}"#;

#[tokio::test]
async fn a_server_that_ignores_the_cursor_is_an_error_not_a_loop() {
    let server = Recorder::fixed(200, LOOPING_PAGE).await;
    let client = client_for(&server.url);
    let results: Vec<_> = permissions_of(&client)
        .list(CHECKPOINT, ListParams::new())
        .collect()
        .await;
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(results[0].is_ok());
    assert!(
        matches!(&results[1], Err(Error::RepeatedCursor { cursor, .. }) if cursor == "cp_same"),
        "{results:?}"
    );
    let queries: Vec<_> = server.requests().into_iter().map(|r| r.query).collect();
    assert_eq!(queries, [None, Some("after=cp_same".to_owned())]);
    server.stop().await;
}

/// A server whose cursors go round a cycle of `length`: the first page ends on
/// `cp_0`, the page after `cp_i` ends on `cp_{(i + 1) % length}`, always with more.
async fn cycling_server(length: usize) -> Recorder {
    Recorder::start(move |seen, _| {
        let after = seen
            .query
            .as_deref()
            .and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("after=cp_")))
            .and_then(|i| i.parse::<usize>().ok());
        let next = after.map_or(0, |i| (i + 1) % length);
        Reply::json(
            200,
            format!(
                r#"{{"object": "list", "data": [{{"object": "checkpoint.permission", "id": "cp_{next}", "created_at": 1, "project_id": "proj_{next}"}}], "first_id": "cp_{next}", "last_id": "cp_{next}", "has_more": true}}"#
            ),
        )
    })
    .await
}

#[tokio::test]
async fn cursor_cycles_of_any_length_end_the_listing() {
    for length in [1, 2, 5] {
        let server = cycling_server(length).await;
        let client = client_for(&server.url);
        let results: Vec<_> = permissions_of(&client)
            .list(CHECKPOINT, ListParams::new())
            .collect()
            .await;
        // `length` pages of one item each; the next page ends on `cp_0` again.
        assert_eq!(results.len(), length + 1, "cycle of {length}: {results:?}");
        assert!(results[..length].iter().all(Result::is_ok));
        assert!(
            matches!(&results[length], Err(Error::RepeatedCursor { cursor, .. }) if cursor == "cp_0"),
            "cycle of {length}: {results:?}"
        );
        assert_eq!(server.requests().len(), length + 1, "cycle of {length}");
        // The page stream stops the same way.
        let pages: Vec<_> = permissions_of(&client)
            .list_pages(CHECKPOINT, ListParams::new())
            .collect()
            .await;
        assert!(matches!(
            pages.last(),
            Some(Err(Error::RepeatedCursor { .. }))
        ));
        server.stop().await;
    }
}

/// A server of `total` projects named `proj_0`, `proj_1`, ..., in pages of the
/// request's `limit`; the first one is archived and listed only when
/// `include_archived=true` is asked for.
async fn project_server(total: usize) -> Recorder {
    Recorder::start(move |seen, _| {
        let query: Vec<(String, String)> = seen
            .query
            .as_deref()
            .unwrap_or_default()
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let get = |name: &str| {
            query
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str())
        };
        let archived = get("include_archived") == Some("true");
        let limit: usize = get("limit").and_then(|l| l.parse().ok()).unwrap_or(20);
        let start = get("after")
            .and_then(|a| a.strip_prefix("proj_"))
            .and_then(|i| i.parse::<usize>().ok())
            .map_or(usize::from(!archived), |i| i + 1);
        let end = (start + limit).min(total);
        let data: Vec<Project> = (start..end)
            .map(|i| {
                let project = Project::new(format!("proj_{i}"), Some(&format!("Team {i}")), 1);
                if i == 0 { project.archived(2) } else { project }
            })
            .collect();
        let page = ProjectList::new(data, end < total);
        Reply::json(200, serde_json::to_string(&page).unwrap())
    })
    .await
}

#[tokio::test]
async fn projects_are_listed_page_after_page_with_their_parameters() {
    let server = project_server(7).await;
    let client = client_for(&server.url);
    let projects = client.organization().projects();
    let all: Vec<Project> = projects
        .list(ProjectListParams::new().limit(3).include_archived(true))
        .try_collect()
        .await
        .unwrap();
    let ids: Vec<&str> = all.iter().map(|p| p.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "proj_0", "proj_1", "proj_2", "proj_3", "proj_4", "proj_5", "proj_6"
        ]
    );
    assert!(all[0].is_archived() && !all[1].is_archived());
    assert_eq!(all[6].name.as_deref(), Some("Team 6"));
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    assert!(
        seen.iter()
            .all(|r| r.method == "GET" && r.path == "/v1/organization/projects")
    );
    let query = |i: usize| {
        let mut pairs: Vec<String> = seen[i]
            .query
            .clone()
            .unwrap_or_default()
            .split('&')
            .map(str::to_owned)
            .collect();
        pairs.sort();
        pairs.join("&")
    };
    assert_eq!(query(0), "include_archived=true&limit=3");
    assert_eq!(query(1), "after=proj_2&include_archived=true&limit=3");
    assert_eq!(query(2), "after=proj_5&include_archived=true&limit=3");
    // The server's defaults: archived projects left out; a cap stops early.
    let some: Vec<Project> = projects
        .list(ProjectListParams::new().max_items(2))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        some.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(),
        ["proj_1", "proj_2"]
    );
    assert_eq!(server.requests()[3].query, None);
    assert_eq!(server.requests().len(), 4);
    // A malformed cursor is refused before any request.
    let refused: Vec<_> = projects
        .list(ProjectListParams::new().after("cp_x"))
        .collect()
        .await;
    assert!(
        matches!(&refused[..], [Err(Error::InvalidId { argument, .. })] if argument == "after"),
        "{refused:?}"
    );
    assert_eq!(server.requests().len(), 4);
    server.stop().await;
}

#[tokio::test]
async fn a_project_cursor_that_comes_back_ends_the_listing() {
    let server = Recorder::start(|_, _| {
        let page = ProjectList::new(vec![Project::new("proj_same", None, 1)], true);
        Reply::json(200, serde_json::to_string(&page).unwrap())
    })
    .await;
    let client = client_for(&server.url);
    let results: Vec<_> = client
        .organization()
        .projects()
        .list(ProjectListParams::new())
        .collect()
        .await;
    // The first page, then the page that names its cursor again: an error.
    assert_eq!(results.len(), 2, "{results:?}");
    assert!(
        matches!(&results[1], Err(Error::RepeatedCursor { cursor, .. }) if cursor == "proj_same"),
        "{results:?}"
    );
    assert_eq!(server.requests().len(), 2);
    server.stop().await;
}

#[tokio::test]
async fn pagination_stops_on_empty_data_or_missing_last_id() {
    for body in [
        r#"{"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": true}"#,
        r#"{"object": "list", "data": [{"object": "checkpoint.permission", "id": "cp_1",
            "created_at": 1, "project_id": "p"}], "has_more": true}"#,
    ] {
        let server = Recorder::fixed(200, body).await;
        let client = client_for(&server.url);
        let items: Vec<_> = list_all(&client, ListParams::new()).await;
        assert!(items.len() <= 1);
        assert_eq!(server.requests().len(), 1, "{body}");
        server.stop().await;
    }
}

/// The emulator's scripted page anomalies, met mid-listing: an empty page that
/// says `has_more` ends the listing as the SDKs end it; a page whose `last_id`
/// repeats the cursor just followed is [`Error::RepeatedCursor`], not a loop.
#[tokio::test]
async fn emulated_page_anomalies_end_the_listing() {
    let emulator = emulator_with(6).await;
    let client = client_for(&emulator.base_url());
    let params = ListParams::new().limit(2).order(ListOrder::Ascending);

    let mut pages = permissions_of(&client).list_pages(CHECKPOINT, params.clone());
    let first = pages.next().await.expect("a first page").expect("served");
    emulator.inject(Fault::EmptyPage, 1);
    let empty = pages.next().await.expect("a second page").expect("served");
    assert!(empty.data.is_empty() && empty.has_more);
    assert!(
        pages.next().await.is_none(),
        "an empty page ends the listing"
    );
    drop(pages);
    assert_eq!(first.data.len(), 2);
    assert_eq!(emulator.request_count(), 2);

    let mut items = permissions_of(&client).list(CHECKPOINT, params);
    for _ in 0..2 {
        items.next().await.expect("an item").expect("served");
    }
    let cursor = first.last_id.clone().expect("a cursor");
    emulator.inject(Fault::RepeatLastId, 1);
    match items.next().await {
        Some(Err(Error::RepeatedCursor {
            cursor: repeated, ..
        })) => assert_eq!(repeated, cursor),
        other => panic!("expected RepeatedCursor, got {other:?}"),
    }
    assert!(
        items.next().await.is_none(),
        "the listing ends after the error"
    );
    assert_eq!(emulator.request_count(), 4);
    emulator.shutdown().await;
}

#[tokio::test]
async fn next_pages_repeat_the_parameters_with_the_new_cursor() {
    let server = Recorder::start(|_, n| {
        let body = if n == 0 {
            r#"{"object": "list", "data": [{"object": "checkpoint.permission", "id": "cp_1",
                "created_at": 1, "project_id": "proj_x"}], "first_id": "cp_1",
                "last_id": "cp_1", "has_more": true}"#
        } else {
            r#"{"object": "list", "data": [], "has_more": false}"#
        };
        Reply::json(200, body)
    })
    .await;
    let client = client_for(&server.url);
    let params = ListParams::new()
        .limit(1)
        .order(ListOrder::Ascending)
        .project_id("proj_x")
        .after("cp_0");
    let _: Vec<_> = list_all(&client, params).await;
    let queries: Vec<_> = server
        .requests()
        .into_iter()
        .filter_map(|r| r.query)
        .collect();
    assert_eq!(
        queries,
        [
            "after=cp_0&limit=1&order=ascending&project_id=proj_x",
            "after=cp_1&limit=1&order=ascending&project_id=proj_x"
        ]
    );
    server.stop().await;
}

#[tokio::test]
async fn rate_limits_are_retried_after_the_server_delay() {
    let emulator = emulator_with(3).await;
    let client = client_for(&emulator.base_url());
    let fault = Fault::status(429).retry_after_ms(60);
    emulator.inject(fault, 2);
    let before = emulator.request_count();
    let started = Instant::now();
    let page = permissions_of(&client)
        .list_pages(CHECKPOINT, ListParams::new())
        .next()
        .await
        .unwrap()
        .unwrap();
    assert_eq!(page.data.len(), 3);
    assert_eq!(
        emulator.request_count() - before,
        3,
        "two 429s, then success"
    );
    assert!(
        started.elapsed() >= Duration::from_millis(120),
        "retry-after-ms ignored"
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn server_errors_are_retried_up_to_the_limit_then_reported() {
    let emulator = emulator_with(0).await;
    let client = client_for(&emulator.base_url());
    let fault = Fault::status(503);
    emulator.inject(fault, 5);
    let before = emulator.request_count();
    let err = permissions_of(&client)
        .create(CHECKPOINT, ["proj_a"])
        .await
        .unwrap_err();
    assert_eq!(
        emulator.request_count() - before,
        3,
        "1 attempt + 2 retries"
    );
    assert_eq!(err.kind(), Some(StatusKind::InternalServer));
    assert_eq!(err.status(), Some(503));
    assert!(err.request_id().is_some());

    // The two remaining faults, then success: with 0 retries nothing is retried.
    let no_retries = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .max_retries(0)
        .build()
        .unwrap();
    let before = emulator.request_count();
    assert!(
        permissions_of(&no_retries)
            .create(CHECKPOINT, ["proj_a"])
            .await
            .is_err()
    );
    assert_eq!(emulator.request_count() - before, 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn a_timed_out_attempt_is_retried() {
    let emulator = emulator_with(1).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .timeout(Duration::from_millis(200))
        .retry_policy(fast_retries(1))
        .build()
        .unwrap();
    emulator.inject(Fault::Delay(Duration::from_secs(2)), 1);
    let before = emulator.request_count();
    #[allow(deprecated)]
    let page = permissions_of(&client)
        .retrieve(CHECKPOINT, ListParams::new())
        .await
        .unwrap();
    assert_eq!(page.data.len(), 1);
    assert_eq!(emulator.request_count() - before, 2);

    // Without retries the timeout is reported as such.
    emulator.inject(Fault::Delay(Duration::from_secs(2)), 1);
    let once = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .timeout(Duration::from_millis(200))
        .max_retries(0)
        .build()
        .unwrap();
    #[allow(deprecated)]
    let err = permissions_of(&once)
        .retrieve(CHECKPOINT, ListParams::new())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Timeout { .. }), "{err:?}");
    emulator.shutdown().await;
}

#[tokio::test]
async fn connection_errors_are_reported_after_retries() {
    // A port that was just free: nothing listens there any more.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/v1", listener.local_addr().unwrap());
    drop(listener);
    let err = client_for(&url)
        .fine_tuning()
        .checkpoints()
        .permissions()
        .delete(CHECKPOINT, "cp_1")
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Connection { .. }), "{err:?}");
    assert_eq!(err.request().map(|r| r.method.as_str()), Some("DELETE"));
    assert!(!format!("{err:?}{err}").contains("SECRET"));
    // The message names the request; the cause comes once, from the source chain.
    assert_eq!(
        err.to_string(),
        format!(
            "connection error on DELETE \"{url}/fine_tuning/checkpoints/{CHECKPOINT}/permissions/cp_1\""
        )
    );
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        chain.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    assert!(chain.contains("onnection refused"), "{chain}");
    assert_eq!(chain.matches("onnection refused").count(), 1, "{chain}");
}

#[tokio::test]
async fn x_should_retry_overrides_the_status_rule() {
    // 500 with x-should-retry: false is not retried; 400 with true is.
    for (status, should, attempts) in [(500, "false", 1), (400, "true", 3)] {
        let server = Recorder::start(move |_, _| {
            Reply::json(
                status,
                r#"{"error": {"message": "m", "type": "t", "param": null, "code": null}}"#,
            )
            .header("x-should-retry", should)
        })
        .await;
        let err = client_for(&server.url)
            .fine_tuning()
            .checkpoints()
            .permissions()
            .delete(CHECKPOINT, "cp_1")
            .await
            .unwrap_err();
        assert_eq!(err.status(), Some(status));
        assert_eq!(server.requests().len(), attempts, "status {status}");
        server.stop().await;
    }
}

#[tokio::test]
async fn retry_after_in_seconds_and_as_a_date_are_honoured() {
    // The date is formatted when its case starts, to whole seconds: 3 s ahead is
    // at least 2 s once rounded down.
    let in_three_seconds =
        || httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let cases: [(&dyn Fn() -> String, Duration); 2] = [
        (&|| "0.15".to_owned(), Duration::from_millis(150)),
        (&in_three_seconds, Duration::from_millis(1500)),
    ];
    for (make_header, minimum) in cases {
        let header = make_header();
        let server = Recorder::start(move |_, n| {
            if n == 0 {
                Reply::json(429, r#"{"error": {"message": "slow down", "type": "requests", "param": null, "code": null}}"#)
                    .header("retry-after", header.clone())
            } else {
                Reply::json(200, r#"{"object": "checkpoint.permission", "id": "cp_1", "deleted": true}"#)
            }
        })
        .await;
        let started = Instant::now();
        client_for(&server.url)
            .fine_tuning()
            .checkpoints()
            .permissions()
            .delete(CHECKPOINT, "cp_1")
            .await
            .unwrap();
        assert!(
            started.elapsed() >= minimum,
            "waited {:?}",
            started.elapsed()
        );
        assert_eq!(server.requests().len(), 2);
        server.stop().await;
    }
}

#[tokio::test]
async fn each_error_status_has_its_kind_and_envelope_fields() {
    let emulator = emulator_with(1).await;
    let url = emulator.base_url();
    let permissions_with = |key: &str| {
        Client::builder()
            .api_key(key)
            .base_url(&url)
            .retry_policy(RetryPolicy::none())
            .build()
            .unwrap()
    };
    let admin = permissions_with(KEY);
    let p = admin.fine_tuning().checkpoints().permissions();

    // 400: limit out of range, from the emulator.
    let err = p
        .list(CHECKPOINT, ListParams::new().limit(0))
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(StatusKind::BadRequest));
    let Error::Status(status) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(status.param.as_deref(), Some("limit"));
    assert_eq!(status.error_type.as_deref(), Some("invalid_request_error"));
    assert!(status.request_id.is_some());

    // 401: a key the server cannot parse (a space inside).
    let err = permissions_with("sk-admin bad key")
        .fine_tuning()
        .checkpoints()
        .permissions()
        .delete(CHECKPOINT, "cp_x")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(StatusKind::Authentication), "{err:?}");

    // 403: not an admin key.
    let err = permissions_with("sk-proj-not-admin-0000000000")
        .fine_tuning()
        .checkpoints()
        .permissions()
        .create(CHECKPOINT, ["proj_x"])
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(StatusKind::PermissionDenied));
    assert!(!err.to_string().contains("not-admin-0000000000"), "{err}");

    // 404: unknown permission.
    let err = p
        .delete(CHECKPOINT, "cp_000000000000000000000000")
        .await
        .unwrap_err();
    assert_eq!(err.kind(), Some(StatusKind::NotFound));
    assert!(err.to_string().starts_with("404 Not Found: "), "{err}");
    let request = err.request().expect("the failed request is named");
    assert_eq!(request.method, "DELETE");
    assert_eq!(
        request.to_string(),
        format!(
            "DELETE \"{}/fine_tuning/checkpoints/{CHECKPOINT}/permissions/cp_000000000000000000000000\"",
            emulator.base_url()
        )
    );

    // 409, 422, 429 and 500 through scripted faults or a recording server.
    for (status, kind) in [
        (409, StatusKind::Conflict),
        (422, StatusKind::UnprocessableEntity),
        (429, StatusKind::RateLimit),
        (500, StatusKind::InternalServer),
        (418, StatusKind::Other),
    ] {
        emulator.inject(Fault::status(status), 1);
        let err = p.delete(CHECKPOINT, "cp_x").await.unwrap_err();
        assert_eq!(err.kind(), Some(kind), "{status}: {err:?}");
        assert_eq!(err.status(), Some(status));
    }
    emulator.shutdown().await;
}

#[tokio::test]
async fn error_bodies_that_are_not_envelopes_keep_their_status() {
    for (body, message) in [
        (r#"{"error": "upstream exploded"}"#, "upstream exploded"),
        (
            "<html>502 Bad Gateway</html>",
            "<html>502 Bad Gateway</html>",
        ),
        ("", "Bad Gateway"),
    ] {
        let server =
            Recorder::start(move |_, _| Reply::json(502, body).header("x-request-id", "req_9"))
                .await;
        let client = Client::builder()
            .api_key(KEY)
            .base_url(&server.url)
            .max_retries(0)
            .build()
            .unwrap();
        let err = permissions_of(&client)
            .delete(CHECKPOINT, "cp_1")
            .await
            .unwrap_err();
        let Error::Status(status) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(status.status, 502);
        assert_eq!(status.message, message);
        assert_eq!(status.request_id.as_deref(), Some("req_9"));
        server.stop().await;
    }
}

#[tokio::test]
async fn a_success_body_that_is_not_the_schema_is_a_decode_error_with_an_excerpt() {
    let server = Recorder::fixed(
        200,
        r#"{"object": "list", "data": 42, "note": "sk-admin-leakedleakedleaked1234"}"#,
    )
    .await;
    let err = client_for(&server.url)
        .fine_tuning()
        .checkpoints()
        .permissions()
        .list(CHECKPOINT, ListParams::new())
        .try_collect::<Vec<_>>()
        .await
        .unwrap_err();
    let Error::Decode { excerpt, .. } = &err else {
        panic!("{err:?}")
    };
    assert!(excerpt.contains(r#""data": 42"#), "{excerpt}");
    assert!(!excerpt.contains("leakedleaked"), "{excerpt}");
    server.stop().await;
}

#[tokio::test]
async fn unknown_fields_and_enum_values_decode() {
    let server = Recorder::fixed(
        200,
        r#"{"object": "list.v2", "data": [{"object": "checkpoint.permission.v2", "id": "cp_1",
            "created_at": 1, "project_id": "p", "shared_by": "user_1"}],
            "first_id": "cp_1", "last_id": "cp_1", "has_more": false, "total": 1}"#,
    )
    .await;
    let items: Vec<_> = client_for(&server.url)
        .fine_tuning()
        .checkpoints()
        .permissions()
        .list(CHECKPOINT, ListParams::new())
        .try_collect()
        .await
        .unwrap();
    assert_eq!(
        items[0].object,
        PermissionObject::Unknown("checkpoint.permission.v2".into())
    );
    server.stop().await;
}

#[tokio::test]
async fn malformed_ids_and_empty_lists_are_refused_before_any_request() {
    let emulator = emulator_with(0).await;
    let client = client_for(&emulator.base_url());
    let p = client.fine_tuning().checkpoints().permissions();
    let before = emulator.request_count();
    let listing =
        |checkpoint: &str, params: ListParams| p.list(checkpoint, params).try_collect::<Vec<_>>();
    let refused = [
        (
            p.create("", ["proj_a"]).await.unwrap_err(),
            "fine_tuned_model_checkpoint",
            IdErrorKind::Empty,
        ),
        (
            p.create("ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB", ["proj_a"])
                .await
                .unwrap_err(),
            "fine_tuned_model_checkpoint",
            IdErrorKind::CheckpointObject,
        ),
        (
            p.create(CHECKPOINT, ["proj_a", "not a project"])
                .await
                .unwrap_err(),
            "project_ids[1]",
            IdErrorKind::Shape,
        ),
        (
            p.delete("", "cp_1").await.unwrap_err(),
            "fine_tuned_model_checkpoint",
            IdErrorKind::Empty,
        ),
        (
            p.delete(CHECKPOINT, "").await.unwrap_err(),
            "permission_id",
            IdErrorKind::Empty,
        ),
        (
            p.delete(CHECKPOINT, "proj_a").await.unwrap_err(),
            "permission_id",
            IdErrorKind::Shape,
        ),
        (
            listing("", ListParams::new()).await.unwrap_err(),
            "fine_tuned_model_checkpoint",
            IdErrorKind::Empty,
        ),
        (
            listing(CHECKPOINT, ListParams::new().after("x y"))
                .await
                .unwrap_err(),
            "after",
            IdErrorKind::Shape,
        ),
        (
            listing(
                CHECKPOINT,
                ListParams::new().project_id("sk-admin-0123456789abcdef"),
            )
            .await
            .unwrap_err(),
            "project_id",
            IdErrorKind::LooksLikeKey,
        ),
    ];
    for (error, argument, kind) in &refused {
        match error {
            Error::InvalidId {
                argument: named,
                source,
                ..
            } => {
                assert_eq!(
                    (named.as_str(), source.kind()),
                    (*argument, *kind),
                    "{error:?}"
                );
            }
            other => panic!("{argument}: expected InvalidId, got {other:?}"),
        }
        assert!(error.to_string().contains(argument), "{error}");
    }
    let empty = p
        .create(CHECKPOINT, Vec::<String>::new())
        .await
        .unwrap_err();
    assert!(matches!(empty, Error::InvalidArgument(_)), "{empty:?}");
    // Typed ids are taken as they are.
    let checkpoint: CheckpointId = CHECKPOINT.parse().unwrap();
    let project: ProjectId = "proj_typed".parse().unwrap();
    assert_eq!(
        emulator.request_count(),
        before,
        "a refused call reached the server"
    );
    let granted = p.create(&checkpoint, [project]).await.unwrap();
    assert_eq!(granted.data[0].project_id, "proj_typed");
    emulator.shutdown().await;
}

#[tokio::test]
async fn configured_headers_are_sent() {
    let server = Recorder::fixed(
        200,
        r#"{"object": "checkpoint.permission", "id": "cp_1", "deleted": true}"#,
    )
    .await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&server.url)
        .organization("org-abc")
        .project("proj-def")
        .header("x-trace", "t-1")
        .user_agent("my-tool/1.0")
        .build()
        .unwrap();
    permissions_of(&client)
        .delete(CHECKPOINT, "cp_1")
        .await
        .unwrap();
    let seen = server.only_request();
    assert_eq!(seen.headers["openai-organization"], "org-abc");
    assert_eq!(seen.headers["openai-project"], "proj-def");
    assert_eq!(seen.headers["x-trace"], "t-1");
    assert_eq!(seen.headers["user-agent"], "my-tool/1.0");
    assert_eq!(seen.headers["authorization"], format!("Bearer {KEY}"));
    server.stop().await;
}

/// A redirect within the base URL is followed, with the key; one out of it,
/// even to the same host, is not: its 3xx is the answer, and the key stays.
#[tokio::test]
async fn the_key_follows_no_redirect_out_of_the_base_url() {
    const DELETED: &str = r#"{"object": "checkpoint.permission", "id": "cp_2", "deleted": true}"#;
    let server = Recorder::start(|seen, _| {
        let path = seen.path.clone();
        if let Some(base) = path.strip_suffix("/cp_1") {
            Reply::json(307, "").header("location", format!("{base}/cp_2"))
        } else if path.ends_with("/cp_3") {
            Reply::json(307, "").header("location", "/elsewhere/collect")
        } else {
            Reply::json(200, DELETED)
        }
    })
    .await;
    let client = client_for(&server.url);
    let permissions = client.fine_tuning().checkpoints().permissions();
    permissions.delete(CHECKPOINT, "cp_1").await.unwrap();
    let error = permissions.delete(CHECKPOINT, "cp_3").await.unwrap_err();
    assert_eq!(error.status(), Some(307), "{error}");
    let said = error.to_string();
    assert!(
        said.contains("a redirect to /elsewhere/collect, out of the base URL"),
        "{said}"
    );
    let seen = server.requests();
    let paths: Vec<&str> = seen.iter().map(|s| s.path.as_str()).collect();
    assert!(paths[1].ends_with("/cp_2"), "{paths:?}");
    assert_eq!(seen[1].headers["authorization"], format!("Bearer {KEY}"));
    assert!(
        !paths.iter().any(|p| p.starts_with("/elsewhere")),
        "{paths:?}"
    );
    server.stop().await;
}

/// Nor is a redirect to another host followed (reqwest would drop the key
/// there, but not the headers a caller added, which may be secrets too).
#[tokio::test]
async fn a_redirect_to_another_host_is_not_followed() {
    let elsewhere = Recorder::fixed(
        200,
        r#"{"object": "checkpoint.permission", "id": "cp_1", "deleted": true}"#,
    )
    .await;
    let target = format!(
        "{}/landing",
        elsewhere.url.replace("127.0.0.1", "localhost")
    );
    let redirecting =
        Recorder::start(move |_, _| Reply::json(307, "").header("location", target.clone())).await;
    let error = client_for(&redirecting.url)
        .fine_tuning()
        .checkpoints()
        .permissions()
        .delete(CHECKPOINT, "cp_1")
        .await
        .unwrap_err();
    assert_eq!(error.status(), Some(307), "{error}");
    assert!(elsewhere.requests().is_empty());
    redirecting.stop().await;
    elsewhere.stop().await;
}

#[tokio::test]
async fn the_key_appears_in_no_log_error_or_debug_output() {
    // Other tests' logs land here too, and are searched too.
    let logs = Captured::install();

    let emulator = emulator_with(2).await;
    let client = client_for(&emulator.base_url());
    // A 429 and its wait, then 503s until the client gives up.
    emulator.inject(Fault::status(429).retry_after_ms(1), 1);
    emulator.inject(Fault::status(503), 5);
    let err = permissions_of(&client)
        .create(CHECKPOINT, ["proj_z"])
        .await
        .unwrap_err();
    let text = logs.text();
    for logged in [
        "retrying request",
        "rate limited",
        "waiting as long as the server asked",
    ] {
        assert!(text.contains(logged), "{logged:?} is not logged: {text}");
    }
    let everything = format!("{text}{err}{err:?}{client:?}");
    assert!(
        !everything.contains("SECRET"),
        "the key leaked: {everything}"
    );
    emulator.shutdown().await;
}
