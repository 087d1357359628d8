//! Custom resource state against the real apiserver: CRDs and custom objects created with
//! kubectl, the agent started with `--scope=cluster` and an inline
//! `--custom-resource-state-config`. Each test has its own API group, so CRDs of parallel
//! tests never collide; series are told apart by their `customresource_group` label.

use std::time::Duration;

use testkit::agent::AgentProcess;
use testkit::kubectl::kubectl;
use testkit::objects::{ConfigDir, TestNamespace, unique};
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(20);
/// A CRD created after the start is found by the agent's next discovery check (every 10 s),
/// then listed.
const DISCOVERED: Duration = Duration::from_secs(45);

/// A CRD of `group` (`<plural>.<group>`, version v1, namespaced, any fields), deleted on drop.
struct Crd {
    name: String,
}

impl Crd {
    fn create(group: &str, kind: &str, plural: &str) -> Crd {
        Crd::create_with_versions(group, kind, plural, &["v1"])
    }

    /// A CRD serving each of `versions` (the first one stored), with the same schema, so no
    /// conversion webhook is needed (`conversion: {strategy: None}`).
    fn create_with_versions(group: &str, kind: &str, plural: &str, versions: &[&str]) -> Crd {
        Crd::create_scoped(group, kind, plural, versions, "Namespaced")
    }

    /// A cluster-scoped CRD of `group` (version v1, any fields).
    fn create_cluster_scoped(group: &str, kind: &str, plural: &str) -> Crd {
        Crd::create_scoped(group, kind, plural, &["v1"], "Cluster")
    }

    fn create_scoped(group: &str, kind: &str, plural: &str, versions: &[&str], scope: &str) -> Crd {
        let name = format!("{plural}.{group}");
        let versions: String = versions
            .iter()
            .enumerate()
            .map(|(i, v)| {
                format!(
                    "    - name: {v}
      served: true
      storage: {storage}
      schema:
        openAPIV3Schema:
          type: object
          x-kubernetes-preserve-unknown-fields: true
",
                    storage = i == 0
                )
            })
            .collect();
        let yaml = format!(
            "apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: {name}
spec:
  group: {group}
  scope: {scope}
  names:
    kind: {kind}
    plural: {plural}
    singular: {singular}
  conversion:
    strategy: None
  versions:
{versions}",
            singular = plural.trim_end_matches('s'),
        );
        kubectl(&["apply", "-f", "-"], &yaml).expect("the CRD is created");
        kubectl(
            &[
                "wait",
                "--for=condition=Established",
                "--timeout=30s",
                &format!("crd/{name}"),
            ],
            "",
        )
        .expect("the CRD is established");
        Crd { name }
    }

    fn delete(&self) {
        kubectl(&["delete", "crd", &self.name, "--wait=false"], "").expect("the CRD is deleted");
    }
}

impl Drop for Crd {
    fn drop(&mut self) {
        let _ = kubectl(
            &[
                "delete",
                "crd",
                &self.name,
                "--ignore-not-found",
                "--wait=false",
            ],
            "",
        );
    }
}

/// Creates or updates a custom object of `group`/v1.
fn apply_object(group: &str, kind: &str, ns: &str, name: &str, spec: &str) {
    let yaml = format!(
        "apiVersion: {group}/v1\nkind: {kind}\nmetadata:\n  name: {name}\n  namespace: {ns}\nspec: {spec}\n"
    );
    kubectl(&["apply", "-f", "-"], &yaml).expect("the object is applied");
}

/// Creates or updates a cluster-scoped custom object of `group`/v1.
fn apply_cluster_object(group: &str, kind: &str, name: &str, spec: &str) {
    let yaml =
        format!("apiVersion: {group}/v1\nkind: {kind}\nmetadata:\n  name: {name}\nspec: {spec}\n");
    kubectl(&["apply", "-f", "-"], &yaml).expect("the object is applied");
}

/// The custom resource state config: Widgets (plural from discovery) and Gadgets (plural
/// configured), with `extra_metric` added to the Widgets' metrics.
fn config(group: &str, extra_metric: &str) -> String {
    format!(
        r#"kind: CustomResourceStateMetrics
spec:
  resources:
    - groupVersionKind: {{group: "{group}", version: v1, kind: Widget}}
      labelsFromPath:
        name: [metadata, name]
        namespace: [metadata, namespace]
      metrics:
        - name: widget_size
          help: The widget's size.
          each:
            type: Gauge
            gauge: {{path: [spec, size]}}{extra_metric}
    - groupVersionKind: {{group: "{group}", version: v1, kind: Gadget}}
      resourcePlural: gadgets
      labelsFromPath:
        name: [metadata, name]
      metrics:
        - name: gadget_count
          help: The gadget's count.
          each:
            type: Gauge
            gauge: {{path: [spec, count]}}
"#
    )
}

