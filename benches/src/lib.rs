//! Fixtures shared by the benchmarks: realistic objects as the apiserver sends them, and
//! stores filled with them as a watch would fill them.

use std::path::PathBuf;

use bytes::Bytes;
use kube_state_agent::decode::Decoded;
use kube_state_agent::exposition::RenderContext;
use kube_state_agent::registry;
use kube_state_agent::registry::KindInfo;
use kube_state_agent::resources::{FamilySelection, pod};
use kube_state_agent::snapshot::KindSource;
use kube_state_agent::store::{Change, ChangeSignal, Writer, shard};
use kube_state_agent::wire::event::{EventType, decode_event, encode_event};
use serde_json::{Value, json};

/// The leader's share of a cluster, by kind: what a cluster-scope agent holds besides pods.
/// Weights in percent of the objects.
pub const CLUSTER_MIX: &[(&str, usize)] = &[
    ("configmaps", 25),
    ("secrets", 25),
    ("replicasets", 20),
    ("deployments", 10),
    ("services", 10),
    ("endpoints", 10),
];

/// The object of `agent/tests/golden/<resource>/full.yaml` (every field its families read) as
/// JSON.
pub fn golden_object(resource: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../agent/tests/golden")
        .join(resource)
        .join("full.yaml");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    serde_norway::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

/// Namespaced objects of the mix are spread over this many namespaces (`team-0`…).
pub const NAMESPACES: usize = 100;

/// `template` renamed into the `i`th object of its kind: its own name, namespace and UID.
pub fn nth_object(template: &Value, resource: &str, i: usize) -> String {
    let mut obj = template.clone();
    let meta = obj["metadata"].as_object_mut().expect("metadata");
    let name = meta.get("name").and_then(Value::as_str).unwrap_or("obj");
    let name = format!("{name}-{i}");
    meta.insert("name".into(), Value::String(name));
    meta.insert("uid".into(), Value::String(format!("{resource}-{i:012}")));
    if meta.contains_key("namespace") {
        meta.insert(
            "namespace".into(),
            Value::String(format!("team-{}", i % NAMESPACES)),
        );
    }
    obj.to_string()
}

/// Stores filled with `objects` objects in [`CLUSTER_MIX`]'s proportions, rendered with the
/// default families, plus the writers that can change them afterwards.
pub struct ClusterMix {
    /// One source per kind, one shard each.
    pub sources: Vec<KindSource>,
    /// The writer of each source's shard, in the same order.
    pub writers: Vec<Writer>,
    templates: Vec<Value>,
}

impl ClusterMix {
    /// Lists `objects` objects into fresh stores, as an initial list would.
    pub fn new(objects: usize) -> ClusterMix {
        let ctx = RenderContext::default();
        let mut mix = ClusterMix {
            sources: Vec::new(),
            writers: Vec::new(),
            templates: Vec::new(),
        };
        for &(resource, percent) in CLUSTER_MIX {
            let info = info(resource);
            let selection = default_selection(info);
            let template = golden_object(resource);
            let (mut w, r) = shard(resource, ChangeSignal::default());
            w.start_listing();
            w.apply(Change::Init);
            for i in 0..objects * percent / 100 {
                let json = nth_object(&template, resource, i);
                let rows = info
                    .render_json(&json, &ctx, &selection)
                    .expect("fixture decodes");
                w.apply(Change::InitApply(format!("{resource}-{i:012}"), rows));
            }
            w.apply(Change::InitDone);
            mix.sources.push(KindSource {
                info,
                selection,
                shards: vec![r],
            });
            mix.writers.push(w);
            mix.templates.push(template);
        }
        mix
    }

    /// Re-renders object `i` of the first kind (as a MODIFIED event would) into its store.
    pub fn touch(&mut self, i: usize) {
        let source = &self.sources[0];
        let resource = source.info.resource();
        let json = nth_object(&self.templates[0], resource, i);
        let rows = source
            .info
            .render_json(&json, &RenderContext::default(), &source.selection)
            .expect("fixture decodes");
        self.writers[0].apply(Change::Apply(format!("{resource}-{i:012}"), rows));
    }
}

/// The registered kind serving `resource`.
pub fn info(resource: &str) -> &'static dyn KindInfo {
    registry::infos()
        .find(|k| k.resource() == resource)
        .unwrap_or_else(|| panic!("no kind {resource}"))
}

