//! RoleBindings (`rbac.authorization.k8s.io/v1/RoleBinding`), scope [`Scope::Namespaced`]: watched
//! by the leader. Mirrors kube-state-metrics' `internal/store/rolebinding.go`
//! (`roleBindingMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`RoleBinding`]; the identity labels `namespace`,
//! `rolebinding` are put in front by the writer, as `wrapRoleBindingFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::rbac::{RoleRef, role_ref_info_sample};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a RoleBinding that the families read; the subjects are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RoleBinding {
    /// Identity, labels, annotations, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// The role granted.
    #[serde(deserialize_with = "null_as_default")]
    pub role_ref: RoleRef,
}
crate::impl_object!(RoleBinding => KIND);

// ===== family table =====

/// The rolebinding kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `roleBindingMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<RoleBinding> = Kind {
    resource: "rolebindings",
    api: ApiType::new("rbac.authorization.k8s.io", "v1", "RoleBinding", "rolebindings"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::rolebinding::RoleBinding>),
    identity,
    families: &[
        Family::experimental(
            "kube_rolebinding_annotations",
            "Role binding annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_rolebinding_labels",
            "Role binding labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_rolebinding_info",
            "The role binding, with the role it grants.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_rolebinding_created",
            "Unix time (seconds) at which the role binding object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_rolebinding_metadata_resource_version",
            "The role binding object's resource version, as a number.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
    ],
};

/// `namespace`, `rolebinding`, like `wrapRoleBindingFunc`.
fn identity(r: &RoleBinding) -> Identity {
    Identity::new([
        ("namespace", r.metadata.namespace.as_deref().unwrap_or("")),
        ("rolebinding", r.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_rolebinding_info` in `roleBindingMetricFamilies`: one sample with `roleref_kind`,
/// `roleref_name`.
fn info(r: &RoleBinding, out: &mut Series<'_>) {
    role_ref_info_sample(out, &r.role_ref);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(r: &RoleBinding, f: fn(&RoleBinding, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(r, identity(r), &RenderContext::default(), f)
    }

    #[test]
    fn a_non_numeric_resource_version_gives_no_sample() {
        let r: RoleBinding = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"abcdef"}}"#,
        )
        .unwrap();
        assert_eq!(render(&r, metadata::resource_version), "");
        let r: RoleBinding = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"123456"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&r, metadata::resource_version),
            "m{namespace=\"ns\",rolebinding=\"r\"} 123456\n"
        );
    }

    #[test]
    fn info_carries_the_role_ref_and_empty_values_when_it_is_missing() {
        let r: RoleBinding = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns"},
            "roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&r, info),
            "m{namespace=\"ns\",rolebinding=\"r\",roleref_kind=\"ClusterRole\",roleref_name=\"view\"} 1\n"
        );
        let bare: RoleBinding =
            serde_json::from_str(r#"{"metadata":{"name":"r","namespace":"ns"},"roleRef":null}"#)
                .unwrap();
        assert_eq!(
            render(&bare, info),
            "m{namespace=\"ns\",rolebinding=\"r\",roleref_kind=\"\",roleref_name=\"\"} 1\n"
        );
    }
}
