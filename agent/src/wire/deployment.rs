//! `apps/v1/Deployment`, lean: the fields the deployment families read (the JSON twin is the
//! lean `Deployment` in `resources/deployment.rs`), at the field numbers of
//! `k8s.io/api/apps/v1/generated.proto`. The pod template and the selector are skipped by prost
//! without being built.

use super::meta::{IntOrString, ObjectMeta, always, int, omitempty};
use super::{Message, Result};
use crate::resources::deployment as lean;

/// `apps/v1.Deployment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Deployment {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<DeploymentSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<DeploymentStatus>,
}

/// `apps/v1.DeploymentSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeploymentSpec {
    /// `replicas` (a pointer).
    #[prost(int32, optional, tag = "1")]
    pub replicas: Option<i32>,
    /// `strategy`.
    #[prost(message, optional, tag = "4")]
    pub strategy: Option<DeploymentStrategy>,
    /// `paused`.
    #[prost(bool, optional, tag = "7")]
    pub paused: Option<bool>,
}

/// `apps/v1.DeploymentStrategy`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeploymentStrategy {
    /// `rollingUpdate` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub rolling_update: Option<RollingUpdateDeployment>,
}

/// `apps/v1.RollingUpdateDeployment`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct RollingUpdateDeployment {
    /// `maxUnavailable` (a pointer).
    #[prost(message, optional, tag = "1")]
    pub max_unavailable: Option<IntOrString>,
    /// `maxSurge` (a pointer).
    #[prost(message, optional, tag = "2")]
    pub max_surge: Option<IntOrString>,
}

/// `apps/v1.DeploymentStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeploymentStatus {
    /// `observedGeneration`.
    #[prost(int64, optional, tag = "1")]
    pub observed_generation: Option<i64>,
    /// `replicas`.
    #[prost(int32, optional, tag = "2")]
    pub replicas: Option<i32>,
    /// `updatedReplicas`.
    #[prost(int32, optional, tag = "3")]
    pub updated_replicas: Option<i32>,
    /// `availableReplicas`.
    #[prost(int32, optional, tag = "4")]
    pub available_replicas: Option<i32>,
    /// `unavailableReplicas`.
    #[prost(int32, optional, tag = "5")]
    pub unavailable_replicas: Option<i32>,
    /// `conditions`.
    #[prost(message, repeated, tag = "6")]
    pub conditions: Vec<DeploymentCondition>,
    /// `readyReplicas`.
    #[prost(int32, optional, tag = "7")]
    pub ready_replicas: Option<i32>,
    /// `terminatingReplicas` (a pointer).
    #[prost(int32, optional, tag = "9")]
    pub terminating_replicas: Option<i32>,
}

/// `apps/v1.DeploymentCondition`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct DeploymentCondition {
    /// `type`.
    #[prost(string, optional, tag = "1")]
    pub r#type: Option<String>,
    /// `status`.
    #[prost(string, optional, tag = "2")]
    pub status: Option<String>,
    /// `reason`.
    #[prost(string, optional, tag = "4")]
    pub reason: Option<String>,
}

impl Message for Deployment {
    type Object = lean::Deployment;
    const NAME: &'static str = "apps/v1/Deployment";

    fn into_object(self) -> Result<lean::Deployment> {
        let spec = self.spec.unwrap_or_default();
        let status = self.status.unwrap_or_default();
        let rolling_update = spec.strategy.unwrap_or_default().rolling_update.map(|r| {
            lean::RollingUpdateDeployment {
                max_unavailable: r.max_unavailable.map(IntOrString::into_lean),
                max_surge: r.max_surge.map(IntOrString::into_lean),
            }
        });
        Ok(lean::Deployment {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::DeploymentSpec {
                replicas: spec.replicas.map(i64::from),
                paused: spec.paused.unwrap_or_default(),
                strategy: lean::DeploymentStrategy { rolling_update },
            },
            status: lean::DeploymentStatus {
                replicas: int(status.replicas),
                ready_replicas: int(status.ready_replicas),
                available_replicas: int(status.available_replicas),
                unavailable_replicas: int(status.unavailable_replicas),
                updated_replicas: int(status.updated_replicas),
                terminating_replicas: status.terminating_replicas.map(i64::from),
                observed_generation: status.observed_generation.unwrap_or_default(),
                conditions: status
                    .conditions
                    .into_iter()
                    .map(|c| lean::DeploymentCondition {
                        type_: always(c.r#type),
                        status: always(c.status),
                        reason: omitempty(c.reason),
                    })
                    .collect(),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::apimachinery::pkg::util::intstr;
    use prost::Message as _;

    use super::*;
    use crate::decode::Decoded;

    #[test]
    fn fields_newer_than_the_test_apiserver_and_both_int_or_string_forms_decode() {
        let deployment = Deployment {
            spec: Some(DeploymentSpec {
                strategy: Some(DeploymentStrategy {
                    rolling_update: Some(RollingUpdateDeployment {
                        max_unavailable: Some(IntOrString {
                            r#type: Some(0),
                            int_val: Some(2),
                            str_val: Some(String::new()),
                        }),
                        max_surge: Some(IntOrString {
                            r#type: Some(1),
                            int_val: Some(0),
                            str_val: Some("30%".into()),
                        }),
                    }),
                }),
                ..Default::default()
            }),
            status: Some(DeploymentStatus {
                terminating_replicas: Some(0),
                ..Default::default()
            }),
            ..Default::default()
        };
        let Decoded::Object(d) =
            super::super::decode::<Deployment>(bytes::Bytes::from(deployment.encode_to_vec()))
        else {
            panic!("decodes");
        };
        let rolling = d.spec.strategy.rolling_update.expect("rolling update");
        assert_eq!(rolling.max_unavailable, Some(intstr::IntOrString::Int(2)));
        assert_eq!(
            rolling.max_surge,
            Some(intstr::IntOrString::String("30%".into()))
        );
        // A pointer: zero is present, as in JSON.
        assert_eq!(d.status.terminating_replicas, Some(0));
        assert_eq!(d.spec.replicas, None);
    }
}
