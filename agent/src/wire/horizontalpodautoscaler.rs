//! `autoscaling/v2/HorizontalPodAutoscaler`, lean: the fields the autoscaler families read (the
//! JSON twin is the lean `HorizontalPodAutoscaler` in `resources/horizontalpodautoscaler.rs`),
//! at the field numbers of `k8s.io/api/autoscaling/v2/generated.proto`. Metric selectors,
//! scaling policies and condition messages are skipped by prost without being built.
//!
//! A spec's metric sources and a status's differ on the wire (an Object source keeps its
//! `metric` at 3 in a spec and at 1 in a status; `MetricTarget` and `MetricValueStatus` number
//! their values differently), so each side has its own messages; both convert into the one lean
//! `MetricEntry`, a spec's values into `target` and a status's into `current`.
//!
//! The 1.20 test apiserver serves `autoscaling/v2beta2` at most, so this message is checked on
//! hand-encoded objects (`agent/tests/protobuf.rs`).

use super::meta::{ObjectMeta, Quantity, always, omitempty};
use super::{Message, Result};
use crate::resources::horizontalpodautoscaler as lean;

/// `autoscaling/v2.HorizontalPodAutoscaler`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HorizontalPodAutoscaler {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<HorizontalPodAutoscalerSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<HorizontalPodAutoscalerStatus>,
}

/// `autoscaling/v2.HorizontalPodAutoscalerSpec`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HorizontalPodAutoscalerSpec {
    /// `scaleTargetRef`.
    #[prost(message, optional, tag = "1")]
    pub scale_target_ref: Option<CrossVersionObjectReference>,
    /// `minReplicas` (a pointer).
    #[prost(int32, optional, tag = "2")]
    pub min_replicas: Option<i32>,
    /// `maxReplicas`.
    #[prost(int32, optional, tag = "3")]
    pub max_replicas: Option<i32>,
    /// `metrics`.
    #[prost(message, repeated, tag = "4")]
    pub metrics: Vec<MetricSpec>,
    /// `behavior` (a pointer).
    #[prost(message, optional, tag = "5")]
    pub behavior: Option<HorizontalPodAutoscalerBehavior>,
}

/// `autoscaling/v2.CrossVersionObjectReference`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct CrossVersionObjectReference {
    /// `kind`.
    #[prost(string, optional, tag = "1")]
    pub kind: Option<String>,
    /// `name`.
    #[prost(string, optional, tag = "2")]
    pub name: Option<String>,
    /// `apiVersion`.
    #[prost(string, optional, tag = "3")]
    pub api_version: Option<String>,
}

/// `autoscaling/v2.HorizontalPodAutoscalerBehavior`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HorizontalPodAutoscalerBehavior {
    /// `scaleUp` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub scale_up: Option<HpaScalingRules>,
    /// `scaleDown` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub scale_down: Option<HpaScalingRules>,
}

/// `autoscaling/v2.HPAScalingRules`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HpaScalingRules {
    /// `tolerance` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub tolerance: Option<Quantity>,
}

/// `autoscaling/v2.MetricSpec`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricSpec {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `object` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub object: Option<ObjectMetricSource>,
    /// `pods` (a pointer).
    #[prost(message, optional, tag = "3")]
    pub pods: Option<NamedMetricSource>,
    /// `resource` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub resource: Option<ResourceMetricSource>,
    /// `external` (a pointer).
    #[prost(message, optional, tag = "5")]
    pub external: Option<NamedMetricSource>,
    /// `containerResource` (a pointer).
    #[prost(message, optional, tag = "7")]
    pub container_resource: Option<ResourceMetricSource>,
}

/// `autoscaling/v2.ObjectMetricSource`, lean: its metric is field 3.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectMetricSource {
    /// `target`.
    #[prost(message, optional, tag = "2")]
    pub target: Option<MetricTarget>,
    /// `metric`.
    #[prost(message, optional, tag = "3")]
    pub metric: Option<MetricIdentifier>,
}