/// The value of `name`'s sample for the object `object` of `group`, if exported.
async fn sample(
    agent: &AgentProcess,
    name: &str,
    group: &str,
    object: &str,
) -> Result<Option<f64>, String> {
    let e = agent.scrape().await?;
    Ok(e.samples_of(name)
        .find(|s| s.label("customresource_group") == Some(group) && s.label("name") == Some(object))
        .map(|s| s.value))
}

/// A `--scope=cluster` agent exporting namespaces (and what `extra` configures), not waited
/// for.
fn cluster_agent(extra: &[&str]) -> AgentProcess {
    let args: Vec<&str> = ["--scope=cluster", "--resources=namespaces"]
        .into_iter()
        .chain(extra.iter().copied())
        .collect();
    AgentProcess::start("", &args)
}

/// Polls until `name`'s sample for `object` is `want` (`None`: gone).
async fn wait_sample(
    agent: &AgentProcess,
    what: &str,
    timeout: Duration,
    name: &str,
    group: &str,
    object: &str,
    want: Option<f64>,
) {
    poll_until(what, timeout, || async {
        match sample(agent, name, group, object).await? {
            got if got == want => Ok(()),
            got => Err(format!("{name} of {object}: {got:?}")),
        }
    })
    .await;
}

#[tokio::test]
async fn custom_objects_are_exported_changed_and_deleted_and_a_crd_created_later_is_picked_up() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "crs").await;
    let group = format!("{}.ksa.test", unique("crs"));
    let widgets = Crd::create(&group, "Widget", "widgets");
    apply_object(&group, "Widget", ns.name(), "w1", "{size: 3}");

    let custom = config(&group, "");
    let mut agent = cluster_agent(&["--custom-resource-state-config", &custom]);
    // Gadgets are not served yet: reported, and readiness is not held back.
    agent.wait_ready(READY).await;
    poll_until("gadgets reported unserved", CONVERGE, || async {
        match agent
            .self_metric("ksa_kind_unserved", &[("resource", "gadgets")])
            .await?
        {
            1.0 => Ok(()),
            v => Err(format!("ksa_kind_unserved{{resource=gadgets}} = {v}")),
        }
    })
    .await;

    let size = "kube_customresource_widget_size";
    wait_sample(&agent, "w1's size", CONVERGE, size, &group, "w1", Some(3.0)).await;
    let e = agent.scrape().await.unwrap();
    let w1 = e
        .samples_of(size)
        .find(|s| s.label("name") == Some("w1") && s.label("customresource_group") == Some(&group))
        .unwrap();
    assert_eq!(w1.label("customresource_kind"), Some("Widget"));
    assert_eq!(w1.label("customresource_version"), Some("v1"));
    assert_eq!(w1.label("namespace"), Some(ns.name()));
    // `?resources=` selects custom resources by plural, as built-in kinds.
    let (_, only) = agent.get("/metrics?resources=widgets").await.unwrap();
    assert!(
        only.contains(size) && !only.contains("kube_namespace_"),
        "{only}"
    );

    // Changed: the new value replaces the old.
    apply_object(&group, "Widget", ns.name(), "w1", "{size: 5}");
    wait_sample(
        &agent,
        "w1's new size",
        CONVERGE,
        size,
        &group,
        "w1",
        Some(5.0),
    )
    .await;

    // A value that does not convert: no sample, counted.
    apply_object(&group, "Widget", ns.name(), "w1", "{size: huge}");
    wait_sample(
        &agent,
        "w1's bad size dropped",
        CONVERGE,
        size,
        &group,
        "w1",
        None,
    )
    .await;
    let errors = agent
        .self_metric(
            "ksa_custom_resource_sample_errors_total",
            &[("resource", "widgets"), ("metric", size)],
        )
        .await
        .unwrap();
    assert!(errors >= 1.0, "sample errors counted: {errors}");

    // Deleted: its rows go.
    apply_object(&group, "Widget", ns.name(), "w1", "{size: 7}");
    wait_sample(&agent, "w1 back", CONVERGE, size, &group, "w1", Some(7.0)).await;
    kubectl(
        &["delete", &format!("widgets.{group}"), "w1", "-n", ns.name()],
        "",
    )
    .expect("w1 is deleted");
    wait_sample(&agent, "w1 gone", CONVERGE, size, &group, "w1", None).await;

    // A CRD created after the start: its series appear without a restart.
    let pid = agent.pid();
    let _gadgets = Crd::create(&group, "Gadget", "gadgets");
    apply_object(&group, "Gadget", ns.name(), "g1", "{count: 2}");
    let count = "kube_customresource_gadget_count";
    wait_sample(
        &agent,
        "g1 after its CRD appeared",
        DISCOVERED,
        count,
        &group,
        "g1",
        Some(2.0),
    )
    .await;
    assert_eq!(agent.pid(), pid, "no restart");
    assert_eq!(
        agent
            .self_metric("ksa_kind_unserved", &[("resource", "gadgets")])
            .await
            .unwrap(),
        0.0
    );

    // A CRD that goes away: its rows go, and it is reported unserved again.
    apply_object(&group, "Widget", ns.name(), "w2", "{size: 1}");
    wait_sample(&agent, "w2", CONVERGE, size, &group, "w2", Some(1.0)).await;
    widgets.delete();
    wait_sample(
        &agent,
        "w2 gone with its CRD",
        DISCOVERED,
        size,
        &group,
        "w2",
        None,
    )
    .await;
    poll_until("widgets reported unserved", DISCOVERED, || async {
        match agent
            .self_metric("ksa_kind_unserved", &[("resource", "widgets")])
            .await?
        {
            1.0 => Ok(()),
            v => Err(format!("ksa_kind_unserved{{resource=widgets}} = {v}")),
        }
    })
    .await;
    let (status, _) = agent.get("/readyz").await.unwrap();
    assert_eq!(
        status, 200,
        "an unserved custom resource holds no readiness back"
    );
}

