//! Protobuf on the wire, live: the golden `full` object of every kind with a lean message that
//! the 1.20 apiserver serves, as the apiserver stores it, renders the same rows from its
//! protobuf form as from its JSON form; and an agent started with `--api-encoding=protobuf`
//! exports exactly what one with `--api-encoding=json` exports, for the same node, for the
//! cluster-scope kinds and for the metadata-only watches of ConfigMaps and Secrets, and follows
//! a change. Each kind is checked through the registry (`KindInfo::render_protobuf`), so a kind
//! given a message needs no edit here.
//!
//! `KSA_CAPTURE_PROTOBUF=<dir>` also writes what the apiserver sent (`<resource>-full.pb`,
//! `<resource>-full.json`): the fixtures of the offline equivalence test in
//! `agent/tests/protobuf.rs` were captured this way.

use std::time::Duration;

use http::header::ACCEPT;
use k8s_openapi::api::core::v1::{Node, NodeStatus, Pod, PodStatus};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube_state_agent::config::KeyAllowlist;
use kube_state_agent::exposition::RenderContext;
use kube_state_agent::registry::{self, KindInfo};
use kube_state_agent::resources::{FamilySelection, Scope};
use kube_state_agent::wire;
use testkit::agent::{AgentProcess, workspace_root};
use testkit::kubectl::kubectl;
use testkit::objects::{
    TestNamespace, create_node, create_pod, delete_namespace, delete_node, pod as pod_builder,
    set_pod_status, unique,
};
use testkit::{Cluster, poll_until};

const READY: Duration = Duration::from_secs(30);
const CONVERGE: Duration = Duration::from_secs(30);

/// A golden `full` object as the apiserver will take it: server-set metadata removed, the
/// name and namespace ours. Fields the 1.20 apiserver does not know are dropped by it.
fn golden(resource: &str, name: &str, namespace: Option<&str>) -> serde_json::Value {
    golden_case(resource, "full", name, namespace)
}

/// [`golden`] for the case `case` of `resource`.
fn golden_case(
    resource: &str,
    case: &str,
    name: &str,
    namespace: Option<&str>,
) -> serde_json::Value {
    let path = workspace_root().join(format!("agent/tests/golden/{resource}/{case}.yaml"));
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    let mut value: serde_json::Value = serde_norway::from_str(&text).expect("golden YAML");
    let meta = value["metadata"].as_object_mut().expect("metadata");
    for server_set in [
        "uid",
        "resourceVersion",
        "managedFields",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generateName",
        // A finalizer would keep the object after its namespace is gone: no controller runs.
        "finalizers",
    ] {
        meta.remove(server_set);
    }
    meta.insert("name".into(), name.into());
    if let Some(ns) = namespace {
        meta.insert("namespace".into(), ns.into());
    }
    value
}

/// The cluster-wide objects the golden pod names: its PriorityClass and its RuntimeClass (whose
/// overhead admission copies into the pod). Applied, never deleted: tests share them.
const GOLDEN_POD_CLASSES: &str = "
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: {name: shop-critical}
value: 1000
---
apiVersion: node.k8s.io/v1
kind: RuntimeClass
metadata: {name: kata}
handler: kata
overhead:
  podFixed: {cpu: 250m, memory: 120Mi}
";

/// The golden full pod, bound to `node`, created with its status.
async fn create_golden_pod(client: &Client, ns: &str, name: &str, node: &str) {
    kubectl(&["apply", "-f", "-"], GOLDEN_POD_CLASSES).expect("the golden pod's classes");
    let mut value = golden("pods", name, Some(ns));
    value["spec"]["nodeName"] = node.into();
    // Admission computes both from the classes and refuses them set by hand.
    let spec = value["spec"].as_object_mut().expect("spec");
    spec.remove("overhead");
    spec.remove("priority");
    // Generic ephemeral volumes are alpha (off) in 1.20: the scratch volume becomes an
    // emptyDir (the protobuf `ephemeral` source is covered by the wire unit tests).
    for volume in spec["volumes"].as_array_mut().expect("volumes") {
        if let Some(v) = volume.as_object_mut()
            && v.remove("ephemeral").is_some()
        {
            v.insert("emptyDir".into(), serde_json::json!({}));
        }
    }
    let pod: Pod = serde_json::from_value(value).expect("golden pod is a Pod");
    create_pod(client, ns, pod).await;
}

/// The golden full node, named `name`, created with its status.
async fn create_golden_node(client: &Client, name: &str) {
    let mut value = golden("nodes", name, None);
    let status: NodeStatus =
        serde_json::from_value(value["status"].take()).expect("golden node status");
    let node: Node = serde_json::from_value(value).expect("golden node is a Node");
    create_node(client, node, status).await;
}

