//! HorizontalPodAutoscalers (`autoscaling/v2`), scope [`Scope::Namespaced`]: watched by the
//! leader only. Mirrors kube-state-metrics' `internal/store/horizontalpodautoscaler.go`
//! (`hpaMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`HorizontalPodAutoscaler`]; the identity
//! labels `namespace`, `horizontalpodautoscaler` are put in front by the writer, as
//! `wrapHPAFunc` does. See [`KIND`].
//!
//! Where KSM walks a Go map (the target types of one metric spec) we emit `value`,
//! `utilization`, `average` in that order, which changes line order only.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::{
    Quantity, condition_samples, convert_value_to_float64, null_as_default, quantity_text,
};
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of a HorizontalPodAutoscaler that the families read.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct HorizontalPodAutoscaler {
    /// Identity, labels, annotations, generation, timestamps.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `spec`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub spec: HpaSpec,
    /// `status`, lean.
    #[serde(deserialize_with = "null_as_default")]
    pub status: HpaStatus,
}
crate::impl_object!(HorizontalPodAutoscaler => KIND);

/// `spec`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaSpec {
    /// The scaled workload.
    #[serde(deserialize_with = "null_as_default")]
    pub scale_target_ref: ScaleTargetRef,
    /// Lower replica bound; the apiserver defaults it to 1.
    pub min_replicas: Option<i32>,
    /// Upper replica bound.
    #[serde(deserialize_with = "null_as_default")]
    pub max_replicas: i32,
    /// What the autoscaler scales on, in spec order.
    #[serde(deserialize_with = "null_as_default")]
    pub metrics: Vec<MetricEntry>,
    /// Scaling behaviour per direction.
    pub behavior: Option<Behavior>,
}

/// `spec.scaleTargetRef`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ScaleTargetRef {
    /// `apps/v1`, … (optional in the API).
    pub api_version: Option<String>,
    /// `Deployment`, `StatefulSet`, …
    pub kind: Option<String>,
    /// The workload's name.
    pub name: Option<String>,
}

/// `spec.behavior`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Behavior {
    /// Rules when scaling up.
    pub scale_up: Option<ScalingRules>,
    /// Rules when scaling down.
    pub scale_down: Option<ScalingRules>,
}

/// `spec.behavior.scaleUp` / `scaleDown`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct ScalingRules {
    /// Relative dead band around the target (a quantity such as `"50m"`).
    #[serde(deserialize_with = "quantity_text")]
    pub tolerance: Option<String>,
}

/// One `spec.metrics[]` or `status.currentMetrics[]` entry: its type and the source of that
/// type. The two lists have the same shape; the sources carry `target` in a spec and `current`
/// in a status.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricEntry {
    /// `Object`, `Pods`, `Resource`, `ContainerResource` or `External`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `type: Object`.
    pub object: Option<NamedSource>,
    /// `type: Pods`.
    pub pods: Option<NamedSource>,
    /// `type: Resource`.
    pub resource: Option<ResourceSource>,
    /// `type: ContainerResource`.
    pub container_resource: Option<ResourceSource>,
    /// `type: External`.
    pub external: Option<NamedSource>,
}

/// An Object, Pods or External source: a metric identified by name, and its values (`target`
/// in a spec, `current` in a status).
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct NamedSource {
    /// `metric.name` (the selector is not read).
    #[serde(deserialize_with = "null_as_default")]
    pub metric: MetricIdentifier,
    /// The spec's target.
    #[serde(deserialize_with = "null_as_default")]
    pub target: MetricTarget,
    /// The status's current values.
    #[serde(deserialize_with = "null_as_default")]
    pub current: MetricTarget,
}

/// `metric` of a named source.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct MetricIdentifier {
    /// The metric's name.
    pub name: Option<String>,
}

/// A Resource or ContainerResource source.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ResourceSource {
    /// `cpu`, `memory`, …
    pub name: Option<String>,
    /// The container, for ContainerResource.
    pub container: Option<String>,
    /// The spec's target.
    #[serde(deserialize_with = "null_as_default")]
    pub target: MetricTarget,
    /// The status's current values.
    #[serde(deserialize_with = "null_as_default")]
    pub current: MetricTarget,
}

