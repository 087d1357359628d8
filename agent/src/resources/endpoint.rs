//! Endpoints (`v1/Endpoints`), scope [`Scope::Namespaced`]: watched by the leader only. Mirrors
//! kube-state-metrics' `internal/store/endpoint.go` (`endpointMetricFamilies`), family by family,
//! in the same order.
//!
//! Every family is a pure function of one decoded [`Endpoints`] object; the identity labels
//! `namespace`, `endpoint` are put in front by the writer, as `wrapEndpointFunc` does. See
//! [`KIND`].

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;

use super::common::null_as_default;
use super::common::metadata;
use super::{ApiType, Family, Kind, Scope, WatchShape};
use crate::decode::lean_meta;
use crate::exposition::{Identity, MetricType, Series};

// ===== lean decode types =====

/// The fields of an Endpoints object that the families read; everything else is skipped.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct Endpoints {
    /// Identity, labels, annotations, creation time.
    #[serde(deserialize_with = "lean_meta")]
    pub metadata: ObjectMeta,
    /// Address/port groups, in object order.
    #[serde(deserialize_with = "null_as_default")]
    pub subsets: Vec<EndpointSubset>,
}
crate::impl_object!(Endpoints => KIND);

/// One `subsets[]` entry: every address in it serves every port in it.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(rename_all = "camelCase", default)]
pub struct EndpointSubset {
    /// Addresses ready to serve.
    #[serde(deserialize_with = "null_as_default")]
    pub addresses: Vec<EndpointAddress>,
    /// Addresses not (yet) ready.
    #[serde(deserialize_with = "null_as_default")]
    pub not_ready_addresses: Vec<EndpointAddress>,
    /// Ports, in object order.
    #[serde(deserialize_with = "null_as_default")]
    pub ports: Vec<EndpointPort>,
}

/// One address of a subset: only the IP is read.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct EndpointAddress {
    /// The address.
    pub ip: Option<String>,
}

/// One port of a subset.
#[derive(Deserialize, Clone, Debug, Default)]
#[serde(default)]
pub struct EndpointPort {
    /// Port name; optional when the subset has a single port.
    pub name: Option<String>,
    /// Port number.
    pub port: Option<i32>,
    /// `TCP`, `UDP` or `SCTP`; the apiserver defaults it to `TCP`.
    pub protocol: Option<String>,
}

impl EndpointPort {
    /// `port_name`, `port_protocol`, `port_number` as Go renders them: empty strings and `0`
    /// for unset fields.
    fn label_values(&self) -> (&str, &str, String) {
        (
            self.name.as_deref().unwrap_or(""),
            self.protocol.as_deref().unwrap_or(""),
            self.port.unwrap_or(0).to_string(),
        )
    }
}

// ===== family table =====

/// The endpoint kind's descriptor.
///
/// NOTE: table order MUST stay kube-state-metrics' `endpointMetricFamilies` order: it is the
/// exposition order.
///
/// NOTE: KSM declares `kube_endpoint_ports` STABLE (deprecated since v2.14.0, so its HELP reads
/// `[STABLE] (Deprecated since v2.14.0) …`); our family list records no stability for it
/// (its docs say "STABLE (Deprecated from 2.14.0)"), so it is experimental here and its HELP
/// lacks the `[STABLE] ` prefix. Samples are identical.
pub static KIND: Kind<Endpoints> = Kind {
    resource: "endpoints",
    api: ApiType::new("", "v1", "Endpoints", "endpoints"),
    scope: Scope::Namespaced,
    shapes: &[WatchShape::FULL],
    protobuf: Some(crate::wire::decode::<crate::wire::endpoint::Endpoints>),
    identity,
    families: &[
        Family::stable(
            "kube_endpoint_info",
            "Always 1 for every Endpoints object; its labels identify it.",
            MetricType::Gauge,
            info,
        ),
        Family::stable(
            "kube_endpoint_created",
            "Unix time (seconds) at which the Endpoints object was created.",
            MetricType::Gauge,
            metadata::created,
        ),
        Family::experimental(
            "kube_endpoint_annotations",
            "Endpoints annotations named in the annotations allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::annotations,
        ),
        Family::stable(
            "kube_endpoint_labels",
            "Endpoints labels named in the labels allowlist, as Prometheus labels.",
            MetricType::Gauge,
            metadata::labels,
        ),
        Family::stable(
            "kube_endpoint_address",
            "One series per address and port, ready or not.",
            MetricType::Gauge,
            address,
        ),
        Family::experimental(
            "kube_endpoint_ports",
            "(Deprecated since v2.14.0) One series per port of each subset.",
            MetricType::Gauge,
            ports,
        ),
    ],
};

