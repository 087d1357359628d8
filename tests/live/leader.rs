//! The Lease election between node agents, live: one exporter of cluster-scope rows at a time,
//! handover on SIGKILL, SIGTERM and partition, and unscheduled pods moving to their node's agent.
//!
//! Each test elects on its own Lease in its own namespace, so tests do not disturb each other.
//! The leader's marker is an unscheduled pod of the test namespace: only the leader watches
//! `spec.nodeName=`.

use std::time::{Duration, Instant};

use testkit::agent::AgentProcess;
use testkit::apiserver::ApiserverMetrics;
use testkit::exposition::Exposition;
use testkit::objects::{
    TestNamespace, bind_pod, create_node, create_pod, node, node_status, pod, unique,
};
use testkit::prometheus::Prometheus;
use testkit::proxy::FaultProxy;
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);

fn election_args(ns: &str, lease: &str, identity: &str) -> Vec<String> {
    [
        "--resources",
        "pods,nodes",
        "--lease-namespace",
        ns,
        "--lease-name",
        lease,
        "--lease-identity",
        identity,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect()
}

fn start(node: &str, ns: &str, lease: &str, kubeconfig: Option<&std::path::Path>) -> AgentProcess {
    let args = election_args(ns, lease, node);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match kubeconfig {
        Some(k) => AgentProcess::start_with_kubeconfig(k, node, &args),
        None => AgentProcess::start(node, &args),
    }
}

/// Whether `agent` currently exports the leader's marker (the unscheduled pod `pending`).
async fn exports_marker(agent: &AgentProcess, ns: &str) -> Result<bool, String> {
    let e = agent.scrape().await?;
    Ok(e.samples_of("kube_pod_info")
        .any(|s| s.label("namespace") == Some(ns) && s.label("pod") == Some("pending")))
}

/// Waits until `agent` exports the marker; `what` names the wait in the timeout message.
async fn wait_until_exports(agent: &AgentProcess, ns: &str, what: &str) {
    poll_until(what, Duration::from_secs(30), || async {
        if exports_marker(agent, ns).await? {
            Ok(())
        } else {
            Err("not yet".into())
        }
    })
    .await;
}

/// Which agents export the marker now.
async fn exporters(agents: &[AgentProcess], ns: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, a) in agents.iter().enumerate() {
        if exports_marker(a, ns).await.unwrap_or(false) {
            out.push(i);
        }
    }
    out
}

/// [`exporters`] for agents that are all running: a failed scrape is asked again instead of
/// being counted as "not exporting".
async fn exporters_of_running(agents: &[AgentProcess], ns: &str) -> Vec<usize> {
    let mut out = Vec::new();
    for (i, a) in agents.iter().enumerate() {
        if exports_marker_or_retry(a, ns).await {
            out.push(i);
        }
    }
    out
}

/// [`exports_marker`], asking again when a scrape fails (a busy CI machine can drop a loopback
/// connection): a failed scrape says nothing about what the agent exports. Panics with the
/// errors when three attempts in a row fail, so a broken agent cannot pass as "not exporting".
async fn exports_marker_or_retry(agent: &AgentProcess, ns: &str) -> bool {
    let mut errors = Vec::new();
    for _ in 0..3 {
        match exports_marker(agent, ns).await {
            Ok(exports) => return exports,
            Err(e) => errors.push(e),
        }
    }
    panic!("three scrapes in a row failed: {errors:?}");
}

async fn setup(prefix: &str) -> (TestNamespace, String, Vec<String>) {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, prefix).await;
    create_pod(
        &client,
        ns.name(),
        pod("pending")
            .in_namespace(ns.name())
            .unschedulable()
            .build(),
    )
    .await;
    let nodes = (1..=3).map(|i| unique(&format!("{prefix}-n{i}"))).collect();
    (ns, unique("lease"), nodes)
}

