//! Helpers shared by the emulator's integration tests.

use reqwest::{Method, StatusCode};
use serde_json::Value;

/// An admin key accepted by the default configuration.
pub const ADMIN_KEY: &str = "sk-admin-test-0123456789";
/// A checkpoint id of the real form.
pub const CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd";

/// Writes `value` as the JSON file `name` in `dir` (a seed or key file).
pub fn json_file(dir: &std::path::Path, name: &str, value: &Value) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, value.to_string()).expect("write the file");
    path
}

/// A response reduced to what the tests look at.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    /// Asserts the error envelope with all four fields, and returns `error`.
    pub fn error(&self) -> &Value {
        let error = &self.body["error"];
        assert!(error.is_object(), "no error envelope in {:?}", self.body);
        assert!(error["message"].is_string(), "{error}");
        assert!(error["type"].is_string(), "{error}");
        for field in ["param", "code"] {
            let value = error
                .get(field)
                .unwrap_or_else(|| panic!("{field} missing in {error}"));
            assert!(value.is_string() || value.is_null(), "{error}");
        }
        assert_eq!(
            self.headers
                .get("content-type")
                .and_then(|v| v.to_str().ok()),
            Some("application/json")
        );
        error
    }

    /// The `id`s of a page's `data`, checking `first_id`/`last_id` against them.
    pub fn page_ids(&self) -> Vec<String> {
        assert_eq!(self.status, StatusCode::OK, "{:?}", self.body);
        assert_eq!(self.body["object"], "list");
        let ids: Vec<String> = self.body["data"]
            .as_array()
            .expect("data is an array")
            .iter()
            .map(|p| p["id"].as_str().expect("id is a string").to_owned())
            .collect();
        assert_eq!(
            self.body["first_id"].as_str(),
            ids.first().map(String::as_str)
        );
        assert_eq!(
            self.body["last_id"].as_str(),
            ids.last().map(String::as_str)
        );
        assert!(self.body["has_more"].is_boolean());
        ids
    }

    pub fn has_more(&self) -> bool {
        self.body["has_more"]
            .as_bool()
            .expect("has_more is a boolean")
    }
}

/// A small HTTP client for one emulator.
#[derive(Clone)]
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
    pub key: Option<String>,
}

impl Api {
    pub fn new(base: String) -> Self {
        Self {
            http: reqwest::Client::new(),
            base,
            key: Some(ADMIN_KEY.to_owned()),
        }
    }

    pub fn with_key(&self, key: Option<&str>) -> Self {
        Self {
            key: key.map(str::to_owned),
            ..self.clone()
        }
    }

    pub fn permissions_url(&self, checkpoint: &str) -> String {
        format!(
            "{}/fine_tuning/checkpoints/{checkpoint}/permissions",
            self.base
        )
    }

    pub fn projects_url(&self) -> String {
        format!("{}/organization/projects", self.base)
    }

    /// A page of `GET /organization/projects`.
    pub async fn projects(&self, query: &[(&str, &str)]) -> Reply {
        self.send(self.http.get(self.projects_url()).query(query))
            .await
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let request = match &self.key {
            Some(key) => request.bearer_auth(key),
            None => request,
        };
        let response = request.send().await.expect("request reaches the emulator");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body is read");
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|e| {
                panic!(
                    "body is not JSON ({e}): {}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        assert!(
            headers
                .get("x-request-id")
                .is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("req_"))),
            "no x-request-id on {status}"
        );
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn raw(&self, method: Method, url: &str) -> Reply {
        self.send(self.http.request(method, url)).await
    }

    pub async fn list(&self, checkpoint: &str, query: &[(&str, &str)]) -> Reply {
        self.send(self.http.get(self.permissions_url(checkpoint)).query(query))
            .await
    }

    pub async fn create(&self, checkpoint: &str, project_ids: &[&str]) -> Reply {
        self.create_body(
            checkpoint,
            serde_json::json!({ "project_ids": project_ids }),
        )
        .await
    }

