//! ConfigMaps (`v1/ConfigMap`), scope [`Scope::Namespaced`]: watched by the leader only.
//! Mirrors kube-state-metrics' `internal/store/configmap.go` (`configMapMetricFamilies`), family
//! by family, in the same order.
//!
//! No family reads the payload, so the lean type is metadata only: `data` and `binaryData` are
//! not even declared, and the kind is watched as `PartialObjectMetadata`, so the payload does
//! not even cross the wire. The identity labels
//! `namespace`, `configmap` are put in front by the writer, as `wrapConfigMapFunc` does. See
//! [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode type =====

/// The fields of a ConfigMap that the families read: its metadata, nothing else.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ConfigMap {
    /// Identity, labels, annotations, resource version, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
}
crate::impl_object!(ConfigMap => KIND);

// ===== family table =====

/// The configmap kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `configMapMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<ConfigMap> = Kind {
    resource: "configmaps",
    api: ApiType::new("", "v1", "ConfigMap", "configmaps"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape {
        field_selector: "",
        metadata_only: Some(|_| {}),
    }],
    protobuf: Some(crate::wire::decode::<crate::wire::configmap::ConfigMap>),
    identity,
    families: &[
        Family::experimental(
            "kube_configmap_annotations",
            "ConfigMap annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_configmap_labels",
            "ConfigMap labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_configmap_info",
            "Always 1 for every ConfigMap; its labels identify it.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_configmap_created",
            "Unix time (seconds) at which the ConfigMap was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_configmap_metadata_resource_version",
            "The ConfigMap's resourceVersion as a number, when it reads as one.",
            MetricType::Gauge,
            metadata::resource_version,
        ),
    ],
};

/// `namespace`, `configmap`, like `wrapConfigMapFunc`.
fn identity(c: &ConfigMap) -> Identity {
    Identity::new([
        ("namespace", c.metadata.namespace.as_deref().unwrap_or("")),
        ("configmap", c.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_configmap_info`'s generator: always one sample.
fn info(_: &ConfigMap, out: &mut Series<'_>) {
    out.value(1.0);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::KeyAllowlist;
    use crate::exposition::RenderContext;

    fn configmap(json: &str) -> ConfigMap {
        serde_json::from_str(json).unwrap()
    }

    fn render(c: &ConfigMap, ctx: &RenderContext, f: fn(&ConfigMap, &mut Series<'_>)) -> String {
        let ident = identity(c);
        let mut buf = Vec::new();
        f(c, &mut Series::new(&mut buf, "m", &ident, ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn resource_version_renders_only_when_numeric() {
        let ctx = RenderContext::default();
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n","resourceVersion":"10596"}}"#);
        assert_eq!(
            render(&c, &ctx, metadata::resource_version),
            "m{namespace=\"n\",configmap=\"c\"} 10596\n"
        );
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n","resourceVersion":"BBBBB"}}"#);
        assert_eq!(render(&c, &ctx, metadata::resource_version), "");
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n"}}"#);
        assert_eq!(render(&c, &ctx, metadata::resource_version), "");
    }

    #[test]
    fn the_payload_is_skipped_whatever_its_shape() {
        let c = configmap(
            r#"{"metadata":{"name":"c","namespace":"n"},"data":{"k":"v"},
            "binaryData":{"b":"AAEC"},"immutable":true}"#,
        );
        assert_eq!(
            render(&c, &RenderContext::default(), info),
            "m{namespace=\"n\",configmap=\"c\"} 1\n"
        );
        // Even a payload of the wrong type cannot fail the decode: it is never read.
        configmap(r#"{"metadata":{"name":"c"},"data":42}"#);
    }

    #[test]
    fn labels_follow_the_allowlist() {
        let c = configmap(r#"{"metadata":{"name":"c","namespace":"n","labels":{"app":"x"}}}"#);
        assert_eq!(render(&c, &RenderContext::default(), metadata::labels), "");
        let ctx = RenderContext {
            labels: KeyAllowlist::all(),
            ..RenderContext::default()
        };
        assert_eq!(
            render(&c, &ctx, metadata::labels),
            "m{namespace=\"n\",configmap=\"c\",label_app=\"x\"} 1\n"
        );
    }
}
