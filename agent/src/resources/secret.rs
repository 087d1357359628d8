//! Secrets (`v1/Secret`), scope [`Scope::Namespaced`]: watched by the leader only. Mirrors
//! kube-state-metrics' `internal/store/secret.go` (`secretMetricFamilies`), family by family, in
//! the same order.
//!
//! No family reads the payload: the lean type holds the metadata and `type` only. Secrets of
//! the well-known types are watched as metadata only, one watch per `type=` field selector,
//! so their payload never crosses the wire; the other types come through one full watch
//! (`type!=…`), where `data` is skipped by serde without being built. See [`SHAPES`].
//!
//! The identity labels `namespace`, `secret` are put in front by the writer, as
//! `wrapSecretFunc` does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode type =====

/// The fields of a Secret that the families read: metadata and `type`, never the payload.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Secret {
    /// Identity, labels, annotations, owners, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `Opaque`, `kubernetes.io/tls`, …; the apiserver defaults it to `Opaque`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
}
crate::impl_object!(Secret => KIND);

// ===== watch shapes =====

/// The built-in Secret types (`k8s.io/api/core/v1` `SecretType*`), in the order of their
/// metadata-only watches in [`SHAPES`].
pub const WELL_KNOWN_TYPES: [&str; 8] = [
    "Opaque",
    "kubernetes.io/service-account-token",
    "kubernetes.io/dockercfg",
    "kubernetes.io/dockerconfigjson",
    "kubernetes.io/basic-auth",
    "kubernetes.io/ssh-auth",
    "kubernetes.io/tls",
    "bootstrap.kubernetes.io/token",
];

/// A metadata-only watch of the Secrets of one well-known type: the type is known from the
/// selector, since a `PartialObjectMetadata` has none.
macro_rules! typed {
    ($t:literal) => {
        WatchShape {
            field_selector: concat!("type=", $t),
            metadata_only: Some(|s: &mut Secret| s.type_ = Some($t.to_string())),
        }
    };
}

/// One metadata-only watch per well-known type, so no payload of theirs crosses the wire, and
/// one full watch for every other type (the only way to learn an unknown type).
///
/// NOTE: the `type=` selectors and the `type!=` list MUST name the same types as
/// [`WELL_KNOWN_TYPES`], or an object would arrive twice or never (a unit test checks).
pub static SHAPES: &[WatchShape<Secret>] = &[
    typed!("Opaque"),
    typed!("kubernetes.io/service-account-token"),
    typed!("kubernetes.io/dockercfg"),
    typed!("kubernetes.io/dockerconfigjson"),
    typed!("kubernetes.io/basic-auth"),
    typed!("kubernetes.io/ssh-auth"),
    typed!("kubernetes.io/tls"),
    typed!("bootstrap.kubernetes.io/token"),
    WatchShape {
        field_selector: "type!=Opaque,type!=kubernetes.io/service-account-token,\
            type!=kubernetes.io/dockercfg,type!=kubernetes.io/dockerconfigjson,\
            type!=kubernetes.io/basic-auth,type!=kubernetes.io/ssh-auth,type!=kubernetes.io/tls,\
            type!=bootstrap.kubernetes.io/token",
        metadata_only: None,
    },
];

// ===== family table =====

/// The secret kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `secretMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<Secret> = Kind {
    resource: "secrets",
    api: ApiType::new("", "v1", "Secret", "secrets"),
    scope: Scope::Namespaced,
    shapes: SHAPES,
    protobuf: Some(crate::wire::decode::<crate::wire::secret::Secret>),
    identity,
    families: &[
        Family::stable(
            "kube_secret_info",
            "Always 1 for every Secret; its labels identify it.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_secret_type",
            "The Secret's type, as the type label.",
            MetricType::Gauge,
            type_,
        ),
        Family::experimental(
            "kube_secret_annotations",
            "Secret annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_secret_labels",
            "Secret labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_secret_created",
            "Unix time (seconds) at which the Secret was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_secret_metadata_resource_version",
            "The Secret's resourceVersion as a number, when it reads as one.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
        Family::experimental(
            "kube_secret_owner",
            "One series per owner reference of the Secret.",
            MetricType::Gauge,
            metadata::owners,
        ),
    ],
};

