//! Test objects and the namespace each test owns.
//!
//! Builders read like the object they make: `pod("web-1").on_node(&node).running()`. Objects
//! are plain `k8s_openapi` values; the helpers below write them, including the `/status`
//! subresource that no kubelet fills on this control plane.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::coordination::v1::Lease;
use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated,
    ContainerStateWaiting, ContainerStatus, Namespace, Node, NodeCondition, NodeStatus, Pod,
    PodCondition, PodSpec, PodStatus, ResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{DeleteParams, Patch, PatchParams, PostParams};
use kube::{Api, Client};
use serde_json::json;

use crate::cluster::Cluster;

/// A name no other test (or earlier run) uses: `prefix-<random>`.
pub fn unique(prefix: &str) -> String {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let n = SEQ.fetch_add(1, Ordering::Relaxed);
    let r: u32 = rand::random();
    format!("{prefix}-{r:08x}{n}")
}

// ===== builders =====

/// A pod builder.
#[derive(Clone, Debug)]
pub struct PodBuilder(Pod);

/// A pod named `name` with one container `app` (image `registry.local/app:1`).
pub fn pod(name: &str) -> PodBuilder {
    PodBuilder(Pod {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([("app".to_string(), name.to_string())])),
            ..ObjectMeta::default()
        },
        spec: Some(PodSpec {
            containers: vec![Container {
                name: "app".into(),
                image: Some("registry.local/app:1".into()),
                resources: Some(ResourceRequirements {
                    requests: Some(BTreeMap::from([
                        ("cpu".to_string(), Quantity("100m".into())),
                        ("memory".to_string(), Quantity("64Mi".into())),
                    ])),
                    limits: Some(BTreeMap::from([(
                        "memory".to_string(),
                        Quantity("128Mi".into()),
                    )])),
                    ..ResourceRequirements::default()
                }),
                ..Container::default()
            }],
            ..PodSpec::default()
        }),
        status: None,
    })
}

impl PodBuilder {
    /// Bound to `node` (`spec.nodeName`).
    pub fn on_node(mut self, node: &str) -> Self {
        self.spec().node_name = Some(node.to_string());
        self
    }

    /// In `namespace`.
    pub fn in_namespace(mut self, namespace: &str) -> Self {
        self.0.metadata.namespace = Some(namespace.to_string());
        self
    }

    /// With a label.
    pub fn label(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .labels
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }

    /// With an annotation.
    pub fn annotation(mut self, k: &str, v: &str) -> Self {
        self.0
            .metadata
            .annotations
            .get_or_insert_with(BTreeMap::new)
            .insert(k.into(), v.into());
        self
    }

    /// Owned by a controller of `kind` named `name`.
    pub fn owned_by(mut self, kind: &str, name: &str) -> Self {
        self.0.metadata.owner_references = Some(vec![OwnerReference {
            api_version: if kind == "ReplicaSet" {
                "apps/v1"
            } else {
                "v1"
            }
            .into(),
            kind: kind.into(),
            name: name.into(),
            uid: format!("{name}-uid"),
            controller: Some(true),
            block_owner_deletion: None,
        }]);
        self
    }

