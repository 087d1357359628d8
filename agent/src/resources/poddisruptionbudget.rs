//! PodDisruptionBudgets (`policy/v1`), scope [`Scope::Namespaced`]: watched by the leader only.
//! Mirrors kube-state-metrics' `internal/store/poddisruptionbudget.go`
//! (`podDisruptionBudgetMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`PodDisruptionBudget`]; the identity labels
//! `namespace`, `poddisruptionbudget` are put in front by the writer, as
//! `wrapPodDisruptionBudgetFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a PodDisruptionBudget that the families read; the spec is not read.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct PodDisruptionBudget {
    /// Identity, labels, annotations, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: PdbStatus,
}
crate::impl_object!(PodDisruptionBudget => KIND);

/// `status`, lean. Plain integers in Go: absent reads as 0.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PdbStatus {
    /// Healthy pods now.
    #[serde(deserialize_with = "null_as_default")]
    pub current_healthy: i32,
    /// Fewest healthy pods the budget allows.
    #[serde(deserialize_with = "null_as_default")]
    pub desired_healthy: i32,
    /// Evictions currently allowed.
    #[serde(deserialize_with = "null_as_default")]
    pub disruptions_allowed: i32,
    /// Pods the budget counts.
    #[serde(deserialize_with = "null_as_default")]
    pub expected_pods: i32,
    /// The generation the disruption controller last acted on.
    #[serde(deserialize_with = "null_as_default")]
    pub observed_generation: i64,
}

// ===== family table =====

/// The poddisruptionbudget kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `podDisruptionBudgetMetricFamilies` order:
/// it is the exposition order.
pub static KIND: Kind<PodDisruptionBudget> = Kind {
    resource: "poddisruptionbudgets",
    api: ApiType::new("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::poddisruptionbudget::PodDisruptionBudget>),
    identity,
    families: &[
        Family::experimental(
            "kube_poddisruptionbudget_annotations",
            "Budget annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_poddisruptionbudget_labels",
            "Budget labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_poddisruptionbudget_created",
            "Unix time (seconds) at which the budget object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_poddisruptionbudget_status_current_healthy",
            "Pods covered by the budget that are healthy now.",
            MetricType::Gauge,
            status_current_healthy,
        ),
        Family::stable(
            "kube_poddisruptionbudget_status_desired_healthy",
            "Fewest healthy pods the budget lets voluntary disruptions leave.",
            MetricType::Gauge,
            status_desired_healthy,
        ),
        Family::stable(
            "kube_poddisruptionbudget_status_pod_disruptions_allowed",
            "Pod evictions the budget currently allows.",
            MetricType::Gauge,
            status_pod_disruptions_allowed,
        ),
        Family::stable(
            "kube_poddisruptionbudget_status_expected_pods",
            "Pods the budget counts.",
            MetricType::Gauge,
            status_expected_pods,
        ),
        Family::stable(
            "kube_poddisruptionbudget_status_observed_generation",
            "Generation of the budget that the disruption controller last acted on.",
            MetricType::Gauge,
            status_observed_generation,
        ),
        Family::experimental(
            "kube_poddisruptionbudget_deletion_timestamp",
            "Unix time (seconds) at which the budget object was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
    ],
};

/// `namespace`, `poddisruptionbudget`, like `wrapPodDisruptionBudgetFunc`.
fn identity(p: &PodDisruptionBudget) -> Identity {
    Identity::new([
        ("namespace", p.metadata.namespace.as_deref().unwrap_or("")),
        (
            "poddisruptionbudget",
            p.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// The `kube_poddisruptionbudget_status_current_healthy` generator: always one sample.
fn status_current_healthy(p: &PodDisruptionBudget, out: &mut Series<'_>) {
    out.value(f64::from(p.status.current_healthy));
}

/// The `kube_poddisruptionbudget_status_desired_healthy` generator: always one sample.
fn status_desired_healthy(p: &PodDisruptionBudget, out: &mut Series<'_>) {
    out.value(f64::from(p.status.desired_healthy));
}

/// The `kube_poddisruptionbudget_status_pod_disruptions_allowed` generator: always one sample.
fn status_pod_disruptions_allowed(p: &PodDisruptionBudget, out: &mut Series<'_>) {
    out.value(f64::from(p.status.disruptions_allowed));
}

/// The `kube_poddisruptionbudget_status_expected_pods` generator: always one sample.
fn status_expected_pods(p: &PodDisruptionBudget, out: &mut Series<'_>) {
    out.value(f64::from(p.status.expected_pods));
}

/// The `kube_poddisruptionbudget_status_observed_generation` generator: always one sample.
fn status_observed_generation(p: &PodDisruptionBudget, out: &mut Series<'_>) {
    #[allow(
        clippy::cast_precision_loss,
        reason = "float64(int64) as KSM converts it"
    )]
    out.value(p.status.observed_generation as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(p: &PodDisruptionBudget, f: fn(&PodDisruptionBudget, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(p, identity(p), &RenderContext::default(), f)
    }

    #[test]
    fn missing_or_null_status_counts_read_as_zero() {
        let p: PodDisruptionBudget = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"ns"},"status":{"currentHealthy":null}}"#,
        )
        .unwrap();
        for f in [
            status_current_healthy,
            status_desired_healthy,
            status_pod_disruptions_allowed,
            status_expected_pods,
            status_observed_generation,
        ] {
            assert_eq!(
                render(&p, f),
                "m{namespace=\"ns\",poddisruptionbudget=\"p\"} 0\n"
            );
        }
        assert_eq!(render(&p, metadata::created), "");
        assert_eq!(render(&p, metadata::deletion_timestamp), "");
    }
}
