//! The node agent against the real apiserver: scope, convergence on change and delete,
//! consistency under churn, and a real Prometheus scraping it.

use std::collections::BTreeSet;
use std::time::Duration;

use testkit::agent::AgentProcess;
use testkit::exposition::Exposition;
use testkit::objects::{
    TestNamespace, create_node, create_pod, delete_node, delete_pod_now, node, node_status, pod,
    set_pod_status, unique,
};
use testkit::prometheus::Prometheus;
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
/// Node-scope tests run without the election: the leader-only kinds are tested in `leader.rs`.
const NO_ELECTION: &[&str] = &["--leader-election", "false"];
const CONVERGE: Duration = Duration::from_secs(20);

fn pods_in(e: &Exposition, ns: &str) -> BTreeSet<String> {
    e.samples_of("kube_pod_info")
        .filter(|s| s.label("namespace") == Some(ns))
        .filter_map(|s| s.label("pod").map(str::to_string))
        .collect()
}

fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// Runs `command` with `input` on its standard input; whether it succeeded, and what it printed
/// (standard output, then standard error).
fn pipe(command: &mut std::process::Command, input: &str) -> (bool, String) {
    use std::io::Write as _;
    use std::process::Stdio;
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("running {command:?} (scripts/cluster deps installs it): {e}"));
    child
        .stdin
        .take()
        .expect("piped stdin")
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let report = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), report)
}

/// Two nodes with pods on each; returns (namespace guard, node-1 name, node-2 name).
async fn two_nodes_with_pods(
    client: &kube::Client,
    prefix: &str,
) -> (TestNamespace, String, String) {
    let ns = TestNamespace::create(client, prefix).await;
    let (n1, n2) = (unique("n1"), unique("n2"));
    create_node(client, node(&n1), node_status("True")).await;
    create_node(client, node(&n2), node_status("True")).await;
    for (name, n) in [("a-1", &n1), ("a-2", &n1), ("b-1", &n2)] {
        let p = pod(name)
            .in_namespace(ns.name())
            .on_node(n)
            .owned_by("ReplicaSet", "web-1")
            .running(1);
        create_pod(client, ns.name(), p.build()).await;
    }
    (ns, n1, n2)
}

#[tokio::test]
async fn node_agent_exports_its_own_pods_and_node_and_nothing_of_another_node() {
    let client = Cluster::get().client().await;
    let (ns, n1, n2) = two_nodes_with_pods(&client, "scope").await;
    let mut agent = AgentProcess::start(&n1, NO_ELECTION);
    agent.wait_ready(READY).await;

    let scrape = poll_until("node-1's pods in the scrape", CONVERGE, || async {
        let e = agent.scrape().await?;
        let pods = pods_in(&e, ns.name());
        if pods == set(&["a-1", "a-2"]) {
            Ok(e)
        } else {
            Err(format!("{pods:?}"))
        }
    })
    .await;
    assert_eq!(
        scrape.label_values("kube_node_info", "node"),
        vec![n1.clone()]
    );
    assert!(
        scrape
            .samples
            .iter()
            .all(|s| s.label("node") != Some(n2.as_str())),
        "a series of the other node leaked"
    );
    for s in scrape
        .samples_of("kube_pod_info")
        .filter(|s| s.label("namespace") == Some(ns.name()))
    {
        assert_eq!(s.label("node"), Some(n1.as_str()));
        assert_eq!(s.label("created_by_kind"), Some("ReplicaSet"));
    }
    delete_node(&client, &n1).await;
    delete_node(&client, &n2).await;
}

