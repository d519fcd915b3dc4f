//! Reading, planning and applying against the emulator on 127.0.0.1.

use permissions_api::Client;
use permissions_emulator::{Emulator, FaultConfig, SeedPermission};
use permissions_sharing::{Desired, State, apply_all, plan, read_state};

const KEY: &str = "sk-admin-sharing-test-0123456789";

fn client(emulator: &Emulator) -> Client {
    Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .build()
        .unwrap()
}

fn checkpoint(i: usize) -> String {
    format!("ft:gpt-4o-mini-2024-07-18:org:team:c{i}")
}

/// 5 checkpoints x `projects` projects.
fn file(projects: usize) -> Desired {
    Desired::new((0..5).map(|c| {
        (
            checkpoint(c),
            (0..projects)
                .map(|p| format!("proj_c{c}p{p:04}"))
                .collect::<Vec<_>>(),
        )
    }))
    .unwrap()
}

async fn state_of(client: &Client, desired: &Desired) -> State {
    let permissions = client.fine_tuning().checkpoints().permissions();
    read_state(&permissions, desired.checkpoints().map(|(c, _)| c))
        .await
        .unwrap()
}

#[tokio::test]
async fn plan_apply_and_plan_again_and_count_the_requests() {
    let emulator = Emulator::builder().start().await.unwrap();
    let client = client(&emulator);
    let desired = file(200);
    let current = state_of(&client, &desired).await;
    assert_eq!(
        emulator.request_count(),
        5,
        "one list request per empty checkpoint"
    );
    let changes = plan(&desired, &current, false);
    assert_eq!(changes.totals().grant, 1000);
    assert_eq!(changes.totals().requests, 10);
    let report = apply_all(
        client.fine_tuning().checkpoints().permissions(),
        &changes,
        4,
    )
    .await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(report.granted, 1000);
    assert_eq!(emulator.request_count(), 15);
    // Planning again reads 2 pages per checkpoint and finds nothing to do.
    let after = state_of(&client, &desired).await;
    assert_eq!(emulator.request_count(), 25);
    assert!(plan(&desired, &after, true).is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn pruning_revokes_and_a_revoke_already_gone_counts_as_done() {
    let seeds =
        ["proj_keep", "proj_drop", "proj_gone"].map(|p| SeedPermission::new(checkpoint(0), p));
    let emulator = Emulator::builder().seed(seeds).start().await.unwrap();
    let client = client(&emulator);
    let desired = Desired::new([(checkpoint(0), vec!["proj_keep", "proj_new"])]).unwrap();
    let current = state_of(&client, &desired).await;
    let changes = plan(&desired, &current, true);
    assert_eq!(changes.totals().revoke, 2);
    // Someone else revokes one of them before the apply.
    let permissions = client.fine_tuning().checkpoints().permissions();
    let gone = &current.projects(&checkpoint(0)).unwrap()["proj_gone"];
    permissions
        .delete(&checkpoint(0), gone.iter().next().unwrap())
        .await
        .unwrap();
    let report = apply_all(permissions, &changes, 2).await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!((report.revoked, report.already_revoked), (2, 1));
    let after = state_of(&client, &desired).await;
    assert!(plan(&desired, &after, true).is_empty());
    emulator.shutdown().await;
}

#[tokio::test]
async fn applies_converge_through_503s() {
    let emulator = Emulator::builder()
        .faults(FaultConfig {
            unavailable: 0.2,
            rng_seed: Some(11),
            ..FaultConfig::default()
        })
        .start()
        .await
        .unwrap();
    let client = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .retry_policy(permissions_api::RetryPolicy {
            max_retries: 1,
            initial_delay: std::time::Duration::from_millis(5),
            ..Default::default()
        })
        .build()
        .unwrap();
    let desired = file(150);
    let mut rounds = 0;
    loop {
        rounds += 1;
        assert!(rounds <= 10, "no convergence in 10 rounds");
        let permissions = client.fine_tuning().checkpoints().permissions();
        let Ok(current) = read_state(&permissions, desired.checkpoints().map(|(c, _)| c)).await
        else {
            continue;
        };
        let changes = plan(&desired, &current, true);
        if changes.is_empty() {
            break;
        }
        let report = apply_all(permissions, &changes, 4).await;
        if let Some(error) = &report.error {
            assert!(!report.not_done.is_empty(), "{error}");
        }
    }
    // Checked through a patient client: the 503s go on.
    let patient = Client::builder()
        .api_key(KEY)
        .base_url(emulator.base_url())
        .retry_policy(permissions_api::RetryPolicy {
            max_retries: 10,
            initial_delay: std::time::Duration::from_millis(1),
            ..Default::default()
        })
        .build()
        .unwrap();
    let after = state_of(&patient, &desired).await;
    for (checkpoint, projects) in desired.checkpoints() {
        let held: Vec<&String> = after
            .projects(checkpoint.as_str())
            .unwrap()
            .keys()
            .collect();
        assert_eq!(
            held,
            projects.iter().map(|p| p.as_str()).collect::<Vec<_>>()
        );
    }
    emulator.shutdown().await;
}

/// The cost of a plan by name: 5 checkpoints x 200 projects named by name, in an
/// organization of 500 projects.
#[tokio::test]
async fn a_plan_by_name_reads_the_organization_once_in_pages_of_100() {
    use permissions_emulator::{SeedCheckpoint, SeedProject};
    use permissions_sharing::{SharingFile, read_organization, resolve};

    // 499 teams and the checkpoints' owner: an organization of 500 projects.
    let projects: Vec<SeedProject> = (0..499)
        .map(|i| SeedProject::new(format!("proj_{i:03}"), Some(&format!("Team {i:03}"))))
        .chain([SeedProject::new("proj_owner", Some("Owner"))])
        .collect();
    let emulator = Emulator::builder()
        .projects(projects)
        .checkpoints((0..5).map(|c| SeedCheckpoint::new(checkpoint(c), "proj_owner")))
        .start()
        .await
        .unwrap();
    let client = client(&emulator);
    let mut text = String::from("version: 1\ncheckpoints:\n");
    for c in 0..5 {
        text.push_str(&format!("  {}:\n", checkpoint(c)));
        for p in 0..200 {
            text.push_str(&format!("    - name: Team {:03}\n", c * 50 + p));
        }
    }
    let file = SharingFile::parse(&text).unwrap();
    let plan_once = || async {
        let organization = read_organization(&client.organization().projects())
            .await
            .unwrap();
        let resolution = resolve(&file, &organization).unwrap();
        let permissions = client.fine_tuning().checkpoints().permissions();
        let current = read_state(&permissions, file.checkpoints().map(|(c, _)| c))
            .await
            .unwrap();
        plan(&resolution.desired, &current, true)
    };
    let changes = plan_once().await;
    // 500 projects: 5 pages; 5 empty checkpoints: 1 page each.
    assert_eq!(emulator.request_count(), 5 + 5);
    assert_eq!(changes.totals().grant, 1000);
    let first = &changes.checkpoints[0].grant[0];
    assert_eq!(
        (first.project_id.as_str(), first.name.as_deref()),
        ("proj_000", Some("Team 000"))
    );
    let report = apply_all(
        client.fine_tuning().checkpoints().permissions(),
        &changes,
        4,
    )
    .await;
    assert!(report.is_complete(), "{report:?}");
    assert_eq!(emulator.request_count(), 10 + 10, "10 batches of 100");
    // Planned again: 5 pages of projects, 2 pages of 100 per checkpoint.
    assert!(plan_once().await.is_empty());
    assert_eq!(emulator.request_count(), 20 + 5 + 10);
    emulator.shutdown().await;
}