/// GETs `path` as JSON and as protobuf: (JSON text, protobuf body).
async fn get_both(client: &Client, path: &str) -> (String, bytes::Bytes) {
    let json = client
        .request_text(
            http::Request::get(path)
                .header(ACCEPT, "application/json")
                .body(Vec::new())
                .unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("GET {path} as JSON: {e}"));
    let res = client
        .send(
            http::Request::get(path)
                .header(ACCEPT, wire::CONTENT_TYPE)
                .body(kube::client::Body::empty())
                .unwrap(),
        )
        .await
        .unwrap_or_else(|e| panic!("GET {path} as protobuf: {e}"));
    assert!(res.status().is_success(), "GET {path}: {}", res.status());
    let content_type = res.headers()["content-type"].to_str().unwrap().to_string();
    assert_eq!(content_type, wire::CONTENT_TYPE, "GET {path}");
    let body = res.into_body().collect_bytes().await.expect("body");
    (json, body)
}

/// Writes what the apiserver sent when `KSA_CAPTURE_PROTOBUF` names a directory.
fn capture(name: &str, json: &str, protobuf: &[u8]) {
    if let Some(dir) = std::env::var_os("KSA_CAPTURE_PROTOBUF") {
        let dir = std::path::PathBuf::from(dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}.json")), json).unwrap();
        std::fs::write(dir.join(format!("{name}.pb")), protobuf).unwrap();
    }
}

/// Renders one object from each form, through the registry, with every family and every label
/// and annotation, and asserts the rows are identical.
fn assert_same_rows(kind: &dyn KindInfo, json: &str, protobuf: bytes::Bytes) {
    let ctx = RenderContext {
        labels: KeyAllowlist::all(),
        annotations: KeyAllowlist::all(),
    };
    let selection = FamilySelection::new(&kind.family_headers(), |_| true);
    let rows_protobuf = kind
        .render_protobuf(protobuf, &ctx, &selection)
        .unwrap_or_else(|e| panic!("the protobuf form of {} renders: {e}", kind.resource()));
    let rows_json = kind
        .render_json(json, &ctx, &selection)
        .expect("the JSON form renders");
    let text = |rows: &[u8]| String::from_utf8(rows.to_vec()).unwrap();
    assert_eq!(
        text(rows_protobuf.all()),
        text(rows_json.all()),
        "{}: rows from protobuf (left) and JSON (right) differ",
        kind.resource()
    );
    assert!(
        rows_json.all().len() > 200,
        "{}: the full object renders many rows",
        kind.resource()
    );
}

/// The apiserver path of `kind`'s object `name` (in `ns` when namespaced).
fn object_path(kind: &dyn KindInfo, ns: &str, name: &str) -> String {
    let base = if kind.api_group().is_empty() {
        format!("/api/{}", kind.api_version())
    } else {
        format!("/apis/{}/{}", kind.api_group(), kind.api_version())
    };
    match kind.scope() {
        Scope::Cluster | Scope::NodeSelf => format!("{base}/{}/{name}", kind.plural()),
        Scope::Namespaced | Scope::NodeBound => {
            format!("{base}/namespaces/{ns}/{}/{name}", kind.plural())
        }
    }
}

/// `kind`'s golden object `case`, created as `name` (in `ns` when namespaced), its status set
/// through the status subresource as the controllers would.
async fn create_golden_object(
    client: &Client,
    kind: &dyn KindInfo,
    case: &str,
    ns: &str,
    name: &str,
) {
    let namespaced = matches!(kind.scope(), Scope::Namespaced | Scope::NodeBound);
    let mut value = golden_case(kind.resource(), case, name, namespaced.then_some(ns));
    make_valid(kind.resource(), &mut value);
    let status = value
        .as_object_mut()
        .and_then(|o| o.remove("status"))
        .filter(|s| !s.is_null());
    let api_version = if kind.api_group().is_empty() {
        kind.api_version().to_string()
    } else {
        format!("{}/{}", kind.api_group(), kind.api_version())
    };
    let resource = ApiResource {
        group: kind.api_group().to_string(),
        version: kind.api_version().to_string(),
        api_version,
        kind: kind.kind_name().to_string(),
        plural: kind.plural().to_string(),
    };
    let api: Api<DynamicObject> = if namespaced {
        Api::namespaced_with(client.clone(), ns, &resource)
    } else {
        Api::all_with(client.clone(), &resource)
    };
    let object: DynamicObject = serde_json::from_value(value).expect("a golden object");
    api.create(&PostParams::default(), &object)
        .await
        .unwrap_or_else(|e| panic!("creating the golden {}: {e}", kind.resource()));
    if let Some(status) = status {
        api.patch_status(
            name,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": status })),
        )
        .await
        .unwrap_or_else(|e| panic!("setting the golden {}'s status: {e}", kind.resource()));
    }
}

