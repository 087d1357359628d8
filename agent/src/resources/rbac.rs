//! What the RBAC binding kinds share: the lean `roleRef` and the `_info` sample kube-state-metrics
//! builds from it.
//!
//! KSM's `internal/store/rolebinding.go` and `clusterrolebinding.go` are the same code over two
//! API types; here the shared part is written once and each kind file keeps its own lean type,
//! table and family functions, which call these helpers. (The role kinds need nothing beyond
//! `common.rs`: every family they have is a metadata shape.)

use serde::Deserialize;

use crate::exposition::Series;

/// `roleRef` of a RoleBinding or ClusterRoleBinding, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct RoleRef {
    /// `Role` or `ClusterRole`.
    pub kind: Option<String>,
    /// The role's name.
    pub name: Option<String>,
}

/// The `_info` generator of both binding kinds: one sample with `roleref_kind`, `roleref_name`,
/// empty when unset.
pub fn role_ref_info_sample(out: &mut Series<'_>, role_ref: &RoleRef) {
    out.sample(
        [
            ("roleref_kind", role_ref.kind.as_deref().unwrap_or("")),
            ("roleref_name", role_ref.name.as_deref().unwrap_or("")),
        ],
        1.0,
    );
}
