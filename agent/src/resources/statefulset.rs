//! StatefulSets (`apps/v1/StatefulSet`), scope [`Scope::Namespaced`]: watched by the leader
//! only. Mirrors kube-state-metrics' `internal/store/statefulset.go`
//! (`statefulSetMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`StatefulSet`]; the identity labels
//! `namespace`, `statefulset` are put in front by the writer, as `wrapStatefulSetFunc` does. See
//! [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a StatefulSet that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct StatefulSet {
    /// Identity, labels, annotations, generation, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: StatefulSetSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: StatefulSetStatus,
}
crate::impl_object!(StatefulSet => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StatefulSetSpec {
    /// Desired pods; the apiserver defaults it to 1.
    pub replicas: Option<i64>,
    /// Where pod ordinals start; unset means 0 and gives no `ordinals_start` sample.
    pub ordinals: Option<StatefulSetOrdinals>,
    /// What happens to the template's claims on deletion and scale-down.
    pub persistent_volume_claim_retention_policy: Option<PvcRetentionPolicy>,
}

/// `spec.ordinals`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct StatefulSetOrdinals {
    /// The first ordinal; 0 when absent.
    #[serde(deserialize_with = "null_as_default")]
    pub start: i64,
}

/// `spec.persistentVolumeClaimRetentionPolicy`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PvcRetentionPolicy {
    /// `Retain` or `Delete`.
    pub when_deleted: Option<String>,
    /// `Retain` or `Delete`.
    pub when_scaled: Option<String>,
}

/// `status`, lean. Counters and revisions absent from the object read as 0 and `""`, as Go's
/// zero values.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct StatefulSetStatus {
    /// Pods created by the controller.
    #[serde(deserialize_with = "null_as_default")]
    pub replicas: i64,
    /// Pods ready for at least `minReadySeconds`.
    #[serde(deserialize_with = "null_as_default")]
    pub available_replicas: i64,
    /// Pods at `currentRevision`.
    #[serde(deserialize_with = "null_as_default")]
    pub current_replicas: i64,
    /// Ready pods.
    #[serde(deserialize_with = "null_as_default")]
    pub ready_replicas: i64,
    /// Pods at `updateRevision`.
    #[serde(deserialize_with = "null_as_default")]
    pub updated_replicas: i64,
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "null_as_default")]
    pub observed_generation: i64,
    /// The revision of the pods in `[0, currentReplicas)`.
    #[serde(deserialize_with = "null_as_default")]
    pub current_revision: String,
    /// The revision of the pods in `[replicas - updatedReplicas, replicas)`.
    #[serde(deserialize_with = "null_as_default")]
    pub update_revision: String,
}

// ===== family table =====

/// The stateful set kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `statefulSetMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<StatefulSet> = Kind {
    resource: "statefulsets",
    api: ApiType::new("apps", "v1", "StatefulSet", "statefulsets"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::statefulset::StatefulSet>),
    identity,
    families: &[
        Family::stable(
            "kube_statefulset_created",
            "Unix time (seconds) at which the stateful set was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_statefulset_status_replicas",
            "Pods created by the stateful set's controller.",
            MetricType::Gauge,
            status_replicas,
        ),
        Family::stable(
            "kube_statefulset_status_replicas_available",
            "Pods of the stateful set that have been ready for at least minReadySeconds.",
            MetricType::Gauge,
            status_replicas_available,
        ),
        Family::stable(
            "kube_statefulset_status_replicas_current",
            "Pods of the stateful set running the current revision.",
            MetricType::Gauge,
            status_replicas_current,
        ),
        Family::stable(
            "kube_statefulset_status_replicas_ready",
            "Ready pods of the stateful set.",
            MetricType::Gauge,
            status_replicas_ready,
        ),
        Family::stable(
            "kube_statefulset_status_replicas_updated",
            "Pods of the stateful set running the update revision.",
            MetricType::Gauge,
            status_replicas_updated,
        ),
        Family::stable(
            "kube_statefulset_status_observed_generation",
            "The generation of the stateful set last acted on by its controller.",
            MetricType::Gauge,
            status_observed_generation,
        ),
        Family::stable(
            "kube_statefulset_replicas",
            "Desired number of pods of the stateful set.",
            MetricType::Gauge,
            replicas,
        ),
        Family::stable(
            "kube_statefulset_ordinals_start",
            "First pod ordinal of the stateful set, when spec.ordinals is set.",
            MetricType::Gauge,
            ordinals_start,
        ),
        Family::stable(
            "kube_statefulset_metadata_generation",
            "Sequence number of the stateful set's desired state (metadata.generation).",
            MetricType::Gauge,
            metadata::generation,
        ),
        Family::stable(
            "kube_statefulset_persistentvolumeclaim_retention_policy",
            "Retention policy of the stateful set's claim templates on deletion and on scale-down.",
            MetricType::Gauge,
            persistentvolumeclaim_retention_policy,
        ),
        Family::stable(
            "kube_statefulset_annotations",
            "Stateful set annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_statefulset_labels",
            "Stateful set labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_statefulset_status_current_revision",
            "The revision of the stateful set's pods in [0, currentReplicas), as a label.",
            MetricType::Gauge,
            status_current_revision,
        ),
        Family::stable(
            "kube_statefulset_status_update_revision",
            "The revision of the stateful set's pods in [replicas-updatedReplicas, replicas), as a label.",
            MetricType::Gauge,
            status_update_revision,
        ),
        Family::stable(
            "kube_statefulset_deletion_timestamp",
            "Unix time (seconds) at which the stateful set was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
    ],
};

