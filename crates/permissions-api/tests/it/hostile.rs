//! A hostile server: it copies the `Authorization` header (and parts of the key)
//! into every field of its error bodies, into bodies that are not JSON, and into
//! its response headers, for every status class. The key must appear in no
//! error's `Display` or `Debug`, no `Debug` of a response, and no log line at any
//! level. On 127.0.0.1.

use crate::common::{Captured, Recorder, Reply, Seen};
use futures::TryStreamExt;
use permissions_api::{Client, ListParams, RetryPolicy};

const KEY: &str = "sk-admin-hostile-Q7w9Zr2Lm4Xp8Vt6Kc3Nb5";
const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

/// The ways the server echoes what it received.
fn echoes(seen: &Seen) -> Vec<String> {
    let auth = seen
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let key = auth.trim_start_matches("Bearer ").to_owned();
    vec![
        auth.clone(),
        key.clone(),
        key[3..key.len() - 4].to_owned(),
        key[9..].to_owned(),
    ]
}

/// Answer `n` of the hostile server: cycles through bodies and statuses.
fn hostile(seen: &Seen, n: usize) -> Reply {
    let echo = echoes(seen);
    let e = |i: usize| echo[i % echo.len()].clone();
    let statuses = [200, 400, 401, 403, 404, 409, 422, 429, 500, 502, 503];
    let status = statuses[n % statuses.len()];
    let shape = (n / statuses.len()) % 4;
    let body = match shape {
        0 => serde_json::json!({"error": {"message": e(0), "type": e(1), "param": e(2), "code": e(3)}})
            .to_string(),
        1 => format!("upstream said: {} / {}", e(0), e(2)),
        2 => serde_json::json!({"error": e(1), "detail": e(0)}).to_string(),
        _ => format!("<html><body>{}</body></html>", e(3)),
    };
    let mut reply = Reply::json(status, body)
        .header("x-request-id", e(1))
        .header("x-echo", e(0))
        .header("x-should-retry", "false");
    if status == 200 && shape == 0 {
        // A success whose body is a page: its headers still echo the key.
        reply = Reply::json(
            200,
            r#"{"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false}"#,
        )
        .header("x-request-id", e(1))
        .header("x-echo", e(0));
    }
    reply
}

fn leaks(text: &str) -> Option<String> {
    (0..=KEY.len() - 8)
        .map(|start| &KEY[start..start + 8])
        .find(|fragment| text.contains(fragment))
        .map(str::to_owned)
}

#[tokio::test]
async fn nothing_the_server_echoes_reveals_the_key() {
    let logs = Captured::install();

    let server = Recorder::start(hostile).await;
    let client = Client::builder()
        .api_key(KEY)
        .base_url(&server.url)
        .retry_policy(RetryPolicy::none())
        .build()
        .unwrap();
    let permissions = client.fine_tuning().checkpoints().permissions();
    let mut shown = String::new();
    let mut errors = 0;
    for _ in 0..44 {
        match permissions.delete(CHECKPOINT, "cp_1").await {
            Ok(response) => shown.push_str(&format!("{response:?}")),
            Err(error) => {
                errors += 1;
                shown.push_str(&format!("{error}\n{error:?}\n"));
                let mut source = std::error::Error::source(&error);
                while let Some(cause) = source {
                    shown.push_str(&format!("{cause}\n{cause:?}\n"));
                    source = cause.source();
                }
            }
        }
    }
    match permissions
        .list(CHECKPOINT, ListParams::new())
        .try_collect::<Vec<_>>()
        .await
    {
        Ok(all) => shown.push_str(&format!("{all:?}")),
        Err(error) => shown.push_str(&format!("{error}\n{error:?}\n")),
    }
    // A page that decodes, with the key echoed in its headers.
    let mut pages = 0;
    for _ in 0..44 {
        if let Ok(page) = permissions
            .list_pages(CHECKPOINT, ListParams::new())
            .try_next()
            .await
        {
            pages += 1;
            shown.push_str(&format!("{page:?}"));
        }
    }
    assert!(pages >= 1, "no page decoded");
    shown.push_str(&format!("{client:?}{permissions:?}"));
    assert!(errors >= 30, "only {errors} errors");
    // The server did echo the key, and the client did see it.
    assert!(server.requests().len() >= 45);
    assert!(
        shown.contains("sk-****") || shown.contains("****"),
        "{shown}"
    );

    let log = logs.text();
    assert!(log.contains("response"), "the responses are logged: {log}");
    if let Some(fragment) = leaks(&shown) {
        panic!("{fragment:?} of the key leaked into errors or Debug: {shown}");
    }
    if let Some(fragment) = leaks(&log) {
        panic!("{fragment:?} of the key leaked into the log: {log}");
    }
    server.stop().await;
}
