//! `admissionregistration.k8s.io/v1/MutatingAdmissionPolicy`, lean: its parameter kind,
//! failure and reinvocation policies, all the mutatingadmissionpolicy families read (the JSON
//! twin is the lean `MutatingAdmissionPolicy` in `resources/mutatingadmissionpolicy.rs`), at
//! the field numbers of `k8s.io/api/admissionregistration/v1/generated.proto`.

use super::admission::{ParamKind, param_kind};
use super::meta::{ObjectMeta, omitempty};
use super::{Message, Result};
use crate::resources::mutatingadmissionpolicy as lean;

/// `admissionregistration/v1.MutatingAdmissionPolicy`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MutatingAdmissionPolicy {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<MutatingAdmissionPolicySpec>,
}

/// `admissionregistration/v1.MutatingAdmissionPolicySpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MutatingAdmissionPolicySpec {
    /// `paramKind` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub param_kind: Option<ParamKind>,
    /// `failurePolicy` (a pointer).
    #[prost(string, optional, tag = "5")]
    pub failure_policy: Option<String>,
    /// `reinvocationPolicy`: a value tagged `omitempty`, unlike the failure policy.
    #[prost(string, optional, tag = "7")]
    pub reinvocation_policy: Option<String>,
}

impl Message for MutatingAdmissionPolicy {
    type Object = lean::MutatingAdmissionPolicy;
    const NAME: &'static str = "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy";

    fn into_object(self) -> Result<lean::MutatingAdmissionPolicy> {
        let spec = self.spec.unwrap_or_default();
        Ok(lean::MutatingAdmissionPolicy {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::PolicySpec {
                param_kind: param_kind(spec.param_kind),
                failure_policy: spec.failure_policy,
                reinvocation_policy: omitempty(spec.reinvocation_policy),
            },
        })
    }
}