#[tokio::test]
async fn a_denied_namespaces_custom_objects_are_not_exported() {
    let client = Cluster::get().client().await;
    let denied = TestNamespace::create(&client, "crs-deny").await;
    let kept = TestNamespace::create(&client, "crs-keep").await;
    let group = format!("{}.ksa.test", unique("crsdeny"));
    let _widgets = Crd::create(&group, "Widget", "widgets");
    apply_object(&group, "Widget", denied.name(), "w-denied", "{size: 1}");
    apply_object(&group, "Widget", kept.name(), "w-kept", "{size: 2}");

    let custom = config(&group, "");
    let deny = format!("--namespaces-denylist={}", denied.name());
    let mut agent = cluster_agent(&[&deny, "--custom-resource-state-config", &custom]);
    agent.wait_ready(READY).await;
    let size = "kube_customresource_widget_size";
    // Both were listed in one list: once the kept one is there, the denied one was left out.
    wait_sample(
        &agent,
        "w-kept",
        CONVERGE,
        size,
        &group,
        "w-kept",
        Some(2.0),
    )
    .await;
    assert_eq!(
        sample(&agent, size, &group, "w-denied").await.unwrap(),
        None,
        "the denied namespace's object is not exported"
    );
    // And so are the ones created while watching.
    apply_object(&group, "Widget", denied.name(), "w-denied-2", "{size: 3}");
    apply_object(&group, "Widget", kept.name(), "w-kept-2", "{size: 4}");
    wait_sample(
        &agent,
        "w-kept-2",
        CONVERGE,
        size,
        &group,
        "w-kept-2",
        Some(4.0),
    )
    .await;
    assert_eq!(
        sample(&agent, size, &group, "w-denied-2").await.unwrap(),
        None,
        "the denied namespace's new object is not exported"
    );
}

/// `custom` as the `custom_resource_config` key of a `--config` file.
fn config_file(custom: &str) -> String {
    let indented: String = custom.lines().map(|l| format!("  {l}\n")).collect();
    format!("custom_resource_config: |\n{indented}")
}

/// Which file of a running agent a test edits to change its custom resource state config.
#[derive(Clone, Copy, Debug)]
enum Edited {
    /// The `--config` file, holding the custom config under `custom_resource_config`.
    ConfigFile,
    /// The `--custom-resource-state-config-file` itself, without `--config`.
    CustomConfigFile,
}

impl Edited {
    /// The agent's flag for the file.
    fn flag(self) -> &'static str {
        match self {
            Edited::ConfigFile => "--config",
            Edited::CustomConfigFile => "--custom-resource-state-config-file",
        }
    }

    /// The file's text for the custom config `custom`.
    fn text(self, custom: &str) -> String {
        match self {
            Edited::ConfigFile => config_file(custom),
            Edited::CustomConfigFile => custom.to_string(),
        }
    }

    /// The flag an error in the custom config is reported under.
    fn reported_flag(self) -> &'static str {
        match self {
            Edited::ConfigFile => "--custom-resource-state-config",
            Edited::CustomConfigFile => "--custom-resource-state-config-file",
        }
    }
}