/// Changes a golden object the apiserver's validation refuses into the nearest one it takes,
/// keeping every field the families read present.
fn make_valid(resource: &str, value: &mut serde_json::Value) {
    match resource {
        "replicationcontrollers" => {
            // The golden case shows KSM passing through a count above `replicas`; validation
            // refuses `fullyLabeledReplicas > replicas`.
            value["status"]["fullyLabeledReplicas"] = value["status"]["replicas"].clone();
        }
        "persistentvolumeclaims" => {
            // `ReadWriteOncePod` is newer than 1.20.
            if let Some(modes) = value["spec"]["accessModes"].as_array_mut() {
                modes.retain(|m| m != "ReadWriteOncePod");
            }
        }
        "persistentvolumes" => {
            // Cases written for one family at a time leave out what validation requires, and
            // hold values 1.20's validation refuses with their source.
            let spec = &mut value["spec"];
            if spec.get("accessModes").is_none() {
                spec["accessModes"] = serde_json::json!(["ReadWriteOnce"]);
            }
            if spec.get("azureDisk").is_some() {
                spec["azureDisk"]["diskURI"] =
                    "https://example.blob.core.windows.net/vhds/disk.vhd".into();
            }
            if spec.get("fc").is_some() {
                // One of targetWWNs and wwids, not both.
                if let Some(fc) = spec["fc"].as_object_mut() {
                    fc.remove("wwids");
                }
                spec["persistentVolumeReclaimPolicy"] = "Retain".into();
            }
        }
        "namespaces" => {
            // `Terminating` needs a deletion in progress, which no create can set.
            value["status"]["phase"] = "Active".into();
        }
        "endpoints" => {
            // A subset with ports only is refused.
            if let Some(subsets) = value["subsets"].as_array_mut() {
                subsets.retain(|s| {
                    s.get("addresses").is_some() || s.get("notReadyAddresses").is_some()
                });
            }
        }
        "services" => {
            // The apiserver allocates the cluster IP (from its own range) and the node ports.
            if let Some(spec) = value["spec"].as_object_mut() {
                spec.remove("clusterIP");
                spec.remove("clusterIPs");
                spec.remove("healthCheckNodePort");
            }
            for port in value["spec"]["ports"].as_array_mut().into_iter().flatten() {
                if let Some(port) = port.as_object_mut() {
                    port.remove("nodePort");
                }
            }
        }
        "certificatesigningrequests" => {
            // The request must be a real PKCS#10 one; approval and the certificate go through
            // their own subresources and checks, so the status is covered by the unit tests
            // of `wire::certificatesigningrequest`.
            let real: serde_norway::Value =
                serde_norway::from_str(&crate::kinds::csr_manifest("csr")).expect("a CSR manifest");
            value["spec"]["request"] = real["spec"]["request"].as_str().expect("request").into();
            if let Some(object) = value.as_object_mut() {
                object.remove("status");
            }
        }
        "ingresses" => {
            // 1.20's networking/v1 requires every rule's paths and every path's type.
            if let Some(rules) = value["spec"]["rules"].as_array_mut() {
                rules.retain(|r| r["http"]["paths"].is_array());
            }
            for rule in value["spec"]["rules"].as_array_mut().into_iter().flatten() {
                for path in rule["http"]["paths"].as_array_mut().into_iter().flatten() {
                    if path.get("pathType").is_none() {
                        path["pathType"] = "ImplementationSpecific".into();
                    }
                }
            }
        }
        "mutatingwebhookconfigurations" | "validatingwebhookconfigurations" => {
            // A webhook without rules is called for nothing: the golden services do not exist
            // and other tests create objects meanwhile. A service needs a name and namespace.
            if let Some(hooks) = value["webhooks"].as_array_mut() {
                hooks.retain(|h| {
                    let service = &h["clientConfig"]["service"];
                    service.is_null()
                        || (service["name"].is_string() && service["namespace"].is_string())
                });
                for hook in hooks {
                    hook["rules"] = serde_json::json!([]);
                }
            }
        }
        "storageclasses" | "ingressclasses" => {
            // A second default class makes admission refuse every claim or ingress without a
            // class, in every test running meanwhile.
            if let Some(annotations) = value["metadata"]["annotations"].as_object_mut() {
                annotations.retain(|k, _| !k.ends_with("is-default-class"));
            }
        }
        "configmaps" => {
            // The golden case shows a label key only older apiservers took (an underscore in
            // its prefix), for the label-name sanitizing.
            if let Some(labels) = value["metadata"]["labels"].as_object_mut() {
                labels.retain(|k, _| {
                    !k.split_once('/')
                        .is_some_and(|(prefix, _)| prefix.contains('_'))
                });
            }
        }
        "jobs" => {
            // The apiserver generates the selector and the template's labels from the uid.
            if let Some(spec) = value["spec"].as_object_mut() {
                spec.remove("selector");
            }
            if let Some(meta) = value["spec"]["template"]["metadata"].as_object_mut() {
                meta.remove("labels");
            }
        }
        _ => {}
    }
}

/// Golden cases captured besides `full`, where `full` leaves fields of the lean message unset
/// (a PersistentVolume has one source; the families read nine). `source-cloud-disks`, with
/// three sources, is one the apiserver refuses.
const MORE_CASES: &[(&str, &[&str])] = &[(
    "persistentvolumes",
    &[
        "source-azure",
        "source-ebs",
        "source-fc-failed",
        "source-hostpath",
        "source-iscsi-available",
        "source-local-pending",
        "source-nfs-released",
    ],
)];

