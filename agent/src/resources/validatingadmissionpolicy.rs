//! ValidatingAdmissionPolicies (`admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy`), scope
//! [`Scope::Cluster`]: watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/validatingadmissionpolicy.go` (`validatingAdmissionPolicyMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ValidatingAdmissionPolicy`]; the identity
//! labels `namespace`, `validatingadmissionpolicy` are put in front by the writer, as
//! `wrapValidatingAdmissionPolicyFunc` does. The object is cluster-scoped, so `namespace` is always
//! empty; KSM keeps the label and so do we. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::admission::{ParamKind, param_kind_labels};
use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ValidatingAdmissionPolicy that the families read; match constraints, validations
/// and variables are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ValidatingAdmissionPolicy {
    /// Identity and creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: PolicySpec,
}
crate::impl_object!(ValidatingAdmissionPolicy => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct PolicySpec {
    /// The kind of the parameter resources, when the policy takes parameters.
    pub param_kind: Option<ParamKind>,
    /// `Fail` or `Ignore`.
    pub failure_policy: Option<String>,
}

// ===== family table =====

/// The validatingadmissionpolicy kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `validatingAdmissionPolicyMetricFamilies` order:
/// it is the exposition order.
pub static KIND: Kind<ValidatingAdmissionPolicy> = Kind {
    resource: "validatingadmissionpolicies",
    api: ApiType::new("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicy", "validatingadmissionpolicies"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::validatingadmissionpolicy::ValidatingAdmissionPolicy>),
    identity,
    families: &[
        Family::experimental(
            "kube_validatingadmissionpolicy_info",
            "The validating admission policy, with its parameter kind and failure policy.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_validatingadmissionpolicy_created",
            "Unix time (seconds) at which the validating admission policy was created.",
            MetricType::Gauge,
            metadata::created,
        ),
    ],
};

/// `namespace`, `validatingadmissionpolicy`, like `wrapValidatingAdmissionPolicyFunc`.
fn identity(p: &ValidatingAdmissionPolicy) -> Identity {
    Identity::new([
        ("namespace", p.metadata.namespace.as_deref().unwrap_or("")),
        (
            "validatingadmissionpolicy",
            p.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// `kube_validatingadmissionpolicy_info` in `validatingAdmissionPolicyMetricFamilies`: one sample
/// with `param_api_version`, `param_kind`, `failure_policy`, empty when unset.
fn info(p: &ValidatingAdmissionPolicy, out: &mut Series<'_>) {
    out.sample(
        param_kind_labels(p.spec.param_kind.as_ref())
            .into_iter()
            .chain([(
                "failure_policy",
                p.spec.failure_policy.as_deref().unwrap_or(""),
            )]),
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        p: &ValidatingAdmissionPolicy,
        f: fn(&ValidatingAdmissionPolicy, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(p, identity(p), &RenderContext::default(), f)
    }

    #[test]
    fn info_reads_the_param_kind_and_policies_and_leaves_unset_ones_empty() {
        let p: ValidatingAdmissionPolicy = serde_json::from_str(
            r#"{"metadata":{"name":"p"},"spec":{"paramKind":{"apiVersion":"rules.example.com/v1","kind":"Rule"},"failurePolicy":"Fail"}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&p, info),
            "m{namespace=\"\",validatingadmissionpolicy=\"p\",param_api_version=\"rules.example.com/v1\",param_kind=\"Rule\",failure_policy=\"Fail\"} 1\n"
        );
        let bare: ValidatingAdmissionPolicy =
            serde_json::from_str(r#"{"metadata":{"name":"p"},"spec":null}"#).unwrap();
        assert_eq!(
            render(&bare, info),
            "m{namespace=\"\",validatingadmissionpolicy=\"p\",param_api_version=\"\",param_kind=\"\",failure_policy=\"\"} 1\n"
        );
    }
}