/// `MetricTarget` (the values a spec asks for; its `type` field is not read, KSM exports every
/// value that is set), and `MetricValueStatus` (a status's current values), which share their
/// value fields.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct MetricTarget {
    /// `target.value`.
    #[serde(deserialize_with = "quantity_text")]
    pub value: Option<String>,
    /// `target.averageValue`.
    #[serde(deserialize_with = "quantity_text")]
    pub average_value: Option<String>,
    /// `target.averageUtilization`, percent.
    pub average_utilization: Option<i32>,
}

/// `status`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct HpaStatus {
    /// Replicas the target has now.
    #[serde(deserialize_with = "null_as_default")]
    pub current_replicas: i32,
    /// Replicas the autoscaler last asked for.
    #[serde(deserialize_with = "null_as_default")]
    pub desired_replicas: i32,
    /// The metrics' last read values, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub current_metrics: Vec<MetricEntry>,
    /// Conditions, in status order.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: Vec<HpaCondition>,
}

/// One `status.conditions[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct HpaCondition {
    /// `AbleToScale`, `ScalingActive`, `ScalingLimited`.
    #[serde(rename = "type")]
    pub type_: Option<String>,
    /// `True`, `False` or `Unknown`.
    pub status: Option<String>,
}

// ===== family table =====

/// The horizontalpodautoscaler kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `hpaMetricFamilies` order: it is the
/// exposition order. The two tolerance families (KSM PR #3015, not in our stored copy of the
/// Go file) sit after `spec_target_metric`, where KSM's docs list them.
pub static KIND: Kind<HorizontalPodAutoscaler> = Kind {
    resource: "horizontalpodautoscalers",
    api: ApiType::new("autoscaling", "v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::horizontalpodautoscaler::HorizontalPodAutoscaler>),
    identity,
    families: &[
        Family::experimental(
            "kube_horizontalpodautoscaler_info",
            "The autoscaler's scale target as labels.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_metadata_generation",
            "Generation of the autoscaler's desired state (metadata.generation).",
            MetricType::Gauge,
            metadata_generation,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_spec_max_replicas",
            "Most replicas the autoscaler may set.",
            MetricType::Gauge,
            spec_max_replicas,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_spec_min_replicas",
            "Fewest replicas the autoscaler may set (1 unless configured).",
            MetricType::Gauge,
            spec_min_replicas,
        ),
        Family::experimental(
            "kube_horizontalpodautoscaler_spec_target_metric",
            "Targets the autoscaler scales on, per metric and target type.",
            MetricType::Gauge,
            spec_target_metric,
        ),
        Family::experimental(
            "kube_horizontalpodautoscaler_spec_behavior_scale_down_tolerance",
            "Relative deviation from the target tolerated before scaling down, when configured.",
            MetricType::Gauge,
            spec_behavior_scale_down_tolerance,
        ),
        Family::experimental(
            "kube_horizontalpodautoscaler_spec_behavior_scale_up_tolerance",
            "Relative deviation from the target tolerated before scaling up, when configured.",
            MetricType::Gauge,
            spec_behavior_scale_up_tolerance,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_status_target_metric",
            "Last values the autoscaler read for its metrics, per metric and target type.",
            MetricType::Gauge,
            status_target_metric,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_status_current_replicas",
            "Replicas the scale target has now, as the autoscaler last saw them.",
            MetricType::Gauge,
            status_current_replicas,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_status_desired_replicas",
            "Replicas the autoscaler last asked for.",
            MetricType::Gauge,
            status_desired_replicas,
        ),
        Family::experimental(
            "kube_horizontalpodautoscaler_annotations",
            "Autoscaler annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_labels",
            "Autoscaler labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_horizontalpodautoscaler_status_condition",
            "Status of each autoscaler condition, one series per possible status.",
            MetricType::Gauge,
            status_condition,
        ),
        Family::experimental(
            "kube_horizontalpodautoscaler_created",
            "Unix time (seconds) at which the autoscaler object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_horizontalpodautoscaler_deletion_timestamp",
            "Unix time (seconds) at which the autoscaler object was marked for deletion.",
            MetricType::Gauge,
            metadata::deletion_timestamp,
        ),
    ],
};

/// `namespace`, `horizontalpodautoscaler`, like `wrapHPAFunc`.
fn identity(h: &HorizontalPodAutoscaler) -> Identity {
    Identity::new([
        ("namespace", h.metadata.namespace.as_deref().unwrap_or("")),
        (
            "horizontalpodautoscaler",
            h.metadata.name.as_deref().unwrap_or(""),
        ),
    ])
}

// ===== family functions =====

/// `createHPAInfo`: `scaletargetref_api_version` only when the reference has one.
fn info(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    let r = &h.spec.scale_target_ref;
    let kind = ("scaletargetref_kind", r.kind.as_deref().unwrap_or(""));
    let name = ("scaletargetref_name", r.name.as_deref().unwrap_or(""));
    match r.api_version.as_deref().filter(|v| !v.is_empty()) {
        Some(v) => out.sample([("scaletargetref_api_version", v), kind, name], 1.0),
        None => out.sample([kind, name], 1.0),
    }
}

/// `createHPAMetaDataGeneration`: always one sample.
fn metadata_generation(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    #[allow(
        clippy::cast_precision_loss,
        reason = "float64(int64) as KSM converts it"
    )]
    out.value(h.metadata.generation.unwrap_or(0) as f64);
}

