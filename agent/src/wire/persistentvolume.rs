//! `v1/PersistentVolume`, lean: the fields the persistentvolume families read (the JSON twin is
//! the lean `PersistentVolume` in `resources/persistentvolume.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`. The volume sources the families do not name (and
//! node affinity, mount options) are skipped by prost without being built.
//!
//! JSON inlines the `PersistentVolumeSource` into the spec; protobuf nests it at field 2.

use std::collections::BTreeMap;

use super::meta::{ObjectMeta, Quantity, always, omitempty, quantities};
use super::{Message, Result};
use crate::resources::persistentvolume as lean;

/// `v1.PersistentVolume`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolume {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<PersistentVolumeSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<PersistentVolumeStatus>,
}

/// `v1.PersistentVolumeSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeSpec {
    /// `capacity`.
    #[prost(btree_map = "string, message", tag = "1")]
    pub capacity: BTreeMap<String, Quantity>,
    /// The inlined `persistentVolumeSource`.
    #[prost(message, optional, tag = "2")]
    pub source: Option<PersistentVolumeSource>,
    /// `accessModes`.
    #[prost(string, repeated, tag = "3")]
    pub access_modes: Vec<String>,
    /// `claimRef` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub claim_ref: Option<ObjectReference>,
    /// `persistentVolumeReclaimPolicy`.
    #[prost(string, optional, tag = "5")]
    pub persistent_volume_reclaim_policy: Option<String>,
    /// `storageClassName` (a value here, unlike the claim's).
    #[prost(string, optional, tag = "6")]
    pub storage_class_name: Option<String>,
    /// `volumeMode` (a pointer).
    #[prost(string, optional, tag = "8")]
    pub volume_mode: Option<String>,
}

/// `v1.PersistentVolumeSource`: the sources the families look at.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeSource {
    /// `gcePersistentDisk`.
    #[prost(message, optional, tag = "1")]
    pub gce_persistent_disk: Option<GcePersistentDisk>,
    /// `awsElasticBlockStore`.
    #[prost(message, optional, tag = "2")]
    pub aws_elastic_block_store: Option<AwsElasticBlockStore>,
    /// `hostPath`.
    #[prost(message, optional, tag = "3")]
    pub host_path: Option<HostPathVolume>,
    /// `nfs`.
    #[prost(message, optional, tag = "5")]
    pub nfs: Option<NfsVolume>,
    /// `iscsi`.
    #[prost(message, optional, tag = "7")]
    pub iscsi: Option<IscsiVolume>,
    /// `fc`.
    #[prost(message, optional, tag = "10")]
    pub fc: Option<FcVolume>,
    /// `azureDisk`.
    #[prost(message, optional, tag = "16")]
    pub azure_disk: Option<AzureDisk>,
    /// `local`.
    #[prost(message, optional, tag = "20")]
    pub local: Option<LocalVolume>,
    /// `csi`.
    #[prost(message, optional, tag = "22")]
    pub csi: Option<CsiVolume>,
}

/// `v1.ObjectReference`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectReference {
    /// `namespace`.
    #[prost(string, optional, tag = "2")]
    pub namespace: Option<String>,
    /// `name`.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
}

/// `v1.GCEPersistentDiskVolumeSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct GcePersistentDisk {
    /// `pdName`.
    #[prost(string, optional, tag = "1")]
    pub pd_name: Option<String>,
}

/// `v1.AWSElasticBlockStoreVolumeSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AwsElasticBlockStore {
    /// `volumeID`.
    #[prost(string, optional, tag = "1")]
    pub volume_id: Option<String>,
}

/// `v1.HostPathVolumeSource`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HostPathVolume {
    /// `path`.
    #[prost(string, optional, tag = "1")]
    pub path: Option<String>,
    /// `type` (a pointer).
    #[prost(string, optional, tag = "2")]
    pub r#type: Option<String>,
}

/// `v1.NFSVolumeSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NfsVolume {
    /// `server`.
    #[prost(string, optional, tag = "1")]
    pub server: Option<String>,
    /// `path`.
    #[prost(string, optional, tag = "2")]
    pub path: Option<String>,
}

/// `v1.ISCSIPersistentVolumeSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IscsiVolume {
    /// `targetPortal`.
    #[prost(string, optional, tag = "1")]
    pub target_portal: Option<String>,
    /// `iqn`.
    #[prost(string, optional, tag = "2")]
    pub iqn: Option<String>,
    /// `lun`.
    #[prost(int32, optional, tag = "3")]
    pub lun: Option<i32>,
    /// `initiatorName` (a pointer).
    #[prost(string, optional, tag = "12")]
    pub initiator_name: Option<String>,
}

/// `v1.FCVolumeSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct FcVolume {
    /// `targetWWNs`.
    #[prost(string, repeated, tag = "1")]
    pub target_wwns: Vec<String>,
    /// `lun` (a pointer).
    #[prost(int32, optional, tag = "2")]
    pub lun: Option<i32>,
    /// `wwids`.
    #[prost(string, repeated, tag = "5")]
    pub wwids: Vec<String>,
}

/// `v1.AzureDiskVolumeSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct AzureDisk {
    /// `diskName`.
    #[prost(string, optional, tag = "1")]
    pub disk_name: Option<String>,
}

/// `v1.LocalVolumeSource`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocalVolume {
    /// `path`.
    #[prost(string, optional, tag = "1")]
    pub path: Option<String>,
    /// `fsType` (a pointer).
    #[prost(string, optional, tag = "2")]
    pub fs_type: Option<String>,
}

/// `v1.CSIPersistentVolumeSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CsiVolume {
    /// `driver`.
    #[prost(string, optional, tag = "1")]
    pub driver: Option<String>,
    /// `volumeHandle`.
    #[prost(string, optional, tag = "2")]
    pub volume_handle: Option<String>,
    /// `volumeAttributes`.
    #[prost(btree_map = "string, string", tag = "5")]
    pub volume_attributes: BTreeMap<String, String>,
}

/// `v1.PersistentVolumeStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PersistentVolumeStatus {
    /// `phase`.
    #[prost(string, optional, tag = "1")]
    pub phase: Option<String>,
}

impl Message for PersistentVolume {
    type Object = lean::PersistentVolume;
    const NAME: &'static str = "v1/PersistentVolume";

    fn into_object(self) -> Result<lean::PersistentVolume> {
        let spec = self.spec.unwrap_or_default();
        let source = spec.source.unwrap_or_default();
        Ok(lean::PersistentVolume {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::PersistentVolumeSpec {
                capacity: quantities(spec.capacity),
                access_modes: spec.access_modes,
                claim_ref: spec.claim_ref.map(|r| lean::ClaimRef {
                    name: omitempty(r.name),
                    namespace: omitempty(r.namespace),
                }),
                storage_class_name: omitempty(spec.storage_class_name),
                persistent_volume_reclaim_policy: omitempty(spec.persistent_volume_reclaim_policy),
                volume_mode: spec.volume_mode,
                gce_persistent_disk: source.gce_persistent_disk.map(|d| lean::GcePersistentDisk {
                    pd_name: always(d.pd_name),
                }),
                aws_elastic_block_store: source.aws_elastic_block_store.map(|d| {
                    lean::AwsElasticBlockStore {
                        volume_id: always(d.volume_id),
                    }
                }),
                azure_disk: source.azure_disk.map(|d| lean::AzureDisk {
                    disk_name: always(d.disk_name),
                }),
                fc: source.fc.map(|f| lean::FcVolume {
                    lun: f.lun,
                    target_wwns: f.target_wwns,
                    wwids: f.wwids,
                }),
                iscsi: source.iscsi.map(|i| lean::IscsiVolume {
                    target_portal: always(i.target_portal),
                    iqn: always(i.iqn),
                    lun: i.lun.unwrap_or_default(),
                    initiator_name: i.initiator_name,
                }),
                nfs: source.nfs.map(|n| lean::NfsVolume {
                    server: always(n.server),
                    path: always(n.path),
                }),
                csi: source.csi.map(|c| lean::CsiVolume {
                    driver: always(c.driver),
                    volume_handle: always(c.volume_handle),
                    volume_attributes: c.volume_attributes,
                }),
                local: source.local.map(|l| lean::LocalVolume {
                    path: always(l.path),
                    fs_type: l.fs_type,
                }),
                host_path: source.host_path.map(|h| lean::HostPathVolume {
                    path: always(h.path),
                    type_: h.r#type,
                }),
            },
            status: lean::PersistentVolumeStatus {
                phase: omitempty(self.status.unwrap_or_default().phase),
            },
        })
    }
}
