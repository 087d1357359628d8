//! The install manifests (`deploy/daemonset`), checked two ways.
//!
//! Rendered: `kubectl kustomize` output keeps the DaemonSet's security settings, downward-API
//! environment, probes and tolerations, and the ClusterRole grants `list`/`watch` on exactly the
//! kinds of the agent's registry — so a later edit, or a new kind without a rule, fails here.
//!
//! Live: the manifests pass a server-side dry run and a real apply on the shared cluster; then the
//! real agent runs with a token of the manifests' ServiceAccount (TokenRequest API), so with
//! exactly the RBAC they grant, and every kind enabled. It must list and watch everything, win and
//! hold the Lease, and log no 403; the same token must get 403 for what the manifests do not
//! grant. The namespace is fixed by the manifests (`kube-state-agent`): one test owns it, removes
//! any leftover of an earlier run first, and removes the installation at the end.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use k8s_openapi::api::apps::v1::ControllerRevision;
use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{Event, Node, Pod, Secret};
use kube::Api;
use kube::api::{ListParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube_state_agent::registry;
use serde::Deserialize;
use serde_norway::Value;
use testkit::agent::{AgentProcess, workspace_root};
use testkit::exposition::Exposition;
use testkit::kubectl::kubectl;
use testkit::objects::{
    TestNamespace, create_node, create_pod, lease, node, node_status, pod, unique,
};
use testkit::{Cluster, poll_until};

mod autosharded;
mod large_cluster;

/// The namespace the manifests install into.
const NAMESPACE: &str = "kube-state-agent";
/// The base kustomization, relative to the workspace root.
const BASE: &str = "deploy/daemonset";
/// The prometheus-operator kustomization.
const PROMETHEUS_OPERATOR: &str = "deploy/daemonset/prometheus-operator";
/// The overlay that turns `--auth-filter` on.
const AUTH_FILTER: &str = "deploy/auth-filter";

// ===== rendering =====

/// The objects a kustomization renders to.
struct Manifests(Vec<Value>);

impl Manifests {
    /// `kubectl kustomize <dir>`, parsed.
    fn render(dir: &str) -> Manifests {
        let out = Command::new("kubectl")
            .arg("kustomize")
            .arg(workspace_root().join(dir))
            .output()
            .expect("kubectl is installed (scripts/cluster deps)");
        assert!(
            out.status.success(),
            "kubectl kustomize {dir}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("UTF-8 YAML");
        let docs: Vec<Value> = serde_norway::Deserializer::from_str(&text)
            .map(|d| Value::deserialize(d).expect("valid YAML"))
            .filter(|v| !v.is_null())
            .collect();
        assert!(!docs.is_empty(), "{dir} renders nothing");
        Manifests(docs)
    }

    /// The one object of `kind`.
    fn one(&self, kind: &str) -> &Value {
        let all: Vec<&Value> = self
            .0
            .iter()
            .filter(|d| str_at(d, "kind") == kind)
            .collect();
        assert_eq!(all.len(), 1, "expected exactly one {kind}");
        all[0]
    }

    /// `kind/name` of every object, as `kubectl apply` prints them (lowercased kinds).
    fn names(&self) -> Vec<(String, String)> {
        self.0
            .iter()
            .map(|d| (str_at(d, "kind").to_string(), name(d).to_string()))
            .collect()
    }
}

/// The value at a dotted path (`spec.template.spec`); numbers index sequences. Null if absent.
fn at<'a>(v: &'a Value, path: &str) -> &'a Value {
    static NULL: Value = Value::Null;
    path.split('.')
        .try_fold(v, |v, key| match key.parse::<usize>() {
            Ok(i) => v.get(i),
            Err(_) => v.get(key),
        })
        .unwrap_or(&NULL)
}

fn str_at<'a>(v: &'a Value, path: &str) -> &'a str {
    at(v, path).as_str().unwrap_or("")
}

fn name(v: &Value) -> &str {
    str_at(v, "metadata.name")
}

/// A Role's or ClusterRole's rules as (API groups, resources, verbs).
type Rule<'a> = (Vec<&'a str>, Vec<&'a str>, Vec<&'a str>);

fn rules_of(role: &Value) -> Vec<Rule<'_>> {
    at(role, "rules")
        .as_sequence()
        .expect("rules")
        .iter()
        .map(|r| {
            (
                strings(at(r, "apiGroups")),
                strings(at(r, "resources")),
                strings(at(r, "verbs")),
            )
        })
        .collect()
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_sequence()
        .map(|s| s.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// The `--flag=value` of a container's args.
fn flag<'a>(args: &[&'a str], flag: &str) -> Option<&'a str> {
    args.iter()
        .find_map(|a| a.strip_prefix(flag)?.strip_prefix('='))
}

/// The DaemonSet's one container.
fn container(m: &Manifests) -> &Value {
    let containers = at(m.one("DaemonSet"), "spec.template.spec.containers");
    assert_eq!(
        containers.as_sequence().map(Vec::len),
        Some(1),
        "one container"
    );
    &containers[0]
}

