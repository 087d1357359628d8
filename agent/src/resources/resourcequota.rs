//! ResourceQuotas (`v1/ResourceQuota`), scope [`Scope::Namespaced`]: watched by the leader
//! only. Mirrors kube-state-metrics' `internal/store/resourcequota.go`
//! (`resourceQuotaMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`ResourceQuota`]; the identity labels
//! `namespace`, `resourcequota` are put in front by the writer, as `wrapResourceQuotaFunc`
//! does. See [`KIND`].
//!
//! Where KSM follows Go's random map order (`status.hard`, `status.used`) we sort by resource
//! name, which changes line order only.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{
    Quantity, convert_value_to_float64, null_as_default, quantity_map,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a ResourceQuota that the families read; `spec` is not read at all (KSM reports
/// the enforced `status.hard`, not the requested `spec.hard`).
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ResourceQuota {
    /// Identity, labels, annotations, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: ResourceQuotaStatus,
}
crate::impl_object!(ResourceQuota => KIND);

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ResourceQuotaStatus {
    /// Resource name → enforced limit.
    #[serde(deserialize_with = "quantity_map")]
    pub hard: BTreeMap<String, String>,
    /// Resource name → current usage.
    #[serde(deserialize_with = "quantity_map")]
    pub used: BTreeMap<String, String>,
}

// ===== family table =====

/// The resourcequota kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `resourceQuotaMetricFamilies` order: it is
/// the exposition order.
///
/// NOTE: KSM's code declares `kube_resourcequota_labels` `STABLE` (so its HELP starts with
/// `[STABLE]`), while its docs, and so `ksm-metric-families.tsv`, say EXPERIMENTAL. The row
/// follows the family list; make it `Family::stable` once the list is corrected.
pub static KIND: Kind<ResourceQuota> = Kind {
    resource: "resourcequotas",
    api: ApiType::new("", "v1", "ResourceQuota", "resourcequotas"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::resourcequota::ResourceQuota>),
    identity,
    families: &[
        Family::stable(
            "kube_resourcequota_created",
            "Unix time (seconds) at which the quota object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::stable(
            "kube_resourcequota",
            "Enforced limit (type=hard) and current usage (type=used) of each quota resource.",
            MetricType::Gauge,
            resourcequota,
        ),
        Family::experimental(
            "kube_resourcequota_annotations",
            "Quota annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_resourcequota_labels",
            "Quota labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
    ],
};

/// `namespace`, `resourcequota`, like `wrapResourceQuotaFunc`.
fn identity(q: &ResourceQuota) -> Identity {
    Identity::new([
        ("namespace", q.metadata.namespace.as_deref().unwrap_or("")),
        ("resourcequota", q.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// KSM's `kube_resourcequota` generator: `resource`, `type`; every `status.hard` entry, then
/// every `status.used` entry, each valued with `convertValueToFloat64` (cores for `cpu`,
/// fractions kept: `4.3` stays 4.3, `500m` is 0.5). The resource name is not sanitized.
fn resourcequota(q: &ResourceQuota, out: &mut Series<'_>) {
    for (list, type_) in [(&q.status.hard, "hard"), (&q.status.used, "used")] {
        for (resource, raw) in list {
            // An unparsable quantity skips that entry: KSM cannot decode such an object.
            if let Some(qty) = Quantity::parse(raw) {
                out.sample(
                    [("resource", resource.as_str()), ("type", type_)],
                    convert_value_to_float64(&qty),
                );
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    #[test]
    fn hard_comes_before_used_and_values_follow_ksm_quota_test() {
        // Values from KSM's resourcequota_test.go: 4.3 → 4.3, 2.1G → 2.1e+09, 500M → 5e+08.
        let q: ResourceQuota = serde_json::from_str(
            r#"{"metadata":{"name":"q","namespace":"ns"},"status":{
            "hard":{"memory":"2.1G","cpu":"4.3","requests.nvidia.com/gpu":"2"},
            "used":{"cpu":"2.1","memory":"500M"}}}"#,
        )
        .unwrap();
        let ident = identity(&q);
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        resourcequota(&q, &mut Series::new(&mut buf, "m", &ident, &ctx));
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "m{namespace=\"ns\",resourcequota=\"q\",resource=\"cpu\",type=\"hard\"} 4.3\n\
             m{namespace=\"ns\",resourcequota=\"q\",resource=\"memory\",type=\"hard\"} 2.1e+09\n\
             m{namespace=\"ns\",resourcequota=\"q\",resource=\"requests.nvidia.com/gpu\",type=\"hard\"} 2\n\
             m{namespace=\"ns\",resourcequota=\"q\",resource=\"cpu\",type=\"used\"} 2.1\n\
             m{namespace=\"ns\",resourcequota=\"q\",resource=\"memory\",type=\"used\"} 5e+08\n"
        );
    }
}
