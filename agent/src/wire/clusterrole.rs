//! `rbac.authorization.k8s.io/v1/ClusterRole`, lean: its metadata, all the clusterrole families read (the
//! JSON twin is the lean `ClusterRole` in `resources/clusterrole.rs`). The rules are skipped by prost
//! without being built.

use super::meta::ObjectMeta;
use super::{Message, Result};
use crate::resources::clusterrole as lean;

/// `rbac/v1.ClusterRole`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ClusterRole {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
}

impl Message for ClusterRole {
    type Object = lean::ClusterRole;
    const NAME: &'static str = "rbac.authorization.k8s.io/v1/ClusterRole";

    fn into_object(self) -> Result<lean::ClusterRole> {
        Ok(lean::ClusterRole {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
        })
    }
}