async fn wait_for_one_exporter(agents: &[AgentProcess], ns: &str, timeout: Duration) -> usize {
    poll_until(
        "exactly one exporter of cluster-scope rows",
        timeout,
        || async {
            match exporters(agents, ns).await.as_slice() {
                [one] => Ok(*one),
                other => Err(format!("{other:?}")),
            }
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_one_agent_exports_cluster_scope_rows_at_every_moment() {
    let (ns, lease, nodes) = setup("one-leader").await;
    let mut agents: Vec<AgentProcess> = nodes
        .iter()
        .map(|n| start(n, ns.name(), &lease, None))
        .collect();
    for a in &mut agents {
        a.wait_ready(READY).await;
    }
    wait_for_one_exporter(&agents, ns.name(), Duration::from_secs(30)).await;
    let until = Instant::now() + Duration::from_secs(60);
    let mut rounds = 0;
    while Instant::now() < until {
        let now = exporters_of_running(&agents, ns.name()).await;
        assert_eq!(now.len(), 1, "exporters at round {rounds}: {now:?}");
        rounds += 1;
    }
    assert!(rounds > 20, "only {rounds} polling rounds in 60 s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_of_the_leader_hands_over_within_lease_duration_plus_retry() {
    let (ns, lease, nodes) = setup("kill-leader").await;
    let mut agents: Vec<AgentProcess> = nodes
        .iter()
        .map(|n| start(n, ns.name(), &lease, None))
        .collect();
    for a in &mut agents {
        a.wait_ready(READY).await;
    }
    let leader = wait_for_one_exporter(&agents, ns.name(), Duration::from_secs(30)).await;
    let took = handover_after_sigkill(&mut agents, ns.name(), leader).await;
    eprintln!("handover after SIGKILL: {took:?}");
    // Followers date the claim from when they last saw it renewed (up to one 2 s retry period
    // after the renewal), wait out the 15 s lease duration, and try every 2 s: at most
    // 15 + 2 + 2 s, then a list and a snapshot interval.
    assert!(took <= Duration::from_secs(21), "handover took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_of_the_leader_releases_the_lease_and_hands_over_in_about_the_retry_period() {
    let (ns, lease, nodes) = setup("term-leader").await;
    let mut agents: Vec<AgentProcess> = nodes
        .iter()
        .map(|n| start(n, ns.name(), &lease, None))
        .collect();
    for a in &mut agents {
        a.wait_ready(READY).await;
    }
    let leader = wait_for_one_exporter(&agents, ns.name(), Duration::from_secs(30)).await;
    let mut stopped = agents.remove(leader);
    let t0 = Instant::now();
    assert_eq!(stopped.terminate(), Some(0), "{}", stopped.log());
    assert!(
        stopped.log().contains("lease released"),
        "{}",
        stopped.log()
    );
    wait_for_one_exporter(&agents, ns.name(), Duration::from_secs(20)).await;
    let took = t0.elapsed();
    eprintln!("handover after SIGTERM: {took:?}");
    // One retry period (2 s) plus a snapshot interval and a list; far below the 15 s expiry.
    assert!(took <= Duration::from_secs(5), "handover took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_partitioned_leader_drops_cluster_scope_rows_before_another_agent_exports_them() {
    let (ns, lease, nodes) = setup("partition").await;
    let proxy = FaultProxy::start(Cluster::get().server_addr()).await;
    let via_proxy = Cluster::get().admin_kubeconfig_via(proxy.port());
    // The agent behind the proxy starts first and becomes the leader.
    let mut first = start(&nodes[0], ns.name(), &lease, Some(&via_proxy));
    first.wait_ready(READY).await;
    wait_until_exports(&first, ns.name(), "the proxied agent leads").await;
    let mut agents = vec![first];
    for n in &nodes[1..] {
        let mut a = start(n, ns.name(), &lease, None);
        a.wait_ready(READY).await;
        agents.push(a);
    }
    assert_eq!(exporters(&agents, ns.name()).await, vec![0]);

    proxy.stall();
    let t0 = Instant::now();
    let mut dropped: Option<Duration> = None;
    let mut taken: Option<Duration> = None;
    while taken.is_none() {
        assert!(
            t0.elapsed() < Duration::from_secs(40),
            "no handover after 40 s"
        );
        if dropped.is_none() && !exports_marker(&agents[0], ns.name()).await.unwrap() {
            dropped = Some(t0.elapsed());
        }
        for a in &agents[1..] {
            if taken.is_none() && exports_marker(a, ns.name()).await.unwrap_or(false) {
                taken = Some(t0.elapsed());
                // Re-check the partitioned leader right at the moment of takeover.
                if dropped.is_none() && !exports_marker(&agents[0], ns.name()).await.unwrap() {
                    dropped = Some(t0.elapsed());
                }
            }
        }
    }
    let taken = taken.unwrap();
    let dropped = dropped.expect("the partitioned leader still exported when another took over");
    eprintln!(
        "partition: old leader dropped rows after {dropped:?}, new leader exported after {taken:?}, gap {:?}",
        taken - dropped
    );
    assert!(
        dropped < taken,
        "overlap: dropped {dropped:?}, taken {taken:?}"
    );
    // The drop comes at the 10 s renew deadline, the takeover after the 15 s lease duration.
    assert!(
        dropped <= Duration::from_secs(12),
        "fenced after {dropped:?}"
    );
    proxy.heal();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unscheduled_pod_moves_from_the_leader_to_its_nodes_agent_when_bound() {
    let (ns, lease, nodes) = setup("bind").await;
    let mut agents: Vec<AgentProcess> = nodes
        .iter()
        .map(|n| start(n, ns.name(), &lease, None))
        .collect();
    for a in &mut agents {
        a.wait_ready(READY).await;
    }
    let leader = wait_for_one_exporter(&agents, ns.name(), Duration::from_secs(30)).await;
    let target = (leader + 1) % agents.len();
    let client = Cluster::get().client().await;
    bind_pod(&client, ns.name(), "pending", &nodes[target]).await;
    poll_until(
        "the bound pod on its node's agent only",
        Duration::from_secs(20),
        || async {
            let on_target = exports_marker(&agents[target], ns.name()).await?;
            let on_leader = exports_marker(&agents[leader], ns.name()).await?;
            if on_target && !on_leader {
                Ok(())
            } else {
                Err(format!("target {on_target}, leader {on_leader}"))
            }
        },
    )
    .await;
    let e = agents[target].scrape().await.unwrap();
    let info = e
        .samples_of("kube_pod_info")
        .find(|s| s.label("pod") == Some("pending") && s.label("namespace") == Some(ns.name()))
        .unwrap();
    assert_eq!(info.label("node"), Some(nodes[target].as_str()));
}

/// kube-state-metrics' own mixin alerts on list and watch errors
/// (`jsonnet/kube-state-metrics-mixin/alerts.libsonnet`), with `for: 0s` so a single bad
/// evaluation shows.
const KSM_ERROR_ALERTS: &str = r#"groups:
- name: kube-state-metrics
  rules:
  - alert: KubeStateMetricsListErrors
    expr: |
      (sum by (cluster) (rate(kube_state_metrics_list_total{job="kube-state-metrics",result="error"}[5m]))
        /
      sum by (cluster) (rate(kube_state_metrics_list_total{job="kube-state-metrics"}[5m])))
      > 0.01
    for: 0s
    labels: {severity: critical}
  - alert: KubeStateMetricsWatchErrors
    expr: |
      (sum by (cluster) (rate(kube_state_metrics_watch_total{job="kube-state-metrics",result="error"}[5m]))
        /
      sum by (cluster) (rate(kube_state_metrics_watch_total{job="kube-state-metrics"}[5m])))
      > 0.01
    for: 0s
    labels: {severity: critical}
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kinds_this_apiserver_does_not_serve_are_found_by_discovery_and_fire_no_ksm_alert() {
    // With kube-state-metrics' default resources, Kubernetes 1.20 serves no batch/v1 CronJob,
    // policy/v1 PodDisruptionBudget, autoscaling/v2 HorizontalPodAutoscaler, discovery/v1
    // EndpointSlice, nor any admission policy: the leader reports each once, lists none of
    // them (so counts no list error), and stays ready.
    let surely_unserved = [
        "cronjobs",
        "poddisruptionbudgets",
        "horizontalpodautoscalers",
        "endpointslices",
        "validatingadmissionpolicies",
    ];
    let (ns, lease, nodes) = setup("unserved").await;
    let mut agent = AgentProcess::start(
        &nodes[0],
        &["--lease-namespace", ns.name(), "--lease-name", &lease],
    );
    agent.wait_ready(READY).await;
    wait_until_exports(&agent, ns.name(), "the leader exports the unscheduled pod").await;
    let telemetry = poll_until(
        "the kinds 1.20 does not serve reported unserved",
        Duration::from_secs(30),
        || async {
            let (_, body) = agent.get_telemetry("/metrics").await?;
            let all = surely_unserved
                .iter()
                .all(|k| body.contains(&format!("ksa_kind_unserved{{resource=\"{k}\"}} 1")));
            all.then_some(body).ok_or_else(|| "not yet".to_string())
        },
    )
    .await;
    assert!(telemetry.contains("ksa_leader 1"), "{telemetry}");
    assert_eq!(agent.get("/readyz").await.unwrap().0, 200);
    let t = Exposition::parse(&telemetry).unwrap();
    let failed: Vec<String> = t
        .samples_of("kube_state_metrics_list_total")
        .filter(|s| s.label("result") == Some("error") && s.value > 0.0)
        .map(|s| format!("{:?}", s.labels))
        .collect();
    assert!(failed.is_empty(), "failed lists: {failed:?}");
    let unserved = t
        .samples_of("ksa_kind_unserved")
        .filter(|s| s.value == 1.0)
        .count();
    assert_eq!(
        agent.log().matches("does not serve the kind's API").count(),
        unserved,
        "one line per unserved kind:\n{}",
        agent.log()
    );

    // kube-state-metrics' own alerts, evaluated by a real Prometheus on the agent's telemetry.
    let rules = std::env::temp_dir()
        .join(unique("ksm-alerts"))
        .with_extension("yaml");
    std::fs::write(&rules, KSM_ERROR_ALERTS).unwrap();
    let prometheus = Prometheus::start(&format!(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\nrule_files: ['{}']\nscrape_configs:\n- job_name: kube-state-metrics\n  static_configs:\n  - targets: ['127.0.0.1:{}']\n",
        rules.display(),
        agent.telemetry_port
    ));
    poll_until(
        "ten scrapes of the agent's telemetry, with the rules loaded",
        Duration::from_secs(60),
        || async {
            let (_, rules) = testkit::agent::http_get(prometheus.port, "/api/v1/rules").await?;
            let (_, scrapes) = prometheus
                .query("count_over_time(kube_state_metrics_list_total{resource=\"*v1.Pod\",result=\"success\"}[1m])")
                .await?;
            let enough = scrapes
                .split("\"")
                .filter_map(|v| v.parse::<f64>().ok())
                .any(|n| n >= 10.0);
            (rules.contains("KubeStateMetricsListErrors") && enough)
                .then_some(())
                .ok_or_else(|| format!("{rules} {scrapes}"))
        },
    )
    .await;
    let (_, alerts) = testkit::agent::http_get(prometheus.port, "/api/v1/alerts")
        .await
        .unwrap();
    assert!(alerts.contains("\"alerts\":[]"), "{alerts}");
    let _ = std::fs::remove_file(&rules);
}

/// libfaketime's multi-threaded preload library (Debian's `libfaketime`, which
/// `scripts/cluster deps` installs): it shifts the wall clock of the process it is loaded in.
fn faketime_library() -> std::path::PathBuf {
    let found = std::fs::read_dir("/usr/lib")
        .expect("/usr/lib")
        .filter_map(Result::ok)
        .map(|d| d.path().join("faketime/libfaketimeMT.so.1"))
        .find(|p| p.exists());
    found.expect("libfaketime is not installed: run scripts/cluster deps")
}

/// An election candidate whose wall clock is `offset` (`+5s`, `-5s`) off the machine's, on
/// 4 s leases renewed every half second, so that a follower judging expiry by the leader's
/// timestamps against its own clock would get it wrong by more than a lease.
fn start_skewed(node: &str, ns: &str, lease: &str, offset: &str) -> AgentProcess {
    let args = short_election_args(ns, lease, node, false);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let library = faketime_library();
    let env = [
        ("LD_PRELOAD", library.to_str().expect("a UTF-8 path")),
        ("FAKETIME", offset),
        // Only the wall clock is skewed, as between two machines; timers run at one pace.
        ("FAKETIME_DONT_FAKE_MONOTONIC", "1"),
    ];
    AgentProcess::start_with_env(&Cluster::get().admin_kubeconfig(), node, &args, &env)
}

/// How far behind the API server's clock the Lease's last renewal is stamped.
async fn renewal_lag(ns: &str, lease: &str) -> Duration {
    let client = Cluster::get().client().await;
    let leases: kube::Api<k8s_openapi::api::coordination::v1::Lease> =
        kube::Api::namespaced(client, ns);
    let renewed = leases.get(lease).await.expect("the Lease");
    let renewed = renewed
        .spec
        .and_then(|s| s.renew_time)
        .expect("a renew time")
        .0;
    let lag = k8s_openapi::jiff::Timestamp::now().duration_since(renewed);
    Duration::try_from(lag).unwrap_or(Duration::ZERO)
}

/// Watches `agents` for `window`, failing at once when any but `leader` exports: a follower
/// that misjudged the lease by the clocks would take it over (and for a moment export beside
/// the leader). A moment with no exporter is allowed: on a loaded machine a renewal may miss
/// the 3 s renew deadline, and the leader then fences itself until its next renewal.
async fn only_one_exports_for(agents: &[AgentProcess], ns: &str, leader: usize, window: Duration) {
    let until = Instant::now() + window;
    let (mut led, mut polls) = (0, 0);
    while Instant::now() < until {
        let now = exporters_of_running(agents, ns).await;
        assert!(
            now.is_empty() || now == [leader],
            "exporters {now:?}, only agent {leader} may export"
        );
        led += usize::from(!now.is_empty());
        polls += 1;
    }
    assert!(
        led * 2 > polls,
        "agent {leader} exported in only {led} of {polls} polls"
    );
}

/// Kills `agents[leader]` and returns how long until exactly one of the others exports.
async fn handover_after_sigkill(
    agents: &mut Vec<AgentProcess>,
    ns: &str,
    leader: usize,
) -> Duration {
    let killed = agents.remove(leader);
    let t0 = Instant::now();
    std::process::Command::new("kill")
        .args(["-9", &killed.pid().to_string()])
        .status()
        .unwrap();
    wait_for_one_exporter(agents, ns, Duration::from_secs(40)).await;
    t0.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_whose_clocks_disagree_by_five_seconds_keep_one_leader_and_hand_over_in_time() {
    // Followers date a claim from when they saw it change, never by the holder's timestamps,
    // so a skew larger than the lease (5 s against 4 s) changes nothing.
    // A 4 s lease, two retry periods (0.5 s) and 2 s for the list and a snapshot, rounded up.
    const BOUND: Duration = Duration::from_secs(4 + 1 + 3);
    let (ns, lease, nodes) = setup("skew").await;
    let ns = ns.name();
    // A leader whose clock is 5 s behind: its renewals look 5 s old to everyone else.
    let mut behind = start_skewed(&nodes[0], ns, &lease, "-5s");
    behind.wait_ready(READY).await;
    wait_until_exports(&behind, ns, "the agent 5 s behind leads").await;
    let lag = renewal_lag(ns, &lease).await;
    assert!(
        lag >= Duration::from_secs(4),
        "the skew is not in effect: renewed {lag:?} ago"
    );
    let mut on_time = start_skewed(&nodes[1], ns, &lease, "+0s");
    on_time.wait_ready(READY).await;
    let mut agents = vec![behind, on_time];
    only_one_exports_for(&agents, ns, 0, Duration::from_secs(12)).await;
    let took = handover_after_sigkill(&mut agents, ns, 0).await;
    eprintln!("clock skew: handover from the agent 5 s behind after SIGKILL: {took:?}");
    assert!(took <= BOUND, "handover took {took:?}");

    // A follower whose clock is 5 s ahead: the leader's renewals look 5 s old to it.
    let mut ahead = start_skewed(&nodes[2], ns, &lease, "+5s");
    ahead.wait_ready(READY).await;
    agents.push(ahead);
    only_one_exports_for(&agents, ns, 0, Duration::from_secs(12)).await;
    let took = handover_after_sigkill(&mut agents, ns, 0).await;
    eprintln!("clock skew: handover to the agent 5 s ahead after SIGKILL: {took:?}");
    assert!(took <= BOUND, "handover took {took:?}");
}

// ===== candidacy (--leader-candidate-selector) and the watch-based election =====

/// The label that makes a node's agent a leader candidate in the install docs.
const CANDIDATE: &str = "kube-state-agent.io/leader-candidate";

/// [`election_args`] on 4 s leases renewed every half second, with only the agents on nodes
/// labelled [`CANDIDATE`]`=true` taking part when `selected`.
fn short_election_args(ns: &str, lease: &str, node: &str, selected: bool) -> Vec<String> {
    let mut args = election_args(ns, lease, node);
    args.extend(
        [
            "--lease-duration=4s",
            "--renew-deadline=3s",
            "--retry-period=500ms",
        ]
        .map(String::from),
    );
    if selected {
        args.push(format!("--leader-candidate-selector={CANDIDATE}=true"));
    }
    args
}

fn start_short(
    node: &str,
    ns: &str,
    lease: &str,
    selected: bool,
    kubeconfig: &std::path::Path,
) -> AgentProcess {
    let args = short_election_args(ns, lease, node, selected);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    AgentProcess::start_with_kubeconfig(kubeconfig, node, &args)
}

/// Sets (`Some`) or removes (`None`) the [`CANDIDATE`] label of Node `name`.
async fn label_candidate(client: &kube::Client, name: &str, value: Option<&str>) {
    let nodes: kube::Api<k8s_openapi::api::core::v1::Node> = kube::Api::all(client.clone());
    let patch = serde_json::json!({"metadata": {"labels": {CANDIDATE: value}}});
    nodes
        .patch(
            name,
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(&patch),
        )
        .await
        .unwrap_or_else(|e| panic!("label node {name}: {e}"));
}

/// The agent's own count of its Lease requests (`ksa_api_requests_total{resource="leases"}`),
/// of `verb` when given.
async fn lease_requests(agent: &AgentProcess, verb: Option<&str>) -> f64 {
    let mut filter = vec![("resource", "leases")];
    filter.extend(verb.map(|v| ("verb", v)));
    agent
        .self_metric("ksa_api_requests_total", &filter)
        .await
        .expect("telemetry")
}

/// Waits until `agent` reports `ksa_leader_candidate` = `want`.
async fn wait_candidate(agent: &AgentProcess, want: bool, what: &str) {
    let want = f64::from(u8::from(want));
    poll_until(what, Duration::from_secs(15), || async {
        match agent.self_metric("ksa_leader_candidate", &[]).await? {
            v if v == want => Ok(()),
            v => Err(format!("ksa_leader_candidate {v}")),
        }
    })
    .await;
}

/// How long an agent that is not a candidate is watched for election requests: six retry
/// periods of the short election, in which a candidate would have made several.
const QUIET: Duration = Duration::from_secs(3);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_is_not_a_candidate_makes_no_lease_request_and_the_only_candidate_leads() {
    // A control plane of its own: nothing else asks it about Leases, so the apiserver's count
    // of Lease requests is the agents' alone.
    let private = testkit::cluster::PrivateCluster::start("candidates");
    let kubeconfig = private.cluster().admin_kubeconfig();
    let client = private.cluster().client().await;
    let ns = TestNamespace::create(&client, "candidates").await;
    let ns = ns.name();
    create_pod(
        &client,
        ns,
        pod("pending").in_namespace(ns).unschedulable().build(),
    )
    .await;
    create_node(&client, node("worker"), node_status("True")).await;
    create_node(&client, node("pool"), node_status("True")).await;
    label_candidate(&client, "pool", Some("true")).await;
    let served = || async {
        let names = ["apiserver_request_total"];
        let metrics = ApiserverMetrics::read(&client, &names)
            .await
            .expect("apiserver /metrics");
        metrics.sum("apiserver_request_total", &[("resource", "leases")])
    };
    let before = served().await;

    let mut worker = start_short("worker", ns, "lease", true, &kubeconfig);
    worker.wait_ready(READY).await;
    wait_candidate(&worker, false, "the worker is not a candidate").await;
    assert!(
        worker.log().contains("not a leader candidate"),
        "it says why it does not lead: {}",
        worker.log()
    );
    // Absence takes a window to show: a candidate would have listed, watched and written the
    // Lease several times in it.
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        lease_requests(&worker, None).await,
        0.0,
        "the worker's own count"
    );
    assert_eq!(
        served().await,
        before,
        "the apiserver served no Lease request"
    );
    assert!(
        !exports_marker(&worker, ns).await.unwrap(),
        "nobody leads yet"
    );

    let mut pool = start_short("pool", ns, "lease", true, &kubeconfig);
    pool.wait_ready(READY).await;
    wait_until_exports(&pool, ns, "the only candidate leads").await;
    wait_candidate(&pool, true, "the labelled node's agent is a candidate").await;
    assert!(
        served().await > before,
        "the apiserver counts the candidate's Lease requests"
    );
    assert!(
        lease_requests(&pool, Some("update")).await + lease_requests(&pool, Some("create")).await
            >= 1.0
    );
    assert_eq!(
        lease_requests(&worker, None).await,
        0.0,
        "still none from the worker"
    );
    assert!(!exports_marker(&worker, ns).await.unwrap());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn candidacy_follows_a_node_label_change_joining_and_stepping_down() {
    let (ns, lease, nodes) = setup("relabel").await;
    let ns = ns.name();
    let client = Cluster::get().client().await;
    let name = &nodes[0];
    create_node(&client, node(name), node_status("True")).await;
    let kubeconfig = Cluster::get().admin_kubeconfig();
    let mut agent = start_short(name, ns, &lease, true, &kubeconfig);
    agent.wait_ready(READY).await;
    wait_candidate(&agent, false, "unlabelled: not a candidate").await;
    assert_eq!(lease_requests(&agent, None).await, 0.0);

    label_candidate(&client, name, Some("true")).await;
    wait_until_exports(&agent, ns, "labelled, the only candidate leads").await;
    wait_candidate(&agent, true, "labelled: a candidate").await;

    label_candidate(&client, name, None).await;
    poll_until(
        "unlabelled: it steps down and exports no leader rows",
        Duration::from_secs(10),
        || async {
            let leading = agent.self_metric("ksa_leader", &[]).await?;
            let candidate = agent.self_metric("ksa_leader_candidate", &[]).await?;
            match (exports_marker(&agent, ns).await?, leading, candidate) {
                (false, 0.0, 0.0) => Ok(()),
                other => Err(format!(
                    "(exports, ksa_leader, ksa_leader_candidate) {other:?}"
                )),
            }
        },
    )
    .await;
    let stepped_down = lease_requests(&agent, None).await;
    tokio::time::sleep(QUIET).await;
    assert_eq!(
        lease_requests(&agent, None).await,
        stepped_down,
        "no election request after stepping down"
    );
    assert!(!exports_marker(&agent, ns).await.unwrap());
    assert!(
        agent.get("/readyz").await.unwrap().0 == 200,
        "readiness unaffected"
    );
    testkit::objects::delete_node(&client, name).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watching_follower_takes_over_after_sigkill_within_the_bound_without_polling() {
    // A 4 s lease, two retry periods (0.5 s) and 3 s for the lists and a snapshot.
    const BOUND: Duration = Duration::from_secs(4 + 1 + 3);
    let (ns, lease, nodes) = setup("watch-follow").await;
    let ns = ns.name();
    let kubeconfig = Cluster::get().admin_kubeconfig();
    let mut agents: Vec<AgentProcess> = nodes[..2]
        .iter()
        .map(|n| start_short(n, ns, &lease, false, &kubeconfig))
        .collect();
    for a in &mut agents {
        a.wait_ready(READY).await;
    }
    let leader = wait_for_one_exporter(&agents, ns, Duration::from_secs(30)).await;
    let follower = &agents[1 - leader];
    // Let the leader renew a dozen times while the follower follows.
    only_one_exports_for(&agents, ns, leader, Duration::from_secs(6)).await;
    assert_eq!(
        lease_requests(follower, Some("get")).await,
        0.0,
        "no polling GET"
    );
    assert_eq!(
        lease_requests(follower, Some("update")).await,
        0.0,
        "no write"
    );
    assert!(
        lease_requests(follower, Some("watch")).await >= 1.0,
        "it watches the Lease"
    );
    assert!(
        lease_requests(&agents[leader], Some("update")).await >= 10.0,
        "the leader renews every retry period"
    );
    let took = handover_after_sigkill(&mut agents, ns, leader).await;
    eprintln!("watching follower: handover after SIGKILL: {took:?}");
    assert!(took <= BOUND, "handover took {took:?}");
}
