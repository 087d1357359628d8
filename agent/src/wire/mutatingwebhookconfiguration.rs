//! `admissionregistration.k8s.io/v1/MutatingWebhookConfiguration`, lean: its webhooks' names and services, all the
//! mutatingwebhookconfiguration families read (the JSON twin is the lean `MutatingWebhookConfiguration` in `resources/mutatingwebhookconfiguration.rs`), at
//! the field numbers of `k8s.io/api/admissionregistration/v1/generated.proto`.

use super::admission::{Webhook, webhooks};
use super::meta::ObjectMeta;
use super::{Message, Result};
use crate::resources::mutatingwebhookconfiguration as lean;

/// `admissionregistration/v1.MutatingWebhookConfiguration`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MutatingWebhookConfiguration {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `webhooks`.
    #[prost(message, repeated, tag = "2")]
    pub webhooks: Vec<Webhook>,
}

impl Message for MutatingWebhookConfiguration {
    type Object = lean::MutatingWebhookConfiguration;
    const NAME: &'static str = "admissionregistration.k8s.io/v1/MutatingWebhookConfiguration";

    fn into_object(self) -> Result<lean::MutatingWebhookConfiguration> {
        let mut object = lean::MutatingWebhookConfiguration::default();
        object.metadata = self.metadata.unwrap_or_default().into_meta()?;
        object.webhooks = webhooks(self.webhooks);
        Ok(object)
    }
}
