//! The live scale harness of `scripts/bench-scale`: runs release agents against a seeded loopback
//! cluster (`KSA_CLUSTER_DIR`) and measures what issue #5 asks for — time to ready, memory,
//! scrape latency under concurrent scrapers with and without churn, ingest rate and CPU per
//! event, API bytes of a node agent against a cluster-wide pod watch, and the time from a change
//! to the change being scrapeable.
//!
//! It is a measuring tool, not a test: it asserts nothing about the targets, it reports them.
//! It fails (non-zero exit, a message saying what) when an agent does not become ready, a
//! churn write fails, an expected counter does not move, or `wrk` is missing.
//!
//! Object naming follows `cluster-seed`: pod `web-<n>-<i>` is on `node-<n>` in namespace
//! `seed-<i mod namespaces>`, ConfigMap `bulk-<j>` in `seed-<j mod namespaces>`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail, ensure};
use clap::Parser;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Patch, PatchParams};
use kube::{Api, Client};
use rand::Rng;
use serde::Serialize;
use serde_json::json;
use testkit::Cluster;
use testkit::agent::AgentProcess;
use testkit::exposition::Exposition;
use testkit::objects::pod;
use testkit::process::{Memory, cpu_seconds, memory};
use tokio::sync::Semaphore;

#[derive(Parser, Debug, Clone)]
#[command(about = "Measure release agents against the seeded loopback cluster (issue #5)")]
struct Args {
    /// The agent binary to measure (a release build).
    #[arg(long)]
    agent: PathBuf,
    /// Where results (JSON, CSV, markdown) go.
    #[arg(long, default_value = "target/bench-scale")]
    results: PathBuf,
    /// Nodes the cluster was seeded with (`node-1` … `node-N`).
    #[arg(long, default_value_t = 50)]
    nodes: usize,
    /// Pods per node the cluster was seeded with.
    #[arg(long, default_value_t = 110)]
    pods_per_node: usize,
    /// Namespaces the seed spread objects over.
    #[arg(long, default_value_t = 5)]
    namespaces: usize,
    /// Bulk ConfigMaps the cluster was seeded with (churn relabels them); 0: no ConfigMap churn.
    #[arg(long, default_value_t = 0)]
    configmaps: usize,
    /// Seconds each `wrk` run lasts.
    #[arg(long, default_value_t = 20)]
    wrk_seconds: u64,
    /// Updates per second of the background churn.
    #[arg(long, default_value_t = 200)]
    churn_rate: u32,
    /// Pod status updates on node-1 for the ingest measurement.
    #[arg(long, default_value_t = 5000)]
    ingest_events: usize,
    /// Pod status updates spread over all nodes for the API-bytes measurement.
    #[arg(long, default_value_t = 2500)]
    bytes_events: usize,
    /// Repetitions of the change-to-scrapeable measurement.
    #[arg(long, default_value_t = 30)]
    repetitions: usize,
    /// Seconds an agent runs after ready before its steady RSS is read.
    #[arg(long, default_value_t = 5)]
    settle_seconds: u64,
    /// Requests in flight at once when writing as fast as possible.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// The `--api-encoding`s measured side by side: each gets its own node agent (start, RSS,
    /// API bytes of the pod list and per pod event, CPU per pod event) and cluster-scope agent
    /// (start, RSS, API bytes of the initial lists), one after the other in the same run.
    #[arg(long, value_delimiter = ',', default_value = "json,protobuf")]
    encodings: Vec<String>,
    /// Measure only the encodings side by side, then stop (skips the scrape matrix, the change
    /// latency and the cluster-wide pod watch): the quick run for a small shared machine.
    #[arg(long)]
    encodings_only: bool,
}

/// How long an agent may take to become ready before the run fails.
const READY_TIMEOUT: Duration = Duration::from_secs(300);

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    ensure!(
        args.agent.is_file(),
        "--agent {} is not a file",
        args.agent.display()
    );
    which("wrk")?;
    std::fs::create_dir_all(&args.results)
        .with_context(|| format!("creating {}", args.results.display()))?;
    let cluster = Cluster::get();
    let client = cluster.client().await;
    let writer = Writer::new(client.clone(), &args);
    let mut report = Report {
        load_before: loadavg()?,
        cores: std::thread::available_parallelism().map_or(0, usize::from),
        nodes: args.nodes,
        pods_per_node: args.pods_per_node,
        churn_rate: args.churn_rate,
        wrk_seconds: args.wrk_seconds,
        ..Report::default()
    };

    for encoding in &args.encodings {
        report
            .encodings
            .push(encoding_pass(&args, cluster, &writer, encoding).await?);
    }
    if args.encodings_only {
        report.load_after = loadavg()?;
        report.write(&args.results)?;
        println!("{}", report.markdown());
        return Ok(());
    }

    eprintln!("[bench] node agent (node-1): start to ready");
    let node_flags = ["--leader-election=false", "--enable-gzip-encoding"];
    let (node_agent, start) = start_measured(&args, cluster, "node-1", &node_flags).await?;
    report.node_start = Some(start);

    eprintln!("[bench] API bytes: node agent vs a cluster-wide pod watch");
    report.api_bytes = Some(api_bytes(&args, cluster, &writer, &node_agent).await?);

    eprintln!(
        "[bench] ingest: {} pod updates on node-1",
        args.ingest_events
    );
    report.ingest = Some(ingest(&args, &writer, &node_agent).await?);

    eprintln!("[bench] change to scrapeable: idle");
    report.change_idle = Some(change_latency(&args, &writer, &node_agent, None).await?);
    eprintln!("[bench] change to scrapeable: while wrk scrapes");
    let (latency, wrk) = change_latency_under_wrk(&args, &writer, &node_agent).await?;
    report.change_under_scrapes = Some(latency);
    report.scrapes.push(wrk);

    eprintln!("[bench] scrape latency: node agent");
    report
        .scrapes
        .extend(scrape_matrix(&args, &writer, &node_agent, "node").await?);
    report.node_agent_after_churn = Some(memory(node_agent.pid())?);
    drop(node_agent);

    eprintln!("[bench] cluster-scope agent: start to ready");
    let (cluster_agent, start) = start_measured(
        &args,
        cluster,
        "",
        &["--scope=cluster", "--enable-gzip-encoding"],
    )
    .await?;
    report.cluster_start = Some(start);
    eprintln!("[bench] scrape latency: cluster-scope agent");
    report
        .scrapes
        .extend(scrape_matrix(&args, &writer, &cluster_agent, "cluster").await?);
    report.cluster_agent_after_churn = Some(memory(cluster_agent.pid())?);
    drop(cluster_agent);

    report.load_after = loadavg()?;
    report.write(&args.results)?;
    println!("{}", report.markdown());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Start, ready, memory
