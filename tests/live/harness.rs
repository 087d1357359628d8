//! The API-server behaviour the agent is built on, proven on the real apiserver: its version,
//! field-selected list/watch, the unscheduled-pod selector, and optimistic concurrency on Leases.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, PostParams, WatchEvent, WatchParams};
use kube::{Api, ResourceExt};
use testkit::objects::{
    TestNamespace, create_pod, delete_pod_now, lease, pod, set_pod_status, unique,
};
use testkit::{Cluster, poll_until};

const WAIT: Duration = Duration::from_secs(20);

fn names(pods: &[Pod]) -> Vec<String> {
    let mut v: Vec<String> = pods.iter().map(|p| p.name_any()).collect();
    v.sort();
    v
}

/// `/version` is what a client (and a user reading a bug report) sees of the server: the
/// release `scripts/cluster` builds, not the `v0.0.0-master` of an unstamped build.
#[tokio::test]
async fn the_apiserver_reports_the_release_it_was_built_from() {
    let client = Cluster::get().client().await;
    let info = client.apiserver_version().await.unwrap();
    assert_eq!(
        (
            info.git_version.as_str(),
            info.major.as_str(),
            info.minor.as_str()
        ),
        ("v1.20.2", "1", "20"),
        "{info:?}"
    );
    assert_eq!(info.git_commit.len(), 40, "{info:?}");
}

#[tokio::test]
async fn node_name_field_selector_lists_and_watches_only_that_nodes_pods() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "fieldsel").await;
    let (node1, node2) = (unique("node-a"), unique("node-b"));
    let api: Api<Pod> = Api::namespaced(client.clone(), ns.name());
    let selector = format!("spec.nodeName={node1}");

    create_pod(&client, ns.name(), pod("on-1").on_node(&node1).build()).await;
    create_pod(&client, ns.name(), pod("on-2").on_node(&node2).build()).await;
    let listed = api
        .list(&ListParams::default().fields(&selector))
        .await
        .unwrap();
    assert_eq!(names(&listed.items), vec!["on-1"]);

    let rv = listed.metadata.resource_version.clone().unwrap();
    let mut events = api
        .watch(&WatchParams::default().fields(&selector).timeout(60), &rv)
        .await
        .unwrap()
        .boxed();

    create_pod(&client, ns.name(), pod("late-2").on_node(&node2).build()).await;
    create_pod(&client, ns.name(), pod("late-1").on_node(&node1).build()).await;
    let status = pod("x").running(2).build().status.unwrap();
    set_pod_status(&client, ns.name(), "late-1", status).await;
    delete_pod_now(&client, ns.name(), "late-1").await;

    // ADDED, MODIFIED (status), possibly MODIFIED (deletionTimestamp), DELETED.
    let mut seen: Vec<(&str, String)> = Vec::new();
    while seen.last().is_none_or(|(kind, _)| *kind != "DELETED") {
        let ev = tokio::time::timeout(WAIT, events.try_next())
            .await
            .expect("watch event within deadline")
            .unwrap()
            .expect("watch stream open");
        let (kind, p) = match ev {
            WatchEvent::Added(p) => ("ADDED", p),
            WatchEvent::Modified(p) => ("MODIFIED", p),
            WatchEvent::Deleted(p) => ("DELETED", p),
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Error(e) => panic!("watch error {e:?}"),
        };
        assert_eq!(
            p.spec.as_ref().unwrap().node_name.as_deref(),
            Some(node1.as_str()),
            "{kind} for another node's pod"
        );
        seen.push((kind, p.name_any()));
    }
    assert!(seen.iter().all(|(_, name)| name == "late-1"), "{seen:?}");
    assert_eq!(seen.first().unwrap().0, "ADDED", "{seen:?}");
    assert!(
        seen[1..seen.len() - 1]
            .iter()
            .all(|(k, _)| *k == "MODIFIED"),
        "{seen:?}"
    );
    assert!(
        seen.len() >= 3,
        "the status write must show as MODIFIED: {seen:?}"
    );
    drop(ns);
}

#[tokio::test]
async fn empty_node_name_selector_returns_unscheduled_pods_only() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "unsched").await;
    let api: Api<Pod> = Api::namespaced(client.clone(), ns.name());
    create_pod(
        &client,
        ns.name(),
        pod("bound").on_node(&unique("node")).build(),
    )
    .await;
    create_pod(&client, ns.name(), pod("pending").unschedulable().build()).await;

    let listed = api
        .list(&ListParams::default().fields("spec.nodeName="))
        .await
        .unwrap();
    assert_eq!(names(&listed.items), vec!["pending"]);
}

#[tokio::test]
async fn lease_update_with_a_stale_resource_version_conflicts() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "lease").await;
    let api: Api<Lease> = Api::namespaced(client.clone(), ns.name());
    let created = api
        .create(&PostParams::default(), &lease("election", "agent-a"))
        .await
        .unwrap();

    let mut first = created.clone();
    first.spec.as_mut().unwrap().holder_identity = Some("agent-b".into());
    let updated = api
        .replace("election", &PostParams::default(), &first)
        .await
        .unwrap();
    assert_ne!(updated.resource_version(), created.resource_version());

    // A second writer still holding the old resourceVersion must lose.
    let mut stale = created;
    stale.spec.as_mut().unwrap().holder_identity = Some("agent-c".into());
    match api
        .replace("election", &PostParams::default(), &stale)
        .await
    {
        Err(kube::Error::Api(e)) => assert_eq!(e.code, 409, "{e:?}"),
        other => panic!("expected 409 Conflict, got {other:?}"),
    }
    let now = poll_until("lease readable", WAIT, || async {
        api.get("election").await.map_err(|e| e.to_string())
    })
    .await;
    assert_eq!(
        now.spec.unwrap().holder_identity.as_deref(),
        Some("agent-b")
    );
}
