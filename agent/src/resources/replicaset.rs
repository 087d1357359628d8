//! ReplicaSets (`apps/v1/ReplicaSet`), scope [`Scope::Namespaced`]: watched by the leader only.
//! Mirrors kube-state-metrics' `internal/store/replicaset.go` (`replicaSetMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ReplicaSet`]; the identity labels
//! `namespace`, `replicaset` are put in front by the writer, as `wrapReplicaSetFunc` does. See
//! [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ReplicaSet that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ReplicaSet {
    /// Identity, labels, annotations, owners, generation, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: ReplicaSetSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: ReplicaSetStatus,
}
crate::impl_object!(ReplicaSet => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ReplicaSetSpec {
    /// Desired pods; the apiserver defaults it to 1.
    pub replicas: Option<i64>,
}

/// `status`, lean. Counters absent from the object read as 0, as Go's zero value.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ReplicaSetStatus {
    /// Non-terminated pods owned by the replica set.
    #[serde(deserialize_with = "null_as_default")]
    pub replicas: i64,
    /// Pods whose labels match the pod template's.
    #[serde(deserialize_with = "null_as_default")]
    pub fully_labeled_replicas: i64,
    /// Ready pods.
    #[serde(deserialize_with = "null_as_default")]
    pub ready_replicas: i64,
    /// Pods being deleted; unset unless the apiserver's
    /// `DeploymentReplicaSetTerminatingReplicas` feature is on.
    pub terminating_replicas: Option<i64>,
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "null_as_default")]
    pub observed_generation: i64,
}

// ===== family table =====