// ---------------------------------------------------------------------------------------------

/// Time to ready and memory of one agent.
#[derive(Debug, Clone, Serialize)]
struct StartFigures {
    flags: String,
    ready_ms: f64,
    rss_steady_kib: u64,
    rss_peak_kib: u64,
    peak_over_steady: f64,
    objects: f64,
    snapshot_bytes: f64,
    rss_steady_kib_per_1k_objects: f64,
    /// `rss_steady ≤ 2 × snapshot_bytes + 32 MiB`, the leader's memory target.
    rss_within_2x_body_plus_32mib: bool,
    api_bytes_initial: f64,
    /// `(ms since start, RSS KiB)` sampled every 10 ms until ready.
    #[serde(skip)]
    rss_series: Vec<(f64, u64)>,
}

/// Starts an agent, polls `/readyz` every 10 ms (sampling RSS as it goes), lets it settle, and
/// reads its memory and telemetry.
async fn start_measured(
    args: &Args,
    cluster: &Cluster,
    node: &str,
    flags: &[&str],
) -> anyhow::Result<(AgentProcess, StartFigures)> {
    let t0 = Instant::now();
    let mut agent = AgentProcess::spawn(&args.agent, &cluster.admin_kubeconfig(), node, flags, &[]);
    let mut series = Vec::new();
    agent
        .wait_ready_every(READY_TIMEOUT, Duration::from_millis(10), |pid| {
            if let Ok(m) = memory(pid) {
                series.push((t0.elapsed().as_secs_f64() * 1e3, m.rss_kib));
            }
        })
        .await;
    let ready_ms = t0.elapsed().as_secs_f64() * 1e3;
    tokio::time::sleep(Duration::from_secs(args.settle_seconds)).await;
    let mem = memory(agent.pid())?;
    let tel = telemetry(&agent).await?;
    let objects = tel.sum("ksa_snapshot_objects", &[]);
    let snapshot_bytes = tel.sum("ksa_snapshot_bytes", &[]);
    ensure!(objects > 0.0, "agent {flags:?} exports no objects");
    let figures = StartFigures {
        flags: format!("--node={node} {}", flags.join(" ")),
        ready_ms,
        rss_steady_kib: mem.rss_kib,
        rss_peak_kib: mem.hwm_kib,
        peak_over_steady: mem.hwm_kib as f64 / mem.rss_kib as f64,
        objects,
        snapshot_bytes,
        rss_steady_kib_per_1k_objects: mem.rss_kib as f64 / (objects / 1000.0),
        rss_within_2x_body_plus_32mib: (mem.rss_kib as f64) * 1024.0
            <= 2.0 * snapshot_bytes + 32.0 * 1024.0 * 1024.0,
        api_bytes_initial: tel.sum("ksa_api_response_bytes_total", &[]),
        rss_series: series,
    };
    eprintln!(
        "[bench]   ready in {:.0} ms; {} objects; RSS {} KiB steady, {} KiB peak",
        figures.ready_ms, figures.objects, figures.rss_steady_kib, figures.rss_peak_kib
    );
    Ok((agent, figures))
}

/// The agent's own metrics.
struct Telemetry(Exposition);

impl Telemetry {
    /// Sum of `name` over the samples whose labels include `filter`.
    fn sum(&self, name: &str, filter: &[(&str, &str)]) -> f64 {
        self.0
            .samples_of(name)
            .filter(|s| filter.iter().all(|(k, v)| s.label(k) == Some(v)))
            .map(|s| s.value)
            .sum()
    }
}

async fn telemetry(agent: &AgentProcess) -> anyhow::Result<Telemetry> {
    let (status, body) = agent
        .get_telemetry("/metrics")
        .await
        .map_err(anyhow::Error::msg)?;
    ensure!(status == 200, "telemetry /metrics answered {status}");
    Ok(Telemetry(
        Exposition::parse(&body).map_err(anyhow::Error::msg)?,
    ))
}