#[tokio::test]
async fn a_status_update_shows_in_the_next_scrape_and_a_deleted_pod_disappears() {
    let client = Cluster::get().client().await;
    let (ns, n1, n2) = two_nodes_with_pods(&client, "converge").await;
    let mut agent = AgentProcess::start(&n1, NO_ELECTION);
    agent.wait_ready(READY).await;

    let restarts = |e: &Exposition| -> Option<f64> {
        e.samples_of("kube_pod_container_status_restarts_total")
            .find(|s| s.label("namespace") == Some(ns.name()) && s.label("pod") == Some("a-1"))
            .map(|s| s.value)
    };
    poll_until("a-1 with 1 restart", CONVERGE, || async {
        let e = agent.scrape().await?;
        if restarts(&e) == Some(1.0) {
            Ok(())
        } else {
            Err(format!("{:?}", restarts(&e)))
        }
    })
    .await;

    let status = pod("a-1").running(7).build().status.unwrap();
    set_pod_status(&client, ns.name(), "a-1", status).await;
    poll_until("a-1 with 7 restarts", CONVERGE, || async {
        let e = agent.scrape().await?;
        if restarts(&e) == Some(7.0) {
            Ok(())
        } else {
            Err(format!("{:?}", restarts(&e)))
        }
    })
    .await;

    delete_pod_now(&client, ns.name(), "a-1").await;
    let e = poll_until("a-1 gone", CONVERGE, || async {
        let e = agent.scrape().await?;
        let pods = pods_in(&e, ns.name());
        if pods == set(&["a-2"]) {
            Ok(e)
        } else {
            Err(format!("{pods:?}"))
        }
    })
    .await;
    assert!(
        e.samples.iter().all(|s| s.label("pod") != Some("a-1")),
        "rows of the deleted pod linger"
    );
    delete_node(&client, &n1).await;
    delete_node(&client, &n2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_scrapes_during_pod_churn_are_each_whole_and_consistent() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "churn").await;
    let n1 = unique("churn-node");
    create_node(&client, node(&n1), node_status("True")).await;
    let mut agent = AgentProcess::start(&n1, NO_ELECTION);
    agent.wait_ready(READY).await;

    let churn = {
        let client = client.clone();
        let ns = ns.name().to_string();
        let n1 = n1.clone();
        tokio::spawn(async move {
            for i in 0..40 {
                let name = format!("churn-{i}");
                create_pod(
                    &client,
                    &ns,
                    pod(&name)
                        .in_namespace(&ns)
                        .on_node(&n1)
                        .running(i % 3)
                        .build(),
                )
                .await;
                if i % 2 == 0 {
                    let status = pod(&name).running(9).build().status.unwrap();
                    set_pod_status(&client, &ns, &name, status).await;
                }
                if i % 3 == 0 {
                    delete_pod_now(&client, &ns, &name).await;
                }
            }
        })
    };
    let mut scrapes = 0;
    let mut saw_pods = false;
    while !churn.is_finished() || scrapes < 40 {
        let results = futures::future::join_all((0..8).map(|_| agent.scrape())).await;
        for r in results {
            // Exposition::parse rejects a family announced twice, split, or interleaved.
            let e = r.unwrap_or_else(|err| panic!("a scrape did not parse: {err}"));
            scrapes += 1;
            // Each object is all-or-nothing: every pod with an info row has its other rows,
            // and status-derived families agree with each other. (A pod is created before
            // its status is written, so status families may lag spec families, never split.)
            let uids = |name: &str| -> BTreeSet<String> {
                e.samples_of(name)
                    .filter(|s| s.label("namespace") == Some(ns.name()))
                    .filter_map(|s| s.label("uid").map(str::to_string))
                    .collect()
            };
            let info = uids("kube_pod_info");
            saw_pods |= !info.is_empty();
            assert_eq!(info, uids("kube_pod_created"), "half-written object");
            assert_eq!(info, uids("kube_pod_status_phase"), "half-written object");
            assert_eq!(info, uids("kube_pod_owner"), "half-written object");
            assert_eq!(
                info,
                uids("kube_pod_container_resource_requests"),
                "half-written object"
            );
            assert_eq!(
                uids("kube_pod_container_status_restarts_total"),
                uids("kube_pod_container_status_ready"),
                "half-written object"
            );
        }
    }
    churn.await.unwrap();
    assert!(saw_pods, "the churn never showed up in a scrape");
    // After the churn, the scrape converges on exactly the pods left.
    let left: BTreeSet<String> = (0..40)
        .filter(|i| i % 3 != 0)
        .map(|i| format!("churn-{i}"))
        .collect();
    poll_until("the surviving pods", CONVERGE, || async {
        let pods = pods_in(&agent.scrape().await?, ns.name());
        if pods == left {
            Ok(())
        } else {
            Err(format!("{} pods", pods.len()))
        }
    })
    .await;
    delete_node(&client, &n1).await;
}

