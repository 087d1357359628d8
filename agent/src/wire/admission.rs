//! What the two webhook configuration kinds share: a webhook's name and the service its client
//! config names, at the field numbers of `k8s.io/api/admissionregistration/v1/
//! generated.proto` (the same for `MutatingWebhook` and `ValidatingWebhook`), converted into
//! the lean `Webhook` of `resources/admission.rs`. Rules, selectors and the CA bundle are
//! skipped by prost without being built.

use super::meta::always;
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