/// A running agent whose `edited` file gains a metric, which appears without a restart; then
/// the file is broken, the reload is counted as failed, its log names the flag and the metric,
/// and the running series stay.
async fn an_edited_custom_config_is_applied_and_a_broken_one_keeps_the_running_one(edited: Edited) {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "crs-reload").await;
    let group = format!("{}.ksa.test", unique("crsr"));
    let _widgets = Crd::create(&group, "Widget", "widgets");
    apply_object(&group, "Widget", ns.name(), "w1", "{size: 3, parts: 4}");

    let dir = ConfigDir::new();
    dir.write(&edited.text(&config(&group, "")));
    let file = dir.file();
    let mut agent = cluster_agent(&[edited.flag(), file.to_str().unwrap()]);
    agent.wait_ready(READY).await;
    let pid = agent.pid();
    let size = "kube_customresource_widget_size";
    let parts = "kube_customresource_widget_parts";
    wait_sample(&agent, "w1's size", CONVERGE, size, &group, "w1", Some(3.0)).await;
    assert_eq!(sample(&agent, parts, &group, "w1").await.unwrap(), None);

    // A new metric in the edited file: it appears without a restart.
    let with_parts = config(
        &group,
        "
        - name: widget_parts
          help: The widget's parts.
          each:
            type: Gauge
            gauge: {path: [spec, parts]}",
    );
    dir.write(&edited.text(&with_parts));
    wait_sample(
        &agent,
        "the new metric",
        CONVERGE,
        parts,
        &group,
        "w1",
        Some(4.0),
    )
    .await;
    assert_eq!(agent.pid(), pid, "no restart");
    let successes = agent.self_metric("ksa_config_reloads_total", &[("result", "success")]);
    assert!(successes.await.unwrap() >= 1.0, "the reload is counted");

    // A broken custom config: the reload fails, the running config stays.
    dir.write(&edited.text(
        "spec:\n  resources:\n    - groupVersionKind: {group: x.io, version: v1, kind: X}\n      metrics:\n        - name: bad\n          each: {type: Histogram}\n",
    ));
    poll_until("the failed reload", CONVERGE, || async {
        match agent
            .self_metric("ksa_config_reloads_total", &[("result", "failure")])
            .await?
        {
            1.0 => Ok(()),
            v => Err(format!("failures = {v}")),
        }
    })
    .await;
    assert_eq!(
        sample(&agent, parts, &group, "w1").await.unwrap(),
        Some(4.0)
    );
    assert_eq!(sample(&agent, size, &group, "w1").await.unwrap(), Some(3.0));
    let log = agent.log();
    assert!(
        log.contains(edited.reported_flag()) && log.contains("\"bad\""),
        "the error names the flag and the metric:\n{log}"
    );
    assert_eq!(agent.pid(), pid, "no restart");
}

#[tokio::test]
async fn a_reloaded_config_file_adds_a_custom_metric_and_a_broken_one_keeps_the_running_config() {
    an_edited_custom_config_is_applied_and_a_broken_one_keeps_the_running_one(Edited::ConfigFile)
        .await;
}

#[tokio::test]
async fn a_changed_custom_config_file_is_applied_without_a_restart_and_a_broken_one_is_counted() {
    an_edited_custom_config_is_applied_and_a_broken_one_keeps_the_running_one(
        Edited::CustomConfigFile,
    )
    .await;
}

#[tokio::test]
async fn a_custom_config_that_does_not_compile_fails_the_start_naming_flag_resource_and_metric() {
    let mut agent = AgentProcess::start(
        "",
        &[
            "--scope=cluster",
            "--custom-resource-state-config",
            "spec:\n  resources:\n    - groupVersionKind: {group: shop.io, version: v1, kind: Cart}\n      metrics:\n        - name: items\n          each: {type: Histogram}\n",
        ],
    );
    let code = agent.wait_exit(READY).await;
    assert_eq!(code, Some(2), "{}", agent.log());
    let log = agent.log();
    for part in [
        "--custom-resource-state-config",
        "Cart",
        "\"items\"",
        "Histogram",
    ] {
        assert!(log.contains(part), "{part} missing from:\n{log}");
    }
}

/// A wildcard entry is resolved again every minute (`WILDCARD_RECHECK`, 60 s); a CRD of the
/// group created after the start is listed within this.
const WILDCARD_RESOLVED: Duration = Duration::from_secs(100);