/// The render settings of the pod benchmarks: the `app` label exposed, as a typical
/// `--metric-labels-allowlist=pods=[app]` does.
pub fn render_context() -> RenderContext {
    RenderContext {
        labels: kube_state_agent::config::KeyAllowlist::new(["app"]),
        annotations: Default::default(),
    }
}

/// The families a default run renders (no opt-ins).
pub fn default_selection(info: &dyn KindInfo) -> FamilySelection {
    FamilySelection::new(&info.family_headers(), |_| false)
}

/// A pod as a kubelet-managed cluster shows it: two containers and an init container with
/// probes, resources and volume mounts, a status with conditions and container states, and the
/// `managedFields` that make up much of a real pod's bytes (about 8 KiB of JSON).
pub fn pod_json(i: usize, node: &str) -> String {
    let name = format!("web-{i}");
    let container = |name: &str, image: &str| {
        json!({
            "name": name, "image": image, "imagePullPolicy": "IfNotPresent",
            "ports": [{"containerPort": 8080, "protocol": "TCP", "name": "http"}],
            "env": [{"name": "MODE", "value": "production"}, {"name": "POD_NAME", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
                    {"name": "POD_NAMESPACE", "valueFrom": {"fieldRef": {"fieldPath": "metadata.namespace"}}}, {"name": "LOG_LEVEL", "value": "info"},
                    {"name": "DATABASE_URL", "valueFrom": {"secretKeyRef": {"name": "web-db", "key": "url"}}}, {"name": "GOMAXPROCS", "valueFrom": {"resourceFieldRef": {"resource": "limits.cpu", "divisor": "1"}}},
                    {"name": "OTEL_EXPORTER_OTLP_ENDPOINT", "value": "http://otel-collector.observability.svc:4317"}],
            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "1", "memory": "512Mi"}},
            "livenessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10, "failureThreshold": 3},
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5},
            "volumeMounts": [{"name": "config", "mountPath": "/etc/app"}, {"name": "data", "mountPath": "/var/lib/app"}],
            "terminationMessagePath": "/dev/termination-log", "terminationMessagePolicy": "File"
        })
    };
    let status = |name: &str, restarts: u32| {
        json!({
            "name": name, "ready": true, "restartCount": restarts, "started": true,
            "image": "registry.local/app:1.4.2", "imageID": "registry.local/app@sha256:3f4e8a1c2b9d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f",
            "containerID": format!("containerd://{:064x}", i),
            "state": {"running": {"startedAt": "2026-11-20T10:00:00Z"}},
            "lastState": {"terminated": {"exitCode": 137, "reason": "OOMKilled", "startedAt": "2026-11-20T09:00:00Z", "finishedAt": "2026-11-20T09:59:00Z"}}
        })
    };
    let managed = json!([
        {"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T10:00:00Z", "fieldsType": "FieldsV1",
         "fieldsV1": {"f:metadata": {"f:generateName": {}, "f:labels": {".": {}, "f:app": {}, "f:pod-template-hash": {}}, "f:ownerReferences": {".": {}, "k:{\"uid\":\"6c1f\"}": {}}},
                      "f:spec": {"f:containers": {"k:{\"name\":\"app\"}": {".": {}, "f:image": {}, "f:imagePullPolicy": {}, "f:name": {}, "f:ports": {}, "f:resources": {}, "f:volumeMounts": {}},
                                                  "k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}, "f:resources": {}}},
                                 "f:dnsPolicy": {}, "f:enableServiceLinks": {}, "f:restartPolicy": {}, "f:schedulerName": {}, "f:securityContext": {}, "f:terminationGracePeriodSeconds": {}, "f:volumes": {}}}},
        {"manager": "kubelet", "operation": "Update", "apiVersion": "v1", "time": "2026-11-20T10:00:05Z", "fieldsType": "FieldsV1", "subresource": "status",
         "fieldsV1": {"f:status": {"f:conditions": {"k:{\"type\":\"ContainersReady\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                                                    "k:{\"type\":\"Initialized\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}},
                                                    "k:{\"type\":\"Ready\"}": {".": {}, "f:lastProbeTime": {}, "f:lastTransitionTime": {}, "f:status": {}, "f:type": {}}},
                                   "f:containerStatuses": {}, "f:hostIP": {}, "f:initContainerStatuses": {}, "f:phase": {}, "f:podIP": {}, "f:podIPs": {".": {}, "k:{\"ip\":\"10.244.1.17\"}": {".": {}, "f:ip": {}}}, "f:startTime": {}}}}
    ]);
    let pod: Value = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {
            "name": name, "namespace": format!("team-{}", i % 20), "uid": format!("{:08x}-5d4f-4c1a-9b7e-{:012x}", i, i),
            "resourceVersion": format!("{}", 100_000 + i), "creationTimestamp": "2026-11-20T09:58:00Z",
            "generateName": "web-5d4f8c-", "labels": {"app": "web", "pod-template-hash": "5d4f8c", "team": "payments"},
            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-01T00:00:00Z", "prometheus.io/scrape": "true"},
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-5d4f8c", "uid": "6c1f", "controller": true, "blockOwnerDeletion": true}],
            "managedFields": managed
        },
        "spec": {
            "nodeName": node, "serviceAccountName": "web", "schedulerName": "default-scheduler", "priorityClassName": "high", "priority": 1000,
            "restartPolicy": "Always", "dnsPolicy": "ClusterFirst", "terminationGracePeriodSeconds": 30,
            "initContainers": [container("migrate", "registry.local/migrate:1.4.2")],
            "containers": [container("app", "registry.local/app:1.4.2"), container("sidecar", "registry.local/proxy:2.0")],
            "volumes": [{"name": "config", "configMap": {"name": "web-config"}}, {"name": "data", "persistentVolumeClaim": {"claimName": format!("data-web-{i}")}},
                        {"name": "kube-api-access", "projected": {"sources": [{"serviceAccountToken": {"path": "token", "expirationSeconds": 3607}}]}}],
            "tolerations": [{"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300},
                            {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 300}]
        },
        "status": {
            "phase": "Running", "qosClass": "Burstable", "hostIP": "192.0.2.17", "podIP": "10.244.1.17",
            "podIPs": [{"ip": "10.244.1.17"}, {"ip": "fd00::17"}], "startTime": "2026-11-20T09:58:01Z",
            "conditions": [
                {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-11-20T09:58:30Z"},
                {"type": "Ready", "status": "True", "lastTransitionTime": "2026-11-20T10:00:05Z"},
                {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-11-20T10:00:05Z"},
                {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-11-20T09:58:00Z"}
            ],
            "initContainerStatuses": [{"name": "migrate", "ready": true, "restartCount": 0, "image": "registry.local/migrate:1.4.2", "imageID": "registry.local/migrate@sha256:aa",
                                       "containerID": "containerd://init", "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": "2026-11-20T09:58:02Z", "finishedAt": "2026-11-20T09:58:29Z"}}}],
            "containerStatuses": [status("app", (i % 5) as u32), status("sidecar", 0)]
        }
    });
    pod.to_string()
}

/// [`pod_json`]`(7, "node-1")` as the 1.20 API server sends it in a protobuf watch: one frame's
/// `WatchEvent` (`MODIFIED`), its object the pod in the `k8s\0` envelope. The pod is
/// `benches/data/pod-7.pb`, the API server's protobuf answer to a GET of that pod after it was
/// created and its status written (`benches/data/README.md` says how), so its bytes — field
/// order, server-set metadata, `managedFields` — are what a watch carries.
pub fn pod_protobuf() -> Bytes {
    let enveloped = include_bytes!("../data/pod-7.pb");
    Bytes::from(encode_event(EventType::Modified, enveloped))
}

/// Decodes one protobuf watch frame holding a pod as the agent's protobuf watch does: the
/// `WatchEvent`, the object's envelope, then the lean message.
///
/// # Panics
/// When the frame is not a watch event around a `v1/Pod`.
pub fn decode_pod_event(frame: Bytes) -> Decoded<pod::Pod> {
    let event = decode_event(frame).expect("a watch event");
    let raw = event.object.into_raw("v1", "Pod").expect("a v1/Pod");
    kube_state_agent::wire::decode::<kube_state_agent::wire::pod::Pod>(raw)
}

/// A Node as a kubelet reports it.
pub fn node_json(name: &str) -> String {
    json!({
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "42", "creationTimestamp": "2026-11-01T00:00:00Z",
                     "labels": {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux", "node-role.kubernetes.io/worker": "", "topology.kubernetes.io/zone": "zone-a"}},
        "spec": {"podCIDR": "10.244.1.0/24", "podCIDRs": ["10.244.1.0/24", "fd00:1::/64"], "providerID": "metal://rack-3/17",
                 "taints": [{"key": "dedicated", "value": "payments", "effect": "NoSchedule"}]},
        "status": {
            "capacity": {"cpu": "16", "memory": "64Gi", "pods": "110", "ephemeral-storage": "500Gi", "hugepages-2Mi": "0"},
            "allocatable": {"cpu": "15800m", "memory": "62Gi", "pods": "110", "ephemeral-storage": "450Gi", "hugepages-2Mi": "0"},
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}, {"type": "MemoryPressure", "status": "False"},
                           {"type": "DiskPressure", "status": "False"}, {"type": "PIDPressure", "status": "False"}],
            "addresses": [{"type": "InternalIP", "address": "192.0.2.17"}, {"type": "Hostname", "address": name}],
            "nodeInfo": {"kernelVersion": "6.1.0-18-amd64", "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "containerd://1.7.13",
                         "kubeletVersion": "v1.30.2", "kubeProxyVersion": "v1.30.2", "systemUUID": "4c4c4544", "machineID": "m", "bootID": "b",
                         "operatingSystem": "linux", "architecture": "amd64"}
        }
    })
    .to_string()
}

