//! ValidatingAdmissionPolicyBindings
//! (`admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding`), scope [`Scope::Cluster`]:
//! watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/validatingadmissionpolicybinding.go`
//! (`validatingAdmissionPolicyBindingMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ValidatingAdmissionPolicyBinding`]; the
//! identity labels `namespace`, `validatingadmissionpolicybinding` are put in front by the writer,
//! as `wrapValidatingAdmissionPolicyBindingFunc` does. The object is cluster-scoped, so `namespace`
//! is always empty; KSM keeps the label and so do we. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::admission::{ParamRef, policy_binding_info_sample};
use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ValidatingAdmissionPolicyBinding that the families read; match resources are
/// skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ValidatingAdmissionPolicyBinding {
    /// Identity and creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: BindingSpec,
}
crate::impl_object!(ValidatingAdmissionPolicyBinding => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct BindingSpec {
    /// The policy bound.
    pub policy_name: Option<String>,
    /// The parameter resource, when the policy takes one.
    pub param_ref: Option<ParamRef>,
    /// `Deny`, `Warn`, `Audit`, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub validation_actions: Vec<String>,
}

// ===== family table =====

/// The validatingadmissionpolicybinding kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `validatingAdmissionPolicyBindingMetricFamilies`
/// order: it is the exposition order.
pub static KIND: Kind<ValidatingAdmissionPolicyBinding> = Kind {
    resource: "validatingadmissionpolicybindings",
    api: ApiType::new("admissionregistration.k8s.io", "v1", "ValidatingAdmissionPolicyBinding", "validatingadmissionpolicybindings"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::validatingadmissionpolicybinding::ValidatingAdmissionPolicyBinding>),
    identity,
    families: &[
        Family::experimental(
            "kube_validatingadmissionpolicybinding_info",
            "The validating admission policy binding, with the policy it binds and its parameter reference.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_validatingadmissionpolicybinding_created",
            "Unix time (seconds) at which the validating admission policy binding was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_validatingadmissionpolicybinding_validation_action",
            "One series per validation action the binding enforces.",
            MetricType::Gauge,
            validation_action,
        ),
    ],
};

/// `namespace`, `validatingadmissionpolicybinding`, like
/// `wrapValidatingAdmissionPolicyBindingFunc`.
fn identity(b: &ValidatingAdmissionPolicyBinding) -> Identity {
    Identity::new([
        ("namespace", b.metadata.namespace.as_deref().unwrap_or("")),
        (
            "validatingadmissionpolicybinding",
            b.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// `kube_validatingadmissionpolicybinding_info` in
/// `validatingAdmissionPolicyBindingMetricFamilies`: one sample with `policy_name`, `param_name`,
/// `param_namespace`, `param_not_found_action`, empty when unset.
fn info(b: &ValidatingAdmissionPolicyBinding, out: &mut Series<'_>) {
    policy_binding_info_sample(
        out,
        b.spec.policy_name.as_deref(),
        b.spec.param_ref.as_ref(),
    );
}

/// `kube_validatingadmissionpolicybinding_validation_action`: one sample per
/// `spec.validationActions` entry, in spec order, `action` as written.
fn validation_action(b: &ValidatingAdmissionPolicyBinding, out: &mut Series<'_>) {
    for action in &b.spec.validation_actions {
        out.sample([("action", action.as_str())], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        b: &ValidatingAdmissionPolicyBinding,
        f: fn(&ValidatingAdmissionPolicyBinding, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(b, identity(b), &RenderContext::default(), f)
    }

    #[test]
    fn info_reads_the_param_ref_and_leaves_it_empty_when_absent() {
        let b: ValidatingAdmissionPolicyBinding = serde_json::from_str(
            r#"{"metadata":{"name":"b"},"spec":{"policyName":"p","paramRef":{"name":"param1","namespace":"ns1","parameterNotFoundAction":"Deny"}}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&b, info),
            "m{namespace=\"\",validatingadmissionpolicybinding=\"b\",policy_name=\"p\",param_name=\"param1\",param_namespace=\"ns1\",param_not_found_action=\"Deny\"} 1\n"
        );
        let bare: ValidatingAdmissionPolicyBinding =
            serde_json::from_str(r#"{"metadata":{"name":"b"}}"#).unwrap();
        assert_eq!(
            render(&bare, info),
            "m{namespace=\"\",validatingadmissionpolicybinding=\"b\",policy_name=\"\",param_name=\"\",param_namespace=\"\",param_not_found_action=\"\"} 1\n"
        );
    }

    #[test]
    fn each_validation_action_gets_a_sample() {
        let b: ValidatingAdmissionPolicyBinding = serde_json::from_str(
            r#"{"metadata":{"name":"b"},"spec":{"validationActions":["Deny","Audit"]}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&b, validation_action),
            "m{namespace=\"\",validatingadmissionpolicybinding=\"b\",action=\"Deny\"} 1\n\
             m{namespace=\"\",validatingadmissionpolicybinding=\"b\",action=\"Audit\"} 1\n"
        );
    }
}
