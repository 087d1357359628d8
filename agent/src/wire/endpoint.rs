//! `v1/Endpoints`, lean: the fields the endpoint families read (the JSON twin is the lean
//! `Endpoints` in `resources/endpoint.rs`), at the field numbers of
//! `k8s.io/api/core/v1/generated.proto`. Target references, host and node names are skipped by
//! prost without being built.

use super::meta::{ObjectMeta, always, omitempty};
use super::{Message, Result};
use crate::resources::endpoint as lean;

/// `v1.Endpoints`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Endpoints {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `subsets`.
    #[prost(message, repeated, tag = "2")]
    pub subsets: Vec<EndpointSubset>,
}

/// `v1.EndpointSubset`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointSubset {
    /// `addresses`.
    #[prost(message, repeated, tag = "1")]
    pub addresses: Vec<EndpointAddress>,
    /// `notReadyAddresses`.
    #[prost(message, repeated, tag = "2")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// `ports`.
    #[prost(message, repeated, tag = "3")]
    pub ports: Vec<EndpointPort>,
}

/// `v1.EndpointAddress`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointAddress {
    /// `ip`.
    #[prost(string, optional, tag = "1")]
    pub ip: Option<String>,
}

/// `v1.EndpointPort`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointPort {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `port`.
    #[prost(int32, optional, tag = "2")]
    pub port: Option<i32>,
    /// `protocol`.
    #[prost(string, optional, tag = "3")]
    pub protocol: Option<String>,
}

fn addresses(addresses: Vec<EndpointAddress>) -> Vec<lean::EndpointAddress> {
    addresses
        .into_iter()
        .map(|a| lean::EndpointAddress { ip: always(a.ip) })
        .collect()
}

impl Message for Endpoints {
    type Object = lean::Endpoints;
    const NAME: &'static str = "v1/Endpoints";

    fn into_object(self) -> Result<lean::Endpoints> {
        Ok(lean::Endpoints {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            subsets: self
                .subsets
                .into_iter()
                .map(|s| lean::EndpointSubset {
                    addresses: addresses(s.addresses),
                    not_ready_addresses: addresses(s.not_ready_addresses),
                    ports: s
                        .ports
                        .into_iter()
                        .map(|p| lean::EndpointPort {
                            name: omitempty(p.name),
                            port: Some(p.port.unwrap_or_default()),
                            protocol: omitempty(p.protocol),
                        })
                        .collect(),
                })
                .collect(),
        })
    }
}
