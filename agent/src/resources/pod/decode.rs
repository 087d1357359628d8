//! The pod's lean decode types: only the fields the families read; serde skips everything else
//! (`managedFields`, probes, env, …) without building it. Re-exported from the pod module.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::decode::lean_meta;
use crate::resources::common::{null_as_default, quantity_map};

/// The fields of a Pod that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Pod {
    /// Identity, labels, annotations, owners, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    pub spec: PodSpec,
    /// `status`, lean.
    pub status: PodStatus,
}
crate::impl_object!(Pod => super::KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PodSpec {
    /// The node the pod is bound to; absent while unscheduled.
    pub node_name: Option<String>,
    /// `kube_pod_info`'s `priority_class`.
    pub priority_class_name: Option<String>,
    /// `kube_pod_info`'s `host_network`.
    pub host_network: Option<bool>,
    /// `Always`, `OnFailure` or `Never`.
    pub restart_policy: Option<String>,
    /// The RuntimeClass, when one is set.
    pub runtime_class_name: Option<String>,
    /// The service account the pod runs as.
    pub service_account_name: Option<String>,
    /// The scheduler responsible for the pod.
    pub scheduler_name: Option<String>,
    /// Resource name → quantity the runtime class adds on top of the containers.
    #[serde(deserialize_with = "quantity_map")]
    pub overhead: BTreeMap<String, String>,
    /// Node label selector.
    #[serde(deserialize_with = "null_as_default")]
    pub node_selector: Option<BTreeMap<String, String>>,
    /// Tolerations, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub tolerations: Vec<Toleration>,
    /// Volumes, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub volumes: Vec<Volume>,
    /// Regular containers, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub containers: Vec<Container>,
    /// Init containers (sidecars included), in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub init_containers: Vec<Container>,
    /// Dynamic Resource Allocation claims, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub resource_claims: Vec<PodResourceClaim>,
}

/// One `spec.tolerations[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Toleration {
    /// Taint key matched; empty matches all keys.
    pub key: Option<String>,
    /// `Exists` or `Equal`.
    pub operator: Option<String>,
    /// Taint value matched.
    pub value: Option<String>,
    /// Taint effect matched; empty matches all effects.
    pub effect: Option<String>,
    /// How long a `NoExecute` taint is tolerated.
    pub toleration_seconds: Option<i64>,
}

/// One `spec.volumes[]` entry; only the sources the families look at.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Volume {
    /// Volume name, unique in the pod.
    pub name: Option<String>,
    /// Set for a volume backed by an existing claim.
    pub persistent_volume_claim: Option<PersistentVolumeClaimSource>,
    /// Set for a generic ephemeral volume; its claim is named `<pod>-<volume>`.
    pub ephemeral: Option<IgnoredAny>,
}

/// `volumes[].persistentVolumeClaim`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PersistentVolumeClaimSource {
    /// The claim's name, in the pod's namespace.
    pub claim_name: Option<String>,
    /// Mounted read-only.
    pub read_only: Option<bool>,
}

/// One `spec.containers[]` or `spec.initContainers[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Container {
    /// Container name, unique in the pod.
    pub name: Option<String>,
    /// Image as written in the spec (`image_spec`).
    pub image: Option<String>,
    /// `Always` on a sidecar (restartable init container).
    pub restart_policy: Option<String>,
    /// Requests and limits.
    pub resources: ResourceRequirements,
}

/// `containers[].resources`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ResourceRequirements {
    /// Resource name → quantity string.
    #[serde(deserialize_with = "quantity_map")]
    pub requests: BTreeMap<String, String>,
    /// Resource name → quantity string.
    #[serde(deserialize_with = "quantity_map")]
    pub limits: BTreeMap<String, String>,
}

