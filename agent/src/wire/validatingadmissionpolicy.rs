//! `admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy`, lean: its parameter kind and
//! failure policy, all the validatingadmissionpolicy families read (the JSON twin is the lean
//! `ValidatingAdmissionPolicy` in `resources/validatingadmissionpolicy.rs`), at the field
//! numbers of `k8s.io/api/admissionregistration/v1/generated.proto`.

use super::admission::{ParamKind, param_kind};
use super::meta::ObjectMeta;
use super::{Message, Result};
use crate::resources::validatingadmissionpolicy as lean;

/// `admissionregistration/v1.ValidatingAdmissionPolicy`, lean: the status is not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValidatingAdmissionPolicy {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<ValidatingAdmissionPolicySpec>,
}

/// `admissionregistration/v1.ValidatingAdmissionPolicySpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValidatingAdmissionPolicySpec {
    /// `paramKind` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub param_kind: Option<ParamKind>,
    /// `failurePolicy` (a pointer).
    #[prost(string, optional, tag = "4")]
    pub failure_policy: Option<String>,
}

impl Message for ValidatingAdmissionPolicy {
    type Object = lean::ValidatingAdmissionPolicy;
    const NAME: &'static str = "admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy";

    fn into_object(self) -> Result<lean::ValidatingAdmissionPolicy> {
        let spec = self.spec.unwrap_or_default();
        Ok(lean::ValidatingAdmissionPolicy {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::PolicySpec {
                param_kind: param_kind(spec.param_kind),
                failure_policy: spec.failure_policy,
            },
        })
    }
}