/// `namespace`, `secret`, like `wrapSecretFunc`.
fn identity(s: &Secret) -> Identity {
    Identity::new([
        ("namespace", s.metadata.namespace.as_deref().unwrap_or("")),
        ("secret", s.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_secret_info`'s generator: always one sample.
fn info(_: &Secret, out: &mut Series<'_>) {
    out.value(1.0);
}

/// `kube_secret_type`'s generator: always one sample, `type` empty when unset.
fn type_(s: &Secret, out: &mut Series<'_>) {
    out.sample([("type", s.type_.as_deref().unwrap_or(""))], 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn secret(json: &str) -> Secret {
        serde_json::from_str(json).unwrap()
    }

    fn render(s: &Secret, f: fn(&Secret, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(s, identity(s), &RenderContext::default(), f)
    }

    #[test]
    fn owners_without_a_controller_flag_report_false_and_no_owner_reports_empty_labels() {
        let s = secret(
            r#"{"metadata":{"name":"s","namespace":"n","ownerReferences":[
            {"apiVersion":"v1","kind":"ServiceAccount","name":"sa","uid":"u1"},
            {"apiVersion":"apps/v1","kind":"Deployment","name":"d","uid":"u2","controller":true}]}}"#,
        );
        assert_eq!(
            render(&s, metadata::owners),
            "m{namespace=\"n\",secret=\"s\",owner_kind=\"ServiceAccount\",owner_name=\"sa\",owner_is_controller=\"false\"} 1\n\
             m{namespace=\"n\",secret=\"s\",owner_kind=\"Deployment\",owner_name=\"d\",owner_is_controller=\"true\"} 1\n"
        );
        let s = secret(r#"{"metadata":{"name":"s","namespace":"n","ownerReferences":null}}"#);
        assert_eq!(
            render(&s, metadata::owners),
            "m{namespace=\"n\",secret=\"s\",owner_kind=\"\",owner_name=\"\",owner_is_controller=\"\"} 1\n"
        );
    }

    #[test]
    fn the_payload_is_never_decoded() {
        // `data` of a type no Secret has still decodes: the lean type does not declare it.
        let s = secret(
            r#"{"metadata":{"name":"s","namespace":"n"},"type":"kubernetes.io/tls",
            "data":{"tls.key":"c2VjcmV0"},"stringData":7}"#,
        );
        assert_eq!(
            render(&s, type_),
            "m{namespace=\"n\",secret=\"s\",type=\"kubernetes.io/tls\"} 1\n"
        );
    }

    #[test]
    fn the_shapes_cover_every_type_once_and_fill_in_the_type_they_select() {
        assert_eq!(SHAPES.len(), WELL_KNOWN_TYPES.len() + 1);
        for (shape, t) in SHAPES.iter().zip(WELL_KNOWN_TYPES) {
            assert_eq!(shape.field_selector, format!("type={t}"));
            let mut s = secret(r#"{"metadata":{"name":"s","namespace":"n"}}"#);
            (shape
                .metadata_only
                .expect("well-known types are metadata only"))(&mut s);
            assert_eq!(
                render(&s, type_),
                format!("m{{namespace=\"n\",secret=\"s\",type=\"{t}\"}} 1\n")
            );
        }
        let rest = SHAPES.last().unwrap();
        assert!(rest.metadata_only.is_none(), "unknown types need the body");
        let excluded: Vec<&str> = rest.field_selector.split(',').collect();
        let expected: Vec<String> = WELL_KNOWN_TYPES
            .iter()
            .map(|t| format!("type!={t}"))
            .collect();
        assert_eq!(excluded, expected);
    }

    #[test]
    fn an_unset_type_is_an_empty_label() {
        let s = secret(r#"{"metadata":{"name":"s","namespace":"n"},"type":null}"#);
        assert_eq!(
            render(&s, type_),
            "m{namespace=\"n\",secret=\"s\",type=\"\"} 1\n"
        );
    }
}
