//! `rbac.authorization.k8s.io/v1/RoleBinding`, lean: the fields the rolebinding families read (the JSON
//! twin is the lean `RoleBinding` in `resources/rolebinding.rs`), at the field numbers of
//! `k8s.io/api/rbac/v1/generated.proto`. The subjects are skipped by prost without being
//! built.

use super::meta::ObjectMeta;
use super::rbac::RoleRef;
use super::{Message, Result};
use crate::resources::rolebinding as lean;

/// `rbac/v1.RoleBinding`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RoleBinding {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `roleRef`.
    #[prost(message, optional, tag = "3")]
    pub role_ref: Option<RoleRef>,
}

impl Message for RoleBinding {
    type Object = lean::RoleBinding;
    const NAME: &'static str = "rbac.authorization.k8s.io/v1/RoleBinding";

    fn into_object(self) -> Result<lean::RoleBinding> {
        Ok(lean::RoleBinding {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            role_ref: self.role_ref.unwrap_or_default().into_lean(),
        })
    }
}
