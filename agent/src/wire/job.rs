//! `batch/v1/Job`, lean: the fields the job families read (the JSON twin is the lean `Job` in
//! `resources/job.rs`), at the field numbers of `k8s.io/api/batch/v1/generated.proto`. The pod
//! template, the selector and the failure policy are skipped by prost without being built.

use super::meta::{ObjectMeta, Time, always, omitempty, time};
use super::{Message, Result};
use crate::resources::job as lean;

/// `batch/v1.Job`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Job {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<JobSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<JobStatus>,
}

/// `batch/v1.JobSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JobSpec {
    /// `parallelism` (a pointer).
    #[prost(int32, optional, tag = "1")]
    pub parallelism: Option<i32>,
    /// `completions` (a pointer).
    #[prost(int32, optional, tag = "2")]
    pub completions: Option<i32>,
    /// `activeDeadlineSeconds` (a pointer).
    #[prost(int64, optional, tag = "3")]
    pub active_deadline_seconds: Option<i64>,
}

/// `batch/v1.JobStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JobStatus {
    /// `conditions`.
    #[prost(message, repeated, tag = "1")]
    pub conditions: Vec<JobCondition>,
    /// `startTime` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub start_time: Option<Time>,
    /// `completionTime` (a pointer).
    #[prost(message, optional, tag = "3")]
    pub completion_time: Option<Time>,
    /// `active`.
    #[prost(int32, optional, tag = "4")]
    pub active: Option<i32>,
    /// `succeeded`.
    #[prost(int32, optional, tag = "5")]
    pub succeeded: Option<i32>,
    /// `failed`.
    #[prost(int32, optional, tag = "6")]
    pub failed: Option<i32>,
    /// `ready` (a pointer).
    #[prost(int32, optional, tag = "9")]
    pub ready: Option<i32>,
}

/// `batch/v1.JobCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct JobCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `status`.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
    /// `reason`.
    #[prost(string, optional, tag = "5")]
    pub reason: Option<String>,
}

impl Message for Job {
    type Object = lean::Job;
    const NAME: &'static str = "batch/v1/Job";

    fn into_object(self) -> Result<lean::Job> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        Ok(lean::Job {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::JobSpec {
                parallelism: spec.parallelism,
                completions: spec.completions,
                active_deadline_seconds: spec.active_deadline_seconds,
            },
            status: lean::JobStatus {
                active: status.active.unwrap_or_default(),
                succeeded: status.succeeded.unwrap_or_default(),
                failed: status.failed.unwrap_or_default(),
                ready: status.ready,
                start_time: time(status.start_time)?,
                completion_time: time(status.completion_time)?,
                conditions: status
                    .conditions
                    .into_iter()
                    .map(|c| lean::JobCondition {
                        type_: always(c.r#type),
                        status: always(c.status),
                        reason: omitempty(c.reason),
                    })
                    .collect(),
            },
        })
    }
}
