//! The large-cluster overlay (`deploy/large-cluster`): a leader pool on the nodes labelled
//! `kube-state-agent.io/leader-candidate=true` and node-only agents everywhere else.
//!
//! Rendered: the two DaemonSets' scheduling rules, evaluated against nodes with and without the
//! label, give every Linux node exactly one agent; the node agents never take part in the
//! election and export only node-bound kinds; the leader pool is the base's DaemonSet but for
//! its affinity, args and resources. Live: every object passes a server-side dry run.

use std::collections::BTreeMap;

use serde_norway::Value;
use testkit::Cluster;
use testkit::kubectl::kubectl;
use testkit::objects::TestNamespace;

use super::{BASE, Manifests, at, flag, name, str_at, strings};

/// The overlay, relative to the workspace root.
const LARGE_CLUSTER: &str = "deploy/large-cluster";
/// The label that makes a node a leader candidate (docs/install.md, "Large clusters").
const CANDIDATE: &str = "kube-state-agent.io/leader-candidate";
/// The base DaemonSet, patched into the node agents.
const NODE_AGENTS: &str = "kube-state-agent";
const LEADER_POOL: &str = "kube-state-agent-leader";

fn daemonset<'a>(m: &'a Manifests, ds: &str) -> &'a Value {
    let all: Vec<&Value> =
        m.0.iter()
            .filter(|d| str_at(d, "kind") == "DaemonSet" && name(d) == ds)
            .collect();
    assert_eq!(all.len(), 1, "one DaemonSet {ds}");
    all[0]
}

/// Whether a `matchExpressions` entry holds for a node with `labels`, with the API server's
/// operators (`NotIn` and `DoesNotExist` hold for a node without the key).
fn expression_holds(expr: &Value, labels: &BTreeMap<&str, &str>) -> bool {
    let value = labels.get(str_at(expr, "key")).copied();
    let values = strings(at(expr, "values"));
    match str_at(expr, "operator") {
        "In" => value.is_some_and(|v| values.contains(&v)),
        "NotIn" => value.is_none_or(|v| !values.contains(&v)),
        "Exists" => value.is_some(),
        "DoesNotExist" => value.is_none(),
        op => panic!("operator {op} is not evaluated here"),
    }
}

/// Whether the scheduler may place `ds`'s pod on a node with `labels`: the nodeSelector, and
/// one of the required node affinity terms (each term's expressions all hold). Tolerations do
/// not narrow it (both pools tolerate every taint, as the base does).
fn schedules_on(ds: &Value, labels: &BTreeMap<&str, &str>) -> bool {
    let spec = at(ds, "spec.template.spec");
    let selector_holds = at(spec, "nodeSelector")
        .as_mapping()
        .into_iter()
        .flatten()
        .all(|(k, v)| labels.get(k.as_str().unwrap_or("")).copied() == v.as_str());
    let terms = at(
        spec,
        "affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms",
    );
    let affinity_holds = match terms.as_sequence() {
        None => true,
        Some(terms) => terms.iter().any(|term| {
            assert!(
                at(term, "matchFields").is_null(),
                "matchFields not evaluated"
            );
            at(term, "matchExpressions")
                .as_sequence()
                .into_iter()
                .flatten()
                .all(|e| expression_holds(e, labels))
        }),
    };
    selector_holds && affinity_holds
}

/// Whether `selector` (`matchLabels` only) selects a pod with `labels`.
fn selects(selector: &Value, labels: &Value) -> bool {
    at(selector, "matchLabels")
        .as_mapping()
        .expect("matchLabels")
        .iter()
        .all(|(k, v)| labels.get(k) == Some(v))
}

#[test]
fn every_node_runs_exactly_one_agent_of_the_two_pools() {
    let m = Manifests::render(LARGE_CLUSTER);
    let node = daemonset(&m, NODE_AGENTS);
    let leader = daemonset(&m, LEADER_POOL);
    let linux = ("kubernetes.io/os", "linux");
    let nodes: Vec<(BTreeMap<&str, &str>, bool)> = vec![
        (BTreeMap::from([linux]), false),
        (BTreeMap::from([linux, (CANDIDATE, "true")]), true),
        (BTreeMap::from([linux, (CANDIDATE, "false")]), false),
        (BTreeMap::from([linux, (CANDIDATE, "")]), false),
        (BTreeMap::from([linux, (CANDIDATE, "True")]), false),
        (
            BTreeMap::from([
                linux,
                (CANDIDATE, "true"),
                ("node-role.kubernetes.io/control-plane", ""),
            ]),
            true,
        ),
    ];
    for (labels, candidate) in &nodes {
        let (on_node, on_leader) = (schedules_on(node, labels), schedules_on(leader, labels));
        assert!(
            on_node != on_leader,
            "{labels:?}: node agents {on_node}, leader pool {on_leader}"
        );
        assert_eq!(on_leader, *candidate, "{labels:?}");
    }
    let windows = BTreeMap::from([("kubernetes.io/os", "windows"), (CANDIDATE, "true")]);
    assert!(!schedules_on(node, &windows) && !schedules_on(leader, &windows));

    // Neither DaemonSet claims the other's pods; the Service selects both.
    let pods = |ds: &Value| at(ds, "spec.template.metadata.labels").clone();
    for (ds, other) in [(node, leader), (leader, node)] {
        assert!(selects(at(ds, "spec.selector"), &pods(ds)), "{}", name(ds));
        assert!(
            !selects(at(ds, "spec.selector"), &pods(other)),
            "{} claims {}",
            name(ds),
            name(other)
        );
        let service = at(m.one("Service"), "spec.selector")
            .as_mapping()
            .expect("selector");
        let labels = pods(ds);
        assert!(
            service.iter().all(|(k, v)| labels.get(k) == Some(v)),
            "the Service does not select {}",
            name(ds)
        );
    }
}

