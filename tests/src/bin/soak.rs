//! The soak: three node agents (one of them elected leader) on a private etcd + kube-apiserver,
//! a real Prometheus scraping all of them, and churn (pods created, their status changed,
//! deleted; ConfigMaps and Services created, changed, deleted) for the given minutes.
//!
//! Every `--sample-seconds` it records, per agent, resident memory, open file descriptors,
//! live async tasks (`ksa_runtime_alive_tasks`) and whether its own scrape failed, in
//! `OUT/samples.tsv`. At the end it stops the churn and runs the convergence check: the
//! three agents' scrapes together must equal, sample for sample, the scrape of a freshly
//! started `--scope=cluster` agent (the election Lease's own rows aside), and no sample may be
//! exported by two agents. `OUT/summary.txt` has the figures: RSS slope after warm-up, file
//! descriptors and tasks at start and end, scrape errors (Prometheus' and ours), churn done,
//! time to converge. Exits non-zero when an agent died, a scrape failed, or the agents did not
//! converge. Run it through `scripts/soak MINUTES`, which also plots `OUT/rss.svg`.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod, Service};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom as _;
use rand::{Rng as _, SeedableRng as _};
use serde_json::json;
use testkit::agent::{AgentProcess, agent_binary};
use testkit::cluster::PrivateCluster;
use testkit::exposition::Exposition;
use testkit::objects::{create_node, create_pod, node, node_status, pod, set_pod_status};
use testkit::process;
use testkit::prometheus::Prometheus;
use tokio::sync::watch;

#[derive(Parser, Debug)]
#[command(about = "Three agents, a real Prometheus and churn for MINUTES; see the module docs")]
struct Args {
    /// How long the churn runs.
    #[arg(long)]
    minutes: f64,
    /// Where samples.tsv and summary.txt go.
    #[arg(long, default_value = "target/soak")]
    out: PathBuf,
    /// The agent binary (default: the workspace's debug build, built if missing).
    #[arg(long)]
    agent_binary: Option<PathBuf>,
    /// API writes per second of churn.
    #[arg(long, default_value_t = 20.0)]
    churn_per_second: f64,
    /// Seconds between two samples of the agents.
    #[arg(long, default_value_t = 10)]
    sample_seconds: u64,
}

const NAMESPACE: &str = "soak";
const LEASE: &str = "soak";
const NODES: [&str; 3] = ["soak-1", "soak-2", "soak-3"];
/// The churn keeps this many pods, give or take, spread over the nodes and unscheduled.
const PODS: (usize, usize) = (60, 120);
const CONFIGMAPS: (usize, usize) = (20, 60);
const SERVICES: usize = 10;
/// The share of the run whose RSS samples the slope ignores (start-up, first lists).
const WARM_UP: f64 = 0.2;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.out).with_context(|| args.out.display().to_string())?;
    let binary = args
        .agent_binary
        .clone()
        .unwrap_or_else(|| agent_binary().to_path_buf());

    eprintln!("soak: starting a private etcd + kube-apiserver");
    let private = PrivateCluster::start("soak");
    let kubeconfig = private.cluster().admin_kubeconfig();
    let client = private.cluster().client().await;
    seed(&client).await?;

    let election = ["--lease-namespace", NAMESPACE, "--lease-name", LEASE];
    let mut agents: Vec<AgentProcess> = NODES
        .iter()
        .map(|n| AgentProcess::spawn(&binary, &kubeconfig, n, &election, &[]))
        .collect();
    for a in &mut agents {
        a.wait_ready(Duration::from_secs(120)).await;
    }
    let prometheus = Prometheus::start(&prometheus_config(&agents));
    eprintln!(
        "soak: 3 agents ready, Prometheus on 127.0.0.1:{}; churn for {} min",
        prometheus.port, args.minutes
    );

    let (stop_tx, stop) = watch::channel(false);
    let churn = tokio::spawn(churn(client.clone(), args.churn_per_second, stop));
    let run = Duration::from_secs_f64(args.minutes * 60.0);
    let started = Instant::now();
    let mut tsv = std::fs::File::create(args.out.join("samples.tsv"))?;
    writeln!(
        tsv,
        "seconds\tagent\tleader\trss_kib\tfds\ttasks\tscrape_ok"
    )?;
    let mut samples: Vec<Sample> = Vec::new();
    let mut died = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(args.sample_seconds));
    loop {
        tick.tick().await;
        let seconds = started.elapsed().as_secs_f64();
        for (i, a) in agents.iter_mut().enumerate() {
            if let Some(code) = a.try_exit_code() {
                died.push(format!("{} exited ({code:?}):\n{}", NODES[i], a.log()));
                continue;
            }
            let s = sample(a, i, seconds).await;
            writeln!(
                tsv,
                "{:.1}\t{}\t{}\t{}\t{}\t{}\t{}",
                s.seconds,
                NODES[i],
                u8::from(s.leader),
                s.rss_kib,
                s.fds,
                s.tasks,
                u8::from(s.scrape_ok)
            )?;
            samples.push(s);
        }
        if !died.is_empty() || started.elapsed() >= run {
            break;
        }
    }
    stop_tx.send(true)?;
    let churned = churn.await??;
    let ran = started.elapsed();

    let (converged, converge_error) = match converge(&agents, &binary, &kubeconfig).await {
        Ok(took) => (Some(took), None),
        Err(e) => (None, Some(e)),
    };
    let failed_scrapes = prometheus_failed_scrapes(&prometheus, ran).await?;

    let summary = summary(&samples, &churned, ran, converged, failed_scrapes);
    std::fs::write(args.out.join("summary.txt"), &summary)?;
    print!("{summary}");
    if !died.is_empty() {
        bail!("an agent died: {}", died.join("\n"));
    }
    if let Some(e) = converge_error {
        bail!("the agents did not converge: {e}");
    }
    let our_errors = samples.iter().filter(|s| !s.scrape_ok).count();
    if failed_scrapes > 0.0 || our_errors > 0 {
        bail!("scrape errors: {failed_scrapes} in Prometheus, {our_errors} of ours");
    }
    Ok(())
}

