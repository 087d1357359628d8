//! `apps/v1/ReplicaSet`, lean: the fields the replicaset families read (the JSON twin is the
//! lean `ReplicaSet` in `resources/replicaset.rs`), at the field numbers of
//! `k8s.io/api/apps/v1/generated.proto`. The pod template is skipped by prost without being
//! built.

use super::meta::{ObjectMeta, int};
use super::{Message, Result};
use crate::resources::replicaset as lean;

/// `apps/v1.ReplicaSet`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplicaSet {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<ReplicaSetSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<ReplicaSetStatus>,
}

/// `apps/v1.ReplicaSetSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplicaSetSpec {
    /// `replicas` (a pointer).
    #[prost(int32, optional, tag = "1")]
    pub replicas: Option<i32>,
}

/// `apps/v1.ReplicaSetStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ReplicaSetStatus {
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
    /// `terminatingReplicas` (a pointer).
    #[prost(int32, optional, tag = "7")]
    pub terminating_replicas: Option<i32>,
}

impl Message for ReplicaSet {
    type Object = lean::ReplicaSet;
    const NAME: &'static str = "apps/v1/ReplicaSet";

    fn into_object(self) -> Result<lean::ReplicaSet> {
        let status = self.status.unwrap_or_default();
        Ok(lean::ReplicaSet {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::ReplicaSetSpec {
                replicas: self.spec.unwrap_or_default().replicas.map(i64::from),
            },
            status: lean::ReplicaSetStatus {
                replicas: int(status.replicas),
                fully_labeled_replicas: int(status.fully_labeled_replicas),
                ready_replicas: int(status.ready_replicas),
                terminating_replicas: status.terminating_replicas.map(i64::from),
                observed_generation: status.observed_generation.unwrap_or_default(),
            },
        })
    }
}
