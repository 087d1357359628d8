//! `v1/Node`, lean: the fields the node families read (the JSON twin is the lean `Node` in
//! `resources/node.rs`), at the field numbers of `k8s.io/api/core/v1/generated.proto`. Images,
//! daemon endpoints, volumes and managed fields are skipped by prost without being built.
//!
//! Each conversion mirrors the Go field's JSON tag rule ([`super::meta`]).

use std::collections::BTreeMap;

use super::meta::{ObjectMeta, Quantity, always, omitempty, omitempty_bool, quantities};
use super::{Message, Result};
use crate::resources::node as lean;

/// `v1.Node`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Node {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<NodeSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<NodeStatus>,
}

/// `v1.NodeSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeSpec {
    /// `podCIDR`.
    #[prost(string, optional, tag = "1")]
    pub pod_cidr: Option<String>,
    /// `providerID`.
    #[prost(string, optional, tag = "3")]
    pub provider_id: Option<String>,
    /// `unschedulable`.
    #[prost(bool, optional, tag = "4")]
    pub unschedulable: Option<bool>,
    /// `taints`.
    #[prost(message, repeated, tag = "5")]
    pub taints: Vec<Taint>,
    /// `podCIDRs`.
    #[prost(string, repeated, tag = "7")]
    pub pod_cidrs: Vec<String>,
}

/// `v1.Taint`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Taint {
    /// `key`.
    #[prost(string, optional, tag = "1")]
    pub key: Option<String>,
    /// `value`.
    #[prost(string, optional, tag = "2")]
    pub value: Option<String>,
    /// `effect`.
    #[prost(string, optional, tag = "3")]
    pub effect: Option<String>,
}

/// `v1.NodeStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeStatus {
    /// `capacity`.
    #[prost(btree_map = "string, message", tag = "1")]
    pub capacity: BTreeMap<String, Quantity>,
    /// `allocatable`.
    #[prost(btree_map = "string, message", tag = "2")]
    pub allocatable: BTreeMap<String, Quantity>,
    /// `conditions`.
    #[prost(message, repeated, tag = "4")]
    pub conditions: Vec<NodeCondition>,
    /// `addresses`.
    #[prost(message, repeated, tag = "5")]
    pub addresses: Vec<NodeAddress>,
    /// `nodeInfo`.
    #[prost(message, optional, tag = "7")]
    pub node_info: Option<NodeSystemInfo>,
}

/// `v1.NodeSystemInfo`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeSystemInfo {
    /// `systemUUID`.
    #[prost(string, optional, tag = "2")]
    pub system_uuid: Option<String>,
    /// `kernelVersion`.
    #[prost(string, optional, tag = "4")]
    pub kernel_version: Option<String>,
    /// `osImage`.
    #[prost(string, optional, tag = "5")]
    pub os_image: Option<String>,
    /// `containerRuntimeVersion`.
    #[prost(string, optional, tag = "6")]
    pub container_runtime_version: Option<String>,
    /// `kubeletVersion`.
    #[prost(string, optional, tag = "7")]
    pub kubelet_version: Option<String>,
}

/// `v1.NodeAddress`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeAddress {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `address`.
    #[prost(string, optional, tag = "2")]
    pub address: Option<String>,
}

/// `v1.NodeCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NodeCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `status`.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
}

impl Message for Node {
    type Object = lean::Node;
    const NAME: &'static str = "v1/Node";

    fn into_object(self) -> Result<lean::Node> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        // `nodeInfo` is a struct value: JSON always writes it, with every string in it.
        let info = status.node_info.unwrap_or_default();
        Ok(lean::Node {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::NodeSpec {
                pod_cidr: omitempty(spec.pod_cidr),
                pod_cidrs: spec.pod_cidrs,
                provider_id: omitempty(spec.provider_id),
                unschedulable: omitempty_bool(spec.unschedulable),
                taints: spec
                    .taints
                    .into_iter()
                    .map(|t| lean::Taint {
                        key: always(t.key),
                        value: omitempty(t.value),
                        effect: always(t.effect),
                    })
                    .collect(),
            },
            status: lean::NodeStatus {
                node_info: lean::NodeInfo {
                    kernel_version: always(info.kernel_version),
                    os_image: always(info.os_image),
                    container_runtime_version: always(info.container_runtime_version),
                    kubelet_version: always(info.kubelet_version),
                    system_uuid: always(info.system_uuid),
                },
                addresses: status
                    .addresses
                    .into_iter()
                    .map(|a| lean::NodeAddress {
                        type_: always(a.r#type),
                        address: always(a.address),
                    })
                    .collect(),
                conditions: status
                    .conditions
                    .into_iter()
                    .map(|c| lean::NodeCondition {
                        type_: always(c.r#type),
                        status: always(c.status),
                    })
                    .collect(),
                capacity: quantities(status.capacity),
                allocatable: quantities(status.allocatable),
            },
        })
    }
}
