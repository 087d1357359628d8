//! LimitRanges (`v1/LimitRange`), scope [`Scope::Namespaced`]: watched by the leader only.
//! Mirrors kube-state-metrics' `internal/store/limitrange.go` (`limitRangeMetricFamilies`),
//! family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`LimitRange`]; the identity labels
//! `namespace`, `limitrange` are put in front by the writer, as `wrapLimitRangeFunc` does. See
//! [`KIND`].
//!
//! Where KSM follows Go's random map order (the resources of each constraint) we sort by
//! resource name, which changes line order only.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{Quantity, null_as_default, quantity_map};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a LimitRange that the families read; everything else is skipped.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct LimitRange {
    /// Identity and timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: LimitRangeSpec,
}
crate::impl_object!(LimitRange => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct LimitRangeSpec {
    /// The limits, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub limits: Vec<LimitRangeItem>,
}

/// One `spec.limits[]` entry: the constraints for one object type.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct LimitRangeItem {
    /// `Container`, `Pod` or `PersistentVolumeClaim`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// Resource name → minimum.
    #[serde(deserialize_with = "quantity_map")]
    pub min: BTreeMap<String, String>,
    /// Resource name → maximum.
    #[serde(deserialize_with = "quantity_map")]
    pub max: BTreeMap<String, String>,
    /// Resource name → default limit.
    #[serde(deserialize_with = "quantity_map")]
    pub default: BTreeMap<String, String>,
    /// Resource name → default request.
    #[serde(deserialize_with = "quantity_map")]
    pub default_request: BTreeMap<String, String>,
    /// Resource name → maximum limit/request ratio.
    #[serde(deserialize_with = "quantity_map")]
    pub max_limit_request_ratio: BTreeMap<String, String>,
}

// ===== family table =====

/// The limitrange kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `limitRangeMetricFamilies` order: it is the
/// exposition order.
pub static KIND: Kind<LimitRange> = Kind {
    resource: "limitranges",
    api: ApiType::new("", "v1", "LimitRange", "limitranges"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::limitrange::LimitRange>),
    identity,
    families: &[
        Family::stable(
            "kube_limitrange",
            "Each constraint of the limit range, per resource and object type.",
            MetricType::Gauge,
            limitrange,
        ),
        Family::stable(
            "kube_limitrange_created",
            "Unix time (seconds) at which the limit range object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
    ],
};

/// `namespace`, `limitrange`, like `wrapLimitRangeFunc`.
fn identity(l: &LimitRange) -> Identity {
    Identity::new([
        ("namespace", l.metadata.namespace.as_deref().unwrap_or("")),
        ("limitrange", l.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// KSM's `kube_limitrange` generator: `resource`, `type`, `constraint`; for each limit in spec
/// order, its `min`, `max`, `default`, `defaultRequest` and `maxLimitRequestRatio` entries, in
/// that order, each valued `MilliValue()/1000` (the cpu-core convention, applied to every
/// resource).
fn limitrange(l: &LimitRange, out: &mut Series<'_>) {
    for item in &l.spec.limits {
        let type_ = item.type_.as_deref().unwrap_or("");
        let constraints = [
            (&item.min, "min"),
            (&item.max, "max"),
            (&item.default, "default"),
            (&item.default_request, "defaultRequest"),
            (&item.max_limit_request_ratio, "maxLimitRequestRatio"),
        ];
        for (list, constraint) in constraints {
            for (resource, raw) in list {
                // An unparsable quantity skips that entry: KSM cannot decode such an object.
                if let Some(q) = Quantity::parse(raw) {
                    out.sample(
                        [
                            ("resource", resource.as_str()),
                            ("type", type_),
                            ("constraint", constraint),
                        ],
                        q.cores(),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    #[test]
    fn constraints_come_in_ksm_order_valued_as_milli_value_over_1000() {
        let l: LimitRange = serde_json::from_str(
            r#"{"metadata":{"name":"lr","namespace":"ns"},"spec":{"limits":[
            {"type":"Container","maxLimitRequestRatio":{"cpu":"2"},"min":{"memory":"1Mi",
             "cpu":"100m"},"defaultRequest":{"cpu":"1.0001"}}]}}"#,
        )
        .unwrap();
        let ident = identity(&l);
        let ctx = RenderContext::default();
        let mut buf = Vec::new();
        limitrange(&l, &mut Series::new(&mut buf, "m", &ident, &ctx));
        // 1.0001 cores rounds up to 1001 milli-cores.
        assert_eq!(
            String::from_utf8(buf).unwrap(),
            "m{namespace=\"ns\",limitrange=\"lr\",resource=\"cpu\",type=\"Container\",constraint=\"min\"} 0.1\n\
             m{namespace=\"ns\",limitrange=\"lr\",resource=\"memory\",type=\"Container\",constraint=\"min\"} 1.048576e+06\n\
             m{namespace=\"ns\",limitrange=\"lr\",resource=\"cpu\",type=\"Container\",constraint=\"defaultRequest\"} 1.001\n\
             m{namespace=\"ns\",limitrange=\"lr\",resource=\"cpu\",type=\"Container\",constraint=\"maxLimitRequestRatio\"} 2\n"
        );
    }
}
