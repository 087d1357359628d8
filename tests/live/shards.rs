//! Shards that follow the deployment, live: `--scope=cluster` instances autosharded by their
//! StatefulSet (`--pod`/`--pod-namespace`) re-shard in the running process when its replicas
//! change, and every object ends up exported exactly once across them.
//!
//! No controller runs on the test cluster: the test creates the StatefulSet and its pods itself
//! and changes `spec.replicas`; the agents are processes it starts with `--pod` naming those
//! pod objects.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::core::v1::{ConfigMap, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use kube_state_agent::sharding::Shard;
use testkit::agent::{AgentProcess, http_get};
use testkit::exposition::{Exposition, Sample, exported_exactly_once};
use testkit::objects::{TestNamespace, create_pod, pod};
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
/// How long a re-shard may take, from the replicas' change to every instance exporting exactly
/// its new shard: the StatefulSet's watch event, then the new shard's list (a few objects here).
const RESHARD: Duration = Duration::from_secs(15);
const STATEFULSET: &str = "ksa";

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        ..ObjectMeta::default()
    }
}

/// A StatefulSet as an operator would deploy the agent (no controller acts on it here).
async fn create_statefulset(client: &Client, ns: &str, replicas: i32) -> StatefulSet {
    let labels = BTreeMap::from([("app".to_string(), STATEFULSET.to_string())]);
    let template = pod("template").build();
    let statefulset = StatefulSet {
        metadata: meta(ns, STATEFULSET),
        spec: Some(StatefulSetSpec {
            replicas: Some(replicas),
            service_name: Some(STATEFULSET.into()),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..LabelSelector::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..ObjectMeta::default()
                }),
                spec: template.spec,
            },
            ..StatefulSetSpec::default()
        }),
        ..StatefulSet::default()
    };
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &statefulset)
        .await
        .expect("create the StatefulSet")
}

async fn set_replicas(client: &Client, ns: &str, replicas: i32) {
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .patch(STATEFULSET, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("scale the StatefulSet");
}

/// The pod `<statefulset>-<ordinal>`, controlled by `statefulset` as its controller would make it.
async fn create_member(client: &Client, ns: &str, statefulset: &StatefulSet, ordinal: u32) {
    let mut member = pod(&format!("{STATEFULSET}-{ordinal}")).build();
    member.metadata.owner_references = Some(vec![OwnerReference {
        api_version: "apps/v1".into(),
        kind: "StatefulSet".into(),
        name: STATEFULSET.into(),
        uid: statefulset.uid().expect("a created object has a uid"),
        controller: Some(true),
        block_owner_deletion: Some(true),
    }]);
    create_pod(client, ns, member).await;
}

/// The ConfigMaps of `ns` by name, with their UIDs.
async fn configmaps(client: &Client, ns: &str, count: usize) -> BTreeMap<String, String> {
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), ns);
    for i in 0..count {
        api.create(
            &PostParams::default(),
            &ConfigMap {
                metadata: meta(ns, &format!("cm-{i}")),
                ..ConfigMap::default()
            },
        )
        .await
        .expect("create a ConfigMap");
    }
    api.list(&ListParams::default())
        .await
        .expect("list ConfigMaps")
        .items
        .iter()
        .map(|c| (c.name_any(), c.uid().expect("uid")))
        .collect()
}