    /// Phase `Running`, Ready, container running with `restarts` restarts.
    pub fn running(mut self, restarts: i32) -> Self {
        self.0.status = Some(PodStatus {
            phase: Some("Running".into()),
            conditions: Some(vec![
                condition("PodScheduled", "True"),
                condition("Initialized", "True"),
                condition("ContainersReady", "True"),
                condition("Ready", "True"),
            ]),
            container_statuses: Some(vec![container_status(
                "app",
                true,
                restarts,
                ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(now()),
                    }),
                    ..ContainerState::default()
                },
            )]),
            host_ip: Some("192.0.2.10".into()),
            pod_ip: Some("10.244.0.10".into()),
            start_time: Some(now()),
            qos_class: Some("Burstable".into()),
            ..PodStatus::default()
        });
        self
    }

    /// Phase `Pending`, container waiting with `reason`.
    pub fn waiting(mut self, reason: &str) -> Self {
        self.0.status = Some(PodStatus {
            phase: Some("Pending".into()),
            conditions: Some(vec![
                condition("PodScheduled", "True"),
                condition("Ready", "False"),
            ]),
            container_statuses: Some(vec![container_status(
                "app",
                false,
                0,
                ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.into()),
                        message: None,
                    }),
                    ..ContainerState::default()
                },
            )]),
            ..PodStatus::default()
        });
        self
    }

    /// Phase `Failed`, container terminated with `reason` and `exit_code`.
    pub fn failed(mut self, reason: &str, exit_code: i32) -> Self {
        self.0.status = Some(PodStatus {
            phase: Some("Failed".into()),
            conditions: Some(vec![
                condition("PodScheduled", "True"),
                condition("Ready", "False"),
            ]),
            container_statuses: Some(vec![container_status(
                "app",
                false,
                3,
                ContainerState {
                    terminated: Some(ContainerStateTerminated {
                        exit_code,
                        reason: Some(reason.into()),
                        started_at: Some(now()),
                        finished_at: Some(now()),
                        ..ContainerStateTerminated::default()
                    }),
                    ..ContainerState::default()
                },
            )]),
            ..PodStatus::default()
        });
        self
    }

    /// Not scheduled: `PodScheduled=False`, reason `Unschedulable`.
    pub fn unschedulable(mut self) -> Self {
        let mut cond = condition("PodScheduled", "False");
        cond.reason = Some("Unschedulable".into());
        self.0.status = Some(PodStatus {
            phase: Some("Pending".into()),
            conditions: Some(vec![cond]),
            ..PodStatus::default()
        });
        self
    }

    /// The object.
    pub fn build(self) -> Pod {
        self.0
    }

    fn spec(&mut self) -> &mut PodSpec {
        self.0.spec.get_or_insert_with(PodSpec::default)
    }
}

fn now() -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(k8s_openapi::jiff::Timestamp::now())
}

fn condition(type_: &str, status: &str) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: status.into(),
        last_transition_time: Some(now()),
        ..PodCondition::default()
    }
}

fn container_status(
    name: &str,
    ready: bool,
    restarts: i32,
    state: ContainerState,
) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        image: "registry.local/app:1".into(),
        image_id: "registry.local/app@sha256:0123456789abcdef".into(),
        container_id: Some(format!("containerd://{name}-0123456789")),
        ready,
        restart_count: restarts,
        started: Some(ready),
        state: Some(state),
        ..ContainerStatus::default()
    }
}

/// A Node named `name` with capacity and a Ready condition.
pub fn node(name: &str) -> Node {
    Node {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(BTreeMap::from([
                ("kubernetes.io/hostname".to_string(), name.to_string()),
                ("kubernetes.io/os".to_string(), "linux".to_string()),
            ])),
            ..ObjectMeta::default()
        },
        spec: None,
        status: None,
    }
}

/// The status a kubelet would report for a healthy node.
pub fn node_status(ready: &str) -> NodeStatus {
    let resources = BTreeMap::from([
        ("cpu".to_string(), Quantity("4".into())),
        ("memory".to_string(), Quantity("16Gi".into())),
        ("pods".to_string(), Quantity("110".into())),
        ("ephemeral-storage".to_string(), Quantity("100Gi".into())),
    ]);
    NodeStatus {
        capacity: Some(resources.clone()),
        allocatable: Some(resources),
        conditions: Some(vec![NodeCondition {
            type_: "Ready".into(),
            status: ready.into(),
            reason: Some("KubeletReady".into()),
            last_heartbeat_time: Some(now()),
            last_transition_time: Some(now()),
            ..NodeCondition::default()
        }]),
        node_info: Some(k8s_openapi::api::core::v1::NodeSystemInfo {
            architecture: "amd64".into(),
            boot_id: "boot".into(),
            container_runtime_version: "containerd://1.7.0".into(),
            kernel_version: "6.1.0".into(),
            kube_proxy_version: "v1.20.2".into(),
            kubelet_version: "v1.20.2".into(),
            machine_id: "machine".into(),
            operating_system: "linux".into(),
            os_image: "Debian GNU/Linux 12 (bookworm)".into(),
            system_uuid: "uuid".into(),
            ..Default::default()
        }),
        ..NodeStatus::default()
    }
}