/// The namespace, the three Nodes, 20 pods on each and 5 unscheduled, the first ConfigMaps and
/// the Services.
async fn seed(client: &Client) -> anyhow::Result<()> {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let ns = serde_json::from_value(json!({"metadata": {"name": NAMESPACE}}))?;
    namespaces.create(&PostParams::default(), &ns).await?;
    for n in NODES {
        create_node(client, node(n), node_status("True")).await;
    }
    let mut pods = Vec::new();
    for (i, n) in NODES.iter().enumerate() {
        for j in 0..20 {
            pods.push(pod(&format!("seed-{i}-{j}")).on_node(n).running(0));
        }
    }
    for j in 0..5 {
        pods.push(pod(&format!("seed-pending-{j}")).unschedulable());
    }
    for p in pods {
        create_pod(client, NAMESPACE, p.in_namespace(NAMESPACE).build()).await;
    }
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    for i in 0..SERVICES {
        let s = serde_json::from_value(json!({
            "metadata": {"name": format!("svc-{i}"), "labels": {"generation": "0"}},
            "spec": {"ports": [{"port": 80}]}
        }))?;
        services.create(&PostParams::default(), &s).await?;
    }
    Ok(())
}

fn prometheus_config(agents: &[AgentProcess]) -> String {
    let targets = |port: fn(&AgentProcess) -> u16| {
        agents
            .iter()
            .map(|a| format!("'127.0.0.1:{}'", port(a)))
            .collect::<Vec<_>>()
            .join(", ")
    };
    format!(
        "global:\n  scrape_interval: 5s\n  scrape_timeout: 4s\nscrape_configs:\n\
         - job_name: agents\n  static_configs:\n  - targets: [{}]\n\
         - job_name: agents-telemetry\n  static_configs:\n  - targets: [{}]\n",
        targets(AgentProcess::port),
        targets(AgentProcess::telemetry_port)
    )
}

/// What the churn did, by object and operation.
#[derive(Debug, Default)]
struct Churned {
    pods_created: u64,
    pods_changed: u64,
    pods_deleted: u64,
    configmaps_created: u64,
    configmaps_changed: u64,
    configmaps_deleted: u64,
    services_changed: u64,
}

