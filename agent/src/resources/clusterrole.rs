//! ClusterRoles (`rbac.authorization.k8s.io/v1/ClusterRole`), scope [`Scope::Cluster`]: watched by
//! the leader. Mirrors kube-state-metrics' `internal/store/clusterrole.go`
//! (`clusterRoleMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ClusterRole`]; the identity label `clusterrole`
//! is put in front by the writer, as `wrapClusterRoleFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
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
crate::impl_object!(ClusterRole => KIND);

// ===== family table =====

/// The clusterrole kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `clusterRoleMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<ClusterRole> = Kind {
    resource: "clusterroles",
    api: ApiType::new("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::clusterrole::ClusterRole>),
    identity,
    families: &[
        Family::experimental(
            "kube_clusterrole_annotations",
            "Cluster role annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_clusterrole_labels",
            "Cluster role labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
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
            metadata::created,
        ),
        Family::experimental(
            "kube_clusterrole_metadata_resource_version",
            "The cluster role object's resource version, as a number.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
    ],
};

/// `clusterrole`, like `wrapClusterRoleFunc`.
fn identity(r: &ClusterRole) -> Identity {
    Identity::new([("clusterrole", r.metadata.name.as_deref().unwrap_or(""))])
}

// ===== family functions =====

/// `kube_clusterrole_info` in `clusterRoleMetricFamilies`: one sample with no labels of its own.
fn info(_: &ClusterRole, out: &mut Series<'_>) {
    out.value(1.0);
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
        assert_eq!(render(&r, metadata::resource_version), "");
        let r: ClusterRole = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"123456"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&r, metadata::resource_version),
            "m{clusterrole=\"r\"} 123456\n"
        );
    }
}
