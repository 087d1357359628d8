//! `v1/Pod`, lean: the fields the pod families read (see `resources/pod/decode.rs`, the JSON
//! twin), at the field numbers of `k8s.io/api/core/v1/generated.proto`. Everything else —
//! env, probes, volume mounts, managed fields — is skipped by prost without being built.
//!
//! Each conversion names the Go field's JSON tag rule it mirrors ([`super::meta`]): `omit` for
//! `omitempty` values, `always` for values JSON always writes, pointers passed through.

use std::collections::BTreeMap;

use serde::de::IgnoredAny;

use super::meta::{
    ObjectMeta, Quantity, Time, always, nonempty_map, omitempty, omitempty_bool, quantities, time,
};
use super::{Message, Result};
use crate::resources::pod as lean;

/// `v1.Pod`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Pod {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<PodSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<PodStatus>,
}

/// `v1.PodSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSpec {
    /// `volumes`.
    #[prost(message, repeated, tag = "1")]
    pub volumes: Vec<Volume>,
    /// `containers`.
    #[prost(message, repeated, tag = "2")]
    pub containers: Vec<Container>,
    /// `restartPolicy`.
    #[prost(string, optional, tag = "3")]
    pub restart_policy: Option<String>,
    /// `nodeSelector`.
    #[prost(btree_map = "string, string", tag = "7")]
    pub node_selector: BTreeMap<String, String>,
    /// `serviceAccountName`.
    #[prost(string, optional, tag = "8")]
    pub service_account_name: Option<String>,
    /// `nodeName`.
    #[prost(string, optional, tag = "10")]
    pub node_name: Option<String>,
    /// `hostNetwork`.
    #[prost(bool, optional, tag = "11")]
    pub host_network: Option<bool>,
    /// `schedulerName`.
    #[prost(string, optional, tag = "19")]
    pub scheduler_name: Option<String>,
    /// `initContainers`.
    #[prost(message, repeated, tag = "20")]
    pub init_containers: Vec<Container>,
    /// `tolerations`.
    #[prost(message, repeated, tag = "22")]
    pub tolerations: Vec<Toleration>,
    /// `priorityClassName`.
    #[prost(string, optional, tag = "24")]
    pub priority_class_name: Option<String>,
    /// `runtimeClassName` (a pointer).
    #[prost(string, optional, tag = "29")]
    pub runtime_class_name: Option<String>,
    /// `overhead`.
    #[prost(btree_map = "string, message", tag = "32")]
    pub overhead: BTreeMap<String, Quantity>,
    /// `resourceClaims`.
    #[prost(message, repeated, tag = "39")]
    pub resource_claims: Vec<PodResourceClaim>,
}

/// `v1.Toleration`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Toleration {
    /// `key`.
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    /// `operator`.
    #[prost(string, optional, tag = "2")]
    pub operator: Option<String>,
    /// `value`.
    #[prost(string, optional, tag = "3")]
    pub value: Option<String>,
    /// `effect`.
    #[prost(string, optional, tag = "4")]
    pub effect: Option<String>,
    /// `tolerationSeconds` (a pointer).
    #[prost(int64, optional, tag = "5")]
    pub toleration_seconds: Option<i64>,
}

/// `v1.Volume`: its name and, inlined at field 2, its `VolumeSource`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Volume {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// The inlined `volumeSource`.
    #[prost(message, optional, tag = "2")]
    pub source: Option<VolumeSource>,
}

/// `v1.VolumeSource`: the two sources the families look at.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VolumeSource {
    /// `persistentVolumeClaim`.
    #[prost(message, optional, tag = "10")]
    pub persistent_volume_claim: Option<PersistentVolumeClaimSource>,
    /// `ephemeral`: only whether it is set.
    #[prost(message, optional, tag = "29")]
    pub ephemeral: Option<Present>,
}

/// A message whose presence is all that is read; its fields are skipped.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Present {}

