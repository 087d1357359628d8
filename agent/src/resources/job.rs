//! Jobs (`batch/v1` `Job`), scope [`Scope::Namespaced`]: watched by the leader only. Mirrors
//! kube-state-metrics' `internal/store/job.go` (`jobMetricFamilies`), family by family, in the
//! same order.
//!
//! Every family is a pure function of one decoded [`Job`]; the identity labels `namespace`,
//! `job_name` are put in front by the writer, as `wrapJobFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Deserialize;

use super::common::{
    bool_value, condition_samples_as,
    null_as_default, timestamp,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a Job that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Job {
    /// Identity, labels, annotations, owners, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: JobSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: JobStatus,
}
crate::impl_object!(Job => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct JobSpec {
    /// Most pods running at once.
    pub parallelism: Option<i32>,
    /// Successful pods wanted.
    pub completions: Option<i32>,
    /// Seconds after `startTime` before the job is terminated.
    pub active_deadline_seconds: Option<i64>,
}

/// `status`, lean. The counters are plain integers in Go: absent reads as 0.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct JobStatus {
    /// Pods currently running.
    #[serde(deserialize_with = "null_as_default")]
    pub active: i32,
    /// Pods that reached phase Succeeded.
    #[serde(deserialize_with = "null_as_default")]
    pub succeeded: i32,
    /// Pods that reached phase Failed.
    #[serde(deserialize_with = "null_as_default")]
    pub failed: i32,
    /// Running pods with a Ready condition (a pointer in Go).
    pub ready: Option<i32>,
    /// When the job controller acknowledged the job.
    pub start_time: Option<Time>,
    /// When the job completed.
    pub completion_time: Option<Time>,
    /// Conditions, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<JobCondition>,
}

/// One `status.conditions[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct JobCondition {
    /// `Complete`, `Failed`, `Suspended`, `FailureTarget`, …
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
    /// Machine-readable reason, e.g. `BackoffLimitExceeded`.
    pub reason: Option<String>,
}

impl JobCondition {
    fn is(&self, type_: &str) -> bool {
        self.type_.as_deref() == Some(type_)
    }
}

// ===== family table =====

/// The job kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `jobMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<Job> = Kind {
    resource: "jobs",
    api: ApiType::new("batch", "v1", "Job", "jobs"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::job::Job>),
    identity,
    families: &[
        Family::experimental(
            "kube_job_annotations",
            "Job annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_job_labels",
            "Job labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_job_info",
            "Constant 1 for every job.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_job_created",
            "Unix time (seconds) at which the job object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_job_spec_parallelism",
            "Most pods the job may run at the same time (spec.parallelism).",
            MetricType::Gauge,
            spec_parallelism,
        ),
        Family::stable(
            "kube_job_spec_completions",
            "Successfully finished pods the job asks for (spec.completions).",
            MetricType::Gauge,
            spec_completions,
        ),
        Family::stable(
            "kube_job_spec_active_deadline_seconds",
            "Seconds after its start time that the job may stay active before it is terminated.",
            MetricType::Gauge,
            spec_active_deadline_seconds,
        ),
        Family::stable(
            "kube_job_status_succeeded",
            "Pods of the job that reached phase Succeeded.",
            MetricType::Gauge,
            status_succeeded,
        ),
        Family::stable(
            "kube_job_status_failed",
            "Pods of the job that reached phase Failed, by the job's failure reason.",
            MetricType::Gauge,
            status_failed,
        ),
        Family::stable(
            "kube_job_status_active",
            "Pods of the job currently running.",
            MetricType::Gauge,
            status_active,
        ),
        Family::experimental(
            "kube_job_status_ready",
            "Pods of the job that are ready.",
            MetricType::Gauge,
            status_ready,
        ),
        Family::stable(
            "kube_job_complete",
            "Status of the job's Complete condition, one series per possible status.",
            MetricType::Gauge,
            complete,
        ),
        Family::stable(
            "kube_job_failed",
            "Status of the job's Failed condition, one series per possible status.",
            MetricType::Gauge,
            failed,
        ),
        Family::stable(
            "kube_job_status_start_time",
            "Unix time (seconds) at which the job controller started the job.",
            MetricType::Gauge,
            status_start_time,
        ),
        Family::stable(
            "kube_job_status_completion_time",
            "Unix time (seconds) at which the job completed.",
            MetricType::Gauge,
            status_completion_time,
        ),
        Family::experimental(
            "kube_job_status_suspended",
            "1 while the job's Suspended condition is True, else 0; absent without that condition.",
            MetricType::Gauge,
            status_suspended,
        ),
        Family::stable(
            "kube_job_owner",
            "One series per owner reference of the job.",
            MetricType::Gauge,
            metadata::owners,
        ),
    ],
};

