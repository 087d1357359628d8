//! Faults between the agent and the control plane, each ending with the convergence check: the
//! agent's scrape equals, sample for sample, the scrape of a freshly started agent of the same
//! scope (`/metrics` carries no self-metrics). The time from the end of the fault to equality
//! is printed for docs/reliability.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::agent::AgentProcess;
use testkit::cluster::PrivateCluster;
use testkit::exposition::Exposition;
use testkit::objects::{
    TestNamespace, create_node, create_pod, delete_pod_now, node, node_status, pod, set_pod_status,
    unique,
};
use testkit::proxy::FaultProxy;
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(60);
const NO_ELECTION: &[&str] = &["--leader-election", "false"];

/// Every sample as one line (name, labels in order, value), so two scrapes compare as sets.
fn samples(e: &Exposition) -> BTreeSet<String> {
    e.samples
        .iter()
        .map(|s| {
            let labels: Vec<String> = s.labels.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
            format!("{}{{{}}} {}", s.name, labels.join(","), s.value)
        })
        .collect()
}

/// Waits until `agent` exports exactly what a fresh agent for `node` through `kubeconfig`
/// exports, and returns how long that took from `since`. Both keep scraping until they agree:
/// the fresh one may still be catching up too.
async fn converges(
    agent: &AgentProcess,
    kubeconfig: &Path,
    node: &str,
    since: Instant,
    what: &str,
) -> Duration {
    let mut fresh = AgentProcess::start_with_kubeconfig(kubeconfig, node, NO_ELECTION);
    fresh.wait_ready(READY).await;
    poll_until(what, Duration::from_secs(120), || async {
        let (a, b) = (samples(&agent.scrape().await?), samples(&fresh.scrape().await?));
        if a == b {
            return Ok(());
        }
        let only_agent: Vec<_> = a.difference(&b).take(3).collect();
        let only_fresh: Vec<_> = b.difference(&a).take(3).collect();
        Err(format!(
            "{} samples differ; only the agent's: {only_agent:?}; only the fresh agent's: {only_fresh:?}",
            a.symmetric_difference(&b).count()
        ))
    })
    .await;
    let took = since.elapsed();
    eprintln!("{what}: converged {took:?} after the fault ended");
    took
}

/// Pods `prefix-0`…`prefix-{n-1}` on `node`, fifty at a time (the API server takes them
/// faster than one by one).
async fn pods_on(client: &kube::Client, ns: &str, node: &str, prefix: &str, n: usize) {
    let names: Vec<String> = (0..n).map(|i| format!("{prefix}-{i}")).collect();
    for batch in names.chunks(50) {
        let creates = batch.iter().map(|name| {
            let p = pod(name).in_namespace(ns).on_node(node).running(0);
            create_pod(client, ns, p.build())
        });
        futures::future::join_all(creates).await;
    }
}

/// How many pods `agent` exports now.
async fn pods_exported(agent: &AgentProcess) -> usize {
    let e = agent.scrape().await.expect("a scrape");
    e.samples_of("kube_pod_info").count()
}

/// A node of the shared cluster, in a namespace of its own, and a fault proxy in front of the
/// API server for the agent under test (the fresh agent of the convergence check goes direct).
struct ProxiedNode {
    client: kube::Client,
    ns: TestNamespace,
    node: String,
    proxy: FaultProxy,
    via_proxy: PathBuf,
}

impl ProxiedNode {
    async fn start(prefix: &str) -> ProxiedNode {
        let cluster = Cluster::get();
        let client = cluster.client().await;
        let ns = TestNamespace::create(&client, prefix).await;
        let node_name = unique(prefix);
        create_node(&client, node(&node_name), node_status("True")).await;
        let proxy = FaultProxy::start(cluster.server_addr()).await;
        let via_proxy = cluster.admin_kubeconfig_via(proxy.port());
        ProxiedNode {
            client,
            ns,
            node: node_name,
            proxy,
            via_proxy,
        }
    }

    /// `count` pods `prefix-…` on the node.
    async fn pods(&self, prefix: &str, count: usize) {
        pods_on(&self.client, self.ns.name(), &self.node, prefix, count).await;
    }

    /// The agent under test, through the proxy (not waited for).
    fn agent(&self) -> AgentProcess {
        AgentProcess::start_with_kubeconfig(&self.via_proxy, &self.node, NO_ELECTION)
    }

