//! Deployments (`apps/v1/Deployment`), scope [`Scope::Namespaced`]: watched by the leader only.
//! Mirrors kube-state-metrics' `internal/store/deployment.go` (`deploymentMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`Deployment`]; the identity labels
//! `namespace`, `deployment` are put in front by the writer, as `wrapDeploymentFunc` does. See
//! [`KIND`].
//!
//! Where KSM would panic (a nil `spec.replicas` or an unparsable `maxSurge`/`maxUnavailable`
//! reaching `intstr.GetScaledValueFromIntOrPercent`) we emit no sample for the family instead:
//! the apiserver defaults and validates both fields, so only a hand-made object gets there.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde::Deserialize;

use super::common::{
    bool_value, condition_samples,
    null_as_default,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a Deployment that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Deployment {
    /// Identity, labels, annotations, owners, generation, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: DeploymentSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: DeploymentStatus,
}
crate::impl_object!(Deployment => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentSpec {
    /// Desired pods; the apiserver defaults it to 1.
    pub replicas: Option<i64>,
    /// Whether the rollout is paused.
    #[serde(deserialize_with = "null_as_default")]
    pub paused: bool,
    /// How old pods are replaced.
    #[serde(deserialize_with = "null_as_default")]
    pub strategy: DeploymentStrategy,
}

/// `spec.strategy`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentStrategy {
    /// Present for the `RollingUpdate` strategy only.
    pub rolling_update: Option<RollingUpdateDeployment>,
}

/// `spec.strategy.rollingUpdate`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct RollingUpdateDeployment {
    /// Pods that may be unavailable during the update: a count or a percentage.
    pub max_unavailable: Option<IntOrString>,
    /// Pods that may exist above the desired count: a count or a percentage.
    pub max_surge: Option<IntOrString>,
}

/// `status`, lean. Counters absent from the object read as 0, as Go's zero value.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct DeploymentStatus {
    /// Non-terminated pods targeted by the deployment.
    #[serde(deserialize_with = "null_as_default")]
    pub replicas: i64,
    /// Ready pods.
    #[serde(deserialize_with = "null_as_default")]
    pub ready_replicas: i64,
    /// Pods ready for at least `minReadySeconds`.
    #[serde(deserialize_with = "null_as_default")]
    pub available_replicas: i64,
    /// Pods still needed for 100% availability.
    #[serde(deserialize_with = "null_as_default")]
    pub unavailable_replicas: i64,
    /// Non-terminated pods with the desired template.
    #[serde(deserialize_with = "null_as_default")]
    pub updated_replicas: i64,
    /// Pods being deleted; unset unless the apiserver's
    /// `DeploymentReplicaSetTerminatingReplicas` feature is on.
    pub terminating_replicas: Option<i64>,
    /// The generation the controller last acted on.
    #[serde(deserialize_with = "null_as_default")]
    pub observed_generation: i64,
    /// Conditions, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<DeploymentCondition>,
}

/// One `status.conditions[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct DeploymentCondition {
    /// `Available`, `Progressing`, `ReplicaFailure`, …
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
    /// Machine-readable reason of the last transition.
    pub reason: Option<String>,
}

// ===== family table =====

