//! EndpointSlices (`discovery.k8s.io/v1/EndpointSlice`), scope [`Scope::Namespaced`]: watched
//! by the leader only. Mirrors kube-state-metrics' `internal/store/endpointslice.go`
//! (`endpointSliceMetricFamilies`), family by family, in the same order.
//!
//! Every family is a pure function of one decoded [`EndpointSlice`]; the identity labels
//! `endpointslice`, `namespace` (in that order, as `wrapEndpointSliceFunc` merges them) are put
//! in front by the writer. See [`KIND`].
//!
//! Our stored copy of endpointslice.go predates three upstream fixes that this file follows,
//! each matching the newest `endpointslice_test.go` expectations:
//! - kubernetes/kube-state-metrics#3058: in `kube_endpointslice_endpoints` the older code put
//!   the `terminating` condition under `serving`, the hostname under `terminating` and an empty
//!   string under `hostname`; each label now carries its own value;
//! - #3063: a port without a number (valid: EndpointSlices not used for routing may omit it)
//!   gets `port_number=""` instead of crashing the exporter; an unset name or protocol is `""`;
//! - #3076: an endpoint with zone hints but no address is skipped by `_endpoints_hints` instead
//!   of indexing an empty list.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::{metadata, text};
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of an EndpointSlice that the families read; everything else is skipped by serde.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSlice {
    /// Identity, labels, annotations, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// `IPv4`, `IPv6` or `FQDN`.
    pub address_type: Option<String>,
    /// Endpoints, in object order.
    #[serde(deserialize_with = "null_as_default")]
    pub endpoints: Vec<Endpoint>,
    /// Ports, in object order.
    #[serde(deserialize_with = "null_as_default")]
    pub ports: Vec<EndpointPort>,
}
crate::impl_object!(EndpointSlice => KIND);

/// One `endpoints[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct Endpoint {
    /// The endpoint's addresses (fungible; at least one when valid).
    #[serde(deserialize_with = "null_as_default")]
    pub addresses: Vec<String>,
    /// Ready, serving, terminating.
    #[serde(deserialize_with = "null_as_default")]
    pub conditions: EndpointConditions,
    /// DNS hostname of the endpoint.
    pub hostname: Option<String>,
    /// What backs the endpoint, usually a Pod.
    pub target_ref: Option<TargetRef>,
    /// The node hosting the endpoint.
    pub node_name: Option<String>,
    /// The zone the endpoint is in.
    pub zone: Option<String>,
    /// Topology-aware routing hints.
    pub hints: Option<EndpointHints>,
}

/// `endpoints[].conditions`: each one unset, true or false.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct EndpointConditions {
    /// Ready to receive traffic.
    pub ready: Option<bool>,
    /// Serving, even while terminating.
    pub serving: Option<bool>,
    /// Terminating.
    pub terminating: Option<bool>,
}

/// `endpoints[].targetRef`, lean: an `ObjectReference`.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct TargetRef {
    /// Kind of the referent.
    pub kind: Option<String>,
    /// Name of the referent.
    pub name: Option<String>,
    /// Namespace of the referent.
    pub namespace: Option<String>,
}

/// `endpoints[].hints`, lean.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointHints {
    /// Zones that should consume this endpoint.
    #[serde(deserialize_with = "null_as_default")]
    pub for_zones: Vec<ForZone>,
}

/// One `hints.forZones[]` entry.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct ForZone {
    /// The zone's name.
    pub name: Option<String>,
}

/// One `ports[]` entry; every field is optional in the API.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct EndpointPort {
    /// Port name; the apiserver defaults it to `""`.
    pub name: Option<String>,
    /// `TCP`, `UDP` or `SCTP`; the apiserver defaults it to `TCP`.
    pub protocol: Option<String>,
    /// Port number; not defaulted.
    pub port: Option<i32>,
}

// ===== family table =====

