//! ClusterRoles (`rbac.authorization.k8s.io/v1/ClusterRole`), scope [`Scope::Cluster`]: watched by
//! the leader. Mirrors kube-state-metrics' `internal/store/clusterrole.go`
//! (`clusterRoleMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ClusterRole`]; the identity label `clusterrole`
//! is put in front by the writer, as `wrapClusterRoleFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{
    annotations_sample, labels_sample, nonzero_timestamp_sample, resource_version_sample,
};
use super::{Family, Kind, Scope};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ClusterRole that the families read; the rules are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ClusterRole {
    /// Identity, labels, annotations, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
}
crate::impl_object!(
    ClusterRole,
    group = "rbac.authorization.k8s.io",
    version = "v1",
    kind = "ClusterRole",
    plural = "clusterroles"
);

// ===== family table =====

/// The clusterrole kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `clusterRoleMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<ClusterRole> = Kind {
    resource: "clusterroles",
    scope: Scope::Cluster,
    identity,
    families: &[
        Family::experimental(
            "kube_clusterrole_annotations",
            "Cluster role annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            annotations,
        ),
        Family::experimental(
            "kube_clusterrole_labels",
            "Cluster role labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            labels,
        ),
        Family::experimental(
            "kube_clusterrole_info",
            "One series per cluster role.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_clusterrole_created",
            "Unix time (seconds) at which the cluster role object was created.",
            MetricType::Gauge,
            created,
        ),
        Family::experimental(
            "kube_clusterrole_metadata_resource_version",
            "The cluster role object's resource version, as a number.",
            MetricType::Gauge,
            metadata_resource_version,
        ),
    ],
};

/// `clusterrole`, like `wrapClusterRoleFunc`.
fn identity(r: &ClusterRole) -> Identity {
    Identity::new([("clusterrole", r.metadata.name.as_deref().unwrap_or(""))])
}

// ===== family functions =====

/// `kube_clusterrole_annotations`: nothing when the allowlist is empty, else one sample.
fn annotations(r: &ClusterRole, out: &mut Series<'_>) {
    annotations_sample(out, r.metadata.annotations.as_ref());
}

/// `kube_clusterrole_labels`: nothing when the allowlist is empty, else one sample.
fn labels(r: &ClusterRole, out: &mut Series<'_>) {
    labels_sample(out, r.metadata.labels.as_ref());
}

/// `kube_clusterrole_info` in `clusterRoleMetricFamilies`: one sample with no labels of its own.
fn info(_: &ClusterRole, out: &mut Series<'_>) {
    out.value(1.0);
}

/// `kube_clusterrole_created`: nothing when unset (Go's zero time).
fn created(r: &ClusterRole, out: &mut Series<'_>) {
    nonzero_timestamp_sample(out, r.metadata.creation_timestamp.as_ref());
}

/// `kube_clusterrole_metadata_resource_version` (`resourceVersionMetric`): nothing when the
/// resource version is not a number.
fn metadata_resource_version(r: &ClusterRole, out: &mut Series<'_>) {
    resource_version_sample(out, r.metadata.resource_version.as_deref());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(r: &ClusterRole, f: fn(&ClusterRole, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(r, identity(r), &RenderContext::default(), f)
    }

    #[test]
    fn a_non_numeric_resource_version_gives_no_sample() {
        let r: ClusterRole = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"abcdef"}}"#,
        )
        .unwrap();
        assert_eq!(render(&r, metadata_resource_version), "");
        let r: ClusterRole = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"123456"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&r, metadata_resource_version),
            "m{clusterrole=\"r\"} 123456\n"
        );
    }
}