/// The deployment kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `deploymentMetricFamilies` order: it is the
/// exposition order. Our stored copy of deployment.go predates `kube_deployment_owner` (PR
/// #2782, inserted first), `kube_deployment_status_terminating_replicas` (PR #2708, after
/// `status_replicas_updated`) and `kube_deployment_deletion_timestamp` (last); their places
/// come from those PRs and KSM v2.18's family listing.
pub static KIND: Kind<Deployment> = Kind {
    resource: "deployments",
    api: ApiType::new("apps", "v1", "Deployment", "deployments"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::deployment::Deployment>),
    identity,
    families: &[
        Family::experimental(
            "kube_deployment_owner",
            "One series per owner reference of the deployment (empty labels when it has none).",
            MetricType::Gauge,
            owner,
        ),
        Family::stable(
            "kube_deployment_created",
            "Unix time (seconds) at which the deployment was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_deployment_status_replicas",
            "Non-terminated pods targeted by the deployment.",
            MetricType::Gauge,
            status_replicas,
        ),
        Family::stable(
            "kube_deployment_status_replicas_ready",
            "Ready pods targeted by the deployment.",
            MetricType::Gauge,
            status_replicas_ready,
        ),
        Family::stable(
            "kube_deployment_status_replicas_available",
            "Pods of the deployment that have been ready for at least minReadySeconds.",
            MetricType::Gauge,
            status_replicas_available,
        ),
        Family::stable(
            "kube_deployment_status_replicas_unavailable",
            "Pods the deployment still lacks to be fully available.",
            MetricType::Gauge,
            status_replicas_unavailable,
        ),
        Family::stable(
            "kube_deployment_status_replicas_updated",
            "Non-terminated pods of the deployment that run the current pod template.",
            MetricType::Gauge,
            status_replicas_updated,
        ),
        Family::experimental(
            "kube_deployment_status_terminating_replicas",
            "Pods of the deployment that are being deleted, when the apiserver reports it.",
            MetricType::Gauge,
            status_terminating_replicas,
        ),
        Family::stable(
            "kube_deployment_status_observed_generation",
            "The generation of the deployment last acted on by its controller.",
            MetricType::Gauge,
            status_observed_generation,
        ),
        Family::stable(
            "kube_deployment_status_condition",
            "Status of each deployment condition, one series per possible status, with its reason.",
            MetricType::Gauge,
            status_condition,
        ),
        Family::stable(
            "kube_deployment_spec_replicas",
            "Desired number of pods of the deployment.",
            MetricType::Gauge,
            spec_replicas,
        ),
        Family::stable(
            "kube_deployment_spec_paused",
            "1 when the deployment's rollout is paused, else 0.",
            MetricType::Gauge,
            spec_paused,
        ),
        Family::stable(
            "kube_deployment_spec_strategy_rollingupdate_max_unavailable",
            "Pods that may be unavailable during a rolling update, percentages resolved (rounded down).",
            MetricType::Gauge,
            spec_strategy_rollingupdate_max_unavailable,
        ),
        Family::stable(
            "kube_deployment_spec_strategy_rollingupdate_max_surge",
            "Pods that may be created above the desired count during a rolling update, percentages resolved (rounded up).",
            MetricType::Gauge,
            spec_strategy_rollingupdate_max_surge,
        ),
        Family::stable(
            "kube_deployment_metadata_generation",
            "Sequence number of the deployment's desired state (metadata.generation).",
            MetricType::Gauge,
            metadata::generation,
        ),
        Family::experimental(
            "kube_deployment_annotations",
            "Deployment annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_deployment_labels",
            "Deployment labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_deployment_deletion_timestamp",
            "Unix time (seconds) at which the deployment was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
    ],
};

/// `namespace`, `deployment`, like `wrapDeploymentFunc`.
fn identity(d: &Deployment) -> Identity {
    Identity::new([
        ("namespace", d.metadata.namespace.as_deref().unwrap_or("")),
        ("deployment", d.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// KSM's `kube_deployment_owner` generator (PR #2782; not in our stored copy of deployment.go):
/// `owner_kind`, `owner_name` per owner reference, one sample with both empty when there is
/// none. Unlike the replica set's, it has no `owner_is_controller` label.
fn owner(d: &Deployment, out: &mut Series<'_>) {
    let owners = d.metadata.owner_references.as_deref().unwrap_or(&[]);
    if owners.is_empty() {
        out.sample([("owner_kind", ""), ("owner_name", "")], 1.0);
        return;
    }
    for o in owners {
        out.sample(
            [
                ("owner_kind", o.kind.as_str()),
                ("owner_name", o.name.as_str()),
            ],
            1.0,
        );
    }
}

/// `kube_deployment_status_replicas`: `status.replicas`, 0 when unset.
fn status_replicas(d: &Deployment, out: &mut Series<'_>) {
    out.value(d.status.replicas as f64);
}

/// `kube_deployment_status_replicas_ready`.
fn status_replicas_ready(d: &Deployment, out: &mut Series<'_>) {
    out.value(d.status.ready_replicas as f64);
}

/// `kube_deployment_status_replicas_available`.
fn status_replicas_available(d: &Deployment, out: &mut Series<'_>) {
    out.value(d.status.available_replicas as f64);
}

/// `kube_deployment_status_replicas_unavailable`.
fn status_replicas_unavailable(d: &Deployment, out: &mut Series<'_>) {
    out.value(d.status.unavailable_replicas as f64);
}

/// `kube_deployment_status_replicas_updated`.
fn status_replicas_updated(d: &Deployment, out: &mut Series<'_>) {
    out.value(d.status.updated_replicas as f64);
}

/// KSM's `kube_deployment_status_terminating_replicas` generator (PR #2708; not in our stored
/// copy of deployment.go): nothing while the pointer field is unset, as deployment_test.go
/// expects.
fn status_terminating_replicas(d: &Deployment, out: &mut Series<'_>) {
    if let Some(n) = d.status.terminating_replicas {
        out.value(n as f64);
    }
}

/// `kube_deployment_status_observed_generation`.
fn status_observed_generation(d: &Deployment, out: &mut Series<'_>) {
    out.value(d.status.observed_generation as f64);
}

/// `kube_deployment_status_condition`: `reason`, `condition`, `status` — three samples per
/// condition, in status order. A reason outside the deployment controller's own set becomes
/// `unknown` (see [`condition_reason`]).
fn status_condition(d: &Deployment, out: &mut Series<'_>) {
    for c in &d.status.conditions {
        condition_samples(
            out,
            &[
                (
                    "reason",
                    condition_reason(c.reason.as_deref().unwrap_or("")),
                ),
                ("condition", c.type_.as_deref().unwrap_or("")),
            ],
            c.status.as_deref().unwrap_or(""),
        );
    }
}

/// `kube_deployment_spec_replicas`. KSM dereferences the pointer unguarded (a nil would panic);
/// we emit nothing.
fn spec_replicas(d: &Deployment, out: &mut Series<'_>) {
    if let Some(n) = d.spec.replicas {
        out.value(n as f64);
    }
}

/// `kube_deployment_spec_paused`: always one sample.
fn spec_paused(d: &Deployment, out: &mut Series<'_>) {
    out.value(bool_value(d.spec.paused));
}

/// `kube_deployment_spec_strategy_rollingupdate_max_unavailable`: nothing without a
/// `rollingUpdate` block; a percentage of `spec.replicas` is rounded down.
fn spec_strategy_rollingupdate_max_unavailable(d: &Deployment, out: &mut Series<'_>) {
    rolling_update_sample(d, |ru| ru.max_unavailable.as_ref(), false, out);
}

/// `kube_deployment_spec_strategy_rollingupdate_max_surge`: nothing without a `rollingUpdate`
/// block; a percentage of `spec.replicas` is rounded up.
fn spec_strategy_rollingupdate_max_surge(d: &Deployment, out: &mut Series<'_>) {
    rolling_update_sample(d, |ru| ru.max_surge.as_ref(), true, out);
}

// ===== helpers =====

/// The reasons `allowedDeploymentReasons` lets through (those the deployment controller sets,
/// plus the empty reason); any other reason is reported as `unknown`, which bounds the label's
/// values.
fn condition_reason(reason: &str) -> &str {
    const ALLOWED: [&str; 11] = [
        "ReplicaSetUpdated",
        "ReplicaSetCreateError",
        "NewReplicaSetCreated",
        "FoundNewReplicaSet",
        "NewReplicaSetAvailable",
        "ProgressDeadlineExceeded",
        "DeploymentPaused",
        "DeploymentResumed",
        "MinimumReplicasAvailable",
        "MinimumReplicasUnavailable",
        "",
    ];
    if ALLOWED.contains(&reason) {
        reason
    } else {
        "unknown"
    }
}

/// The shared shape of the two rolling-update families: nothing without `rollingUpdate`, nil
/// `spec.replicas`, or a value that does not resolve.
fn rolling_update_sample(
    d: &Deployment,
    field: fn(&RollingUpdateDeployment) -> Option<&IntOrString>,
    round_up: bool,
    out: &mut Series<'_>,
) {
    let Some(ru) = &d.spec.strategy.rolling_update else {
        return;
    };
    let Some(total) = d.spec.replicas else {
        return;
    };
    if let Some(v) = scaled_value_from_int_or_percent(field(ru), total, round_up) {
        out.value(v as f64);
    }
}

/// apimachinery's `intstr.GetScaledValueFromIntOrPercent`: an integer as is; `"N%"` of `total`,
/// computed in float64 and rounded up or down. `None` where Go returns an error (nil value, a
/// string without `%`, a percentage that `strconv.Atoi` rejects).
fn scaled_value_from_int_or_percent(
    v: Option<&IntOrString>,
    total: i64,
    round_up: bool,
) -> Option<i64> {
    match v? {
        IntOrString::Int(i) => Some(i64::from(*i)),
        IntOrString::String(s) => {
            let percent: i64 = s.strip_suffix('%')?.parse().ok()?;
            let scaled = percent as f64 * total as f64 / 100.0;
            let rounded = if round_up {
                scaled.ceil()
            } else {
                scaled.floor()
            };
            Some(rounded as i64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(d: &Deployment, f: fn(&Deployment, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(d, identity(d), &RenderContext::default(), f)
    }

    fn deployment(json: &str) -> Deployment {
        serde_json::from_str(json).unwrap()
    }

    fn s(v: &str) -> IntOrString {
        IntOrString::String(v.to_string())
    }

    #[test]
    fn percentages_scale_with_replicas_rounding_down_for_unavailable_and_up_for_surge() {
        // deployment_test.go's depl2: 25% and 20% of 5 replicas both give 1.
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("25%")), 5, false),
            Some(1)
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("20%")), 5, true),
            Some(1)
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("25%")), 10, false),
            Some(2)
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("25%")), 10, true),
            Some(3)
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("0%")), 10, true),
            Some(0)
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("100%")), 0, true),
            Some(0)
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("+50%")), 3, false),
            Some(1)
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&IntOrString::Int(10)), 200, true),
            Some(10)
        );
    }

    #[test]
    fn values_go_rejects_give_no_sample_value() {
        assert_eq!(scaled_value_from_int_or_percent(None, 5, true), None);
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("5")), 5, true),
            None
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("x%")), 5, true),
            None
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s(" 5%")), 5, true),
            None
        );
        assert_eq!(
            scaled_value_from_int_or_percent(Some(&s("%")), 5, true),
            None
        );
    }

    #[test]
    fn rolling_update_families_need_a_rolling_update_block_and_replicas() {
        let recreate = deployment(
            r#"{"metadata":{"name":"d","namespace":"n"},"spec":{"replicas":3,
            "strategy":{"type":"Recreate"}}}"#,
        );
        assert_eq!(render(&recreate, spec_strategy_rollingupdate_max_surge), "");
        let no_replicas = deployment(
            r#"{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":"25%"}}}}"#,
        );
        assert_eq!(
            render(&no_replicas, spec_strategy_rollingupdate_max_surge),
            ""
        );
        assert_eq!(render(&no_replicas, spec_replicas), "");
        let half =
            deployment(r#"{"spec":{"replicas":4,"strategy":{"rollingUpdate":{"maxSurge":1}}}}"#);
        assert_eq!(
            render(&half, spec_strategy_rollingupdate_max_surge),
            "m{namespace=\"\",deployment=\"\"} 1\n"
        );
        assert_eq!(
            render(&half, spec_strategy_rollingupdate_max_unavailable),
            ""
        );
    }

    #[test]
    fn condition_reasons_outside_the_controllers_set_become_unknown() {
        assert_eq!(
            condition_reason("MinimumReplicasAvailable"),
            "MinimumReplicasAvailable"
        );
        assert_eq!(condition_reason(""), "");
        assert_eq!(condition_reason("ThisReasonIsNotAllowed"), "unknown");
        let d = deployment(
            r#"{"metadata":{"name":"depl3","namespace":"ns3"},"status":{"conditions":[
            {"type":"Available","status":"False","reason":"ThisReasonIsNotAllowed"}]}}"#,
        );
        assert_eq!(
            render(&d, status_condition),
            "m{namespace=\"ns3\",deployment=\"depl3\",reason=\"unknown\",condition=\"Available\",status=\"true\"} 0\n\
             m{namespace=\"ns3\",deployment=\"depl3\",reason=\"unknown\",condition=\"Available\",status=\"false\"} 1\n\
             m{namespace=\"ns3\",deployment=\"depl3\",reason=\"unknown\",condition=\"Available\",status=\"unknown\"} 0\n"
        );
    }

    #[test]
    fn owners_are_listed_without_a_controller_label_and_empty_when_absent() {
        let none = deployment(r#"{"metadata":{"name":"d","namespace":"n"}}"#);
        assert_eq!(
            render(&none, owner),
            "m{namespace=\"n\",deployment=\"d\",owner_kind=\"\",owner_name=\"\"} 1\n"
        );
        let one = deployment(
            r#"{"metadata":{"name":"d","namespace":"n","ownerReferences":[{"apiVersion":"x/v1",
            "kind":"Application","name":"my-app","uid":"u","controller":true}]}}"#,
        );
        assert_eq!(
            render(&one, owner),
            "m{namespace=\"n\",deployment=\"d\",owner_kind=\"Application\",owner_name=\"my-app\"} 1\n"
        );
    }

    #[test]
    fn terminating_replicas_appear_only_when_reported() {
        let unset = deployment(r#"{"status":{"replicas":2}}"#);
        assert_eq!(render(&unset, status_terminating_replicas), "");
        let zero = deployment(r#"{"status":{"terminatingReplicas":0}}"#);
        assert_eq!(
            render(&zero, status_terminating_replicas),
            "m{namespace=\"\",deployment=\"\"} 0\n"
        );
    }

    #[test]
    fn nulls_decode_as_absent() {
        let d = deployment(
            r#"{"metadata":{"name":"d"},"spec":{"replicas":null,"paused":null,"strategy":null},
            "status":{"replicas":null,"conditions":null,"terminatingReplicas":null}}"#,
        );
        assert_eq!(
            render(&d, status_replicas),
            "m{namespace=\"\",deployment=\"d\"} 0\n"
        );
        assert_eq!(
            render(&d, spec_paused),
            "m{namespace=\"\",deployment=\"d\"} 0\n"
        );
        assert_eq!(render(&d, status_condition), "");
        let d = deployment(r#"{"spec":null,"status":null}"#);
        assert_eq!(render(&d, spec_replicas), "");
    }
}