/// The kinds with a lean message that this apiserver serves, by discovery.
async fn served_with_message(client: &Client) -> Vec<&'static dyn KindInfo> {
    let mut kinds = Vec::new();
    for kind in registry::KINDS.iter().copied().filter(|k| k.has_protobuf()) {
        let found = if kind.api_group().is_empty() {
            client.list_core_api_resources(kind.api_version()).await
        } else {
            let gv = format!("{}/{}", kind.api_group(), kind.api_version());
            client.list_api_group_resources(&gv).await
        };
        if found.is_ok_and(|list| list.resources.iter().any(|r| r.name == kind.plural())) {
            kinds.push(kind);
        }
    }
    kinds
}

#[tokio::test]
async fn the_golden_full_objects_of_every_kind_with_a_message_render_the_same_rows() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "pb-golden").await;
    let node_name = unique("pb-golden");
    create_golden_node(&client, &node_name).await;
    create_golden_pod(&client, ns.name(), "web-full", &node_name).await;

    let kinds = served_with_message(&client).await;
    assert!(
        kinds.len() >= 8,
        "served kinds with a message: {}",
        kinds.len()
    );
    let (mut cluster_scoped, mut namespaces) = (Vec::new(), Vec::new());
    for kind in kinds {
        let resource = kind.resource();
        let more = MORE_CASES
            .iter()
            .find(|(r, _)| *r == resource)
            .map_or(&[][..], |(_, cases)| *cases);
        for case in std::iter::once(&"full").chain(more) {
            let name = match resource {
                "pods" => "web-full".to_string(),
                "nodes" => node_name.clone(),
                _ => {
                    let name = unique("pb-golden");
                    create_golden_object(&client, kind, case, ns.name(), &name).await;
                    if resource == "namespaces" {
                        namespaces.push(name.clone());
                    } else if kind.scope() == Scope::Cluster {
                        cluster_scoped.push(format!("{}/{name}", kind.kind_name().to_lowercase()));
                    }
                    name
                }
            };
            let (json, protobuf) = get_both(&client, &object_path(kind, ns.name(), &name)).await;
            capture(&format!("{resource}-{case}"), &json, &protobuf);
            assert!(
                protobuf.len() < json.len(),
                "{resource} {case}: protobuf {} B, JSON {} B",
                protobuf.len(),
                json.len()
            );
            assert_same_rows(kind, &json, protobuf);
        }
    }
    let mut args = vec!["delete", "--wait=false", "--ignore-not-found"];
    args.extend(cluster_scoped.iter().map(String::as_str));
    kubectl(&args, "").expect("deleting the cluster-scoped golden objects");
    for name in namespaces {
        delete_namespace(&name)
            .await
            .expect("deleting the golden namespace");
    }
    delete_node(&client, &node_name).await;
}

/// `/metrics` without the agent's self-metrics (served on the telemetry port, but dropped here
/// too should a `ksa_` family ever be added to `/metrics`).
fn exported(text: &str) -> String {
    text.lines()
        .filter(|l| !l.contains(" ksa_") && !l.starts_with("ksa_"))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[tokio::test]
async fn an_agent_over_protobuf_exports_what_an_agent_over_json_exports_and_follows_a_change() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "pb-agent").await;
    let node_name = unique("pb-agent");
    create_golden_node(&client, &node_name).await;
    create_golden_pod(&client, ns.name(), "web-full", &node_name).await;
    for (name, restarts) in [("app-1", 0), ("app-2", 3)] {
        let p = pod_builder(name)
            .in_namespace(ns.name())
            .on_node(&node_name)
            .label("app", "shop")
            .owned_by("ReplicaSet", "app-7d4b9c6f5d")
            .running(restarts);
        create_pod(&client, ns.name(), p.build()).await;
    }
    let flags = |encoding: &'static str| {
        [
            "--leader-election",
            "false",
            "--api-encoding",
            encoding,
            "--metric-labels-allowlist",
            "pods=[*],nodes=[*]",
            "--metric-annotations-allowlist",
            "pods=[*],nodes=[*]",
        ]
    };
    let mut over_protobuf = AgentProcess::start(&node_name, &flags("protobuf"));
    let mut over_json = AgentProcess::start(&node_name, &flags("json"));
    over_protobuf.wait_ready(READY).await;
    over_json.wait_ready(READY).await;

    // Both agents' expositions once they are identical and `shows` holds for them.
    let same = |what: &'static str, shows: fn(&str) -> bool| {
        let (a, b) = (&over_protobuf, &over_json);
        poll_until(what, CONVERGE, move || async move {
            let (_, from_protobuf) = a.get("/metrics").await?;
            let (_, from_json) = b.get("/metrics").await?;
            let (from_protobuf, from_json) = (exported(&from_protobuf), exported(&from_json));
            if !shows(&from_protobuf) {
                return Err("not yet in the protobuf agent".to_string());
            }
            if from_protobuf != from_json {
                let diff: Vec<String> = similar_lines(&from_protobuf, &from_json);
                return Err(format!("the expositions differ:\n{}", diff.join("\n")));
            }
            Ok(from_protobuf)
        })
    };
    let text = same("both agents to export the same pods and node", |text| {
        text.contains("pod=\"web-full\"") && text.contains("pod=\"app-2\"")
    })
    .await;
    for needle in [
        "pod=\"app-2\"",
        "kube_node_info{",
        "kube_pod_container_status_last_terminated_reason{",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let (log_protobuf, log_json) = (plain(&over_protobuf.log()), plain(&over_json.log()));
    for resource in ["pods", "nodes"] {
        let line = format!("resource=\"{resource}\"");
        let watches = |log: &str, encoding: &str| {
            log.lines().any(|l| {
                l.contains("watch starting")
                    && l.contains(&line)
                    && l.contains(&format!("encoding=\"{encoding}\""))
            })
        };
        assert!(
            watches(&log_protobuf, "protobuf"),
            "{resource} over protobuf:\n{log_protobuf}"
        );
        assert!(
            watches(&log_json, "json"),
            "{resource} over JSON:\n{log_json}"
        );
    }

    // A change reaches the protobuf agent (and both agree again).
    let crashing: PodStatus = pod_builder("app-1")
        .waiting("CrashLoopBackOff")
        .build()
        .status
        .expect("a status");
    set_pod_status(&client, ns.name(), "app-1", crashing).await;
    same("app-1 crashing, in both agents", |text| {
        text.lines().any(|l| {
            l.starts_with("kube_pod_container_status_waiting_reason{")
                && l.contains("pod=\"app-1\"")
                && l.contains("reason=\"CrashLoopBackOff\"")
                && l.ends_with(" 1")
        })
    })
    .await;
    delete_node(&client, &node_name).await;
}