#[tokio::test]
async fn wildcard_versions_and_kinds_export_each_resolution_with_its_own_labels() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "crs-wild").await;
    let group = format!("{}.ksa.test", unique("crsw"));
    let _widgets = Crd::create_with_versions(&group, "Widget", "widgets", &["v1", "v2"]);
    let _gadgets = Crd::create(&group, "Gadget", "gadgets");
    apply_object(&group, "Widget", ns.name(), "w1", "{size: 3}");
    apply_object(&group, "Gadget", ns.name(), "g1", "{size: 5}");

    let custom = format!(
        r#"kind: CustomResourceStateMetrics
spec:
  resources:
    - groupVersionKind: {{group: "{group}", version: "*", kind: Widget}}
      labelsFromPath:
        name: [metadata, name]
      metrics:
        - name: widget_size
          help: The widget's size, per served version.
          each:
            type: Gauge
            gauge: {{path: [spec, size]}}
    - groupVersionKind: {{group: "{group}", version: v1, kind: "*"}}
      labelsFromPath:
        name: [metadata, name]
      metrics:
        - name: any_size
          help: The size of any kind of the group.
          each:
            type: Gauge
            gauge: {{path: [spec, size]}}
"#
    );
    let mut agent = cluster_agent(&["--custom-resource-state-config", &custom]);
    agent.wait_ready(READY).await;

    // (metric, object) -> the (version, kind) labels of its samples, sorted.
    let labels_of = |e: &testkit::exposition::Exposition, metric: &str, object: &str| {
        let mut got: Vec<(String, String)> = e
            .samples_of(metric)
            .filter(|s| {
                s.label("customresource_group") == Some(group.as_str())
                    && s.label("name") == Some(object)
            })
            .map(|s| {
                (
                    s.label("customresource_version").unwrap_or("").to_string(),
                    s.label("customresource_kind").unwrap_or("").to_string(),
                )
            })
            .collect();
        got.sort();
        got
    };
    let pair = |v: &str, k: &str| (v.to_string(), k.to_string());
    poll_until("each resolution's samples", CONVERGE, || async {
        let e = agent.scrape().await?;
        let widget = labels_of(&e, "kube_customresource_widget_size", "w1");
        let any_w = labels_of(&e, "kube_customresource_any_size", "w1");
        let any_g = labels_of(&e, "kube_customresource_any_size", "g1");
        if widget == [pair("v1", "Widget"), pair("v2", "Widget")]
            && any_w == [pair("v1", "Widget")]
            && any_g == [pair("v1", "Gadget")]
        {
            Ok(())
        } else {
            Err(format!(
                "widget_size {widget:?}, any_size w1 {any_w:?} g1 {any_g:?}"
            ))
        }
    })
    .await;
    let e = agent.scrape().await.unwrap();
    assert!(
        e.samples_of("kube_customresource_widget_size")
            .filter(|s| s.label("name") == Some("w1"))
            .all(|s| s.value == 3.0)
    );

    // A kind of the group created after the start: picked up by the next resolution.
    let pid = agent.pid();
    let _doohickeys = Crd::create(&group, "Doohickey", "doohickeys");
    apply_object(&group, "Doohickey", ns.name(), "d1", "{size: 8}");
    poll_until("the later kind resolved", WILDCARD_RESOLVED, || async {
        let e = agent.scrape().await?;
        let got: Vec<_> = e
            .samples_of("kube_customresource_any_size")
            .filter(|s| {
                s.label("customresource_group") == Some(group.as_str())
                    && s.label("name") == Some("d1")
            })
            .map(|s| (s.label("customresource_kind").map(str::to_string), s.value))
            .collect();
        match got.as_slice() {
            [(Some(kind), v)] if kind == "Doohickey" && *v == 8.0 => Ok(()),
            other => Err(format!("d1: {other:?}")),
        }
    })
    .await;
    assert_eq!(agent.pid(), pid, "no restart");
    // The earlier resolutions are listed again, not lost.
    let e = agent.scrape().await.unwrap();
    assert_eq!(
        labels_of(&e, "kube_customresource_any_size", "g1"),
        [pair("v1", "Gadget")]
    );
}

/// The ClusterRole and ClusterRoleBinding docs/install.md ("Custom resources") tells users to
/// add, as written there.
fn documented_grant() -> String {
    let path = testkit::agent::workspace_root().join("docs/install.md");
    let doc = std::fs::read_to_string(&path).expect("docs/install.md");
    let section = &doc[doc.find("### Custom resources").expect("the section")..];
    let start = section.find("```yaml\n").expect("its YAML block") + "```yaml\n".len();
    let end = start + section[start..].find("```").expect("the block's end");
    section[start..end].to_string()
}

/// Objects applied from YAML with kubectl, deleted on drop.
struct Applied(String);

impl Drop for Applied {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "--ignore-not-found", "-f", "-"], &self.0);
    }
}

/// `text` with `from` replaced by `to`, which must occur in it: a change of the documented
/// example fails here rather than testing something else.
fn replaced(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} is not in:\n{text}");
    text.replace(from, to)
}

#[tokio::test]
async fn the_documented_grant_is_all_a_custom_resource_agent_needs() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "crs-rbac").await;
    let group = format!("{}.ksa.test", unique("crsg"));
    let _widgets = Crd::create(&group, "Widget", "widgets");
    apply_object(&group, "Widget", ns.name(), "w1", "{size: 3}");

    // A ServiceAccount bound to the documented example alone, its group and plural put in.
    let account = "crs-agent";
    let grant_name = unique("ksa-crs");
    let grant = documented_grant();
    let grant = replaced(&grant, "[myteam.io]", &format!("[{group}]"));
    let grant = replaced(&grant, "[foos, bars]", "[widgets]");
    let grant = replaced(&grant, "kube-state-agent-custom-resources", &grant_name);
    let grant = replaced(
        &grant,
        "    name: kube-state-agent\n    namespace: kube-state-agent\n",
        &format!("    name: {account}\n    namespace: {}\n", ns.name()),
    );
    let account_yaml = format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: {account}\n  namespace: {}\n",
        ns.name()
    );
    kubectl(&["apply", "-f", "-"], &account_yaml).expect("the ServiceAccount");
    kubectl(&["apply", "-f", "-"], &grant).expect("the documented grant applies");
    let _grant = Applied(grant);
    let token = testkit::objects::service_account_token(&client, ns.name(), account).await;
    let kubeconfig = Cluster::get().kubeconfig_with_token(&token);

    let custom = config(&group, "");
    let mut agent = AgentProcess::start_with_kubeconfig(
        &kubeconfig,
        "",
        &[
            "--scope=cluster",
            "--custom-resource-state-only",
            "--custom-resource-state-config",
            &custom,
        ],
    );
    agent.wait_ready(READY).await;
    let size = "kube_customresource_widget_size";
    wait_sample(&agent, "w1's size", CONVERGE, size, &group, "w1", Some(3.0)).await;
}

