//! `v1/Service`, lean: the fields the service families read (the JSON twin is the lean
//! `Service` in `resources/service.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`. Ports, the selector and session affinity are skipped
//! by prost without being built.

use super::meta::{ObjectMeta, omitempty};
use super::{Message, Result};
use crate::resources::service as lean;

/// `v1.Service`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Service {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `spec`.
    #[prost(message, optional, tag = "2")]
    pub spec: Option<ServiceSpec>,
    /// `status`.
    #[prost(message, optional, tag = "3")]
    pub status: Option<ServiceStatus>,
}

/// `v1.ServiceSpec`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceSpec {
    /// `clusterIP`.
    #[prost(string, optional, tag = "3")]
    pub cluster_ip: Option<String>,
    /// `type`.
    #[prost(string, optional, tag = "4")]
    pub r#type: Option<String>,
    /// `externalIPs`.
    #[prost(string, repeated, tag = "5")]
    pub external_ips: Vec<String>,
    /// `loadBalancerIP`.
    #[prost(string, optional, tag = "8")]
    pub load_balancer_ip: Option<String>,
    /// `externalName`.
    #[prost(string, optional, tag = "10")]
    pub external_name: Option<String>,
    /// `externalTrafficPolicy`.
    #[prost(string, optional, tag = "11")]
    pub external_traffic_policy: Option<String>,
}

/// `v1.ServiceStatus`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ServiceStatus {
    /// `loadBalancer`.
    #[prost(message, optional, tag = "1")]
    pub load_balancer: Option<LoadBalancerStatus>,
}

/// `v1.LoadBalancerStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoadBalancerStatus {
    /// `ingress`.
    #[prost(message, repeated, tag = "1")]
    pub ingress: Vec<LoadBalancerIngress>,
}

/// `v1.LoadBalancerIngress`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct LoadBalancerIngress {
    /// `ip`.
    #[prost(string, optional, tag = "1")]
    pub ip: Option<String>,
    /// `hostname`.
    #[prost(string, optional, tag = "2")]
    pub hostname: Option<String>,
}

impl Message for Service {
    type Object = lean::Service;
    const NAME: &'static str = "v1/Service";

    fn into_object(self) -> Result<lean::Service> {
        let spec = self.spec.unwrap_or_default();
        let load_balancer = self
            .status
            .unwrap_or_default()
            .load_balancer
            .unwrap_or_default();
        Ok(lean::Service {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            spec: lean::ServiceSpec {
                type_: omitempty(spec.r#type),
                cluster_ip: omitempty(spec.cluster_ip),
                external_name: omitempty(spec.external_name),
                load_balancer_ip: omitempty(spec.load_balancer_ip),
                external_traffic_policy: omitempty(spec.external_traffic_policy),
                external_ips: spec.external_ips,
            },
            status: lean::ServiceStatus {
                load_balancer: lean::LoadBalancerStatus {
                    ingress: load_balancer
                        .ingress
                        .into_iter()
                        .map(|i| lean::LoadBalancerIngress {
                            ip: omitempty(i.ip),
                            hostname: omitempty(i.hostname),
                        })
                        .collect(),
                },
            },
        })
    }
}