    pub async fn create_body(&self, checkpoint: &str, body: Value) -> Reply {
        self.send(self.http.post(self.permissions_url(checkpoint)).json(&body))
            .await
    }

    pub async fn delete(&self, checkpoint: &str, id: &str) -> Reply {
        let url = format!("{}/{id}", self.permissions_url(checkpoint));
        self.send(self.http.delete(url)).await
    }

    /// Every page of a listing, following `after = last_id` as the SDKs do.
    pub async fn list_all(
        &self,
        checkpoint: &str,
        order: &str,
        limit: usize,
    ) -> (Vec<String>, usize) {
        let mut ids = Vec::new();
        let mut pages = 0;
        let mut after: Option<String> = None;
        loop {
            let limit = limit.to_string();
            let mut query = vec![("order", order), ("limit", limit.as_str())];
            if let Some(after) = &after {
                query.push(("after", after));
            }
            let page = self.list(checkpoint, &query).await;
            let page_ids = page.page_ids();
            pages += 1;
            assert!(page_ids.len() <= limit.parse().expect("number"));
            ids.extend(page_ids.iter().cloned());
            if !page.has_more() {
                break;
            }
            assert!(!page_ids.is_empty(), "has_more with an empty page");
            after = page_ids.last().cloned();
        }
        (ids, pages)
    }
}

/// Requests that each carry one malformed id, in the path, the query or the body,
/// on [`CHECKPOINT`] or a checkpoint object's id: `(what, reply, param)`, `param`
/// being the one the refusal must name.
pub async fn malformed_id_replies(api: &Api) -> Vec<(&'static str, Reply, &'static str)> {
    const OBJECT_ID: &str = "ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB";
    const CHECKPOINT_PARAM: &str = "fine_tuned_model_checkpoint";
    vec![
        (
            "object id, list",
            api.list(OBJECT_ID, &[]).await,
            CHECKPOINT_PARAM,
        ),
        (
            "object id, create",
            api.create(OBJECT_ID, &["proj_00"]).await,
            CHECKPOINT_PARAM,
        ),
        (
            "object id, delete",
            api.delete(OBJECT_ID, "cp_zc4Q7MP6XxulcVzj4MZdwsAB").await,
            CHECKPOINT_PARAM,
        ),
        (
            "a base model",
            api.list("gpt-4o-mini", &[]).await,
            CHECKPOINT_PARAM,
        ),
        (
            "permission id",
            api.delete(CHECKPOINT, "perm_123").await,
            "permission_id",
        ),
        (
            "after",
            api.list(CHECKPOINT, &[("after", "proj_00")]).await,
            "after",
        ),
        (
            "project_id",
            api.list(CHECKPOINT, &[("project_id", "not a project")])
                .await,
            "project_id",
        ),
        (
            "project_ids[1]",
            api.create(CHECKPOINT, &["proj_00", "Research"]).await,
            "project_ids[1]",
        ),
        (
            "project_ids[0] that looks like a key",
            api.create(CHECKPOINT, &["sk-admin-pasted-0123456789"])
                .await,
            "project_ids[0]",
        ),
    ]
}

/// Asserts the 400 a malformed id gets: the envelope naming `param`, with the id
/// type's explanation, never repeating a key.
pub fn assert_malformed(what: &str, reply: &Reply, param: &str) {
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{what}");
    let error = reply.error();
    assert_eq!(error["type"], "invalid_request_error", "{what}");
    assert_eq!(error["param"], param, "{what}");
    assert_eq!(error["code"], "invalid_value", "{what}");
    let message = error["message"].as_str().expect("message");
    assert!(
        message.starts_with(&format!("Invalid '{param}': invalid ")),
        "{what}: {message}"
    );
    assert!(!message.contains("pasted-0123456789"), "{what}: {message}");
    if what.starts_with("object id") {
        assert!(
            message.contains("pass the fine-tuned model id instead"),
            "{what}: {message}"
        );
    }
}
