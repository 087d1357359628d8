//! MutatingWebhookConfigurations (`admissionregistration.k8s.io/v1/MutatingWebhookConfiguration`),
//! scope [`Scope::Cluster`]: watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/mutatingwebhookconfiguration.go` (`mutatingWebhookConfigurationMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`MutatingWebhookConfiguration`]; the identity
//! labels `namespace`, `mutatingwebhookconfiguration` are put in front by the writer, as
//! `wrapMutatingWebhookConfigurationFunc` does. The object is cluster-scoped, so `namespace` is
//! always empty; KSM keeps the label and so do we. See [`KIND`].

use super::admission::{
    WebhookConfiguration, webhook_clientconfig_service, webhook_configuration_info,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::exposition::{Identity, MetricType};

// ===== lean decode type =====

/// Marks a [`WebhookConfiguration`] as mutating.
#[derive(Clone, Debug, Default)]
pub struct Mutating;

/// The fields of a MutatingWebhookConfiguration that the families read.
pub type MutatingWebhookConfiguration = WebhookConfiguration<Mutating>;
crate::impl_object!(MutatingWebhookConfiguration => KIND);

// ===== family table =====

/// The mutatingwebhookconfiguration kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `mutatingWebhookConfigurationMetricFamilies`
/// order: it is the exposition order.
pub static KIND: Kind<MutatingWebhookConfiguration> = Kind {
    resource: "mutatingwebhookconfigurations",
    api: ApiType::new("admissionregistration.k8s.io", "v1", "MutatingWebhookConfiguration", "mutatingwebhookconfigurations"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::mutatingwebhookconfiguration::MutatingWebhookConfiguration>),
    identity,
    families: &[
        Family::experimental(
            "kube_mutatingwebhookconfiguration_info",
            "One series per mutating webhook configuration.",
            MetricType::Gauge,
            webhook_configuration_info,
        ),
        Family::experimental(
            "kube_mutatingwebhookconfiguration_created",
            "Unix time (seconds) at which the mutating webhook configuration was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_mutatingwebhookconfiguration_metadata_resource_version",
            "The mutating webhook configuration's resource version, as a number.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
        Family::experimental(
            "kube_mutatingwebhookconfiguration_webhook_clientconfig_service",
            "One series per webhook, with the service the apiserver calls it through (empty for a URL).",
            MetricType::Gauge,
            webhook_clientconfig_service,
        ),
    ],
};

/// `namespace`, `mutatingwebhookconfiguration`, like `wrapMutatingWebhookConfigurationFunc`.
fn identity(w: &MutatingWebhookConfiguration) -> Identity {
    Identity::new([
        ("namespace", w.metadata.namespace.as_deref().unwrap_or("")),
        (
            "mutatingwebhookconfiguration",
            w.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}