/// The names of the ConfigMaps `shard` owns, by kube-state-metrics' assignment.
fn owned(uids: &BTreeMap<String, String>, shard: Shard) -> BTreeSet<String> {
    uids.iter()
        .filter(|(_, uid)| shard.owns(uid))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The ConfigMaps of `ns` in a scrape.
fn exported(e: &Exposition, ns: &str) -> BTreeSet<String> {
    e.samples_of("kube_configmap_info")
        .filter(|s| s.label("namespace") == Some(ns))
        .filter_map(|s| s.label("configmap").map(str::to_string))
        .collect()
}

fn autosharded(ns: &str, ordinal: u32) -> AgentProcess {
    let member = format!("{STATEFULSET}-{ordinal}");
    AgentProcess::start(
        "",
        &[
            "--scope",
            "cluster",
            "--pod",
            &member,
            "--pod-namespace",
            ns,
            "--resources",
            "configmaps",
            "--namespaces",
            ns,
        ],
    )
}

/// Polls until every agent exports exactly the ConfigMaps its shard of `total` owns.
async fn wait_for_shards(
    agents: &[AgentProcess],
    uids: &BTreeMap<String, String>,
    ns: &str,
    total: u32,
    within: Duration,
) {
    poll_until(&format!("each of {total} shards"), within, || async {
        for (index, agent) in (0..).zip(agents) {
            let got = exported(&agent.scrape().await?, ns);
            let want = owned(uids, Shard { index, total });
            if got != want {
                return Err(format!("shard {index}/{total}: {got:?}, want {want:?}"));
            }
        }
        Ok(())
    })
    .await;
}

/// Scrapes `ports` back to back until `stop`, counting scrapes and failures.
fn scrape_meanwhile(
    ports: Vec<u16>,
    stop: Arc<AtomicBool>,
) -> tokio::task::JoinHandle<(usize, Vec<String>)> {
    tokio::spawn(async move {
        let mut failures = Vec::new();
        let mut scrapes = 0;
        while !stop.load(Ordering::Relaxed) {
            for port in &ports {
                scrapes += 1;
                match http_get(*port, "/metrics").await {
                    Ok((200, body)) if Exposition::parse(&body).is_ok() => {}
                    Ok((status, _)) => failures.push(format!("{port}: status {status}")),
                    Err(e) => failures.push(format!("{port}: {e}")),
                }
            }
        }
        (scrapes, failures)
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn autosharded_instances_reshard_without_a_restart_when_the_statefulset_scales() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "autoshard").await;
    let ns = ns.name();
    let uids = configmaps(&client, ns, 30).await;
    let statefulset = create_statefulset(&client, ns, 2).await;
    for ordinal in 0..2 {
        create_member(&client, ns, &statefulset, ordinal).await;
    }
    let mut agents: Vec<AgentProcess> = (0..2).map(|i| autosharded(ns, i)).collect();
    for agent in &mut agents {
        agent.wait_ready(READY).await;
    }
    wait_for_shards(&agents, &uids, ns, 2, READY).await;
    let pids: Vec<u32> = agents.iter().map(AgentProcess::pid).collect();
    let moving = owned(&uids, Shard { index: 2, total: 3 });
    assert!(!moving.is_empty(), "no ConfigMap moves to the new shard");

    // Scale to 3 while both are scraped without pause; the controller would add ksa-2.
    let stop = Arc::new(AtomicBool::new(false));
    let scraping = scrape_meanwhile(
        agents.iter().map(AgentProcess::port).collect(),
        stop.clone(),
    );
    let scaled = Instant::now();
    set_replicas(&client, ns, 3).await;
    create_member(&client, ns, &statefulset, 2).await;
    agents.push(autosharded(ns, 2));
    wait_for_shards(&agents[..2], &uids, ns, 3, RESHARD).await;
    let resharded = scaled.elapsed();
    agents[2].wait_ready(READY).await;
    wait_for_shards(&agents, &uids, ns, 3, READY).await;
    stop.store(true, Ordering::Relaxed);
    let (scrapes, failures) = scraping.await.expect("the scrape loop");
    println!("re-sharded 2 -> 3 in {resharded:?}; {scrapes} scrapes meanwhile");

    assert!(
        failures.is_empty(),
        "scrapes failed while re-sharding: {failures:?}"
    );
    assert!(scrapes > 10, "only {scrapes} scrapes");
    for (agent, pid) in agents.iter_mut().zip(&pids) {
        assert_eq!(agent.try_exit_code(), None, "the agent is still running");
        assert_eq!(agent.pid(), *pid, "the same process");
        assert!(agent.log().contains("re-sharded"), "{}", agent.log());
    }
    for (i, agent) in agents.iter().enumerate() {
        let (_, body) = agent.get_telemetry("/metrics").await.expect("telemetry");
        assert!(
            body.lines()
                .any(|l| l == "kube_state_metrics_total_shards 3"),
            "{body}"
        );
        let ordinal = format!("kube_state_metrics_shard_ordinal{{shard_ordinal=\"{i}\"}} {i}");
        assert!(body.lines().any(|l| l == ordinal), "{ordinal}: {body}");
    }

    // Together, exactly what one unsharded instance exports, each sample once.
    let mut fresh = AgentProcess::start(
        "",
        &[
            "--scope",
            "cluster",
            "--resources",
            "configmaps",
            "--namespaces",
            ns,
        ],
    );
    fresh.wait_ready(READY).await;
    let of_ns = |s: &Sample| s.label("namespace") == Some(ns);
    let samples = poll_until(
        "the shards together equal one unsharded instance",
        READY,
        || async {
            let mut parts = Vec::new();
            for agent in &agents {
                parts.push(agent.scrape().await?);
            }
            exported_exactly_once(&parts, &fresh.scrape().await?, of_ns)
        },
    )
    .await;
    assert!(samples >= 30, "{samples} samples");
    let mut counted = 0;
    for agent in &agents {
        counted += exported(&agent.scrape().await.expect("scrape"), ns).len();
    }
    assert_eq!(counted, uids.len(), "each ConfigMap once");
}