/// The container port a probe or Service names (by name or number).
fn container_port(container: &Value, port: &Value) -> u64 {
    if let Some(n) = port.as_u64() {
        return n;
    }
    let name = port.as_str().expect("a port is a name or a number");
    at(container, "ports")
        .as_sequence()
        .into_iter()
        .flatten()
        .find(|p| str_at(p, "name") == name)
        .and_then(|p| at(p, "containerPort").as_u64())
        .unwrap_or_else(|| panic!("no container port named {name}"))
}

// ===== render checks =====

#[test]
fn the_daemonset_runs_unprivileged_on_every_node_with_downward_api_env_and_probes() {
    let m = Manifests::render(BASE);
    let ds = m.one("DaemonSet");
    let pod_spec = at(ds, "spec.template.spec");
    let c = container(&m);
    let pod_sc = at(pod_spec, "securityContext");
    let sc = at(c, "securityContext");

    // Security: non-root, read-only root, no capabilities, no escalation, seccomp confined.
    assert!(
        at(sc, "runAsNonRoot").as_bool() == Some(true)
            || at(pod_sc, "runAsNonRoot").as_bool() == Some(true),
        "runAsNonRoot"
    );
    for uid in [at(sc, "runAsUser"), at(pod_sc, "runAsUser")] {
        assert_ne!(uid.as_u64(), Some(0), "runAsUser must not be root");
    }
    assert_eq!(at(sc, "readOnlyRootFilesystem").as_bool(), Some(true));
    assert_eq!(at(sc, "allowPrivilegeEscalation").as_bool(), Some(false));
    assert_eq!(strings(at(sc, "capabilities.drop")), ["ALL"]);
    assert!(at(sc, "capabilities.add").is_null(), "no capability added");
    assert!(at(sc, "privileged").as_bool() != Some(true));
    let seccomp = [
        str_at(sc, "seccompProfile.type"),
        str_at(pod_sc, "seccompProfile.type"),
    ];
    assert!(seccomp.contains(&"RuntimeDefault"), "seccomp {seccomp:?}");
    assert!(!seccomp.contains(&"Unconfined"));
    for host in ["hostNetwork", "hostPID", "hostIPC"] {
        assert!(at(pod_spec, host).as_bool() != Some(true), "{host}");
    }

    // Downward API: the flags --node, --lease-identity and --lease-namespace read these.
    let env = at(c, "env").as_sequence().expect("env");
    for (var, field) in [
        ("NODE_NAME", "spec.nodeName"),
        ("POD_NAME", "metadata.name"),
        ("POD_NAMESPACE", "metadata.namespace"),
    ] {
        let entry = env
            .iter()
            .find(|e| str_at(e, "name") == var)
            .unwrap_or_else(|| panic!("env {var} missing"));
        assert_eq!(
            str_at(entry, "valueFrom.fieldRef.fieldPath"),
            field,
            "env {var}"
        );
    }

    // Node scope with the election on (a DaemonSet needs one agent to export cluster-scope
    // kinds), on the ports the probes, Service, NetworkPolicy and PodMonitor use.
    let args = strings(at(c, "args"));
    assert_eq!(flag(&args, "--scope"), Some("node"), "{args:?}");
    assert_eq!(flag(&args, "--leader-election"), Some("true"), "{args:?}");
    // Log collectors read the DaemonSet's stderr: one JSON object per line.
    assert_eq!(flag(&args, "--log-format"), Some("json"), "{args:?}");
    assert!(
        !args.iter().any(|a| a.starts_with("--kubeconfig")),
        "in-cluster config"
    );
    let metrics_port = flag(&args, "--port").map_or(8080, |p| p.parse().unwrap());
    let telemetry_port = flag(&args, "--telemetry-port").map_or(8081, |p| p.parse().unwrap());
    let ports: BTreeSet<u64> = at(c, "ports")
        .as_sequence()
        .unwrap()
        .iter()
        .filter_map(|p| at(p, "containerPort").as_u64())
        .collect();
    assert_eq!(ports, BTreeSet::from([metrics_port, telemetry_port]));

    // Probes: /livez is served on the metrics port only; /readyz on both.
    assert_eq!(str_at(c, "livenessProbe.httpGet.path"), "/livez");
    assert_eq!(
        container_port(c, at(c, "livenessProbe.httpGet.port")),
        metrics_port
    );
    assert_eq!(str_at(c, "readinessProbe.httpGet.path"), "/readyz");
    assert!(
        [metrics_port, telemetry_port]
            .contains(&container_port(c, at(c, "readinessProbe.httpGet.port")))
    );

    // Every node, whatever its taints: one toleration matching every key and effect.
    let tolerations = at(pod_spec, "tolerations")
        .as_sequence()
        .expect("tolerations");
    assert!(
        tolerations.iter().any(|t| str_at(t, "operator") == "Exists"
            && at(t, "key").is_null()
            && at(t, "effect").is_null()),
        "{tolerations:?}"
    );

    // Rolling updates that never take every node's agent down at once.
    assert_eq!(str_at(ds, "spec.updateStrategy.type"), "RollingUpdate");
    let max_unavailable = at(ds, "spec.updateStrategy.rollingUpdate.maxUnavailable");
    assert!(
        !max_unavailable.is_null()
            && max_unavailable.as_u64() != Some(0)
            && max_unavailable.as_str() != Some("100%"),
        "maxUnavailable {max_unavailable:?}"
    );

    // Sized: requests for scheduling, a memory limit for the leader's worst case.
    for r in ["requests.cpu", "requests.memory", "limits.memory"] {
        assert!(!at(c, &format!("resources.{r}")).is_null(), "resources.{r}");
    }

    // The image comes from kustomize's `images:` (operators override it there), with a tag.
    let image = str_at(c, "image");
    assert!(
        image.rsplit('/').next().unwrap().contains(':'),
        "image {image} has no tag: is `images:` in the kustomization?"
    );

    // Its identity is the manifests' ServiceAccount, and it is mounted.
    assert_eq!(
        str_at(pod_spec, "serviceAccountName"),
        name(m.one("ServiceAccount"))
    );
    assert!(at(pod_spec, "automountServiceAccountToken").as_bool() != Some(false));
    assert_eq!(name(m.one("Namespace")), NAMESPACE);
    for d in &m.0 {
        let ns = str_at(d, "metadata.namespace");
        assert!(
            ns.is_empty() || ns == NAMESPACE,
            "{} in {ns}",
            str_at(d, "kind")
        );
    }
}