/// A Lease named `name` held by `holder`.
pub fn lease(name: &str, holder: &str) -> Lease {
    Lease {
        metadata: ObjectMeta {
            name: Some(name.into()),
            ..ObjectMeta::default()
        },
        spec: Some(k8s_openapi::api::coordination::v1::LeaseSpec {
            holder_identity: Some(holder.into()),
            lease_duration_seconds: Some(15),
            ..Default::default()
        }),
    }
}

// ===== writes =====

/// Creates `pod` in `ns`, then writes its status (if any) through `/status`, as a kubelet would.
///
/// # Panics
/// On any API error: tests want the cause, not a `Result`.
pub async fn create_pod(client: &Client, ns: &str, pod: Pod) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let status = pod.status.clone();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let created = api
        .create(&PostParams::default(), &pod)
        .await
        .unwrap_or_else(|e| panic!("create pod {ns}/{name}: {e}"));
    match status {
        Some(status) => set_pod_status(client, ns, &name, status).await,
        None => created,
    }
}

/// Replaces a pod's status through the `/status` subresource (merge patch).
pub async fn set_pod_status(client: &Client, ns: &str, name: &str, status: PodStatus) -> Pod {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    api.patch_status(
        name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("patch status of pod {ns}/{name}: {e}"))
}

/// Deletes a pod at once. Without a kubelet a bound pod would stay Terminating forever
/// otherwise.
pub async fn delete_pod_now(client: &Client, ns: &str, name: &str) {
    let api: Api<Pod> = Api::namespaced(client.clone(), ns);
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    match api.delete(name, &dp).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => panic!("delete pod {ns}/{name}: {e}"),
    }
}

/// Creates a Node and writes its status.
pub async fn create_node(client: &Client, node: Node, status: NodeStatus) -> Node {
    let api: Api<Node> = Api::all(client.clone());
    let name = node.metadata.name.clone().unwrap_or_default();
    api.create(&PostParams::default(), &node)
        .await
        .unwrap_or_else(|e| panic!("create node {name}: {e}"));
    api.patch_status(
        &name,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("patch status of node {name}: {e}"))
}

/// Deletes a Node (no finalizers are set on this control plane).
pub async fn delete_node(client: &Client, name: &str) {
    let api: Api<Node> = Api::all(client.clone());
    match api.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => {}
        Err(e) => panic!("delete node {name}: {e}"),
    }
}

// ===== per-test namespace =====

/// A namespace owned by one test, deleted with everything in it when dropped.
///
/// Deleting a namespace needs the namespace controller, which this control plane does not run:
/// the guard deletes the pods itself (grace 0) and then finalizes the namespace by hand.
pub struct TestNamespace {
    name: String,
}

impl TestNamespace {
    /// Creates `t-<prefix>-<random>`.
    pub async fn create(client: &Client, prefix: &str) -> TestNamespace {
        let name = unique(&format!("t-{prefix}"));
        let api: Api<Namespace> = Api::all(client.clone());
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                ..ObjectMeta::default()
            },
            ..Namespace::default()
        };
        api.create(&PostParams::default(), &ns)
            .await
            .unwrap_or_else(|e| panic!("create namespace {name}: {e}"));
        TestNamespace { name }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let name = std::mem::take(&mut self.name);
        if let Err(e) = cleanup(async move { delete_namespace(&name).await }) {
            eprintln!("cleaning up a test namespace: {e}");
        }
    }
}

/// Runs a clean-up future to completion from `Drop`, which cannot await: on a private runtime
/// on a plain thread (the test's own runtime may be shutting down).
///
/// # Errors
/// What the future returned.
pub fn cleanup<F>(f: F) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<()>> + Send + 'static,
{
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
            .block_on(f)
    })
    .join()
    .map_err(|_| anyhow::anyhow!("the clean-up panicked"))?
}

