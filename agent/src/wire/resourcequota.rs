//! `v1/ResourceQuota`, lean: the status the resourcequota families read (the JSON twin is the
//! lean `ResourceQuota` in `resources/resourcequota.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`. The spec is skipped by prost without being built.

use std::collections::BTreeMap;

use super::meta::{ObjectMeta, Quantity, quantities};
use super::{Message, Result};
use crate::resources::resourcequota as lean;

/// `v1.ResourceQuota`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceQuota {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<ResourceQuotaStatus>,
}

/// `v1.ResourceQuotaStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceQuotaStatus {
    /// `hard`.
    #[prost(btree_map = "string, message", tag = "1")]
    pub hard: BTreeMap<String, Quantity>,
    /// `used`.
    #[prost(btree_map = "string, message", tag = "2")]
    pub used: BTreeMap<String, Quantity>,
}

impl Message for ResourceQuota {
    type Object = lean::ResourceQuota;
    const NAME: &'static str = "v1/ResourceQuota";

    fn into_object(self) -> Result<lean::ResourceQuota> {
        let status = self.status.unwrap_or_default();
        Ok(lean::ResourceQuota {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            status: lean::ResourceQuotaStatus {
                hard: quantities(status.hard),
                used: quantities(status.used),
            },
        })
    }
}
