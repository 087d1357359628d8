//! The operability kit: `deploy/prometheus/rules.yaml`, the same rules as a PrometheusRule, the
//! Grafana dashboard and the runbooks of `docs/operations.md`.
//!
//! Without a cluster: the PrometheusRule holds the rule file unchanged (regenerate it with
//! `UPDATE_RULES=1`); promtool accepts both and the unit tests of `deploy/prometheus/tests` pass,
//! with a case where each alert fires and one where it stays quiet; every alert has a severity,
//! a `for:` and a runbook section; the dashboard covers what the agents report and uses only its
//! own variables.
//!
//! Live: a real Prometheus, loaded with the rules (every `for:`, range and offset shortened to
//! seconds) and kube-state-metrics' mixin alerts, scrapes both ports of three node agents on a
//! private control plane. The test puts the agents in the states the alerts describe — a
//! DaemonSet short of ready pods, an unserved kind enabled, a bad config file, a restart-only
//! setting, the API server stopped with the leader then SIGKILLed so nobody can take over — and
//! sees through `/api/v1/alerts` each matching alert fire and then clear once the fault is
//! removed. Every expression of the dashboard then returns data from that Prometheus. A renamed
//! self-metric fails here.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use k8s_openapi::api::apps::v1::DaemonSet;
use k8s_openapi::api::core::v1::Namespace;
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};
use regex::Regex;
use serde::Deserialize;
use serde_json::json;
use serde_norway::Value;
use testkit::agent::{AgentProcess, http_get, workspace_root};
use testkit::cluster::PrivateCluster;
use testkit::exposition::Exposition;
use testkit::kubectl::kubectl;
use testkit::objects::{TestNamespace, unique};
use testkit::prometheus::Prometheus;
use testkit::{Cluster, poll_until};

/// The plain Prometheus rule file: the source of truth.
const RULES: &str = "deploy/prometheus/rules.yaml";
/// The same rules as a prometheus-operator custom resource, generated from [`RULES`].
const PROMETHEUS_RULE: &str = "deploy/daemonset/prometheus-operator/prometheusrule.yaml";
/// The prometheus-operator kustomization that includes [`PROMETHEUS_RULE`].
const PROMETHEUS_OPERATOR: &str = "deploy/daemonset/prometheus-operator";
/// promtool unit tests of [`RULES`].
const RULE_TESTS: &str = "deploy/prometheus/tests/rules_test.yaml";
/// kube-state-metrics' mixin alerts.
const KSM_MIXIN: &str = "deploy/prometheus/tests/kube-state-metrics-mixin.yaml";
/// promtool unit tests of [`KSM_MIXIN`] on series named as the agents export them.
const KSM_MIXIN_TESTS: &str = "deploy/prometheus/tests/kube-state-metrics-mixin_test.yaml";
/// The Grafana dashboard.
const DASHBOARD: &str = "deploy/grafana/kube-state-agent.json";
/// One runbook section per alert.
const RUNBOOKS: &str = "docs/operations.md";
/// Where every `runbook_url` points, before the `#anchor`.
const RUNBOOK_BASE: &str = "https://kube-state-agent.example.com/docs/operations.md";

fn read(path: &str) -> String {
    std::fs::read_to_string(workspace_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// The rules of every group of a rule file (`groups:` at its top, or under `spec:`).
fn rules_of(groups: &Value) -> Vec<&Value> {
    groups["groups"]
        .as_sequence()
        .expect("groups")
        .iter()
        .flat_map(|g| g["rules"].as_sequence().expect("rules"))
        .collect()
}

fn alerts_of(groups: &Value) -> Vec<&Value> {
    rules_of(groups)
        .into_iter()
        .filter(|r| r.get("alert").is_some())
        .collect()
}

fn str_of<'a>(v: &'a Value, key: &str) -> &'a str {
    v[key].as_str().unwrap_or("")
}

// ===== the PrometheusRule =====

/// What precedes the rule file's groups in the PrometheusRule.
const PROMETHEUS_RULE_HEAD: &str = "\
# Generated from deploy/prometheus/rules.yaml, whose groups it holds unchanged: edit that file,
# then run `UPDATE_RULES=1 cargo test -p kube-state-agent-tests --test live operations::`.
# Prometheus picks up PrometheusRules that match its ruleSelector and ruleNamespaceSelector:
# add the labels yours asks for (kube-prometheus-stack: `release: <its release name>`).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: kube-state-agent
  namespace: kube-state-agent
  labels:
    app.kubernetes.io/name: kube-state-agent