#[test]
fn the_cluster_role_grants_only_list_and_watch_on_every_kind_the_agent_knows() {
    let m = Manifests::render(BASE);
    let rules = at(m.one("ClusterRole"), "rules")
        .as_sequence()
        .expect("rules");
    let mut granted = BTreeSet::new();
    for rule in rules {
        let verbs: BTreeSet<&str> = strings(at(rule, "verbs")).into_iter().collect();
        assert_eq!(
            verbs,
            BTreeSet::from(["list", "watch"]),
            "ClusterRole verbs must be exactly list and watch: {rule:?}"
        );
        assert!(at(rule, "nonResourceURLs").is_null(), "{rule:?}");
        assert!(at(rule, "resourceNames").is_null(), "{rule:?}");
        for group in strings(at(rule, "apiGroups")) {
            for resource in strings(at(rule, "resources")) {
                assert!(group != "*" && resource != "*", "no wildcard: {rule:?}");
                granted.insert((group.to_string(), resource.to_string()));
            }
        }
    }
    let needed: BTreeSet<(String, String)> = registry::infos()
        .map(|k| (k.api_group().to_string(), k.plural().to_string()))
        .collect();
    assert_eq!(needed.len(), registry::KINDS.len());
    let missing: Vec<_> = needed.difference(&granted).collect();
    assert!(
        missing.is_empty(),
        "kinds of agent/src/registry.rs without a list/watch rule in deploy/daemonset/clusterrole.yaml: {missing:?}"
    );
    let extra: Vec<_> = granted.difference(&needed).collect();
    assert!(
        extra.is_empty(),
        "rules for kinds the agent never reads: {extra:?}"
    );

    let crb = m.one("ClusterRoleBinding");
    assert_eq!(str_at(crb, "roleRef.kind"), "ClusterRole");
    assert_eq!(str_at(crb, "roleRef.name"), name(m.one("ClusterRole")));
    assert_binds_the_service_account(&m, crb);
}

#[test]
fn the_role_grants_the_election_lease_in_its_own_namespace_and_nothing_else() {
    let m = Manifests::render(BASE);
    let role = m.one("Role");
    assert_eq!(str_at(role, "metadata.namespace"), NAMESPACE);
    let args = strings(at(container(&m), "args"));
    let lease_name = flag(&args, "--lease-name").unwrap_or("kube-state-agent");
    let mut verbs = BTreeSet::new();
    for rule in at(role, "rules").as_sequence().expect("rules") {
        assert_eq!(strings(at(rule, "apiGroups")), ["coordination.k8s.io"]);
        assert_eq!(strings(at(rule, "resources")), ["leases"]);
        let names = strings(at(rule, "resourceNames"));
        assert!(
            names.is_empty() || names == [lease_name],
            "the Role names {names:?} but the DaemonSet elects on {lease_name}"
        );
        verbs.extend(strings(at(rule, "verbs")));
    }
    // Candidates follow the Lease by a list and watch of its name, and write it.
    assert_eq!(
        verbs,
        BTreeSet::from(["create", "get", "list", "update", "watch"])
    );

    let rb = m.one("RoleBinding");
    assert_eq!(str_at(rb, "metadata.namespace"), NAMESPACE);
    assert_eq!(str_at(rb, "roleRef.kind"), "Role");
    assert_eq!(str_at(rb, "roleRef.name"), name(role));
    assert_binds_the_service_account(&m, rb);
}