/// `namespace`, `endpoint`, like `wrapEndpointFunc`.
fn identity(e: &Endpoints) -> Identity {
    Identity::new([
        ("namespace", e.metadata.namespace.as_deref().unwrap_or("")),
        ("endpoint", e.metadata.name.as_deref().unwrap_or("")),
    ])
}

// ===== family functions =====

/// `kube_endpoint_info`'s generator: always one sample.
fn info(_: &Endpoints, out: &mut Series<'_>) {
    out.value(1.0);
}

/// `kube_endpoint_address`'s generator: for each subset, for each port, its ready addresses
/// (`ready="true"`) then its not-ready ones (`ready="false"`). A subset without ports yields
/// nothing, even when it has addresses.
fn address(e: &Endpoints, out: &mut Series<'_>) {
    for subset in &e.subsets {
        for port in &subset.ports {
            let (name, protocol, number) = port.label_values();
            let ready = subset.addresses.iter().map(|a| (a, "true"));
            let not_ready = subset.not_ready_addresses.iter().map(|a| (a, "false"));
            for (a, is_ready) in ready.chain(not_ready) {
                out.sample(
                    [
                        ("port_protocol", protocol),
                        ("port_number", number.as_str()),
                        ("port_name", name),
                        ("ip", a.ip.as_deref().unwrap_or("")),
                        ("ready", is_ready),
                    ],
                    1.0,
                );
            }
        }
    }
}

/// `kube_endpoint_ports`' generator: `port_name`, `port_protocol`, `port_number` per port of
/// each subset, whether or not the subset has addresses.
fn ports(e: &Endpoints, out: &mut Series<'_>) {
    for port in e.subsets.iter().flat_map(|s| &s.ports) {
        let (name, protocol, number) = port.label_values();
        out.sample(
            [
                ("port_name", name),
                ("port_protocol", protocol),
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

    fn endpoints(json: &str) -> Endpoints {
        serde_json::from_str(json).unwrap()
    }

    fn render(e: &Endpoints, f: fn(&Endpoints, &mut Series<'_>)) -> String {
        crate::resources::testing::render_family(e, identity(e), &RenderContext::default(), f)
    }

    #[test]
    fn addresses_are_crossed_with_ports_ready_ones_first_per_port() {
        let e = endpoints(
            r#"{"metadata":{"name":"e","namespace":"n"},"subsets":[
            {"addresses":[{"ip":"10.0.0.1"}],"notReadyAddresses":[{"ip":"10.0.0.2"}],
             "ports":[{"name":"http","port":80,"protocol":"TCP"},{"port":53,"protocol":"UDP"}]},
            {"addresses":[{"ip":"10.0.0.3"}]}]}"#,
        );
        assert_eq!(
            render(&e, address),
            "m{namespace=\"n\",endpoint=\"e\",port_protocol=\"TCP\",port_number=\"80\",port_name=\"http\",ip=\"10.0.0.1\",ready=\"true\"} 1\n\
             m{namespace=\"n\",endpoint=\"e\",port_protocol=\"TCP\",port_number=\"80\",port_name=\"http\",ip=\"10.0.0.2\",ready=\"false\"} 1\n\
             m{namespace=\"n\",endpoint=\"e\",port_protocol=\"UDP\",port_number=\"53\",port_name=\"\",ip=\"10.0.0.1\",ready=\"true\"} 1\n\
             m{namespace=\"n\",endpoint=\"e\",port_protocol=\"UDP\",port_number=\"53\",port_name=\"\",ip=\"10.0.0.2\",ready=\"false\"} 1\n"
        );
    }

    #[test]
    fn ports_are_listed_even_without_addresses_and_unset_fields_read_as_go_zero_values() {
        let e = endpoints(r#"{"metadata":{"name":"e"},"subsets":[{"ports":[{}]}]}"#);
        assert_eq!(render(&e, address), "");
        assert_eq!(
            render(&e, ports),
            "m{namespace=\"\",endpoint=\"e\",port_name=\"\",port_protocol=\"\",port_number=\"0\"} 1\n"
        );
    }

    #[test]
    fn null_lists_decode_as_empty() {
        let e = endpoints(
            r#"{"metadata":{"name":"e"},"subsets":[{"addresses":null,"notReadyAddresses":null,"ports":null}]}"#,
        );
        assert_eq!(render(&e, ports), "");
        let e = endpoints(r#"{"metadata":{"name":"e"},"subsets":null}"#);
        assert_eq!(render(&e, address), "");
    }
}
