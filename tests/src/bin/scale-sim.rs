//! The scale simulation: N node agents' API traffic in one process against a private etcd +
//! kube-apiserver, measured on the server side.
//!
//! Each simulated agent runs the agent library's real code with its own identity and node
//! name (`sim-<i>`): its node-scope watches as the planner makes them for
//! `--node=sim-<i> --resources=pods,nodes` (pods by `spec.nodeName=sim-<i>`, its Node by
//! `metadata.name=sim-<i>`, over protobuf, fed into stores as in the agent), and its election
//! on one shared Lease with `--leader-candidate-selector=kube-state-agent.io/leader-candidate=true`.
//! The first K agents' Nodes exist and carry the label, so their own node watches make them
//! candidates; a few more Nodes exist without it; the rest of the node names have no Node (as a
//! node agent sees a Node it may not read, its watch holds but lists nothing), so those agents
//! are not candidates either. The leader-only watches are not run: the leader's kinds cost the
//! same whatever the node count, and the figures here are what grows with it.
//!
//! After every watch has listed and a leader is elected, plus a settling time, it reads the
//! apiserver's own `/metrics` (`apiserver_request_total` by verb and resource,
//! `apiserver_registered_watchers`, `apiserver_longrunning_gauge`) before and after a fixed
//! window, and prints requests per second by verb and resource, the watches held and the
//! agents' own request counts (election traffic of candidates and of non-candidates apart,
//! each on its own client). `OUT/summary.txt` gets the same. Exits non-zero when there is not
//! exactly one leader at the end, or when a non-candidate made an election request. Run it
//! through `scripts/scale-sim N [--candidates K]`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::PostParams;
use kube_state_agent::config::{Args as AgentArgs, Config};
use kube_state_agent::leader::candidacy::NodeLabels;
use kube_state_agent::leader::{Candidacy, ElectionRunning};
use kube_state_agent::plan::{self, Role};
use kube_state_agent::store::{self, ChangeSignal, Reader, ShardState};
use kube_state_agent::telemetry::Telemetry;
use kube_state_agent::watch::WatchContext;
use kube_state_agent::{client, leader, registry};
use testkit::apiserver::ApiserverMetrics;
use testkit::cluster::PrivateCluster;
use testkit::objects::{create_node, node, node_status};
use testkit::process;
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(about = "N simulated node agents against a private kube-apiserver; see the module docs")]
struct Args {
    /// Simulated agents (election participants and node-scope watch pairs).
    #[arg(long)]
    agents: usize,
    /// How many of them are leader candidates (their Nodes carry the candidate label);
    /// default: every agent.
    #[arg(long)]
    candidates: Option<usize>,
    /// The measured window.
    #[arg(long, default_value_t = 60)]
    window_seconds: u64,
    /// Time between "all listed and a leader elected" and the window's start.
    #[arg(long, default_value_t = 10)]
    settle_seconds: u64,
    /// Nodes that exist but are not candidates (beside the candidates' Nodes).
    #[arg(long, default_value_t = 5)]
    plain_nodes: usize,
    /// Where summary.txt goes.
    #[arg(long, default_value = "target/scale-sim")]
    out: PathBuf,
}

const NAMESPACE: &str = "scale-sim";
const LEASE: &str = "scale-sim";
const CANDIDATE: &str = "kube-state-agent.io/leader-candidate";
const METRICS: [&str; 3] = [
    "apiserver_request_total",
    "apiserver_registered_watchers",
    "apiserver_longrunning_gauge",
];

/// The simulation's three clients, in the order their counts are kept.
const CLIENTS: [&str; 3] = [
    "candidates' elections",
    "non-candidates' elections",
    "node watches",
];

/// One simulated agent's configuration, parsed as the agent parses its flags.
fn agent_config(i: usize) -> anyhow::Result<Config> {
    let node = format!("sim-{i}");
    let argv = [
        "kube-state-agent",
        "--node",
        &node,
        "--resources",
        "pods,nodes",
        "--lease-namespace",
        NAMESPACE,
        "--lease-name",
        LEASE,
        "--lease-identity",
        &node,
        "--leader-candidate-selector",
        "kube-state-agent.io/leader-candidate=true",
    ];
    let args = <AgentArgs as clap::Parser>::try_parse_from(argv)?;
    Ok(Config::from_args(args, &registry::catalog())?)
}

