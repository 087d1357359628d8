//! DaemonSets (`apps/v1/DaemonSet`), scope [`Scope::Namespaced`]: watched by the leader only.
//! Mirrors kube-state-metrics' `internal/store/daemonset.go` (`daemonSetMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`DaemonSet`]; the identity labels
//! `namespace`, `daemonset` are put in front by the writer, as `wrapDaemonSetFunc` does. See
//! [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a DaemonSet that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct DaemonSet {
    /// Identity, labels, annotations, generation, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `status`, lean. No family reads `spec`.
    #[serde(deserialize_with = "null_as_default")]
    pub status: DaemonSetStatus,
}
crate::impl_object!(DaemonSet => KIND);

/// `status`, lean. Counters absent from the object read as 0, as Go's zero value.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DaemonSetStatus {
    /// Nodes running at least one daemon pod that should.
    #[serde(deserialize_with = "null_as_default")]
    pub current_number_scheduled: i64,
    /// Nodes that should run the daemon pod.
    #[serde(deserialize_with = "null_as_default")]
    pub desired_number_scheduled: i64,
    /// Nodes that should run the daemon pod and have one available.
    #[serde(deserialize_with = "null_as_default")]
    pub number_available: i64,
    /// Nodes running the daemon pod that should not.
    #[serde(deserialize_with = "null_as_default")]
    pub number_misscheduled: i64,
    /// Nodes that should run the daemon pod and have one ready.
    #[serde(deserialize_with = "null_as_default")]
    pub number_ready: i64,
    /// Nodes that should run the daemon pod and have none available.
    #[serde(deserialize_with = "null_as_default")]
    pub number_unavailable: i64,
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "null_as_default")]
    pub observed_generation: i64,
    /// Nodes running the updated daemon pod.
    #[serde(deserialize_with = "null_as_default")]
    pub updated_number_scheduled: i64,
}

// ===== family table =====

/// The daemon set kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `daemonSetMetricFamilies` order: it is the
/// exposition order. `kube_daemonset_deletion_timestamp` is not in our stored copy of
/// daemonset.go; it sits last, as the deletion-timestamp families of the other workload kinds.
pub static KIND: Kind<DaemonSet> = Kind {
    resource: "daemonsets",
    api: ApiType::new("apps", "v1", "DaemonSet", "daemonsets"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::daemonset::DaemonSet>),
    identity,
    families: &[
        Family::stable(
            "kube_daemonset_created",
            "Unix time (seconds) at which the daemon set was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_daemonset_status_current_number_scheduled",
            "Nodes that run at least one daemon pod and are supposed to.",
            MetricType::Gauge,
            status_current_number_scheduled,
        ),
        Family::stable(
            "kube_daemonset_status_desired_number_scheduled",
            "Nodes that are supposed to run the daemon pod.",
            MetricType::Gauge,
            status_desired_number_scheduled,
        ),
        Family::stable(
            "kube_daemonset_status_number_available",
            "Nodes that are supposed to run the daemon pod and have at least one available.",
            MetricType::Gauge,
            status_number_available,
        ),
        Family::stable(
            "kube_daemonset_status_number_misscheduled",
            "Nodes that run a daemon pod but are not supposed to.",
            MetricType::Gauge,
            status_number_misscheduled,
        ),
        Family::stable(
            "kube_daemonset_status_number_ready",
            "Nodes that are supposed to run the daemon pod and have at least one ready.",
            MetricType::Gauge,
            status_number_ready,
        ),
        Family::stable(
            "kube_daemonset_status_number_unavailable",
            "Nodes that are supposed to run the daemon pod and have none available.",
            MetricType::Gauge,
            status_number_unavailable,
        ),
        Family::stable(
            "kube_daemonset_status_observed_generation",
            "The generation of the daemon set last acted on by its controller.",
            MetricType::Gauge,
            status_observed_generation,
        ),
        Family::stable(
            "kube_daemonset_status_updated_number_scheduled",
            "Nodes that run the updated daemon pod.",
            MetricType::Gauge,
            status_updated_number_scheduled,
        ),
        Family::stable(
            "kube_daemonset_metadata_generation",
            "Sequence number of the daemon set's desired state (metadata.generation).",
            MetricType::Gauge,
            metadata::generation,
        ),
        Family::experimental(
            "kube_daemonset_annotations",
            "Daemon set annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_daemonset_labels",
            "Daemon set labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_daemonset_deletion_timestamp",
            "Unix time (seconds) at which the daemon set was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
    ],
};

/// `namespace`, `daemonset`, like `wrapDaemonSetFunc`.
fn identity(d: &DaemonSet) -> Identity {
    Identity::new([
        ("namespace", d.metadata.namespace.as_deref().unwrap_or("")),
        ("daemonset", d.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_daemonset_status_current_number_scheduled`: 0 when unset.
fn status_current_number_scheduled(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.current_number_scheduled as f64);
}

/// `kube_daemonset_status_desired_number_scheduled`.
fn status_desired_number_scheduled(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.desired_number_scheduled as f64);
}

/// `kube_daemonset_status_number_available`.
fn status_number_available(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.number_available as f64);
}

/// `kube_daemonset_status_number_misscheduled`.
fn status_number_misscheduled(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.number_misscheduled as f64);
}

/// `kube_daemonset_status_number_ready`.
fn status_number_ready(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.number_ready as f64);
}

/// `kube_daemonset_status_number_unavailable`.
fn status_number_unavailable(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.number_unavailable as f64);
}

/// `kube_daemonset_status_observed_generation`.
fn status_observed_generation(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.observed_generation as f64);
}

/// `kube_daemonset_status_updated_number_scheduled`.
fn status_updated_number_scheduled(d: &DaemonSet, out: &mut Series<'_>) {
    out.value(d.status.updated_number_scheduled as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(d: &DaemonSet, f: fn(&DaemonSet, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(d, identity(d), &RenderContext::default(), f)
    }

    #[test]
    fn absent_or_null_counters_read_as_zero() {
        let d: DaemonSet = serde_json::from_str(
            r#"{"metadata":{"name":"ds1","namespace":"ns1"},"status":{"numberReady":null}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&d, status_number_ready),
            "m{namespace=\"ns1\",daemonset=\"ds1\"} 0\n"
        );
        assert_eq!(
            render(&d, status_updated_number_scheduled),
            "m{namespace=\"ns1\",daemonset=\"ds1\"} 0\n"
        );
        assert_eq!(render(&d, metadata::deletion_timestamp), "");
    }
}
