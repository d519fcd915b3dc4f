//! Planning as a pure function of (desired, current), checked with property tests.

use std::collections::{BTreeMap, BTreeSet};

use permissions_sharing::{Desired, GRANT_BATCH, State, plan};
use proptest::prelude::*;

/// Checkpoint and project ids from small pools, so that files and states overlap.
fn checkpoint() -> impl Strategy<Value = String> {
    (0..5u8).prop_map(|i| format!("ft:gpt-4o-mini:org:team:c{i}"))
}

fn project() -> impl Strategy<Value = String> {
    (0..12u8).prop_map(|i| format!("proj_p{i:02}"))
}

fn desired() -> impl Strategy<Value = Desired> {
    prop::collection::btree_map(
        checkpoint(),
        prop::collection::btree_set(project(), 0..8),
        0..4,
    )
    .prop_map(|map| Desired::new(map).expect("valid ids"))
}

/// A state whose projects hold one or two permissions each (the API could hold
/// duplicates).
fn current() -> impl Strategy<Value = State> {
    prop::collection::btree_map(
        checkpoint(),
        prop::collection::btree_map(project(), 1..3usize, 0..8),
        0..5,
    )
    .prop_map(|map| {
        let mut state = State::new();
        for (checkpoint, projects) in map {
            state.add_checkpoint(checkpoint.clone());
            for (project, copies) in projects {
                for copy in 0..copies {
                    state.add(&checkpoint, &project, format!("cp_{project}_{copy}"));
                }
            }
        }
        state
    })
}

/// The projects of each checkpoint of `state`.
fn sharing(state: &State) -> BTreeMap<String, BTreeSet<String>> {
    state
        .checkpoints()
        .map(|c| {
            let projects = state.projects(c).map(|p| p.keys().cloned().collect());
            (c.to_owned(), projects.unwrap_or_default())
        })
        .collect()
}

fn wanted(desired: &Desired) -> BTreeMap<String, BTreeSet<String>> {
    desired
        .checkpoints()
        .map(|(c, p)| (c.to_string(), p.iter().map(ToString::to_string).collect()))
        .collect()
}

proptest! {
    #[test]
    fn pruning_reaches_exactly_the_file(desired in desired(), current in current()) {
        let after = plan(&desired, &current, true).outcome(&current);
        let now = sharing(&after);
        for (checkpoint, projects) in wanted(&desired) {
            prop_assert_eq!(now.get(&checkpoint), Some(&projects));
        }
        // Checkpoints the file does not name are untouched.
        for checkpoint in current.checkpoints() {
            if desired.projects(checkpoint).is_none() {
                prop_assert_eq!(after.projects(checkpoint), current.projects(checkpoint));
            }
        }
    }

    #[test]
    fn without_pruning_the_result_is_a_superset(desired in desired(), current in current()) {
        let changes = plan(&desired, &current, false);
        prop_assert!(changes.checkpoints.iter().all(|c| c.revoke.is_empty()), "a revoke without --prune");
        let now = sharing(&changes.outcome(&current));
        for (checkpoint, projects) in wanted(&desired) {
            prop_assert!(now[&checkpoint].is_superset(&projects));
        }
        for (checkpoint, projects) in sharing(&current) {
            prop_assert!(now[&checkpoint].is_superset(&projects));
        }
    }

    #[test]
    fn a_state_planned_against_itself_needs_nothing(current in current(), prune in any::<bool>()) {
        let itself = Desired::new(sharing(&current)).expect("valid ids");
        let changes = plan(&itself, &current, prune);
        prop_assert!(changes.is_empty(), "{:?}", changes);
        prop_assert_eq!(changes.totals().requests, 0);
    }

    #[test]
    fn applying_twice_finds_nothing_to_do(desired in desired(), current in current(), prune in any::<bool>()) {
        let after = plan(&desired, &current, prune).outcome(&current);
        prop_assert!(plan(&desired, &after, prune).is_empty());
    }

    #[test]
    fn requests_are_batches_of_grants_and_one_per_revoke(desired in desired(), current in current()) {
        let changes = plan(&desired, &current, true);
        let expected: usize = changes
            .checkpoints
            .iter()
            .map(|c| c.grant.len().div_ceil(GRANT_BATCH) + c.revoke.len())
            .sum();
        prop_assert_eq!(changes.totals().requests, expected);
        prop_assert_eq!(changes.steps().len(), expected);
    }
}

#[test]
fn a_large_grant_is_cut_in_batches_of_100() {
    let projects: Vec<String> = (0..250).map(|i| format!("proj_{i:04}")).collect();
    let desired = Desired::new([("ft:a:b".to_owned(), projects)]).unwrap();
    let changes = plan(&desired, &State::new(), false);
    assert_eq!(changes.totals().grant, 250);
    assert_eq!(changes.totals().requests, 3);
}