spec:
";

/// The PrometheusRule for a rule file: [`PROMETHEUS_RULE_HEAD`], then the file from its
/// `groups:` line on, indented under `spec:` (its comments included).
fn prometheus_rule_for(rules: &str) -> String {
    let start = rules
        .find("\ngroups:")
        .map(|i| i + 1)
        .expect("a top-level `groups:`");
    let mut out = PROMETHEUS_RULE_HEAD.to_string();
    for line in rules[start..].lines() {
        if !line.is_empty() {
            out.push_str("  ");
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

#[test]
fn the_prometheus_rule_holds_the_rule_files_groups_unchanged() {
    let expected = prometheus_rule_for(&read(RULES));
    let path = workspace_root().join(PROMETHEUS_RULE);
    if std::env::var_os("UPDATE_RULES").is_some() {
        std::fs::write(&path, &expected).expect("writing the PrometheusRule");
    }
    let actual = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        actual == expected,
        "{PROMETHEUS_RULE} differs from {RULES}: run \
         `UPDATE_RULES=1 cargo test -p kube-state-agent-tests --test live operations::` and commit both"
    );
    // The same, read as YAML: the generator cannot have lost anything either.
    let resource = yaml(PROMETHEUS_RULE);
    assert_eq!(resource["spec"], yaml(RULES));
    // And kustomize renders it with the PodMonitor, unchanged.
    let out = Command::new("kubectl")
        .arg("kustomize")
        .arg(workspace_root().join(PROMETHEUS_OPERATOR))
        .output()
        .expect("kubectl is installed (scripts/cluster deps)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rendered: Vec<Value> = serde_norway::Deserializer::from_slice(&out.stdout)
        .map(|d| Value::deserialize(d).expect("YAML"))
        .collect();
    let kinds: BTreeSet<&str> = rendered.iter().map(|d| str_of(d, "kind")).collect();
    assert_eq!(kinds, BTreeSet::from(["PodMonitor", "PrometheusRule"]));
    let rule = rendered
        .iter()
        .find(|d| str_of(d, "kind") == "PrometheusRule")
        .unwrap();
    assert_eq!(rule["spec"], yaml(RULES));
    assert_eq!(
        rule["metadata"]["namespace"].as_str(),
        Some("kube-state-agent")
    );
}

fn promtool(args: &[&Path]) -> String {
    let out = Command::new("promtool")
        .args(args)
        .output()
        .expect("promtool is installed (scripts/cluster deps: Debian's prometheus)");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "promtool {args:?}:\n{text}");
    text
}

#[test]
fn promtool_accepts_both_rule_files_and_every_unit_test_passes() {
    let root = workspace_root();
    let check = Path::new("check");
    let rules = Path::new("rules");
    let out = promtool(&[check, rules, &root.join(RULES), &root.join(KSM_MIXIN)]);
    let all = rules_of(&yaml(RULES)).len();
    assert!(
        out.contains(&format!("SUCCESS: {all} rules found")),
        "{out}"
    );
    // promtool reads plain rule files only: the resource's spec goes to one.
    let spec = std::env::temp_dir().join(unique("ksa-prometheusrule-spec") + ".yaml");
    let resource = yaml(PROMETHEUS_RULE);
    std::fs::write(&spec, serde_norway::to_string(&resource["spec"]).unwrap()).unwrap();
    let out = promtool(&[check, rules, &spec]);
    let _ = std::fs::remove_file(&spec);
    assert!(
        out.contains(&format!("SUCCESS: {all} rules found")),
        "{out}"
    );
    let out = promtool(&[
        Path::new("test"),
        rules,
        &root.join(RULE_TESTS),
        &root.join(KSM_MIXIN_TESTS),
    ]);
    assert_eq!(out.matches("SUCCESS").count(), 2, "{out}");
}

#[test]
fn every_alert_has_a_severity_a_for_a_runbook_and_unit_tests_where_it_fires_and_stays_quiet() {
    let rules = yaml(RULES);
    let runbooks = read(RUNBOOKS);
    let headings: BTreeSet<&str> = runbooks
        .lines()
        .filter_map(|l| l.strip_prefix("### "))
        .collect();
    let mut names = BTreeSet::new();
    for alert in alerts_of(&rules) {
        let name = str_of(alert, "alert");
        assert!(names.insert(name), "{name} twice");
        assert!(
            ["critical", "warning", "info"].contains(&str_of(&alert["labels"], "severity")),
            "{name}: severity"
        );
        let r#for = str_of(alert, "for");
        assert!(!r#for.is_empty() && r#for != "0s", "{name}: for: {for:?}");
        for key in ["summary", "description"] {
            assert!(
                !str_of(&alert["annotations"], key).is_empty(),
                "{name}: {key}"
            );
        }
        assert_eq!(
            str_of(&alert["annotations"], "runbook_url"),
            format!("{RUNBOOK_BASE}#{}", name.to_lowercase()),
            "{name}: runbook_url"
        );
        assert!(
            headings.contains(name),
            "{RUNBOOKS} has no `### {name}` section"
        );
    }
    // Every runbook section is an alert's.
    let kubestateagent: BTreeSet<&str> = headings
        .iter()
        .copied()
        .filter(|h| h.starts_with("KubeStateAgent"))
        .collect();
    assert_eq!(kubestateagent, names, "runbook sections and alerts");

    // promtool unit tests: each alert has a case where it fires and one where it does not.
    let tests = yaml(RULE_TESTS);
    let mut fires = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for case in tests["tests"].as_sequence().expect("tests") {
        for t in case["alert_rule_test"].as_sequence().into_iter().flatten() {
            let name = str_of(t, "alertname");
            assert!(
                names.contains(name),
                "a unit test of an unknown alert {name}"
            );
            if t["exp_alerts"].as_sequence().is_some_and(|a| !a.is_empty()) {
                fires.insert(name);
            } else {
                quiet.insert(name);
            }
        }
    }
    assert_eq!(fires, names, "alerts with a unit test where they fire");
    assert_eq!(
        quiet, names,
        "alerts with a unit test where they stay quiet"
    );

    // A recording rule exists for an alert or the dashboard to read.
    let alert_exprs: String = alerts_of(&rules)
        .iter()
        .map(|a| str_of(a, "expr"))
        .collect();
    let dashboard = read(DASHBOARD);
    for rule in rules_of(&rules) {
        if let Some(record) = rule["record"].as_str() {
            assert!(
                alert_exprs.contains(record) || dashboard.contains(record),
                "nothing reads the recording rule {record}"
            );
        }
    }
}

// ===== the dashboard =====

/// The dashboard's template variables and what the test puts in their place (every variable is
/// multi-value with "All" as `.*`; `$__rate_interval` is Grafana's own).
const VARIABLES: [(&str, &str); 4] = [
    ("$__rate_interval", "30s"),
    ("$cluster", ".*"),
    ("$node", ".*"),
    ("$resource", ".*"),
];

/// Every PromQL expression of the dashboard (panel targets, then the variables' queries) with
/// its panel's or variable's title.
fn dashboard_queries(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("every target has an expr");
            out.push((
                panel["title"].as_str().unwrap_or("").to_string(),
                expr.to_string(),
            ));
        }
    }
    for var in dashboard["templating"]["list"]
        .as_array()
        .expect("templating")
    {
        if var["type"] == "query" {
            let query = var["query"]["query"].as_str().expect("a variable's query");
            out.push((
                format!("${}", var["name"].as_str().unwrap()),
                query.to_string(),
            ));
        }
    }
    out
}

/// A dashboard query as Prometheus can run it: variables filled in, and Grafana's
/// `label_values(SELECTOR, label)` reduced to its selector.
fn runnable(query: &str) -> String {
    let mut q = query.to_string();
    for (var, value) in VARIABLES {
        q = q.replace(var, value);
    }
    match q
        .strip_prefix("label_values(")
        .and_then(|rest| rest.rsplit_once(','))
    {
        Some((selector, _label)) => selector.to_string(),
        None => q,
    }
}

#[test]
fn the_dashboard_covers_what_the_agents_report_with_only_its_own_variables() {
    let dashboard: serde_json::Value =
        serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON");
    let variables: Vec<&str> = dashboard["templating"]["list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(variables, ["datasource", "cluster", "node", "resource"]);
    let mut ids = BTreeSet::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        assert!(
            ids.insert(panel["id"].as_u64().expect("id")),
            "panel ids repeat"
        );
        if panel["type"] != "row" {
            assert_eq!(panel["datasource"]["uid"], "${datasource}", "{panel}");
        }
    }
    let queries = dashboard_queries(&dashboard);
    for (title, query) in &queries {
        let filled = runnable(query);
        assert!(
            !filled.contains('$'),
            "{title}: a variable the test does not know: {query}"
        );
    }
    // The issue's list: leader and transitions, objects and snapshot size, event rates, watch
    // errors, scrape latency by format and encoding, memory and API bytes per agent, tenant
    // decisions.
    let all: String = queries.iter().map(|(_, q)| q.as_str()).collect();
    for metric in [
        "ksa_leader{",
        "ksa_leader_transitions_total",
        "ksa_objects",
        "ksa_snapshot_bytes",
        "ksa_watch_events_total",
        "ksa_watch_errors_total",
        "ksa_scrape_duration_seconds_bucket",
        "by (format, encoding, le)",
        "process_resident_memory_bytes",
        "ksa_api_response_bytes_total",
        "ksa_auth_decisions_total",
    ] {
        assert!(all.contains(metric), "the dashboard shows no {metric}");
    }
}

// ===== live =====

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_prometheus_rule_passes_a_server_side_dry_run_with_prometheus_operators_crd() {
    let client = Cluster::get().client().await;
    kubectl(
        &["apply", "-f", "-"],
        include_str!("fixtures/prometheusrule-crd.yaml"),
    )
    .unwrap_or_else(|e| panic!("installing the PrometheusRule CRD: {e}"));
    kubectl(
        &[
            "wait",
            "--for=condition=established",
            "--timeout=30s",
            "crd/prometheusrules.monitoring.coreos.com",
        ],
        "",
    )
    .unwrap_or_else(|e| panic!("the CRD is not established: {e}"));
    // The manifests' namespace belongs to the deploy tests; the schema is the same anywhere.
    let ns = TestNamespace::create(&client, "promrule").await;
    let mut resource = yaml(PROMETHEUS_RULE);
    resource["metadata"]["namespace"] = Value::from(ns.name());
    let out = kubectl(
        &["apply", "--dry-run=server", "-f", "-"],
        &serde_norway::to_string(&resource).unwrap(),
    )
    .unwrap_or_else(|e| panic!("server-side dry run: {e}"));
    assert!(out.contains("(server dry run)"), "{out}");
    // The schema does check: a `for:` that is not a duration is refused.
    resource["spec"]["groups"][1]["rules"][0]["for"] = Value::from("two minutes");
    let refused = kubectl(
        &["apply", "--dry-run=server", "-f", "-"],
        &serde_norway::to_string(&resource).unwrap(),
    );
    assert!(refused.is_err(), "{refused:?}");
}

/// `for:` of every alert in the live test.
const FOR: &str = "2s";
/// Every range selector and offset in the live test: about 15 scrapes, and longer than the
/// watches' first backoff steps, so an outage keeps errors in the window.
const WINDOW: &str = "15s";

/// A rule file with every `for:` set to [`FOR`] and every range selector and offset to
/// [`WINDOW`], so Prometheus shows in seconds what it shows in minutes in production.
fn shortened(rules: &str) -> String {
    const DURATION: &str = "[0-9]+[smhdwy][0-9smhdwy]*";
    let r#for = Regex::new(&format!("(?m)^( *)for: {DURATION}$")).expect("a valid pattern");
    let range = Regex::new(&format!(r"\[{DURATION}\]")).expect("a valid pattern");
    let offset = Regex::new(&format!("offset {DURATION}")).expect("a valid pattern");
    let rules = r#for.replace_all(rules, format!("${{1}}for: {FOR}"));
    let rules = range.replace_all(&rules, format!("[{WINDOW}]"));
    offset
        .replace_all(&rules, format!("offset {WINDOW}"))
        .into_owned()
}

#[test]
fn the_live_rule_file_has_only_short_durations() {
    let short = shortened(&read(RULES));
    assert!(
        !short.contains("[5m]") && !short.contains("offset 1h"),
        "{short}"
    );
    assert_eq!(
        short.matches("for: 2s").count(),
        alerts_of(&yaml(RULES)).len()
    );
    assert!(short.contains("rate(ksa_api_requests_total{job=\"kube-state-metrics\",verb=~\"list|watch\",result=\"error\"}[15s])"));
    assert!(short.contains("process_resident_memory_bytes{job=\"kube-state-metrics\"} offset 15s"));
    // Nothing else changed: the alerts and records are the same.
    let long: Value = yaml(RULES);
    let short: Value = serde_norway::from_str(&short).unwrap();
    let names = |v: &Value| -> Vec<String> {
        rules_of(v)
            .iter()
            .map(|r| format!("{}{}", str_of(r, "alert"), str_of(r, "record")))
            .collect()
    };
    assert_eq!(names(&long), names(&short));
}

/// One alert of `/api/v1/alerts`: pending or firing.
#[derive(Debug, Deserialize)]
struct ActiveAlert {
    labels: BTreeMap<String, String>,
    state: String,
}

impl ActiveAlert {
    fn is(&self, name: &str, labels: &[(&str, &str)]) -> bool {
        self.labels.get("alertname").map(String::as_str) == Some(name)
            && labels
                .iter()
                .all(|(k, v)| self.labels.get(*k).map(String::as_str) == Some(*v))
    }
}

/// Waits until no alert at all is pending or firing.
async fn until_no_alert(prometheus: &Prometheus, what: &str) {
    poll_until(what, ALERT_DEADLINE, || async {
        let alerts = active_alerts(prometheus).await?;
        alerts
            .is_empty()
            .then_some(())
            .ok_or_else(|| describe(&alerts))
    })
    .await;
}

async fn active_alerts(prometheus: &Prometheus) -> Result<Vec<ActiveAlert>, String> {
    #[derive(Deserialize)]
    struct Answer {
        data: Data,
    }
    #[derive(Deserialize)]
    struct Data {
        alerts: Vec<ActiveAlert>,
    }
    let (status, body) = http_get(prometheus.port, "/api/v1/alerts").await?;
    if status != 200 {
        return Err(format!("/api/v1/alerts answered {status}: {body}"));
    }
    serde_json::from_str::<Answer>(&body)
        .map(|a| a.data.alerts)
        .map_err(|e| format!("{e}: {body}"))
}

fn describe(alerts: &[ActiveAlert]) -> String {
    let list: Vec<String> = alerts
        .iter()
        .map(|a| format!("{} {:?}", a.state, a.labels))
        .collect();
    format!("[{}]", list.join(", "))
}

/// How long an alert may take to fire or clear once the state is there or gone: scrape,
/// evaluation, `for:`, and the window of rate-based rules, on a busy machine.
const ALERT_DEADLINE: Duration = Duration::from_secs(45);

/// Waits until `name` fires with `labels`; logs how long after `since`.
async fn wait_firing(prometheus: &Prometheus, name: &str, labels: &[(&str, &str)], since: Instant) {
    poll_until(
        &format!("{name} {labels:?} firing"),
        ALERT_DEADLINE,
        || async {
            let alerts = active_alerts(prometheus).await?;
            if alerts
                .iter()
                .any(|a| a.is(name, labels) && a.state == "firing")
            {
                Ok(())
            } else {
                Err(describe(&alerts))
            }
        },
    )
    .await;
    eprintln!(
        "{name} {labels:?} fired {:.1?} after the fault",
        since.elapsed()
    );
}

/// Waits until no alert `name` with `labels` is pending or firing; logs how long after `since`.
async fn wait_cleared(
    prometheus: &Prometheus,
    name: &str,
    labels: &[(&str, &str)],
    since: Instant,
) {
    poll_until(
        &format!("{name} {labels:?} cleared"),
        ALERT_DEADLINE,
        || async {
            let alerts = active_alerts(prometheus).await?;
            if alerts.iter().any(|a| a.is(name, labels)) {
                Err(describe(&alerts))
            } else {
                Ok(())
            }
        },
    )
    .await;
    eprintln!(
        "{name} {labels:?} cleared {:.1?} after the fix",
        since.elapsed()
    );
}

/// A private directory for the config file and the rule files, removed on drop.
struct Scratch(PathBuf);

impl Scratch {
    fn new() -> Scratch {
        let dir = std::env::temp_dir().join(unique("ksa-operations"));
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Replaces `name` whole (a sibling renamed over it), as a ConfigMap update does.
    fn write(&self, name: &str, text: &str) {
        let tmp = self.0.join(format!(".{name}.tmp"));
        std::fs::write(&tmp, text).unwrap();
        std::fs::rename(&tmp, self.path(name)).unwrap();
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// The namespace, DaemonSet, Lease and pod names of the installation the test imitates.
const NAMESPACE: &str = "kube-state-agent";
/// The agents' config file: what a ConfigMap would mount.
const CONFIG: &str = "resources: [pods, nodes, daemonsets]\n";

/// The agents' DaemonSet object (no controller runs: the test writes its status).
async fn create_daemonset(api: &Api<DaemonSet>) {
    let labels = json!({"app.kubernetes.io/name": "kube-state-agent"});
    let ds: DaemonSet = serde_json::from_value(json!({
        "metadata": {"name": "kube-state-agent", "labels": labels},
        "spec": {
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "kube-state-agent", "image": "kube-state-agent"}]}
            }
        }
    }))
    .unwrap();
    api.create(&PostParams::default(), &ds)
        .await
        .unwrap_or_else(|e| panic!("create DaemonSet: {e}"));
}

