//! Namespaces (`v1/Namespace`), scope [`Scope::Cluster`]: watched by the leader only. Mirrors
//! kube-state-metrics' `internal/store/namespace.go` (`namespaceMetricFamilies`), family by
//! family, in the same order.
//!
//! Every family is a pure function of one decoded [`Namespace`]; the identity label
//! `namespace` (the object's own name) is put in front by the writer, as `wrapNamespaceFunc`
//! does. See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{
    bool_value, condition_samples,
    null_as_default,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a Namespace that the families read; `spec.finalizers` and the rest are
/// skipped.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Namespace {
    /// Identity, labels, annotations, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: NamespaceStatus,
}
crate::impl_object!(Namespace => KIND);

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct NamespaceStatus {
    /// `Active` or `Terminating`.
    pub phase: Option<String>,
    /// Conditions (set while terminating), in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<NamespaceCondition>,
}

/// One `status.conditions[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct NamespaceCondition {
    /// `NamespaceDeletionDiscoveryFailure`, `NamespaceContentRemaining`, …
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
}

// ===== family table =====

/// The namespace kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `namespaceMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<Namespace> = Kind {
    resource: "namespaces",
    api: ApiType::new("", "v1", "Namespace", "namespaces"),
    scope: Scope::Cluster,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::namespace::Namespace>),
    identity,
    families: &[
        Family::stable(
            "kube_namespace_created",
            "Unix time (seconds) at which the namespace was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_namespace_annotations",
            "Namespace annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_namespace_labels",
            "Namespace labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_namespace_status_phase",
            "Phase of the namespace: one series for Active and one for Terminating.",
            MetricType::Gauge,
            status_phase,
        ),
        Family::experimental(
            "kube_namespace_status_condition",
            "Status of each namespace condition, one series per possible status.",
            MetricType::Gauge,
            status_condition,
        ),
    ],
};

/// `namespace`, like `wrapNamespaceFunc`.
fn identity(n: &Namespace) -> Identity {
    Identity::new([("namespace", n.metadata.name.as_deref().unwrap_or(""))])
}

// ===== family functions =====

/// The phases KSM's namespace phase generator enumerates, in its order.
const PHASES: [&str; 2] = ["Active", "Terminating"];

/// KSM's `kube_namespace_status_phase` generator: always both samples, both 0 when the phase
/// is unset or unknown (unlike the PV/PVC phase families, there is no empty-phase guard).
fn status_phase(n: &Namespace, out: &mut Series<'_>) {
    let phase = n.status.phase.as_deref().unwrap_or("");
    for p in PHASES {
        out.sample([("phase", p)], bool_value(phase == p));
    }
}

/// KSM's `kube_namespace_status_condition` generator: three samples per condition, labelled
/// `condition` and `status`.
fn status_condition(n: &Namespace, out: &mut Series<'_>) {
    for c in &n.status.conditions {
        condition_samples(
            out,
            &[("condition", c.type_.as_deref().unwrap_or(""))],
            c.status.as_deref().unwrap_or(""),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(json: &str, f: fn(&Namespace, &mut Series<'_>)) -> String {
        let n: Namespace = serde_json::from_str(json).unwrap();
        let ident = identity(&n);
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        f(&n, &mut Series::new(&mut buf, "m", &ident, &ctx));
        String::from_utf8(buf).unwrap()
    }

    #[test]
    fn phase_is_rendered_even_when_unset() {
        assert_eq!(
            render(r#"{"metadata":{"name":"ns"},"status":null}"#, status_phase),
            "m{namespace=\"ns\",phase=\"Active\"} 0\nm{namespace=\"ns\",phase=\"Terminating\"} 0\n"
        );
    }
}
