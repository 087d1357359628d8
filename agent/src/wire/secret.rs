//! `v1/Secret`, lean: its metadata and `type`, all the secret families read (the JSON twin is
//! the lean `Secret` in `resources/secret.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`. The payload (`data`, `stringData`) is skipped by prost
//! without being built.
//!
//! Secrets of the well-known types are watched metadata-only ([`super::partial`]); this
//! message reads the other types' watch, where only the object tells its type, and the whole
//! objects of `--lean-watches=false`.

use super::meta::{ObjectMeta, omitempty};
use super::{Message, Result};
use crate::resources::secret as lean;

/// `v1.Secret`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Secret {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `type`.
    #[prost(string, optional, tag = "3")]
    pub r#type: Option<String>,
}

impl Message for Secret {
    type Object = lean::Secret;
    const NAME: &'static str = "v1/Secret";

    fn into_object(self) -> Result<lean::Secret> {
        Ok(lean::Secret {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            type_: omitempty(self.r#type),
        })
    }
}