/// `createHPASpecMaxReplicas`: always one sample.
fn spec_max_replicas(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    out.value(f64::from(h.spec.max_replicas));
}

/// `createHPASpecMinReplicas`. KSM dereferences the field without a nil check; the apiserver
/// always defaults it to 1, so an unset field (which only a hand-made object can have) is read
/// as that default here instead of crashing.
fn spec_min_replicas(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    out.value(f64::from(h.spec.min_replicas.unwrap_or(1)));
}

/// `createHPASpecTargetMetric`: per spec metric, one sample per target value that is set.
fn spec_target_metric(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    for m in &h.spec.metrics {
        let source = match m.type_.as_deref() {
            Some("Object") => m.object.as_ref().map(|s| s.named(&s.target)),
            Some("Pods") => m.pods.as_ref().map(|s| s.named(&s.target)),
            Some("Resource") => m.resource.as_ref().map(|s| s.resource(&s.target)),
            Some("ContainerResource") => m
                .container_resource
                .as_ref()
                .map(|s| s.container_resource(&s.target)),
            Some("External") => m.external.as_ref().map(|s| s.named(&s.target)),
            _ => None,
        };
        if let Some(source) = source {
            target_samples(&source, out);
        }
    }
}

/// The `kube_horizontalpodautoscaler_spec_behavior_scale_down_tolerance` generator (KSM PR
/// #3015, written from its description): the tolerance when set, else nothing.
fn spec_behavior_scale_down_tolerance(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    tolerance_sample(
        h.spec.behavior.as_ref().and_then(|b| b.scale_down.as_ref()),
        out,
    );
}

/// The `kube_horizontalpodautoscaler_spec_behavior_scale_up_tolerance` generator (KSM PR #3015,
/// written from its description): the tolerance when set, else nothing.
fn spec_behavior_scale_up_tolerance(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    tolerance_sample(
        h.spec.behavior.as_ref().and_then(|b| b.scale_up.as_ref()),
        out,
    );
}

/// `createHPAStatusTargetMetric`: per current metric, one sample per value that is set.
fn status_target_metric(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    for m in &h.status.current_metrics {
        let source = match m.type_.as_deref() {
            Some("Object") => m.object.as_ref().map(|s| s.named(&s.current)),
            Some("Pods") => m.pods.as_ref().map(|s| s.named(&s.current)),
            Some("Resource") => m.resource.as_ref().map(|s| s.resource(&s.current)),
            Some("ContainerResource") => m
                .container_resource
                .as_ref()
                .map(|s| s.container_resource(&s.current)),
            Some("External") => m.external.as_ref().map(|s| s.named(&s.current)),
            _ => None,
        };
        if let Some(source) = source {
            target_samples(&source, out);
        }
    }
}

/// `createHPAStatusCurrentReplicas`: always one sample.
fn status_current_replicas(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    out.value(f64::from(h.status.current_replicas));
}

/// `createHPAStatusDesiredReplicas`: always one sample.
fn status_desired_replicas(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    out.value(f64::from(h.status.desired_replicas));
}

/// `createHPAStatusCondition`: three samples per condition, in status order.
fn status_condition(h: &HorizontalPodAutoscaler, out: &mut Series<'_>) {
    for c in &h.status.conditions {
        condition_samples(
            out,
            &[("condition", c.type_.as_deref().unwrap_or(""))],
            c.status.as_deref().unwrap_or(""),
        );
    }
}

