//! `storage.k8s.io/v1/VolumeAttachment`, lean: the fields the volumeattachment families read
//! (the JSON twin is the lean `VolumeAttachment` in `resources/volumeattachment.rs`), at the
//! field numbers of `k8s.io/api/storage/v1/generated.proto`. An inline volume spec and the
//! attach and detach errors are skipped by prost without being built.

use std::collections::BTreeMap;

use super::meta::{ObjectMeta, always, nonempty_map};
use super::{Message, Result};
use crate::resources::volumeattachment as lean;

/// `storage/v1.VolumeAttachment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VolumeAttachment {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<VolumeAttachmentSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<VolumeAttachmentStatus>,
}

/// `storage/v1.VolumeAttachmentSpec`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VolumeAttachmentSpec {
    /// `attacher`.
    #[prost(string, optional, tag = "1")]
    pub attacher: Option<String>,
    /// `source`.
    #[prost(message, optional, tag = "2")]
    pub source: Option<VolumeAttachmentSource>,
    /// `nodeName`.
    #[prost(string, optional, tag = "3")]
    pub node_name: Option<String>,
}

/// `storage/v1.VolumeAttachmentSource`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VolumeAttachmentSource {
    /// `persistentVolumeName` (a pointer).
    #[prost(string, optional, tag = "1")]
    pub persistent_volume_name: Option<String>,
}

/// `storage/v1.VolumeAttachmentStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct VolumeAttachmentStatus {
    /// `attached`.
    #[prost(bool, optional, tag = "1")]
    pub attached: Option<bool>,
    /// `attachmentMetadata`.
    #[prost(btree_map = "string, string", tag = "2")]
    pub attachment_metadata: BTreeMap<String, String>,
}

impl Message for VolumeAttachment {
    type Object = lean::VolumeAttachment;
    const NAME: &'static str = "storage.k8s.io/v1/VolumeAttachment";

    fn into_object(self) -> Result<lean::VolumeAttachment> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        Ok(lean::VolumeAttachment {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::VolumeAttachmentSpec {
                attacher: always(spec.attacher),
                node_name: always(spec.node_name),
                source: lean::VolumeAttachmentSource {
                    persistent_volume_name: spec.source.unwrap_or_default().persistent_volume_name,
                },
            },
            status: lean::VolumeAttachmentStatus {
                attached: Some(status.attached.unwrap_or_default()),
                attachment_metadata: nonempty_map(status.attachment_metadata),
            },
        })
    }
}
