//! `admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration`, lean: its webhooks' names and services, all the
//! validatingwebhookconfiguration families read (the JSON twin is the lean `ValidatingWebhookConfiguration` in `resources/validatingwebhookconfiguration.rs`), at
//! the field numbers of `k8s.io/api/admissionregistration/v1/generated.proto`.

use super::admission::{Webhook, webhooks};
use super::meta::ObjectMeta;
use super::{Message, Result};
use crate::resources::validatingwebhookconfiguration as lean;

/// `admissionregistration/v1.ValidatingWebhookConfiguration`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ValidatingWebhookConfiguration {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `webhooks`.
    #[prost(message, repeated, tag = "2")]
    pub webhooks: Vec<Webhook>,
}

impl Message for ValidatingWebhookConfiguration {
    type Object = lean::ValidatingWebhookConfiguration;
    const NAME: &'static str = "admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration";

    fn into_object(self) -> Result<lean::ValidatingWebhookConfiguration> {
        let mut object = lean::ValidatingWebhookConfiguration::default();
        object.metadata = self.metadata.unwrap_or_default().into_meta()?;
        object.webhooks = webhooks(self.webhooks);
        Ok(object)
    }
}