/// Deletes every pod of `name` at once, then the namespace, finalizing it by hand.
///
/// # Errors
/// Any API error other than 404.
pub async fn delete_namespace(name: &str) -> anyhow::Result<()> {
    let client = Cluster::get().client().await;
    let pods: Api<Pod> = Api::namespaced(client.clone(), name);
    let dp = DeleteParams {
        grace_period_seconds: Some(0),
        ..DeleteParams::default()
    };
    pods.delete_collection(&dp, &Default::default()).await?;
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.delete(name, &DeleteParams::default()).await {
        Ok(_) => {}
        Err(kube::Error::Api(e)) if e.code == 404 => return Ok(()),
        Err(e) => return Err(e.into()),
    }
    let body = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": { "name": name }, "spec": { "finalizers": [] }
    });
    let req = http::Request::put(format!("/api/v1/namespaces/{name}/finalize"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body)?)?;
    match client.request_text(req).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Binds an unscheduled pod to `node` through the `binding` subresource, as a scheduler does.
pub async fn bind_pod(client: &Client, ns: &str, name: &str, node: &str) {
    let body = json!({
        "apiVersion": "v1", "kind": "Binding",
        "metadata": {"name": name},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node}
    });
    let req = http::Request::post(format!("/api/v1/namespaces/{ns}/pods/{name}/binding"))
        .header("content-type", "application/json")
        .body(serde_json::to_vec(&body).unwrap())
        .unwrap();
    client
        .request_text(req)
        .await
        .unwrap_or_else(|e| panic!("bind {ns}/{name} to {node}: {e}"));
}

/// At least `len` bytes of text cycling through every character the exposition escapes or a
/// naive writer trips on: quotes, backslashes, newlines, carriage returns, tabs, braces,
/// commas, equals signs, `# HELP` and multi-byte UTF-8.
pub fn text_of_every_escape(len: usize) -> String {
    const PIECES: [&str; 12] = [
        "\"", "\\", "\n", "\r", "\t", "{", "}", ",", "=", "# HELP ", "é", "🚀",
    ];
    let mut text = String::with_capacity(len + 16);
    for piece in PIECES.iter().cycle() {
        if text.len() >= len {
            break;
        }
        text.push_str(piece);
        text.push_str("abc");
    }
    text
}

/// A private directory holding one config file, removed on drop.
pub struct ConfigDir(std::path::PathBuf);

impl ConfigDir {
    /// A fresh directory under the system's temporary one.
    pub fn new() -> ConfigDir {
        let dir = std::env::temp_dir().join(unique("ksa-config"));
        std::fs::create_dir_all(&dir).expect("a config directory");
        ConfigDir(dir)
    }

    /// The file's path (it exists once written).
    pub fn file(&self) -> std::path::PathBuf {
        self.0.join("config.yaml")
    }

    /// Replaces the file whole (write a sibling, rename), as a ConfigMap update or an editor
    /// saving does.
    pub fn write(&self, yaml: &str) {
        let tmp = self.0.join(".config.yaml.tmp");
        std::fs::write(&tmp, yaml).expect("writing the config file");
        std::fs::rename(&tmp, self.file()).expect("renaming the config file");
    }
}

impl Default for ConfigDir {
    fn default() -> Self {
        ConfigDir::new()
    }
}

impl Drop for ConfigDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// An hour-long token of ServiceAccount `ns/name`, from the TokenRequest API: the agent run
/// with it (`Cluster::kubeconfig_with_token`) has exactly the rights bound to that account.
pub async fn service_account_token(client: &Client, ns: &str, name: &str) -> String {
    use k8s_openapi::api::authentication::v1::{TokenRequest, TokenRequestSpec};
    let accounts: Api<k8s_openapi::api::core::v1::ServiceAccount> =
        Api::namespaced(client.clone(), ns);
    let request = TokenRequest {
        spec: TokenRequestSpec {
            expiration_seconds: Some(3600),
            ..TokenRequestSpec::default()
        },
        ..TokenRequest::default()
    };
    accounts
        .create_token_request(name, &PostParams::default(), &request)
        .await
        .unwrap_or_else(|e| panic!("TokenRequest for {ns}/{name}: {e}"))
        .status
        .expect("a TokenRequest answers with a token")
        .token
}
