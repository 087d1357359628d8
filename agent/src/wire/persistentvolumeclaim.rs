//! `v1/PersistentVolumeClaim`, lean: the fields the persistentvolumeclaim families read (the
//! JSON twin is the lean `PersistentVolumeClaim` in `resources/persistentvolumeclaim.rs`), at
//! the field numbers of `k8s.io/api/core/v1/generated.proto`.

use std::collections::BTreeMap;

use super::meta::{ObjectMeta, Quantity, always, omitempty, quantities};
use super::{Message, Result};
use crate::resources::persistentvolumeclaim as lean;

/// `v1.PersistentVolumeClaim`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeClaim {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<PersistentVolumeClaimSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<PersistentVolumeClaimStatus>,
}

/// `v1.PersistentVolumeClaimSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeClaimSpec {
    /// `accessModes`.
    #[prost(string, repeated, tag = "1")]
    pub access_modes: Vec<String>,
    /// `resources`.
    #[prost(message, optional, tag = "2")]
    pub resources: Option<ResourceRequests>,
    /// `volumeName`.
    #[prost(string, optional, tag = "3")]
    pub volume_name: Option<String>,
    /// `storageClassName` (a pointer).
    #[prost(string, optional, tag = "5")]
    pub storage_class_name: Option<String>,
    /// `volumeMode` (a pointer).
    #[prost(string, optional, tag = "6")]
    pub volume_mode: Option<String>,
}

/// `v1.VolumeResourceRequirements` (`ResourceRequirements` before 1.29, same numbers), lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceRequests {
    /// `requests`.
    #[prost(btree_map = "string, message", tag = "2")]
    pub requests: BTreeMap<String, Quantity>,
}

/// `v1.PersistentVolumeClaimStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeClaimStatus {
    /// `phase`.
    #[prost(string, optional, tag = "1")]
    pub phase: Option<String>,
    /// `conditions`.
    #[prost(message, repeated, tag = "4")]
    pub conditions: Vec<PersistentVolumeClaimCondition>,
}

/// `v1.PersistentVolumeClaimCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeClaimCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `status`.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
}

impl Message for PersistentVolumeClaim {
    type Object = lean::PersistentVolumeClaim;
    const NAME: &'static str = "v1/PersistentVolumeClaim";

    fn into_object(self) -> Result<lean::PersistentVolumeClaim> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        Ok(lean::PersistentVolumeClaim {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::PersistentVolumeClaimSpec {
                access_modes: spec.access_modes,
                resources: lean::ClaimResources {
                    requests: quantities(spec.resources.unwrap_or_default().requests),
                },
                storage_class_name: spec.storage_class_name,
                volume_name: omitempty(spec.volume_name),
                volume_mode: spec.volume_mode,
            },
            status: lean::PersistentVolumeClaimStatus {
                phase: omitempty(status.phase),
                conditions: status
                    .conditions
                    .into_iter()
                    .map(|c| lean::ClaimCondition {
                        type_: always(c.r#type),
                        status: always(c.status),
                    })
                    .collect(),
            },
        })
    }
}