    /// The convergence check, from `since`.
    async fn converges(&self, agent: &AgentProcess, since: Instant, what: &str) -> Duration {
        let direct = Cluster::get().admin_kubeconfig();
        converges(agent, &direct, &self.node, since, what).await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partition_with_changes_while_cut_off_converges() {
    let t = ProxiedNode::start("faults-partition").await;
    let (client, ns) = (&t.client, t.ns.name());
    t.pods("stay", 20).await;
    t.pods("gone", 20).await;
    let mut agent = t.agent();
    agent.wait_ready(READY).await;

    t.proxy.stall();
    // 120 pod events the agent cannot see: created, changed, deleted.
    t.pods("new", 40).await;
    for i in 0..20 {
        let status = pod("x").running(3).build().status.expect("a status");
        set_pod_status(client, ns, &format!("stay-{i}"), status.clone()).await;
        set_pod_status(client, ns, &format!("new-{i}"), status).await;
    }
    for i in 0..20 {
        delete_pod_now(client, ns, &format!("gone-{i}")).await;
    }
    t.proxy.cut();
    t.proxy.heal();
    let healed = Instant::now();

    t.converges(&agent, healed, "partition").await;
    let e = agent.scrape().await.unwrap();
    let pods: BTreeSet<_> = e
        .samples_of("kube_pod_info")
        .filter_map(|s| s.label("pod"))
        .collect();
    assert_eq!(
        pods.len(),
        60,
        "20 kept and 40 created, none of the deleted: {pods:?}"
    );
}

/// The process of a private control plane a test kills.
#[derive(Clone, Copy, Debug)]
enum Killed {
    ApiServer,
    Etcd,
}

/// Kills `killed` with SIGKILL under a node agent with 10 pods, checks that scrapes still answer
/// with what the agent had, starts it again (same ports, same data), creates 5 pods and deletes
/// 1, and waits for the convergence check.
async fn killed_and_restarted_converges(killed: Killed) {
    let private = PrivateCluster::start(&format!("{killed:?}-kill").to_lowercase());
    let client = private.cluster().client().await;
    let ns = TestNamespace::create(&client, "faults-kill").await;
    create_node(&client, node("node-1"), node_status("True")).await;
    pods_on(&client, ns.name(), "node-1", "before", 10).await;
    let kubeconfig = private.cluster().admin_kubeconfig();
    let mut agent = AgentProcess::start_with_kubeconfig(&kubeconfig, "node-1", NO_ELECTION);
    agent.wait_ready(READY).await;

    match killed {
        Killed::ApiServer => private.kill_apiserver(),
        Killed::Etcd => private.kill_etcd(),
    }
    assert_eq!(
        pods_exported(&agent).await,
        10,
        "scrapes answer during the outage"
    );
    private.start_again();
    let client = private.cluster().client().await;
    pods_on(&client, ns.name(), "node-1", "after", 5).await;
    delete_pod_now(&client, ns.name(), "before-0").await;
    let restarted = Instant::now();
    let what = format!("{killed:?} restart");
    converges(&agent, &kubeconfig, "node-1", restarted, &what).await;
    assert_eq!(pods_exported(&agent).await, 14);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kube_apiserver_killed_and_restarted_converges() {
    killed_and_restarted_converges(Killed::ApiServer).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn etcd_killed_and_restarted_converges() {
    killed_and_restarted_converges(Killed::Etcd).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_pod_list_over_a_64_kib_per_second_link_converges() {
    const RATE: u32 = 64 * 1024;
    let t = ProxiedNode::start("faults-thin").await;
    t.pods("p", 1000).await;
    t.proxy.cap(RATE);
    let started = Instant::now();
    let mut agent = t.agent();
    agent.wait_ready(Duration::from_secs(240)).await;
    let listed = started.elapsed();
    let (_, text) = agent.get_telemetry("/metrics").await.expect("telemetry");
    let telemetry = Exposition::parse(&text).expect("telemetry parses");
    let bytes: f64 = telemetry
        .samples_of("ksa_api_response_bytes_total")
        .map(|s| s.value)
        .sum();
    let rate = bytes / listed.as_secs_f64();
    eprintln!("1,000 pods listed over the capped link in {listed:?}: {bytes} B, {rate:.0} B/s");
    assert!(
        rate <= f64::from(RATE) * 1.25,
        "the cap held the list back: {rate:.0} B/s"
    );
    let ready = Instant::now();
    t.converges(&agent, ready, "thin link").await;
    assert_eq!(pods_exported(&agent).await, 1000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_during_the_initial_list_still_converges() {
    let t = ProxiedNode::start("faults-list").await;
    t.pods("p", 200).await;
    // The agent's first requests (discovery, the list) hang in the stalled proxy; then every
    // connection is reset while they are in flight, and the proxy forwards again.
    t.proxy.stall();
    let mut agent = t.agent();
    poll_until(
        "the agent's requests in flight",
        Duration::from_secs(30),
        || async {
            if t.proxy.held() >= 2 {
                Ok(())
            } else {
                Err(format!("{} connections", t.proxy.held()))
            }
        },
    )
    .await;
    t.proxy.cut();
    t.proxy.heal();
    let healed = Instant::now();
    agent.wait_ready(READY).await;
    t.converges(&agent, healed, "cuts during the list").await;
    assert_eq!(pods_exported(&agent).await, 200);
}