/// `autoscaling/v2.PodsMetricSource` or `ExternalMetricSource`, which number their fields
/// alike.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedMetricSource {
    /// `metric`.
    #[prost(message, optional, tag = "1")]
    pub metric: Option<MetricIdentifier>,
    /// `target`.
    #[prost(message, optional, tag = "2")]
    pub target: Option<MetricTarget>,
}

/// `autoscaling/v2.ResourceMetricSource` or `ContainerResourceMetricSource` (the first has no
/// `container`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceMetricSource {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `target`.
    #[prost(message, optional, tag = "2")]
    pub target: Option<MetricTarget>,
    /// `container`.
    #[prost(string, optional, tag = "3")]
    pub container: Option<String>,
}

/// `autoscaling/v2.MetricIdentifier`, lean: the selector is not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricIdentifier {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
}

/// `autoscaling/v2.MetricTarget`, lean: its `type` is not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricTarget {
    /// `value` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub value: Option<Quantity>,
    /// `averageValue` (a pointer).
    #[prost(message, optional, tag = "3")]
    pub average_value: Option<Quantity>,
    /// `averageUtilization` (a pointer).
    #[prost(int32, optional, tag = "4")]
    pub average_utilization: Option<i32>,
}

/// `autoscaling/v2.HorizontalPodAutoscalerStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HorizontalPodAutoscalerStatus {
    /// `currentReplicas`.
    #[prost(int32, optional, tag = "3")]
    pub current_replicas: Option<i32>,
    /// `desiredReplicas`.
    #[prost(int32, optional, tag = "4")]
    pub desired_replicas: Option<i32>,
    /// `currentMetrics`.
    #[prost(message, repeated, tag = "5")]
    pub current_metrics: Vec<MetricStatus>,
    /// `conditions`.
    #[prost(message, repeated, tag = "6")]
    pub conditions: Vec<HorizontalPodAutoscalerCondition>,
}

/// `autoscaling/v2.MetricStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricStatus {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `object` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub object: Option<NamedMetricStatus>,
    /// `pods` (a pointer).
    #[prost(message, optional, tag = "3")]
    pub pods: Option<NamedMetricStatus>,
    /// `resource` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub resource: Option<ResourceMetricStatus>,
    /// `external` (a pointer).
    #[prost(message, optional, tag = "5")]
    pub external: Option<NamedMetricStatus>,
    /// `containerResource` (a pointer).
    #[prost(message, optional, tag = "7")]
    pub container_resource: Option<ResourceMetricStatus>,
}

/// `autoscaling/v2.ObjectMetricStatus`, `PodsMetricStatus` or `ExternalMetricStatus`, lean:
/// all three keep `metric` at 1 and `current` at 2.
#[derive(Clone, PartialEq, prost::Message)]
pub struct NamedMetricStatus {
    /// `metric`.
    #[prost(message, optional, tag = "1")]
    pub metric: Option<MetricIdentifier>,
    /// `current`.
    #[prost(message, optional, tag = "2")]
    pub current: Option<MetricValueStatus>,
}

/// `autoscaling/v2.ResourceMetricStatus` or `ContainerResourceMetricStatus` (the first has no
/// `container`).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ResourceMetricStatus {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `current`.
    #[prost(message, optional, tag = "2")]
    pub current: Option<MetricValueStatus>,
    /// `container`.
    #[prost(string, optional, tag = "3")]
    pub container: Option<String>,
}

/// `autoscaling/v2.MetricValueStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct MetricValueStatus {
    /// `value` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub value: Option<Quantity>,
    /// `averageValue` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub average_value: Option<Quantity>,
    /// `averageUtilization` (a pointer).
    #[prost(int32, optional, tag = "3")]
    pub average_utilization: Option<i32>,
}

/// `autoscaling/v2.HorizontalPodAutoscalerCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct HorizontalPodAutoscalerCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `status`.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
}

/// A pointer to a `Quantity`: its text, as JSON holds it.
fn quantity(q: Option<Quantity>) -> Option<String> {
    q.map(|q| q.string.unwrap_or_default())
}

impl MetricTarget {
    fn into_lean(self) -> lean::MetricTarget {
        lean::MetricTarget {
            value: quantity(self.value),
            average_value: quantity(self.average_value),
            average_utilization: self.average_utilization,
        }
    }
}

