//! `batch/v1/CronJob`, lean: the fields the cronjob families read (the JSON twin is the lean
//! `CronJob` in `resources/cronjob.rs`), at the field numbers of
//! `k8s.io/api/batch/v1/generated.proto`. The job template is skipped by prost without being
//! built, and the active jobs are only counted.
//!
//! The 1.20 test apiserver serves CronJob at `batch/v1beta1` only, so this message is checked
//! on hand-encoded objects (`agent/tests/protobuf.rs`).

use serde::de::IgnoredAny;

use super::meta::{ObjectMeta, Time, omitempty, time};
use super::pod::Present;
use super::{Message, Result};
use crate::resources::cronjob as lean;

/// `batch/v1.CronJob`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CronJob {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<CronJobSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<CronJobStatus>,
}

/// `batch/v1.CronJobSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CronJobSpec {
    /// `schedule`.
    #[prost(string, optional, tag = "1")]
    pub schedule: Option<String>,
    /// `startingDeadlineSeconds` (a pointer).
    #[prost(int64, optional, tag = "2")]
    pub starting_deadline_seconds: Option<i64>,
    /// `concurrencyPolicy`.
    #[prost(string, optional, tag = "3")]
    pub concurrency_policy: Option<String>,
    /// `suspend` (a pointer).
    #[prost(bool, optional, tag = "4")]
    pub suspend: Option<bool>,
    /// `successfulJobsHistoryLimit` (a pointer).
    #[prost(int32, optional, tag = "6")]
    pub successful_jobs_history_limit: Option<i32>,
    /// `failedJobsHistoryLimit` (a pointer).
    #[prost(int32, optional, tag = "7")]
    pub failed_jobs_history_limit: Option<i32>,
    /// `timeZone` (a pointer).
    #[prost(string, optional, tag = "8")]
    pub time_zone: Option<String>,
}

/// `batch/v1.CronJobStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CronJobStatus {
    /// `active`: object references, counted.
    #[prost(message, repeated, tag = "1")]
    pub active: Vec<Present>,
    /// `lastScheduleTime` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub last_schedule_time: Option<Time>,
    /// `lastSuccessfulTime` (a pointer).
    #[prost(message, optional, tag = "5")]
    pub last_successful_time: Option<Time>,
}

impl Message for CronJob {
    type Object = lean::CronJob;
    const NAME: &'static str = "batch/v1/CronJob";

    fn into_object(self) -> Result<lean::CronJob> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        Ok(lean::CronJob {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::CronJobSpec {
                schedule: spec.schedule.unwrap_or_default(),
                time_zone: spec.time_zone,
                concurrency_policy: omitempty(spec.concurrency_policy),
                suspend: spec.suspend,
                starting_deadline_seconds: spec.starting_deadline_seconds,
                successful_jobs_history_limit: spec.successful_jobs_history_limit,
                failed_jobs_history_limit: spec.failed_jobs_history_limit,
            },
            status: lean::CronJobStatus {
                active: status.active.iter().map(|_| IgnoredAny).collect(),
                last_schedule_time: time(status.last_schedule_time)?,
                last_successful_time: time(status.last_successful_time)?,
            },
        })
    }
}
