//! `rbac.authorization.k8s.io/v1/Role`, lean: its metadata, all the role families read (the
//! JSON twin is the lean `Role` in `resources/role.rs`). The rules are skipped by prost
//! without being built.

use super::meta::ObjectMeta;
use super::{Message, Result};
use crate::resources::role as lean;

/// `rbac/v1.Role`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Role {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
}

impl Message for Role {
    type Object = lean::Role;
    const NAME: &'static str = "rbac.authorization.k8s.io/v1/Role";

    fn into_object(self) -> Result<lean::Role> {
        Ok(lean::Role {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
        })
    }
}