#[tokio::test]
async fn promtool_accepts_the_exposition_and_prometheus_scrapes_it() {
    let client = Cluster::get().client().await;
    let (ns, n1, n2) = two_nodes_with_pods(&client, "prom").await;
    let mut agent = AgentProcess::start(
        &n1,
        &["--enable-gzip-encoding", "--leader-election", "false"],
    );
    agent.wait_ready(READY).await;
    poll_until("pods in the scrape", CONVERGE, || async {
        let pods = pods_in(&agent.scrape().await?, ns.name());
        if pods.len() == 2 {
            Ok(())
        } else {
            Err(format!("{pods:?}"))
        }
    })
    .await;

    // promtool parses with Prometheus' own text parser.
    let (_, body) = agent.get("/metrics").await.unwrap();
    let (_, report) = pipe(
        std::process::Command::new("promtool").args(["check", "metrics"]),
        &body,
    );
    assert!(
        !report.contains("error while linting") && !report.contains("text format parsing error"),
        "promtool could not parse the exposition: {report}"
    );

    // prometheus_client's OpenMetrics parser is strict where Prometheus is lenient: a counter
    // family declared under its samples' `_total` name fails the whole body.
    let answer = testkit::agent::http_request(
        agent.port,
        "/metrics",
        &[("Accept", "application/openmetrics-text;version=1.0.0")],
    )
    .await
    .unwrap();
    let body = answer.text().unwrap();
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/openmetrics-text")),
        "{:?}",
        answer.headers
    );
    assert!(
        body.contains("\nkube_pod_container_status_restarts_total{"),
        "the scrape has a counter to check: {body}"
    );
    let (ok, report) = pipe(
        std::process::Command::new("/usr/bin/python3")
            .args(["scripts/check-exposition.py", "--openmetrics", "-"])
            .current_dir(testkit::agent::workspace_root()),
        &body,
    );
    assert!(
        ok,
        "the strict OpenMetrics parser rejects the scrape: {report}"
    );

    // A real Prometheus scrapes the agent (negotiating OpenMetrics and gzip) and answers queries.
    let prometheus = Prometheus::start(&format!(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n- job_name: kube-state-metrics\n  static_configs:\n  - targets: ['127.0.0.1:{}']\n",
        agent.port
    ));
    let query = format!("kube_pod_info{{namespace=\"{}\",pod=\"a-1\"}}", ns.name());
    let answer = poll_until(
        "Prometheus to have scraped kube_pod_info",
        Duration::from_secs(60),
        || async {
            let (status, body) = prometheus.query(&query).await?;
            if status == 200 && body.contains("\"pod\":\"a-1\"") {
                Ok(body)
            } else {
                Err(format!("{status} {body}"))
            }
        },
    )
    .await;
    assert!(answer.contains(&format!("\"node\":\"{n1}\"")), "{answer}");
    let targets = prometheus.targets().await.unwrap();
    assert!(targets.contains("\"health\":\"up\""), "{targets}");
    delete_node(&client, &n1).await;
    delete_node(&client, &n2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_apiserver_restart_the_agent_resumes_and_converges() {
    let private = testkit::cluster::PrivateCluster::start("restart");
    let client = private.cluster().client().await;
    let ns = "restart";
    let api: kube::Api<k8s_openapi::api::core::v1::Namespace> = kube::Api::all(client.clone());
    api.create(
        &Default::default(),
        &serde_json::from_value(serde_json::json!({"metadata": {"name": ns}})).unwrap(),
    )
    .await
    .unwrap();
    create_node(&client, node("node-1"), node_status("True")).await;
    for name in ["keep", "update", "remove"] {
        create_pod(
            &client,
            ns,
            pod(name)
                .in_namespace(ns)
                .on_node("node-1")
                .running(0)
                .build(),
        )
        .await;
    }
    let mut agent = AgentProcess::start_with_kubeconfig(
        &private.cluster().admin_kubeconfig(),
        "node-1",
        NO_ELECTION,
    );
    agent.wait_ready(READY).await;
    poll_until("the three pods", CONVERGE, || async {
        let pods = pods_in(&agent.scrape().await?, ns);
        if pods == set(&["keep", "remove", "update"]) {
            Ok(())
        } else {
            Err(format!("{pods:?}"))
        }
    })
    .await;

    private.kill_apiserver();
    private.start_apiserver();
    // Changes the agent can only learn about after reconnecting.
    let client = private.cluster().client().await;
    delete_pod_now(&client, ns, "remove").await;
    create_pod(
        &client,
        ns,
        pod("added")
            .in_namespace(ns)
            .on_node("node-1")
            .running(0)
            .build(),
    )
    .await;
    set_pod_status(
        &client,
        ns,
        "update",
        pod("update").running(4).build().status.unwrap(),
    )
    .await;

    let e = poll_until(
        "convergence after the restart",
        Duration::from_secs(90),
        || async {
            let e = agent.scrape().await?;
            let pods = pods_in(&e, ns);
            let restarts = e
                .samples_of("kube_pod_container_status_restarts_total")
                .find(|s| s.label("pod") == Some("update"))
                .map(|s| s.value);
            if pods == set(&["added", "keep", "update"]) && restarts == Some(4.0) {
                Ok(e)
            } else {
                Err(format!("{pods:?} restarts={restarts:?}"))
            }
        },
    )
    .await;
    assert_eq!(
        e.label_values("kube_node_info", "node"),
        vec!["node-1".to_string()]
    );
    let (_, telemetry) = agent.get_telemetry("/metrics").await.unwrap();
    assert!(
        telemetry.contains("ksa_watch_errors_total{"),
        "the outage was not counted:\n{telemetry}"
    );
    drop(agent);
}

#[tokio::test]
async fn sigterm_stops_the_agent_cleanly() {
    let n1 = unique("term-node");
    let mut agent = AgentProcess::start(&n1, NO_ELECTION);
    agent.wait_ready(READY).await;
    let started = std::time::Instant::now();
    assert_eq!(agent.terminate(), Some(0), "{}", agent.log());
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "shutdown took {:?}",
        started.elapsed()
    );
    assert!(agent.log().contains("shutting down"), "{}", agent.log());
}