/// `namespace`, `job_name`, like `wrapJobFunc` (`descJobLabelsDefaultLabels`).
fn identity(j: &Job) -> Identity {
    Identity::new([
        ("namespace", j.metadata.namespace.as_deref().unwrap_or("")),
        ("job_name", j.metadata.name.as_deref().unwrap_or("")),
    ])
}

/// The reasons `kube_job_status_failed` enumerates (`jobFailureReasons`), in KSM's order.
const FAILURE_REASONS: [&str; 3] = ["BackoffLimitExceeded", "DeadlineExceeded", "Evicted"];

// ===== family functions =====

/// The `kube_job_info` generator: always one sample.
fn info(_: &Job, out: &mut Series<'_>) {
    out.value(1.0);
}

/// The `kube_job_spec_parallelism` generator: nothing when unset.
fn spec_parallelism(j: &Job, out: &mut Series<'_>) {
    if let Some(v) = j.spec.parallelism {
        out.value(f64::from(v));
    }
}

/// The `kube_job_spec_completions` generator: nothing when unset.
fn spec_completions(j: &Job, out: &mut Series<'_>) {
    if let Some(v) = j.spec.completions {
        out.value(f64::from(v));
    }
}

/// The `kube_job_spec_active_deadline_seconds` generator: nothing when unset.
fn spec_active_deadline_seconds(j: &Job, out: &mut Series<'_>) {
    if let Some(v) = j.spec.active_deadline_seconds {
        #[allow(
            clippy::cast_precision_loss,
            reason = "float64(int64) as KSM converts it"
        )]
        out.value(v as f64);
    }
}

/// The `kube_job_status_succeeded` generator: always one sample.
fn status_succeeded(j: &Job, out: &mut Series<'_>) {
    out.value(f64::from(j.status.succeeded));
}

/// The `kube_job_status_failed` generator.
///
/// With no failed pod: one sample without `reason`. Otherwise, for every `Failed` condition,
/// one sample per known reason (1 for the condition's own reason); then, unless some `Failed`
/// condition carried a known reason, one `reason=""` sample holding the failed-pod count.
fn status_failed(j: &Job, out: &mut Series<'_>) {
    let failed = j.status.failed;
    if failed == 0 {
        out.value(0.0);
        return;
    }
    let mut reason_known = false;
    for c in j.status.conditions.iter().filter(|c| c.is("Failed")) {
        let reason = c.reason.as_deref().unwrap_or("");
        for known in FAILURE_REASONS {
            reason_known |= reason == known;
            out.sample([("reason", known)], bool_value(reason == known));
        }
    }
    if !reason_known {
        out.sample([("reason", "")], f64::from(failed));
    }
}

/// The `kube_job_status_active` generator: always one sample.
fn status_active(j: &Job, out: &mut Series<'_>) {
    out.value(f64::from(j.status.active));
}

/// The `kube_job_status_ready` generator: always one sample, 0 when unset.
fn status_ready(j: &Job, out: &mut Series<'_>) {
    out.value(f64::from(j.status.ready.unwrap_or(0)));
}

/// The `kube_job_complete` generator: three samples per `Complete` condition.
fn complete(j: &Job, out: &mut Series<'_>) {
    condition_state_samples(j, "Complete", out);
}

/// The `kube_job_failed` generator: three samples per `Failed` condition.
fn failed(j: &Job, out: &mut Series<'_>) {
    condition_state_samples(j, "Failed", out);
}

/// The `kube_job_status_start_time` generator: the timestamp whenever it is present (KSM checks
/// for nil only, so Go's zero time would print as its Unix seconds).
fn status_start_time(j: &Job, out: &mut Series<'_>) {
    if let Some(t) = &j.status.start_time {
        out.value(timestamp(t));
    }
}

/// The `kube_job_status_completion_time` generator: as `status_start_time`.
fn status_completion_time(j: &Job, out: &mut Series<'_>) {
    if let Some(t) = &j.status.completion_time {
        out.value(timestamp(t));
    }
}

/// The `kube_job_status_suspended` generator: one sample per `Suspended` condition, 1 when it
/// is `True`.
fn status_suspended(j: &Job, out: &mut Series<'_>) {
    for c in j.status.conditions.iter().filter(|c| c.is("Suspended")) {
        out.value(bool_value(c.status.as_deref() == Some("True")));
    }
}

// ===== helpers =====

