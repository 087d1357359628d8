//! What the two RBAC binding kinds share: `rbac/v1.RoleRef`, at the field numbers of
//! `k8s.io/api/rbac/v1/generated.proto`, converted into the lean `RoleRef` of
//! `resources/rbac.rs`.

use super::meta::always;
use crate::resources::rbac as lean;

/// `rbac/v1.RoleRef`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RoleRef {
    /// `kind`.
    #[prost(string, optional, tag = "2")]
    pub kind: Option<String>,
    /// `name`.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
}

impl RoleRef {
    /// The lean `RoleRef`: JSON always writes both strings.
    pub fn into_lean(self) -> lean::RoleRef {
        lean::RoleRef {
            kind: always(self.kind),
            name: always(self.name),
        }
    }
}