/// The replica set kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `replicaSetMetricFamilies` order: it is the
/// exposition order. `kube_replicaset_status_terminating_replicas` (PR #2708) is not in our
/// stored copy of replicaset.go; it sits after `status_ready_replicas`, as in KSM v2.18's family
/// listing.
pub static KIND: Kind<ReplicaSet> = Kind {
    resource: "replicasets",
    api: ApiType::new("apps", "v1", "ReplicaSet", "replicasets"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::replicaset::ReplicaSet>),
    identity,
    families: &[
        Family::stable(
            "kube_replicaset_created",
            "Unix time (seconds) at which the replica set was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_replicaset_status_replicas",
            "Non-terminated pods owned by the replica set.",
            MetricType::Gauge,
            status_replicas,
        ),
        Family::stable(
            "kube_replicaset_status_fully_labeled_replicas",
            "Pods of the replica set whose labels match its pod template's.",
            MetricType::Gauge,
            status_fully_labeled_replicas,
        ),
        Family::stable(
            "kube_replicaset_status_ready_replicas",
            "Ready pods of the replica set.",
            MetricType::Gauge,
            status_ready_replicas,
        ),
        Family::experimental(
            "kube_replicaset_status_terminating_replicas",
            "Pods of the replica set that are being deleted, when the apiserver reports it.",
            MetricType::Gauge,
            status_terminating_replicas,
        ),
        Family::stable(
            "kube_replicaset_status_observed_generation",
            "The generation of the replica set last acted on by its controller.",
            MetricType::Gauge,
            status_observed_generation,
        ),
        Family::stable(
            "kube_replicaset_spec_replicas",
            "Desired number of pods of the replica set.",
            MetricType::Gauge,
            spec_replicas,
        ),
        Family::stable(
            "kube_replicaset_metadata_generation",
            "Sequence number of the replica set's desired state (metadata.generation).",
            MetricType::Gauge,
            metadata::generation,
        ),
        Family::stable(
            "kube_replicaset_owner",
            "One series per owner reference of the replica set (empty labels when it has none).",
            MetricType::Gauge,
            metadata::owners,
        ),
        Family::experimental(
            "kube_replicaset_annotations",
            "Replica set annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_replicaset_labels",
            "Replica set labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
    ],
};

/// `namespace`, `replicaset`, like `wrapReplicaSetFunc`.
fn identity(r: &ReplicaSet) -> Identity {
    Identity::new([
        ("namespace", r.metadata.namespace.as_deref().unwrap_or("")),
        ("replicaset", r.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_replicaset_status_replicas`: `status.replicas`, 0 when unset.
fn status_replicas(r: &ReplicaSet, out: &mut Series<'_>) {
    out.value(r.status.replicas as f64);
}

/// `kube_replicaset_status_fully_labeled_replicas`.
fn status_fully_labeled_replicas(r: &ReplicaSet, out: &mut Series<'_>) {
    out.value(r.status.fully_labeled_replicas as f64);
}

/// `kube_replicaset_status_ready_replicas`.
fn status_ready_replicas(r: &ReplicaSet, out: &mut Series<'_>) {
    out.value(r.status.ready_replicas as f64);
}

/// KSM's `kube_replicaset_status_terminating_replicas` generator (PR #2708; not in our stored
/// copy of replicaset.go): nothing while the pointer field is unset, like its deployment twin.
fn status_terminating_replicas(r: &ReplicaSet, out: &mut Series<'_>) {
    if let Some(n) = r.status.terminating_replicas {
        out.value(n as f64);
    }
}

/// `kube_replicaset_status_observed_generation`.
fn status_observed_generation(r: &ReplicaSet, out: &mut Series<'_>) {
    out.value(r.status.observed_generation as f64);
}

/// `kube_replicaset_spec_replicas`: nothing when `spec.replicas` is unset.
fn spec_replicas(r: &ReplicaSet, out: &mut Series<'_>) {
    if let Some(n) = r.spec.replicas {
        out.value(n as f64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyAllowlist;
    use crate::exposition::RenderContext;

    fn render(r: &ReplicaSet, ctx: &RenderContext, f: fn(&ReplicaSet, &mut Series<'_>)) -> String {
        let ident = identity(r);
        let mut buf = Vec::new();
        f(r, &mut Series::new(&mut buf, "m", &ident, ctx));
        String::from_utf8(buf).unwrap()
    }

    fn replica_set(json: &str) -> ReplicaSet {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn owners_report_controller_flag_and_empty_values_without_owners() {
        let ctx = RenderContext::default();
        let none = replica_set(r#"{"metadata":{"name":"rs2","namespace":"ns2"}}"#);
        assert_eq!(
            render(&none, &ctx, metadata::owners),
            "m{namespace=\"ns2\",replicaset=\"rs2\",owner_kind=\"\",owner_name=\"\",owner_is_controller=\"\"} 1\n"
        );
        let two = replica_set(
            r#"{"metadata":{"name":"rs1","namespace":"ns1","ownerReferences":[
            {"apiVersion":"apps/v1","kind":"Deployment","name":"dp-name","uid":"u1","controller":true},
            {"apiVersion":"v1","kind":"ConfigMap","name":"cm","uid":"u2"}]}}"#,
        );
        assert_eq!(
            render(&two, &ctx, metadata::owners),
            "m{namespace=\"ns1\",replicaset=\"rs1\",owner_kind=\"Deployment\",owner_name=\"dp-name\",owner_is_controller=\"true\"} 1\n\
             m{namespace=\"ns1\",replicaset=\"rs1\",owner_kind=\"ConfigMap\",owner_name=\"cm\",owner_is_controller=\"false\"} 1\n"
        );
    }

    #[test]
    fn spec_replicas_and_terminating_replicas_need_their_pointer_set() {
        let ctx = RenderContext::default();
        let bare =
            replica_set(r#"{"spec":{"replicas":null},"status":{"terminatingReplicas":null}}"#);
        assert_eq!(render(&bare, &ctx, spec_replicas), "");
        assert_eq!(render(&bare, &ctx, status_terminating_replicas), "");
        assert_eq!(
            render(&bare, &ctx, status_replicas),
            "m{namespace=\"\",replicaset=\"\"} 0\n"
        );
        let zero = replica_set(r#"{"spec":{"replicas":0},"status":{"terminatingReplicas":2}}"#);
        assert_eq!(
            render(&zero, &ctx, spec_replicas),
            "m{namespace=\"\",replicaset=\"\"} 0\n"
        );
        assert_eq!(
            render(&zero, &ctx, status_terminating_replicas),
            "m{namespace=\"\",replicaset=\"\"} 2\n"
        );
    }

    #[test]
    fn labels_and_annotations_follow_their_allowlists() {
        let r = replica_set(
            r#"{"metadata":{"name":"rs","namespace":"n","labels":{"app":"web"},
            "annotations":{"team":"core"}}}"#,
        );
        let none = RenderContext::default();
        assert_eq!(render(&r, &none, metadata::labels), "");
        assert_eq!(render(&r, &none, metadata::annotations), "");
        let all = RenderContext {
            labels: KeyAllowlist::all(),
            annotations: KeyAllowlist::all(),
        };
        assert_eq!(
            render(&r, &all, metadata::labels),
            "m{namespace=\"n\",replicaset=\"rs\",label_app=\"web\"} 1\n"
        );
        assert_eq!(
            render(&r, &all, metadata::annotations),
            "m{namespace=\"n\",replicaset=\"rs\",annotation_team=\"core\"} 1\n"
        );
    }
}