/// The endpointslice kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `endpointSliceMetricFamilies` order: it is
/// the exposition order.
pub static KIND: Kind<EndpointSlice> = Kind {
    resource: "endpointslices",
    api: ApiType::new("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::endpointslice::EndpointSlice>),
    identity,
    families: &[
        Family::experimental(
            "kube_endpointslice_info",
            "EndpointSlice facts as labels: its address type.",
            MetricType::Gauge,
            info,
        ),
        Family::experimental(
            "kube_endpointslice_created",
            "Unix time (seconds) at which the EndpointSlice was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_endpointslice_endpoints_hints",
            "One series per zone hint of each endpoint, keyed by the endpoint's first address.",
            MetricType::Gauge,
            endpoints_hints,
        ),
        Family::experimental(
            "kube_endpointslice_endpoints",
            "One series per endpoint address, with the endpoint's conditions, target and placement.",
            MetricType::Gauge,
            endpoints,
        ),
        Family::experimental(
            "kube_endpointslice_ports",
            "One series per port of the EndpointSlice.",
            MetricType::Gauge,
            ports,
        ),
        Family::experimental(
            "kube_endpointslice_annotations",
            "EndpointSlice annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::experimental(
            "kube_endpointslice_labels",
            "EndpointSlice labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
    ],
};

/// `endpointslice`, `namespace`, like `wrapEndpointSliceFunc` (name first).
fn identity(s: &EndpointSlice) -> Identity {
    Identity::new([
        ("endpointslice", s.metadata.name.as_deref().unwrap_or("")),
        ("namespace", s.metadata.namespace.as_deref().unwrap_or("")),
    ])
}


/// An optional condition as `strconv.FormatBool` renders a set one: `""` when unset.
fn condition(v: Option<bool>) -> &'static str {
    match v {
        Some(true) => "true",
        Some(false) => "false",
        None => "",
    }
}

// ===== family functions =====

/// `createEndpointsSliceInfo`: always one sample, `addresstype` empty when unset.
fn info(s: &EndpointSlice, out: &mut Series<'_>) {
    out.sample([("addresstype", text(s.address_type.as_ref()))], 1.0);
}

/// `createEndpointsSliceHints`: for each endpoint with at least one zone hint and one address,
/// one series per zone, `address` being the endpoint's first address (addresses are fungible).
fn endpoints_hints(s: &EndpointSlice, out: &mut Series<'_>) {
    for ep in &s.endpoints {
        let Some(address) = ep.addresses.first() else {
            continue;
        };
        for zone in ep.hints.iter().flat_map(|h| &h.for_zones) {
            out.sample(
                [
                    ("address", address.as_str()),
                    ("for_zone", text(zone.name.as_ref())),
                ],
                1.0,
            );
        }
    }
}

/// `createEndpointsSliceEndpoints`: one series per address of each endpoint. Every label is
/// always present, empty when its field is unset (upstream since "endpointslices: Expose empty
/// labels"), each with its own value (#3058).
fn endpoints(s: &EndpointSlice, out: &mut Series<'_>) {
    for ep in &s.endpoints {
        let target = ep.target_ref.as_ref();
        for address in &ep.addresses {
            out.sample(
                [
                    ("ready", condition(ep.conditions.ready)),
                    ("serving", condition(ep.conditions.serving)),
                    ("terminating", condition(ep.conditions.terminating)),
                    ("hostname", text(ep.hostname.as_ref())),
                    ("targetref_kind", text(target.and_then(|t| t.kind.as_ref()))),
                    ("targetref_name", text(target.and_then(|t| t.name.as_ref()))),
                    (
                        "targetref_namespace",
                        text(target.and_then(|t| t.namespace.as_ref())),
                    ),
                    ("endpoint_nodename", text(ep.node_name.as_ref())),
                    ("endpoint_zone", text(ep.zone.as_ref())),
                    ("address", address.as_str()),
                ],
                1.0,
            );
        }
    }
}

/// `createEndpointSlicePorts`: `port_name`, `port_protocol`, `port_number` per port, each empty
/// when unset (#3063).
fn ports(s: &EndpointSlice, out: &mut Series<'_>) {
    for port in &s.ports {
        let number = port.port.map(|p| p.to_string()).unwrap_or_default();
        out.sample(
            [
                ("port_name", text(port.name.as_ref())),
                ("port_protocol", text(port.protocol.as_ref())),
                ("port_number", number.as_str()),
            ],
            1.0,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::RenderContext;

    fn slice(json: &str) -> EndpointSlice {
        serde_json::from_str(json).unwrap()
    }

    fn render(s: &EndpointSlice, f: fn(&EndpointSlice, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(s, identity(s), &RenderContext::default(), f)
    }

    /// endpointslice_test.go's "test_endpointslice-endpoints" case, as fixed upstream (#3058).
    #[test]
    fn each_condition_label_carries_its_own_value() {
        let s = slice(
            r#"{"metadata":{"name":"test_endpointslice-endpoints","namespace":"test"},
            "addressType":"IPv4","endpoints":[{"nodeName":"node","hostname":"host","zone":"west",
            "conditions":{"ready":true,"serving":true,"terminating":false},
            "addresses":["10.0.0.1","192.168.1.10"]}]}"#,
        );
        let prefix = "m{endpointslice=\"test_endpointslice-endpoints\",namespace=\"test\",\
                      ready=\"true\",serving=\"true\",terminating=\"false\",hostname=\"host\",\
                      targetref_kind=\"\",targetref_name=\"\",targetref_namespace=\"\",\
                      endpoint_nodename=\"node\",endpoint_zone=\"west\"";
        assert_eq!(
            render(&s, endpoints),
            format!("{prefix},address=\"10.0.0.1\"}} 1\n{prefix},address=\"192.168.1.10\"}} 1\n")
        );
    }

    #[test]
    fn unset_conditions_are_empty_not_defaulted() {
        // The API says a nil `ready` means true to consumers; KSM reports what is stored.
        let s = slice(r#"{"metadata":{"name":"s"},"endpoints":[{"addresses":["a"]}]}"#);
        assert_eq!(
            render(&s, endpoints),
            "m{endpointslice=\"s\",namespace=\"\",ready=\"\",serving=\"\",terminating=\"\",\
             hostname=\"\",targetref_kind=\"\",targetref_name=\"\",targetref_namespace=\"\",\
             endpoint_nodename=\"\",endpoint_zone=\"\",address=\"a\"} 1\n"
        );
    }

    /// endpointslice_test.go's `TestEndpointSliceHintsPerZone` and
    /// `TestEndpointSliceHintsWithoutAddresses`.
    #[test]
    fn hints_give_one_series_per_zone_and_skip_endpoints_without_addresses() {
        let s = slice(
            r#"{"metadata":{"name":"es","namespace":"ns"},"addressType":"IPv4","endpoints":[
            {"addresses":["10.0.0.1","10.0.0.9"],"hints":{"forZones":[{"name":"zone-a"},{"name":"zone-b"},{"name":"zone-c"}]}},
            {"addresses":[],"hints":{"forZones":[{"name":"zone-a"}]}},
            {"addresses":["10.0.0.2"],"hints":{"forZones":[]}},
            {"addresses":["10.0.0.3"],"hints":null}]}"#,
        );
        assert_eq!(
            render(&s, endpoints_hints),
            "m{endpointslice=\"es\",namespace=\"ns\",address=\"10.0.0.1\",for_zone=\"zone-a\"} 1\n\
             m{endpointslice=\"es\",namespace=\"ns\",address=\"10.0.0.1\",for_zone=\"zone-b\"} 1\n\
             m{endpointslice=\"es\",namespace=\"ns\",address=\"10.0.0.1\",for_zone=\"zone-c\"} 1\n"
        );
    }

    /// endpointslice_test.go's "test_endpointslice-ports-without-number" case (#3063).
    #[test]
    fn a_port_without_a_number_has_an_empty_port_number() {
        let s = slice(
            r#"{"metadata":{"name":"p","namespace":"test"},"ports":[{"name":"http","protocol":"TCP"},{}]}"#,
        );
        assert_eq!(
            render(&s, ports),
            "m{endpointslice=\"p\",namespace=\"test\",port_name=\"http\",port_protocol=\"TCP\",port_number=\"\"} 1\n\
             m{endpointslice=\"p\",namespace=\"test\",port_name=\"\",port_protocol=\"\",port_number=\"\"} 1\n"
        );
    }

    #[test]
    fn null_lists_and_objects_decode_as_empty() {
        let s = slice(
            r#"{"metadata":{"name":"s"},"endpoints":[{"addresses":null,"conditions":null,
            "targetRef":null,"hints":{"forZones":null}}],"ports":null}"#,
        );
        assert_eq!(render(&s, endpoints), "");
        assert_eq!(render(&s, endpoints_hints), "");
        assert_eq!(render(&s, ports), "");
        let s = slice(r#"{"metadata":{"name":"s"},"endpoints":null}"#);
        assert_eq!(render(&s, endpoints), "");
    }
}