#[test]
fn the_auth_filter_overlay_adds_the_flag_and_only_the_review_rights() {
    let base = Manifests::render(BASE);
    let overlay = Manifests::render(AUTH_FILTER);
    let args = |m: &Manifests| -> Vec<String> {
        strings(at(container(m), "args"))
            .into_iter()
            .map(str::to_string)
            .collect()
    };
    let (base_args, overlay_args) = (args(&base), args(&overlay));
    assert_eq!(
        overlay_args[..base_args.len()],
        base_args[..],
        "the base's args stay"
    );
    assert_eq!(
        overlay_args[base_args.len()..],
        ["--auth-filter", "--tenant-access=list:pods"]
    );
    // Everything of the base is there unchanged but the DaemonSet; two objects are added.
    for doc in &base.0 {
        if str_at(doc, "kind") != "DaemonSet" {
            assert!(overlay.0.contains(doc), "{} changed", name(doc));
        }
    }
    assert_eq!(overlay.0.len(), base.0.len() + 2);
    let role = overlay
        .0
        .iter()
        .find(|d| str_at(d, "kind") == "ClusterRole" && name(d) == "kube-state-agent-auth")
        .expect("the review ClusterRole");
    let rules = rules_of(role);
    assert_eq!(
        rules,
        [
            (
                vec!["authentication.k8s.io"],
                vec!["tokenreviews"],
                vec!["create"]
            ),
            (
                vec!["authorization.k8s.io"],
                vec!["subjectaccessreviews"],
                vec!["create"]
            ),
        ]
    );
    let binding = overlay
        .0
        .iter()
        .find(|d| str_at(d, "kind") == "ClusterRoleBinding" && name(d) == "kube-state-agent-auth")
        .expect("the review ClusterRoleBinding");
    assert_eq!(str_at(binding, "roleRef.name"), "kube-state-agent-auth");
    assert_binds_the_service_account(&overlay, binding);
    // The tenant views need the namespaces' names: the base already grants list/watch there.
    let base_role = base.one("ClusterRole");
    assert!(
        at(base_role, "rules")
            .as_sequence()
            .expect("rules")
            .iter()
            .any(|r| strings(at(r, "resources")).contains(&"namespaces")
                && strings(at(r, "verbs")) == ["list", "watch"]),
        "namespaces are listed and watched"
    );
}

#[test]
fn the_auth_filter_overlays_new_objects_pass_a_server_side_dry_run() {
    let overlay = Manifests::render(AUTH_FILTER);
    let added: Vec<String> = overlay
        .0
        .iter()
        .filter(|d| name(d) == "kube-state-agent-auth")
        .map(|d| serde_norway::to_string(d).expect("YAML"))
        .collect();
    assert_eq!(added.len(), 2);
    let out = kubectl(
        &["apply", "--dry-run=server", "-f", "-"],
        &added.join("---\n"),
    )
    .unwrap_or_else(|e| panic!("server-side dry run: {e}"));
    assert_eq!(
        out.lines()
            .filter(|l| l.ends_with("(server dry run)"))
            .count(),
        2,
        "{out}"
    );
}

fn assert_binds_the_service_account(m: &Manifests, binding: &Value) {
    let subjects = at(binding, "subjects").as_sequence().expect("subjects");
    assert_eq!(subjects.len(), 1, "{subjects:?}");
    assert_eq!(str_at(&subjects[0], "kind"), "ServiceAccount");
    assert_eq!(str_at(&subjects[0], "name"), name(m.one("ServiceAccount")));
    assert_eq!(str_at(&subjects[0], "namespace"), NAMESPACE);
}

#[test]
fn the_service_network_policy_and_pod_monitor_select_the_agents_ports() {
    let m = Manifests::render(BASE);
    let pod_labels = at(m.one("DaemonSet"), "spec.template.metadata.labels")
        .as_mapping()
        .expect("pod labels");
    let selects_agents = |selector: &Value, what: &str| {
        let selector = selector.as_mapping().expect(what);
        assert!(!selector.is_empty(), "{what} selects everything");
        for (k, v) in selector {
            assert_eq!(pod_labels.get(k), Some(v), "{what}: {k:?}");
        }
    };
    let c = container(&m);
    let args = strings(at(c, "args"));
    let metrics_port = flag(&args, "--port").map_or(8080, |p| p.parse().unwrap());
    let telemetry_port = flag(&args, "--telemetry-port").map_or(8081, |p| p.parse().unwrap());

    let svc = m.one("Service");
    assert_eq!(str_at(svc, "spec.clusterIP"), "None", "headless");
    selects_agents(at(svc, "spec.selector"), "Service selector");
    let svc_ports: BTreeSet<u64> = at(svc, "spec.ports")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|p| container_port(c, at(p, "targetPort")))
        .collect();
    assert_eq!(svc_ports, BTreeSet::from([metrics_port, telemetry_port]));

    let np = m.one("NetworkPolicy");
    selects_agents(at(np, "spec.podSelector.matchLabels"), "NetworkPolicy");
    let admitted: BTreeSet<u64> = at(np, "spec.ingress")
        .as_sequence()
        .expect("ingress rules")
        .iter()
        .flat_map(|r| at(r, "ports").as_sequence().cloned().unwrap_or_default())
        .map(|p| container_port(c, at(&p, "port")))
        .collect();
    assert!(
        admitted.contains(&metrics_port) && admitted.contains(&telemetry_port),
        "NetworkPolicy admits {admitted:?}"
    );

    let pm = Manifests::render(PROMETHEUS_OPERATOR);
    let monitor = pm.one("PodMonitor");
    assert_eq!(str_at(monitor, "apiVersion"), "monitoring.coreos.com/v1");
    assert_eq!(str_at(monitor, "metadata.namespace"), NAMESPACE);
    assert_eq!(
        strings(at(monitor, "spec.namespaceSelector.matchNames")),
        [NAMESPACE]
    );
    selects_agents(at(monitor, "spec.selector.matchLabels"), "PodMonitor");
    let endpoints = at(monitor, "spec.podMetricsEndpoints")
        .as_sequence()
        .expect("endpoints");
    let mut scraped = BTreeSet::new();
    for e in endpoints {
        let port = container_port(c, at(e, "port"));
        scraped.insert(port);
        // prometheus-operator sets job to "<namespace>/<name>"; the mixins want this one.
        let sets_job = at(e, "relabelings").as_sequence().is_some_and(|rs| {
            rs.iter().any(|r| {
                str_at(r, "targetLabel") == "job"
                    && str_at(r, "replacement") == "kube-state-metrics"
                    && matches!(str_at(r, "action"), "" | "replace")
            })
        });
        assert!(
            sets_job,
            "endpoint on {port} does not set job=kube-state-metrics"
        );
        if port == metrics_port {
            // The objects' own namespace/pod labels must win over the agent pod's.
            assert_eq!(at(e, "honorLabels").as_bool(), Some(true));
        }
    }
    assert_eq!(scraped, BTreeSet::from([metrics_port, telemetry_port]));
}

