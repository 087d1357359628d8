//! What the watches ask the API server for, live: namespace allow/deny lists, the object limit,
//! shards, and lean watches that keep ConfigMap and Secret payloads off the wire.
//!
//! "Never reached the agent" is shown with the agent's own counters of what it received:
//! `ksa_watch_events_total` (objects) and `ksa_api_response_bytes_total` (bytes as read from the
//! socket). Tests that put large payloads in the cluster take [`LARGE_PAYLOADS`] so that one
//! test's megabytes never show in another's byte counts.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client, ResourceExt};
use kube_state_agent::sharding::Shard;
use testkit::agent::AgentProcess;
use testkit::exposition::Exposition;
use testkit::objects::{TestNamespace, unique};
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(30);
/// Held by the tests that create large objects (see the module doc).
static LARGE_PAYLOADS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn meta(ns: &str, name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: Some(ns.to_string()),
        ..ObjectMeta::default()
    }
}

/// Random bytes: they do not compress, so the bytes on the wire show whether they crossed it.
fn random_bytes(n: usize) -> ByteString {
    let mut v = vec![0_u8; n];
    rand::fill(&mut v[..]);
    ByteString(v)
}

async fn create_configmap(client: &Client, ns: &str, name: &str, payload: usize) -> ConfigMap {
    let cm = ConfigMap {
        metadata: meta(ns, name),
        binary_data: Some(BTreeMap::from([(
            "blob".to_string(),
            random_bytes(payload),
        )])),
        ..ConfigMap::default()
    };
    Api::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &cm)
        .await
        .unwrap_or_else(|e| panic!("create configmap {ns}/{name}: {e}"))
}

async fn create_secret(client: &Client, ns: &str, name: &str, type_: &str, payload: usize) {
    // The API server requires these keys of these types.
    let keys: &[&str] = match type_ {
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/basic-auth" => &["username", "password"],
        _ => &["blob"],
    };
    let data = keys
        .iter()
        .map(|k| (k.to_string(), random_bytes(payload / keys.len())))
        .collect();
    let secret = Secret {
        metadata: meta(ns, name),
        type_: Some(type_.to_string()),
        data: Some(data),
        ..Secret::default()
    };
    Api::<Secret>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &secret)
        .await
        .unwrap_or_else(|e| panic!("create secret {ns}/{name}: {e}"));
}

/// A test namespace whose ConfigMaps and Secrets are deleted on drop, panics included: the
/// namespace guard leaves them (this control plane has no namespace controller), and large
/// leftovers would weigh on every later cluster-wide list.
struct Namespace(TestNamespace);

impl Namespace {
    async fn create(client: &Client, prefix: &str) -> Namespace {
        Namespace(TestNamespace::create(client, prefix).await)
    }

    fn name(&self) -> &str {
        self.0.name()
    }
}

impl Drop for Namespace {
    fn drop(&mut self) {
        let ns = self.0.name().to_string();
        // Drop cannot await; clean up from a private runtime on a plain thread.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let client = Cluster::get().client().await;
                let (dp, lp) = (DeleteParams::default(), ListParams::default());
                let _ = Api::<ConfigMap>::namespaced(client.clone(), &ns)
                    .delete_collection(&dp, &lp)
                    .await;
                let _ = Api::<Secret>::namespaced(client, &ns)
                    .delete_collection(&dp, &lp)
                    .await;
            });
        })
        .join();
    }
}

