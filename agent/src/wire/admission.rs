//! What the admission kinds share, at the field numbers of `k8s.io/api/admissionregistration/
//! v1/generated.proto`, converted into the lean types of `resources/admission.rs`:
//! - the two webhook configurations: a webhook's name and the service its client config names
//!   (the same numbers for `MutatingWebhook` and `ValidatingWebhook`); rules, selectors and the
//!   CA bundle are skipped by prost without being built;
//! - the two admission policies' `paramKind` and their two bindings' `paramRef` (one message
//!   each upstream, shared by the mutating and validating kinds); match constraints,
//!   validations, mutations and selectors are skipped.
//!
//! The 1.20 test apiserver serves none of the policy kinds, so their messages are checked on
//! hand-encoded objects (`agent/tests/protobuf.rs`).

use super::meta::{always, omitempty};
use crate::resources::admission as lean;

/// `admissionregistration/v1.MutatingWebhook` or `ValidatingWebhook`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Webhook {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `clientConfig`.
    #[prost(message, optional, tag = "2")]
    pub client_config: Option<WebhookClientConfig>,
}

/// `admissionregistration/v1.WebhookClientConfig`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct WebhookClientConfig {
    /// `service` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub service: Option<ServiceReference>,
}

/// `admissionregistration/v1.ServiceReference`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceReference {
    /// `namespace`.
    #[prost(string, optional, tag = "1")]
    pub namespace: Option<String>,
    /// `name`.
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
}

/// The lean webhooks: JSON always writes a webhook's name and a service's name and namespace.
pub fn webhooks(webhooks: Vec<Webhook>) -> Vec<lean::Webhook> {
    webhooks
        .into_iter()
        .map(|w| lean::Webhook {
            name: always(w.name),
            client_config: lean::ClientConfig {
                service: w
                    .client_config
                    .and_then(|c| c.service)
                    .map(|s| lean::ServiceReference {
                        name: always(s.name),
                        namespace: always(s.namespace),
                    }),
            },
        })
        .collect()
}

/// `admissionregistration/v1.ParamKind`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ParamKind {
    /// `apiVersion`.
    #[prost(string, optional, tag = "1")]
    pub api_version: Option<String>,
    /// `kind`.
    #[prost(string, optional, tag = "2")]
    pub kind: Option<String>,
}

/// `admissionregistration/v1.ParamRef`, lean: the selector is not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ParamRef {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `namespace`.
    #[prost(string, optional, tag = "2")]
    pub namespace: Option<String>,
    /// `parameterNotFoundAction` (a pointer).
    #[prost(string, optional, tag = "4")]
    pub parameter_not_found_action: Option<String>,
}

/// The lean `paramKind` (a pointer): both its strings are `omitempty`.
pub fn param_kind(param: Option<ParamKind>) -> Option<lean::ParamKind> {
    param.map(|p| lean::ParamKind {
        api_version: omitempty(p.api_version),
        kind: omitempty(p.kind),
    })
}

/// The lean `paramRef` (a pointer): its name and namespace are `omitempty`.
pub fn param_ref(param: Option<ParamRef>) -> Option<lean::ParamRef> {
    param.map(|p| lean::ParamRef {
        name: omitempty(p.name),
        namespace: omitempty(p.namespace),
        parameter_not_found_action: p.parameter_not_found_action,
    })
}
