//! `admissionregistration.k8s.io/v1/MutatingAdmissionPolicyBinding`, lean: the policy it binds
//! and its parameter reference, all the mutatingadmissionpolicybinding families read (the JSON
//! twin is the lean `MutatingAdmissionPolicyBinding` in
//! `resources/mutatingadmissionpolicybinding.rs`), at the field numbers of
//! `k8s.io/api/admissionregistration/v1/generated.proto`.

use super::admission::{ParamRef, param_ref};
use super::meta::{ObjectMeta, omitempty};
use super::{Message, Result};
use crate::resources::mutatingadmissionpolicybinding as lean;

/// `admissionregistration/v1.MutatingAdmissionPolicyBinding`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MutatingAdmissionPolicyBinding {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<MutatingAdmissionPolicyBindingSpec>,
}

/// `admissionregistration/v1.MutatingAdmissionPolicyBindingSpec`, lean: match resources are
/// not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MutatingAdmissionPolicyBindingSpec {
    /// `policyName`.
    #[prost(string, optional, tag = "1")]
    pub policy_name: Option<String>,
    /// `paramRef` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub param_ref: Option<ParamRef>,
}

impl Message for MutatingAdmissionPolicyBinding {
    type Object = lean::MutatingAdmissionPolicyBinding;
    const NAME: &'static str = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicyBinding";

    fn into_object(self) -> Result<lean::MutatingAdmissionPolicyBinding> {
        let spec = self.spec.unwrap_or_default();
        Ok(lean::MutatingAdmissionPolicyBinding {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::BindingSpec {
                policy_name: omitempty(spec.policy_name),
                param_ref: param_ref(spec.param_ref),
            },
        })
    }
}
