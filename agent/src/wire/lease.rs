//! `coordination.k8s.io/v1/Lease`, lean: the fields the lease families read (the JSON twin is
//! the lean `Lease` in `resources/lease.rs`), at the field numbers of
//! `k8s.io/api/coordination/v1/generated.proto`.

use super::meta::{MicroTime, ObjectMeta, micro_time};
use super::{Message, Result};
use crate::resources::lease as lean;

/// `coordination/v1.Lease`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Lease {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<LeaseSpec>,
}

/// `coordination/v1.LeaseSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LeaseSpec {
    /// `holderIdentity` (a pointer).
    #[prost(string, optional, tag = "1")]
    pub holder_identity: Option<String>,
    /// `renewTime` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub renew_time: Option<MicroTime>,
}

impl Message for Lease {
    type Object = lean::Lease;
    const NAME: &'static str = "coordination.k8s.io/v1/Lease";

    fn into_object(self) -> Result<lean::Lease> {
        let spec = self.spec.unwrap_or_default();
        Ok(lean::Lease {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::LeaseSpec {
                holder_identity: spec.holder_identity,
                renew_time: micro_time(spec.renew_time)?,
            },
        })
    }
}