/// Whether `line` is a sample of one of this test's objects: in namespace `ns`, or naming one
/// of the cluster-scoped objects (named `prefix…`).
fn ours(line: &str, ns: &str, prefix: &str) -> bool {
    line.contains(&format!("namespace=\"{ns}\"")) || line.contains(&format!("=\"{prefix}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_over_protobuf_exports_what_one_over_json_exports_for_every_kind_with_a_message() {
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "pb-leader").await;
    let prefix = unique("pb-leader");
    let kinds: Vec<&'static dyn KindInfo> = served_with_message(&client)
        .await
        .into_iter()
        .filter(|k| matches!(k.scope(), Scope::Namespaced | Scope::Cluster))
        .collect();
    let (mut cluster_scoped, mut namespaces) = (Vec::new(), Vec::new());
    for (i, kind) in kinds.iter().enumerate() {
        let name = format!("{prefix}-{i}");
        create_golden_object(&client, *kind, "full", ns.name(), &name).await;
        if kind.resource() == "namespaces" {
            namespaces.push(name);
        } else if kind.scope() == Scope::Cluster {
            cluster_scoped.push(format!("{}/{name}", kind.kind_name().to_lowercase()));
        }
    }
    let resources: Vec<&str> = kinds.iter().map(|k| k.resource()).collect();
    let resources = resources.join(",");
    let every_key: Vec<String> = kinds
        .iter()
        .map(|k| format!("{}=[*]", k.resource()))
        .collect();
    let every_key = every_key.join(",");
    let flags = |encoding: &str| {
        vec![
            "--scope".to_string(),
            "cluster".to_string(),
            "--leader-election=false".to_string(),
            format!("--api-encoding={encoding}"),
            format!("--resources={resources}"),
            format!("--namespaces={}", ns.name()),
            format!("--metric-labels-allowlist={every_key}"),
            format!("--metric-annotations-allowlist={every_key}"),
        ]
    };
    let start = |encoding: &str| {
        let flags = flags(encoding);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        AgentProcess::start("", &flags)
    };
    let mut over_protobuf = start("protobuf");
    let mut over_json = start("json");
    over_protobuf.wait_ready(READY).await;
    over_json.wait_ready(READY).await;

    // This test's rows in both agents, once identical and `shows` holds for them.
    let same = |what: &'static str, shows: Box<dyn Fn(&str) -> bool + Send + Sync>| {
        let (a, b, ns, prefix) = (&over_protobuf, &over_json, ns.name(), prefix.as_str());
        let shows = std::sync::Arc::new(shows);
        poll_until(what, CONVERGE, move || {
            let shows = shows.clone();
            async move {
                let (_, from_protobuf) = a.get("/metrics").await?;
                let (_, from_json) = b.get("/metrics").await?;
                let mine = |text: &str| -> String {
                    text.lines()
                        .filter(|l| ours(l, ns, prefix))
                        .map(|l| format!("{l}\n"))
                        .collect()
                };
                let (from_protobuf, from_json) = (mine(&from_protobuf), mine(&from_json));
                if !shows(&from_protobuf) {
                    return Err("not yet in the protobuf agent".to_string());
                }
                if from_protobuf != from_json {
                    let diff = similar_lines(&from_protobuf, &from_json);
                    return Err(format!("the expositions differ:\n{}", diff.join("\n")));
                }
                Ok(from_protobuf)
            }
        })
    };
    let prefixes: Vec<String> = kinds
        .iter()
        .map(|k| crate::kinds::family_prefix(*k))
        .collect();
    let text = same(
        "both agents to export every kind's golden object",
        Box::new(move |text| {
            prefixes
                .iter()
                .all(|p| text.lines().any(|l| l.starts_with(p.as_str())))
        }),
    )
    .await;
    assert!(
        text.contains("kube_deployment_status_replicas_ready{"),
        "{text}"
    );
    let log = plain(&over_protobuf.log());
    for resource in resources.split(',') {
        assert!(
            log.lines().any(|l| l.contains("watch starting")
                && l.contains(&format!("resource=\"{resource}\""))
                && l.contains("encoding=\"protobuf\"")),
            "{resource} over protobuf:\n{log}"
        );
    }

    // A change arrives as a watch event and both agents agree again.
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(client.clone(), ns.name());
    let deployment = kinds
        .iter()
        .position(|k| k.resource() == "deployments")
        .map(|i| format!("{prefix}-{i}"))
        .expect("deployments have a message");
    deployments
        .patch_status(
            &deployment,
            &PatchParams::default(),
            &Patch::Merge(serde_json::json!({ "status": { "readyReplicas": 5 } })),
        )
        .await
        .expect("patching the deployment's status");
    let needle = format!("deployment=\"{deployment}\"");
    same(
        "the deployment's new ready count in both agents",
        Box::new(move |text| {
            text.lines().any(|l| {
                l.starts_with("kube_deployment_status_replicas_ready{")
                    && l.contains(&needle)
                    && l.ends_with(" 5")
            })
        }),
    )
    .await;

    let mut args = vec!["delete", "--wait=false", "--ignore-not-found"];
    args.extend(cluster_scoped.iter().map(String::as_str));
    kubectl(&args, "").expect("deleting the cluster-scoped golden objects");
    for name in namespaces {
        delete_namespace(&name)
            .await
            .expect("deleting the golden namespace");
    }
}

