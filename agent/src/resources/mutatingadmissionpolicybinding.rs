//! MutatingAdmissionPolicyBindings
//! (`admissionregistration.k8s.io/v1/MutatingAdmissionPolicyBinding`), scope [`Scope::Cluster`]:
//! watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/mutatingadmissionpolicybinding.go`
//! (`mutatingAdmissionPolicyBindingMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`MutatingAdmissionPolicyBinding`]; the identity
//! labels `namespace`, `mutatingadmissionpolicybinding` are put in front by the writer, as
//! `wrapMutatingAdmissionPolicyBindingFunc` does. The object is cluster-scoped, so `namespace` is
//! always empty; KSM keeps the label and so do we. See [`KIND`].
//!
//! NOTE: KSM reads this kind at `admissionregistration.k8s.io/v1`, which Kubernetes serves only
//! from the release that made MutatingAdmissionPolicy GA; on older clusters (v1alpha1/v1beta1 only)
//! the watch fails and is retried, as KSM's does.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::admission::{ParamRef, policy_binding_info_sample};
use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a MutatingAdmissionPolicyBinding that the families read; match resources are
/// skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct MutatingAdmissionPolicyBinding {
    /// Identity and creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: BindingSpec,
}
crate::impl_object!(MutatingAdmissionPolicyBinding => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct BindingSpec {
    /// The policy bound.
    pub policy_name: Option<String>,
    /// The parameter resource, when the policy takes one.
    pub param_ref: Option<ParamRef>,
}

// ===== family table =====

/// The mutatingadmissionpolicybinding kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `mutatingAdmissionPolicyBindingMetricFamilies`
/// order: it is the exposition order.
pub static KIND: Kind<MutatingAdmissionPolicyBinding> = Kind {
    resource: "mutatingadmissionpolicybindings",
    api: ApiType::new("admissionregistration.k8s.io", "v1", "MutatingAdmissionPolicyBinding", "mutatingadmissionpolicybindings"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::mutatingadmissionpolicybinding::MutatingAdmissionPolicyBinding>),
    identity,
    families: &[
        Family::experimental(
            "kube_mutatingadmissionpolicybinding_info",
            "The mutating admission policy binding, with the policy it binds and its parameter reference.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_mutatingadmissionpolicybinding_created",
            "Unix time (seconds) at which the mutating admission policy binding was created.",
            MetricType::Gauge,
            metadata::created,
        ),
    ],
};

/// `namespace`, `mutatingadmissionpolicybinding`, like `wrapMutatingAdmissionPolicyBindingFunc`.
fn identity(b: &MutatingAdmissionPolicyBinding) -> Identity {
    Identity::new([
        ("namespace", b.metadata.namespace.as_deref().unwrap_or("")),
        (
            "mutatingadmissionpolicybinding",
            b.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// `kube_mutatingadmissionpolicybinding_info` in `mutatingAdmissionPolicyBindingMetricFamilies`:
/// one sample with `policy_name`, `param_name`, `param_namespace`, `param_not_found_action`, empty
/// when unset.
fn info(b: &MutatingAdmissionPolicyBinding, out: &mut Series<'_>) {
    policy_binding_info_sample(
        out,
        b.spec.policy_name.as_deref(),
        b.spec.param_ref.as_ref(),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        b: &MutatingAdmissionPolicyBinding,
        f: fn(&MutatingAdmissionPolicyBinding, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(b, identity(b), &RenderContext::default(), f)
    }

    #[test]
    fn info_reads_the_param_ref_and_leaves_it_empty_when_absent() {
        let b: MutatingAdmissionPolicyBinding = serde_json::from_str(
            r#"{"metadata":{"name":"b"},"spec":{"policyName":"p","paramRef":{"name":"param1","namespace":"ns1","parameterNotFoundAction":"Deny"}}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&b, info),
            "m{namespace=\"\",mutatingadmissionpolicybinding=\"b\",policy_name=\"p\",param_name=\"param1\",param_namespace=\"ns1\",param_not_found_action=\"Deny\"} 1\n"
        );
        let bare: MutatingAdmissionPolicyBinding =
            serde_json::from_str(r#"{"metadata":{"name":"b"}}"#).unwrap();
        assert_eq!(
            render(&bare, info),
            "m{namespace=\"\",mutatingadmissionpolicybinding=\"b\",policy_name=\"\",param_name=\"\",param_namespace=\"\",param_not_found_action=\"\"} 1\n"
        );
    }
}