/// `addConditionMetrics` as `kube_job_complete`/`kube_job_failed` use it: for every condition
/// of `type_`, one sample per possible status, under the label name `condition` (KSM renames
/// the status label for these two families).
fn condition_state_samples(j: &Job, type_: &str, out: &mut Series<'_>) {
    for c in j.status.conditions.iter().filter(|c| c.is(type_)) {
        condition_samples_as(out, &[], "condition", c.status.as_deref().unwrap_or(""));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(job: &Job, f: fn(&Job, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(job, identity(job), &RenderContext::default(), f)
    }

    fn job(json: &str) -> Job {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn no_failed_pod_gives_one_sample_without_a_reason() {
        let j = job(r#"{"metadata":{"name":"j","namespace":"ns"}}"#);
        assert_eq!(
            render(&j, status_failed),
            "m{namespace=\"ns\",job_name=\"j\"} 0\n"
        );
    }

    #[test]
    fn a_known_failure_reason_enumerates_every_reason_and_drops_the_count() {
        let j = job(
            r#"{"metadata":{"name":"j","namespace":"ns"},"status":{"failed":3,
            "conditions":[{"type":"Failed","status":"True","reason":"DeadlineExceeded"}]}}"#,
        );
        assert_eq!(
            render(&j, status_failed),
            "m{namespace=\"ns\",job_name=\"j\",reason=\"BackoffLimitExceeded\"} 0\n\
             m{namespace=\"ns\",job_name=\"j\",reason=\"DeadlineExceeded\"} 1\n\
             m{namespace=\"ns\",job_name=\"j\",reason=\"Evicted\"} 0\n"
        );
    }

    #[test]
    fn an_unknown_failure_reason_adds_the_count_under_an_empty_reason() {
        let j = job(
            r#"{"metadata":{"name":"j","namespace":"ns"},"status":{"failed":2,
            "conditions":[{"type":"Failed","status":"True","reason":"PodFailurePolicy"}]}}"#,
        );
        assert_eq!(
            render(&j, status_failed),
            "m{namespace=\"ns\",job_name=\"j\",reason=\"BackoffLimitExceeded\"} 0\n\
             m{namespace=\"ns\",job_name=\"j\",reason=\"DeadlineExceeded\"} 0\n\
             m{namespace=\"ns\",job_name=\"j\",reason=\"Evicted\"} 0\n\
             m{namespace=\"ns\",job_name=\"j\",reason=\"\"} 2\n"
        );
        // Failed pods without any Failed condition: only the count.
        let j = job(r#"{"metadata":{"name":"j","namespace":"ns"},"status":{"failed":1}}"#);
        assert_eq!(
            render(&j, status_failed),
            "m{namespace=\"ns\",job_name=\"j\",reason=\"\"} 1\n"
        );
    }

    #[test]
    fn complete_uses_the_condition_label_for_the_status() {
        let j = job(r#"{"metadata":{"name":"j","namespace":"ns"},"status":{
            "conditions":[{"type":"Complete","status":"True"},{"type":"Failed","status":"False"}]}}"#);
        assert_eq!(
            render(&j, complete),
            "m{namespace=\"ns\",job_name=\"j\",condition=\"true\"} 1\n\
             m{namespace=\"ns\",job_name=\"j\",condition=\"false\"} 0\n\
             m{namespace=\"ns\",job_name=\"j\",condition=\"unknown\"} 0\n"
        );
        assert_eq!(
            render(&j, failed),
            "m{namespace=\"ns\",job_name=\"j\",condition=\"true\"} 0\n\
             m{namespace=\"ns\",job_name=\"j\",condition=\"false\"} 1\n\
             m{namespace=\"ns\",job_name=\"j\",condition=\"unknown\"} 0\n"
        );
    }

    #[test]
    fn owners_without_controller_flag_report_false_and_no_owner_reports_empty_labels() {
        let j = job(
            r#"{"metadata":{"name":"j","namespace":"ns","ownerReferences":[
            {"apiVersion":"batch/v1","kind":"CronJob","name":"c","uid":"u1","controller":true},
            {"apiVersion":"v1","kind":"ConfigMap","name":"cm","uid":"u2"}]}}"#,
        );
        assert_eq!(
            render(&j, metadata::owners),
            "m{namespace=\"ns\",job_name=\"j\",owner_kind=\"CronJob\",owner_name=\"c\",owner_is_controller=\"true\"} 1\n\
             m{namespace=\"ns\",job_name=\"j\",owner_kind=\"ConfigMap\",owner_name=\"cm\",owner_is_controller=\"false\"} 1\n"
        );
        let j = job(r#"{"metadata":{"name":"j","namespace":"ns"}}"#);
        assert_eq!(
            render(&j, metadata::owners),
            "m{namespace=\"ns\",job_name=\"j\",owner_kind=\"\",owner_name=\"\",owner_is_controller=\"\"} 1\n"
        );
    }

    #[test]
    fn null_status_and_spec_decode_as_defaults() {
        let j = job(
            r#"{"metadata":{"name":"j"},"spec":null,"status":{"conditions":null,"active":null}}"#,
        );
        assert_eq!(
            render(&j, status_active),
            "m{namespace=\"\",job_name=\"j\"} 0\n"
        );
        assert_eq!(render(&j, spec_parallelism), "");
        assert_eq!(render(&j, status_suspended), "");
    }
}
