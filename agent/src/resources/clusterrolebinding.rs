//! ClusterRoleBindings (`rbac.authorization.k8s.io/v1/ClusterRoleBinding`), scope
//! [`Scope::Cluster`]: watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/clusterrolebinding.go` (`clusterRoleBindingMetricFamilies`), family by family,
//! in the same order.
//!
//! Every family is a pure function of one decoded [`ClusterRoleBinding`]; the identity label
//! `clusterrolebinding` is put in front by the writer, as `wrapClusterRoleBindingFunc` does. See
//! [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::rbac::{RoleRef, role_ref_info_sample};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ClusterRoleBinding that the families read; the subjects are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ClusterRoleBinding {
    /// Identity, labels, annotations, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// The role granted.
    #[serde(deserialize_with = "null_as_default")]
    pub role_ref: RoleRef,
}
crate::impl_object!(ClusterRoleBinding => KIND);

// ===== family table =====

/// The clusterrolebinding kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `clusterRoleBindingMetricFamilies` order: it is
/// the exposition order.
pub static KIND: Kind<ClusterRoleBinding> = Kind {
    resource: "clusterrolebindings",
    api: ApiType::new("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::clusterrolebinding::ClusterRoleBinding>),
    identity,
    families: &[
        Family::experimental(
            "kube_clusterrolebinding_annotations",
            "Cluster role binding annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_clusterrolebinding_labels",
            "Cluster role binding labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_clusterrolebinding_info",
            "The cluster role binding, with the role it grants.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_clusterrolebinding_created",
            "Unix time (seconds) at which the cluster role binding object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_clusterrolebinding_metadata_resource_version",
            "The cluster role binding object's resource version, as a number.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
    ],
};

/// `clusterrolebinding`, like `wrapClusterRoleBindingFunc`.
fn identity(r: &ClusterRoleBinding) -> Identity {
    Identity::new([(
        "clusterrolebinding",
        r.metadata.name.as_deref().unwrap_or(""),
    )])
}

// ===== family functions =====

/// `kube_clusterrolebinding_info` in `clusterRoleBindingMetricFamilies`: one sample with
/// `roleref_kind`, `roleref_name`.
fn info(r: &ClusterRoleBinding, out: &mut Series<'_>) {
    role_ref_info_sample(out, &r.role_ref);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(r: &ClusterRoleBinding, f: fn(&ClusterRoleBinding, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(r, identity(r), &RenderContext::default(), f)
    }

    #[test]
    fn a_non_numeric_resource_version_gives_no_sample() {
        let r: ClusterRoleBinding = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"abcdef"}}"#,
        )
        .unwrap();
        assert_eq!(render(&r, metadata::resource_version), "");
        let r: ClusterRoleBinding = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"123456"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&r, metadata::resource_version),
            "m{clusterrolebinding=\"r\"} 123456\n"
        );
    }

    #[test]
    fn info_carries_the_role_ref_and_empty_values_when_it_is_missing() {
        let r: ClusterRoleBinding = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns"},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&r, info),
            "m{clusterrolebinding=\"r\",roleref_kind=\"ClusterRole\",roleref_name=\"view\"} 1\n"
        );
        let bare: ClusterRoleBinding =
            serde_json::from_str(r#"{"metadata":{"name":"r","namespace":"ns"},"roleRef":null}"#)
                .unwrap();
        assert_eq!(
            render(&bare, info),
            "m{clusterrolebinding=\"r\",roleref_kind=\"\",roleref_name=\"\"} 1\n"
        );
    }
}
