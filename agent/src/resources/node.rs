//! Nodes (`v1/Node`), scope [`Scope::NodeSelf`]: every agent watches its own Node by name.
//! Mirrors kube-state-metrics' `internal/store/node.go` (`nodeMetricFamilies`), family by
//! family, in the same order.
//!
//! Every family is a pure function of one decoded [`Node`]; the identity label `node` is put in
//! front by the writer, as `wrapNodeFunc` does. See [`KIND`].

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{
    Quantity, bool_value, condition_samples, convert_value_to_float64,
    is_attachable_volume, is_extended_resource, is_huge_page, null_as_default, quantity_map,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series, sanitize_label_name};

// ===== lean decode types =====

/// The fields of a Node that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Node {
    /// Identity, labels, annotations, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: NodeSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: NodeStatus,
}
crate::impl_object!(Node => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeSpec {
    /// The primary pod IP range (`kube_node_info`'s `pod_cidr`).
    #[serde(rename = "podCIDR")]
    pub pod_cidr: Option<String>,
    /// Every pod IP range, one per IP family on dual-stack nodes.
    #[serde(rename = "podCIDRs", deserialize_with = "null_as_default")]
    pub pod_cidrs: Vec<String>,
    /// `<provider>://<id>` as the cloud provider set it.
    #[serde(rename = "providerID")]
    pub provider_id: Option<String>,
    /// Cordoned.
    pub unschedulable: Option<bool>,
    /// Taints, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub taints: Vec<Taint>,
}

/// One `spec.taints[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Taint {
    /// Taint key.
    pub key: Option<String>,
    /// Taint value, often absent.
    pub value: Option<String>,
    /// `NoSchedule`, `PreferNoSchedule` or `NoExecute`.
    pub effect: Option<String>,
}

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeStatus {
    /// Versions and identifiers reported by the kubelet.
    #[serde(deserialize_with = "null_as_default")]
    pub node_info: NodeInfo,
    /// Addresses, in the order the kubelet reported them.
    #[serde(deserialize_with = "null_as_default")]
    pub addresses: Vec<NodeAddress>,
    /// Conditions, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<NodeCondition>,
    /// Resource name → quantity string (`cpu: "4"`, `memory: "16Gi"`).
    #[serde(deserialize_with = "quantity_map")]
    pub capacity: BTreeMap<String, String>,
    /// Resource name → quantity string, what is left for pods.
    #[serde(deserialize_with = "quantity_map")]
    pub allocatable: BTreeMap<String, String>,
}

/// `status.nodeInfo`, lean. `kubeProxyVersion` is not read: KSM now reports it as `deprecated`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct NodeInfo {
    /// `uname -r`.
    pub kernel_version: Option<String>,
    /// OS image name.
    pub os_image: Option<String>,
    /// `<runtime>://<version>`.
    pub container_runtime_version: Option<String>,
    /// Kubelet version.
    pub kubelet_version: Option<String>,
    /// SMBIOS system UUID.
    #[serde(rename = "systemUUID")]
    pub system_uuid: Option<String>,
}

/// One `status.addresses[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct NodeAddress {
    /// `InternalIP`, `ExternalIP`, `Hostname`, …
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// The address itself.
    pub address: Option<String>,
}

/// One `status.conditions[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct NodeCondition {
    /// `Ready`, `MemoryPressure`, or any third-party type.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
}

// ===== family table =====

/// The node kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `nodeMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<Node> = Kind {
    resource: "nodes",
    api: ApiType::new("", "v1", "Node", "nodes"),
    scope: Scope::NodeSelf,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::node::Node>),
    identity,
    families: &[
        Family::experimental(
            "kube_node_annotations",
            "Node annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_node_created",
            "Unix time (seconds) at which the node object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_node_deletion_timestamp",
            "Unix time (seconds) at which the node object was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
        Family::stable(
            "kube_node_info",
            "Node facts as labels: versions, provider ID, pod CIDR, system UUID, internal IP.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_node_labels",
            "Node labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_node_role",
            "One series per role given to the node by a node-role.kubernetes.io/<role> label.",
            MetricType::Gauge,
            role,
        ),
        Family::experimental(
            "kube_node_spec_pod_cidrs",
            "One series per pod IP range assigned to the node (spec.podCIDRs).",
            MetricType::Gauge,
            spec_pod_cidrs,
        ),
        Family::stable(
            "kube_node_spec_taint",
            "One series per taint set on the node.",
            MetricType::Gauge,
            spec_taint,
        ),
        Family::stable(
            "kube_node_spec_unschedulable",
            "1 when the node is cordoned and accepts no new pods, else 0.",
            MetricType::Gauge,
            spec_unschedulable,
        ),
        Family::stable(
            "kube_node_status_allocatable",
            "Resources of the node that the scheduler may hand out to pods, per resource and unit.",
            MetricType::Gauge,
            status_allocatable,
        ),
        Family::stable(
            "kube_node_status_capacity",
            "Total resources of the node, per resource and unit.",
            MetricType::Gauge,
            status_capacity,
        ),
        Family::stable(
            "kube_node_status_condition",
            "Status of each node condition, one series per possible status.",
            MetricType::Gauge,
            status_condition,
        ),
        Family::experimental(
            "kube_node_status_addresses",
            "One series per address the node reports.",
            MetricType::Gauge,
            status_addresses,
        ),
    ],
};