#[test]
fn node_agents_never_elect_and_the_leader_pool_is_the_base_daemonset_sized_for_the_leader() {
    let m = Manifests::render(LARGE_CLUSTER);
    let base = Manifests::render(BASE);
    let container = |ds: &Value| at(ds, "spec.template.spec.containers.0").clone();
    let node = container(daemonset(&m, NODE_AGENTS));
    let leader = container(daemonset(&m, LEADER_POOL));

    let node_args = strings(at(&node, "args"));
    assert_eq!(flag(&node_args, "--scope"), Some("node"));
    assert_eq!(flag(&node_args, "--leader-election"), Some("false"));
    assert_eq!(
        flag(&node_args, "--resources"),
        Some("pods,nodes"),
        "node-bound kinds only"
    );
    let leader_args = strings(at(&leader, "args"));
    assert_eq!(flag(&leader_args, "--scope"), Some("node"));
    assert_eq!(flag(&leader_args, "--leader-election"), Some("true"));
    assert_eq!(
        flag(&leader_args, "--resources"),
        None,
        "the leader exports every default kind"
    );
    let lease = flag(&leader_args, "--lease-name").expect("--lease-name");
    let role_names: Vec<&str> = at(m.one("Role"), "rules")
        .as_sequence()
        .expect("rules")
        .iter()
        .flat_map(|r| strings(at(r, "resourceNames")))
        .collect();
    assert_eq!(
        role_names,
        [lease],
        "the Role names the leader pool's Lease"
    );

    // Sized apart: the leader pool for the leader, the node agents for one node's rows.
    let mib = |c: &Value, path: &str| -> u64 {
        let q = str_at(c, path);
        let parsed = match q.strip_suffix("Gi") {
            Some(gi) => gi.parse::<u64>().ok().map(|n| n * 1024),
            None => q.strip_suffix("Mi").and_then(|mi| mi.parse().ok()),
        };
        parsed.unwrap_or_else(|| panic!("{path} = {q:?}: not in Mi or Gi"))
    };
    let (node_limit, leader_limit) = (
        mib(&node, "resources.limits.memory"),
        mib(&leader, "resources.limits.memory"),
    );
    assert!(
        (32..128).contains(&node_limit),
        "node agents: {node_limit} MiB"
    );
    assert!(leader_limit >= 256, "leader pool: {leader_limit} MiB");
    assert!(mib(&node, "resources.requests.memory") <= node_limit);

    // Everything else is the base's: image, env, ports, probes, security, service account.
    let base_ds = base.one("DaemonSet");
    let base_container = container(base_ds);
    for path in [
        "image",
        "env",
        "ports",
        "livenessProbe",
        "readinessProbe",
        "securityContext",
    ] {
        assert_eq!(
            at(&leader, path),
            at(&base_container, path),
            "leader pool: {path}"
        );
        assert_eq!(
            at(&node, path),
            at(&base_container, path),
            "node agents: {path}"
        );
    }
    for path in [
        "serviceAccountName",
        "securityContext",
        "tolerations",
        "nodeSelector",
        "terminationGracePeriodSeconds",
    ] {
        let path = format!("spec.template.spec.{path}");
        assert_eq!(
            at(daemonset(&m, LEADER_POOL), &path),
            at(base_ds, &path),
            "{path}"
        );
        assert_eq!(
            at(daemonset(&m, NODE_AGENTS), &path),
            at(base_ds, &path),
            "{path}"
        );
    }
}

#[tokio::test]
async fn the_large_cluster_overlay_passes_a_server_side_dry_run() {
    let rendered = Manifests::render(LARGE_CLUSTER);
    let daemonsets = rendered
        .0
        .iter()
        .filter(|d| str_at(d, "kind") == "DaemonSet")
        .count();
    assert_eq!(daemonsets, 2);
    dry_run_in_a_namespace_of_its_own(&rendered, "large-cluster").await;
}

/// Dry-runs every object of `rendered` on the server, namespaced ones moved into a namespace
/// of the test's own (the manifests' namespace belongs to the test that really installs them;
/// a dry run of a namespaced object needs its namespace to exist), and checks each one passed.
pub(super) async fn dry_run_in_a_namespace_of_its_own(rendered: &Manifests, prefix: &str) {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, prefix).await;
    let mut docs = Vec::new();
    let mut expected = Vec::new();
    for doc in &rendered.0 {
        if str_at(doc, "kind") == "Namespace" {
            continue;
        }
        let mut doc = doc.clone();
        if !at(&doc, "metadata.namespace").is_null() {
            doc["metadata"]["namespace"] = Value::from(ns.name());
        }
        expected.push((str_at(&doc, "kind").to_lowercase(), name(&doc).to_string()));
        docs.push(serde_norway::to_string(&doc).expect("YAML"));
    }
    let out = kubectl(
        &["apply", "--dry-run=server", "-f", "-"],
        &docs.join("---\n"),
    )
    .unwrap_or_else(|e| panic!("server-side dry run: {e}"));
    for (kind, name) in &expected {
        let line = out
            .lines()
            .find(|l| {
                (l.starts_with(&format!("{kind}/")) || l.starts_with(&format!("{kind}.")))
                    && l.contains(&format!("/{name} "))
            })
            .unwrap_or_else(|| panic!("{kind}/{name} not in the dry run's output:\n{out}"));
        assert!(line.ends_with("(server dry run)"), "{line}");
    }
}
