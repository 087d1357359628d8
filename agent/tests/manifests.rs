//! The install manifests that follow the registry: the ClusterRole's rules grant `list` and
//! `watch` on exactly the registered kinds, grouped by API group. Its `rules:` block is written
//! from the registry by `UPDATE_GOLDEN=1 cargo test -p kube-state-agent --test manifests`, so a
//! new kind's RBAC rule comes with the same command as its golden files; without it this test
//! fails, naming what differs. (`tests/live/deploy.rs` then applies the manifests to a real
//! API server and checks the agent uses no more than they grant.)

use std::collections::BTreeMap;
use std::path::Path;

use kube_state_agent::registry;

/// The longest `resources: [a, b]` line kept on one line; longer lists are written as blocks.
const FLOW_WIDTH: usize = 100;

/// The ClusterRole's `rules:` block for the registry: one rule per API group (core first, then
/// by name), its resources sorted.
fn rules() -> String {
    let mut groups: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for kind in registry::KINDS {
        groups
            .entry(kind.api_group())
            .or_default()
            .push(kind.plural());
    }
    let mut out = String::from("rules:\n");
    for (group, mut resources) in groups {
        resources.sort_unstable();
        resources.dedup();
        let group = if group.is_empty() { "\"\"" } else { group };
        out.push_str(&format!("  - apiGroups: [{group}]\n"));
        let flow = format!("    resources: [{}]", resources.join(", "));
        if flow.len() <= FLOW_WIDTH {
            out.push_str(&flow);
            out.push('\n');
        } else {
            out.push_str("    resources:\n");
            for r in resources {
                out.push_str(&format!("      - {r}\n"));
            }
        }
        out.push_str("    verbs: [list, watch]\n");
    }
    out
}

#[test]
fn the_cluster_role_grants_list_and_watch_on_exactly_the_registered_kinds() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/daemonset/clusterrole.yaml");
    let text = std::fs::read_to_string(&path).expect("deploy/daemonset/clusterrole.yaml");
    let (head, got) = text
        .split_once("rules:\n")
        .map(|(head, rest)| (head, format!("rules:\n{rest}")))
        .expect("the ClusterRole has a rules: block");
    let want = rules();
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, format!("{head}{want}")).unwrap();
        return;
    }
    assert!(
        got == want,
        "{}'s rules differ from the registry; run UPDATE_GOLDEN=1 cargo test -p kube-state-agent \
         --test manifests and review the diff.\n--- in the file\n{got}\n--- from the registry\n{want}",
        path.display()
    );
}