/// The sums of `apiserver_request_total` by verb and resource.
fn requests(m: &ApiserverMetrics) -> BTreeMap<Vec<String>, f64> {
    m.sum_by("apiserver_request_total", &["verb", "resource"], &[])
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let n = args.agents;
    let k = args.candidates.unwrap_or(n).min(n);
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;

    eprintln!("scale-sim: {n} agents, {k} candidates; starting a private etcd + kube-apiserver");
    let private = PrivateCluster::start("scale-sim");
    let kubeconfig = private.cluster().admin_kubeconfig();
    let admin = private.cluster().client().await;
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(serde_json::json!({"metadata": {"name": NAMESPACE}}))?,
        )
        .await?;
    for i in 0..k + args.plain_nodes.min(n - k) {
        let mut n = node(&format!("sim-{i}"));
        if i < k {
            n.metadata
                .labels
                .get_or_insert_with(Default::default)
                .insert(CANDIDATE.into(), "true".into());
        }
        create_node(&admin, n, node_status("True")).await;
    }

    // Three clients, each counting its own requests: node watches, candidates' elections,
    // non-candidates' elections. Within each, agents share connections as HTTP/1.1 allows
    // (one per request in flight, so one per watch).
    let timeout = Duration::from_secs(290);
    let watches_telemetry = Telemetry::new();
    let candidates_telemetry = Telemetry::new();
    let others_telemetry = Telemetry::new();
    let watches_client =
        client::build(Some(&kubeconfig), timeout, watches_telemetry.clone()).await?;
    let candidates_client =
        client::build(Some(&kubeconfig), timeout, candidates_telemetry.clone()).await?;
    let others_client = client::build(Some(&kubeconfig), timeout, others_telemetry.clone()).await?;

    // What the apiserver holds before any simulated agent: its own watches, its memory.
    let baseline = ApiserverMetrics::read(&admin, &METRICS).await?;
    let apiserver_pid =
        std::fs::read_to_string(private.cluster().dir().join("kube-apiserver.pid"))?
            .trim()
            .parse::<u32>()?;
    let apiserver_rss_before = process::memory(apiserver_pid)?.rss_kib;
    let (stop_tx, stop) = watch::channel(false);
    let signal = ChangeSignal::default();
    let mut readers: Vec<Reader> = Vec::new();
    let mut leaders = Vec::new();
    let mut tasks = tokio::task::JoinSet::new();
    let started = Instant::now();
    for i in 0..n {
        let config = agent_config(i)?;
        let labels = NodeLabels::default();
        let ctx = WatchContext {
            client: watches_client.clone(),
            telemetry: watches_telemetry.clone(),
            node_labels: labels.clone(),
        };
        for kind_plan in plan::plan(&config, registry::KINDS) {
            for planned in kind_plan.watches {
                if planned.role != Role::Local {
                    continue;
                }
                let (writer, reader) = store::shard(kind_plan.kind.resource(), signal.clone());
                readers.push(reader);
                let watch = kind_plan
                    .kind
                    .watch(planned.spec, ctx.clone(), writer, stop.clone());
                tasks.spawn(async move {
                    watch.await;
                });
            }
        }
        let election = config
            .election
            .clone()
            .context("the election is configured")?;
        let (client, telemetry) = if i < k {
            (candidates_client.clone(), candidates_telemetry.clone())
        } else {
            (others_client.clone(), others_telemetry.clone())
        };
        let (leader_tx, leader_rx) = watch::channel(false);
        leaders.push(leader_rx);
        let candidacy = Candidacy::new(election.candidates.clone(), &labels);
        tasks.spawn(leader::run(
            Api::<Lease>::namespaced(client, NAMESPACE),
            election,
            candidacy,
            leader_tx,
            ElectionRunning::default(),
            stop.clone(),
            telemetry,
        ));
        // A DaemonSet's pods do not all start in the same millisecond either.
        if i % 100 == 99 {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let leading =
        |leaders: &[watch::Receiver<bool>]| leaders.iter().filter(|l| *l.borrow()).count();
    let deadline = started + Duration::from_secs(600);
    loop {
        let listed = readers
            .iter()
            .filter(|r| r.state() == ShardState::Listed)
            .count();
        if listed == readers.len() && leading(&leaders) == 1 {
            break;
        }
        if Instant::now() >= deadline {
            bail!(
                "after 10 minutes: {listed} of {} watches listed, {} leaders",
                readers.len(),
                leading(&leaders)
            );
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let ready_after = started.elapsed();
    eprintln!(
        "scale-sim: {} watches listed and one leader after {ready_after:.1?}; settling {} s",
        readers.len(),
        args.settle_seconds
    );
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;

    let agents_before =
        [&candidates_telemetry, &others_telemetry, &watches_telemetry].map(lease_and_pod_requests);
    let agents_bytes_before =
        [&candidates_telemetry, &others_telemetry, &watches_telemetry].map(response_bytes);
    let apiserver_cpu_before = process::cpu_seconds(apiserver_pid)?;
    let before = ApiserverMetrics::read(&admin, &METRICS).await?;
    let t0 = Instant::now();
    tokio::time::sleep(Duration::from_secs(args.window_seconds)).await;
    let after = ApiserverMetrics::read(&admin, &METRICS).await?;
    let window = t0.elapsed().as_secs_f64();
    let agents_after =
        [&candidates_telemetry, &others_telemetry, &watches_telemetry].map(lease_and_pod_requests);
    let leaders_at_end = leading(&leaders);
    let apiserver_rss_after = process::memory(apiserver_pid)?.rss_kib;
    let apiserver_cpu = process::cpu_seconds(apiserver_pid)? - apiserver_cpu_before;
    let bytes = [&candidates_telemetry, &others_telemetry, &watches_telemetry].map(response_bytes);

    let mut out = String::new();
    writeln!(
        out,
        "scale-sim: {n} agents, {k} candidates, window {window:.1} s, ready after {ready_after:.1?}"
    )?;
    writeln!(
        out,
        "\napiserver_request_total, requests/s in the window (verb resource):"
    )?;
    let (b, a) = (requests(&before), requests(&after));
    let mut total = 0.0;
    for (key, value) in &a {
        let delta = value - b.get(key).copied().unwrap_or(0.0);
        if delta > 0.0 {
            total += delta;
            writeln!(out, "  {:<30} {:>9.3}/s", key.join(" "), delta / window)?;
        }
    }
    writeln!(out, "  {:<30} {:>9.3}/s", "total", total / window)?;
    let lease_total: f64 = a
        .iter()
        .filter(|(key, _)| key[1] == "leases")
        .map(|(key, v)| v - b.get(key).copied().unwrap_or(0.0))
        .sum();
    writeln!(
        out,
        "  {:<30} {:>9.3}/s",
        "leases, every verb",
        lease_total / window
    )?;
    for (name, keys) in [
        ("apiserver_registered_watchers", &["kind"][..]),
        ("apiserver_longrunning_gauge", &["verb", "resource"][..]),
    ] {
        writeln!(
            out,
            "\n{name} at the end, beyond the apiserver's own ({}):",
            keys.join(" ")
        )?;
        let own = baseline.sum_by(name, keys, &[]);
        for (key, value) in after.sum_by(name, keys, &[]) {
            let added = value - own.get(&key).copied().unwrap_or(0.0);
            if added != 0.0 {
                writeln!(out, "  {:<30} {added:>8}", key.join(" "))?;
            }
        }
    }
    writeln!(
        out,
        "\nthe agents' own counts in the window (ksa_api_requests_total, verb resource):"
    )?;
    for (name, (before, after)) in CLIENTS
        .iter()
        .zip(agents_before.iter().zip(agents_after.iter()))
    {
        for (verb, value) in after {
            let delta = value - before.get(verb).copied().unwrap_or(0.0);
            if delta != 0.0 {
                writeln!(
                    out,
                    "  {name:<26} {verb:<16} {:>9.3}/s ({delta} requests)",
                    delta / window
                )?;
            }
        }
    }
    writeln!(
        out,
        "\nresponse bytes read in the window (ksa_api_response_bytes_total):"
    )?;
    for (name, (before, after)) in CLIENTS
        .iter()
        .zip(agents_bytes_before.iter().zip(bytes.iter()))
    {
        writeln!(out, "  {name:<26} {:>12.0} B/s", (after - before) / window)?;
    }
    writeln!(
        out,
        "\nkube-apiserver: RSS {:.1} MiB before the agents, {:.1} MiB at the end; CPU {:.3} cores in the window",
        apiserver_rss_before as f64 / 1024.0,
        apiserver_rss_after as f64 / 1024.0,
        apiserver_cpu / window
    )?;
    let others_total: f64 = agents_after[1].values().sum::<f64>() + 0.0;
    writeln!(
        out,
        "\nleaders at the end: {leaders_at_end}; election requests from non-candidates since start: {others_total}"
    )?;
    print!("{out}");
    std::fs::write(args.out.join("summary.txt"), &out)?;

    let _ = stop_tx.send(true);
    tasks.abort_all();
    drop(private);
    if leaders_at_end != 1 {
        bail!("{leaders_at_end} leaders at the end");
    }
    if others_total > 0.0 {
        bail!("non-candidates made {others_total} election requests");
    }
    Ok(())
}

/// The requests `telemetry`'s client made, by verb (every resource but discovery).
fn lease_and_pod_requests(telemetry: &Telemetry) -> BTreeMap<String, f64> {
    let text = String::from_utf8(telemetry.encode()).unwrap_or_default();
    let parsed = ApiserverMetrics::parse(&text, &["ksa_api_requests_total"]);
    parsed
        .sum_by("ksa_api_requests_total", &["verb", "resource"], &[])
        .into_iter()
        .filter(|(key, _)| key[1] != "discovery")
        .map(|(key, v)| (format!("{} {}", key[0], key[1]), v))
        .collect()
}

/// The response bytes `telemetry`'s client read.
fn response_bytes(telemetry: &Telemetry) -> f64 {
    let text = String::from_utf8(telemetry.encode()).unwrap_or_default();
    ApiserverMetrics::parse(&text, &["ksa_api_response_bytes_total"])
        .sum("ksa_api_response_bytes_total", &[])
}
