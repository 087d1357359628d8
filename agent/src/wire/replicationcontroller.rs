//! `v1/ReplicationController`, lean: the fields the replicationcontroller families read (the
//! JSON twin is the lean `ReplicationController` in `resources/replicationcontroller.rs`), at
//! the field numbers of `k8s.io/api/core/v1/generated.proto`. The pod template is skipped by
//! prost without being built.

use super::meta::{ObjectMeta, int};
use super::{Message, Result};
use crate::resources::replicationcontroller as lean;

/// `v1.ReplicationController`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplicationController {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<ReplicationControllerSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<ReplicationControllerStatus>,
}

/// `v1.ReplicationControllerSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplicationControllerSpec {
    /// `replicas` (a pointer).
    #[prost(int32, optional, tag = "1")]
    pub replicas: Option<i32>,
}

/// `v1.ReplicationControllerStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplicationControllerStatus {
    /// `replicas`.
    #[prost(int32, optional, tag = "1")]
    pub replicas: Option<i32>,
    /// `fullyLabeledReplicas`.
    #[prost(int32, optional, tag = "2")]
    pub fully_labeled_replicas: Option<i32>,
    /// `observedGeneration`.
    #[prost(int64, optional, tag = "3")]
    pub observed_generation: Option<i64>,
    /// `readyReplicas`.
    #[prost(int32, optional, tag = "4")]
    pub ready_replicas: Option<i32>,
    /// `availableReplicas`.
    #[prost(int32, optional, tag = "5")]
    pub available_replicas: Option<i32>,
}

impl Message for ReplicationController {
    type Object = lean::ReplicationController;
    const NAME: &'static str = "v1/ReplicationController";

    fn into_object(self) -> Result<lean::ReplicationController> {
        let status = self.status.unwrap_or_default();
        Ok(lean::ReplicationController {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::ReplicationControllerSpec {
                replicas: self.spec.unwrap_or_default().replicas.map(i64::from),
            },
            status: lean::ReplicationControllerStatus {
                replicas: int(status.replicas),
                fully_labeled_replicas: int(status.fully_labeled_replicas),
                ready_replicas: int(status.ready_replicas),
                available_replicas: int(status.available_replicas),
                observed_generation: status.observed_generation.unwrap_or_default(),
            },
        })
    }
}