/// Polls the agent's telemetry every 20 ms until `name{filter}` reaches `target`; returns the
/// telemetry that reached it.
async fn wait_counter(
    agent: &AgentProcess,
    name: &str,
    filter: &[(&str, &str)],
    target: f64,
) -> anyhow::Result<Telemetry> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let tel = telemetry(agent).await?;
        let v = tel.sum(name, filter);
        if v >= target {
            return Ok(tel);
        }
        if Instant::now() > deadline {
            bail!("{name}{filter:?} stayed at {v}, below {target}, for 120 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

// ---------------------------------------------------------------------------------------------
// Writes: pod status updates and ConfigMap relabels
// ---------------------------------------------------------------------------------------------

/// One object the churn updates.
#[derive(Debug, Clone)]
enum Target {
    /// A pod's container restart count, through `/status`.
    Pod { ns: String, name: String },
    /// A ConfigMap's `churn` label.
    ConfigMap { ns: String, name: String },
}

/// Writes changes; every write carries a new value, so every write is a watch event.
#[derive(Clone)]
struct Writer {
    client: Client,
    next: Arc<AtomicI32>,
    namespaces: usize,
}

impl Writer {
    fn new(client: Client, args: &Args) -> Writer {
        // Start from the clock so a rerun on the same cluster still changes every value; stay
        // below 10^6, which the exposition writes in exponent form (`1e+06`, as Go does).
        let secs = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Writer {
            client,
            next: Arc::new(AtomicI32::new(((secs % 500) * 1000) as i32)),
            namespaces: args.namespaces,
        }
    }

    fn pod(&self, node: usize, i: usize) -> Target {
        Target::Pod {
            ns: format!("seed-{}", i % self.namespaces),
            name: format!("web-{node}-{i}"),
        }
    }

    fn configmap(&self, j: usize) -> Target {
        Target::ConfigMap {
            ns: format!("seed-{}", j % self.namespaces),
            name: format!("bulk-{j}"),
        }
    }

    /// Writes one change; returns the value written.
    async fn write(&self, target: &Target) -> anyhow::Result<i32> {
        let value = self.next.fetch_add(1, Ordering::Relaxed);
        match target {
            Target::Pod { ns, name } => {
                let statuses = pod(name)
                    .running(value)
                    .build()
                    .status
                    .and_then(|s| s.container_statuses);
                Api::<Pod>::namespaced(self.client.clone(), ns)
                    .patch_status(
                        name,
                        &PatchParams::default(),
                        &Patch::Merge(json!({"status": {"containerStatuses": statuses}})),
                    )
                    .await
                    .with_context(|| format!("patching the status of pod {ns}/{name}"))?;
            }
            Target::ConfigMap { ns, name } => {
                Api::<ConfigMap>::namespaced(self.client.clone(), ns)
                    .patch(
                        name,
                        &PatchParams::default(),
                        &Patch::Merge(
                            json!({"metadata": {"labels": {"churn": value.to_string()}}}),
                        ),
                    )
                    .await
                    .with_context(|| format!("relabelling configmap {ns}/{name}"))?;
            }
        }
        Ok(value)
    }
}

/// What a churn run did.
#[derive(Debug, Clone, Copy, Default, Serialize)]
struct ChurnStats {
    writes: usize,
    seconds: f64,
    writes_per_second: f64,
}

/// Writes `plan(k)` for k = 0, 1, … at `rate` per second (as fast as `concurrency` allows when
/// `None`) until `limit` writes or `stop`. The first failed write ends the run with its error.
async fn churn(
    writer: Writer,
    plan: Arc<dyn Fn(usize) -> Target + Send + Sync>,
    rate: Option<u32>,
    limit: Option<usize>,
    concurrency: usize,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<ChurnStats> {
    let t0 = Instant::now();
    let permits = Arc::new(Semaphore::new(concurrency));
    let failed: Arc<std::sync::Mutex<Option<anyhow::Error>>> = Arc::default();
    let done = Arc::new(AtomicUsize::new(0));
    let mut ticker = rate.map(|r| {
        let mut t = tokio::time::interval(Duration::from_secs_f64(1.0 / f64::from(r)));
        t.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        t
    });
    let mut k = 0;
    while !stop.load(Ordering::Relaxed) && limit.is_none_or(|l| k < l) {
        if let Some(t) = ticker.as_mut() {
            t.tick().await;
        }
        let permit = permits.clone().acquire_owned().await?;
        if let Some(e) = failed.lock().expect("lock").take() {
            return Err(e);
        }
        let (writer, target, failed, done) =
            (writer.clone(), plan(k), failed.clone(), done.clone());
        tokio::spawn(async move {
            match writer.write(&target).await {
                Ok(_) => {
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Err(e) => *failed.lock().expect("lock") = Some(e),
            }
            drop(permit);
        });
        k += 1;
    }
    // Every write in flight finishes before the run counts as done.
    let _all = permits.acquire_many(concurrency as u32).await?;
    if let Some(e) = failed.lock().expect("lock").take() {
        return Err(e);
    }
    let seconds = t0.elapsed().as_secs_f64();
    let writes = done.load(Ordering::Relaxed);
    Ok(ChurnStats {
        writes,
        seconds,
        writes_per_second: writes as f64 / seconds,
    })
}

/// The background churn: 20 % pod updates on node-1, 55 % on the other nodes, 25 % ConfigMap
/// relabels (pods instead when there are no bulk ConfigMaps).
fn mixed_plan(args: &Args, writer: &Writer) -> Arc<dyn Fn(usize) -> Target + Send + Sync> {
    let (w, nodes, per_node, configmaps) = (
        writer.clone(),
        args.nodes,
        args.pods_per_node,
        args.configmaps,
    );
    Arc::new(move |k| {
        let round = k / 20;
        match k % 20 {
            0..4 => w.pod(1, (round * 4 + k % 20) % per_node),
            slot @ 4..15 => {
                let j = round * 11 + slot - 4;
                w.pod(2 + j % (nodes - 1).max(1), (j / nodes) % per_node)
            }
            slot if configmaps > 0 => w.configmap((round * 5 + slot - 15) % configmaps),
            slot => w.pod(1 + k % nodes, (round + slot) % per_node),
        }
    })
}

/// A churn running in the background until [`Background::stop`].
struct Background {
    stop: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<anyhow::Result<ChurnStats>>,
}

impl Background {
    fn start(args: &Args, writer: &Writer) -> Background {
        let stop = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(churn(
            writer.clone(),
            mixed_plan(args, writer),
            Some(args.churn_rate),
            None,
            64,
            stop.clone(),
        ));
        Background { stop, task }
    }

    async fn stop(self) -> anyhow::Result<ChurnStats> {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await?
    }
}

// ---------------------------------------------------------------------------------------------
// Ingest and API bytes
// ---------------------------------------------------------------------------------------------

/// Pod events one node agent takes in, and its CPU per event.
#[derive(Debug, Clone, Serialize)]
struct Ingest {
    events: f64,
    /// Pod watch bytes read from the API server per event (`ksa_api_response_bytes_total`).
    api_bytes_per_event: f64,
    write_rate: ChurnStats,
    /// Events the agent counted per second, first write to last event seen.
    events_per_second: f64,
    cpu_seconds: f64,
    cpu_us_per_event: f64,
    /// `1e6 / cpu_us_per_event`: what one core would take at this cost.
    events_per_core_second: f64,
}

async fn ingest(args: &Args, writer: &Writer, agent: &AgentProcess) -> anyhow::Result<Ingest> {
    let pods = [("resource", "pods")];
    let tel_before = telemetry(agent).await?;
    let before = tel_before.sum("ksa_watch_events_total", &pods);
    let bytes_before = tel_before.sum("ksa_api_response_bytes_total", &pods);
    let cpu_before = cpu_seconds(agent.pid())?;
    let t0 = Instant::now();
    let w = writer.clone();
    let per_node = args.pods_per_node;
    let stats = churn(
        writer.clone(),
        Arc::new(move |k| w.pod(1, k % per_node)),
        None,
        Some(args.ingest_events),
        args.concurrency,
        Arc::default(),
    )
    .await?;
    let target = before + args.ingest_events as f64;
    let tel = wait_counter(agent, "ksa_watch_events_total", &pods, target).await?;
    let seconds = t0.elapsed().as_secs_f64();
    // One snapshot interval more, so the last events are rendered too.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let cpu = cpu_seconds(agent.pid())? - cpu_before;
    let events = tel.sum("ksa_watch_events_total", &pods) - before;
    let api_bytes = tel.sum("ksa_api_response_bytes_total", &pods) - bytes_before;
    let us = cpu * 1e6 / events;
    eprintln!(
        "[bench]   {events} events in {seconds:.1} s; {us:.1} µs CPU and {:.0} API bytes per event",
        api_bytes / events
    );
    Ok(Ingest {
        events,
        api_bytes_per_event: api_bytes / events,
        write_rate: stats,
        events_per_second: events / seconds,
        cpu_seconds: cpu,
        cpu_us_per_event: us,
        events_per_core_second: 1e6 / us,
    })
}

/// One `--api-encoding` measured on its own agents: what issue #13 compares side by side.
#[derive(Debug, Clone, Serialize)]
struct EncodingFigures {
    encoding: String,
    node: StartFigures,
    /// Pod bytes read from the API server up to ready and settled: the initial list (and the
    /// watch's idle bytes until then).
    node_pod_list_bytes: f64,
    ingest: Ingest,
    node_after_ingest: Memory,
    cluster: StartFigures,
}

/// Starts a node agent with `--api-encoding=<encoding>`, reads its pod list bytes, runs the
/// ingest on it (CPU and API bytes per pod event), then starts a cluster-scope agent with the
/// same encoding. Each agent is stopped before the next starts, so they do not share the CPU.
async fn encoding_pass(
    args: &Args,
    cluster: &Cluster,
    writer: &Writer,
    encoding: &str,
) -> anyhow::Result<EncodingFigures> {
    let flag = format!("--api-encoding={encoding}");
    eprintln!("[bench] {flag}: node agent (node-1)");
    let (node_agent, node) = start_measured(
        args,
        cluster,
        "node-1",
        &["--leader-election=false", "--enable-gzip-encoding", &flag],
    )
    .await?;
    let node_pod_list_bytes = telemetry(&node_agent)
        .await?
        .sum("ksa_api_response_bytes_total", &[("resource", "pods")]);
    eprintln!("[bench]   pod list: {node_pod_list_bytes:.0} B");
    eprintln!(
        "[bench] {flag}: ingest, {} pod updates on node-1",
        args.ingest_events
    );
    let ingest = ingest(args, writer, &node_agent).await?;
    let node_after_ingest = memory(node_agent.pid())?;
    drop(node_agent);
    eprintln!("[bench] {flag}: cluster-scope agent");
    let (cluster_agent, cluster) = start_measured(
        args,
        cluster,
        "",
        &["--scope=cluster", "--enable-gzip-encoding", &flag],
    )
    .await?;
    drop(cluster_agent);
    Ok(EncodingFigures {
        encoding: encoding.into(),
        node,
        node_pod_list_bytes,
        ingest,
        node_after_ingest,
        cluster,
    })
}

/// API bytes of the node agent against an agent watching every pod.
#[derive(Debug, Clone, Serialize)]
struct ApiBytes {
    nodes: usize,
    node_agent_initial: f64,
    cluster_pods_initial: f64,
    initial_ratio: f64,
    churn_events: usize,
    node_agent_churn: f64,
    cluster_pods_churn: f64,
    churn_ratio: f64,
    one_over_n: f64,
}

async fn api_bytes(
    args: &Args,
    cluster: &Cluster,
    writer: &Writer,
    node_agent: &AgentProcess,
) -> anyhow::Result<ApiBytes> {
    let mut wide = AgentProcess::spawn(
        &args.agent,
        &cluster.admin_kubeconfig(),
        "",
        &["--scope=cluster", "--resources=pods"],
        &[],
    );
    wide.wait_ready(READY_TIMEOUT).await;
    let bytes = "ksa_api_response_bytes_total";
    let pods = [("resource", "pods")];
    let node_before = telemetry(node_agent).await?.sum(bytes, &[]);
    let wide_tel = telemetry(&wide).await?;
    let wide_before = wide_tel.sum(bytes, &[]);
    let wide_events = wide_tel.sum("ksa_watch_events_total", &pods);
    let node_events = telemetry(node_agent)
        .await?
        .sum("ksa_watch_events_total", &pods);

    // Every node gets the same share of updates.
    let (w, nodes, per_node) = (writer.clone(), args.nodes, args.pods_per_node);
    let n = args.bytes_events;
    churn(
        writer.clone(),
        Arc::new(move |k| w.pod(1 + k % nodes, (k / nodes) % per_node)),
        None,
        Some(n),
        args.concurrency,
        Arc::default(),
    )
    .await?;
    let on_node_1 = n.div_ceil(nodes);
    wait_counter(
        &wide,
        "ksa_watch_events_total",
        &pods,
        wide_events + n as f64,
    )
    .await?;
    wait_counter(
        node_agent,
        "ksa_watch_events_total",
        &pods,
        node_events + on_node_1 as f64,
    )
    .await?;
    let node_after = telemetry(node_agent).await?.sum(bytes, &[]);
    let wide_after = telemetry(&wide).await?.sum(bytes, &[]);
    let initial = ApiBytes {
        nodes,
        node_agent_initial: node_before,
        cluster_pods_initial: wide_before,
        initial_ratio: node_before / wide_before,
        churn_events: n,
        node_agent_churn: node_after - node_before,
        cluster_pods_churn: wide_after - wide_before,
        churn_ratio: (node_after - node_before) / (wide_after - wide_before),
        one_over_n: 1.0 / nodes as f64,
    };
    eprintln!(
        "[bench]   initial {:.4}, churn {:.4}, 1/N {:.4}",
        initial.initial_ratio, initial.churn_ratio, initial.one_over_n
    );
    Ok(initial)
}

// ---------------------------------------------------------------------------------------------
// Scrapes
// ---------------------------------------------------------------------------------------------

/// One `wrk` run.
#[derive(Debug, Clone, Serialize)]
struct Scrape {
    agent: String,
    encoding: String,
    load: String,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
    requests_per_second: f64,
    errors: u64,
    churn: Option<ChurnStats>,
}

fn wrk_command(url: &str, gzip: bool, seconds: u64) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("wrk");
    cmd.args(["-t2", "-c4", &format!("-d{seconds}s"), "--latency"]);
    if gzip {
        cmd.args(["-H", "Accept-Encoding: gzip"]);
    }
    cmd.arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn wrk(
    agent: &AgentProcess,
    name: &str,
    gzip: bool,
    load: &str,
    seconds: u64,
) -> anyhow::Result<Scrape> {
    let url = format!("{}/metrics", agent.url());
    let out = wrk_command(&url, gzip, seconds).output().await?;
    ensure!(
        out.status.success(),
        "wrk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    parse_wrk(&String::from_utf8(out.stdout)?, name, gzip, load)
}

/// Reads the latency distribution and request rate `wrk --latency` prints.
fn parse_wrk(text: &str, agent: &str, gzip: bool, load: &str) -> anyhow::Result<Scrape> {
    let percentile = |p: &str| -> anyhow::Result<f64> {
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| l.starts_with(p) && l[p.len()..].starts_with(char::is_whitespace))
            .with_context(|| format!("no {p} line in wrk output:\n{text}"))?;
        duration_ms(line.split_whitespace().nth(1).unwrap_or(""))
    };
    let rps = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok())
        .with_context(|| format!("no Requests/sec in wrk output:\n{text}"))?;
    let count = |prefix: &str| -> u64 {
        text.lines()
            .find_map(|l| l.trim().strip_prefix(prefix))
            .map(|v| {
                v.split(|c: char| !c.is_ascii_digit())
                    .filter_map(|n| n.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0)
    };
    Ok(Scrape {
        agent: agent.into(),
        encoding: if gzip { "gzip" } else { "plain" }.into(),
        load: load.into(),
        p50_ms: percentile("50%")?,
        p90_ms: percentile("90%")?,
        p99_ms: percentile("99%")?,
        requests_per_second: rps,
        errors: count("Non-2xx or 3xx responses:") + count("Socket errors:"),
        churn: None,
    })
}

/// `635.00us`, `1.20ms`, `2.01s` → milliseconds.
fn duration_ms(s: &str) -> anyhow::Result<f64> {
    let split = s
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {s:?}"))?;
    let (num, unit) = s.split_at(split);
    let v: f64 = num.parse().with_context(|| format!("number in {s:?}"))?;
    Ok(match unit {
        "us" => v / 1e3,
        "ms" => v,
        "s" => v * 1e3,
        "m" => v * 60e3,
        _ => bail!("unknown unit in {s:?}"),
    })
}

/// Plain and gzip scrapes of one agent, idle and then under the background churn.
async fn scrape_matrix(
    args: &Args,
    writer: &Writer,
    agent: &AgentProcess,
    name: &str,
) -> anyhow::Result<Vec<Scrape>> {
    let mut out = Vec::new();
    for gzip in [false, true] {
        out.push(wrk(agent, name, gzip, "idle", args.wrk_seconds).await?);
    }
    let background = Background::start(args, writer);
    let mut churned = Vec::new();
    for gzip in [false, true] {
        churned.push(wrk(agent, name, gzip, "churn", args.wrk_seconds).await?);
    }
    let stats = background.stop().await?;
    for mut s in churned {
        s.churn = Some(stats);
        out.push(s);
    }
    for s in &out {
        eprintln!(
            "[bench]   {} {} {}: p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s",
            s.agent, s.encoding, s.load, s.p50_ms, s.p99_ms, s.requests_per_second
        );
    }
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Change to scrapeable
// ---------------------------------------------------------------------------------------------

/// Times from a pod status write to the new value in `/metrics`.
#[derive(Debug, Clone, Serialize)]
struct ChangeLatency {
    load: String,
    repetitions: usize,
    /// From sending the write.
    from_write_p50_ms: f64,
    from_write_p99_ms: f64,
    /// From the apiserver's answer to the write.
    from_ack_p50_ms: f64,
    from_ack_p99_ms: f64,
    samples_from_write_ms: Vec<f64>,
}

async fn change_latency(
    args: &Args,
    writer: &Writer,
    agent: &AgentProcess,
    load: Option<&str>,
) -> anyhow::Result<ChangeLatency> {
    // A pod that seeds as Running (index 3 of node-1).
    let target = writer.pod(1, 3);
    let Target::Pod { name, .. } = &target else {
        unreachable!("writer.pod makes a pod target")
    };
    let prefix = "kube_pod_container_status_restarts_total{";
    let pod_label = format!("pod=\"{name}\"");
    let (mut from_write, mut from_ack) = (Vec::new(), Vec::new());
    for _ in 0..args.repetitions {
        // A random pause, so writes do not lock onto the snapshot interval's phase.
        let pause = rand::rng().random_range(0..200);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        let t0 = Instant::now();
        let value = writer.write(&target).await?;
        let acked = t0.elapsed();
        let wanted = f64::from(value);
        let deadline = t0 + Duration::from_secs(10);
        loop {
            let (_, body) = agent.get("/metrics").await.map_err(anyhow::Error::msg)?;
            let seen = body
                .lines()
                .filter(|l| l.starts_with(prefix) && l.contains(&pod_label))
                .any(|l| l.rsplit(' ').next().and_then(|v| v.parse::<f64>().ok()) == Some(wanted));
            if seen {
                break;
            }
            ensure!(
                Instant::now() < deadline,
                "restart count {value} of {name} not scrapeable after 10 s"
            );
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        let total = t0.elapsed();
        from_write.push(total.as_secs_f64() * 1e3);
        from_ack.push((total - acked).as_secs_f64() * 1e3);
    }
    let figures = ChangeLatency {
        load: load.unwrap_or("idle").into(),
        repetitions: args.repetitions,
        from_write_p50_ms: percentile(&from_write, 50.0),
        from_write_p99_ms: percentile(&from_write, 99.0),
        from_ack_p50_ms: percentile(&from_ack, 50.0),
        from_ack_p99_ms: percentile(&from_ack, 99.0),
        samples_from_write_ms: from_write,
    };
    eprintln!(
        "[bench]   p50 {:.1} ms, p99 {:.1} ms from the write",
        figures.from_write_p50_ms, figures.from_write_p99_ms
    );
    Ok(figures)
}

/// The change latency while `wrk` scrapes the same agent; returns wrk's figures too.
async fn change_latency_under_wrk(
    args: &Args,
    writer: &Writer,
    agent: &AgentProcess,
) -> anyhow::Result<(ChangeLatency, Scrape)> {
    let url = format!("{}/metrics", agent.url());
    // Long enough for the repetitions; interrupted (wrk prints its report on SIGINT) after.
    let child = wrk_command(&url, false, 600).spawn()?;
    let pid = child.id().context("wrk has no pid")?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let latency = change_latency(args, writer, agent, Some("wrk -t2 -c4 on /metrics")).await;
    std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()?;
    let out = child.wait_with_output().await?;
    let scrape = parse_wrk(
        &String::from_utf8(out.stdout)?,
        "node",
        false,
        "changes (1 pod write at a time)",
    )?;
    Ok((latency?, scrape))
}

fn percentile(samples: &[f64], p: f64) -> f64 {
    let mut v = samples.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    // Nearest rank.
    let rank = ((p / 100.0) * v.len() as f64).ceil().max(1.0) as usize;
    v[rank.min(v.len()) - 1]
}

// ---------------------------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------------------------

#[derive(Debug, Default, Serialize)]
struct Report {
    cores: usize,
    load_before: String,
    load_after: String,
    nodes: usize,
    pods_per_node: usize,
    churn_rate: u32,
    wrk_seconds: u64,
    node_start: Option<StartFigures>,
    cluster_start: Option<StartFigures>,
    node_agent_after_churn: Option<Memory>,
    cluster_agent_after_churn: Option<Memory>,
    ingest: Option<Ingest>,
    api_bytes: Option<ApiBytes>,
    change_idle: Option<ChangeLatency>,
    change_under_scrapes: Option<ChangeLatency>,
    scrapes: Vec<Scrape>,
    encodings: Vec<EncodingFigures>,
}

impl Report {
    fn write(&self, dir: &Path) -> anyhow::Result<()> {
        std::fs::write(
            dir.join("results.json"),
            serde_json::to_string_pretty(self)?,
        )?;
        std::fs::write(dir.join("summary.md"), self.markdown())?;
        let mut csv = String::from("agent,encoding,load,p50_ms,p90_ms,p99_ms,rps,errors\n");
        for s in &self.scrapes {
            csv += &format!(
                "{},{},{},{},{},{},{:.0},{}\n",
                s.agent,
                s.encoding,
                s.load,
                s.p50_ms,
                s.p90_ms,
                s.p99_ms,
                s.requests_per_second,
                s.errors
            );
        }
        std::fs::write(dir.join("scrapes.csv"), csv)?;
        // Scrape percentiles per agent/encoding, idle and churn side by side, for gnuplot.
        let mut dat = String::from("# case p50_idle p99_idle p50_churn p99_churn\n");
        let mut cases: BTreeMap<(String, String), [f64; 4]> = BTreeMap::new();
        for s in self
            .scrapes
            .iter()
            .filter(|s| s.load == "idle" || s.load == "churn")
        {
            let e = cases
                .entry((s.agent.clone(), s.encoding.clone()))
                .or_insert([f64::NAN; 4]);
            let at = if s.load == "idle" { 0 } else { 2 };
            e[at] = s.p50_ms;
            e[at + 1] = s.p99_ms;
        }
        for ((agent, enc), v) in cases.iter().rev() {
            dat += &format!("\"{agent} {enc}\" {} {} {} {}\n", v[0], v[1], v[2], v[3]);
        }
        std::fs::write(dir.join("scrapes.dat"), dat)?;
        for (name, start) in [("node", &self.node_start), ("cluster", &self.cluster_start)] {
            if let Some(s) = start {
                let mut csv = String::from("ms,rss_kib\n");
                for (t, rss) in &s.rss_series {
                    csv += &format!("{t:.0},{rss}\n");
                }
                std::fs::write(dir.join(format!("rss-startup-{name}.csv")), csv)?;
            }
        }
        Ok(())
    }

    fn markdown(&self) -> String {
        let mut m = format!(
            "Machine: {} cores; load average before {}, after {}.\n\n",
            self.cores, self.load_before, self.load_after
        );
        m += &self.encodings_markdown();
        m += "| Measure | Value | Target | Met |\n|---|---|---|---|\n";
        let mut row = |what: &str, value: String, target: &str, met: Option<bool>| {
            let met = match met {
                Some(true) => "yes",
                Some(false) => "**no**",
                None => "",
            };
            m += &format!("| {what} | {value} | {target} | {met} |\n");
        };
        let mib = |kib: u64| kib as f64 / 1024.0;
        for (label, start) in [
            ("node agent (node-1)", &self.node_start),
            ("cluster-scope agent", &self.cluster_start),
        ] {
            let Some(s) = start else { continue };
            row(
                &format!("{label}: objects / text body"),
                format!("{:.0} / {:.1} MiB", s.objects, s.snapshot_bytes / 1048576.0),
                "",
                None,
            );
            row(
                &format!("{label}: start to ready"),
                format!("{:.0} ms", s.ready_ms),
                "",
                None,
            );
            let is_node = label.starts_with("node");
            row(
                &format!("{label}: RSS steady / peak"),
                format!(
                    "{:.1} / {:.1} MiB ({:.0} KiB per 1k objects)",
                    mib(s.rss_steady_kib),
                    mib(s.rss_peak_kib),
                    s.rss_steady_kib_per_1k_objects
                ),
                if is_node {
                    "≤ 32 MiB"
                } else {
                    "≤ 2 × body + 32 MiB"
                },
                Some(if is_node {
                    s.rss_steady_kib <= 32 * 1024
                } else {
                    s.rss_within_2x_body_plus_32mib
                }),
            );
            row(
                &format!("{label}: peak / steady RSS"),
                format!("{:.2}", s.peak_over_steady),
                "≤ 1.3",
                Some(s.peak_over_steady <= 1.3),
            );
        }
        for s in &self.scrapes {
            let node = s.agent == "node";
            row(
                &format!("scrape {} {} ({})", s.agent, s.encoding, s.load),
                format!(
                    "p50 {:.2} ms, p99 {:.2} ms, {:.0} req/s{}",
                    s.p50_ms,
                    s.p99_ms,
                    s.requests_per_second,
                    s.churn.map_or(String::new(), |c| format!(
                        ", churn {:.0}/s",
                        c.writes_per_second
                    ))
                ),
                if node {
                    "p99 ≤ 2 ms"
                } else {
                    "p99 ≤ 100 ms (at 100k)"
                },
                Some(s.p99_ms <= if node { 2.0 } else { 100.0 }),
            );
        }
        if let Some(i) = &self.ingest {
            row(
                "ingest (node agent): pod events/s observed",
                format!(
                    "{:.0} (writes {:.0}/s)",
                    i.events_per_second, i.write_rate.writes_per_second
                ),
                "",
                None,
            );
            row(
                "ingest: CPU per event → events/s per core",
                format!(
                    "{:.1} µs → {:.0}",
                    i.cpu_us_per_event, i.events_per_core_second
                ),
                "≥ 20 000/s",
                Some(i.events_per_core_second >= 20_000.0),
            );
        }
        if let Some(b) = &self.api_bytes {
            row(
                "API bytes node agent / cluster-wide pods: initial list",
                format!(
                    "{:.0} / {:.0} B = {:.4} (1/N = {:.4})",
                    b.node_agent_initial, b.cluster_pods_initial, b.initial_ratio, b.one_over_n
                ),
                "≤ 1/N + Node object",
                None,
            );
            row(
                &format!(
                    "API bytes node agent / cluster-wide pods: {} updates",
                    b.churn_events
                ),
                format!(
                    "{:.0} / {:.0} B = {:.4}",
                    b.node_agent_churn, b.cluster_pods_churn, b.churn_ratio
                ),
                "≤ 1/N",
                Some(b.churn_ratio <= b.one_over_n * 1.05),
            );
        }
        for c in [&self.change_idle, &self.change_under_scrapes]
            .into_iter()
            .flatten()
        {
            row(
                &format!("change → scrapeable ({}, n={})", c.load, c.repetitions),
                format!(
                    "p50 {:.1} ms, p99 {:.1} ms from the write; p50 {:.1} ms from the ack",
                    c.from_write_p50_ms, c.from_write_p99_ms, c.from_ack_p50_ms
                ),
                "",
                None,
            );
        }
        m
    }
}

/// One cell of the encodings table: a figure of one encoding, formatted.
type Cell = dyn Fn(&EncodingFigures) -> String;

impl Report {
    /// The encodings side by side, one column each (nothing when none was measured).
    fn encodings_markdown(&self) -> String {
        if self.encodings.is_empty() {
            return String::new();
        }
        let mut m = String::from("| node-1 and cluster scope |");
        for e in &self.encodings {
            m += &format!(" `--api-encoding={}` |", e.encoding);
        }
        m += "\n|---|";
        m += &"---|".repeat(self.encodings.len());
        m += "\n";
        fn kib(b: f64) -> f64 {
            b / 1024.0
        }
        fn mib(k: u64) -> f64 {
            k as f64 / 1024.0
        }
        let rows: [(&str, &Cell); 9] = [
            ("node agent: objects (its pods, its Node)", &|e| {
                format!("{:.0}", e.node.objects)
            }),
            ("node agent: API bytes of the pod list", &|e| {
                format!("{:.0} B", e.node_pod_list_bytes)
            }),
            ("node agent: API bytes per pod event", &|e| {
                format!("{:.0} B", e.ingest.api_bytes_per_event)
            }),
            ("node agent: CPU per pod event (all-in)", &|e| {
                format!(
                    "{:.1} µs ({:.0} events/s per core)",
                    e.ingest.cpu_us_per_event, e.ingest.events_per_core_second
                )
            }),
            ("node agent: pod events/s observed", &|e| {
                format!("{:.0}", e.ingest.events_per_second)
            }),
            (
                "node agent: start → ready; RSS steady / after ingest",
                &|e| {
                    format!(
                        "{:.0} ms; {:.1} / {:.1} MiB",
                        e.node.ready_ms,
                        mib(e.node.rss_steady_kib),
                        mib(e.node_after_ingest.rss_kib)
                    )
                },
            ),
            ("cluster scope: objects", &|e| {
                format!("{:.0}", e.cluster.objects)
            }),
            ("cluster scope: API bytes of the initial lists", &|e| {
                format!("{:.1} KiB", kib(e.cluster.api_bytes_initial))
            }),
            ("cluster scope: start → ready; RSS steady / peak", &|e| {
                format!(
                    "{:.0} ms; {:.1} / {:.1} MiB",
                    e.cluster.ready_ms,
                    mib(e.cluster.rss_steady_kib),
                    mib(e.cluster.rss_peak_kib)
                )
            }),
        ];
        for (what, value) in rows {
            m += &format!("| {what} |");
            for e in &self.encodings {
                m += &format!(" {} |", value(e));
            }
            m += "\n";
        }
        m += "\n";
        m
    }
}

fn loadavg() -> anyhow::Result<String> {
    let s = std::fs::read_to_string("/proc/loadavg")?;
    Ok(s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
}

fn which(tool: &str) -> anyhow::Result<()> {
    let found = std::process::Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(std::process::Stdio::null())
        .status()?
        .success();
    ensure!(
        found,
        "{tool} is not installed: run `scripts/cluster bench-deps`"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_wrk_latency_distribution() {
        let out = "Running 20s test @ http://127.0.0.1:1/metrics\n  2 threads and 4 connections\n  Latency Distribution\n     50%  635.00us\n     75%  712.00us\n     90%  800.00us\n     99%    1.20ms\n  1000 requests in 20.00s, 1.00MB read\n  Non-2xx or 3xx responses: 3\nRequests/sec:   6000.50\nTransfer/sec:      1.00MB\n";
        let s = parse_wrk(out, "node", true, "idle").unwrap();
        assert_eq!((s.p50_ms, s.p90_ms, s.p99_ms), (0.635, 0.8, 1.2));
        assert_eq!(s.requests_per_second, 6000.5);
        assert_eq!(s.errors, 3);
        assert!(parse_wrk("garbage", "node", false, "idle").is_err());
    }

    #[test]
    fn nearest_rank_percentile() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
    }
}