/// One API write every `1 / per_second` s until `stop`: pods (on a random node, or
/// unscheduled), ConfigMaps and Services, keeping each population within its bounds.
async fn churn(
    client: Client,
    per_second: f64,
    mut stop: watch::Receiver<bool>,
) -> anyhow::Result<Churned> {
    let pods_api: Api<Pod> = Api::namespaced(client.clone(), NAMESPACE);
    let configmaps: Api<ConfigMap> = Api::namespaced(client.clone(), NAMESPACE);
    let services: Api<Service> = Api::namespaced(client.clone(), NAMESPACE);
    let mut pods: Vec<String> = Vec::new();
    for (i, _) in NODES.iter().enumerate() {
        pods.extend((0..20).map(|j| format!("seed-{i}-{j}")));
    }
    let mut maps: Vec<String> = Vec::new();
    let mut done = Churned::default();
    let mut rng = StdRng::from_rng(&mut rand::rng());
    let mut next = 0u64;
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let now = || {
        let t = k8s_openapi::jiff::Timestamp::now();
        t.to_string()
    };
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.wait_for(|s| *s) => return Ok(done),
        }
        next += 1;
        let roll: f64 = rng.random();
        match roll {
            // Pods: half of all writes.
            r if r < 0.5 => {
                let create = pods.len() < PODS.0 || (pods.len() < PODS.1 && r < 0.15);
                let delete = !create && (pods.len() > PODS.1 || r > 0.4);
                if create {
                    let name = format!("churn-{next}");
                    let p = match NODES.choose(&mut rng) {
                        Some(n) if rng.random_bool(0.9) => pod(&name).on_node(n).running(0),
                        _ => pod(&name).unschedulable(),
                    };
                    create_pod(&client, NAMESPACE, p.in_namespace(NAMESPACE).build()).await;
                    pods.push(name);
                    done.pods_created += 1;
                } else if delete {
                    let name = pods.swap_remove(rng.random_range(0..pods.len()));
                    pods_api
                        .delete(&name, &DeleteParams::default().grace_period(0))
                        .await?;
                    done.pods_deleted += 1;
                } else if let Some(name) = pods.choose(&mut rng) {
                    let restarts = i32::try_from(next % 1000).unwrap_or(0);
                    let status = pod("x")
                        .running(restarts)
                        .build()
                        .status
                        .context("status")?;
                    set_pod_status(&client, NAMESPACE, name, status).await;
                    done.pods_changed += 1;
                }
            }
            // ConfigMaps: four writes in ten.
            r if r < 0.9 => {
                if maps.len() < CONFIGMAPS.0 || (maps.len() < CONFIGMAPS.1 && r < 0.65) {
                    let name = format!("cm-{next}");
                    let cm = serde_json::from_value(json!({
                        "metadata": {"name": name, "labels": {"soak": "yes"}},
                        "data": {"at": now()}
                    }))?;
                    configmaps.create(&PostParams::default(), &cm).await?;
                    maps.push(name);
                    done.configmaps_created += 1;
                } else if maps.len() > CONFIGMAPS.1 || r > 0.8 {
                    let name = maps.swap_remove(rng.random_range(0..maps.len()));
                    configmaps.delete(&name, &DeleteParams::default()).await?;
                    done.configmaps_deleted += 1;
                } else if let Some(name) = maps.choose(&mut rng) {
                    let patch = json!({"metadata": {"labels": {"rev": next.to_string()}}});
                    configmaps
                        .patch(name, &PatchParams::default(), &Patch::Merge(patch))
                        .await?;
                    done.configmaps_changed += 1;
                }
            }
            // Services: a label change.
            _ => {
                let name = format!("svc-{}", rng.random_range(0..SERVICES));
                let patch = json!({"metadata": {"labels": {"generation": next.to_string()}}});
                services
                    .patch(&name, &PatchParams::default(), &Patch::Merge(patch))
                    .await?;
                done.services_changed += 1;
            }
        }
    }
}

/// One agent at one moment.
#[derive(Debug, Clone)]
struct Sample {
    seconds: f64,
    agent: usize,
    leader: bool,
    rss_kib: u64,
    fds: usize,
    tasks: f64,
    scrape_ok: bool,
}

async fn sample(agent: &AgentProcess, index: usize, seconds: f64) -> Sample {
    let pid = agent.pid();
    let rss_kib = process::memory(pid).map_or(0, |m| m.rss_kib);
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    let tasks = agent
        .self_metric("ksa_runtime_alive_tasks", &[])
        .await
        .unwrap_or(f64::NAN);
    let scrape = agent.scrape().await;
    // Only the leader watches unscheduled pods, whose `node` label is empty.
    let leader = scrape.as_ref().is_ok_and(|e| {
        e.samples_of("kube_pod_info")
            .any(|s| s.label("node") == Some(""))
    });
    Sample {
        seconds,
        agent: index,
        leader,
        rss_kib,
        fds,
        tasks,
        scrape_ok: scrape.is_ok(),
    }
}

/// Whether `sample` is one of the election Lease's own rows, which change with every renewal.
fn is_election_lease(sample: &testkit::exposition::Sample) -> bool {
    sample.name.starts_with("kube_lease_") && sample.label("lease") == Some(LEASE)
}

