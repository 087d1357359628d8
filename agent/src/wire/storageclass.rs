//! `storage.k8s.io/v1/StorageClass`, lean: the fields the storageclass families read (the JSON
//! twin is the lean `StorageClass` in `resources/storageclass.rs`), at the field numbers of
//! `k8s.io/api/storage/v1/generated.proto`. Parameters, mount options and topologies are
//! skipped by prost without being built.

use super::meta::{ObjectMeta, always};
use super::{Message, Result};
use crate::resources::storageclass as lean;

/// `storage/v1.StorageClass`, lean (its fields sit beside the metadata, no spec).
#[derive(Clone, PartialEq, prost::Message)]
pub struct StorageClass {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `provisioner`.
    #[prost(string, optional, tag = "2")]
    pub provisioner: Option<String>,
    /// `reclaimPolicy` (a pointer).
    #[prost(string, optional, tag = "4")]
    pub reclaim_policy: Option<String>,
    /// `volumeBindingMode` (a pointer).
    #[prost(string, optional, tag = "7")]
    pub volume_binding_mode: Option<String>,
}

impl Message for StorageClass {
    type Object = lean::StorageClass;
    const NAME: &'static str = "storage.k8s.io/v1/StorageClass";

    fn into_object(self) -> Result<lean::StorageClass> {
        Ok(lean::StorageClass {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            provisioner: always(self.provisioner),
            reclaim_policy: self.reclaim_policy,
            volume_binding_mode: self.volume_binding_mode,
        })
    }
}
