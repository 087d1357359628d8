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

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::admission::{Webhook, webhook_clientconfig_service_samples};
use super::common::{nonzero_timestamp_sample, null_as_default, resource_version_sample};
use super::{Family, Kind, Scope};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ValidatingWebhookConfiguration that the families read; rules, selectors and CA
/// bundles are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ValidatingWebhookConfiguration {
    /// Identity, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// The webhooks, in configuration order.
    #[serde(deserialize_with = "null_as_default")]
    pub webhooks: Vec<Webhook>,
}
crate::impl_object!(
    ValidatingWebhookConfiguration,
    group = "admissionregistration.k8s.io",
    version = "v1",
    kind = "ValidatingWebhookConfiguration",
    plural = "validatingwebhookconfigurations"
);

// ===== family table =====

/// The validatingwebhookconfiguration kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `validatingWebhookConfigurationMetricFamilies`
/// order: it is the exposition order.
pub static KIND: Kind<ValidatingWebhookConfiguration> = Kind {
    resource: "validatingwebhookconfigurations",
    scope: Scope::Cluster,
    identity,
    families: &[
        Family::experimental(
            "kube_validatingwebhookconfiguration_info",
            "One series per validating webhook configuration.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_validatingwebhookconfiguration_created",
            "Unix time (seconds) at which the validating webhook configuration was created.",
            MetricType::Gauge,
            created,
        ),
        Family::experimental(
            "kube_validatingwebhookconfiguration_metadata_resource_version",
            "The validating webhook configuration's resource version, as a number.",
            MetricType::Gauge,
            metadata_resource_version,
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

// ===== family functions =====

/// `kube_validatingwebhookconfiguration_info` in `validatingWebhookConfigurationMetricFamilies`:
/// one sample with no labels of its own.
fn info(_: &ValidatingWebhookConfiguration, out: &mut Series<'_>) {
    out.value(1.0);
}

/// `kube_validatingwebhookconfiguration_created`: nothing when unset (Go's zero time).
fn created(w: &ValidatingWebhookConfiguration, out: &mut Series<'_>) {
    nonzero_timestamp_sample(out, w.metadata.creation_timestamp.as_ref());
}

/// `kube_validatingwebhookconfiguration_metadata_resource_version` (`resourceVersionMetric`):
/// nothing when the resource version is not a number.
fn metadata_resource_version(w: &ValidatingWebhookConfiguration, out: &mut Series<'_>) {
    resource_version_sample(out, w.metadata.resource_version.as_deref());
}

/// `kube_validatingwebhookconfiguration_webhook_clientconfig_service`: `webhook_name`,
/// `service_name`, `service_namespace`, one sample per webhook in configuration order; the service
/// labels are empty when the webhook is reached by URL.
fn webhook_clientconfig_service(w: &ValidatingWebhookConfiguration, out: &mut Series<'_>) {
    webhook_clientconfig_service_samples(out, &w.webhooks);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        w: &ValidatingWebhookConfiguration,
        f: fn(&ValidatingWebhookConfiguration, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(w, identity(w), &RenderContext::default(), f)
    }

    #[test]
    fn url_webhooks_get_empty_service_labels_and_null_lists_render_nothing() {
        let w: ValidatingWebhookConfiguration = serde_json::from_str(
            r#"{"metadata":{"name":"w"},"webhooks":[
            {"name":"a.example.com","clientConfig":{"url":"https://hooks.example.com/a"}},
            {"name":"b.example.com","clientConfig":{"service":{"name":"svc","namespace":"ns","port":8443}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            render(&w, webhook_clientconfig_service),
            "m{namespace=\"\",validatingwebhookconfiguration=\"w\",webhook_name=\"a.example.com\",service_name=\"\",service_namespace=\"\"} 1\n\
             m{namespace=\"\",validatingwebhookconfiguration=\"w\",webhook_name=\"b.example.com\",service_name=\"svc\",service_namespace=\"ns\"} 1\n"
        );
        let none: ValidatingWebhookConfiguration =
            serde_json::from_str(r#"{"webhooks":null}"#).unwrap();
        assert_eq!(render(&none, webhook_clientconfig_service), "");
    }
}
