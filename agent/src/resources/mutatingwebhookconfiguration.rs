//! MutatingWebhookConfigurations (`admissionregistration.k8s.io/v1/MutatingWebhookConfiguration`),
//! scope [`Scope::Cluster`]: watched by the leader. Mirrors kube-state-metrics'
//! `internal/store/mutatingwebhookconfiguration.go` (`mutatingWebhookConfigurationMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`MutatingWebhookConfiguration`]; the identity
//! labels `namespace`, `mutatingwebhookconfiguration` are put in front by the writer, as
//! `wrapMutatingWebhookConfigurationFunc` does. The object is cluster-scoped, so `namespace` is
//! always empty; KSM keeps the label and so do we. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::admission::{Webhook, webhook_clientconfig_service_samples};
use super::common::{nonzero_timestamp_sample, null_as_default, resource_version_sample};
use super::{Family, Kind, Scope};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a MutatingWebhookConfiguration that the families read; rules, selectors and CA
/// bundles are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct MutatingWebhookConfiguration {
    /// Identity, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// The webhooks, in configuration order.
    #[serde(deserialize_with = "null_as_default")]
    pub webhooks: Vec<Webhook>,
}
crate::impl_object!(
    MutatingWebhookConfiguration,
    group = "admissionregistration.k8s.io",
    version = "v1",
    kind = "MutatingWebhookConfiguration",
    plural = "mutatingwebhookconfigurations"
);

// ===== family table =====

/// The mutatingwebhookconfiguration kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `mutatingWebhookConfigurationMetricFamilies`
/// order: it is the exposition order.
pub static KIND: Kind<MutatingWebhookConfiguration> = Kind {
    resource: "mutatingwebhookconfigurations",
    scope: Scope::Cluster,
    identity,
    families: &[
        Family::experimental(
            "kube_mutatingwebhookconfiguration_info",
            "One series per mutating webhook configuration.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_mutatingwebhookconfiguration_created",
            "Unix time (seconds) at which the mutating webhook configuration was created.",
            MetricType::Gauge,
            created,
        ),
        Family::experimental(
            "kube_mutatingwebhookconfiguration_metadata_resource_version",
            "The mutating webhook configuration's resource version, as a number.",
            MetricType::Gauge,
            metadata_resource_version,
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

// ===== family functions =====

/// `kube_mutatingwebhookconfiguration_info` in `mutatingWebhookConfigurationMetricFamilies`: one
/// sample with no labels of its own.
fn info(_: &MutatingWebhookConfiguration, out: &mut Series<'_>) {
    out.value(1.0);
}

/// `kube_mutatingwebhookconfiguration_created`: nothing when unset (Go's zero time).
fn created(w: &MutatingWebhookConfiguration, out: &mut Series<'_>) {
    nonzero_timestamp_sample(out, w.metadata.creation_timestamp.as_ref());
}

/// `kube_mutatingwebhookconfiguration_metadata_resource_version` (`resourceVersionMetric`): nothing
/// when the resource version is not a number.
fn metadata_resource_version(w: &MutatingWebhookConfiguration, out: &mut Series<'_>) {
    resource_version_sample(out, w.metadata.resource_version.as_deref());
}

/// `kube_mutatingwebhookconfiguration_webhook_clientconfig_service`: `webhook_name`,
/// `service_name`, `service_namespace`, one sample per webhook in configuration order; the service
/// labels are empty when the webhook is reached by URL.
fn webhook_clientconfig_service(w: &MutatingWebhookConfiguration, out: &mut Series<'_>) {
    webhook_clientconfig_service_samples(out, &w.webhooks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        w: &MutatingWebhookConfiguration,
        f: fn(&MutatingWebhookConfiguration, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(w, identity(w), &RenderContext::default(), f)
    }

    #[test]
    fn url_webhooks_get_empty_service_labels_and_null_lists_render_nothing() {
        let w: MutatingWebhookConfiguration = serde_json::from_str(
            r#"{"metadata":{"name":"w"},"webhooks":[
            {"name":"a.example.com","clientConfig":{"url":"https://hooks.example.com/a"}},
            {"name":"b.example.com","clientConfig":{"service":{"name":"svc","namespace":"ns","port":8443}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            render(&w, webhook_clientconfig_service),
            "m{namespace=\"\",mutatingwebhookconfiguration=\"w\",webhook_name=\"a.example.com\",service_name=\"\",service_namespace=\"\"} 1\n\
             m{namespace=\"\",mutatingwebhookconfiguration=\"w\",webhook_name=\"b.example.com\",service_name=\"svc\",service_namespace=\"ns\"} 1\n"
        );
        let none: MutatingWebhookConfiguration =
            serde_json::from_str(r#"{"webhooks":null}"#).unwrap();
        assert_eq!(render(&none, webhook_clientconfig_service), "");
    }
}