/// `v1.PersistentVolumeClaimVolumeSource`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeClaimSource {
    /// `claimName`.
    #[prost(string, optional, tag = "1")]
    pub claim_name: Option<String>,
    /// `readOnly`.
    #[prost(bool, optional, tag = "2")]
    pub read_only: Option<bool>,
}

/// `v1.Container`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Container {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `image`.
    #[prost(string, optional, tag = "2")]
    pub image: Option<String>,
    /// `resources`.
    #[prost(message, optional, tag = "8")]
    pub resources: Option<ResourceRequirements>,
    /// `restartPolicy` (a pointer; `Always` on a sidecar).
    #[prost(string, optional, tag = "24")]
    pub restart_policy: Option<String>,
}

/// `v1.ResourceRequirements`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceRequirements {
    /// `limits`.
    #[prost(message, repeated, tag = "1")]
    pub limits: Vec<ResourceListEntry>,
    /// `requests`.
    #[prost(message, repeated, tag = "2")]
    pub requests: Vec<ResourceListEntry>,
}

/// One entry of a `ResourceList` (`map<string, Quantity>`), read as what a protobuf map is on
/// the wire: a repeated message of key (1) and value (2). Every container carries two such
/// maps, so reading them as entries and building the lean map once, in bulk, instead of
/// inserting into a map of messages and converting it, is a measurable part of a pod's decode.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceListEntry {
    /// The resource name.
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    /// Its quantity.
    #[prost(message, optional, tag = "2")]
    pub value: Option<Quantity>,
}

/// A `ResourceList` as the lean types hold it: name → quantity text, as
/// [`super::meta::quantities`] gives it (a repeated key keeps its last value, as a protobuf map
/// does).
fn resource_list(entries: Vec<ResourceListEntry>) -> BTreeMap<String, String> {
    entries
        .into_iter()
        .map(|e| {
            (
                e.key.unwrap_or_default(),
                e.value.and_then(|q| q.string).unwrap_or_default(),
            )
        })
        .collect()
}

/// `v1.PodResourceClaim`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodResourceClaim {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `resourceClaimName` (a pointer).
    #[prost(string, optional, tag = "3")]
    pub resource_claim_name: Option<String>,
    /// `resourceClaimTemplateName` (a pointer).
    #[prost(string, optional, tag = "4")]
    pub resource_claim_template_name: Option<String>,
}

/// `v1.PodStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodStatus {
    /// `phase`.
    #[prost(string, optional, tag = "1")]
    pub phase: Option<String>,
    /// `conditions`.
    #[prost(message, repeated, tag = "2")]
    pub conditions: Vec<PodCondition>,
    /// `reason`.
    #[prost(string, optional, tag = "4")]
    pub reason: Option<String>,
    /// `hostIP`.
    #[prost(string, optional, tag = "5")]
    pub host_ip: Option<String>,
    /// `podIP`.
    #[prost(string, optional, tag = "6")]
    pub pod_ip: Option<String>,
    /// `startTime` (a pointer).
    #[prost(message, optional, tag = "7")]
    pub start_time: Option<Time>,
    /// `containerStatuses`.
    #[prost(message, repeated, tag = "8")]
    pub container_statuses: Vec<ContainerStatus>,
    /// `qosClass`.
    #[prost(string, optional, tag = "9")]
    pub qos_class: Option<String>,
    /// `initContainerStatuses`.
    #[prost(message, repeated, tag = "10")]
    pub init_container_statuses: Vec<ContainerStatus>,
    /// `podIPs`.
    #[prost(message, repeated, tag = "12")]
    pub pod_ips: Vec<PodIp>,
    /// `resourceClaimStatuses`.
    #[prost(message, repeated, tag = "15")]
    pub resource_claim_statuses: Vec<PodResourceClaimStatus>,
}

/// `v1.PodIP`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodIp {
    /// `ip`.
    #[prost(string, optional, tag = "1")]
    pub ip: Option<String>,
}