/// The sum of a self-metric's samples whose labels include `labels`.
async fn telemetry_sum(agent: &AgentProcess, name: &str, labels: &[(&str, &str)]) -> f64 {
    let (status, body) = agent.get_telemetry("/metrics").await.expect("telemetry");
    assert_eq!(status, 200);
    body.lines()
        .filter(|l| l.starts_with(name) && l[name.len()..].starts_with(['{', ' ']))
        .filter(|l| {
            labels
                .iter()
                .all(|(k, v)| l.contains(&format!("{k}=\"{v}\"")))
        })
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

/// The `label` values of `family`'s samples in namespace `ns`.
fn names_in(e: &Exposition, family: &str, label: &str, ns: &str) -> BTreeSet<String> {
    e.samples_of(family)
        .filter(|s| s.label("namespace") == Some(ns))
        .filter_map(|s| s.label(label).map(str::to_string))
        .collect()
}

fn cluster_agent(extra: &[&str]) -> AgentProcess {
    let mut args = vec!["--scope", "cluster"];
    args.extend_from_slice(extra);
    AgentProcess::start("", &args)
}

/// Polls until `agent` exports exactly `want` of `family`/`label` in `ns`.
async fn wait_for_set(
    agent: &AgentProcess,
    family: &str,
    label: &str,
    ns: &str,
    want: &BTreeSet<String>,
) -> Exposition {
    poll_until(
        &format!("{family} in {ns} = {want:?}"),
        CONVERGE,
        || async {
            let e = agent.scrape().await?;
            let got = names_in(&e, family, label, ns);
            if &got == want {
                Ok(e)
            } else {
                Err(format!("{got:?}"))
            }
        },
    )
    .await
}

fn set(names: &[String]) -> BTreeSet<String> {
    names.iter().cloned().collect()
}

#[tokio::test]
async fn with_namespaces_only_those_namespaces_objects_are_received() {
    let client = Cluster::get().client().await;
    let (a, b) = (
        Namespace::create(&client, "ns-allow").await,
        Namespace::create(&client, "ns-other").await,
    );
    let names: Vec<String> = (0..3).map(|i| format!("cm-{i}")).collect();
    for n in &names {
        create_configmap(&client, a.name(), n, 64).await;
        create_configmap(&client, b.name(), n, 64).await;
    }
    let mut agent = cluster_agent(&["--resources", "configmaps", "--namespaces", a.name()]);
    agent.wait_ready(READY).await;
    let e = wait_for_set(
        &agent,
        "kube_configmap_info",
        "configmap",
        a.name(),
        &set(&names),
    )
    .await;
    assert!(
        e.samples_of("kube_configmap_info")
            .all(|s| s.label("namespace") == Some(a.name())),
        "a configmap of another namespace is exported"
    );
    // Exactly a's three objects were received: b's (and every other namespace's) never were.
    let received = telemetry_sum(
        &agent,
        "ksa_watch_events_total",
        &[("resource", "configmaps")],
    )
    .await;
    assert_eq!(received, 3.0, "objects received");
}

#[tokio::test]
async fn with_a_namespace_denylist_the_denied_namespaces_objects_stay_off_the_wire() {
    let _large = LARGE_PAYLOADS.lock().await;
    let client = Cluster::get().client().await;
    let (kept, denied) = (
        Namespace::create(&client, "ns-kept").await,
        Namespace::create(&client, "ns-denied").await,
    );
    let small: Vec<String> = (0..2).map(|i| format!("small-{i}")).collect();
    for n in &small {
        create_configmap(&client, kept.name(), n, 64).await;
    }
    // 1 MiB of random payload in the denied namespace.
    const BIG: usize = 256 * 1024;
    for i in 0..4 {
        create_configmap(&client, denied.name(), &format!("big-{i}"), BIG).await;
    }
    // Full watches, so a ConfigMap's payload would show in the bytes if it were sent.
    let common = ["--resources", "configmaps", "--lean-watches", "false"];
    let mut deny_args = common.to_vec();
    deny_args.extend(["--namespaces-denylist", denied.name()]);
    let mut agent = cluster_agent(&deny_args);
    let mut control = cluster_agent(&common);
    agent.wait_ready(READY).await;
    control.wait_ready(READY).await;

    let e = wait_for_set(
        &agent,
        "kube_configmap_info",
        "configmap",
        kept.name(),
        &set(&small),
    )
    .await;
    assert!(names_in(&e, "kube_configmap_info", "configmap", denied.name()).is_empty());
    let big: Vec<String> = (0..4).map(|i| format!("big-{i}")).collect();
    wait_for_set(
        &control,
        "kube_configmap_info",
        "configmap",
        denied.name(),
        &set(&big),
    )
    .await;

    let bytes = |a| async move {
        telemetry_sum(
            a,
            "ksa_api_response_bytes_total",
            &[("resource", "configmaps")],
        )
        .await
    };
    let (with_deny, without) = (bytes(&agent).await, bytes(&control).await);
    eprintln!("configmap bytes read: with the denylist {with_deny}, without {without}");
    // The control agent proves the measure sees the payload; the denylist agent read less
    // than one of the denied objects.
    assert!(
        without >= 0.9 * 4.0 * BIG as f64,
        "control read only {without} bytes"
    );
    assert!(
        with_deny < BIG as f64,
        "the denied payload was read: {with_deny} bytes"
    );
}

#[tokio::test]
async fn object_limit_keeps_that_many_listed_objects_and_counts_the_rest() {
    let client = Cluster::get().client().await;
    let ns = Namespace::create(&client, "objlimit").await;
    for i in 0..5 {
        create_configmap(&client, ns.name(), &format!("cm-{i}"), 16).await;
    }
    let mut agent = cluster_agent(&[
        "--resources",
        "configmaps",
        "--namespaces",
        ns.name(),
        "--object-limit",
        "3",
    ]);
    agent.wait_ready(READY).await;
    // Ready means the first list is done: what it kept is in the snapshot.
    let e = poll_until("the list's objects exported", CONVERGE, || async {
        let e = agent.scrape().await?;
        let n = names_in(&e, "kube_configmap_info", "configmap", ns.name()).len();
        if n == 3 { Ok(e) } else { Err(format!("{n}")) }
    })
    .await;
    assert_eq!(
        names_in(&e, "kube_configmap_info", "configmap", ns.name()).len(),
        3
    );
    let dropped = telemetry_sum(
        &agent,
        "ksa_list_objects_over_limit_total",
        &[("resource", "configmaps")],
    )
    .await;
    assert_eq!(dropped, 2.0);
}

/// UIDs of the ConfigMaps named `names` in `ns`, by name.
async fn uids(client: &Client, ns: &str) -> BTreeMap<String, String> {
    let list = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .unwrap();
    list.items
        .iter()
        .map(|c| (c.name_any(), c.uid().unwrap()))
        .collect()
}

/// Which ConfigMaps of `ns` shard `index` of 2 owns, by kube-state-metrics' assignment.
fn owned(uids: &BTreeMap<String, String>, index: u32) -> BTreeSet<String> {
    let shard = Shard { index, total: 2 };
    uids.iter()
        .filter(|(_, uid)| shard.owns(uid))
        .map(|(name, _)| name.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_cluster_scope_shards_export_each_object_exactly_once() {
    let client = Cluster::get().client().await;
    let ns = Namespace::create(&client, "shards").await;
    for i in 0..16 {
        create_configmap(&client, ns.name(), &format!("cm-{i}"), 16).await;
    }
    let uids = uids(&client, ns.name()).await;
    let agents: Vec<AgentProcess> = (0..2)
        .map(|i| {
            let shard = i.to_string();
            cluster_agent(&[
                "--resources",
                "configmaps",
                "--namespaces",
                ns.name(),
                "--total-shards",
                "2",
                "--shard",
                &shard,
            ])
        })
        .collect();
    let mut exported = Vec::new();
    for (i, agent) in agents.into_iter().enumerate() {
        let mut agent = agent;
        agent.wait_ready(READY).await;
        let want = owned(&uids, i as u32);
        wait_for_set(&agent, "kube_configmap_info", "configmap", ns.name(), &want).await;
        exported.push(want);
    }
    assert!(exported[0].is_disjoint(&exported[1]));
    let union: BTreeSet<String> = exported[0].union(&exported[1]).cloned().collect();
    assert_eq!(union, uids.keys().cloned().collect::<BTreeSet<_>>());
    assert!(
        !exported[0].is_empty() && !exported[1].is_empty(),
        "16 objects all in one shard: {exported:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_agents_elect_one_leader_per_shard_lease_and_split_the_leaders_kinds() {
    let client = Cluster::get().client().await;
    let ns = Namespace::create(&client, "shardlease").await;
    for i in 0..16 {
        create_configmap(&client, ns.name(), &format!("cm-{i}"), 16).await;
    }
    let uids = uids(&client, ns.name()).await;
    let lease = unique("shards");
    let mut agents = Vec::new();
    for i in 0..2_u32 {
        let node = unique(&format!("shard{i}-node"));
        let shard = i.to_string();
        let mut agent = AgentProcess::start(
            &node,
            &[
                "--resources",
                "configmaps",
                "--namespaces",
                ns.name(),
                "--lease-namespace",
                ns.name(),
                "--lease-name",
                &lease,
                "--total-shards",
                "2",
                "--shard",
                &shard,
            ],
        );
        agent.wait_ready(READY).await;
        agents.push(agent);
    }
    for (i, agent) in agents.iter().enumerate() {
        let want = owned(&uids, i as u32);
        wait_for_set(agent, "kube_configmap_info", "configmap", ns.name(), &want).await;
    }
    // One Lease per shard, each held by the agent of that shard.
    let leases: Api<k8s_openapi::api::coordination::v1::Lease> =
        Api::namespaced(client.clone(), ns.name());
    let mut holders = Vec::new();
    for i in 0..2 {
        let l = leases.get(&format!("{lease}-shard-{i}")).await.unwrap();
        holders.push(l.spec.and_then(|s| s.holder_identity).unwrap_or_default());
    }
    assert!(holders[0].starts_with("shard0-node"), "{holders:?}");
    assert!(holders[1].starts_with("shard1-node"), "{holders:?}");
    // Each leader reports its shard as kube-state-metrics does, for the mixin's alerts.
    for (i, agent) in agents.iter().enumerate() {
        let (_, body) = agent.get_telemetry("/metrics").await.unwrap();
        let ordinals: Vec<&str> = body
            .lines()
            .filter(|l| l.starts_with("kube_state_metrics_shard_ordinal{"))
            .collect();
        assert_eq!(
            ordinals,
            vec![format!(
                "kube_state_metrics_shard_ordinal{{shard_ordinal=\"{i}\"}} {i}"
            )]
        );
        assert!(
            body.lines()
                .any(|l| l == "kube_state_metrics_total_shards 2"),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lean_watches_keep_configmap_and_secret_payloads_off_the_wire() {
    let _large = LARGE_PAYLOADS.lock().await;
    let client = Cluster::get().client().await;
    let ns = Namespace::create(&client, "lean").await;
    const PAYLOAD: usize = 200 * 1024;
    const COUNT: usize = 5;
    let mut configmaps = Vec::new();
    let mut secrets = BTreeMap::new();
    for i in 0..COUNT {
        let name = format!("cm-{i}");
        create_configmap(&client, ns.name(), &name, PAYLOAD).await;
        configmaps.push(name);
        let (name, type_) = match i {
            0 => (format!("tls-{i}"), "kubernetes.io/tls"),
            1 => (format!("auth-{i}"), "kubernetes.io/basic-auth"),
            _ => (format!("opaque-{i}"), "Opaque"),
        };
        create_secret(&client, ns.name(), &name, type_, PAYLOAD).await;
        secrets.insert(name, type_.to_string());
    }
    // A type no metadata-only watch covers: it comes whole through the `type!=` watch.
    create_secret(&client, ns.name(), "custom", "example.com/custom", 1024).await;
    secrets.insert("custom".into(), "example.com/custom".into());

    let common = [
        "--resources",
        "configmaps,secrets",
        "--namespaces",
        ns.name(),
    ];
    let mut lean = cluster_agent(&common);
    let mut full_args = common.to_vec();
    full_args.extend(["--lean-watches", "false"]);
    let mut full = cluster_agent(&full_args);
    lean.wait_ready(READY).await;
    full.wait_ready(READY).await;

    let secret_names: BTreeSet<String> = secrets.keys().cloned().collect();
    for agent in [&lean, &full] {
        wait_for_set(
            agent,
            "kube_configmap_info",
            "configmap",
            ns.name(),
            &set(&configmaps),
        )
        .await;
        let e = wait_for_set(
            agent,
            "kube_secret_info",
            "secret",
            ns.name(),
            &secret_names,
        )
        .await;
        // kube_secret_type stays right whichever watch an object came through.
        let types: BTreeMap<String, String> = e
            .samples_of("kube_secret_type")
            .filter(|s| s.label("namespace") == Some(ns.name()))
            .map(|s| {
                (
                    s.label("secret").unwrap().into(),
                    s.label("type").unwrap().into(),
                )
            })
            .collect();
        assert_eq!(types, secrets);
    }

    let bytes = |a, resource| async move {
        telemetry_sum(a, "ksa_api_response_bytes_total", &[("resource", resource)]).await
    };
    let data = (COUNT * PAYLOAD) as f64;
    let (lean_cm, full_cm) = (
        bytes(&lean, "configmaps").await,
        bytes(&full, "configmaps").await,
    );
    let (lean_s, full_s) = (bytes(&lean, "secrets").await, bytes(&full, "secrets").await);
    eprintln!(
        "lean watches, {COUNT} x {PAYLOAD} B random payload each: configmaps {lean_cm} B lean vs \
         {full_cm} B full; secrets {lean_s} B lean vs {full_s} B full"
    );
    // The full watches read the payload; the lean ones save about all of it.
    assert!(
        full_cm >= 0.9 * data && full_s >= 0.9 * data,
        "full: {full_cm} / {full_s}"
    );
    assert!(
        full_cm - lean_cm >= 0.9 * data,
        "configmaps saved {}",
        full_cm - lean_cm
    );
    assert!(
        full_s - lean_s >= 0.9 * data,
        "secrets saved {}",
        full_s - lean_s
    );
    // No Secret payload reached the lean agent: all it read for Secrets is less than the
    // payload of any one of them.
    assert!(lean_s < PAYLOAD as f64, "lean secrets read {lean_s} B");
    assert!(lean_cm < PAYLOAD as f64, "lean configmaps read {lean_cm} B");
}
