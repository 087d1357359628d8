//! Shards that follow the deployment, live: `--scope=cluster` instances autosharded by their
//! StatefulSet (`--pod`/`--pod-namespace`) re-shard in the running process when its replicas
//! change; a node agent whose `--total-shards` changes through its `--config` file moves to its
//! new shard's Lease, dropping the old shard's rows before releasing the old Lease. Afterwards
//! every object is exported exactly once across the instances.
//!
//! No controller runs on the test cluster: the test creates the StatefulSet and its pods itself
//! and changes `spec.replicas`; the agents are processes it starts with `--pod` naming those
//! pod objects.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::{StatefulSet, StatefulSetSpec};
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{ConfigMap, PodTemplateSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta, OwnerReference};
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use kube::{Api, Client, ResourceExt};
use kube_state_agent::sharding::Shard;
use testkit::agent::{AgentProcess, http_get};
use testkit::exposition::{Exposition, Sample, exported_exactly_once};
use testkit::objects::{ConfigDir, TestNamespace, create_pod, pod, unique};
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
pub(crate) async fn create_statefulset(client: &Client, ns: &str, replicas: i32) -> StatefulSet {
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

pub(crate) async fn set_replicas(client: &Client, ns: &str, replicas: i32) {
    let patch = serde_json::json!({"spec": {"replicas": replicas}});
    Api::<StatefulSet>::namespaced(client.clone(), ns)
        .patch(STATEFULSET, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .expect("scale the StatefulSet");
}

/// The pod `<statefulset>-<ordinal>`, controlled by `statefulset` as its controller would make it.
pub(crate) async fn create_member(
    client: &Client,
    ns: &str,
    statefulset: &StatefulSet,
    ordinal: u32,
) {
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
pub(crate) async fn configmaps(
    client: &Client,
    ns: &str,
    count: usize,
) -> BTreeMap<String, String> {
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
pub(crate) fn owned(uids: &BTreeMap<String, String>, shard: Shard) -> BTreeSet<String> {
    uids.iter()
        .filter(|(_, uid)| shard.owns(uid))
        .map(|(name, _)| name.clone())
        .collect()
}

/// The ConfigMaps of `ns` in a scrape.
pub(crate) fn exported(e: &Exposition, ns: &str) -> BTreeSet<String> {
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
    let samples = equal_one_unsharded_instance(
        "the shards together equal one unsharded instance",
        ns,
        &agents.iter().collect::<Vec<_>>(),
    )
    .await;
    assert!(samples >= 30, "{samples} samples");
    let mut counted = 0;
    for agent in &agents {
        counted += exported(&agent.scrape().await.expect("scrape"), ns).len();
    }
    assert_eq!(counted, uids.len(), "each ConfigMap once");
}

/// Waits until `agents` together export exactly what one unsharded `--scope=cluster` instance
/// exports of `ns`'s ConfigMaps, each sample once; how many samples that is.
async fn equal_one_unsharded_instance(what: &str, ns: &str, agents: &[&AgentProcess]) -> usize {
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
    poll_until(what, READY, || async {
        let mut parts = Vec::new();
        for agent in agents {
            parts.push(agent.scrape().await?);
        }
        exported_exactly_once(&parts, &fresh.scrape().await?, of_ns)
    })
    .await
}

/// The holder of Lease `name` in `ns`, `None` when free (released) or absent.
async fn holder(client: &Client, ns: &str, name: &str) -> Option<String> {
    let leases: Api<Lease> = Api::namespaced(client.clone(), ns);
    leases
        .get_opt(name)
        .await
        .expect("read the Lease")
        .and_then(|l| l.spec?.holder_identity)
        .filter(|h| !h.is_empty())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_agents_total_shards_change_through_its_config_file_moves_it_to_its_shards_lease() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "reshard").await;
    let ns = ns.name();
    let uids = configmaps(&client, ns, 30).await;
    let lease = unique("reshard");
    let common = [
        "--resources",
        "configmaps",
        "--namespaces",
        ns,
        "--lease-namespace",
        ns,
        "--lease-name",
        &lease,
    ];
    // A leads the one Lease of an unsharded setup; B already runs shard 1 of 2, on its Lease.
    let dir = ConfigDir::new();
    dir.write("total_shards: 1\n");
    let file = dir.file();
    let (node_a, node_b) = (unique("reshard-a"), unique("reshard-b"));
    let mut a = AgentProcess::start(
        &node_a,
        &[&common[..], &["--config", file.to_str().unwrap()]].concat(),
    );
    let mut b = AgentProcess::start(
        &node_b,
        &[&common[..], &["--total-shards", "2", "--shard", "1"]].concat(),
    );
    a.wait_ready(READY).await;
    b.wait_ready(READY).await;
    let all: BTreeSet<String> = uids.keys().cloned().collect();
    let shard0 = owned(&uids, Shard { index: 0, total: 2 });
    let shard1 = owned(&uids, Shard { index: 1, total: 2 });
    assert!(
        !shard0.is_empty() && !shard1.is_empty(),
        "a degenerate split"
    );
    poll_until("A leads the unsharded Lease, B shard 1", READY, || async {
        let (ea, eb) = (
            exported(&a.scrape().await?, ns),
            exported(&b.scrape().await?, ns),
        );
        let leases = (
            holder(&client, ns, &lease).await,
            holder(&client, ns, &format!("{lease}-shard-1")).await,
        );
        if ea == all && eb == shard1 && leases == (Some(node_a.clone()), Some(node_b.clone())) {
            Ok(())
        } else {
            Err(format!(
                "A {} objects, B {} objects, holders {leases:?}",
                ea.len(),
                eb.len()
            ))
        }
    })
    .await;
    let pid = a.pid();

    // Two shards from now on. Until the old Lease is released, A may still export its old
    // rows; once it is, never again (another agent could take that Lease).
    let changed = Instant::now();
    dir.write("total_shards: 2\n");
    let (scrapes, released_at) = (Cell::new(0), Cell::new(None));
    poll_until(
        "A re-planned to shard 0 of 2, its old Lease released",
        RESHARD,
        || async {
            let released = holder(&client, ns, &lease).await.is_none();
            let got = exported(&a.scrape().await?, ns);
            scrapes.set(scrapes.get() + 1);
            if released {
                released_at.set(released_at.get().or(Some(changed.elapsed())));
                let stale: Vec<_> = got.difference(&shard0).collect();
                assert!(
                    stale.is_empty(),
                    "rows of another shard after the old Lease was released: {stale:?}"
                );
            }
            let new_lease = holder(&client, ns, &format!("{lease}-shard-0")).await;
            if released && got == shard0 && new_lease.as_deref() == Some(node_a.as_str()) {
                Ok(())
            } else {
                Err(format!(
                    "released {released}, {} objects, shard 0 held by {new_lease:?}",
                    got.len()
                ))
            }
        },
    )
    .await;
    println!(
        "total shards 1 -> 2: re-planned in {:?}, old Lease released after {:?}; {} scrapes",
        changed.elapsed(),
        released_at.get(),
        scrapes.get()
    );
    assert_eq!(a.try_exit_code(), None, "{}", a.log());
    assert_eq!(a.pid(), pid, "the same process");
    let log = a.log();
    assert!(
        log.contains("stepped down") && log.contains("re-sharded"),
        "{log}"
    );
    assert!(
        !log.contains("restart"),
        "nothing waits for a restart: {log}"
    );
    let (_, body) = a.get_telemetry("/metrics").await.expect("telemetry");
    for line in [
        "kube_state_metrics_total_shards 2",
        "kube_state_metrics_shard_ordinal{shard_ordinal=\"0\"} 0",
        "ksa_leader 1",
    ] {
        assert!(body.lines().any(|l| l == line), "{line}: {body}");
    }

    // Together, A and B export what one unsharded instance does, each sample once.
    equal_one_unsharded_instance(
        "A and B together equal one unsharded instance",
        ns,
        &[&a, &b],
    )
    .await;
}