/// `node`, like `wrapNodeFunc`.
fn identity(n: &Node) -> Identity {
    Identity::new([("node", n.metadata.name.as_deref().unwrap_or(""))])
}

// ===== family functions =====

/// `createNodeInfoFamilyGenerator`: `kubeproxy_version` is KSM's constant `deprecated` (KEP-4004).
fn info(n: &Node, out: &mut Series<'_>) {
    let ni = &n.status.node_info;
    let s = |v: &Option<String>| v.as_deref().unwrap_or("").to_owned();
    // KSM's loop has no `break`: with several InternalIPs (dual stack) the last one wins.
    let internal_ip = n
        .status
        .addresses
        .iter()
        .rev()
        .find(|a| a.type_.as_deref() == Some("InternalIP"))
        .and_then(|a| a.address.clone())
        .unwrap_or_default();
    out.sample(
        [
            ("kernel_version", s(&ni.kernel_version)),
            ("os_image", s(&ni.os_image)),
            (
                "container_runtime_version",
                s(&ni.container_runtime_version),
            ),
            ("kubelet_version", s(&ni.kubelet_version)),
            ("kubeproxy_version", "deprecated".to_owned()),
            ("provider_id", s(&n.spec.provider_id)),
            ("pod_cidr", s(&n.spec.pod_cidr)),
            ("system_uuid", s(&ni.system_uuid)),
            ("internal_ip", internal_ip),
        ],
        1.0,
    );
}

/// `createNodeRoleFamilyGenerator`, in label-key order where KSM follows Go's map order.
fn role(n: &Node, out: &mut Series<'_>) {
    const PREFIX: &str = "node-role.kubernetes.io/";
    for key in n.metadata.labels.iter().flat_map(BTreeMap::keys) {
        if let Some(role) = key.strip_prefix(PREFIX) {
            out.sample([("role", role)], 1.0);
        }
    }
}

/// KSM's `kube_node_spec_pod_cidrs` generator (PR #3011; not in our stored copy of node.go).
fn spec_pod_cidrs(n: &Node, out: &mut Series<'_>) {
    for cidr in &n.spec.pod_cidrs {
        out.sample([("pod_cidr", cidr.as_str())], 1.0);
    }
}

/// `createNodeSpecTaintFamilyGenerator`: `key`, `value`, `effect`, in spec order.
fn spec_taint(n: &Node, out: &mut Series<'_>) {
    for t in &n.spec.taints {
        out.sample(
            [
                ("key", t.key.as_deref().unwrap_or("")),
                ("value", t.value.as_deref().unwrap_or("")),
                ("effect", t.effect.as_deref().unwrap_or("")),
            ],
            1.0,
        );
    }
}

/// `createNodeSpecUnschedulableFamilyGenerator`: always one sample.
fn spec_unschedulable(n: &Node, out: &mut Series<'_>) {
    out.value(bool_value(n.spec.unschedulable.unwrap_or(false)));
}

/// `createNodeStatusAllocatableFamilyGenerator`, in resource-name order (see `resource_samples`).
fn status_allocatable(n: &Node, out: &mut Series<'_>) {
    resource_samples(&n.status.allocatable, out);
}

/// `createNodeStatusCapacityFamilyGenerator`, in resource-name order (see `resource_samples`).
fn status_capacity(n: &Node, out: &mut Series<'_>) {
    resource_samples(&n.status.capacity, out);
}

/// `createNodeStatusConditionFamilyGenerator`: three samples per condition, in status order.
fn status_condition(n: &Node, out: &mut Series<'_>) {
    for c in &n.status.conditions {
        condition_samples(
            out,
            &[("condition", c.type_.as_deref().unwrap_or(""))],
            c.status.as_deref().unwrap_or(""),
        );
    }
}

/// `createNodeStateAddressFamilyGenerator`: `type`, `address`, in status order.
fn status_addresses(n: &Node, out: &mut Series<'_>) {
    for a in &n.status.addresses {
        out.sample(
            [
                ("type", a.type_.as_deref().unwrap_or("")),
                ("address", a.address.as_deref().unwrap_or("")),
            ],
            1.0,
        );
    }
}

// ===== helpers =====