// ===== helpers =====

/// One metric source reduced to what the target-metric families print.
struct TargetSource<'a> {
    /// `metric_name`: the metric's name, or the resource's.
    name: &'a str,
    /// `container`, for ContainerResource sources only (KSM PR #2836).
    container: Option<&'a str>,
    values: &'a MetricTarget,
}

impl NamedSource {
    fn named<'a>(&'a self, values: &'a MetricTarget) -> TargetSource<'a> {
        TargetSource {
            name: self.metric.name.as_deref().unwrap_or(""),
            container: None,
            values,
        }
    }
}

impl ResourceSource {
    fn resource<'a>(&'a self, values: &'a MetricTarget) -> TargetSource<'a> {
        TargetSource {
            name: self.name.as_deref().unwrap_or(""),
            container: None,
            values,
        }
    }

    fn container_resource<'a>(&'a self, values: &'a MetricTarget) -> TargetSource<'a> {
        TargetSource {
            container: Some(self.container.as_deref().unwrap_or("")),
            ..self.resource(values)
        }
    }
}

/// The samples of one metric source: `value` and `average` quantities as
/// `convertValueToFloat64` reads them, `utilization` as a plain number; labels `metric_name`,
/// `metric_target_type`, then `container` for ContainerResource sources. A quantity that does
/// not parse is skipped (KSM could not decode such an object at all).
fn target_samples(source: &TargetSource<'_>, out: &mut Series<'_>) {
    let quantity = |q: &Option<String>| {
        q.as_deref()
            .and_then(Quantity::parse)
            .map(|q| convert_value_to_float64(&q))
    };
    let v = source.values;
    let values = [
        ("value", quantity(&v.value)),
        ("utilization", v.average_utilization.map(f64::from)),
        ("average", quantity(&v.average_value)),
    ];
    for (target_type, value) in values {
        let Some(value) = value else { continue };
        let labels = [
            ("metric_name", source.name),
            ("metric_target_type", target_type),
        ];
        match source.container {
            Some(c) => out.sample(labels.into_iter().chain([("container", c)]), value),
            None => out.sample(labels, value),
        }
    }
}

