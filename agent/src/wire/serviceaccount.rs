//! `v1/ServiceAccount`, lean: the fields the serviceaccount families read (the JSON twin is the
//! lean `ServiceAccount` in `resources/serviceaccount.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`.

use super::meta::{ObjectMeta, omitempty};
use super::{Message, Result};
use crate::resources::serviceaccount as lean;

/// `v1.ServiceAccount`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceAccount {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `secrets`: `ObjectReference`s, of which only the name is read.
    #[prost(message, repeated, tag = "2")]
    pub secrets: Vec<SecretReference>,
    /// `imagePullSecrets`: `LocalObjectReference`s.
    #[prost(message, repeated, tag = "3")]
    pub image_pull_secrets: Vec<LocalObjectReference>,
    /// `automountServiceAccountToken` (a pointer).
    #[prost(bool, optional, tag = "4")]
    pub automount_service_account_token: Option<bool>,
}

/// `v1.ObjectReference`, lean: its name (field 3).
#[derive(Clone, PartialEq, prost::Message)]
pub struct SecretReference {
    /// `name`.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
}

/// `v1.LocalObjectReference`: its name (field 1).
#[derive(Clone, PartialEq, prost::Message)]
pub struct LocalObjectReference {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
}

impl Message for ServiceAccount {
    type Object = lean::ServiceAccount;
    const NAME: &'static str = "v1/ServiceAccount";

    fn into_object(self) -> Result<lean::ServiceAccount> {
        Ok(lean::ServiceAccount {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            automount_service_account_token: self.automount_service_account_token,
            secrets: self
                .secrets
                .into_iter()
                .map(|s| lean::SecretReference {
                    name: omitempty(s.name),
                })
                .collect(),
            image_pull_secrets: self
                .image_pull_secrets
                .into_iter()
                .map(|s| lean::SecretReference {
                    name: omitempty(s.name),
                })
                .collect(),
        })
    }
}