/// The `resource`/`unit` split shared by capacity and allocatable, as node.go's switch has it:
/// `cpu` → `core`; `storage`, `ephemeral-storage`, `memory` → `byte`; `pods` → `integer`;
/// otherwise hugepages → `byte`, attachable volumes → `byte`, extended resources → `integer`
/// (tested one by one, as KSM does); anything else is not exported.
///
/// Resources come in name order where KSM follows Go's map order. An unparsable quantity skips
/// that resource only: KSM cannot decode such a Node at all, so it has no rows to match.
fn resource_samples(list: &BTreeMap<String, String>, out: &mut Series<'_>) {
    for (name, raw) in list {
        let Some(q) = Quantity::parse(raw) else {
            continue;
        };
        let value = convert_value_to_float64(&q);
        let resource = sanitize_label_name(name);
        let mut emit =
            |unit: &str| out.sample([("resource", resource.as_str()), ("unit", unit)], value);
        match name.as_str() {
            "cpu" => emit("core"),
            "storage" | "ephemeral-storage" | "memory" => emit("byte"),
            "pods" => emit("integer"),
            _ => {
                if is_huge_page(name) {
                    emit("byte");
                }
                if is_attachable_volume(name) {
                    emit("byte");
                }
                if is_extended_resource(name) {
                    emit("integer");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyAllowlist;
    use crate::exposition::RenderContext;

    fn render(node: &Node, ctx: &RenderContext, f: fn(&Node, &mut Series<'_>)) -> String {
        let ident = identity(node);
        let mut buf = Vec::new();
        f(node, &mut Series::new(&mut buf, "m", &ident, ctx));
        String::from_utf8(buf).unwrap()
    }

    fn node(json: &str) -> Node {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn info_takes_the_last_internal_ip_and_a_constant_kubeproxy_version() {
        let n = node(
            r#"{"metadata":{"name":"n1"},"status":{"nodeInfo":{"kubeProxyVersion":"v1"},
            "addresses":[{"type":"InternalIP","address":"10.0.0.1"},
                         {"type":"Hostname","address":"n1"},
                         {"type":"InternalIP","address":"fd00::1"}]}}"#,
        );
        let got = render(&n, &RenderContext::default(), info);
        assert_eq!(
            got,
            "m{node=\"n1\",kernel_version=\"\",os_image=\"\",container_runtime_version=\"\",\
             kubelet_version=\"\",kubeproxy_version=\"deprecated\",provider_id=\"\",pod_cidr=\"\",\
             system_uuid=\"\",internal_ip=\"fd00::1\"} 1\n"
        );
    }

    #[test]
    fn labels_and_annotations_render_nothing_without_an_allowlist_and_one_bare_sample_with_one() {
        let n = node(r#"{"metadata":{"name":"n1","labels":{"a":"1"}}}"#);
        assert_eq!(render(&n, &RenderContext::default(), metadata::labels), "");
        assert_eq!(render(&n, &RenderContext::default(), metadata::annotations), "");
        let ctx = RenderContext {
            labels: KeyAllowlist::all(),
            annotations: KeyAllowlist::all(),
        };
        assert_eq!(render(&n, &ctx, metadata::labels), "m{node=\"n1\",label_a=\"1\"} 1\n");
        assert_eq!(render(&n, &ctx, metadata::annotations), "m{node=\"n1\"} 1\n");
    }

    #[test]
    fn resources_are_split_by_kind_and_unknown_or_unparsable_ones_are_skipped() {
        let n = node(
            r#"{"status":{"capacity":{"cpu":"250m","kubernetes.io/foo":"1","example.com/dev":"2",
            "attachable-volumes-aws-ebs":"25","hugepages-1Gi":"0","pods":"x"}}}"#,
        );
        assert_eq!(
            render(&n, &RenderContext::default(), status_capacity),
            "m{node=\"\",resource=\"attachable_volumes_aws_ebs\",unit=\"byte\"} 25\n\
             m{node=\"\",resource=\"cpu\",unit=\"core\"} 0.25\n\
             m{node=\"\",resource=\"example_com_dev\",unit=\"integer\"} 2\n\
             m{node=\"\",resource=\"hugepages_1Gi\",unit=\"byte\"} 0\n"
        );
    }

    #[test]
    fn a_node_with_only_name_and_uid_decodes_and_renders_defaults() {
        let n = node(r#"{"metadata":{"name":"n1","uid":"u"}}"#);
        assert_eq!(
            render(&n, &RenderContext::default(), spec_unschedulable),
            "m{node=\"n1\"} 0\n"
        );
        assert_eq!(render(&n, &RenderContext::default(), status_condition), "");
        assert_eq!(render(&n, &RenderContext::default(), metadata::created), "");
    }

    #[test]
    fn null_collections_and_numeric_quantities_decode() {
        let n = node(
            r#"{"spec":{"taints":null,"podCIDRs":null},"status":{"nodeInfo":null,
            "addresses":null,"conditions":null,"allocatable":null,
            "capacity":{"pods":110,"cpu":1.5}}}"#,
        );
        assert_eq!(
            render(&n, &RenderContext::default(), status_capacity),
            "m{node=\"\",resource=\"cpu\",unit=\"core\"} 1.5\n\
             m{node=\"\",resource=\"pods\",unit=\"integer\"} 110\n"
        );
        assert_eq!(render(&n, &RenderContext::default(), spec_taint), "");
    }

    #[test]
    fn go_zero_timestamps_are_treated_as_unset() {
        let n = node(
            r#"{"metadata":{"creationTimestamp":"0001-01-01T00:00:00Z",
            "deletionTimestamp":"0001-01-01T00:00:00Z"}}"#,
        );
        assert_eq!(render(&n, &RenderContext::default(), metadata::created), "");
        assert_eq!(
            render(&n, &RenderContext::default(), metadata::deletion_timestamp),
            ""
        );
    }
}