/// `text` without its terminal colour codes.
fn plain(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            // CSI: ESC '[' parameters, ended by a letter.
            for c in chars.by_ref() {
                if c.is_ascii_alphabetic() {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The lines only one side has, marked `<` (protobuf) and `>` (JSON).
fn similar_lines(left: &str, right: &str) -> Vec<String> {
    let l: std::collections::BTreeSet<&str> = left.lines().collect();
    let r: std::collections::BTreeSet<&str> = right.lines().collect();
    l.difference(&r)
        .map(|x| format!("< {x}"))
        .chain(r.difference(&l).map(|x| format!("> {x}")))
        .take(40)
        .collect()
}

/// Sum of the telemetry counter `name{filter}` of `agent`.
async fn counter(agent: &AgentProcess, name: &str, filter: &[(&str, &str)]) -> f64 {
    agent.self_metric(name, filter).await.expect("telemetry")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// The figures of docs/benchmarks.md, "Protobuf on the wire": API bytes of a node agent
/// (pods only) for the initial list of 100 pods on its node and per pod update event, over
/// JSON and over protobuf, as `ksa_api_response_bytes_total` counts them (response bodies as
/// received, gzip negotiated). The pods are `cluster-seed`'s (running, waiting, failed), the
/// updates `bench-scale`'s (a container status rewritten through `/status`).
#[tokio::test]
#[ignore = "a measurement (about a minute); run by name with --ignored --nocapture to print it"]
async fn api_bytes_of_a_100_pod_node_over_protobuf_and_json() {
    const PODS: usize = 100;
    const UPDATES: usize = 20;
    const ROUNDS: usize = 5;
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "pb-bytes").await;
    let node_name = unique("pb-bytes");
    create_node(
        &client,
        testkit::objects::node(&node_name),
        testkit::objects::node_status("True"),
    )
    .await;
    for i in 0..PODS {
        let b = pod_builder(&format!("web-{i}"))
            .in_namespace(ns.name())
            .on_node(&node_name)
            .owned_by("ReplicaSet", "web-5d4f8");
        let b = match i % 20 {
            0 => b.waiting("CrashLoopBackOff"),
            1 => b.failed("Error", 1),
            2 => b.waiting("ContainerCreating"),
            _ => b.running((i % 4) as i32),
        };
        create_pod(&client, ns.name(), b.build()).await;
    }
    let pods = [("resource", "pods")];
    let mut figures: Vec<(&str, Vec<f64>, Vec<f64>)> =
        vec![("json", vec![], vec![]), ("protobuf", vec![], vec![])];
    let mut value = 100;
    for _ in 0..ROUNDS {
        let agents: Vec<AgentProcess> = figures
            .iter()
            .map(|(encoding, ..)| {
                AgentProcess::start(
                    &node_name,
                    &[
                        "--leader-election=false",
                        "--resources=pods",
                        &format!("--api-encoding={encoding}"),
                    ],
                )
            })
            .collect();
        let mut agents = agents;
        for agent in &mut agents {
            agent.wait_ready(READY).await;
        }
        let mut before = Vec::new();
        for (agent, figure) in agents.iter().zip(&mut figures) {
            let list = counter(
                agent,
                "ksa_api_response_bytes_total",
                &[("resource", "pods"), ("verb", "list")],
            )
            .await;
            figure.1.push(list);
            before.push((
                counter(agent, "ksa_api_response_bytes_total", &pods).await,
                counter(agent, "ksa_watch_events_total", &pods).await,
            ));
        }
        for k in 0..UPDATES {
            value += 1;
            let statuses = pod_builder("x")
                .running(value)
                .build()
                .status
                .expect("status");
            set_pod_status(
                &client,
                ns.name(),
                &format!("web-{}", 3 + k % (PODS - 3)),
                PodStatus {
                    container_statuses: statuses.container_statuses,
                    ..PodStatus::default()
                },
            )
            .await;
        }
        for ((agent, figure), (bytes, events)) in agents.iter().zip(&mut figures).zip(before) {
            poll_until("every update counted", CONVERGE, || async {
                let seen = counter(agent, "ksa_watch_events_total", &pods).await - events;
                if seen >= UPDATES as f64 {
                    Ok(())
                } else {
                    Err(format!("{seen} of {UPDATES} events"))
                }
            })
            .await;
            let read = counter(agent, "ksa_api_response_bytes_total", &pods).await - bytes;
            figure.2.push(read / UPDATES as f64);
        }
    }
    let (list_json, event_json) = (median(figures[0].1.clone()), median(figures[0].2.clone()));
    let (list_pb, event_pb) = (median(figures[1].1.clone()), median(figures[1].2.clone()));
    println!(
        "API bytes, node agent, pods only, {PODS} pods on the node, medians of {ROUNDS} runs ({UPDATES} updates each):"
    );
    println!("| | JSON | protobuf | protobuf / JSON |");
    println!("|---|---|---|---|");
    println!(
        "| initial list | {list_json:.0} B | {list_pb:.0} B | {:.2} |",
        list_pb / list_json
    );
    println!(
        "| per pod update event | {event_json:.0} B | {event_pb:.0} B | {:.2} |",
        event_pb / event_json
    );
    println!("raw: {figures:?}");
    assert!(
        event_pb < event_json,
        "protobuf reads fewer bytes per event"
    );
    delete_node(&client, &node_name).await;
}

/// The ConfigMaps and Secrets of [`metadata_only_watches_over_protobuf_export_what_they_export_over_json`]:
/// every metadata-only shape the test touches (ConfigMaps; Opaque and TLS Secrets), and a
/// Secret of a type only its whole object tells (read through the Secret's own message).
const METADATA_ONLY_OBJECTS: &str = "
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  labels: {app: shop, tier: web}
  annotations: {example.com/owner: platform}
data: {mode: fast, level: '3'}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: empty}
---
apiVersion: v1
kind: Secret
metadata:
  name: password
  labels: {app: shop}
  annotations: {example.com/rotated: 'yes'}
type: Opaque
stringData: {password: hunter2}
---
apiVersion: v1
kind: Secret
metadata: {name: cert}
type: kubernetes.io/tls
stringData: {tls.crt: not-a-cert, tls.key: not-a-key}
---
apiVersion: v1
kind: Secret
metadata:
  name: custom
  labels: {app: shop}
type: example.com/custom
stringData: {token: abc}
";

/// Metadata-only watches (ConfigMaps, Secrets of the well-known types) read
/// `PartialObjectMetadata` as protobuf: an agent with `--api-encoding=protobuf` exports what one
/// with `--api-encoding=json` exports, before and after updates, and reads fewer bytes per
/// update event. Prints the bytes per event of both (docs/benchmarks.md, "Protobuf on the
/// wire").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_only_watches_over_protobuf_export_what_they_export_over_json() {
    const UPDATES: usize = 10;
    let client = Cluster::get().client().await;
    let ns = TestNamespace::create(&client, "pb-meta").await;
    kubectl(
        &["apply", "-n", ns.name(), "-f", "-"],
        METADATA_ONLY_OBJECTS,
    )
    .expect("the ConfigMaps and Secrets");
    let flags = |encoding: &str| {
        vec![
            "--scope".to_string(),
            "cluster".to_string(),
            "--leader-election=false".to_string(),
            format!("--api-encoding={encoding}"),
            "--resources=configmaps,secrets".to_string(),
            format!("--namespaces={}", ns.name()),
            "--metric-labels-allowlist=configmaps=[*],secrets=[*]".to_string(),
            "--metric-annotations-allowlist=configmaps=[*],secrets=[*]".to_string(),
        ]
    };
    let start = |encoding: &str| {
        let flags = flags(encoding);
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        AgentProcess::start("", &flags)
    };
    let mut over_protobuf = start("protobuf");
    let mut over_json = start("json");
    over_protobuf.wait_ready(READY).await;
    over_json.wait_ready(READY).await;

    // This namespace's rows in both agents, once identical and `shows` holds for them.
    let same = |what: &'static str, shows: Box<dyn Fn(&str) -> bool + Send + Sync>| {
        let (a, b, ns) = (&over_protobuf, &over_json, ns.name());
        let shows = std::sync::Arc::new(shows);
        poll_until(what, CONVERGE, move || {
            let shows = shows.clone();
            async move {
                let (_, from_protobuf) = a.get("/metrics").await?;
                let (_, from_json) = b.get("/metrics").await?;
                let mine = |text: &str| -> String {
                    text.lines()
                        .filter(|l| l.contains(&format!("namespace=\"{ns}\"")))
                        .map(|l| format!("{l}\n"))
                        .collect()
                };
                let (from_protobuf, from_json) = (mine(&from_protobuf), mine(&from_json));
                if !shows(&from_protobuf) {
                    return Err("not yet in the protobuf agent".to_string());
                }
                if from_protobuf != from_json {
                    let diff = similar_lines(&from_protobuf, &from_json);
                    return Err(format!("the expositions differ:\n{}", diff.join("\n")));
                }
                Ok(from_protobuf)
            }
        })
    };
    let text = same(
        "both agents to export every ConfigMap and Secret",
        Box::new(|text| {
            ["configmap=\"settings\"", "configmap=\"empty\""]
                .iter()
                .chain(&[
                    "secret=\"password\"",
                    "secret=\"cert\"",
                    "secret=\"custom\"",
                ])
                .all(|name| text.contains(name))
        }),
    )
    .await;
    for needle in [
        "kube_configmap_labels{",
        "label_tier=\"web\"",
        "annotation_example_com_owner=\"platform\"",
        "type=\"kubernetes.io/tls\"",
        "type=\"example.com/custom\"",
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
    let log = plain(&over_protobuf.log());
    for resource in ["configmaps", "secrets"] {
        assert!(
            log.lines().any(|l| l.contains("watch starting")
                && l.contains(&format!("resource=\"{resource}\""))
                && l.contains("metadata_only=true")
                && l.contains("encoding=\"protobuf\"")),
            "{resource}: no metadata-only watch over protobuf:\n{log}"
        );
    }

    // Updates arrive as watch events in both agents; count their bytes.
    let agents = [("protobuf", &over_protobuf), ("json", &over_json)];
    let mut before = Vec::new();
    for (_, agent) in agents {
        before.push((
            watch_bytes_and_updates(agent, "configmaps").await,
            watch_bytes_and_updates(agent, "secrets").await,
        ));
    }
    for i in 1..=UPDATES {
        for object in ["configmap/settings", "secret/password"] {
            kubectl(
                &[
                    "label",
                    "--overwrite",
                    "-n",
                    ns.name(),
                    object,
                    &format!("revision=r{i}"),
                ],
                "",
            )
            .expect("a label update");
        }
    }
    let last = format!("label_revision=\"r{UPDATES}\"");
    let text = same(
        "the last revision in both agents",
        Box::new(move |text| {
            text.lines()
                .filter(|l| l.contains(&last))
                .filter(|l| {
                    l.starts_with("kube_configmap_labels{") || l.starts_with("kube_secret_labels{")
                })
                .count()
                == 2
        }),
    )
    .await;
    assert!(text.contains("configmap=\"settings\""), "{text}");
    let mut per_event = Vec::new();
    for ((encoding, agent), (cm_before, secret_before)) in agents.into_iter().zip(before) {
        let (cm, secret) = poll_until("every update counted", CONVERGE, || async {
            let (cm, secret) = (
                watch_bytes_and_updates(agent, "configmaps").await,
                watch_bytes_and_updates(agent, "secrets").await,
            );
            let seen = (cm.1 - cm_before.1, secret.1 - secret_before.1);
            if seen.0 >= UPDATES as f64 && seen.1 >= UPDATES as f64 {
                Ok((cm, secret))
            } else {
                Err(format!("{encoding}: {seen:?} of {UPDATES} events each"))
            }
        })
        .await;
        let bytes_per_event =
            |now: (f64, f64), then: (f64, f64)| (now.0 - then.0) / (now.1 - then.1);
        per_event.push((
            encoding,
            bytes_per_event(cm, cm_before),
            bytes_per_event(secret, secret_before),
        ));
    }
    println!("API bytes per update event, metadata-only watches ({UPDATES} label updates each):");
    println!("| | ConfigMap | Secret (Opaque) |");
    println!("|---|---|---|");
    for (encoding, cm, secret) in &per_event {
        println!("| {encoding} | {cm:.0} B | {secret:.0} B |");
    }
    let (pb, json) = (&per_event[0], &per_event[1]);
    assert!(
        pb.1 < json.1 && pb.2 < json.2,
        "protobuf reads fewer bytes per event: {per_event:?}"
    );
}

/// The watch bytes read and the update events received for `resource` so far.
async fn watch_bytes_and_updates(agent: &AgentProcess, resource: &str) -> (f64, f64) {
    (
        counter(
            agent,
            "ksa_api_response_bytes_total",
            &[("resource", resource), ("verb", "watch")],
        )
        .await,
        counter(
            agent,
            "ksa_watch_events_total",
            &[("resource", resource), ("type", "applied")],
        )
        .await,
    )
}