/// A node agent's pods: `n` of [`pod_json`] on `node-1`, listed into one shard as its pod watch
/// would, with the shard's writer to change them afterwards.
pub fn node_pods(n: usize) -> (Writer, KindSource) {
    let selection = default_selection(&pod::KIND);
    let (mut w, r) = shard("pods", ChangeSignal::default());
    w.start_listing();
    w.apply(Change::Init);
    for i in 0..n {
        w.apply(Change::InitApply(
            format!("uid-{i}"),
            pod_rows(i, &selection),
        ));
    }
    w.apply(Change::InitDone);
    (
        w,
        KindSource {
            info: &pod::KIND,
            selection,
            shards: vec![r],
        },
    )
}

/// Pod `i` of [`node_pods`] rendered again, as a MODIFIED event would, into its shard.
pub fn touch_pod(w: &mut Writer, source: &KindSource, i: usize) {
    w.apply(Change::Apply(
        format!("uid-{i}"),
        pod_rows(i, &source.selection),
    ));
}

fn pod_rows(i: usize, selection: &FamilySelection) -> kube_state_agent::resources::Rows {
    let Decoded::Object(p) =
        serde_json::from_str::<Decoded<pod::Pod>>(&pod_json(i, "node-1")).expect("fixture")
    else {
        panic!("fixture decodes")
    };
    pod::KIND.render(&p, &render_context(), selection)
}