/// One sample with the tolerance of `rules`, when set and parsable.
fn tolerance_sample(rules: Option<&ScalingRules>, out: &mut Series<'_>) {
    if let Some(q) = rules
        .and_then(|r| r.tolerance.as_deref())
        .and_then(Quantity::parse)
    {
        out.value(convert_value_to_float64(&q));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn render(
        h: &HorizontalPodAutoscaler,
        f: fn(&HorizontalPodAutoscaler, &mut Series<'_>),
    ) -> String {
        crate::resources::testing::render_family(h, identity(h), &RenderContext::default(), f)
    }

    fn hpa(json: &str) -> HorizontalPodAutoscaler {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn spec_targets_of_every_type_follow_ksms_test() {
        // horizontalpodautoscaler_test.go "hpa1", in v2 shape.
        let h = hpa(
            r#"{"metadata":{"name":"hpa1","namespace":"ns1"},"spec":{"maxReplicas":4,"minReplicas":2,
            "metrics":[
              {"type":"Object","object":{"metric":{"name":"hits"},"target":{"type":"Value","value":"10","averageValue":"12"}}},
              {"type":"Object","object":{"metric":{"name":"connections"},"target":{"type":"Value","value":"0.5","averageValue":"0.7"}}},
              {"type":"Pods","pods":{"metric":{"name":"transactions_processed"},"target":{"type":"AverageValue","averageValue":"33"}}},
              {"type":"Resource","resource":{"name":"cpu","target":{"type":"Utilization","averageUtilization":80}}},
              {"type":"Resource","resource":{"name":"memory","target":{"type":"AverageValue","averageValue":"800Ki","averageUtilization":80}}},
              {"type":"Resource","resource":{"name":"disk"}},
              {"type":"External","external":{"metric":{"name":"sqs_jobs"},"target":{"type":"Value","value":"30"}}},
              {"type":"External","external":{"metric":{"name":"events"},"target":{"type":"AverageValue","averageValue":"30"}}},
              {"type":"ContainerResource","containerResource":{"name":"cpu","container":"app","target":{"type":"Utilization","averageUtilization":60}}},
              {"type":"Unknown"},
              {"type":"Pods"}
            ]}}"#,
        );
        let p = "m{namespace=\"ns1\",horizontalpodautoscaler=\"hpa1\",";
        let want = [
            "metric_name=\"hits\",metric_target_type=\"value\"} 10",
            "metric_name=\"hits\",metric_target_type=\"average\"} 12",
            "metric_name=\"connections\",metric_target_type=\"value\"} 0.5",
            "metric_name=\"connections\",metric_target_type=\"average\"} 0.7",
            "metric_name=\"transactions_processed\",metric_target_type=\"average\"} 33",
            "metric_name=\"cpu\",metric_target_type=\"utilization\"} 80",
            "metric_name=\"memory\",metric_target_type=\"utilization\"} 80",
            "metric_name=\"memory\",metric_target_type=\"average\"} 819200",
            "metric_name=\"sqs_jobs\",metric_target_type=\"value\"} 30",
            "metric_name=\"events\",metric_target_type=\"average\"} 30",
            "metric_name=\"cpu\",metric_target_type=\"utilization\",container=\"app\"} 60",
        ]
        .map(|l| format!("{p}{l}\n"))
        .concat();
        assert_eq!(render(&h, spec_target_metric), want);
    }

    #[test]
    fn status_targets_read_current_values_as_ksm_does() {
        let h = hpa(
            r#"{"metadata":{"name":"hpa1","namespace":"ns1"},"status":{"currentMetrics":[
              {"type":"Resource","resource":{"name":"cpu","current":{"averageValue":"7m","averageUtilization":80}}},
              {"type":"Resource","resource":{"name":"memory","current":{"averageValue":"26335914666m","averageUtilization":80}}},
              {"type":"External","external":{"metric":{"name":"errors"},"current":{"value":"0"}}}
            ]}}"#,
        );
        let p = "m{namespace=\"ns1\",horizontalpodautoscaler=\"hpa1\",";
        let want = [
            "metric_name=\"cpu\",metric_target_type=\"utilization\"} 80",
            "metric_name=\"cpu\",metric_target_type=\"average\"} 0.007",
            "metric_name=\"memory\",metric_target_type=\"utilization\"} 80",
            "metric_name=\"memory\",metric_target_type=\"average\"} 2.6335914666e+07",
            "metric_name=\"errors\",metric_target_type=\"value\"} 0",
        ]
        .map(|l| format!("{p}{l}\n"))
        .concat();
        assert_eq!(render(&h, status_target_metric), want);
    }

    #[test]
    fn info_omits_an_empty_api_version() {
        let h = hpa(r#"{"metadata":{"name":"h","namespace":"ns"},
            "spec":{"scaleTargetRef":{"kind":"Deployment","name":"d"}}}"#);
        assert_eq!(
            render(&h, info),
            "m{namespace=\"ns\",horizontalpodautoscaler=\"h\",scaletargetref_kind=\"Deployment\",scaletargetref_name=\"d\"} 1\n"
        );
    }

    #[test]
    fn tolerances_appear_only_when_set() {
        let h = hpa(r#"{"metadata":{"name":"h","namespace":"ns"},
            "spec":{"behavior":{"scaleUp":{"tolerance":"50m"},"scaleDown":{"stabilizationWindowSeconds":300}}}}"#);
        assert_eq!(
            render(&h, spec_behavior_scale_up_tolerance),
            "m{namespace=\"ns\",horizontalpodautoscaler=\"h\"} 0.05\n"
        );
        assert_eq!(render(&h, spec_behavior_scale_down_tolerance), "");
        let numeric = hpa(r#"{"spec":{"behavior":{"scaleDown":{"tolerance":0.1}}}}"#);
        assert_eq!(
            render(&numeric, spec_behavior_scale_down_tolerance),
            "m{namespace=\"\",horizontalpodautoscaler=\"\"} 0.1\n"
        );
    }

    #[test]
    fn an_empty_object_decodes_with_api_defaults() {
        let h = hpa(r#"{"metadata":{"name":"h"},"spec":null,"status":null}"#);
        assert_eq!(
            render(&h, spec_min_replicas),
            "m{namespace=\"\",horizontalpodautoscaler=\"h\"} 1\n"
        );
        assert_eq!(render(&h, spec_target_metric), "");
        assert_eq!(render(&h, status_condition), "");
    }
}