/// The agents' scrapes together against a fresh `--scope=cluster` agent's, until equal (at
/// most two minutes); how long that took.
async fn converge(
    agents: &[AgentProcess],
    binary: &Path,
    kubeconfig: &Path,
) -> Result<Duration, String> {
    let since = Instant::now();
    let mut fresh = AgentProcess::spawn(binary, kubeconfig, "", &["--scope=cluster"], &[]);
    fresh.wait_ready(Duration::from_secs(120)).await;
    let lines = |e: &Exposition| -> Vec<String> {
        e.samples
            .iter()
            .filter(|s| !is_election_lease(s))
            .map(testkit::exposition::Sample::line)
            .collect()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = String::new();
    while Instant::now() < deadline {
        let mut together: Vec<String> = Vec::new();
        let mut failed = None;
        for a in agents {
            match a.scrape().await {
                Ok(e) => together.extend(lines(&e)),
                Err(e) => failed = Some(e),
            }
        }
        let expected: Option<BTreeSet<String>> = fresh
            .scrape()
            .await
            .ok()
            .map(|e| lines(&e).into_iter().collect());
        if let (None, Some(expected)) = (failed, expected) {
            let exported = together.len();
            let together: BTreeSet<String> = together.into_iter().collect();
            let twice = exported - together.len();
            if together == expected && twice == 0 {
                return Ok(since.elapsed());
            }
            let missing: Vec<_> = expected.difference(&together).take(3).collect();
            let extra: Vec<_> = together.difference(&expected).take(3).collect();
            last = format!(
                "{twice} samples exported twice; missing {missing:?}; not in the fresh agent's {extra:?}"
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(last)
}

/// Scrapes that failed over the run, by Prometheus' `up` of every target.
async fn prometheus_failed_scrapes(prometheus: &Prometheus, ran: Duration) -> anyhow::Result<f64> {
    let window = ran.as_secs() + 60;
    let query = format!("sum(count_over_time(up[{window}s])) - sum(sum_over_time(up[{window}s]))");
    let (status, body) = prometheus
        .query(&query)
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    anyhow::ensure!(status == 200, "Prometheus answered {status}: {body}");
    let v: serde_json::Value = serde_json::from_str(&body)?;
    let value = v["data"]["result"][0]["value"][1]
        .as_str()
        .with_context(|| format!("no result: {body}"))?;
    Ok(value.parse()?)
}

/// Least-squares slope of `(x, y)`, in y per x.
fn slope(points: &[(f64, f64)]) -> f64 {
    let n = points.len() as f64;
    if points.len() < 2 {
        return 0.0;
    }
    let (sx, sy) = points
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let (num, den) = points.iter().fold((0.0, 0.0), |(num, den), (x, y)| {
        (num + (x - mx) * (y - my), den + (x - mx) * (x - mx))
    });
    if den == 0.0 { 0.0 } else { num / den }
}

fn summary(
    samples: &[Sample],
    churned: &Churned,
    ran: Duration,
    converged: Option<Duration>,
    failed_scrapes: f64,
) -> String {
    let mut out = String::new();
    let minutes = ran.as_secs_f64() / 60.0;
    let writes = churned.pods_created
        + churned.pods_changed
        + churned.pods_deleted
        + churned.configmaps_created
        + churned.configmaps_changed
        + churned.configmaps_deleted
        + churned.services_changed;
    let _ = writeln!(out, "soak: {minutes:.1} min, {writes} API writes of churn");
    let _ = writeln!(out, "churn: {churned:?}");
    let warm = ran.as_secs_f64() * WARM_UP;
    let _ = writeln!(
        out,
        "agent\tleader\trss_first_kib\trss_last_kib\trss_max_kib\trss_slope_kib_per_min\tfds_first\tfds_last\ttasks_first\ttasks_last"
    );
    for (i, node) in NODES.iter().enumerate() {
        let mine: Vec<&Sample> = samples.iter().filter(|s| s.agent == i).collect();
        let (Some(first), Some(last)) = (mine.first(), mine.last()) else {
            continue;
        };
        let points: Vec<(f64, f64)> = mine
            .iter()
            .filter(|s| s.seconds >= warm)
            .map(|s| (s.seconds / 60.0, s.rss_kib as f64))
            .collect();
        let max = mine.iter().map(|s| s.rss_kib).max().unwrap_or(0);
        let _ = writeln!(
            out,
            "{node}\t{}\t{}\t{}\t{max}\t{:.1}\t{}\t{}\t{}\t{}",
            u8::from(last.leader),
            first.rss_kib,
            last.rss_kib,
            slope(&points),
            first.fds,
            last.fds,
            first.tasks,
            last.tasks
        );
    }
    let ours = samples.iter().filter(|s| !s.scrape_ok).count();
    let _ = writeln!(
        out,
        "scrape errors: {failed_scrapes} in Prometheus (every target's up), {ours} of the soak's own"
    );
    match converged {
        Some(took) => {
            let _ = writeln!(
                out,
                "converged: yes, {took:.1?} after the churn stopped (fresh agent's start included); no sample exported twice"
            );
        }
        None => {
            let _ = writeln!(out, "converged: no");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::slope;

    #[test]
    fn slope_of_a_line_and_of_a_flat_series() {
        assert!((slope(&[(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)]) - 2.0).abs() < 1e-9);
        assert_eq!(slope(&[(0.0, 4.0), (1.0, 4.0)]), 0.0);
        assert_eq!(slope(&[(0.0, 4.0)]), 0.0);
    }
}