/// `v1.PodCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `status`.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
    /// `lastTransitionTime`.
    #[prost(message, optional, tag = "4")]
    pub last_transition_time: Option<Time>,
    /// `reason`.
    #[prost(string, optional, tag = "5")]
    pub reason: Option<String>,
}

/// `v1.ContainerStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerStatus {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `state`.
    #[prost(message, optional, tag = "2")]
    pub state: Option<ContainerState>,
    /// `lastState`.
    #[prost(message, optional, tag = "3")]
    pub last_state: Option<ContainerState>,
    /// `ready`.
    #[prost(bool, optional, tag = "4")]
    pub ready: Option<bool>,
    /// `restartCount`.
    #[prost(int32, optional, tag = "5")]
    pub restart_count: Option<i32>,
    /// `image`.
    #[prost(string, optional, tag = "6")]
    pub image: Option<String>,
    /// `imageID`.
    #[prost(string, optional, tag = "7")]
    pub image_id: Option<String>,
    /// `containerID`.
    #[prost(string, optional, tag = "8")]
    pub container_id: Option<String>,
}

/// `v1.ContainerState`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerState {
    /// `waiting` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub waiting: Option<StateWaiting>,
    /// `running` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub running: Option<StateRunning>,
    /// `terminated` (a pointer).
    #[prost(message, optional, tag = "3")]
    pub terminated: Option<StateTerminated>,
}

/// `v1.ContainerStateWaiting`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StateWaiting {
    /// `reason`.
    #[prost(string, optional, tag = "1")]
    pub reason: Option<String>,
}

/// `v1.ContainerStateRunning`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StateRunning {
    /// `startedAt`.
    #[prost(message, optional, tag = "1")]
    pub started_at: Option<Time>,
}

/// `v1.ContainerStateTerminated`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct StateTerminated {
    /// `exitCode`.
    #[prost(int32, optional, tag = "1")]
    pub exit_code: Option<i32>,
    /// `reason`.
    #[prost(string, optional, tag = "3")]
    pub reason: Option<String>,
    /// `startedAt`.
    #[prost(message, optional, tag = "5")]
    pub started_at: Option<Time>,
    /// `finishedAt`.
    #[prost(message, optional, tag = "6")]
    pub finished_at: Option<Time>,
}

/// `v1.PodResourceClaimStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodResourceClaimStatus {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `resourceClaimName` (a pointer).
    #[prost(string, optional, tag = "2")]
    pub resource_claim_name: Option<String>,
}

impl Message for Pod {
    type Object = lean::Pod;
    const NAME: &'static str = "v1/Pod";

    fn into_object(self) -> Result<lean::Pod> {
        Ok(lean::Pod {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: self.spec.unwrap_or_default().into_lean(),
            status: self.status.unwrap_or_default().into_lean()?,
        })
    }
}

impl PodSpec {
    fn into_lean(self) -> lean::PodSpec {
        lean::PodSpec {
            node_name: omitempty(self.node_name),
            priority_class_name: omitempty(self.priority_class_name),
            host_network: omitempty_bool(self.host_network),
            restart_policy: omitempty(self.restart_policy),
            runtime_class_name: self.runtime_class_name,
            service_account_name: omitempty(self.service_account_name),
            scheduler_name: omitempty(self.scheduler_name),
            overhead: quantities(self.overhead),
            node_selector: nonempty_map(self.node_selector),
            tolerations: self
                .tolerations
                .into_iter()
                .map(|t| lean::Toleration {
                    key: omitempty(t.key),
                    operator: omitempty(t.operator),
                    value: omitempty(t.value),
                    effect: omitempty(t.effect),
                    toleration_seconds: t.toleration_seconds,
                })
                .collect(),
            volumes: self
                .volumes
                .into_iter()
                .map(|v| {
                    let source = v.source.unwrap_or_default();
                    lean::Volume {
                        name: always(v.name),
                        persistent_volume_claim: source.persistent_volume_claim.map(|c| {
                            lean::PersistentVolumeClaimSource {
                                claim_name: always(c.claim_name),
                                read_only: omitempty_bool(c.read_only),
                            }
                        }),
                        ephemeral: source.ephemeral.map(|_| IgnoredAny),
                    }
                })
                .collect(),
            containers: self.containers.into_iter().map(container).collect(),
            init_containers: self.init_containers.into_iter().map(container).collect(),
            resource_claims: self
                .resource_claims
                .into_iter()
                .map(|c| lean::PodResourceClaim {
                    name: always(c.name),
                    resource_claim_name: c.resource_claim_name,
                    resource_claim_template_name: c.resource_claim_template_name,
                })
                .collect(),
        }
    }
}