#[test]
fn the_plain_prometheus_example_scrapes_both_ports_as_job_kube_state_metrics() {
    let root = workspace_root();
    let example = std::fs::read_to_string(root.join("deploy/prometheus/scrape-config.yaml"))
        .expect("deploy/prometheus/scrape-config.yaml");
    let install = std::fs::read_to_string(root.join("docs/install.md")).expect("docs/install.md");
    assert!(
        install.contains(example.trim()),
        "docs/install.md must show deploy/prometheus/scrape-config.yaml as it is"
    );
    // (Debian's promtool is built without Kubernetes discovery, so the structure is checked
    // here instead.)
    let config: Value = serde_norway::from_str(&example).expect("valid YAML");
    let jobs = at(&config, "scrape_configs")
        .as_sequence()
        .expect("scrape_configs");
    let mut ports = BTreeSet::new();
    for job in jobs {
        let sd = at(job, "kubernetes_sd_configs.0");
        assert_eq!(str_at(sd, "role"), "pod");
        assert_eq!(strings(at(sd, "namespaces.names")), [NAMESPACE]);
        let relabels = at(job, "relabel_configs")
            .as_sequence()
            .expect("relabel_configs");
        let keep = relabels
            .iter()
            .find(|r| str_at(r, "action") == "keep")
            .expect("a keep rule");
        assert_eq!(
            strings(at(keep, "source_labels")),
            [
                "__meta_kubernetes_pod_label_app_kubernetes_io_name",
                "__meta_kubernetes_pod_container_port_name"
            ]
        );
        let (app, port) = str_at(keep, "regex").split_once(';').expect("app;port");
        assert_eq!(app, "kube-state-agent");
        ports.insert(port.to_string());
        let job_label = relabels
            .iter()
            .rev()
            .find(|r| str_at(r, "target_label") == "job")
            .map_or(str_at(job, "job_name"), |r| str_at(r, "replacement"));
        assert_eq!(job_label, "kube-state-metrics", "{job:?}");
        if port == "http-metrics" {
            assert_eq!(at(job, "honor_labels").as_bool(), Some(true));
            for r in relabels {
                let target = str_at(r, "target_label");
                assert!(
                    !["namespace", "pod", "container", "node"].contains(&target),
                    "the object series must not get the agent's {target}"
                );
            }
        }
    }
    let m = Manifests::render(BASE);
    let names: BTreeSet<String> = at(container(&m), "ports")
        .as_sequence()
        .expect("ports")
        .iter()
        .map(|p| str_at(p, "name").to_string())
        .collect();
    assert_eq!(ports, names, "the example keeps the DaemonSet's port names");
    assert!(ports.contains("http-metrics"));
}

// ===== live =====