#[test]
fn a_bad_flag_fails_at_start_naming_the_flag() {
    for (args, flag) in [
        (
            vec!["--node", "n1", "--resources", "pods,deploymnets"],
            "--resources",
        ),
        (
            vec!["--node", "n1", "--metric-labels-allowlist", "pods=[app"],
            "--metric-labels-allowlist",
        ),
        (
            vec!["--node", "n1", "--metric-opt-in-list", "kube_pod_info"],
            "--metric-opt-in-list",
        ),
        (vec!["--node", "n1", "--port", "http"], "--port"),
    ] {
        let out = testkit::agent::agent_command(testkit::agent::agent_binary())
            .args(&args)
            .env_remove("NODE_NAME")
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(flag), "{args:?}: {stderr}");
    }
    let out = testkit::agent::agent_command(testkit::agent::agent_binary())
        .env_remove("NODE_NAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--node"));
}

/// A configuration that does not load and an error that stops a running agent are each
/// reported once: one `error` line of the log, a JSON object under `--log-format=json`.
#[test]
fn a_fatal_error_is_one_log_line_in_text_and_in_json() {
    let missing = std::env::temp_dir().join(format!("{}-web.yaml", unique("absent")));
    let missing = missing.to_str().unwrap();
    for (args, says) in [
        (vec!["--resources", "pods,deploymnets"], "deploymnets"),
        (vec!["--tls-config", missing], missing),
    ] {
        for format in ["text", "json"] {
            let out = testkit::agent::agent_command(testkit::agent::agent_binary())
                .args(["--node", "n1", "--log-format", format])
                .args(&args)
                .env("RUST_LOG", "info")
                .output()
                .unwrap();
            assert_eq!(out.status.code(), Some(2), "{args:?}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(says)).collect();
            assert_eq!(lines.len(), 1, "{args:?} {format}: {stderr}");
            if format == "json" {
                let event: serde_json::Value =
                    serde_json::from_str(lines[0]).unwrap_or_else(|e| panic!("{e}: {}", lines[0]));
                assert_eq!(event["level"], "ERROR", "{event}");
                let error = event["fields"]["error"].as_str().unwrap_or_default();
                assert!(error.contains(says), "{event}");
            } else {
                assert!(lines[0].contains(" ERROR "), "{}", lines[0]);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_scope_exports_every_nodes_pods_and_the_unscheduled_ones() {
    let client = Cluster::get().client().await;
    let (ns, n1, n2) = two_nodes_with_pods(&client, "clusterscope").await;
    create_pod(
        &client,
        ns.name(),
        pod("pending")
            .in_namespace(ns.name())
            .unschedulable()
            .build(),
    )
    .await;
    let mut agent = AgentProcess::start("", &["--scope", "cluster", "--resources", "pods,nodes"]);
    agent.wait_ready(READY).await;
    let e = poll_until("every pod of the namespace", CONVERGE, || async {
        let e = agent.scrape().await?;
        let pods = pods_in(&e, ns.name());
        if pods == set(&["a-1", "a-2", "b-1", "pending"]) {
            Ok(e)
        } else {
            Err(format!("{pods:?}"))
        }
    })
    .await;
    let nodes = e.label_values("kube_node_info", "node");
    assert!(nodes.contains(&n1) && nodes.contains(&n2), "{nodes:?}");
    delete_node(&client, &n1).await;
    delete_node(&client, &n2).await;
}
