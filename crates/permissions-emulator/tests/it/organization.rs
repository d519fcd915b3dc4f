//! The organization a seed describes: `GET /v1/organization/projects`, grants
//! checked against the organization's projects, checkpoints it does not list, and
//! ids checked by their types on every route.

use crate::common;

use crate::common::{ADMIN_KEY, Api, CHECKPOINT, json_file};
use permissions_emulator::{
    ApiKey, Emulator, Error, Fault, RateLimit, Scope, SeedCheckpoint, SeedPermission, SeedProject,
};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const OWNER: &str = "proj_owner";
const OTHER_CHECKPOINT: &str = "ft:gpt-4o-mini-2024-07-18:org:weather:B7R9VjQd:ckpt-step-88";
const UNLISTED: &str = "ft:gpt-4o-mini-2024-07-18:org:elsewhere:Zz9Yy8Xx";

/// `proj_00`..`proj_{count-1}` created a second apart from 1711471533, with
/// `proj_03` and `proj_07` archived; then [`OWNER`], created last.
fn projects(count: usize) -> Vec<SeedProject> {
    let mut projects: Vec<SeedProject> = (0..count)
        .map(|i| {
            let project = SeedProject {
                created_at: Some(1_711_471_533 + i as i64),
                ..SeedProject::new(format!("proj_{i:02}"), Some(&format!("Team {i}")))
            };
            if i == 3 || i == 7 {
                project.archived()
            } else {
                project
            }
        })
        .collect();
    projects.push(SeedProject::new(OWNER, None));
    projects
}

/// An emulator of an organization of `projects(count)`, owning [`CHECKPOINT`] and
/// [`OTHER_CHECKPOINT`].
async fn organization(count: usize) -> (Emulator, Api) {
    let emulator = Emulator::builder()
        .projects(projects(count))
        .checkpoints([
            SeedCheckpoint::new(CHECKPOINT, OWNER),
            SeedCheckpoint::new(OTHER_CHECKPOINT, OWNER),
        ])
        .start()
        .await
        .expect("emulator starts");
    let api = Api::new(emulator.base_url());
    (emulator, api)
}

/// Every page of list-projects with `query`, following `after = last_id`.
async fn all_project_pages(api: &Api, query: &[(&str, &str)]) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let mut query = query.to_vec();
        if let Some(after) = &after {
            query.push(("after", after));
        }
        let page = api.projects(&query).await;
        let ids = page.page_ids();
        let more = page.has_more();
        after = ids.last().cloned();
        pages.push(ids);
        if !more {
            return pages;
        }
        assert!(after.is_some(), "has_more with an empty page");
    }
}

fn names(ids: impl IntoIterator<Item = usize>) -> Vec<String> {
    ids.into_iter().map(|i| format!("proj_{i:02}")).collect()
}