/// Removes everything the manifests install, and what the agent wrote (its Lease), whatever
/// state an earlier run left. Without a namespace controller a deleted namespace stays
/// `Terminating`, so its objects are deleted one by one and the namespace is finalized by hand.
fn remove_installation() {
    let _ = kubectl(
        &[
            "delete",
            "leases",
            "--all",
            "-n",
            NAMESPACE,
            "--ignore-not-found",
        ],
        "",
    );
    let base = workspace_root().join(BASE);
    let base = base.to_str().unwrap();
    kubectl(
        &["delete", "-k", base, "--ignore-not-found", "--wait=false"],
        "",
    )
    .unwrap_or_else(|e| panic!("removing the installation: {e}"));
    let finalize = format!(
        r#"{{"apiVersion":"v1","kind":"Namespace","metadata":{{"name":"{NAMESPACE}"}},"spec":{{"finalizers":[]}}}}"#
    );
    let path = format!("/api/v1/namespaces/{NAMESPACE}/finalize");
    if let Err(e) = kubectl(&["replace", "--raw", &path, "-f", "-"], &finalize) {
        assert!(e.contains("NotFound") || e.contains("not found"), "{e}");
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while kubectl(&["get", "namespace", NAMESPACE, "-o", "name"], "").is_ok() {
        assert!(
            std::time::Instant::now() < deadline,
            "namespace {NAMESPACE} still there after 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Removes the installation when dropped, also when the test fails.
struct Installation;

impl Drop for Installation {
    fn drop(&mut self) {
        remove_installation();
    }
}

/// A kube client from a kubeconfig file.
async fn client_from(path: &std::path::Path) -> kube::Client {
    let kc = Kubeconfig::read_from(path).expect("kubeconfig");
    let config = kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
        .await
        .expect("client config");
    kube::Client::try_from(config).expect("client")
}

/// The HTTP status of a failed call, or 200.
fn status<T>(r: Result<T, kube::Error>) -> u16 {
    match r {
        Ok(_) => 200,
        Err(kube::Error::Api(s)) => s.code,
        Err(e) => panic!("not an API answer: {e}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_manifests_apply_and_grant_the_agent_what_it_uses_and_nothing_more() {
    let admin = Cluster::get().client().await;
    let base = workspace_root().join(BASE);
    let base = base.to_str().unwrap();
    let rendered = Manifests::render(BASE);

    // Apply: a leftover of an earlier run goes first. A server-side dry run of namespaced
    // objects needs their namespace, so the Namespace is applied, then everything is dry-run
    // (the apiserver validates and admits each object, and stores none), then applied.
    remove_installation();
    let _installation = Installation;
    kubectl(&["apply", "-f", &format!("{base}/namespace.yaml")], "").unwrap();
    let dry = kubectl(&["apply", "--dry-run=server", "-k", base], "")
        .unwrap_or_else(|e| panic!("server-side dry run: {e}"));
    for (kind, name) in rendered.names() {
        let line = dry
            .lines()
            .find(|l| {
                let kind = kind.to_lowercase();
                (l.starts_with(&format!("{kind}/")) || l.starts_with(&format!("{kind}.")))
                    && l.contains(&format!("/{name} "))
            })
            .unwrap_or_else(|| panic!("{kind}/{name} not in the dry run's output:\n{dry}"));
        assert!(line.ends_with("(server dry run)"), "{line}");
    }
    assert!(
        kubectl(
            &["get", "daemonset", "kube-state-agent", "-n", NAMESPACE],
            ""
        )
        .is_err(),
        "a dry run stored the DaemonSet"
    );
    kubectl(&["apply", "-k", base], "").unwrap_or_else(|e| panic!("apply: {e}"));
    let stored = kubectl(&["get", "-k", base, "-o", "name"], "")
        .unwrap_or_else(|e| panic!("an applied object is missing: {e}"));
    assert_eq!(stored.lines().count(), rendered.0.len(), "{stored}");

    // A token bound to the manifests' ServiceAccount, from the TokenRequest API.
    let sa = name(rendered.one("ServiceAccount")).to_string();
    let token = testkit::objects::service_account_token(&admin, NAMESPACE, &sa).await;
    let kubeconfig = Cluster::get().kubeconfig_with_token(&token);
    let sa_client = client_from(&kubeconfig).await;

    // Objects of several kinds: a Node and a pod bound to it (node scope), an unscheduled pod
    // (leader), and namespaced and cluster-scope objects (leader).
    let ns = TestNamespace::create(&admin, "deploy").await;
    let node_name = unique("deploy-node");
    create_node(&admin, node(&node_name), node_status("True")).await;
    let _node = NodeGuard(node_name.clone());
    create_pod(
        &admin,
        ns.name(),
        pod("bound")
            .in_namespace(ns.name())
            .on_node(&node_name)
            .build(),
    )
    .await;
    create_pod(
        &admin,
        ns.name(),
        pod("pending")
            .in_namespace(ns.name())
            .unschedulable()
            .build(),
    )
    .await;
    let objects = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {ns}}}\ndata: {{a: b}}\n\
         ---\napiVersion: v1\nkind: Secret\nmetadata: {{name: credentials, namespace: {ns}}}\nstringData: {{k: v}}\n\
         ---\napiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec: {{ports: [{{port: 80}}], selector: {{app: web}}}}\n\
         ---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: web, namespace: {ns}}}\n\
         spec: {{selector: {{matchLabels: {{app: web}}}}, template: {{metadata: {{labels: {{app: web}}}}, \
         spec: {{containers: [{{name: web, image: nginx}}]}}}}}}\n",
        ns = ns.name()
    );
    kubectl(&["apply", "-f", "-"], &objects).unwrap_or_else(|e| panic!("objects: {e}"));

    // The agent as the DaemonSet runs it: its args (less the ports, which the harness picks),
    // the downward-API environment, and every kind it knows, so every rule is exercised.
    let c = container(&rendered);
    let ds_args: Vec<&str> = strings(at(c, "args"))
        .into_iter()
        .filter(|a| !a.starts_with("--port") && !a.starts_with("--telemetry-port"))
        .collect();
    let lease_name = flag(&ds_args, "--lease-name").unwrap_or("kube-state-agent");
    let all_kinds: Vec<&str> = registry::KINDS.iter().map(|k| k.resource()).collect();
    let all_kinds = all_kinds.join(",");
    let mut args = ds_args.clone();
    args.extend(["--resources", &all_kinds]);
    let identity = format!("kube-state-agent-{}", unique("pod"));
    let env: Vec<(String, String)> = at(c, "env")
        .as_sequence()
        .unwrap()
        .iter()
        .map(|e| {
            let value = match str_at(e, "valueFrom.fieldRef.fieldPath") {
                "spec.nodeName" => node_name.clone(),
                "metadata.name" => identity.clone(),
                "metadata.namespace" => NAMESPACE.to_string(),
                other => panic!("an env field the test does not know: {other}"),
            };
            (str_at(e, "name").to_string(), value)
        })
        .collect();
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let mut agent = AgentProcess::start_with_env(&kubeconfig, &node_name, &args, &env);
    let started = std::time::Instant::now();
    agent.wait_ready(Duration::from_secs(60)).await;
    eprintln!("agent ready after {:?}", started.elapsed());
    assert_eq!(agent.get("/livez").await.map(|r| r.0), Ok(200), "/livez");

    // It wins the Lease and holds it.
    let leases: Api<Lease> = Api::namespaced(admin.clone(), NAMESPACE);
    poll_until(
        "the agent holds the Lease",
        Duration::from_secs(30),
        || async {
            let l = leases
                .get_opt(lease_name)
                .await
                .map_err(|e| e.to_string())?;
            let holder = l
                .as_ref()
                .and_then(|l| l.spec.as_ref())
                .and_then(|s| s.holder_identity.clone());
            if holder.as_deref() == Some(identity.as_str()) {
                Ok(())
            } else {
                Err(format!("holder {holder:?}"))
            }
        },
    )
    .await;

    // Leading starts the cluster-scope watches; it is ready again once they have listed, on
    // both ports.
    agent.wait_ready(Duration::from_secs(60)).await;
    eprintln!("leader and ready after {:?}", started.elapsed());
    poll_until(
        "/readyz on the telemetry port",
        Duration::from_secs(30),
        || async {
            match agent.get_telemetry("/readyz").await? {
                (200, _) => Ok(()),
                (code, _) => Err(format!("{code}")),
            }
        },
    )
    .await;

    // It exports rows of node-scope and leader kinds.
    let expected: Vec<(&str, Vec<(&str, &str)>)> = vec![
        ("kube_node_info", vec![("node", node_name.as_str())]),
        (
            "kube_pod_info",
            vec![("namespace", ns.name()), ("pod", "bound")],
        ),
        (
            "kube_pod_info",
            vec![("namespace", ns.name()), ("pod", "pending")],
        ),
        (
            "kube_deployment_created",
            vec![("namespace", ns.name()), ("deployment", "web")],
        ),
        (
            "kube_configmap_info",
            vec![("namespace", ns.name()), ("configmap", "settings")],
        ),
        (
            "kube_secret_info",
            vec![("namespace", ns.name()), ("secret", "credentials")],
        ),
        (
            "kube_service_info",
            vec![("namespace", ns.name()), ("service", "web")],
        ),
        ("kube_namespace_created", vec![("namespace", NAMESPACE)]),
        (
            "kube_clusterrole_info",
            vec![("clusterrole", "kube-state-agent")],
        ),
        (
            "kube_role_info",
            vec![
                ("namespace", NAMESPACE),
                ("role", name(rendered.one("Role"))),
            ],
        ),
        (
            "kube_lease_renew_time",
            vec![("namespace", NAMESPACE), ("lease", lease_name)],
        ),
    ];
    poll_until(
        "rows of every expected kind",
        Duration::from_secs(30),
        || async {
            let e = agent.scrape().await?;
            let missing: Vec<&str> = expected
                .iter()
                .filter(|(family, labels)| {
                    !e.samples_of(family)
                        .any(|s| labels.iter().all(|(k, v)| s.label(k) == Some(v)))
                })
                .map(|(family, _)| *family)
                .collect();
            if missing.is_empty() {
                Ok(())
            } else {
                Err(format!("missing {missing:?}"))
            }
        },
    )
    .await;

    // Its own metrics: it leads; every kind was listed, unless this 1.20 apiserver does not serve
    // its API version (a 404, not a 403); no watch failed; nothing was forbidden.
    let (code, body) = agent.get_telemetry("/metrics").await.unwrap();
    assert_eq!(code, 200);
    let t = Exposition::parse(&body).unwrap();
    let value = |family: &str, labels: &[(&str, &str)]| {
        t.samples_of(family)
            .filter(|s| labels.iter().all(|(k, v)| s.label(k) == Some(v)))
            .map(|s| s.value)
            .sum::<f64>()
    };
    assert_eq!(value("ksa_leader", &[]), 1.0, "ksa_leader");
    let unserved: BTreeSet<String> = t
        .samples_of("ksa_kind_unserved")
        .filter(|s| s.value == 1.0)
        .filter_map(|s| s.label("resource").map(str::to_string))
        .collect();
    for kind in registry::infos() {
        // KSM's label: the informer type, `*v1.Deployment`.
        let listed = value(
            "kube_state_metrics_list_total",
            &[("resource", &kind.informer_type()), ("result", "success")],
        );
        assert!(
            listed > 0.0 || unserved.contains(kind.resource()),
            "{} was neither listed nor reported unserved",
            kind.resource()
        );
    }
    let errors: Vec<String> = t
        .samples_of("ksa_watch_errors_total")
        .filter(|s| s.value > 0.0)
        .map(|s| format!("{:?}", s.labels))
        .collect();
    assert!(errors.is_empty(), "watch errors: {errors:?}");
    for s in t
        .samples_of("ksa_api_requests_total")
        .filter(|s| s.label("result") == Some("error") && s.value > 0.0)
    {
        let resource = s.label("resource").unwrap_or("");
        // The first `get` of the Lease is a 404 before it exists; `get` itself is checked
        // allowed below.
        let first_lease_get = resource == "leases" && s.label("verb") == Some("get");
        assert!(
            first_lease_get
                || registry::infos()
                    .any(|k| k.plural() == resource && unserved.contains(k.resource())),
            "API errors on {:?}\n{}",
            s.labels,
            agent.log()
        );
    }
    let log = agent.log();
    assert!(
        !log.to_lowercase().contains("forbidden"),
        "the agent was forbidden something:\n{log}"
    );

    // The same token, for what the manifests grant and what they do not.
    let sa_leases: Api<Lease> = Api::namespaced(sa_client.clone(), NAMESPACE);
    assert_eq!(
        status(sa_leases.get(lease_name).await),
        200,
        "get own Lease"
    );
    let sa_pods: Api<Pod> = Api::all(sa_client.clone());
    assert_eq!(
        status(sa_pods.list(&ListParams::default()).await),
        200,
        "list pods"
    );

    let secrets: Api<Secret> = Api::namespaced(sa_client.clone(), ns.name());
    assert_eq!(
        status(secrets.get("credentials").await),
        403,
        "get a Secret"
    );
    let pods: Api<Pod> = Api::namespaced(sa_client.clone(), ns.name());
    let new_pod = pod("intruder").in_namespace(ns.name()).build();
    assert_eq!(
        status(pods.create(&PostParams::default(), &new_pod).await),
        403,
        "create a Pod"
    );
    assert_eq!(status(pods.get("bound").await), 403, "get a Pod");
    let nodes: Api<Node> = Api::all(sa_client.clone());
    assert_eq!(status(nodes.get(&node_name).await), 403, "get a Node");

    // Leases elsewhere: not in another namespace, not under another name in its own.
    let admin_leases: Api<Lease> = Api::namespaced(admin.clone(), ns.name());
    let other = admin_leases
        .create(&PostParams::default(), &lease("elsewhere", "someone"))
        .await
        .unwrap();
    let foreign: Api<Lease> = Api::namespaced(sa_client.clone(), ns.name());
    assert_eq!(
        status(
            foreign
                .replace("elsewhere", &PostParams::default(), &other)
                .await
        ),
        403,
        "update a Lease in another namespace"
    );
    assert_eq!(
        status(
            foreign
                .create(&PostParams::default(), &lease("mine", "me"))
                .await
        ),
        403,
        "create a Lease in another namespace"
    );
    let own = leases
        .create(
            &PostParams::default(),
            &lease("not-the-election", "someone"),
        )
        .await
        .unwrap();
    assert_eq!(
        status(
            sa_leases
                .replace("not-the-election", &PostParams::default(), &own)
                .await
        ),
        403,
        "update another Lease of its own namespace"
    );

    // Kinds it does not read.
    let events: Api<Event> = Api::all(sa_client.clone());
    assert_eq!(
        status(events.list(&ListParams::default()).await),
        403,
        "list events"
    );
    let revisions: Api<ControllerRevision> = Api::all(sa_client.clone());
    assert_eq!(
        status(revisions.list(&ListParams::default()).await),
        403,
        "list controllerrevisions"
    );

    // On SIGTERM it gives the Lease up.
    assert_eq!(agent.terminate(), Some(0), "{}", agent.log());
    let released = leases.get(lease_name).await.unwrap();
    assert_eq!(
        released.spec.and_then(|s| s.holder_identity),
        None,
        "lease not released"
    );
    let _ = std::fs::remove_file(&kubeconfig);
}

/// Deletes a Node when dropped.
struct NodeGuard(String);

impl Drop for NodeGuard {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "node", &self.0, "--ignore-not-found"], "");
    }
}