fn container(c: Container) -> lean::Container {
    let resources = c.resources.unwrap_or_default();
    lean::Container {
        name: always(c.name),
        image: omitempty(c.image),
        restart_policy: c.restart_policy,
        resources: lean::ResourceRequirements {
            requests: resource_list(resources.requests),
            limits: resource_list(resources.limits),
        },
    }
}

impl PodStatus {
    fn into_lean(self) -> Result<lean::PodStatus> {
        Ok(lean::PodStatus {
            phase: omitempty(self.phase),
            reason: omitempty(self.reason),
            qos_class: omitempty(self.qos_class),
            host_ip: omitempty(self.host_ip),
            pod_ip: omitempty(self.pod_ip),
            pod_ips: self
                .pod_ips
                .into_iter()
                .map(|p| lean::PodIp { ip: always(p.ip) })
                .collect(),
            start_time: time(self.start_time)?,
            conditions: self
                .conditions
                .into_iter()
                .map(|c| {
                    Ok(lean::PodCondition {
                        type_: always(c.r#type),
                        status: always(c.status),
                        reason: omitempty(c.reason),
                        last_transition_time: time(c.last_transition_time)?,
                    })
                })
                .collect::<Result<_>>()?,
            container_statuses: container_statuses(self.container_statuses)?,
            init_container_statuses: container_statuses(self.init_container_statuses)?,
            resource_claim_statuses: self
                .resource_claim_statuses
                .into_iter()
                .map(|s| lean::PodResourceClaimStatus {
                    name: always(s.name),
                    resource_claim_name: s.resource_claim_name,
                })
                .collect(),
        })
    }
}

fn container_statuses(statuses: Vec<ContainerStatus>) -> Result<Vec<lean::ContainerStatus>> {
    statuses
        .into_iter()
        .map(|s| {
            Ok(lean::ContainerStatus {
                name: always(s.name),
                image: always(s.image),
                image_id: always(s.image_id),
                container_id: omitempty(s.container_id),
                ready: Some(s.ready.unwrap_or_default()),
                restart_count: Some(i64::from(s.restart_count.unwrap_or_default())),
                state: container_state(s.state)?,
                last_state: container_state(s.last_state)?,
            })
        })
        .collect()
}

fn container_state(state: Option<ContainerState>) -> Result<lean::ContainerState> {
    let state = state.unwrap_or_default();
    Ok(lean::ContainerState {
        waiting: state.waiting.map(|w| lean::StateWaiting {
            reason: omitempty(w.reason),
        }),
        running: state
            .running
            .map(|r| {
                Ok::<_, super::Error>(lean::StateRunning {
                    started_at: time(r.started_at)?,
                })
            })
            .transpose()?,
        terminated: state
            .terminated
            .map(|t| {
                Ok::<_, super::Error>(lean::StateTerminated {
                    reason: omitempty(t.reason),
                    exit_code: Some(i64::from(t.exit_code.unwrap_or_default())),
                    started_at: time(t.started_at)?,
                    finished_at: time(t.finished_at)?,
                })
            })
            .transpose()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::Decoded;
    use prost::Message as _;

    fn decoded(pod: &Pod) -> lean::Pod {
        match super::super::decode::<Pod>(bytes::Bytes::from(pod.encode_to_vec())) {
            Decoded::Object(p) => p,
            Decoded::Malformed { error, .. } => panic!("{error}"),
        }
    }

    #[test]
    fn resource_lists_read_as_entries_give_the_sorted_map_a_protobuf_map_gives() {
        let entry = |key: &str, value: &str| ResourceListEntry {
            key: Some(key.into()),
            value: Some(Quantity {
                string: Some(value.into()),
            }),
        };
        // What gogo writes for `map<string, Quantity>`, in any order, and the same bytes read
        // as the map prost would build.
        let requirements = ResourceRequirements {
            requests: vec![
                entry("memory", "1Gi"),
                entry("cpu", "250m"),
                entry("cpu", "500m"),
            ],
            limits: vec![ResourceListEntry {
                key: Some("nvidia.com/gpu".into()),
                value: None,
            }],
        };
        let bytes = requirements.encode_to_vec();
        #[derive(Clone, PartialEq, prost::Message)]
        struct AsMaps {
            #[prost(btree_map = "string, message", tag = "1")]
            limits: BTreeMap<String, Quantity>,
            #[prost(btree_map = "string, message", tag = "2")]
            requests: BTreeMap<String, Quantity>,
        }
        let maps = AsMaps::decode(bytes.as_slice()).unwrap();
        let read = ResourceRequirements::decode(bytes.as_slice()).unwrap();
        assert_eq!(resource_list(read.requests), quantities(maps.requests));
        assert_eq!(resource_list(read.limits), quantities(maps.limits));
        let requests = resource_list(requirements.requests);
        assert_eq!(
            requests.iter().collect::<Vec<_>>(),
            [
                (&"cpu".to_string(), &"500m".to_string()),
                (&"memory".into(), &"1Gi".into())
            ],
            "sorted by name, the last of a repeated name kept"
        );
    }

    #[test]
    fn empty_values_read_as_json_gives_them_omitempty_absent_the_others_present() {
        // What gogo writes for a pod whose strings and bools are all empty.
        let pod = Pod {
            spec: Some(PodSpec {
                node_name: Some(String::new()),
                host_network: Some(false),
                containers: vec![Container {
                    name: Some("c".into()),
                    image: Some(String::new()),
                    ..Default::default()
                }],
                volumes: vec![Volume {
                    name: Some("scratch".into()),
                    source: Some(VolumeSource {
                        ephemeral: Some(Present {}),
                        ..Default::default()
                    }),
                }],
                ..Default::default()
            }),
            status: Some(PodStatus {
                phase: Some(String::new()),
                container_statuses: vec![ContainerStatus {
                    name: Some("c".into()),
                    ready: Some(false),
                    restart_count: Some(0),
                    image: Some(String::new()),
                    image_id: Some(String::new()),
                    container_id: Some(String::new()),
                    state: Some(ContainerState {
                        running: Some(StateRunning {
                            started_at: Some(Time::default()),
                        }),
                        ..Default::default()
                    }),
                    last_state: Some(ContainerState::default()),
                }],
                ..Default::default()
            }),
            ..Default::default()
        };
        let p = decoded(&pod);
        // `omitempty`: absent.
        assert_eq!(p.spec.node_name, None);
        assert_eq!(p.spec.host_network, None);
        assert_eq!(p.spec.containers[0].image, None);
        assert_eq!(p.status.phase, None);
        assert_eq!(p.status.container_statuses[0].container_id, None);
        // No `omitempty`: present, empty or zero.
        let s = &p.status.container_statuses[0];
        assert_eq!(s.image.as_deref(), Some(""));
        assert_eq!(s.image_id.as_deref(), Some(""));
        assert_eq!(s.ready, Some(false));
        assert_eq!(s.restart_count, Some(0));
        // A zero `Time` in a present state is JSON's `null`.
        assert!(s.state.running.as_ref().unwrap().started_at.is_none());
        assert!(s.last_state.running.is_none());
        // An ephemeral volume is seen as such.
        assert!(p.spec.volumes[0].ephemeral.is_some());
        assert!(p.spec.volumes[0].persistent_volume_claim.is_none());
    }
}