#[tokio::test]
async fn a_custom_config_file_that_appears_after_the_start_is_applied() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "crs-later").await;
    let group = format!("{}.ksa.test", unique("crsl"));
    let _widgets = Crd::create(&group, "Widget", "widgets");
    apply_object(&group, "Widget", ns.name(), "w1", "{size: 3}");

    // The file is not there yet: the agent starts without custom resources, as KSM does with
    // the same flag.
    let dir = ConfigDir::new();
    let file = dir.file();
    let mut agent = cluster_agent(&[
        "--custom-resource-state-config-file",
        file.to_str().unwrap(),
        "--continue-without-custom-resource-state-config-file",
    ]);
    agent.wait_ready(READY).await;
    let size = "kube_customresource_widget_size";
    assert_eq!(sample(&agent, size, &group, "w1").await.unwrap(), None);
    assert!(agent.log().contains("no such file"), "{}", agent.log());

    let pid = agent.pid();
    dir.write(&config(&group, ""));
    wait_sample(&agent, "w1's size", CONVERGE, size, &group, "w1", Some(3.0)).await;
    assert_eq!(agent.pid(), pid, "no restart");
}

// ===== namespace filters, object limit, node-bound resources =====

/// A config of `kind`s of `group` (v1) with one gauge, `kube_customresource_<metric>`, on
/// `spec.size`, labelled with the object's name; `entry` adds keys to the resource's entry
/// (each line indented by six spaces).
fn size_config(group: &str, kind: &str, metric: &str, entry: &str) -> String {
    format!(
        r#"kind: CustomResourceStateMetrics
spec:
  resources:
    - groupVersionKind: {{group: "{group}", version: v1, kind: {kind}}}
{entry}      labelsFromPath:
        name: [metadata, name]
      metrics:
        - name: {metric}
          help: The size.
          each:
            type: Gauge
            gauge: {{path: [spec, size]}}
"#
    )
}

/// The names of the objects of `group` that have a sample of `name` in `agent`'s scrape, each
/// as many times as it has one.
async fn exported(agent: &AgentProcess, name: &str, group: &str) -> Result<Vec<String>, String> {
    let e = agent.scrape().await?;
    let mut names: Vec<String> = e
        .samples_of(name)
        .filter(|s| s.label("customresource_group") == Some(group))
        .filter_map(|s| s.label("name").map(str::to_string))
        .collect();
    names.sort();
    Ok(names)
}

/// Polls until `agent` exports `name` for exactly the objects `want` of `group`, once each.
async fn wait_exported(agent: &AgentProcess, what: &str, name: &str, group: &str, want: &[&str]) {
    poll_until(what, CONVERGE, || async {
        match exported(agent, name, group).await? {
            got if got == want => Ok(()),
            got => Err(format!("{name}: {got:?}")),
        }
    })
    .await;
}

