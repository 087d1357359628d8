//! `v1/Namespace`, lean: the fields the namespace families read (the JSON twin is the lean
//! `Namespace` in `resources/namespace.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`.

use super::meta::{ObjectMeta, always, omitempty};
use super::{Message, Result};
use crate::resources::namespace as lean;

/// `v1.Namespace`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Namespace {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<NamespaceStatus>,
}

/// `v1.NamespaceStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceStatus {
    /// `phase`.
    #[prost(string, optional, tag = "1")]
    pub phase: Option<String>,
    /// `conditions`.
    #[prost(message, repeated, tag = "2")]
    pub conditions: Vec<NamespaceCondition>,
}

/// `v1.NamespaceCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamespaceCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `status`.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
}

impl Message for Namespace {
    type Object = lean::Namespace;
    const NAME: &'static str = "v1/Namespace";

    fn into_object(self) -> Result<lean::Namespace> {
        let status = self.status.unwrap_or_default();
        Ok(lean::Namespace {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            status: lean::NamespaceStatus {
                phase: omitempty(status.phase),
                conditions: status
                    .conditions
                    .into_iter()
                    .map(|c| lean::NamespaceCondition {
                        type_: always(c.r#type),
                        status: always(c.status),
                    })
                    .collect(),
            },
        })
    }
}
