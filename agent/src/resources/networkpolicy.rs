//! NetworkPolicies (`networking.k8s.io/v1/NetworkPolicy`), scope [`Scope::Namespaced`]: watched
//! by the leader. Mirrors kube-state-metrics' `internal/store/networkpolicy.go`
//! (`networkPolicyMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`NetworkPolicy`]; the identity labels
//! `namespace`, `networkpolicy` are put in front by the writer, as `wrapNetworkPolicyFunc` does.
//! See [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::common::{null_as_default, unix_or_go_zero};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a NetworkPolicy that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct NetworkPolicy {
    /// Identity, labels, annotations, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: NetworkPolicySpec,
}
crate::impl_object!(NetworkPolicy => KIND);

/// `spec`, lean: the rules are only counted, so each is skipped unread.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct NetworkPolicySpec {
    /// Ingress rules; only their number is read.
    #[serde(deserialize_with = "null_as_default")]
    pub ingress: Vec<IgnoredAny>,
    /// Egress rules; only their number is read.
    #[serde(deserialize_with = "null_as_default")]
    pub egress: Vec<IgnoredAny>,
}

// ===== family table =====

/// The networkpolicy kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `networkPolicyMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<NetworkPolicy> = Kind {
    resource: "networkpolicies",
    api: ApiType::new("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::networkpolicy::NetworkPolicy>),
    identity,
    families: &[
        Family::experimental(
            "kube_networkpolicy_created",
            "Unix time (seconds) at which the network policy object was created.",
            MetricType::Gauge,
            created,
        ),
        Family::experimental(
            "kube_networkpolicy_annotations",
            "Network policy annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_networkpolicy_labels",
            "Network policy labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::experimental(
            "kube_networkpolicy_spec_ingress_rules",
            "How many ingress rules the network policy has.",
            MetricType::Gauge,
            spec_ingress_rules,
        ),
        Family::experimental(
            "kube_networkpolicy_spec_egress_rules",
            "How many egress rules the network policy has.",
            MetricType::Gauge,
            spec_egress_rules,
        ),
    ],
};

/// `namespace`, `networkpolicy`, like `wrapNetworkPolicyFunc`.
fn identity(n: &NetworkPolicy) -> Identity {
    Identity::new([
        ("namespace", n.metadata.namespace.as_deref().unwrap_or("")),
        ("networkpolicy", n.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_networkpolicy_created` in `networkPolicyMetricFamilies`: KSM has no `IsZero()` guard
/// here, so an unset creation time still gives a sample, with Go's zero time (`-62135596800`).
fn created(n: &NetworkPolicy, out: &mut Series<'_>) {
    out.value(unix_or_go_zero(n.metadata.creation_timestamp.as_ref()));
}

/// `kube_networkpolicy_spec_ingress_rules`: `len(spec.ingress)`, always one sample.
fn spec_ingress_rules(n: &NetworkPolicy, out: &mut Series<'_>) {
    out.value(n.spec.ingress.len() as f64);
}

/// `kube_networkpolicy_spec_egress_rules`: `len(spec.egress)`, always one sample.
fn spec_egress_rules(n: &NetworkPolicy, out: &mut Series<'_>) {
    out.value(n.spec.egress.len() as f64);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(n: &NetworkPolicy, f: fn(&NetworkPolicy, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(n, identity(n), &RenderContext::default(), f)
    }

    #[test]
    fn empty_rules_count_and_null_rule_lists_count_zero() {
        let n: NetworkPolicy = serde_json::from_str(
            r#"{"metadata":{"name":"p","namespace":"n"},
            "spec":{"ingress":[{},{"from":[{"podSelector":{}}]}],"egress":null}}"#,
        )
        .unwrap();
        assert_eq!(
            render(&n, spec_ingress_rules),
            "m{namespace=\"n\",networkpolicy=\"p\"} 2\n"
        );
        assert_eq!(
            render(&n, spec_egress_rules),
            "m{namespace=\"n\",networkpolicy=\"p\"} 0\n"
        );
    }

    #[test]
    fn an_unset_creation_time_reports_go_zero_time() {
        let n: NetworkPolicy = serde_json::from_str(r#"{"metadata":{"name":"p"}}"#).unwrap();
        assert_eq!(
            render(&n, created),
            "m{namespace=\"\",networkpolicy=\"p\"} -6.21355968e+10\n"
        );
    }
}
