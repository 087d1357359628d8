//! Faults between the agent and the control plane, each ending with the convergence check: the
//! agent's scrape equals, sample for sample, the scrape of a freshly started agent of the same
//! scope (`/metrics` carries no self-metrics). The time from the end of the fault to equality
//! is printed for docs/reliability.md.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use testkit::agent::AgentProcess;
use testkit::cluster::PrivateCluster;
use testkit::objects::{
    TestNamespace, create_node, create_pod, delete_pod_now, node, node_status, pod, set_pod_status,
    text_of_every_escape, unique,
};
use testkit::proxy::FaultProxy;
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(60);
const NO_ELECTION: &[&str] = &["--leader-election", "false"];

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
        let (a, b) = (
            agent.scrape().await?.sample_lines(),
            fresh.scrape().await?.sample_lines(),
        );
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
        self.agent_with(&[])
    }

    /// The agent under test with `extra` flags, through the proxy (not waited for).
    fn agent_with(&self, extra: &[&str]) -> AgentProcess {
        let args: Vec<&str> = NO_ELECTION.iter().chain(extra).copied().collect();
        AgentProcess::start_with_kubeconfig(&self.via_proxy, &self.node, &args)
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
    changes_while_cut_off(client, ns, &t.node).await;
    t.proxy.cut();
    t.proxy.heal();
    let healed = Instant::now();

    t.converges(&agent, healed, "partition").await;
    assert_exports_the_sixty_left(&agent).await;
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
    let bytes = agent
        .self_metric("ksa_api_response_bytes_total", &[])
        .await
        .expect("telemetry");
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

/// 120 pod events the agent does not see while cut off: 40 pods `new-…` created, 20 `stay-…`
/// and 20 `new-…` given a restarted container, the 20 `gone-…` deleted. With 20 `stay-…` and
/// 20 `gone-…` before, 60 pods remain.
async fn changes_while_cut_off(client: &kube::Client, ns: &str, node: &str) {
    pods_on(client, ns, node, "new", 40).await;
    for i in 0..20 {
        let status = pod("x").running(3).build().status.expect("a status");
        set_pod_status(client, ns, &format!("stay-{i}"), status.clone()).await;
        set_pod_status(client, ns, &format!("new-{i}"), status).await;
    }
    for i in 0..20 {
        delete_pod_now(client, ns, &format!("gone-{i}")).await;
    }
}

/// The pods `agent` exports after [`changes_while_cut_off`]: 20 kept and 40 created.
async fn assert_exports_the_sixty_left(agent: &AgentProcess) {
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_longer_than_the_watch_timeout_is_noticed_and_converges() {
    const WATCH_TIMEOUT: Duration = Duration::from_secs(3);
    let t = ProxiedNode::start("faults-stall").await;
    t.pods("stay", 20).await;
    t.pods("gone", 20).await;
    let mut agent = t.agent_with(&["--watch-timeout", "3s"]);
    agent.wait_ready(READY).await;
    let open = t.proxy.held();

    // Nothing is reset: the agent's watches simply stop carrying bytes. It must notice by
    // itself (no byte for the watch timeout and its margin) and open new connections.
    t.proxy.stall();
    let stalled = Instant::now();
    changes_while_cut_off(&t.client, t.ns.name(), &t.node).await;
    poll_until(
        "the agent gives up its silent watches and reconnects",
        Duration::from_secs(60),
        || async {
            let held = t.proxy.held();
            if held > open {
                Ok(())
            } else {
                Err(format!("{held} connections, {open} before the stall"))
            }
        },
    )
    .await;
    let noticed = stalled.elapsed();
    eprintln!("stall: a new connection {noticed:?} after the stall began");
    assert!(
        noticed >= WATCH_TIMEOUT,
        "no reconnect before the watch timeout: {noticed:?}"
    );
    t.proxy.resume();
    let resumed = Instant::now();
    t.converges(&agent, resumed, "stall longer than the watch timeout")
        .await;
    assert_exports_the_sixty_left(&agent).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compacted_resume_point_is_answered_gone_and_relisted() {
    // Without the watch cache, kube-apiserver resumes watches from etcd itself, which answers
    // a compacted revision with 410 Gone (the watch cache would keep a window of its own).
    let private = PrivateCluster::start_with("compaction", &["--watch-cache=false"]);
    let client = private.cluster().client().await;
    let ns = TestNamespace::create(&client, "faults-gone").await;
    create_node(&client, node("node-1"), node_status("True")).await;
    pods_on(&client, ns.name(), "node-1", "stay", 20).await;
    pods_on(&client, ns.name(), "node-1", "gone", 20).await;
    let proxy = FaultProxy::start(private.cluster().server_addr()).await;
    let via_proxy = private.cluster().admin_kubeconfig_via(proxy.port());
    let mut agent = AgentProcess::start_with_kubeconfig(&via_proxy, "node-1", NO_ELECTION);
    agent.wait_ready(READY).await;
    let pod_lists = [("resource", "*v1.Pod"), ("result", "success")];
    let lists = agent
        .self_metric("kube_state_metrics_list_total", &pod_lists)
        .await
        .unwrap();
    let gone = [("resource", "pods"), ("reason", "gone")];

    proxy.stall();
    changes_while_cut_off(&client, ns.name(), "node-1").await;
    let revision = private.compact_etcd();
    eprintln!("etcd compacted at revision {revision}");
    proxy.cut();
    proxy.heal();
    let healed = Instant::now();

    let kubeconfig = private.cluster().admin_kubeconfig();
    converges(
        &agent,
        &kubeconfig,
        "node-1",
        healed,
        "410 after compaction",
    )
    .await;
    assert_exports_the_sixty_left(&agent).await;
    let relists = agent
        .self_metric("kube_state_metrics_list_total", &pod_lists)
        .await
        .unwrap()
        - lists;
    assert!(
        relists >= 1.0,
        "the resume point was compacted: the pods were listed again"
    );
    let answered_gone = agent.self_metric("ksa_watch_errors_total", &gone).await;
    assert!(
        answered_gone.unwrap() >= 1.0,
        "the resumed watch was answered 410 Gone"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_ten_thousand_pod_events_converges() {
    use futures::StreamExt as _;
    const PODS: usize = 100;
    const WRITES: usize = 10_000;
    let t = ProxiedNode::start("faults-burst").await;
    t.pods("p", PODS).await;
    let mut agent = t.agent();
    agent.wait_ready(READY).await;
    let applied = [("resource", "pods"), ("type", "applied")];
    let before = agent
        .self_metric("ksa_watch_events_total", &applied)
        .await
        .unwrap();

    // Every write gives a pod another restart count, so each one is a watch event; 64 in
    // flight is what keeps the loopback API server busiest.
    let started = Instant::now();
    let (client, ns) = (&t.client, t.ns.name());
    futures::stream::iter(0..WRITES)
        .map(|i| async move {
            let restarts = i32::try_from(i / PODS + 1).expect("small");
            let status = pod("x").running(restarts).build().status.expect("a status");
            set_pod_status(client, ns, &format!("p-{}", i % PODS), status).await;
        })
        .buffer_unordered(64)
        .collect::<Vec<()>>()
        .await;
    let written = started.elapsed();
    let rate = WRITES as f64 / written.as_secs_f64();
    eprintln!("burst: {WRITES} pod updates written in {written:?} ({rate:.0}/s)");

    let done = Instant::now();
    t.converges(&agent, done, "burst of 10,000 events").await;
    let seen = agent
        .self_metric("ksa_watch_events_total", &applied)
        .await
        .unwrap()
        - before;
    eprintln!("burst: the agent applied {seen} events");
    assert!(
        seen >= WRITES as f64,
        "every write is an event on the agent's watch: {seen}"
    );
    let e = agent.scrape().await.unwrap();
    let restarts: f64 = e
        .samples_of("kube_pod_container_status_restarts_total")
        .map(|s| s.value)
        .sum();
    assert!(
        restarts >= (PODS * (WRITES / PODS - 1)) as f64,
        "the last rounds' restart counts are exported: {restarts}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pod_at_the_annotation_size_limit_with_every_escape_is_exported_exactly() {
    // The API server takes at most 256 KiB of annotations per object (keys included).
    let value = text_of_every_escape(250 * 1024);
    let t = ProxiedNode::start("faults-escapes").await;
    let (client, ns) = (&t.client, t.ns.name());
    let big = pod("big")
        .in_namespace(ns)
        .on_node(&t.node)
        .running(0)
        .annotation("big", &value);
    create_pod(client, ns, big.build()).await;
    t.pods("small", 5).await;
    let mut agent = t.agent_with(&["--metric-annotations-allowlist=pods=[big]"]);
    agent.wait_ready(READY).await;

    let e = agent.scrape().await.unwrap();
    let exported = e
        .samples_of("kube_pod_annotations")
        .find(|s| s.label("pod") == Some("big"))
        .and_then(|s| s.label("annotation_big"));
    assert!(
        exported == Some(value.as_str()),
        "the annotation comes back exactly ({} bytes exported of {})",
        exported.map_or(0, str::len),
        value.len()
    );
    assert_eq!(pods_exported(&agent).await, 6, "the other pods flow on");
}
