//! `networking.k8s.io/v1/NetworkPolicy`, lean: how many ingress and egress rules it has, all
//! the networkpolicy families read (the JSON twin is the lean `NetworkPolicy` in
//! `resources/networkpolicy.rs`), at the field numbers of
//! `k8s.io/api/networking/v1/generated.proto`. The rules' contents are skipped by prost.

use serde::de::IgnoredAny;

use super::meta::ObjectMeta;
use super::pod::Present;
use super::{Message, Result};
use crate::resources::networkpolicy as lean;

/// `networking/v1.NetworkPolicy`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NetworkPolicy {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<NetworkPolicySpec>,
}

/// `networking/v1.NetworkPolicySpec`, lean: the rules, counted.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NetworkPolicySpec {
    /// `ingress`.
    #[prost(message, repeated, tag = "2")]
    pub ingress: Vec<Present>,
    /// `egress`.
    #[prost(message, repeated, tag = "3")]
    pub egress: Vec<Present>,
}

impl Message for NetworkPolicy {
    type Object = lean::NetworkPolicy;
    const NAME: &'static str = "networking.k8s.io/v1/NetworkPolicy";

    fn into_object(self) -> Result<lean::NetworkPolicy> {
        let spec = self.spec.unwrap_or_default();
        Ok(lean::NetworkPolicy {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::NetworkPolicySpec {
                ingress: spec.ingress.iter().map(|_| IgnoredAny).collect(),
                egress: spec.egress.iter().map(|_| IgnoredAny).collect(),
            },
        })
    }
}
