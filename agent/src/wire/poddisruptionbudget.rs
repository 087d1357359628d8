//! `policy/v1/PodDisruptionBudget`, lean: the status counters the budget families read (the
//! JSON twin is the lean `PodDisruptionBudget` in `resources/poddisruptionbudget.rs`), at the
//! field numbers of `k8s.io/api/policy/v1/generated.proto`. The spec and the disrupted pods are
//! skipped by prost without being built.
//!
//! The 1.20 test apiserver serves PodDisruptionBudget at `policy/v1beta1` only, so this message
//! is checked on hand-encoded objects (`agent/tests/protobuf.rs`).

use super::meta::ObjectMeta;
use super::{Message, Result};
use crate::resources::poddisruptionbudget as lean;

/// `policy/v1.PodDisruptionBudget`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodDisruptionBudget {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<PodDisruptionBudgetStatus>,
}

/// `policy/v1.PodDisruptionBudgetStatus`, lean: plain Go integers, absent reading as 0 on both
/// wires.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodDisruptionBudgetStatus {
    /// `observedGeneration`.
    #[prost(int64, optional, tag = "1")]
    pub observed_generation: Option<i64>,
    /// `disruptionsAllowed`.
    #[prost(int32, optional, tag = "3")]
    pub disruptions_allowed: Option<i32>,
    /// `currentHealthy`.
    #[prost(int32, optional, tag = "4")]
    pub current_healthy: Option<i32>,
    /// `desiredHealthy`.
    #[prost(int32, optional, tag = "5")]
    pub desired_healthy: Option<i32>,
    /// `expectedPods`.
    #[prost(int32, optional, tag = "6")]
    pub expected_pods: Option<i32>,
}

impl Message for PodDisruptionBudget {
    type Object = lean::PodDisruptionBudget;
    const NAME: &'static str = "policy/v1/PodDisruptionBudget";

    fn into_object(self) -> Result<lean::PodDisruptionBudget> {
        let status = self.status.unwrap_or_default();
        Ok(lean::PodDisruptionBudget {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            status: lean::PdbStatus {
                current_healthy: status.current_healthy.unwrap_or_default(),
                desired_healthy: status.desired_healthy.unwrap_or_default(),
                disruptions_allowed: status.disruptions_allowed.unwrap_or_default(),
                expected_pods: status.expected_pods.unwrap_or_default(),
                observed_generation: status.observed_generation.unwrap_or_default(),
            },
        })
    }
}
