//! ValidatingWebhookConfigurations
//! (`admissionregistration.k8s.io/v1/ValidatingWebhookConfiguration`), scope [`Scope::Cluster`]:
//! watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/validatingwebhookconfiguration.go`
//! (`validatingWebhookConfigurationMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ValidatingWebhookConfiguration`]; the identity
//! labels `namespace`, `validatingwebhookconfiguration` are put in front by the writer, as
//! `wrapValidatingWebhookConfigurationFunc` does. The object is cluster-scoped, so `namespace` is
//! always empty; KSM keeps the label and so do we. See [`KIND`].

use super::admission::{
    WebhookConfiguration, webhook_clientconfig_service, webhook_configuration_info,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::exposition::{Identity, MetricType};

// ===== lean decode type =====

/// Marks a [`WebhookConfiguration`] as validating.
#[derive(Clone, Debug, Default)]
pub struct Validating;

/// The fields of a ValidatingWebhookConfiguration that the families read.
pub type ValidatingWebhookConfiguration = WebhookConfiguration<Validating>;
crate::impl_object!(ValidatingWebhookConfiguration => KIND);

// ===== family table =====

/// The validatingwebhookconfiguration kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `validatingWebhookConfigurationMetricFamilies`
/// order: it is the exposition order.
pub static KIND: Kind<ValidatingWebhookConfiguration> = Kind {
    resource: "validatingwebhookconfigurations",
    api: ApiType::new("admissionregistration.k8s.io", "v1", "ValidatingWebhookConfiguration", "validatingwebhookconfigurations"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::validatingwebhookconfiguration::ValidatingWebhookConfiguration>),
    identity,
    families: &[
        Family::experimental(
            "kube_validatingwebhookconfiguration_info",
            "One series per validating webhook configuration.",
            MetricType::Gauge,
            webhook_configuration_info,
        ),
        Family::experimental(
            "kube_validatingwebhookconfiguration_created",
            "Unix time (seconds) at which the validating webhook configuration was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_validatingwebhookconfiguration_metadata_resource_version",
            "The validating webhook configuration's resource version, as a number.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
        Family::experimental(
            "kube_validatingwebhookconfiguration_webhook_clientconfig_service",
            "One series per webhook, with the service the apiserver calls it through (empty for a URL).",
            MetricType::Gauge,
            webhook_clientconfig_service,
        ),
    ],
};

/// `namespace`, `validatingwebhookconfiguration`, like `wrapValidatingWebhookConfigurationFunc`.
fn identity(w: &ValidatingWebhookConfiguration) -> Identity {
    Identity::new([
        ("namespace", w.metadata.namespace.as_deref().unwrap_or("")),
        (
            "validatingwebhookconfiguration",
            w.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}