/// `namespace`, `statefulset`, like `wrapStatefulSetFunc`.
fn identity(s: &StatefulSet) -> Identity {
    Identity::new([
        ("namespace", s.metadata.namespace.as_deref().unwrap_or("")),
        ("statefulset", s.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_statefulset_status_replicas`: `status.replicas`, 0 when unset.
fn status_replicas(s: &StatefulSet, out: &mut Series<'_>) {
    out.value(s.status.replicas as f64);
}

/// `kube_statefulset_status_replicas_available`.
fn status_replicas_available(s: &StatefulSet, out: &mut Series<'_>) {
    out.value(s.status.available_replicas as f64);
}

/// `kube_statefulset_status_replicas_current`.
fn status_replicas_current(s: &StatefulSet, out: &mut Series<'_>) {
    out.value(s.status.current_replicas as f64);
}

/// `kube_statefulset_status_replicas_ready`.
fn status_replicas_ready(s: &StatefulSet, out: &mut Series<'_>) {
    out.value(s.status.ready_replicas as f64);
}

/// `kube_statefulset_status_replicas_updated`.
fn status_replicas_updated(s: &StatefulSet, out: &mut Series<'_>) {
    out.value(s.status.updated_replicas as f64);
}

/// `kube_statefulset_status_observed_generation`.
fn status_observed_generation(s: &StatefulSet, out: &mut Series<'_>) {
    out.value(s.status.observed_generation as f64);
}

/// `kube_statefulset_replicas`: nothing when `spec.replicas` is unset.
fn replicas(s: &StatefulSet, out: &mut Series<'_>) {
    if let Some(n) = s.spec.replicas {
        out.value(n as f64);
    }
}

/// `kube_statefulset_ordinals_start`: nothing when `spec.ordinals` is unset; `start` (0 when
/// absent) otherwise.
fn ordinals_start(s: &StatefulSet, out: &mut Series<'_>) {
    if let Some(o) = &s.spec.ordinals {
        out.value(o.start as f64);
    }
}

/// `kube_statefulset_persistentvolumeclaim_retention_policy`: `when_deleted`, `when_scaled`;
/// nothing when the policy is unset or both of its fields are empty.
fn persistentvolumeclaim_retention_policy(s: &StatefulSet, out: &mut Series<'_>) {
    let Some(p) = &s.spec.persistent_volume_claim_retention_policy else {
        return;
    };
    let deleted = p.when_deleted.as_deref().unwrap_or("");
    let scaled = p.when_scaled.as_deref().unwrap_or("");
    if !deleted.is_empty() || !scaled.is_empty() {
        out.sample([("when_deleted", deleted), ("when_scaled", scaled)], 1.0);
    }
}

/// `kube_statefulset_status_current_revision`: always one sample, `revision` empty when unset.
fn status_current_revision(s: &StatefulSet, out: &mut Series<'_>) {
    out.sample([("revision", s.status.current_revision.as_str())], 1.0);
}

/// `kube_statefulset_status_update_revision`: always one sample, `revision` empty when unset.
fn status_update_revision(s: &StatefulSet, out: &mut Series<'_>) {
    out.sample([("revision", s.status.update_revision.as_str())], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(s: &StatefulSet, f: fn(&StatefulSet, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(s, identity(s), &RenderContext::default(), f)
    }

    fn statefulset(json: &str) -> StatefulSet {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn retention_policy_needs_one_non_empty_field() {
        let unset = statefulset(r#"{"spec":{}}"#);
        assert_eq!(render(&unset, persistentvolumeclaim_retention_policy), "");
        let empty = statefulset(r#"{"spec":{"persistentVolumeClaimRetentionPolicy":{}}}"#);
        assert_eq!(render(&empty, persistentvolumeclaim_retention_policy), "");
        let half = statefulset(
            r#"{"spec":{"persistentVolumeClaimRetentionPolicy":{"whenScaled":"Delete"}}}"#,
        );
        assert_eq!(
            render(&half, persistentvolumeclaim_retention_policy),
            "m{namespace=\"\",statefulset=\"\",when_deleted=\"\",when_scaled=\"Delete\"} 1\n"
        );
    }

    #[test]
    fn ordinals_start_is_reported_only_when_ordinals_is_set() {
        assert_eq!(render(&statefulset(r#"{"spec":{}}"#), ordinals_start), "");
        assert_eq!(
            render(&statefulset(r#"{"spec":{"ordinals":{}}}"#), ordinals_start),
            "m{namespace=\"\",statefulset=\"\"} 0\n"
        );
        assert_eq!(
            render(
                &statefulset(r#"{"spec":{"ordinals":{"start":3}}}"#),
                ordinals_start
            ),
            "m{namespace=\"\",statefulset=\"\"} 3\n"
        );
    }

    #[test]
    fn revisions_are_always_reported_even_when_empty() {
        let s = statefulset(r#"{"metadata":{"name":"db","namespace":"n"},"status":null}"#);
        assert_eq!(
            render(&s, status_current_revision),
            "m{namespace=\"n\",statefulset=\"db\",revision=\"\"} 1\n"
        );
        assert_eq!(render(&s, replicas), "");
    }
}
