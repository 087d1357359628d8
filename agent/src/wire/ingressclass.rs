//! `networking.k8s.io/v1/IngressClass`, lean: the fields the ingressclass families read (the
//! JSON twin is the lean `IngressClass` in `resources/ingressclass.rs`), at the field numbers
//! of `k8s.io/api/networking/v1/generated.proto`.

use super::meta::{ObjectMeta, omitempty};
use super::{Message, Result};
use crate::resources::ingressclass as lean;

/// `networking/v1.IngressClass`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressClass {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<IngressClassSpec>,
}

/// `networking/v1.IngressClassSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct IngressClassSpec {
    /// `controller`.
    #[prost(string, optional, tag = "1")]
    pub controller: Option<String>,
}

impl Message for IngressClass {
    type Object = lean::IngressClass;
    const NAME: &'static str = "networking.k8s.io/v1/IngressClass";

    fn into_object(self) -> Result<lean::IngressClass> {
        Ok(lean::IngressClass {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::IngressClassSpec {
                controller: omitempty(self.spec.unwrap_or_default().controller),
            },
        })
    }
}
