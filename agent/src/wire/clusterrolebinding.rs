//! `rbac.authorization.k8s.io/v1/ClusterRoleBinding`, lean: the fields the clusterrolebinding families read (the JSON
//! twin is the lean `ClusterRoleBinding` in `resources/clusterrolebinding.rs`), at the field numbers of
//! `k8s.io/api/rbac/v1/generated.proto`. The subjects are skipped by prost without being
//! built.

use super::meta::ObjectMeta;
use super::rbac::RoleRef;
use super::{Message, Result};
use crate::resources::clusterrolebinding as lean;

/// `rbac/v1.ClusterRoleBinding`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClusterRoleBinding {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `roleRef`.
    #[prost(message, optional, tag = "3")]
    pub role_ref: Option<RoleRef>,
}

impl Message for ClusterRoleBinding {
    type Object = lean::ClusterRoleBinding;
    const NAME: &'static str = "rbac.authorization.k8s.io/v1/ClusterRoleBinding";

    fn into_object(self) -> Result<lean::ClusterRoleBinding> {
        Ok(lean::ClusterRoleBinding {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            role_ref: self.role_ref.unwrap_or_default().into_lean(),
        })
    }
}