impl MetricValueStatus {
    fn into_lean(self) -> lean::MetricTarget {
        lean::MetricTarget {
            value: quantity(self.value),
            average_value: quantity(self.average_value),
            average_utilization: self.average_utilization,
        }
    }
}

/// A metric identifier's `name` has no `omitempty`: JSON always writes it.
fn metric(m: Option<MetricIdentifier>) -> lean::MetricIdentifier {
    lean::MetricIdentifier {
        name: always(m.and_then(|m| m.name)),
    }
}

impl MetricSpec {
    fn into_lean(self) -> lean::MetricEntry {
        let named =
            |metric_id: Option<MetricIdentifier>, target: Option<MetricTarget>| lean::NamedSource {
                metric: metric(metric_id),
                target: target.unwrap_or_default().into_lean(),
                current: lean::MetricTarget::default(),
            };
        let resource = |s: ResourceMetricSource, container: bool| lean::ResourceSource {
            name: always(s.name),
            container: container.then(|| s.container.unwrap_or_default()),
            target: s.target.unwrap_or_default().into_lean(),
            current: lean::MetricTarget::default(),
        };
        lean::MetricEntry {
            type_: always(self.r#type),
            object: self.object.map(|s| named(s.metric, s.target)),
            pods: self.pods.map(|s| named(s.metric, s.target)),
            resource: self.resource.map(|s| resource(s, false)),
            container_resource: self.container_resource.map(|s| resource(s, true)),
            external: self.external.map(|s| named(s.metric, s.target)),
        }
    }
}

impl MetricStatus {
    fn into_lean(self) -> lean::MetricEntry {
        let named = |s: NamedMetricStatus| lean::NamedSource {
            metric: metric(s.metric),
            target: lean::MetricTarget::default(),
            current: s.current.unwrap_or_default().into_lean(),
        };
        let resource = |s: ResourceMetricStatus, container: bool| lean::ResourceSource {
            name: always(s.name),
            container: container.then(|| s.container.unwrap_or_default()),
            target: lean::MetricTarget::default(),
            current: s.current.unwrap_or_default().into_lean(),
        };
        lean::MetricEntry {
            type_: always(self.r#type),
            object: self.object.map(named),
            pods: self.pods.map(named),
            resource: self.resource.map(|s| resource(s, false)),
            container_resource: self.container_resource.map(|s| resource(s, true)),
            external: self.external.map(named),
        }
    }
}

impl Message for HorizontalPodAutoscaler {
    type Object = lean::HorizontalPodAutoscaler;
    const NAME: &'static str = "autoscaling/v2/HorizontalPodAutoscaler";

    fn into_object(self) -> Result<lean::HorizontalPodAutoscaler> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        let target = spec.scale_target_ref.unwrap_or_default();
        let rules = |r: HpaScalingRules| lean::ScalingRules {
            tolerance: quantity(r.tolerance),
        };
        Ok(lean::HorizontalPodAutoscaler {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::HpaSpec {
                scale_target_ref: lean::ScaleTargetRef {
                    api_version: omitempty(target.api_version),
                    kind: always(target.kind),
                    name: always(target.name),
                },
                min_replicas: spec.min_replicas,
                max_replicas: spec.max_replicas.unwrap_or_default(),
                metrics: spec
                    .metrics
                    .into_iter()
                    .map(MetricSpec::into_lean)
                    .collect(),
                behavior: spec.behavior.map(|b| lean::Behavior {
                    scale_up: b.scale_up.map(rules),
                    scale_down: b.scale_down.map(rules),
                }),
            },
            status: lean::HpaStatus {
                current_replicas: status.current_replicas.unwrap_or_default(),
                desired_replicas: status.desired_replicas.unwrap_or_default(),
                current_metrics: status
                    .current_metrics
                    .into_iter()
                    .map(MetricStatus::into_lean)
                    .collect(),
                conditions: status
                    .conditions
                    .into_iter()
                    .map(|c| lean::HpaCondition {
                        type_: always(c.r#type),
                        status: always(c.status),
                    })
                    .collect(),
            },
        })
    }
}
