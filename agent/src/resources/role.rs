//! Roles (`rbac.authorization.k8s.io/v1/Role`), scope [`Scope::Namespaced`]: watched by the leader.
//! Mirrors kube-state-metrics' `internal/store/role.go` (`roleMetricFamilies`), family by family,
//! in the same order.
//!
//! Every family is a pure function of one decoded [`Role`]; the identity labels `namespace`, `role`
//! are put in front by the writer, as `wrapRoleFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a Role that the families read; the rules are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Role {
    /// Identity, labels, annotations, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
}
crate::impl_object!(Role => KIND);

// ===== family table =====

/// The role kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `roleMetricFamilies` order: it is the exposition
/// order.
pub static KIND: Kind<Role> = Kind {
    resource: "roles",
    api: ApiType::new("rbac.authorization.k8s.io", "v1", "Role", "roles"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::role::Role>),
    identity,
    families: &[
        Family::experimental(
            "kube_role_annotations",
            "Role annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_role_labels",
            "Role labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_role_info",
            "One series per role.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_role_created",
            "Unix time (seconds) at which the role object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_role_metadata_resource_version",
            "The role object's resource version, as a number.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
    ],
};

/// `namespace`, `role`, like `wrapRoleFunc`.
fn identity(r: &Role) -> Identity {
    Identity::new([
        ("namespace", r.metadata.namespace.as_deref().unwrap_or("")),
        ("role", r.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_role_info` in `roleMetricFamilies`: one sample with no labels of its own.
fn info(_: &Role, out: &mut Series<'_>) {
    out.value(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(r: &Role, f: fn(&Role, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(r, identity(r), &RenderContext::default(), f)
    }

    #[test]
    fn a_non_numeric_resource_version_gives_no_sample() {
        let r: Role = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"abcdef"}}"#,
        )
        .unwrap();
        assert_eq!(render(&r, metadata::resource_version), "");
        let r: Role = serde_json::from_str(
            r#"{"metadata":{"name":"r","namespace":"ns","resourceVersion":"123456"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&r, metadata::resource_version),
            "m{namespace=\"ns\",role=\"r\"} 123456\n"
        );
    }
}
