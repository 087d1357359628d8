//! `discovery.k8s.io/v1/EndpointSlice`, lean: the fields the endpointslice families read (the
//! JSON twin is the lean `EndpointSlice` in `resources/endpointslice.rs`), at the field numbers
//! of `k8s.io/api/discovery/v1/generated.proto` (the target reference at those of
//! `k8s.io/api/core/v1`'s `ObjectReference`). Deprecated topology, node hints and app protocols
//! are skipped by prost without being built.
//!
//! The 1.20 test apiserver serves EndpointSlice at `discovery.k8s.io/v1beta1` only, so this
//! message is checked on hand-encoded objects (`agent/tests/protobuf.rs`).

use super::meta::{ObjectMeta, always, omitempty};
use super::{Message, Result};
use crate::resources::endpointslice as lean;

/// `discovery/v1.EndpointSlice`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointSlice {
    /// `metadata`.
    #[prost(message, optional, tag = "1")]
    pub metadata: Option<ObjectMeta>,
    /// `endpoints`.
    #[prost(message, repeated, tag = "2")]
    pub endpoints: Vec<Endpoint>,
    /// `ports`.
    #[prost(message, repeated, tag = "3")]
    pub ports: Vec<EndpointPort>,
    /// `addressType`.
    #[prost(string, optional, tag = "4")]
    pub address_type: Option<String>,
}

/// `discovery/v1.Endpoint`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Endpoint {
    /// `addresses`.
    #[prost(string, repeated, tag = "1")]
    pub addresses: Vec<String>,
    /// `conditions`.
    #[prost(message, optional, tag = "2")]
    pub conditions: Option<EndpointConditions>,
    /// `hostname` (a pointer).
    #[prost(string, optional, tag = "3")]
    pub hostname: Option<String>,
    /// `targetRef` (a pointer).
    #[prost(message, optional, tag = "4")]
    pub target_ref: Option<ObjectReference>,
    /// `nodeName` (a pointer).
    #[prost(string, optional, tag = "6")]
    pub node_name: Option<String>,
    /// `zone` (a pointer).
    #[prost(string, optional, tag = "7")]
    pub zone: Option<String>,
    /// `hints` (a pointer).
    #[prost(message, optional, tag = "8")]
    pub hints: Option<EndpointHints>,
}

/// `discovery/v1.EndpointConditions`: three pointers.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointConditions {
    /// `ready`.
    #[prost(bool, optional, tag = "1")]
    pub ready: Option<bool>,
    /// `serving`.
    #[prost(bool, optional, tag = "2")]
    pub serving: Option<bool>,
    /// `terminating`.
    #[prost(bool, optional, tag = "3")]
    pub terminating: Option<bool>,
}

/// `core/v1.ObjectReference`, lean.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ObjectReference {
    /// `kind`.
    #[prost(string, optional, tag = "1")]
    pub kind: Option<String>,
    /// `namespace`.
    #[prost(string, optional, tag = "2")]
    pub namespace: Option<String>,
    /// `name`.
    #[prost(string, optional, tag = "3")]
    pub name: Option<String>,
}

/// `discovery/v1.EndpointHints`, lean: the node hints are not read.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointHints {
    /// `forZones`.
    #[prost(message, repeated, tag = "1")]
    pub for_zones: Vec<ForZone>,
}

/// `discovery/v1.ForZone`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ForZone {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
}

/// `discovery/v1.EndpointPort`, lean: every field a pointer.
#[derive(Clone, PartialEq, prost::Message)]
pub struct EndpointPort {
    /// `name`.
    #[prost(string, optional, tag = "1")]
    pub name: Option<String>,
    /// `protocol`.
    #[prost(string, optional, tag = "2")]
    pub protocol: Option<String>,
    /// `port`.
    #[prost(int32, optional, tag = "3")]
    pub port: Option<i32>,
}

impl Message for EndpointSlice {
    type Object = lean::EndpointSlice;
    const NAME: &'static str = "discovery.k8s.io/v1/EndpointSlice";

    fn into_object(self) -> Result<lean::EndpointSlice> {
        Ok(lean::EndpointSlice {
            metadata: self.metadata.unwrap_or_default().into_meta()?,
            address_type: always(self.address_type),
            endpoints: self
                .endpoints
                .into_iter()
                .map(|e| {
                    let conditions = e.conditions.unwrap_or_default();
                    lean::Endpoint {
                        addresses: e.addresses,
                        conditions: lean::EndpointConditions {
                            ready: conditions.ready,
                            serving: conditions.serving,
                            terminating: conditions.terminating,
                        },
                        hostname: e.hostname,
                        // Every string of an `ObjectReference` is `omitempty`.
                        target_ref: e.target_ref.map(|r| lean::TargetRef {
                            kind: omitempty(r.kind),
                            name: omitempty(r.name),
                            namespace: omitempty(r.namespace),
                        }),
                        node_name: e.node_name,
                        zone: e.zone,
                        hints: e.hints.map(|h| lean::EndpointHints {
                            for_zones: h
                                .for_zones
                                .into_iter()
                                .map(|z| lean::ForZone {
                                    name: always(z.name),
                                })
                                .collect(),
                        }),
                    }
                })
                .collect(),
            ports: self
                .ports
                .into_iter()
                .map(|p| lean::EndpointPort {
                    name: p.name,
                    protocol: p.protocol,
                    port: p.port,
                })
                .collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use prost::Message as _;

    use super::*;
    use crate::decode::Decoded;

    #[test]
    fn a_target_ref_and_a_port_read_as_json_leaves_their_empty_fields_out() {
        let slice = EndpointSlice {
            metadata: None,
            endpoints: vec![Endpoint {
                addresses: vec!["10.0.0.1".into()],
                // gogo writes an ObjectReference's strings empty or not; JSON leaves them out.
                target_ref: Some(ObjectReference {
                    kind: Some(String::new()),
                    namespace: Some(String::new()),
                    name: Some("web-0".into()),
                }),
                hostname: Some(String::new()),
                ..Default::default()
            }],
            ports: vec![EndpointPort {
                name: Some(String::new()),
                ..Default::default()
            }],
            address_type: None,
        };
        let Decoded::Object(slice) =
            crate::wire::decode::<EndpointSlice>(slice.encode_to_vec().into())
        else {
            panic!("does not decode");
        };
        let target = slice.endpoints[0].target_ref.as_ref().expect("a target");
        assert_eq!(
            (target.kind.as_deref(), target.namespace.as_deref()),
            (None, None)
        );
        assert_eq!(target.name.as_deref(), Some("web-0"));
        // Pointers: set to "" is "" on both wires.
        assert_eq!(slice.endpoints[0].hostname.as_deref(), Some(""));
        assert_eq!(slice.ports[0].name.as_deref(), Some(""));
        assert_eq!(slice.ports[0].port, None);
        assert_eq!(
            slice.address_type.as_deref(),
            Some(""),
            "addressType is always written"
        );
    }
}
