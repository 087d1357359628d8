//! `apps/v1/DaemonSet`, lean: the status counters the daemonset families read (the JSON twin is
//! the lean `DaemonSet` in `resources/daemonset.rs`), at the field numbers of
//! `k8s.io/api/apps/v1/generated.proto`. The spec, pod template included, is skipped by prost
//! without being built.

use super::meta::{ObjectMeta, int};
use super::{Message, Result};
use crate::resources::daemonset as lean;

/// `apps/v1.DaemonSet`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DaemonSet {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<DaemonSetStatus>,
}

/// `apps/v1.DaemonSetStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DaemonSetStatus {
    /// `currentNumberScheduled`.
    #[prost(int32, optional, tag = "1")]
    pub current_number_scheduled: Option<i32>,
    /// `numberMisscheduled`.
    #[prost(int32, optional, tag = "2")]
    pub number_misscheduled: Option<i32>,
    /// `desiredNumberScheduled`.
    #[prost(int32, optional, tag = "3")]
    pub desired_number_scheduled: Option<i32>,
    /// `numberReady`.
    #[prost(int32, optional, tag = "4")]
    pub number_ready: Option<i32>,
    /// `observedGeneration`.
    #[prost(int64, optional, tag = "5")]
    pub observed_generation: Option<i64>,
    /// `updatedNumberScheduled`.
    #[prost(int32, optional, tag = "6")]
    pub updated_number_scheduled: Option<i32>,
    /// `numberAvailable`.
    #[prost(int32, optional, tag = "7")]
    pub number_available: Option<i32>,
    /// `numberUnavailable`.
    #[prost(int32, optional, tag = "8")]
    pub number_unavailable: Option<i32>,
}

impl Message for DaemonSet {
    type Object = lean::DaemonSet;
    const NAME: &'static str = "apps/v1/DaemonSet";

    fn into_object(self) -> Result<lean::DaemonSet> {
        let status = self.status.unwrap_or_default();
        Ok(lean::DaemonSet {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            status: lean::DaemonSetStatus {
                current_number_scheduled: int(status.current_number_scheduled),
                desired_number_scheduled: int(status.desired_number_scheduled),
                number_available: int(status.number_available),
                number_misscheduled: int(status.number_misscheduled),
                number_ready: int(status.number_ready),
                number_unavailable: int(status.number_unavailable),
                observed_generation: status.observed_generation.unwrap_or_default(),
                updated_number_scheduled: int(status.updated_number_scheduled),
            },
        })
    }
}