/// Writes the DaemonSet's status: three nodes to run on, `ready` of them ready.
async fn daemonset_ready(api: &Api<DaemonSet>, ready: i32) {
    let status = json!({"status": {
        "desiredNumberScheduled": 3, "currentNumberScheduled": 3, "numberMisscheduled": 0,
        "numberReady": ready, "numberAvailable": ready, "updatedNumberScheduled": 3,
        "observedGeneration": 1
    }});
    api.patch_status(
        "kube-state-agent",
        &PatchParams::default(),
        &Patch::Merge(status),
    )
    .await
    .unwrap_or_else(|e| panic!("DaemonSet status: {e}"));
}

/// One agent of the imitated DaemonSet.
struct Agent {
    process: AgentProcess,
    pod: String,
    node: String,
}

impl Agent {
    /// Its self-metric `name`, if exported.
    async fn telemetry(&self, name: &str) -> Option<f64> {
        let (_, body) = self.process.get_telemetry("/metrics").await.ok()?;
        let e = Exposition::parse(&body).ok()?;
        e.samples_of(name).next().map(|s| s.value)
    }
}

/// The Prometheus configuration: both ports of every agent as deploy/prometheus/scrape-config.yaml
/// scrapes them (job="kube-state-metrics"; the telemetry targets labelled with the agent's
/// namespace, pod and node), the `--auth-filter` agent's metrics port with a bearer token.
fn prometheus_config(
    agents: &[Agent],
    auth_filtered: usize,
    token: &str,
    rule_files: &[PathBuf],
) -> String {
    let metrics = |filter: &dyn Fn(usize) -> bool| -> String {
        agents
            .iter()
            .enumerate()
            .filter(|(i, _)| filter(*i))
            .map(|(_, a)| format!("'127.0.0.1:{}'", a.process.port))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let telemetry: String = agents
        .iter()
        .map(|a| {
            format!(
                "      - targets: ['127.0.0.1:{}']\n        labels: {{namespace: {NAMESPACE}, pod: {}, node: {}}}\n",
                a.process.telemetry_port, a.pod, a.node
            )
        })
        .collect();
    let rules: Vec<String> = rule_files
        .iter()
        .map(|p| format!("'{}'", p.display()))
        .collect();
    format!(
        "global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files: [{rules}]
scrape_configs:
  - job_name: kube-state-metrics
    honor_labels: true
    static_configs:
      - targets: [{plain}]
  - job_name: kube-state-metrics-auth-filter
    honor_labels: true
    authorization:
      credentials: '{token}'
    static_configs:
      - targets: [{filtered}]
    relabel_configs:
      - target_label: job
        replacement: kube-state-metrics
  - job_name: kube-state-agent-telemetry
    static_configs:
{telemetry}    relabel_configs:
      - target_label: job
        replacement: kube-state-metrics
",
        rules = rules.join(", "),
        plain = metrics(&|i| i != auth_filtered),
        filtered = metrics(&|i| i == auth_filtered),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_alert_fires_in_the_state_it_describes_and_clears_once_the_fault_is_removed() {
    let test_started = Instant::now();
    let private = PrivateCluster::start("alerts");
    let cluster = private.cluster();
    let client = cluster.client().await;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    namespaces
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": NAMESPACE}})).unwrap(),
        )
        .await
        .unwrap();
    let daemonsets: Api<DaemonSet> = Api::namespaced(client.clone(), NAMESPACE);
    create_daemonset(&daemonsets).await;
    daemonset_ready(&daemonsets, 3).await;

    let scratch = Scratch::new();
    scratch.write("config.yaml", CONFIG);
    let config = scratch.path("config.yaml").display().to_string();
    // Short election timings, so fencing and takeover take seconds.
    let flags = [
        "--config",
        &config,
        "--lease-name",
        "kube-state-agent",
        "--lease-duration",
        "8s",
        "--renew-deadline",
        "5s",
        "--retry-period",
        "1s",
    ];
    // The third agent serves its metrics port behind --auth-filter (tenant decisions).
    let auth_filtered = 2;
    let mut agents: Vec<Agent> = ["a", "b", "c"]
        .iter()
        .enumerate()
        .map(|(i, x)| {
            let (pod, node) = (format!("kube-state-agent-{x}"), format!("node-{x}"));
            let mut args = flags.to_vec();
            if i == auth_filtered {
                args.push("--auth-filter");
            }
            let env = [("POD_NAME", pod.as_str()), ("POD_NAMESPACE", NAMESPACE)];
            let process =
                AgentProcess::start_with_env(&cluster.admin_kubeconfig(), &node, &args, &env);
            Agent { process, pod, node }
        })
        .collect();
    for a in &mut agents {
        a.process.wait_ready(Duration::from_secs(60)).await;
    }

    let rule_files = [scratch.path("rules.yaml"), scratch.path("ksm-mixin.yaml")];
    scratch.write("rules.yaml", &shortened(&read(RULES)));
    scratch.write("ksm-mixin.yaml", &shortened(&read(KSM_MIXIN)));
    let prometheus = Prometheus::start(&prometheus_config(
        &agents,
        auth_filtered,
        &cluster.static_token("admin"),
        &rule_files,
    ));
    poll_until(
        "the rules loaded and all six targets up",
        Duration::from_secs(60),
        || async {
            let (_, rules) = http_get(prometheus.port, "/api/v1/rules").await?;
            let (_, up) = prometheus
                .query("count(up{job=\"kube-state-metrics\"} == 1)")
                .await?;
            (rules.contains("KubeStateAgentNoLeader")
                && rules.contains("KubeStateMetricsWatchErrors")
                && up.contains("\"6\""))
            .then_some(())
            .ok_or(up)
        },
    )
    .await;
    // Healthy: nothing pending, nothing firing.
    until_no_alert(&prometheus, "no alert while healthy").await;
    eprintln!(
        "healthy with no alert {:.1?} after the start",
        test_started.elapsed()
    );

    // A node without a ready agent.
    let t = Instant::now();
    daemonset_ready(&daemonsets, 2).await;
    let ds = [("namespace", NAMESPACE), ("daemonset", "kube-state-agent")];
    wait_firing(&prometheus, "KubeStateAgentsMissing", &ds, t).await;
    let t = Instant::now();
    daemonset_ready(&daemonsets, 3).await;
    wait_cleared(&prometheus, "KubeStateAgentsMissing", &ds, t).await;

    // A kind the 1.20 API server does not serve (batch/v1 CronJob), enabled by the config file.
    let t = Instant::now();
    scratch.write(
        "config.yaml",
        "resources: [pods, nodes, daemonsets, cronjobs]\n",
    );
    let cronjobs = [("resource", "cronjobs")];
    wait_firing(&prometheus, "KubeStateAgentKindUnserved", &cronjobs, t).await;
    let t = Instant::now();
    scratch.write("config.yaml", CONFIG);
    wait_cleared(&prometheus, "KubeStateAgentKindUnserved", &cronjobs, t).await;

    // A config file that does not load (a misspelt kind): every agent keeps its config.
    let t = Instant::now();
    scratch.write(
        "config.yaml",
        "resources: [pods, nodes, daemonsets, deploymnets]\n",
    );
    for a in &agents {
        let pod = [("pod", a.pod.as_str())];
        wait_firing(&prometheus, "KubeStateAgentConfigReloadFailed", &pod, t).await;
    }
    let t = Instant::now();
    scratch.write("config.yaml", CONFIG);
    wait_cleared(&prometheus, "KubeStateAgentConfigReloadFailed", &[], t).await;

    // A setting that only a restart applies.
    let t = Instant::now();
    scratch.write("config.yaml", &format!("{CONFIG}log_format: json\n"));
    for a in &agents {
        let pod = [("pod", a.pod.as_str())];
        wait_firing(&prometheus, "KubeStateAgentRestartPending", &pod, t).await;
    }
    let t = Instant::now();
    scratch.write("config.yaml", CONFIG);
    wait_cleared(&prometheus, "KubeStateAgentRestartPending", &[], t).await;

    // The API server stops: the leader cannot renew and fences itself, every watch fails.
    let leader = poll_until("one leader", Duration::from_secs(30), || async {
        let mut leaders = Vec::new();
        for (i, a) in agents.iter().enumerate() {
            if a.telemetry("ksa_leader").await == Some(1.0) {
                leaders.push(i);
            }
        }
        match leaders[..] {
            [one] => Ok(one),
            _ => Err(format!("leaders {leaders:?}")),
        }
    })
    .await;
    let leader_pod = agents[leader].pod.clone();
    let outage = Instant::now();
    private.kill_apiserver();
    let install = [("namespace", NAMESPACE)];
    let leader_labels = [("pod", leader_pod.as_str())];
    wait_firing(
        &prometheus,
        "KubeStateAgentLeaseRenewFailures",
        &leader_labels,
        outage,
    )
    .await;
    wait_firing(&prometheus, "KubeStateAgentNoLeader", &install, outage).await;
    wait_firing(&prometheus, "KubeStateAgentListWatchErrors", &[], outage).await;
    wait_firing(&prometheus, "KubeStateMetricsWatchErrors", &[], outage).await;

    // The fenced leader is SIGKILLed; nobody can take over while the API server is down.
    let killed = Instant::now();
    let status = Command::new("kill")
        .args(["-9", &agents[leader].process.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let killed_instance = format!("127.0.0.1:{}", agents[leader].process.telemetry_port);
    let down = [("instance", killed_instance.as_str())];
    wait_firing(&prometheus, "KubeStateAgentDown", &down, killed).await;
    let alerts = active_alerts(&prometheus).await.unwrap();
    assert!(
        alerts
            .iter()
            .any(|a| a.is("KubeStateAgentNoLeader", &install) && a.state == "firing"),
        "{}",
        describe(&alerts)
    );
    for (i, a) in agents.iter().enumerate() {
        if i != leader {
            assert_eq!(a.telemetry("ksa_leader").await, Some(0.0), "{}", a.pod);
        }
    }

    // The API server is back: another agent takes over, the watches resume.
    private.start_apiserver();
    let back = Instant::now();
    eprintln!("the API server was stopped for {:.1?}", outage.elapsed());
    wait_cleared(&prometheus, "KubeStateAgentNoLeader", &install, back).await;
    wait_cleared(&prometheus, "KubeStateAgentListWatchErrors", &[], back).await;
    wait_cleared(&prometheus, "KubeStateMetricsWatchErrors", &[], back).await;
    wait_cleared(&prometheus, "KubeStateAgentLeaseRenewFailures", &[], back).await;
    // The killed agent is started again where it was, as its kubelet would.
    let restarted = Instant::now();
    agents[leader].process.restart();
    agents[leader]
        .process
        .wait_ready(Duration::from_secs(60))
        .await;
    wait_cleared(&prometheus, "KubeStateAgentDown", &[], restarted).await;

    // Every expression of the dashboard parses and returns data.
    let dashboard: serde_json::Value = serde_json::from_str(&read(DASHBOARD)).unwrap();
    for (title, query) in dashboard_queries(&dashboard) {
        let promql = runnable(&query);
        let (status, body) = prometheus.query(&promql).await.unwrap();
        assert_eq!(status, 200, "{title}: {promql}: {body}");
        let answer: serde_json::Value = serde_json::from_str(&body).unwrap();
        let result = answer["data"]["result"].as_array();
        assert!(
            result.is_some_and(|r| !r.is_empty()),
            "{title}: no data for {promql}: {body}"
        );
    }

    // And everything is quiet again.
    until_no_alert(&prometheus, "no alert at the end").await;
    eprintln!("the whole test took {:.1?}", test_started.elapsed());
}
