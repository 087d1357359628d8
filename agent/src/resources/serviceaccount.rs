//! ServiceAccounts (`v1/ServiceAccount`), scope [`Scope::Namespaced`]: watched by the leader
//! only. Mirrors kube-state-metrics' `internal/store/serviceaccount.go`
//! (`serviceAccountMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ServiceAccount`]; the identity labels
//! `namespace`, `serviceaccount`, `uid` are put in front by the writer, as
//! `wrapServiceAccountFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ServiceAccount that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ServiceAccount {
    /// Identity, labels, annotations, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// Whether pods using the account get its token mounted; unset means "not said".
    pub automount_service_account_token: Option<bool>,
    /// Secrets the account references, in object order.
    #[serde(deserialize_with = "null_as_default")]
    pub secrets: Vec<SecretReference>,
    /// Secrets used to pull images for pods of the account, in object order.
    #[serde(deserialize_with = "null_as_default")]
    pub image_pull_secrets: Vec<SecretReference>,
}
crate::impl_object!(ServiceAccount => KIND);

/// One `secrets[]` (an `ObjectReference`) or `imagePullSecrets[]` (a `LocalObjectReference`)
/// entry: only the name is read.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct SecretReference {
    /// The Secret's name.
    pub name: Option<String>,
}

// ===== family table =====

/// The serviceaccount kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `serviceAccountMetricFamilies` order: it is
/// the exposition order.
pub static KIND: Kind<ServiceAccount> = Kind {
    resource: "serviceaccounts",
    api: ApiType::new("", "v1", "ServiceAccount", "serviceaccounts"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::serviceaccount::ServiceAccount>),
    identity,
    families: &[
        Family::experimental(
            "kube_serviceaccount_info",
            "ServiceAccount facts as labels: whether its token is mounted automatically.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_serviceaccount_created",
            "Unix time (seconds) at which the ServiceAccount was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_serviceaccount_deleted",
            "Unix time (seconds) at which the ServiceAccount was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
        Family::experimental(
            "kube_serviceaccount_secret",
            "One series per Secret the ServiceAccount references.",
            MetricType::Gauge,
            secret,
        ),
        Family::experimental(
            "kube_serviceaccount_image_pull_secret",
            "One series per image pull Secret the ServiceAccount references.",
            MetricType::Gauge,
            image_pull_secret,
        ),
        Family::experimental(
            "kube_serviceaccount_annotations",
            "ServiceAccount annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_serviceaccount_labels",
            "ServiceAccount labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
    ],
};

/// `namespace`, `serviceaccount`, `uid`, like `wrapServiceAccountFunc`.
fn identity(sa: &ServiceAccount) -> Identity {
    Identity::new([
        ("namespace", sa.metadata.namespace.as_deref().unwrap_or("")),
        ("serviceaccount", sa.metadata.name.as_deref().unwrap_or("")),
        ("uid", sa.metadata.uid.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `createServiceAccountInfoFamilyGenerator`: `automount_token` is `true`/`false`, empty when
/// the field is unset.
fn info(sa: &ServiceAccount, out: &mut Series<'_>) {
    let automount = match sa.automount_service_account_token {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    };
    out.sample([("automount_token", automount)], 1.0);
}

/// `createServiceAccountSecretFamilyGenerator`: `name` per `secrets[]` entry.
fn secret(sa: &ServiceAccount, out: &mut Series<'_>) {
    for s in &sa.secrets {
        out.sample([("name", s.name.as_deref().unwrap_or(""))], 1.0);
    }
}

/// `createServiceAccountImagePullSecretFamilyGenerator`: `name` per `imagePullSecrets[]` entry.
fn image_pull_secret(sa: &ServiceAccount, out: &mut Series<'_>) {
    for s in &sa.image_pull_secrets {
        out.sample([("name", s.name.as_deref().unwrap_or(""))], 1.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn account(json: &str) -> ServiceAccount {
        serde_json::from_str(json).unwrap()
    }

    fn render(sa: &ServiceAccount, f: fn(&ServiceAccount, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(sa, identity(sa), &RenderContext::default(), f)
    }

    #[test]
    fn automount_token_is_true_false_or_empty() {
        let id = r#""metadata":{"name":"sa","namespace":"n","uid":"u"}"#;
        for (field, want) in [
            (r#","automountServiceAccountToken":true"#, "true"),
            (r#","automountServiceAccountToken":false"#, "false"),
            (r#","automountServiceAccountToken":null"#, ""),
            ("", ""),
        ] {
            let sa = account(&format!("{{{id}{field}}}"));
            assert_eq!(
                render(&sa, info),
                format!(
                    "m{{namespace=\"n\",serviceaccount=\"sa\",uid=\"u\",automount_token=\"{want}\"}} 1\n"
                )
            );
        }
    }

    #[test]
    fn secret_references_keep_object_order_and_null_lists_are_empty() {
        let sa = account(
            r#"{"metadata":{"name":"sa"},"secrets":[{"name":"b"},{"kind":"Secret","name":"a"}],
            "imagePullSecrets":null}"#,
        );
        assert_eq!(
            render(&sa, secret),
            "m{namespace=\"\",serviceaccount=\"sa\",uid=\"\",name=\"b\"} 1\n\
             m{namespace=\"\",serviceaccount=\"sa\",uid=\"\",name=\"a\"} 1\n"
        );
        assert_eq!(render(&sa, image_pull_secret), "");
    }
}
