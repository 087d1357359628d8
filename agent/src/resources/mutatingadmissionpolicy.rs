//! MutatingAdmissionPolicies (`admissionregistration.k8s.io/v1/MutatingAdmissionPolicy`), scope
//! [`Scope::Cluster`]: watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/mutatingadmissionpolicy.go` (`mutatingAdmissionPolicyMetricFamilies`), family by
//! family, in the same order.
//!
//! Every family is a pure function of one decoded [`MutatingAdmissionPolicy`]; the identity labels
//! `namespace`, `mutatingadmissionpolicy` are put in front by the writer, as
//! `wrapMutatingAdmissionPolicyFunc` does. The object is cluster-scoped, so `namespace` is always
//! empty; KSM keeps the label and so do we. See [`KIND`].
//!
//! NOTE: KSM reads this kind at `admissionregistration.k8s.io/v1`, which Kubernetes serves only
//! from the release that made MutatingAdmissionPolicy GA; on older clusters (v1alpha1/v1beta1 only)
//! the watch fails and is retried, as KSM's does.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::admission::{ParamKind, param_kind_labels};
use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a MutatingAdmissionPolicy that the families read; match constraints, mutations and
/// variables are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct MutatingAdmissionPolicy {
    /// Identity and creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: PolicySpec,
}
crate::impl_object!(MutatingAdmissionPolicy => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicySpec {
    /// The kind of the parameter resources, when the policy takes parameters.
    pub param_kind: Option<ParamKind>,
    /// `Fail` or `Ignore`.
    pub failure_policy: Option<String>,
    /// `Never` or `IfNeeded`.
    pub reinvocation_policy: Option<String>,
}

// ===== family table =====

/// The mutatingadmissionpolicy kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `mutatingAdmissionPolicyMetricFamilies` order:
/// it is the exposition order.
pub static KIND: Kind<MutatingAdmissionPolicy> = Kind {
    resource: "mutatingadmissionpolicies",
    api: ApiType::new("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicy", "mutatingadmissionpolicies"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::mutatingadmissionpolicy::MutatingAdmissionPolicy>),
    identity,
    families: &[
        Family::experimental(
            "kube_mutatingadmissionpolicy_info",
            "The mutating admission policy, with its parameter kind, failure policy and reinvocation policy.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_mutatingadmissionpolicy_created",
            "Unix time (seconds) at which the mutating admission policy was created.",
            MetricType::Gauge,
            metadata::created,
        ),
    ],
};

/// `namespace`, `mutatingadmissionpolicy`, like `wrapMutatingAdmissionPolicyFunc`.
fn identity(p: &MutatingAdmissionPolicy) -> Identity {
    Identity::new([
        ("namespace", p.metadata.namespace.as_deref().unwrap_or("")),
        (
            "mutatingadmissionpolicy",
            p.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// `kube_mutatingadmissionpolicy_info` in `mutatingAdmissionPolicyMetricFamilies`: one sample with
/// `param_api_version`, `param_kind`, `failure_policy`, `reinvocation_policy`, empty when unset.
fn info(p: &MutatingAdmissionPolicy, out: &mut Series<'_>) {
    out.sample(
        param_kind_labels(p.spec.param_kind.as_ref())
            .into_iter()
            .chain([
                (
                    "failure_policy",
                    p.spec.failure_policy.as_deref().unwrap_or(""),
                ),
                (
                    "reinvocation_policy",
                    p.spec.reinvocation_policy.as_deref().unwrap_or(""),
                ),
            ]),
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        p: &MutatingAdmissionPolicy,
        f: fn(&MutatingAdmissionPolicy, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(p, identity(p), &RenderContext::default(), f)
    }

    #[test]
    fn info_reads_the_param_kind_and_policies_and_leaves_unset_ones_empty() {
        let p: MutatingAdmissionPolicy = serde_json::from_str(
            r#"{"metadata":{"name":"p"},"spec":{"paramKind":{"apiVersion":"rules.example.com/v1","kind":"Rule"},"failurePolicy":"Fail","reinvocationPolicy":"Never"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&p, info),
            "m{namespace=\"\",mutatingadmissionpolicy=\"p\",param_api_version=\"rules.example.com/v1\",param_kind=\"Rule\",failure_policy=\"Fail\",reinvocation_policy=\"Never\"} 1\n"
        );
        let bare: MutatingAdmissionPolicy =
            serde_json::from_str(r#"{"metadata":{"name":"p"},"spec":null}"#).unwrap();
        assert_eq!(
            render(&bare, info),
            "m{namespace=\"\",mutatingadmissionpolicy=\"p\",param_api_version=\"\",param_kind=\"\",failure_policy=\"\",reinvocation_policy=\"\"} 1\n"
        );
    }
}
