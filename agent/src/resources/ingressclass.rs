//! IngressClasses (`networking.k8s.io/v1/IngressClass`), scope [`Scope::Cluster`]: watched by
//! the leader. Mirrors kube-state-metrics' `internal/store/ingressclass.go`
//! (`ingressClassMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`IngressClass`]; the identity label
//! `ingressclass` is put in front by the writer, as `wrapIngressClassFunc` does. See [`KIND`].
//!
//! NOTE: unlike most kinds, KSM's ingressclass `_labels` and `_annotations` generators have no
//! empty-allowlist guard: with no allowlist they still give one bare sample per object. We
//! reproduce that.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{kube_map_labels, null_as_default};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::config::KeyAllowlist;
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, RenderContext, Series};

// ===== lean decode types =====

/// The fields of an IngressClass that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct IngressClass {
    /// Identity, labels, annotations, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: IngressClassSpec,
}
crate::impl_object!(IngressClass => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct IngressClassSpec {
    /// The controller implementing the class (`example.com/ingress-controller`).
    pub controller: Option<String>,
}

// ===== family table =====

/// The ingressclass kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `ingressClassMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<IngressClass> = Kind {
    resource: "ingressclasses",
    api: ApiType::new("networking.k8s.io", "v1", "IngressClass", "ingressclasses"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::ingressclass::IngressClass>),
    identity,
    families: &[
        Family::experimental(
            "kube_ingressclass_info",
            "The ingress class, with the controller that implements it.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_ingressclass_created",
            "Unix time (seconds) at which the ingress class object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_ingressclass_annotations",
            "Ingress class annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            annotations,
        ),
        Family::experimental(
            "kube_ingressclass_labels",
            "Ingress class labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            labels,
        ),
    ],
};

/// `ingressclass`, like `wrapIngressClassFunc`.
fn identity(c: &IngressClass) -> Identity {
    Identity::new([("ingressclass", c.metadata.name.as_deref().unwrap_or(""))])
}

// ===== family functions =====

/// `kube_ingressclass_info` in `ingressClassMetricFamilies`: one sample with `controller`.
fn info(c: &IngressClass, out: &mut Series<'_>) {
    out.sample(
        [("controller", c.spec.controller.as_deref().unwrap_or(""))],
        1.0,
    );
}

/// `kube_ingressclass_annotations`: always one sample (see the module note), carrying the
/// allowlisted annotations.
fn annotations(c: &IngressClass, out: &mut Series<'_>) {
    unguarded_map_sample(out, "annotation", c.metadata.annotations.as_ref(), |ctx| {
        &ctx.annotations
    });
}

/// `kube_ingressclass_labels`: always one sample (see the module note), carrying the
/// allowlisted labels.
fn labels(c: &IngressClass, out: &mut Series<'_>) {
    unguarded_map_sample(out, "label", c.metadata.labels.as_ref(), |ctx| &ctx.labels);
}

// ===== helpers =====

/// `createPrometheusLabelKeysValues` without the usual `len(allowList) == 0` guard: one sample
/// with the allowed keys of `map` as `prefix_*` labels, bare when the allowlist is empty.
fn unguarded_map_sample(
    out: &mut Series<'_>,
    prefix: &str,
    map: Option<&BTreeMap<String, String>>,
    allowlist: fn(&RenderContext) -> &KeyAllowlist,
) {
    let pairs = kube_map_labels(prefix, map, allowlist(out.context()));
    out.sample(pairs, 1.0);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(
        c: &IngressClass,
        ctx: &RenderContext,
        f: fn(&IngressClass, &mut Series<'_>),
    ) -> String {
        let ident = identity(c);
        let mut buf = Vec::new();
        f(c, &mut Series::new(&mut buf, "m", &ident, ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn labels_and_annotations_give_a_bare_sample_even_without_an_allowlist() {
        let c: IngressClass = serde_json::from_str(
            r#"{"metadata":{"name":"nginx","labels":{"foo":"bar"},
            "annotations":{"ingressclass.kubernetes.io/is-default-class":"true"}}}"#,
        )
        .unwrap();
        let none = RenderContext::default();
        assert_eq!(render(&c, &none, labels), "m{ingressclass=\"nginx\"} 1\n");
        assert_eq!(
            render(&c, &none, annotations),
            "m{ingressclass=\"nginx\"} 1\n"
        );
        let some = RenderContext {
            annotations: KeyAllowlist::new(["ingressclass.kubernetes.io/is-default-class"]),
            ..RenderContext::default()
        };
        assert_eq!(
            render(&c, &some, annotations),
            "m{ingressclass=\"nginx\",annotation_ingressclass_kubernetes_io_is_default_class=\"true\"} 1\n"
        );
        assert_eq!(render(&c, &some, labels), "m{ingressclass=\"nginx\"} 1\n");
    }
}
