//! What the admission kinds share: the webhook list of the two webhook configurations, the
//! `paramKind` of the two admission policies and the `paramRef` of their two bindings, with the
//! samples kube-state-metrics builds from them.
//!
//! KSM's mutating and validating files (`internal/store/mutatingwebhookconfiguration.go` and
//! `validatingwebhookconfiguration.go`, `mutatingadmissionpolicy(binding).go` and
//! `validatingadmissionpolicy(binding).go`) are the same code over two API types; here the
//! shared part is written once and each kind file keeps its own lean type, table and family
//! functions, which call these helpers.

use std::marker::PhantomData;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use crate::decode::lean_meta;
use crate::exposition::Series;

// ===== webhook configurations =====

/// A mutating or validating webhook configuration, lean: the two kinds have the same fields and
/// families, so they share this type; `T` marks which one it is, so each kind keeps its own
/// descriptor. Rules, selectors and CA bundles are skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default, bound = "T: Default")]
pub struct WebhookConfiguration<T> {
    /// Identity, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// The webhooks, in configuration order.
    #[serde(deserialize_with = "null_as_default")]
    pub webhooks: Vec<Webhook>,
    #[serde(skip)]
    kind: PhantomData<T>,
}

/// `kube_<kind>webhookconfiguration_info`: one sample with no labels of its own.
pub fn webhook_configuration_info<T>(_: &WebhookConfiguration<T>, out: &mut Series<'_>) {
    out.value(1.0);
}

/// `kube_<kind>webhookconfiguration_webhook_clientconfig_service`: `webhook_name`,
/// `service_name`, `service_namespace`, one sample per webhook in configuration order; the
/// service labels are empty when the webhook is reached by URL.
pub fn webhook_clientconfig_service<T>(w: &WebhookConfiguration<T>, out: &mut Series<'_>) {
    webhook_clientconfig_service_samples(out, &w.webhooks);
}

/// One `webhooks[]` entry of a mutating or validating webhook configuration, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Webhook {
    /// The webhook's qualified name (`pod-policy.example.com`).
    pub name: Option<String>,
    /// How the apiserver reaches the webhook.
    #[serde(deserialize_with = "null_as_default")]
    pub client_config: ClientConfig,
}

/// `webhooks[].clientConfig`, lean: the URL form is not read.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ClientConfig {
    /// The in-cluster service, when the webhook is reached through one.
    pub service: Option<ServiceReference>,
}

/// `webhooks[].clientConfig.service`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ServiceReference {
    /// Service name.
    pub name: Option<String>,
    /// Service namespace.
    pub namespace: Option<String>,
}

/// The `_webhook_clientconfig_service` generator of both webhook configuration kinds:
/// `webhook_name`, `service_name`, `service_namespace`, one sample per webhook in configuration
/// order; the service labels are empty when the webhook is reached by URL.
pub fn webhook_clientconfig_service_samples(out: &mut Series<'_>, webhooks: &[Webhook]) {
    for hook in webhooks {
        let svc = hook.client_config.service.as_ref();
        out.sample(
            [
                ("webhook_name", hook.name.as_deref().unwrap_or("")),
                (
                    "service_name",
                    svc.and_then(|s| s.name.as_deref()).unwrap_or(""),
                ),
                (
                    "service_namespace",
                    svc.and_then(|s| s.namespace.as_deref()).unwrap_or(""),
                ),
            ],
            1.0,
        );
    }
}

// ===== admission policies =====

/// `spec.paramKind` of a mutating or validating admission policy.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ParamKind {
    /// `group/version` of the parameter resources.
    pub api_version: Option<String>,
    /// Their kind.
    pub kind: Option<String>,
}

/// The first labels of both policies' `_info` samples: `param_api_version`, `param_kind`, empty
/// when the policy takes no parameters. Each kind appends its own policy labels.
pub fn param_kind_labels(param: Option<&ParamKind>) -> [(&'static str, &str); 2] {
    [
        (
            "param_api_version",
            param.and_then(|k| k.api_version.as_deref()).unwrap_or(""),
        ),
        (
            "param_kind",
            param.and_then(|k| k.kind.as_deref()).unwrap_or(""),
        ),
    ]
}

// ===== admission policy bindings =====

/// `spec.paramRef` of a mutating or validating admission policy binding, lean (the selector form
/// is not read).
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ParamRef {
    /// The parameter resource's name.
    pub name: Option<String>,
    /// Its namespace.
    pub namespace: Option<String>,
    /// `Allow` or `Deny`.
    pub parameter_not_found_action: Option<String>,
}

/// The `_info` generator of both policy binding kinds: one sample with `policy_name`,
/// `param_name`, `param_namespace`, `param_not_found_action`, empty when unset.
pub fn policy_binding_info_sample(
    out: &mut Series<'_>,
    policy_name: Option<&str>,
    param: Option<&ParamRef>,
) {
    let field = |f: fn(&ParamRef) -> Option<&str>| param.and_then(f).unwrap_or("");
    out.sample(
        [
            ("policy_name", policy_name.unwrap_or("")),
            ("param_name", field(|r| r.name.as_deref())),
            ("param_namespace", field(|r| r.namespace.as_deref())),
            (
                "param_not_found_action",
                field(|r| r.parameter_not_found_action.as_deref()),
            ),
        ],
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_webhooks_get_empty_service_labels_and_null_lists_render_nothing() {
        type Config = WebhookConfiguration<()>;
        let render = |w: &Config| {
            crate::resources::testing::render_family(
                w,
                crate::exposition::Identity::new([("webhookconfiguration", "w")]),
                &crate::exposition::RenderContext::default(),
                webhook_clientconfig_service,
            )
        };
        let w: Config = serde_json::from_str(
            r#"{"metadata":{"name":"w"},"webhooks":[
            {"name":"a.example.com","clientConfig":{"url":"https://hooks.example.com/a"}},
            {"name":"b.example.com","clientConfig":{"service":{"name":"svc","namespace":"ns","port":8443}}}]}"#,
        )
        .unwrap();
        assert_eq!(
            render(&w),
            "m{webhookconfiguration=\"w\",webhook_name=\"a.example.com\",service_name=\"\",service_namespace=\"\"} 1\n\
             m{webhookconfiguration=\"w\",webhook_name=\"b.example.com\",service_name=\"svc\",service_namespace=\"ns\"} 1\n"
        );
        let none: Config = serde_json::from_str(r#"{"webhooks":null}"#).unwrap();
        assert_eq!(render(&none), "");
    }
}
