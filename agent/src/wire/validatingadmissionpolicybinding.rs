//! `admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding`, lean: the policy it
//! binds, its parameter reference and validation actions, all the
//! validatingadmissionpolicybinding families read (the JSON twin is the lean
//! `ValidatingAdmissionPolicyBinding` in `resources/validatingadmissionpolicybinding.rs`), at
//! the field numbers of `k8s.io/api/admissionregistration/v1/generated.proto`.

use super::admission::{ParamRef, param_ref};
use super::meta::{ObjectMeta, omitempty};
use super::{Message, Result};
use crate::resources::validatingadmissionpolicybinding as lean;

/// `admissionregistration/v1.ValidatingAdmissionPolicyBinding`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValidatingAdmissionPolicyBinding {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<ValidatingAdmissionPolicyBindingSpec>,
}

/// `admissionregistration/v1.ValidatingAdmissionPolicyBindingSpec`, lean: match resources are
/// not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValidatingAdmissionPolicyBindingSpec {
    /// `policyName`.
    #[prost(string, optional, tag = "1")]
    pub policy_name: Option<String>,
    /// `paramRef` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub param_ref: Option<ParamRef>,
    /// `validationActions`.
    #[prost(string, repeated, tag = "4")]
    pub validation_actions: Vec<String>,
}

impl Message for ValidatingAdmissionPolicyBinding {
    type Object = lean::ValidatingAdmissionPolicyBinding;
    const NAME: &'static str = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicyBinding";

    fn into_object(self) -> Result<lean::ValidatingAdmissionPolicyBinding> {
        let spec = self.spec.unwrap_or_default();
        Ok(lean::ValidatingAdmissionPolicyBinding {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::BindingSpec {
                policy_name: omitempty(spec.policy_name),
                param_ref: param_ref(spec.param_ref),
                validation_actions: spec.validation_actions,
            },
        })
    }
}