/// One `spec.resourceClaims[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PodResourceClaim {
    /// The pod-local name containers use to refer to the claim.
    pub name: Option<String>,
    /// An existing ResourceClaim.
    pub resource_claim_name: Option<String>,
    /// A template from which a claim is generated for this pod.
    pub resource_claim_template_name: Option<String>,
}

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PodStatus {
    /// `Pending`, `Running`, `Succeeded`, `Failed`, `Unknown`.
    pub phase: Option<String>,
    /// Why the pod is in its phase (`Evicted`, `NodeLost`, …).
    pub reason: Option<String>,
    /// `BestEffort`, `Burstable` or `Guaranteed`.
    pub qos_class: Option<String>,
    /// The node's primary IP.
    #[serde(rename = "hostIP")]
    pub host_ip: Option<String>,
    /// The pod's primary IP.
    #[serde(rename = "podIP")]
    pub pod_ip: Option<String>,
    /// Every pod IP, one per IP family on dual-stack clusters.
    #[serde(rename = "podIPs", deserialize_with = "null_as_default")]
    pub pod_ips: Vec<PodIp>,
    /// When the kubelet acknowledged the pod.
    pub start_time: Option<Time>,
    /// Conditions, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<PodCondition>,
    /// One entry per regular container.
    #[serde(deserialize_with = "null_as_default")]
    pub container_statuses: Vec<ContainerStatus>,
    /// One entry per init container.
    #[serde(deserialize_with = "null_as_default")]
    pub init_container_statuses: Vec<ContainerStatus>,
    /// Names of the claims generated from templates.
    #[serde(deserialize_with = "null_as_default")]
    pub resource_claim_statuses: Vec<PodResourceClaimStatus>,
}

/// One `status.podIPs[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PodIp {
    /// The address, as the API spells it.
    pub ip: Option<String>,
}

/// One `status.conditions[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PodCondition {
    /// `PodScheduled`, `Initialized`, `ContainersReady`, `Ready`, `DisruptionTarget`, …
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
    /// Machine-readable cause of the last transition.
    pub reason: Option<String>,
    /// When the status last changed.
    pub last_transition_time: Option<Time>,
}

/// One `status.containerStatuses[]` or `status.initContainerStatuses[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ContainerStatus {
    /// Container name, as in the spec.
    pub name: Option<String>,
    /// Image the runtime resolved.
    pub image: Option<String>,
    /// Image digest the runtime ran.
    #[serde(rename = "imageID")]
    pub image_id: Option<String>,
    /// `<runtime>://<id>`.
    #[serde(rename = "containerID")]
    pub container_id: Option<String>,
    /// Passed its readiness check.
    pub ready: Option<bool>,
    /// Restarts so far.
    pub restart_count: Option<i64>,
    /// Current state.
    pub state: ContainerState,
    /// The state before the last restart.
    pub last_state: ContainerState,
}

/// `state` / `lastState`: at most one member is set.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ContainerState {
    /// Not running yet, or between restarts.
    pub waiting: Option<StateWaiting>,
    /// Running.
    pub running: Option<StateRunning>,
    /// Exited.
    pub terminated: Option<StateTerminated>,
}

/// `state.waiting`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct StateWaiting {
    /// `ContainerCreating`, `CrashLoopBackOff`, `ImagePullBackOff`, …
    pub reason: Option<String>,
}

/// `state.running`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StateRunning {
    /// When the container (re)started.
    pub started_at: Option<Time>,
}

/// `state.terminated`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StateTerminated {
    /// `Completed`, `Error`, `OOMKilled`, …
    pub reason: Option<String>,
    /// The process's exit status.
    pub exit_code: Option<i64>,
    /// When the container started.
    pub started_at: Option<Time>,
    /// When the container exited.
    pub finished_at: Option<Time>,
}

/// One `status.resourceClaimStatuses[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PodResourceClaimStatus {
    /// The pod-local claim name, as in `spec.resourceClaims[].name`.
    pub name: Option<String>,
    /// The generated ResourceClaim's name.
    pub resource_claim_name: Option<String>,
}