#[tokio::test]
async fn list_projects_paginates_and_honours_include_archived() {
    let (emulator, api) = organization(10).await;
    // The owner was created when the emulator started: after the others.
    let mut active = names((0..10).filter(|i| ![3, 7].contains(i)));
    active.push(OWNER.to_owned());
    let mut every = names(0..10);
    every.push(OWNER.to_owned());

    let pages = all_project_pages(&api, &[("limit", "3")]).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3]);
    assert_eq!(pages.concat(), active);
    let pages = all_project_pages(&api, &[("limit", "4"), ("include_archived", "true")]).await;
    assert_eq!(pages.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 3]);
    assert_eq!(pages.concat(), every);
    let pages = all_project_pages(&api, &[("include_archived", "false")]).await;
    assert_eq!(pages, [active.clone()]);

    // The page after an archived project continues from its place.
    let page = api.projects(&[("after", "proj_03"), ("limit", "2")]).await;
    assert_eq!(page.page_ids(), names([4, 5]));
    assert!(page.has_more());

    // The objects, as the official SDKs read them.
    let page = api
        .projects(&[("include_archived", "true"), ("limit", "4")])
        .await;
    assert_eq!(page.body["object"], "list");
    assert_eq!(
        page.body["data"][0],
        json!({"id": "proj_00", "object": "organization.project", "name": "Team 0",
               "created_at": 1_711_471_533, "archived_at": null, "status": "active"})
    );
    let archived = &page.body["data"][3];
    assert_eq!(archived["id"], "proj_03");
    assert_eq!(archived["status"], "archived");
    assert!(
        archived["archived_at"]
            .as_i64()
            .is_some_and(|at| at >= 1_711_471_536),
        "{archived}"
    );
    let last = api.projects(&[("after", "proj_09")]).await;
    assert_eq!(last.body["data"][0]["name"], Value::Null);
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_projects_has_the_official_default_limit() {
    let (emulator, api) = organization(25).await;
    let page = api.projects(&[]).await;
    assert_eq!(
        page.page_ids(),
        names((0..22).filter(|i| ![3, 7].contains(i)))
    );
    assert!(page.has_more());
    let rest = api.projects(&[("after", "proj_21")]).await;
    let mut expected = names(22..25);
    expected.push(OWNER.to_owned());
    assert_eq!(rest.page_ids(), expected);
    assert!(!rest.has_more());
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_projects_refuses_bad_queries() {
    let (emulator, api) = organization(3).await;
    for (query, param, code) in [
        (&[("limit", "0")][..], "limit", "invalid_value"),
        (&[("limit", "101")], "limit", "invalid_value"),
        (&[("limit", "ten")], "limit", "invalid_value"),
        (
            &[("include_archived", "yes")],
            "include_archived",
            "invalid_value",
        ),
        (
            &[("include_archived", "True")],
            "include_archived",
            "invalid_value",
        ),
        (
            &[("include_archived", "")],
            "include_archived",
            "invalid_value",
        ),
        (&[("after", "nope")], "after", "invalid_value"),
        (&[("after", "")], "after", "invalid_value"),
        (&[("after", "proj_never")], "after", "invalid_cursor"),
        (&[("limit", "2"), ("limit", "3")], "limit", "invalid_value"),
    ] {
        let reply = api.projects(query).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{query:?}");
        let error = reply.error();
        assert_eq!(error["type"], "invalid_request_error", "{query:?}");
        assert_eq!(error["param"], param, "{query:?}");
        assert_eq!(error["code"], code, "{query:?}");
    }
    // The edges, and unknown parameters, are fine.
    assert_eq!(
        api.projects(&[("limit", "1")]).await.page_ids(),
        ["proj_00"]
    );
    assert_eq!(api.projects(&[("limit", "100")]).await.page_ids().len(), 4);
    assert_eq!(
        api.projects(&[("order", "sideways")])
            .await
            .page_ids()
            .len(),
        4
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn without_projects_the_list_is_empty_and_everything_stays_lenient() {
    let emulator = Emulator::builder()
        .checkpoints([SeedCheckpoint::new(CHECKPOINT, OWNER)])
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    let page = api.projects(&[("include_archived", "true")]).await;
    assert_eq!(
        page.body,
        json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": false})
    );
    let unknown = api.projects(&[("after", "proj_00")]).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.error()["code"], "invalid_cursor");
    // Any checkpoint and any well-formed project, as before organizations.
    assert_eq!(
        api.create(UNLISTED, &["proj_anything"])
            .await
            .page_ids()
            .len(),
        1
    );
    assert_eq!(api.list(UNLISTED, &[]).await.page_ids().len(), 1);
    assert_eq!(
        api.create(CHECKPOINT, &[OWNER]).await.status,
        StatusCode::BAD_REQUEST
    );
    emulator.shutdown().await;
}

#[tokio::test]
async fn grants_of_unknown_or_archived_projects_are_refused_whole() {
    let (emulator, api) = organization(10).await;
    let granted = api.create(CHECKPOINT, &["proj_00"]).await.page_ids();
    assert_eq!(emulator.state().permission_count(), 1);
    for (projects, message) in [
        (
            &["proj_01", "proj_nowhere", "proj_02"][..],
            "Project 'proj_nowhere' was not found in this organization.",
        ),
        (
            &["proj_01", "proj_03"],
            "Project 'proj_03' is archived: archived projects cannot be used or updated.",
        ),
        (
            &["proj_07", "proj_nowhere"],
            "Project 'proj_07' is archived: archived projects cannot be used or updated.",
        ),
        (
            &["proj_01", OWNER],
            "Cannot modify checkpoint permissions for the owning project: proj_owner",
        ),
    ] {
        let reply = api.create(CHECKPOINT, projects).await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{projects:?}");
        let error = reply.error();
        assert_eq!(error["type"], "invalid_request_error", "{projects:?}");
        assert_eq!(error["param"], "project_ids", "{projects:?}");
        assert_eq!(error["code"], Value::Null, "{projects:?}");
        assert_eq!(error["message"], message, "{projects:?}");
    }
    // Nothing of the refused requests was granted.
    assert_eq!(emulator.state().permission_count(), 1);
    assert_eq!(api.list(CHECKPOINT, &[]).await.page_ids(), granted);
    // The organization's active projects are granted as before.
    assert_eq!(
        api.create(CHECKPOINT, &["proj_01", "proj_02"])
            .await
            .page_ids()
            .len(),
        2
    );
    assert_eq!(emulator.state().permission_count(), 3);
    emulator.shutdown().await;
}

#[tokio::test]
async fn an_unlisted_checkpoint_is_404_on_every_route() {
    let (emulator, api) = organization(3).await;
    let listed = api.create(CHECKPOINT, &["proj_00"]).await.page_ids();
    for reply in [
        api.list(UNLISTED, &[]).await,
        api.list(UNLISTED, &[("after", listed[0].as_str())]).await,
        api.create(UNLISTED, &["proj_00"]).await,
        api.delete(UNLISTED, &listed[0]).await,
    ] {
        assert_eq!(reply.status, StatusCode::NOT_FOUND);
        let error = reply.error();
        assert_eq!(error["type"], "invalid_request_error");
        assert_eq!(error["code"], "model_not_found");
        assert_eq!(
            error["message"],
            format!("The model `{UNLISTED}` does not exist or you do not have access to it.")
        );
    }
    assert_eq!(emulator.state().permission_count(), 1);
    // A listed checkpoint without permissions is still found, and empty.
    assert!(api.list(OTHER_CHECKPOINT, &[]).await.page_ids().is_empty());
    // A malformed checkpoint is a 400 before it can be a 404.
    let reply = api.list("ftckpt_zc4Q7MP6XxulcVzj4MZdwsAB", &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    emulator.shutdown().await;
}

#[tokio::test]
async fn malformed_ids_are_400_before_the_organization_is_asked() {
    let (emulator, api) = organization(3).await;
    for (what, reply, param) in common::malformed_id_replies(&api).await {
        common::assert_malformed(what, &reply, param);
    }
    assert_eq!(emulator.state().permission_count(), 0);
    emulator.shutdown().await;
}

#[tokio::test]
async fn list_projects_needs_its_own_scope() {
    const CHECKPOINTS_ONLY: &str = "sk-admin-checkpoints-0123456789";
    const PROJECTS_ONLY: &str = "sk-admin-projects-0123456789";
    let dir = tempfile::tempdir().expect("tempdir");
    let keys = json_file(
        dir.path(),
        "keys.json",
        &json!({"keys": [
            {"key": CHECKPOINTS_ONLY, "scopes": ["api.fine_tuning.checkpoints.read",
                                                 "api.fine_tuning.checkpoints.write"]},
            {"key": PROJECTS_ONLY, "scopes": ["api.organization.projects.read"]}
        ]}),
    );
    let emulator = Emulator::builder()
        .projects(projects(2))
        .checkpoints([SeedCheckpoint::new(CHECKPOINT, OWNER)])
        .keys_file(&keys)
        .keys([ApiKey::new(ADMIN_KEY, [Scope::ProjectsRead, Scope::Read])])
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    let checkpoints_only = api.with_key(Some(CHECKPOINTS_ONLY));
    let projects_only = api.with_key(Some(PROJECTS_ONLY));

    let refused = checkpoints_only.projects(&[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    let message = refused.error()["message"].as_str().expect("message");
    assert!(
        message.contains("Missing scopes: api.organization.projects.read."),
        "{message}"
    );
    assert!(!message.contains("checkpoints-0123456789"), "{message}");
    assert_eq!(refused.error()["code"], Value::Null);
    assert_eq!(
        checkpoints_only.list(CHECKPOINT, &[]).await.status,
        StatusCode::OK
    );

    assert_eq!(projects_only.projects(&[]).await.page_ids().len(), 3);
    let refused = projects_only.list(CHECKPOINT, &[]).await;
    assert_eq!(refused.status, StatusCode::UNAUTHORIZED);
    assert!(
        refused.error()["message"]
            .as_str()
            .is_some_and(|m| m.contains("Missing scopes: api.fine_tuning.checkpoints.read.")),
        "{:?}",
        refused.body
    );
    // A key given to the builder counts too; an unknown key and a project key fail
    // as on the other routes.
    assert_eq!(api.projects(&[]).await.status, StatusCode::OK);
    let unknown = api.with_key(Some("sk-admin-unknown-0123456789"));
    assert_eq!(
        unknown.projects(&[]).await.error()["code"],
        "invalid_api_key"
    );
    let project_key = api.with_key(Some("sk-proj-0123456789"));
    assert_eq!(
        project_key.projects(&[]).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        api.with_key(None).projects(&[]).await.status,
        StatusCode::UNAUTHORIZED
    );
    emulator.shutdown().await;

    // Without a key file, every admin key may list projects.
    let (open, api) = organization(2).await;
    assert_eq!(
        api.with_key(Some("sk-admin-anyone"))
            .projects(&[])
            .await
            .status,
        StatusCode::OK
    );
    open.shutdown().await;
}

#[tokio::test]
async fn the_throttle_counts_list_projects_apart() {
    let emulator = Emulator::builder()
        .projects(projects(2))
        .checkpoints([SeedCheckpoint::new(CHECKPOINT, OWNER)])
        .rate_limit("2/60s".parse::<RateLimit>().expect("a limit"))
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    assert_eq!(api.projects(&[]).await.status, StatusCode::OK);
    assert_eq!(api.projects(&[("limit", "1")]).await.status, StatusCode::OK);
    let refused = api.projects(&[]).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.error()["code"], "rate_limit_exceeded");
    // The permissions list has a window of its own.
    assert_eq!(api.list(CHECKPOINT, &[]).await.status, StatusCode::OK);
    let counters = emulator.endpoint_counters();
    let projects = counters
        .iter()
        .find(|c| c.path == "/v1/organization/projects")
        .expect("list-projects counted");
    assert_eq!(projects.method, "GET");
    assert_eq!((projects.requests, projects.throttled), (3, 1));
    emulator.shutdown().await;
}

#[tokio::test]
async fn page_anomalies_bend_a_page_of_projects_too() {
    let (emulator, api) = organization(6).await;
    emulator.inject(Fault::EmptyPage, 1);
    let empty = api.projects(&[("limit", "2"), ("after", "proj_00")]).await;
    assert_eq!(
        empty.body,
        json!({"object": "list", "data": [], "first_id": null, "last_id": null, "has_more": true})
    );
    emulator.inject(Fault::RepeatLastId, 1);
    let repeated = api.projects(&[("limit", "2"), ("after", "proj_00")]).await;
    assert_eq!(repeated.body["first_id"], "proj_01");
    assert_eq!(repeated.body["last_id"], "proj_00");
    assert_eq!(repeated.body["has_more"], true);
    let normal = api.projects(&[("limit", "2"), ("after", "proj_00")]).await;
    assert_eq!(normal.page_ids(), ["proj_01", "proj_02"]);
    emulator.shutdown().await;
}

#[tokio::test]
async fn seed_files_describe_the_organization_and_old_forms_still_work() {
    let dir = tempfile::tempdir().expect("tempdir");
    let org = json_file(
        dir.path(),
        "org.json",
        &json!({
            "projects": [
                {"id": "proj_b", "name": "Support", "created_at": 20},
                {"id": "proj_a", "name": null, "created_at": 10},
                {"id": "proj_old", "status": "archived", "created_at": 5, "archived_at": 6},
                {"id": OWNER}
            ],
            "checkpoints": [{"id": CHECKPOINT, "owner_project_id": OWNER}],
            "permissions": [
                {"checkpoint": CHECKPOINT, "project_id": "proj_old",
                 "id": "cp_zc4Q7MP6XxulcVzj4MZdwsAB", "created_at": 1712211699}
            ]
        }),
    );
    let emulator = Emulator::builder()
        .seed_file(&org)
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    assert_eq!(
        api.projects(&[("include_archived", "true")])
            .await
            .page_ids(),
        ["proj_old", "proj_a", "proj_b", OWNER]
    );
    let old = api
        .projects(&[("include_archived", "true"), ("limit", "1")])
        .await;
    assert_eq!(old.body["data"][0]["archived_at"], 6);
    // A permission seeded before the project was archived is still listed.
    assert_eq!(
        api.list(CHECKPOINT, &[]).await.page_ids(),
        ["cp_zc4Q7MP6XxulcVzj4MZdwsAB"]
    );
    assert_eq!(
        api.create(UNLISTED, &["proj_a"]).await.status,
        StatusCode::NOT_FOUND
    );
    emulator.shutdown().await;

    // Each earlier form, alone: no organization, so every checkpoint exists.
    for (name, seed) in [
        (
            "list.json",
            json!([{"checkpoint": CHECKPOINT, "project_id": "proj_x"}]),
        ),
        (
            "permissions.json",
            json!({"permissions": [{"checkpoint": CHECKPOINT, "project_id": "proj_x"}]}),
        ),
        (
            "owners.json",
            json!({"checkpoints": [{"id": CHECKPOINT, "owner_project_id": OWNER}],
                   "permissions": [{"checkpoint": CHECKPOINT, "project_id": "proj_x"}]}),
        ),
    ] {
        let file = json_file(dir.path(), name, &seed);
        let emulator = Emulator::builder()
            .seed_file(&file)
            .start()
            .await
            .expect(name);
        let api = Api::new(emulator.base_url());
        assert_eq!(
            api.list(CHECKPOINT, &[]).await.page_ids().len(),
            1,
            "{name}"
        );
        assert_eq!(
            api.create(UNLISTED, &["proj_y"]).await.page_ids().len(),
            1,
            "{name}"
        );
        assert!(api.projects(&[]).await.page_ids().is_empty(), "{name}");
        emulator.shutdown().await;
    }
}

#[tokio::test]
async fn seeds_that_contradict_their_organization_stop_the_start() {
    let dir = tempfile::tempdir().expect("tempdir");
    let org = json_file(
        dir.path(),
        "org.json",
        &json!({"projects": [{"id": OWNER}, {"id": "proj_a"}],
                "checkpoints": [{"id": CHECKPOINT, "owner_project_id": OWNER}]}),
    );
    let refusals = [
        (
            Emulator::builder().projects([
                SeedProject::new("proj_a", None),
                SeedProject::new("proj_a", Some("Again")),
            ]),
            "projects[1]: project proj_a is listed twice",
        ),
        (
            Emulator::builder().projects([SeedProject::new("Research", None)]),
            "projects[0].id: invalid project id \"Research\"",
        ),
        (
            Emulator::builder()
                .projects([SeedProject::new("proj_a", None)])
                .checkpoints([SeedCheckpoint::new(CHECKPOINT, OWNER)]),
            "checkpoints[0].owner_project_id: proj_owner is not one of the seed's projects",
        ),
        (
            // Files and the builder make one organization together.
            Emulator::builder()
                .seed_file(&org)
                .seed([SeedPermission::new(CHECKPOINT, "proj_b")]),
            "permissions[0].project_id: proj_b is not one of the seed's projects",
        ),
        (
            Emulator::builder()
                .seed_file(&org)
                .seed([SeedPermission::new(UNLISTED, "proj_a")]),
            "is not one of the seed's checkpoints",
        ),
        (
            Emulator::builder().seed([SeedPermission::new("ftckpt_abc", "proj_a")]),
            "pass the fine-tuned model id instead",
        ),
    ];
    for (builder, expected) in refusals {
        let error = builder.start().await.expect_err(expected);
        assert!(matches!(error, Error::Seed(_)), "{error}");
        assert!(error.to_string().contains(expected), "{error}");
    }
    // The same organization, consistent, starts.
    let emulator = Emulator::builder()
        .seed_file(&org)
        .seed([SeedPermission::new(CHECKPOINT, "proj_a")])
        .start()
        .await
        .expect("starts");
    let api = Api::new(emulator.base_url());
    assert_eq!(api.list(CHECKPOINT, &[]).await.page_ids().len(), 1);
    emulator.shutdown().await;
}

#[tokio::test]
async fn unrouted_organization_paths_stay_404_and_405() {
    let (emulator, api) = organization(1).await;
    let projects = api.projects_url();
    let reply = api.raw(Method::POST, &projects).await;
    assert_eq!(reply.status, StatusCode::METHOD_NOT_ALLOWED);
    reply.error();
    let reply = api.raw(Method::GET, &format!("{projects}/proj_00")).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
    reply.error();
    emulator.shutdown().await;
}