/// `name`'s value in `agent`'s telemetry, summed over the series matching `filter`.
async fn telemetry(agent: &AgentProcess, name: &str, filter: &[(&str, &str)]) -> f64 {
    agent
        .self_metric(name, filter)
        .await
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[tokio::test]
async fn with_namespaces_only_the_listed_namespaces_custom_objects_are_watched_one_watch_each() {
    let client = Cluster::get().client().await;
    let a = TestNamespace::create(&client, "crs-ns-a").await;
    let b = TestNamespace::create(&client, "crs-ns-b").await;
    let other = TestNamespace::create(&client, "crs-ns-other").await;
    let group = format!("{}.ksa.test", unique("crsns"));
    let _widgets = Crd::create(&group, "Widget", "widgets");
    apply_object(&group, "Widget", a.name(), "w-a", "{size: 1}");
    apply_object(&group, "Widget", b.name(), "w-b", "{size: 2}");
    apply_object(&group, "Widget", other.name(), "w-other", "{size: 3}");

    let custom = size_config(&group, "Widget", "widget_size", "");
    let allow = format!("{},{}", a.name(), b.name());
    let mut agent = cluster_agent(&[
        "--namespaces",
        &allow,
        "--custom-resource-state-config",
        &custom,
    ]);
    agent.wait_ready(READY).await;
    let size = "kube_customresource_widget_size";
    wait_exported(
        &agent,
        "the allowed namespaces' widgets",
        size,
        &group,
        &["w-a", "w-b"],
    )
    .await;

    // One list and one watch per allowed namespace, none cluster-wide.
    let requests = |verb| {
        let agent = &agent;
        async move {
            telemetry(
                agent,
                "ksa_api_requests_total",
                &[("resource", "widgets"), ("verb", verb)],
            )
            .await
        }
    };
    assert_eq!(requests("list").await, 2.0);
    poll_until("a watch per namespace", CONVERGE, || async {
        match requests("watch").await {
            2.0 => Ok(()),
            n => Err(format!("{n} watch requests")),
        }
    })
    .await;
    let log = agent.log();
    for ns in [a.name(), b.name()] {
        assert!(
            log.contains(&format!("widgets (namespace={ns})")),
            "a stream of {ns}:\n{log}"
        );
    }

    // Objects of another namespace never reach the agent, before or after the start.
    apply_object(&group, "Widget", other.name(), "w-other-2", "{size: 4}");
    apply_object(&group, "Widget", a.name(), "w-a-2", "{size: 5}");
    wait_exported(
        &agent,
        "a new widget of an allowed namespace",
        size,
        &group,
        &["w-a", "w-a-2", "w-b"],
    )
    .await;
    let received = telemetry(&agent, "ksa_watch_events_total", &[("resource", "widgets")]).await;
    assert_eq!(
        received,
        3.0,
        "two listed and one applied, nothing of {}",
        other.name()
    );
}

#[tokio::test]
async fn with_an_object_limit_custom_objects_past_it_are_dropped_and_counted() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "crs-limit").await;
    let group = format!("{}.ksa.test", unique("crslimit"));
    let _widgets = Crd::create(&group, "Widget", "widgets");
    for i in 1..=5 {
        apply_object(&group, "Widget", ns.name(), &format!("w{i}"), "{size: 1}");
    }
    let custom = size_config(&group, "Widget", "widget_size", "");
    let mut agent = cluster_agent(&[
        "--object-limit",
        "3",
        "--namespaces",
        ns.name(),
        "--custom-resource-state-config",
        &custom,
    ]);
    agent.wait_ready(READY).await;
    let size = "kube_customresource_widget_size";
    let kept = poll_until("the list's objects exported", CONVERGE, || async {
        match exported(&agent, size, &group).await? {
            got if got.len() == 3 => Ok(got),
            got => Err(format!("{got:?}")),
        }
    })
    .await;
    let distinct: std::collections::BTreeSet<&String> = kept.iter().collect();
    assert_eq!(distinct.len(), 3, "three objects, once each: {kept:?}");
    let dropped = telemetry(
        &agent,
        "ksa_list_objects_over_limit_total",
        &[("resource", "widgets")],
    )
    .await;
    assert_eq!(dropped, 2.0);
}

#[tokio::test]
async fn a_cluster_scoped_custom_resource_is_exported_under_namespace_filters() {
    let client = Cluster::get().client().await;
    let kept = TestNamespace::create(&client, "crs-cs-kept").await;
    let denied = TestNamespace::create(&client, "crs-cs-denied").await;
    let group = format!("{}.ksa.test", unique("crscs"));
    let _tenants = Crd::create_cluster_scoped(&group, "Tenant", "tenants");
    let _widgets = Crd::create(&group, "Widget", "widgets");
    apply_cluster_object(&group, "Tenant", "t1", "{size: 1}");
    apply_cluster_object(&group, "Tenant", "t2", "{size: 2}");
    apply_object(&group, "Widget", kept.name(), "w-kept", "{size: 3}");
    apply_object(&group, "Widget", denied.name(), "w-denied", "{size: 4}");

    let custom = format!(
        "{}{}",
        size_config(&group, "Tenant", "tenant_size", ""),
        size_config(&group, "Widget", "widget_size", "")
            .split_once("  resources:\n")
            .unwrap()
            .1
    );
    let mut allowing = cluster_agent(&[
        "--namespaces",
        kept.name(),
        "--custom-resource-state-config",
        &custom,
    ]);
    let mut denying = cluster_agent(&[
        "--namespaces-denylist",
        denied.name(),
        "--custom-resource-state-config",
        &custom,
    ]);
    allowing.wait_ready(READY).await;
    denying.wait_ready(READY).await;
    let (tenant, widget) = (
        "kube_customresource_tenant_size",
        "kube_customresource_widget_size",
    );
    for agent in [&allowing, &denying] {
        wait_exported(agent, "every tenant", tenant, &group, &["t1", "t2"]).await;
        wait_exported(
            agent,
            "the kept namespace's widget",
            widget,
            &group,
            &["w-kept"],
        )
        .await;
        // Tenants are listed cluster-wide, without a namespace or namespace selector that the
        // API server would refuse (404 under a namespace, 400 for `metadata.namespace`).
        assert_eq!(
            telemetry(agent, "ksa_watch_errors_total", &[("resource", "tenants")]).await,
            0.0
        );
        assert_eq!(
            telemetry(
                agent,
                "ksa_api_requests_total",
                &[
                    ("resource", "tenants"),
                    ("verb", "list"),
                    ("result", "success")
                ]
            )
            .await,
            1.0
        );
    }
    // A tenant created after the start reaches both.
    apply_cluster_object(&group, "Tenant", "t3", "{size: 3}");
    for agent in [&allowing, &denying] {
        wait_exported(agent, "a new tenant", tenant, &group, &["t1", "t2", "t3"]).await;
    }
}

