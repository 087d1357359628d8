//! `v1/ConfigMap`, lean: its metadata, all the configmap families read (the JSON twin is the
//! lean `ConfigMap` in `resources/configmap.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`. `data` and `binaryData` are skipped by prost without
//! being built.
//!
//! The kind's lean watch is metadata-only ([`super::partial`]); this message reads the whole
//! objects of `--lean-watches=false`.

use super::meta::ObjectMeta;
use super::{Message, Result};
use crate::resources::configmap as lean;

/// `v1.ConfigMap`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConfigMap {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
}

impl Message for ConfigMap {
    type Object = lean::ConfigMap;
    const NAME: &'static str = "v1/ConfigMap";

    fn into_object(self) -> Result<lean::ConfigMap> {
        Ok(lean::ConfigMap {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
        })
    }
}