#[tokio::test]
async fn a_node_bound_resource_the_api_server_cannot_select_stays_on_the_leader_exported_once() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "crs-node").await;
    let group = format!("{}.ksa.test", unique("crsnode"));
    let _widgets = Crd::create(&group, "Widget", "widgets");
    let (node_a, node_b) = (unique("crs-node-a"), unique("crs-node-b"));
    apply_object(
        &group,
        "Widget",
        ns.name(),
        "w-a",
        &format!("{{size: 1, nodeName: {node_a}}}"),
    );
    apply_object(
        &group,
        "Widget",
        ns.name(),
        "w-b",
        &format!("{{size: 2, nodeName: {node_b}}}"),
    );
    apply_object(&group, "Widget", ns.name(), "w-none", "{size: 3}");

    let custom = size_config(
        &group,
        "Widget",
        "widget_size",
        "      nodeNameFromPath: [spec, nodeName]\n",
    );
    // Node A's agent takes no part in the election; node B's is the only candidate, so leads.
    let lease = unique("crs-lease");
    let mut node_agent = AgentProcess::start(
        &node_a,
        &[
            "--resources=nodes",
            "--leader-election=false",
            "--custom-resource-state-config",
            &custom,
        ],
    );
    let mut leader = AgentProcess::start(
        &node_b,
        &[
            "--resources=nodes",
            "--lease-namespace",
            ns.name(),
            "--lease-name",
            &lease,
            "--custom-resource-state-config",
            &custom,
        ],
    );
    node_agent.wait_ready(READY).await;
    leader.wait_ready(READY).await;
    let size = "kube_customresource_widget_size";
    // 1.20 does not select custom objects on `spec.nodeName`: the leader exports them all.
    wait_exported(
        &leader,
        "every widget on the leader",
        size,
        &group,
        &["w-a", "w-b", "w-none"],
    )
    .await;
    poll_until("the node agent's fallback", CONVERGE, || async {
        let log = node_agent.log();
        if log.contains("cannot select this node-bound resource") {
            Ok(())
        } else {
            Err("not logged yet".to_string())
        }
    })
    .await;
    assert_eq!(
        exported(&node_agent, size, &group).await.unwrap(),
        Vec::<String>::new()
    );
    // Both say so (a sum over no series would be 0 too: the line itself is asked for).
    for agent in [&node_agent, &leader] {
        let (_, body) = agent.get_telemetry("/metrics").await.unwrap();
        assert!(
            body.lines()
                .any(|l| l == "ksa_custom_resource_node_selectable{resource=\"widgets\"} 0"),
            "{body}"
        );
    }
    assert_eq!(
        telemetry(
            &node_agent,
            "ksa_api_requests_total",
            &[
                ("resource", "widgets"),
                ("verb", "list"),
                ("result", "error")
            ]
        )
        .await,
        1.0,
        "one refused probe, no list or watch after it"
    );
    assert_eq!(
        telemetry(
            &node_agent,
            "ksa_api_requests_total",
            &[("resource", "widgets"), ("verb", "watch")]
        )
        .await,
        0.0
    );

    // A change and a new object, node A's included, still show on the leader only.
    apply_object(
        &group,
        "Widget",
        ns.name(),
        "w-a",
        &format!("{{size: 7, nodeName: {node_a}}}"),
    );
    apply_object(
        &group,
        "Widget",
        ns.name(),
        "w-a-2",
        &format!("{{size: 1, nodeName: {node_a}}}"),
    );
    wait_sample(
        &leader,
        "w-a's change",
        CONVERGE,
        size,
        &group,
        "w-a",
        Some(7.0),
    )
    .await;
    wait_exported(
        &leader,
        "the new widget on the leader",
        size,
        &group,
        &["w-a", "w-a-2", "w-b", "w-none"],
    )
    .await;
    let mut everywhere = exported(&node_agent, size, &group).await.unwrap();
    everywhere.extend(exported(&leader, size, &group).await.unwrap());
    everywhere.sort();
    assert_eq!(
        everywhere,
        ["w-a", "w-a-2", "w-b", "w-none"],
        "each exactly once"
    );
}
